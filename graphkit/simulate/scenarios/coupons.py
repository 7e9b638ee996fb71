"""Planted coupon abuse.

- ``coupon_multi_account``: one person registers several accounts that share a device
  and a payment instrument (and sometimes an address) and redeems a per-person coupon
  (``per_buyer_limit`` 1) once per account. Violating accounts: all of that person's
  accounts. Labelled: the redemption orders and the coupon.
- ``coupon_self_dealing``: a store issues a store coupon and accounts linked to the
  store redeem it on the store's own orders, some outside validity or below
  ``min_spend``. Violating accounts: the store and the linked accounts. Labelled: the
  redemption orders and the coupon.
"""

from __future__ import annotations

import numpy as np

from graphkit.simulate.config import CouponAbuseConfig
from graphkit.simulate.population import N_ACCESSORIES, Population, draw_items, item_prices
from graphkit.simulate.records import add_coupons, add_orders
from graphkit.simulate.scenarios.common import (
    group_names,
    link_overrides,
    new_buyers,
    new_sellers,
    operator_serials,
    ranged,
    windows,
)
from graphkit.simulate.world import HOUR, World

__all__ = ["plant_coupon_multi_account", "plant_coupon_self_dealing"]


def _basket(
    rng: np.random.Generator,
    pop: Population,
    spos: np.ndarray,
    min_spend: np.ndarray,
    above: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (listing, gross) of baskets at listed prices.

    Where ``above``: enough units of a catalogue listing to reach ``min_spend``; elsewhere
    one cheap accessory (usually below it).
    """
    n = len(spos)
    item = draw_items(rng, pop, spos, 0.0)
    price = item_prices(pop, spos, item)
    qty = np.maximum(1.0, np.ceil(min_spend * rng.uniform(1.0, 1.3, n) / price))
    accessory = pop.seller_items[spos] + rng.integers(0, N_ACCESSORIES, n)
    item = np.where(above, item, accessory)
    price = item_prices(pop, spos, item)
    return item, np.round(price * np.where(above, qty, 1.0), 2)


def plant_coupon_multi_account(world: World, pop: Population, cfg: CouponAbuseConfig) -> None:
    """Plant people redeeming one per-person coupon through several linked accounts."""
    rng = world.rng
    scenario = "coupon_multi_account"
    p = cfg.count_for(world.n_orders)
    if p == 0:
        return
    names = group_names(scenario, p)
    t0 = windows(world, p, 20.0)
    # a per-person coupon of the platform, valid around the person's window
    value = rng.choice(np.array([5.0, 8.0, 10.0, 15.0]), p)
    min_spend = np.round(value * rng.uniform(2, 4, p))
    valid_from = t0 - world.days(rng.uniform(1, 5, p))
    valid_to = t0 + world.days(rng.uniform(20, 40, p))
    coupons = add_coupons(
        world,
        np.full(p, -1),
        np.full(p, "platform"),
        value,
        min_spend,
        np.ones(p, dtype=np.int64),
        valid_from,
        valid_to,
    )
    size = ranged(rng, cfg.accounts, p)
    g = np.repeat(np.arange(p), size)
    m = len(g)
    op = operator_serials(world, p)
    linked = np.ones(m, dtype=bool)
    over = link_overrides(world, g, op, linked, kinds=cfg.linked_kinds, second_share=1.0)
    for kind in cfg.linked_kinds:  # one person: every account holds every linked kind
        over[kind] = op[kind][g]
    over["address"] = np.where(rng.random(m) < 0.5, op["address"][g], -1)
    created = t0[g] - world.days(rng.uniform(0.1, 15, m))
    accounts = new_buyers(world, pop, created, background=rng.integers(0, 3, m), overrides=over)
    # default one redemption per account: within the per-account limit, beyond the per-person one
    per = np.maximum(ranged(rng, cfg.redemptions_per_account, m), 1)
    a = np.repeat(np.arange(m), per)
    n = len(a)
    gg = g[a]
    t = world.diurnal(world.uniform_times(n, valid_from[gg], valid_to[gg]))
    t = np.minimum(np.maximum(t, np.maximum(created[a], valid_from[gg]) + HOUR), valid_to[gg])
    spos = pop.sample_sellers(rng, n, top=200)
    item, gross = _basket(rng, pop, spos, min_spend[gg], np.ones(n, dtype=bool))
    oid = add_orders(
        world,
        accounts[a],
        pop.sellers[spos],
        t,
        gross - value[gg],
        item=item,
        coupon=coupons[gg],
        discount=value[gg],
    )
    world.label("account", accounts, scenario, names[g])
    world.label("order", oid, scenario, names[gg])
    world.label("coupon", coupons, scenario, names)


def plant_coupon_self_dealing(world: World, pop: Population, cfg: CouponAbuseConfig) -> None:
    """Plant stores whose own linked accounts redeem the store's coupons."""
    rng = world.rng
    scenario = "coupon_self_dealing"
    q = cfg.count_for(world.n_orders)
    if q == 0:
        return
    names = group_names(scenario, q)
    t0 = windows(world, q, 30.0)
    op = operator_serials(world, q)
    s_created = t0 - world.days(rng.uniform(10, 300, q))
    stores = new_sellers(
        world,
        pop,
        s_created,
        honest_orders=rng.integers(20, 80, q),
        overrides={k: op[k] for k in ("device", "payment", "phone")},
    )
    spos = pop.seller_pos(stores)
    value = np.round(pop.seller_price[spos] * rng.uniform(0.3, 0.6, q) + 1.0)
    min_spend = np.round(value * rng.uniform(2, 4, q))
    valid_from = t0
    valid_to = t0 + world.days(rng.uniform(10, 30, q))
    coupons = add_coupons(
        world,
        stores,
        np.full(q, "store"),
        value,
        min_spend,
        np.ones(q, dtype=np.int64),
        valid_from,
        valid_to,
    )
    size = ranged(rng, cfg.accounts, q)
    g = np.repeat(np.arange(q), size)
    m = len(g)
    created = t0[g] - world.days(rng.uniform(0.5, 60, m))
    # every linked account holds one or two of the store's own device / payment / phone
    over = link_overrides(
        world, g, op, np.ones(m, dtype=bool), kinds=("device", "payment", "phone")
    )
    accounts = new_buyers(world, pop, created, background=rng.integers(0, 3, m), overrides=over)
    per = np.maximum(ranged(rng, cfg.redemptions_per_account, m), 1)
    a = np.repeat(np.arange(m), per)
    n = len(a)
    gg = g[a]
    t = world.diurnal(world.uniform_times(n, valid_from[gg], valid_to[gg]))
    bad = rng.random(n) < cfg.out_of_terms_share
    how = rng.integers(0, 2, n)  # 0: outside validity, 1: below min_spend
    late = bad & (how == 0)
    t = np.where(late, valid_to[gg] + world.days(rng.uniform(1, 10, n)), t)
    item, gross = _basket(rng, pop, spos[gg], min_spend[gg], ~(bad & (how == 1)))
    t = np.maximum(t, np.maximum(created[a], valid_from[gg]) + HOUR)
    disc = np.minimum(value[gg], gross - 0.01)
    oid = add_orders(
        world,
        accounts[a],
        stores[gg],
        t,
        gross - disc,
        item=item,
        coupon=coupons[gg],
        discount=disc,
    )
    world.label("account", stores, scenario, names)
    world.label("account", accounts, scenario, names[g])
    world.label("order", oid, scenario, names[gg])
    world.label("coupon", coupons, scenario, names)
