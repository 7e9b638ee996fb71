"""The ring test's second pass on young stores (``DetectParams.young_store_days``).

Hand-built markets with known answers: three camouflaged ring buyers whose honest
purchases before and after the campaign dilute their whole-history share below
``min_concentration`` are a ring of a young store (fire), and not of an old store, nor
when the honest purchases fall inside the ring window, nor with the pass turned off
(near misses); a community that is a ring by the whole-history test is left as it is.
Each near-miss test also asserts the fire case, so every test fails without the pass.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from graphkit.config import ScanConfig
from graphkit.detect import DetectParams, detect_groups
from graphkit.detect.rings import _orders_in_windows, _ring_members
from graphkit.graph.build import MarketGraph, build_market_graph
from graphkit.io import dataset_from_frames

BUYERS = ["b1", "b2", "b3"]
HONEST_STORES = ["s0", "s1", "s2", "s3"]
OLD = datetime(2020, 1, 1, tzinfo=UTC)
CAMPAIGN = datetime(2025, 4, 1, tzinfo=UTC)


def _day(d: float) -> datetime:
    return CAMPAIGN + timedelta(days=d)


def market(
    *,
    store_created: datetime,
    honest_days: tuple[float, ...] = (-80, -60, 60, 80),
    ring_days: tuple[float, ...] = (0, 5),
    extra_buyer: bool = False,
) -> MarketGraph:
    """Store ``T`` and its buyers ``b1``-``b3``: each orders at ``T`` on ``ring_days``
    (after the campaign start) and at the honest stores on ``honest_days``. With
    ``extra_buyer``, ``b4`` orders at ``T`` twice and at the honest stores 6 times."""
    rows: list[tuple[str, str, datetime]] = []
    for b in BUYERS:
        rows += [(b, "T", _day(d)) for d in ring_days]
        rows += [(b, HONEST_STORES[i % 4], _day(d)) for i, d in enumerate(honest_days)]
    if extra_buyer:
        rows += [("b4", "T", _day(d)) for d in (1, 2)]
        rows += [("b4", HONEST_STORES[i % 4], _day(-90 + 30 * i)) for i in range(6)]
    # honest stores' other customers, so that they are ordinary stores
    rows += [(f"h{i}", HONEST_STORES[i % 4], _day(-100 + i)) for i in range(12)]
    buyers = sorted({r[0] for r in rows})
    stores = ["T", *HONEST_STORES]
    accounts = pl.DataFrame(
        {
            "account_id": buyers + stores,
            "kind": ["buyer"] * len(buyers) + ["seller"] * len(stores),
            "created_at": [OLD] * len(buyers) + [store_created] + [OLD] * 4,
        }
    )
    orders = pl.DataFrame(
        {
            "order_id": [f"o{i:03d}" for i in range(len(rows))],
            "buyer_id": [r[0] for r in rows],
            "seller_id": [r[1] for r in rows],
            "amount": [10.0] * len(rows),
            "created_at": [r[2] for r in rows],
            "paid_at": [r[2] for r in rows],
        }
    )
    n = len(rows)
    feedback = pl.DataFrame(
        {
            "feedback_id": [f"f{i:03d}" for i in range(n)],
            "order_id": orders["order_id"],
            "author_id": orders["buyer_id"],
            "target_id": orders["seller_id"],
            "rating": [5] * n,
            "dsr_item_as_described": [5] * n,
            "dsr_communication": [5] * n,
            "dsr_shipping_speed": [5] * n,
            "created_at": [r[2] + timedelta(days=3) for r in rows],
        }
    )
    ds = dataset_from_frames(
        {"accounts": accounts, "orders": orders, "feedback": feedback},
        as_of="2025-12-01T00:00:00Z",
    )
    return build_market_graph(ds)


def ring_of(mg: MarketGraph, params: DetectParams | None = None) -> set[str]:
    """Members found by the ring test when ``T`` and ``b1``-``b4`` form one community
    and every other account is a community of its own."""
    ids = mg.vertices["account_id"].to_list()
    together = {"T", *BUYERS, "b4"}
    memb = np.array([0 if a in together else i + 1 for i, a in enumerate(ids)])
    out = _ring_members(mg, memb, params or DetectParams())
    return set(out["account_id"])


YOUNG = CAMPAIGN - timedelta(days=30)


def test_diluted_ring_of_a_young_store_is_found() -> None:
    mg = market(store_created=YOUNG)
    # whole history: 2 of 6 orders at T (0.33 < 0.5); within the window: 2 of 2
    assert ring_of(mg) == {"T", *BUYERS}
    roles = _ring_members(
        mg,
        np.array(
            [0 if a in {"T", *BUYERS} else i + 1 for i, a in enumerate(mg.vertices["account_id"])]
        ),
        DetectParams(),
    )
    assert roles.filter(pl.col("role") == "seller")["account_id"].to_list() == ["T"]


def test_pass_off_or_old_store_finds_nothing() -> None:
    assert ring_of(market(store_created=YOUNG)) == {"T", *BUYERS}
    assert ring_of(market(store_created=YOUNG), DetectParams(young_store_days=None)) == set()
    # a store selling for years: its first sale is long after registration
    assert ring_of(market(store_created=OLD)) == set()
    # just past the limit: registered 91 days before its first sale
    assert ring_of(market(store_created=CAMPAIGN - timedelta(days=91))) == set()
    assert ring_of(market(store_created=CAMPAIGN - timedelta(days=89))) == {"T", *BUYERS}


def test_honest_orders_inside_the_window_are_counted() -> None:
    assert ring_of(market(store_created=YOUNG)) == {"T", *BUYERS}
    # the same buyers with their honest orders between their two orders at T:
    # 2 of 6 orders in the window go to T (0.33 < 0.5)
    mg = market(store_created=YOUNG, ring_days=(0, 50), honest_days=(10, 20, 30, 40))
    assert ring_of(mg) == set()
    # 3 of 5 in the window (0.6): concentrated again
    mg = market(store_created=YOUNG, ring_days=(0, 25, 50), honest_days=(10, 40, -60, 80))
    assert ring_of(mg) == {"T", *BUYERS}


def test_a_ring_by_the_whole_history_is_left_as_it_is() -> None:
    # b1-b3 concentrated over their whole history (3 of 4 orders at T); b4 is diluted
    # (2 of 8) but inside its window (2 of 2): the community is a ring already, so b4
    # is not added; the fire case of the pass adds b4 when b1-b3 are diluted too
    mg = market(store_created=YOUNG, ring_days=(0, 3, 5), honest_days=(-80,), extra_buyer=True)
    assert ring_of(mg) == {"T", *BUYERS}
    assert ring_of(mg) == ring_of(mg, DetectParams(young_store_days=None))
    diluted = market(store_created=YOUNG, extra_buyer=True)
    assert ring_of(diluted) == {"T", *BUYERS, "b4"}


def test_orders_in_windows_counts_both_ends() -> None:
    mg = market(store_created=YOUNG)
    ids = mg.vertices["account_id"].to_list()
    b1 = ids.index("b1")
    us = 86_400_000_000
    t0 = int(CAMPAIGN.timestamp() * 1_000_000)
    vids = np.array([b1, ids.index("b2")], dtype=np.int64)
    # b1: [day 0, day 5] holds its two orders at T, ends included; b2: [day -80, day -60)
    got = _orders_in_windows(
        mg, vids, np.array([t0, t0 - 80 * us]), np.array([t0 + 5 * us, t0 - 60 * us - 1])
    )
    assert got.tolist() == [2, 1]
    assert (
        _orders_in_windows(mg, np.array([], dtype=np.int64), np.array([]), np.array([])).size == 0
    )


@pytest.mark.parametrize("young_store_days", [None, 90.0])
def test_simulated_camouflage_ring_found_only_by_the_pass(young_store_days: float | None) -> None:
    """simulate(20_000, seed=13): no shill_ring group holds any of the 5 accounts of
    planted ring ``camouflage-0002`` without the pass; with it, one holds all 5."""
    from graphkit.simulate import simulate

    sim = simulate(20_000, seed=13)
    det = detect_groups(
        dataset_from_frames(sim.tables), seed=13, params={"young_store_days": young_store_days}
    )
    planted = set(
        sim.labels.filter(
            (pl.col("entity_kind") == "account") & (pl.col("group_id") == "camouflage-0002")
        )["entity_id"]
    )
    rings = det.groups.filter(pl.col("kind") == "shill_ring")["member_ids"].to_list()
    best = max((len(planted & set(m)) for m in rings), default=0)
    assert len(planted) == 5
    assert best == (0 if young_store_days is None else 5)


def _young_signal(groups: pl.DataFrame) -> list[dict]:
    return [
        next(s for s in sig if s["name"] == "young_stores") for sig in groups["signals"].to_list()
    ]


@pytest.mark.parametrize(
    ("store_created", "fired"),
    [(YOUNG, True), (CAMPAIGN - timedelta(days=89), True), (OLD, False)],
)
def test_young_stores_signal_says_how_fast_the_store_sold(
    store_created: datetime, fired: bool
) -> None:
    """Every scored group carries ``young_stores``: the days from registering to the first
    sale of its slowest seller, against ``young_store_days``; weight 0, so the score is the
    same as without it."""
    from graphkit.detect.rings import score_groups

    mg = market(store_created=store_created, ring_days=(0, 3, 5), honest_days=(-80,))
    members = pl.DataFrame(
        {
            "gid": [1] * 4,
            "account_id": ["T", *BUYERS],
            "role": ["seller", "buyer", "buyer", "buyer"],
        }
    )
    links = pl.DataFrame(schema={"account_a": pl.String, "account_b": pl.String})
    scored = score_groups(members, mg, links)
    (sig,) = _young_signal(scored)
    days = (CAMPAIGN - store_created).total_seconds() / 86400.0
    assert sig["value"] == pytest.approx(days, abs=1e-6)
    assert sig["threshold"] == 90.0
    assert (sig["value"] <= sig["threshold"]) is fired
    assert sig["contribution"] == 0.0
    # an operator may weight it: the score then moves for a young store only
    weighted = score_groups(
        members, mg, links, params=DetectParams(signal_weights={"young_stores": 1.0})
    )
    assert (weighted["score"].item() > scored["score"].item()) is fired


def test_young_store_groups_count_from_a_lower_score() -> None:
    from graphkit.detect.rating_trading import ring_group_members
    from graphkit.findings import SIGNAL

    def young(days: float | None) -> list[dict]:
        return [
            {"name": "young_stores", "value": days, "threshold": 90.0, "contribution": 0.0,
             "detail": ""}
        ]  # fmt: skip

    groups = pl.DataFrame(
        {
            "group_id": ["young42", "old42", "young35", "ring60", "unknown42"],
            "score": [0.42, 0.42, 0.35, 0.6, 0.42],
            "signals": [young(27.0), young(800.0), young(27.0), young(800.0), young(None)],
        },
        schema_overrides={"signals": pl.List(SIGNAL)},
    )
    members = pl.DataFrame(
        {
            "group_id": [g for g in groups["group_id"] for _ in range(2)],
            "account_id": [a for g in groups["group_id"] for a in (f"s_{g}", f"b_{g}")],
        }
    )
    sellers = pl.Series([f"s_{g}" for g in groups["group_id"]])

    def counted(**kw: object) -> list[str]:
        out = ring_group_members(members, groups, min_score=0.5, sellers=sellers, **kw)
        return sorted(set(out["group_id"]))

    assert counted(young_min_score=0.4) == ["ring60", "young42"]
    # near misses: no exception asked for, or no signals given
    assert counted() == ["ring60"]
    no_signals = groups.drop("signals")
    out = ring_group_members(
        members, no_signals, min_score=0.5, sellers=sellers, young_min_score=0.4
    )
    assert sorted(set(out["group_id"])) == ["ring60"]


@pytest.mark.parametrize("exception", [True, False])
def test_simulated_camouflage_ring_of_a_new_store_is_named(exception: bool) -> None:
    """simulate(100_000, seed=14): planted ring ``camouflage-0002`` (a store registered 27
    days before its first sale, 4 untied buyers) is detected as a group scoring 0.40; the
    rules name all 5 accounts only with the young-store exception."""
    from graphkit.scan import scan
    from graphkit.simulate import simulate

    sim = simulate(100_000, seed=14)
    floor = 0.4 if exception else 0.5
    config = {
        "ratings": {"group_young_store_min_score": floor},
        "rules": {"SHILL_PURCHASE": {"young_store_group_min_score": floor}},
    }
    result = scan(dataset_from_frames(sim.tables), seed=14, config=ScanConfig.from_mapping(config))
    named = set(result.findings["subject_ids"].explode())
    planted = set(
        sim.labels.filter(
            (pl.col("entity_kind") == "account") & (pl.col("group_id") == "camouflage-0002")
        )["entity_id"]
    )
    assert len(planted) == 5
    assert (planted & named) == (planted if exception else set())
