"""Planted rating fraud: shill rings, camouflaged rings, feedback trading, DSR manipulation.

Violating accounts (labelled ``account``):

- ``shill_ring`` / ``camouflage``: the ring's seller and every ring buyer account
  (linked or not). Labelled orders/feedback: the ring orders and the feedback on them
  (both directions). Camouflage purchases from popular sellers are honest orders of
  dishonest accounts and are *not* labelled.
- ``feedback_trading``: the sellers of the circle and their controlled buyer accounts;
  the circle's orders and feedback.
- ``dsr_manipulation``: the seller and the paid reviewer accounts; the paid orders and
  their feedback (refunds are not a label kind; they are on the labelled orders).
"""

from __future__ import annotations

import numpy as np

from graphkit.simulate.config import DsrConfig, RingConfig, TradingConfig
from graphkit.simulate.organic import rating_texts
from graphkit.simulate.population import Population, draw_items, item_prices
from graphkit.simulate.ratings import top_ratings
from graphkit.simulate.records import (
    add_feedback,
    add_orders,
    add_refunds,
    payment_times,
    recorded_dsr,
)
from graphkit.simulate.scenarios.common import (
    group_names,
    link_overrides,
    new_buyers,
    new_sellers,
    operator_serials,
    ranged,
    windows,
)
from graphkit.simulate.world import DAY, World

__all__ = ["plant_dsr_manipulation", "plant_feedback_trading", "plant_ring"]


