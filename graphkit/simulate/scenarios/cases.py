"""Planted abuse of the Buyer Protection programme.

Violating account (labelled ``account``): the buyer, in every scenario here.

- ``case_after_refund``: the seller refunded the order, then the buyer opened a case on
  the same order. Labelled: those orders and cases.
- ``retaliation_case``: the seller left negative feedback on the buyer (or refused a
  request in a message) and the buyer opened a case on that order soon after.
  Labelled: those orders and cases.
- ``false_claims``: the buyer opens cases on a large share of orders across sellers,
  most of them rejected. Labelled: the buyer's cases and their orders.
"""

from __future__ import annotations

import numpy as np

from graphkit.simulate import text as T
from graphkit.simulate.config import CaseConfig
from graphkit.simulate.population import Population
from graphkit.simulate.records import add_cases, add_feedback, add_messages, add_refunds
from graphkit.simulate.scenarios.common import actor_events, rank_within
from graphkit.simulate.world import HOUR, World

__all__ = ["plant_case_after_refund", "plant_false_claims", "plant_retaliation"]


def _close(world: World, opened: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    closed = opened + world.days(world.rng.uniform(2, 15, len(opened)))
    still_open = (outcome == "open") | (closed > world.end)
    return np.where(still_open, "open", outcome), np.where(still_open, -1, closed)


def plant_case_after_refund(world: World, pop: Population, cfg: CaseConfig) -> None:
    """Plant cases opened on orders the seller had already refunded."""
    rng = world.rng
    scenario = "case_after_refund"
    ev = actor_events(world, pop, cfg, scenario)
    if ev is None:
        return
    n = len(ev.g)
    t_ref = ev.paid + world.days(rng.uniform(5, 20, n))
    partial = rng.random(n) < 0.3
    add_refunds(
        world,
        ev.oid,
        t_ref,
        np.where(partial, ev.amount * rng.uniform(0.3, 0.7, n), ev.amount),
        "seller",
    )
    opened = t_ref + world.days(rng.uniform(0.5, 10, n))
    outcome = rng.choice(
        np.array(["rejected", "refund_buyer", "withdrawn", "open"]), n, p=[0.5, 0.25, 0.15, 0.1]
    )
    reason = rng.choice(
        np.array(["not_received", "not_as_described", "other"]), n, p=[0.5, 0.4, 0.1]
    )
    outcome, closed = _close(world, opened, outcome)
    cids = add_cases(world, ev.oid, ev.buyer, opened, reason, outcome, closed)
    twice = np.flatnonzero(outcome == "refund_buyer")
    add_refunds(world, ev.oid[twice], closed[twice], ev.amount[twice], "case")
    world.label("account", ev.actors, scenario, ev.names)
    world.label("order", ev.oid, scenario, ev.names[ev.g])
    world.label("case", cids, scenario, ev.names[ev.g])


def plant_retaliation(world: World, pop: Population, cfg: CaseConfig) -> None:
    """Plant cases opened right after the seller's negative feedback or refusal."""
    rng = world.rng
    scenario = "retaliation_case"
    ev = actor_events(world, pop, cfg, scenario)
    if ev is None:
        return
    n = len(ev.g)
    by_feedback = rng.random(n) < 0.7
    f = np.flatnonzero(by_feedback)
    t_trigger = ev.paid + world.days(rng.uniform(2, 10, n))
    neg = rng.choice(np.array([1, 2]), len(f), p=[0.7, 0.3]).astype(np.int8)
    add_feedback(
        world,
        ev.oid[f],
        ev.seller[f],
        ev.buyer[f],
        t_trigger[f],
        (neg, neg, neg, neg),
        dsr=False,
        text=T.fill(T.SELLER_NEG, T.pick(rng, T.SELLER_NEG, len(f))),
    )
    r = np.flatnonzero(~by_feedback)
    t_ask = t_trigger[r] - world.days(rng.uniform(0.2, 1.0, len(r)))
    add_messages(
        world,
        ev.buyer[r],
        ev.seller[r],
        t_ask,
        T.fill(T.BUYER_REQUESTS, T.pick(rng, T.BUYER_REQUESTS, len(r))),
        oid=ev.oid[r],
    )
    add_messages(
        world,
        ev.seller[r],
        ev.buyer[r],
        t_trigger[r],
        T.fill(T.REFUSALS, T.pick(rng, T.REFUSALS, len(r))),
        oid=ev.oid[r],
    )
    opened = t_trigger + (rng.uniform(1, 72, n) * HOUR).astype(np.int64)
    outcome = rng.choice(
        np.array(["rejected", "withdrawn", "partial_refund", "open"]), n, p=[0.65, 0.2, 0.1, 0.05]
    )
    outcome, closed = _close(world, opened, outcome)
    reason = rng.choice(
        np.array(["not_as_described", "other", "not_received"]), n, p=[0.6, 0.25, 0.15]
    )
    cids = add_cases(world, ev.oid, ev.buyer, opened, reason, outcome, closed)
    part = np.flatnonzero(outcome == "partial_refund")
    add_refunds(
        world,
        ev.oid[part],
        closed[part],
        ev.amount[part] * rng.uniform(0.2, 0.5, len(part)),
        "case",
    )
    world.label("account", ev.actors, scenario, ev.names)
    world.label("order", ev.oid, scenario, ev.names[ev.g])
    world.label("case", cids, scenario, ev.names[ev.g])


def plant_false_claims(world: World, pop: Population, cfg: CaseConfig) -> None:
    """Plant buyers with many mostly rejected cases across sellers."""
    rng = world.rng
    scenario = "false_claims"
    ev = actor_events(world, pop, cfg, scenario)
    if ev is None:
        return
    n = len(ev.g)
    # rank of each event within its actor: the first two always become rejected cases
    rank = rank_within(ev.g)
    has_case = (rank < 2) | (rng.random(n) < cfg.case_share)
    rejected = (rank < 2) | (rng.random(n) < cfg.rejected_share)
    c = np.flatnonzero(has_case)
    m = len(c)
    opened = ev.paid[c] + world.days(rng.uniform(8, 30, m))
    other = rng.choice(
        np.array(["withdrawn", "partial_refund", "refund_buyer"]), m, p=[0.5, 0.3, 0.2]
    )
    outcome = np.where(rejected[c], "rejected", other)
    outcome, closed = _close(world, opened, outcome)
    reason = rng.choice(np.array(["not_received", "not_as_described"]), m, p=[0.6, 0.4])
    cids = add_cases(world, ev.oid[c], ev.buyer[c], opened, reason, outcome, closed)
    ref = np.flatnonzero((outcome == "partial_refund") | (outcome == "refund_buyer"))
    frac = np.where(outcome[ref] == "refund_buyer", 1.0, rng.uniform(0.2, 0.5, len(ref)))
    add_refunds(world, ev.oid[c[ref]], closed[ref], ev.amount[c[ref]] * frac, "case")
    world.label("account", ev.actors, scenario, ev.names)
    world.label("order", ev.oid[c], scenario, ev.names[ev.g[c]])
    world.label("case", cids, scenario, ev.names[ev.g[c]])
