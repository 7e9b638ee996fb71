"""Planted misconduct by one actor: feedback extortion, serial unpaid orders, spam.

Violating accounts (labelled ``account``):

- ``feedback_extortion``: the buyer who threatens. Labelled: the orders threatened on,
  the threat messages, and the feedback the buyer left afterwards (punitive 1-2 stars
  when refused, 5 stars when the seller gave in). Sellers are victims, not labelled.
- ``unpaid_serial``: the buyer; labelled orders are the unpaid ones.
- ``spam``: the sender; labelled messages are the spam messages. Spammers never trade
  with their recipients, so every spam message is unsolicited by construction.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from graphkit.simulate import text as T
from graphkit.simulate.config import CampaignConfig, UnpaidConfig
from graphkit.simulate.population import Population
from graphkit.simulate.ratings import negative_ratings, top_ratings
from graphkit.simulate.records import add_feedback, add_messages, add_refunds, recorded_dsr
from graphkit.simulate.scenarios.common import (
    actor_events,
    group_names,
    new_buyers,
    new_sellers,
    ranged,
    rank_within,
    windows,
)
from graphkit.simulate.world import DAY, HOUR, World

__all__ = ["plant_extortion", "plant_spam", "plant_unpaid_serial"]


def plant_extortion(world: World, pop: Population, cfg: CampaignConfig) -> None:
    """Plant buyers who demand extras/refunds/money under threat of negative feedback."""
    rng = world.rng
    scenario = "feedback_extortion"
    ev = actor_events(world, pop, cfg, scenario)
    if ev is None:
        return
    n = len(ev.g)
    t_threat = ev.paid + world.days(rng.uniform(4, 16, n))
    threat_text = T.compose_threats(rng, n)
    threats = add_messages(world, ev.buyer, ev.seller, t_threat, threat_text, oid=ev.oid)
    comply = rng.random(n) < cfg.comply_share
    t_reply = t_threat + (rng.uniform(1, 30, n) * HOUR).astype(np.int64)
    reply = np.where(comply, 0, 1)
    reply_text = T.fill(
        [*T.COMPLY_REPLIES, *T.REFUSALS],
        np.where(
            reply == 0,
            rng.integers(0, len(T.COMPLY_REPLIES), n),
            len(T.COMPLY_REPLIES) + rng.integers(0, len(T.REFUSALS), n),
        ),
    )
    add_messages(world, ev.seller, ev.buyer, t_reply, reply_text, oid=ev.oid)
    t_fb = t_reply + world.days(rng.uniform(0.2, 3, n))
    neg = negative_ratings(rng, n)
    top = top_ratings(rng, n, 0.9)
    ratings = tuple(np.where(comply, a, b).astype(np.int8) for a, b in zip(top, neg, strict=True))
    text = T.fill(T.FEEDBACK_NEG, T.pick(rng, T.FEEDBACK_NEG, n))
    fids = add_feedback(
        world, ev.oid, ev.buyer, ev.seller, t_fb, ratings, dsr=recorded_dsr(world, n), text=text
    )
    c = np.flatnonzero(comply)
    add_refunds(
        world, ev.oid[c], t_reply[c] + HOUR, ev.amount[c] * rng.uniform(0.2, 0.6, len(c)), "seller"
    )
    world.label("account", ev.actors, scenario, ev.names)
    world.label("order", ev.oid, scenario, ev.names[ev.g])
    world.label("message", threats, scenario, ev.names[ev.g])
    world.label("feedback", fids, scenario, ev.names[ev.g])


def plant_unpaid_serial(world: World, pop: Population, cfg: UnpaidConfig) -> None:
    """Plant buyers who commit to buy again and again and never pay."""
    rng = world.rng
    scenario = "unpaid_serial"
    e = cfg.count_for(world.n_orders)
    if e == 0:
        return
    # overdue orders fall before the 20-day payment period of the dataset's end
    lo = np.full(e, world.start + 3 * DAY)
    hi = np.full(e, world.end - 22 * DAY)
    ev = actor_events(world, pop, cfg, scenario, paid=False, created_range=(lo, hi))
    if ev is None:
        return
    n = len(ev.g)
    # the first three of each actor are always overdue: "repeated" needs at least that many
    recent = (rank_within(ev.g) >= 3) & (rng.random(n) >= cfg.overdue_share)
    # not-yet-overdue ones are recent (inside the last 20 days)
    ev.created[recent] = world.uniform_times(
        int(recent.sum()), world.end - 19 * DAY, world.end - DAY
    )
    orders = world.parts["orders"][-1]
    cancel = rng.random(n) < cfg.cancelled_share
    cancelled = np.where(cancel, ev.created + world.days(rng.uniform(2, 18, n)), -1)
    cancelled = np.where(cancelled > world.end, -1, cancelled)
    world.parts["orders"][-1] = orders.with_columns(
        pl.Series("created_at", ev.created),
        pl.Series("cancelled_at", cancelled).replace(-1, None),
    )
    world.label("account", ev.actors, scenario, ev.names)
    world.label("order", ev.oid, scenario, ev.names[ev.g])


def plant_spam(world: World, pop: Population, cfg: CampaignConfig) -> None:
    """Plant bulk near-duplicate unsolicited messages from one sender per campaign."""
    rng = world.rng
    scenario = "spam"
    s = cfg.count_for(world.n_orders)
    if s == 0:
        return
    names = group_names(scenario, s)
    t0 = windows(world, s, cfg.spread_days, tail_days=3)
    created = t0 - world.days(rng.uniform(0.5, 40, s))
    is_store = rng.random(s) < 0.6
    # spam stores sell nothing and spam buyers buy nothing: never a solicited contact
    st = np.flatnonzero(is_store)
    bu = np.flatnonzero(~is_store)
    sender = np.empty(s, dtype=np.int64)
    sender[st] = new_sellers(world, pop, created[st], honest_orders=np.zeros(len(st)))
    sender[bu] = new_buyers(world, pop, created[bu])
    per = ranged(rng, cfg.events, s)
    g = np.repeat(np.arange(s), per)
    n = len(g)
    to_buyers = is_store[g]
    recipient = np.where(
        to_buyers,
        pop.buyers[rng.integers(0, pop.organic_buyers, n)],
        pop.sellers[pop.sample_sellers(rng, n)],
    )
    t = t0[g] + (rng.random(n) * world.days(cfg.spread_days)).astype(np.int64)
    template = rng.integers(0, len(T.SPAM), s)[g]
    codes = T.random_codes(rng, s)
    code = np.where(rng.random(n) < 0.7, codes[g], T.random_codes(rng, n))
    domain = np.array(["bit.ly/", "shop-", "www.deal", "tinyurl.com/"])
    url = np.char.add(domain[rng.integers(0, len(domain), s)][g], np.char.lower(code))
    text = T.fill(
        T.SPAM,
        template,
        greet=rng.choice(np.array(T.SPAM_GREETS), n),
        pct=rng.choice(np.array([50, 60, 70, 80, 90]), n),
        amount=rng.choice(np.array([100, 200, 300, 500]), n),
        url=url,
        code=code,
        emoji=rng.choice(np.array(T.SPAM_EMOJI), n),
    )
    text = text.str.strip_chars()
    mids = add_messages(world, sender[g], recipient, t, text)
    world.label("account", sender, scenario, names)
    world.label("message", mids, scenario, names[g])