def _seller_overrides(operator: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Give the seller the operator's device, payment and phone (the operator runs it)."""
    return {k: operator[k][np.arange(n)] for k in ("device", "payment", "phone")}


def plant_ring(world: World, pop: Population, cfg: RingConfig, scenario: str) -> None:
    """Plant shill rings (``scenario`` is ``shill_ring`` or ``camouflage``)."""
    rng = world.rng
    r = cfg.count_for(world.n_orders)
    if r == 0:
        return
    names = group_names(scenario, r)
    t0 = windows(world, r, cfg.time_spread_days)
    op = operator_serials(world, r)
    s_created = t0 - world.days(
        np.where(rng.random(r) < 0.5, rng.uniform(5, 60, r), rng.uniform(60, 500, r))
    )
    sellers = new_sellers(
        world,
        pop,
        s_created,
        honest_orders=ranged(rng, cfg.honest_orders, r),
        quality=rng.beta(4.0, 2.5, r),
        overrides=_seller_overrides(op, r),
    )
    size = ranged(rng, cfg.size, r)
    g = np.repeat(np.arange(r), size)
    m = len(g)
    # most ring accounts are registered for the ring; ``aged_share`` are old (bought) accounts
    aged = rng.random(m) < cfg.aged_share
    created = t0[g] - world.days(
        np.where(
            aged, rng.uniform(200, 1500, m), rng.uniform(0.2, max(cfg.new_account_days, 0.3), m)
        )
    )
    linked = rng.random(m) < cfg.linked_share
    members = new_buyers(
        world,
        pop,
        created,
        background=ranged(rng, cfg.camouflage_orders, m),
        overrides=link_overrides(world, g, op, linked),
    )
    per = ranged(rng, cfg.orders_per_account, m)
    og = np.repeat(g, per)
    buyer = np.repeat(members, per)
    n = len(og)
    spread = world.days(cfg.time_spread_days)
    t = t0[og] + (rng.random(n) * spread).astype(np.int64)
    t = np.maximum(world.diurnal(t), np.repeat(created, per) + DAY // 24)
    seller_pos = pop.seller_pos(sellers)
    # small orders: mostly the store's cheap accessory listings, at their listed price
    item = draw_items(rng, pop, seller_pos[og], cfg.cheap_share)
    amount = item_prices(pop, seller_pos[og], item)
    paid = payment_times(world, t)
    oid = add_orders(world, buyer, sellers[og], t, amount, item=item, paid_at=paid)

    fb = rng.random(n) < cfg.feedback_rate
    t_fb = paid[fb] + world.days(rng.uniform(2, 12, int(fb.sum())))
    keep = t_fb <= world.end
    rows = np.flatnonzero(fb)[keep]
    rt = top_ratings(rng, len(rows), cfg.top_rating_share)
    f1 = add_feedback(
        world,
        oid[rows],
        buyer[rows],
        sellers[og[rows]],
        t_fb[keep],
        rt,
        dsr=recorded_dsr(world, len(rows)),
        text=rating_texts(rng, rt[0], 0.4),
    )
    back = rows[rng.random(len(rows)) < 0.6]
    t_back = paid[back] + world.days(rng.uniform(1, 8, len(back)))
    ok = t_back <= world.end
    back = back[ok]
    five = np.full(len(back), 5, dtype=np.int8)
    f2 = add_feedback(
        world,
        oid[back],
        sellers[og[back]],
        buyer[back],
        t_back[ok],
        (five, five, five, five),
        dsr=False,
    )

    world.label("account", sellers, scenario, names)
    world.label("account", members, scenario, names[g])
    world.label("order", oid, scenario, names[og])
    world.label("feedback", f1, scenario, names[og[rows]])
    world.label("feedback", f2, scenario, names[og[back]])


def plant_feedback_trading(world: World, pop: Population, cfg: TradingConfig) -> None:
    """Plant circles of sellers whose controlled buyer accounts rate each other's stores."""
    rng = world.rng
    scenario = "feedback_trading"
    c = cfg.count_for(world.n_orders)
    if c == 0:
        return
    names = group_names(scenario, c)
    t0 = windows(world, c, cfg.time_spread_days)
    n_sellers = np.maximum(ranged(rng, cfg.sellers, c), 2)
    sg = np.repeat(np.arange(c), n_sellers)  # circle of each seller
    s = len(sg)
    op = operator_serials(world, s)  # one operator per seller
    s_created = t0[sg] - world.days(rng.uniform(20, 400, s))
    sellers = new_sellers(
        world,
        pop,
        s_created,
        honest_orders=rng.integers(15, 80, s),
        overrides=_seller_overrides(op, s),
    )
    first_seller = np.concatenate([[0], np.cumsum(n_sellers)[:-1]])
    per_seller = ranged(rng, cfg.accounts_per_seller, s)
    own = np.repeat(np.arange(s), per_seller)  # owning seller of each account
    m = len(own)
    created = t0[sg[own]] - world.days(rng.uniform(1, 60, m))
    linked = rng.random(m) < cfg.linked_share
    accounts = new_buyers(
        world,
        pop,
        created,
        background=rng.integers(0, 3, m),
        overrides=link_overrides(world, own, op, linked),
    )
    per = ranged(rng, cfg.orders_per_account, m)
    a = np.repeat(np.arange(m), per)
    n = len(a)
    circle = sg[own[a]]
    k = n_sellers[circle]
    local_own = own[a] - first_seller[circle]
    target_local = (local_own + 1 + rng.integers(0, np.maximum(k - 1, 1))) % k
    target = first_seller[circle] + target_local
    t = t0[circle] + (rng.random(n) * world.days(cfg.time_spread_days)).astype(np.int64)
    t = np.maximum(world.diurnal(t), created[a] + DAY // 12)
    tpos = pop.seller_pos(sellers[target])
    item = draw_items(rng, pop, tpos, 0.5)  # cheap listings half of the time
    amount = item_prices(pop, tpos, item)
    paid = payment_times(world, t)
    oid = add_orders(
        world,
        accounts[a],
        sellers[target],
        t,
        amount,
        item=item,
        paid_at=paid,
    )
    t_fb = paid + world.days(rng.uniform(3, 14, n))
    rows = np.flatnonzero((t_fb <= world.end) & (rng.random(n) < 0.97))
    rt = top_ratings(rng, len(rows), 0.9)
    f1 = add_feedback(
        world,
        oid[rows],
        accounts[a[rows]],
        sellers[target[rows]],
        t_fb[rows],
        rt,
        dsr=recorded_dsr(world, len(rows)),
        text=rating_texts(rng, rt[0], 0.5),
    )
    back = rows[rng.random(len(rows)) < 0.8]
    five = np.full(len(back), 5, dtype=np.int8)
    t_back = np.minimum(t_fb[back] + world.days(rng.uniform(0.1, 3, len(back))), world.end)
    f2 = add_feedback(
        world,
        oid[back],
        sellers[target[back]],
        accounts[a[back]],
        t_back,
        (five, five, five, five),
        dsr=False,
    )
    world.label("account", sellers, scenario, names[sg])
    world.label("account", accounts, scenario, names[sg[own]])
    world.label("order", oid, scenario, names[circle])
    world.label("feedback", f1, scenario, names[circle[rows]])
    world.label("feedback", f2, scenario, names[circle[back]])


def plant_dsr_manipulation(world: World, pop: Population, cfg: DsrConfig) -> None:
    """Plant bursts of paid 5-star ratings with perfect DSRs, refunded afterwards."""
    rng = world.rng
    scenario = "dsr_manipulation"
    d = cfg.count_for(world.n_orders)
    if d == 0:
        return
    names = group_names(scenario, d)
    t0 = windows(world, d, cfg.burst_days)
    s_created = t0 - world.days(rng.uniform(30, 400, d))
    sellers = new_sellers(
        world, pop, s_created, honest_orders=rng.integers(30, 120, d), quality=rng.beta(2.5, 2.5, d)
    )
    size = ranged(rng, cfg.reviewers, d)
    g = np.repeat(np.arange(d), size)
    m = len(g)
    old = rng.random(m) < 0.5
    created = t0[g] - world.days(np.where(old, rng.uniform(60, 700, m), rng.uniform(1, 20, m)))
    reviewers = new_buyers(world, pop, created, background=ranged(rng, cfg.background_orders, m))
    per = 1 + (rng.random(m) < 0.2)
    og = np.repeat(g, per)
    buyer = np.repeat(reviewers, per)
    n = len(og)
    t = world.diurnal(t0[og] + (rng.random(n) * world.days(cfg.burst_days)).astype(np.int64))
    t = np.maximum(t, np.repeat(created, per) + DAY // 24)
    spos = pop.seller_pos(sellers)[og]
    item = draw_items(rng, pop, spos, 0.06)
    amount = item_prices(pop, spos, item)
    paid = payment_times(world, t)
    oid = add_orders(
        world,
        buyer,
        sellers[og],
        t,
        amount,
        item=item,
        paid_at=paid,
    )
    t_fb = paid + world.days(rng.uniform(1, 4, n))
    rt = top_ratings(rng, n, 0.97)
    f1 = add_feedback(world, oid, buyer, sellers[og], t_fb, rt, text=rating_texts(rng, rt[0], 0.6))
    ref = np.flatnonzero(rng.random(n) < cfg.refund_share)
    t_ref = t_fb[ref] + world.days(rng.uniform(1, 10, len(ref)))
    ok = t_ref <= world.end
    add_refunds(world, oid[ref[ok]], t_ref[ok], amount[ref[ok]], "seller")
    world.label("account", sellers, scenario, names)
    world.label("account", reviewers, scenario, names[g])
    world.label("order", oid, scenario, names[og])
    world.label("feedback", f1, scenario, names[og])
