"""Helpers shared by the planted scenarios: actors, identity links, windows, group ids.

Scenarios are vectorised across their instances: instance ``g`` of a scenario
owns the rows where the group-index array equals ``g``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphkit.simulate.config import CampaignConfig
from graphkit.simulate.identities import LINK_KINDS, add_identities, fresh, warehouse_addresses
from graphkit.simulate.population import Population, draw_items, item_prices, new_accounts
from graphkit.simulate.records import add_orders, payment_times
from graphkit.simulate.world import DAY, World

__all__ = [
    "ActorEvents",
    "actor_events",
    "group_names",
    "link_overrides",
    "new_buyers",
    "new_sellers",
    "operator_serials",
    "ranged",
    "rank_within",
    "windows",
]


def rank_within(g: np.ndarray) -> np.ndarray:
    """Return the 0-based position of each row within its run of equal, sorted ``g``.

    Examples
    --------
    >>> rank_within(np.array([0, 0, 1, 1, 1])).tolist()
    [0, 1, 0, 1, 2]
    """
    n = len(g)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.concatenate([[0], np.flatnonzero(np.diff(g)) + 1])
    return np.arange(n) - np.repeat(first, np.diff(np.append(first, n)))


def ranged(rng: np.random.Generator, bounds: tuple[int, int], n: int) -> np.ndarray:
    """``n`` integers uniform in the inclusive range ``bounds``."""
    lo, hi = int(bounds[0]), int(bounds[1])
    return rng.integers(lo, max(lo, hi) + 1, n)


def group_names(scenario: str, n: int) -> np.ndarray:
    """Stable group ids ``<scenario>-0001`` ... for ``n`` instances."""
    return np.array([f"{scenario}-{i + 1:04d}" for i in range(n)], dtype=object)


def windows(world: World, n: int, spread_days: float, *, tail_days: float = 35.0) -> np.ndarray:
    """Start times of ``n`` activity windows of ``spread_days`` inside the simulated period.

    Windows end at least ``tail_days`` before the end so that what follows an event
    (feedback, refunds, cases) still falls inside the period.
    """
    span = world.config.organic.days
    spread = min(spread_days, max(span - tail_days - 10, 1))
    lo = world.start + 7 * DAY
    hi = max(world.start + world.days(span - tail_days - spread), lo + DAY)
    return world.uniform_times(n, lo, hi)


def operator_serials(world: World, n: int) -> dict[str, np.ndarray]:
    """Fresh identifier serials of ``n`` operators (the people behind linked accounts)."""
    return {kind: fresh(world, n) for kind in LINK_KINDS}


def link_overrides(
    world: World,
    group: np.ndarray,
    operator: dict[str, np.ndarray],
    linked: np.ndarray,
    *,
    kinds: tuple[str, ...] = LINK_KINDS,
    second_share: float = 0.4,
) -> dict[str, np.ndarray]:
    """Return identifier overrides that make ``linked`` accounts share 1-2 operator identifiers.

    Parameters
    ----------
    world
        The simulation state.
    group
        Instance index of each account (selects the operator).
    operator
        ``kind -> serial`` per instance (from :func:`operator_serials`).
    linked
        Boolean per account: whether it is linked at all.
    kinds
        Identifier kinds to choose from.
    second_share
        Share of linked accounts sharing a second kind as well.
    """
    rng = world.rng
    n = len(group)
    k1 = rng.integers(0, len(kinds), n)
    k2 = np.where(rng.random(n) < second_share, rng.integers(0, len(kinds), n), -1)
    out = {}
    for i, kind in enumerate(kinds):
        use = linked & ((k1 == i) | (k2 == i))
        out[kind] = np.where(use, operator[kind][group], -1)
    return out


def new_buyers(
    world: World,
    pop: Population,
    created: np.ndarray,
    *,
    background: np.ndarray | None = None,
    overrides: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Register planted buyer accounts with identifiers and honest background weight."""
    n = len(created)
    acc = new_accounts(world, n, "buyer", created)
    add_identities(world, acc, created, overrides=overrides)
    weight = np.zeros(n) if background is None else np.asarray(background, dtype=float)
    pop.add_buyers(acc, weight, created)
    return acc


def new_sellers(
    world: World,
    pop: Population,
    created: np.ndarray,
    *,
    honest_orders: np.ndarray,
    quality: np.ndarray | None = None,
    overrides: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Register planted seller accounts that also sell to honest buyers."""
    rng = world.rng
    n = len(created)
    acc = new_accounts(world, n, "seller", created)
    # the same identifier mix as honest sellers: NAT IPs, shared warehouse addresses
    overrides = dict(overrides or {})
    wh = rng.random(n) < world.config.organic.warehouse_share
    warehouse = np.where(wh, rng.choice(warehouse_addresses(world), n), -1)
    overrides["address"] = np.where(
        overrides.get("address", np.full(n, -1)) >= 0, overrides.get("address", -1), warehouse
    )
    add_identities(world, acc, created, overrides=overrides)
    q = rng.beta(3.0, 2.0, n) if quality is None else quality
    pop.add_sellers(
        acc,
        np.asarray(honest_orders, dtype=float),
        q,
        np.exp(rng.normal(2.8, 0.6, n)),
        rng.integers(2, 12, n),
        created,
    )
    return acc


@dataclass
class ActorEvents:
    """Planted buyer actors and one order per violating event (vectorised)."""

    names: np.ndarray
    actors: np.ndarray
    g: np.ndarray
    buyer: np.ndarray
    seller: np.ndarray
    created: np.ndarray
    paid: np.ndarray
    amount: np.ndarray
    oid: np.ndarray


def actor_events(
    world: World,
    pop: Population,
    cfg: CampaignConfig,
    scenario: str,
    *,
    paid: bool = True,
    created_range: tuple[np.ndarray, np.ndarray] | None = None,
) -> ActorEvents | None:
    """Create ``cfg``'s actors (planted buyers) and one order per event with honest sellers.

    Actors register 1-600 days before their window and get honest background orders;
    event orders go to popularity-weighted honest sellers at times spread over
    ``cfg.spread_days`` (or ``created_range``: per-event ``(lo, hi)`` bounds).
    """
    rng = world.rng
    e = cfg.count_for(world.n_orders)
    if e == 0:
        return None
    names = group_names(scenario, e)
    t0 = windows(world, e, cfg.spread_days)
    created = t0 - world.days(
        np.where(rng.random(e) < 0.3, rng.uniform(1, 30, e), rng.uniform(30, 600, e))
    )
    actors = new_buyers(world, pop, created, background=ranged(rng, cfg.background_orders, e))
    per = ranged(rng, cfg.events, e)
    g = np.repeat(np.arange(e), per)
    n = len(g)
    if created_range is None:
        t = t0[g] + (rng.random(n) * world.days(cfg.spread_days)).astype(np.int64)
    else:
        t = world.uniform_times(n, created_range[0][g], created_range[1][g])
    t = np.maximum(world.diurnal(t), created[g] + DAY // 24)
    spos = pop.sample_sellers(rng, n)
    seller = pop.sellers[spos]
    item = draw_items(rng, pop, spos, 0.06)
    amount = item_prices(pop, spos, item)
    paid_at = payment_times(world, t) if paid else np.full(n, -1, dtype=np.int64)
    oid = add_orders(world, actors[g], seller, t, amount, paid_at=paid_at, item=item)
    return ActorEvents(names, actors, g, actors[g], seller, t, paid_at, amount, oid)
