"""detect_groups end to end: a hand-built market with a planted ring, a household and a NAT
hub (known answers), determinism, parameters, and recovery of simulated rings."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from graphkit.dataset import Dataset
from graphkit.detect import GROUP_KINDS, DetectParams, GroupDetection, detect_groups
from graphkit.detect.rings import edge_suspicion, ring_candidate_edges
from graphkit.errors import ConfigError
from graphkit.findings import GROUPS_SCHEMA, SIGNAL
from graphkit.graph.build import MarketGraph, market_graph_from_frames
from graphkit.io import dataset_from_frames

RING = ["x1", "x2", "x3", "x4", "x5", "x6"]
T0 = datetime(2025, 6, 1, tzinfo=UTC)


def market_frames(seed: int = 0) -> dict[str, pl.DataFrame]:
    """80 honest buyers over 10 stores for 8 months; store R also gets a ring of 6 new
    accounts buying cheap items 4 times each within 10 days, all 5 stars, 3 sharing a
    device and one sharing R's payment card; h00/h01 share a home address; h10-h39 sit
    behind one carrier NAT ip."""
    rng = np.random.default_rng(seed)
    honest = [f"h{i:02d}" for i in range(80)]
    stores = [f"s{i}" for i in range(10)] + ["R"]
    orders: list[tuple[str, str, float, datetime]] = []
    for b in honest:
        for _ in range(6):
            s = stores[min(int(rng.zipf(1.6)) - 1, 9)]
            orders.append(
                (b, s, float(rng.uniform(20, 80)), T0 + timedelta(days=rng.uniform(0, 240)))
            )
    for b in honest[40:50]:
        orders.append(
            (b, "R", float(rng.uniform(20, 60)), T0 + timedelta(days=rng.uniform(0, 240)))
        )
    start = datetime(2026, 2, 1, tzinfo=UTC)
    for b in RING:
        for _ in range(4):
            orders.append(
                (b, "R", float(rng.uniform(3, 5)), start + timedelta(days=rng.uniform(0, 10)))
            )
    n = len(orders)
    order_ids = [f"o{i:04d}" for i in range(n)]
    ratings = [
        5 if o[0] in RING else int(rng.choice([5, 4, 3, 2, 1], p=[0.55, 0.25, 0.1, 0.05, 0.05]))
        for o in orders
    ]
    accounts = pl.DataFrame(
        {
            "account_id": honest + RING + stores,
            "kind": ["buyer"] * (80 + 6) + ["seller"] * 11,
            "created_at": [datetime(2024, 1, 1, tzinfo=UTC)] * 80
            + [datetime(2026, 1, 25, tzinfo=UTC)] * 6
            + [datetime(2023, 1, 1, tzinfo=UTC)] * 11,
        }
    )
    identifiers = pl.DataFrame(
        {
            "account_id": ["x1", "x2", "x3", "x4", "R", "h00", "h01", *honest[10:40]],
            "kind": ["device"] * 3 + ["payment"] * 2 + ["address"] * 2 + ["ip"] * 30,
            "value": ["D1"] * 3 + ["P1"] * 2 + ["A1"] * 2 + ["NAT"] * 30,
        }
    )
    return {
        "accounts": accounts,
        "identifiers": identifiers,
        "orders": pl.DataFrame(
            {
                "order_id": order_ids,
                "buyer_id": [o[0] for o in orders],
                "seller_id": [o[1] for o in orders],
                "amount": [round(o[2], 2) for o in orders],
                "created_at": [o[3] for o in orders],
                "paid_at": [o[3] for o in orders],
            }
        ),
        "feedback": pl.DataFrame(
            {
                "feedback_id": [f"f{i:04d}" for i in range(n)],
                "order_id": order_ids,
                "author_id": [o[0] for o in orders],
                "target_id": [o[1] for o in orders],
                "rating": ratings,
                "dsr_item_as_described": ratings,
                "dsr_communication": ratings,
                "dsr_shipping_speed": ratings,
                "created_at": [o[3] + timedelta(days=5) for o in orders],
            }
        ),
    }


@pytest.fixture(scope="module")
def market() -> Dataset:
    return dataset_from_frames(market_frames(), as_of="2026-03-01T00:00:00Z")


@pytest.fixture(scope="module")
def det(market: Dataset) -> GroupDetection:
    return detect_groups(market, seed=0)


def _members(det: GroupDetection, group_id: str) -> set[str]:
    return set(det.members.filter(pl.col("group_id") == group_id)["account_id"])


def test_output_contract(det: GroupDetection) -> None:
    assert det.groups.schema == pl.Schema(GROUPS_SCHEMA)
    assert set(det.groups["kind"]) <= set(GROUP_KINDS)
    assert det.groups.schema["signals"] == pl.List(SIGNAL)
    assert det.members.columns == ["group_id", "account_id", "role"]
    assert set(det.members["group_id"]) == set(det.groups["group_id"])
    assert det.groups["score"].is_between(0, 1).all()
    for row in det.groups.iter_rows(named=True):
        assert set(row["member_ids"]) == _members(det, row["group_id"])
        assert row["group_id"].startswith(f"G-{row['kind']}-")


def test_planted_ring_is_found_and_explained(det: GroupDetection) -> None:
    target = {"R", *RING}
    best = max(
        det.groups.iter_rows(named=True),
        key=lambda r: len(target & set(r["member_ids"])) / len(target | set(r["member_ids"])),
    )
    members = set(best["member_ids"])
    assert len(target & members) >= 6  # the seller and at least 5 of the 6 ring buyers
    assert len(members - target) <= 1
    assert best["seller_ids"] == ["R"]
    assert best["score"] >= 0.6
    signals = {s["name"]: s for s in best["signals"]}
    assert signals["account_age"]["value"] < 30
    assert signals["account_age"]["contribution"] > 0
    assert signals["rating_extremity"]["value"] == 1.0
    assert signals["amount_size"]["value"] < 0.5
    assert signals["identity_sharing"]["value"] >= 0.5
    assert sum(s["contribution"] for s in best["signals"]) > 0
    # found by two detectors (Leiden ring and lockstep): informational, not scored
    assert signals["corroboration"]["value"] >= 1
    assert signals["corroboration"]["contribution"] == 0.0


def test_no_honest_buyer_seller_group_scores_high(det: GroupDetection) -> None:
    """Near miss: the honest market has communities and dense corners, none is a ring."""
    target = {"R", *RING}
    for row in det.groups.filter(pl.col("kind") != "linked_accounts").iter_rows(named=True):
        if not target & set(row["member_ids"]):
            assert row["score"] < 0.5, row


def test_household_linked_but_not_a_group(det: GroupDetection) -> None:
    link = det.identity.between(pl.DataFrame({"account_a": ["h01"], "account_b": ["h00"]}))
    assert link["weight"].to_list() == [pytest.approx(0.5)]
    assert link["kinds"].to_list() == [["address"]]
    in_groups = det.members.filter(pl.col("account_id").is_in(["h00", "h01"]))
    assert in_groups.is_empty()
    acc = det.account_signals.filter(pl.col("account_id") == "h00").row(0, named=True)
    assert acc["n_identity_links"] == 1
    assert acc["n_groups"] == 0


def test_nat_hub_merges_nobody(det: GroupDetection) -> None:
    assert det.identity.hubs.rows() == [("ip", "NAT", 30)]
    nat = [f"h{i:02d}" for i in range(10, 40)]
    links = det.identity.links
    assert links.filter(pl.col("account_a").is_in(nat) & pl.col("account_b").is_in(nat)).is_empty()


def test_pairs_and_account_signals(det: GroupDetection) -> None:
    pairs = det.pairs()
    hit = pairs.filter((pl.col("buyer_id") == "x2") & (pl.col("seller_id") == "R"))
    assert hit.height >= 1
    assert pairs.filter(pl.col("buyer_id") == "h00").is_empty()
    x2 = det.account_signals.filter(pl.col("account_id") == "x2").row(0, named=True)
    assert x2["n_groups"] >= 1
    assert x2["max_group_score"] >= 0.6


def test_same_seed_same_output_whatever_the_row_order(det: GroupDetection) -> None:
    frames = market_frames()
    shuffled = {k: v.sample(fraction=1.0, shuffle=True, seed=5) for k, v in frames.items()}
    again = detect_groups(dataset_from_frames(shuffled, as_of="2026-03-01T00:00:00Z"), seed=0)
    assert again.groups.equals(det.groups)
    assert again.members.equals(det.members)
    assert again.account_signals.equals(det.account_signals)


def test_params_mapping_and_unknown_key(market: Dataset) -> None:
    default = detect_groups(market)
    strict = detect_groups(market, params={"min_score": 0.99})
    assert strict.groups.height < default.groups.height
    assert (strict.groups["score"] >= 0.99).all()
    assert strict.params == DetectParams(min_score=0.99)
    with pytest.raises(ConfigError, match="min_scor"):
        detect_groups(market, params={"min_scor": 0.5})


def test_works_without_optional_tables() -> None:
    frames = market_frames()
    ds = dataset_from_frames({"orders": frames["orders"], "feedback": frames["feedback"]})
    out = detect_groups(ds)
    assert out.identity.links.is_empty()
    target = {"R", *RING}
    assert any(len(target & set(m)) >= 6 for m in out.groups["member_ids"])
    sig = {s["name"]: s for s in out.groups["signals"][0]}
    assert sig["account_age"]["value"] is None
    assert sig["account_age"]["contribution"] == 0.0


def _ring_recovery(n_orders: int, sim_seed: int) -> tuple[list[float], pl.DataFrame]:
    from graphkit.simulate import simulate

    m = simulate(n_orders, seed=sim_seed)
    det = detect_groups(dataset_from_frames(m.tables), seed=0)
    truth = (
        m.labels.filter((pl.col("entity_kind") == "account") & (pl.col("scenario") == "shill_ring"))
        .group_by("group_id")
        .agg(pl.col("entity_id"))
        .sort("group_id")
    )
    rings = det.groups.filter(pl.col("kind") == "shill_ring")
    best = []
    for planted in truth["entity_id"].to_list():
        t = set(planted)
        best.append(
            max(
                (len(t & set(m_)) / len(t | set(m_)) for m_ in rings["member_ids"].to_list()),
                default=0.0,
            )
        )
    labelled = set(m.labels.filter(pl.col("entity_kind") == "account")["entity_id"])
    strong = det.groups.filter((pl.col("score") >= 0.5) & (pl.col("kind") != "linked_accounts"))
    purity = strong.select(
        pl.col("member_ids")
        .list.eval(pl.element().is_in(list(labelled)))
        .list.mean()
        .alias("labelled_share")
    )
    return best, purity


def test_simulated_rings_recovered() -> None:
    """Every planted shill ring of a 30k-order simulated market is a reported shill_ring
    group (Jaccard >= 0.8 with the ring's accounts, seller included), and every
    buyer–seller group scoring >= 0.5 is made mostly of accounts of some planted scenario."""
    best, purity = _ring_recovery(30_000, sim_seed=11)
    assert len(best) >= 2
    assert min(best) >= 0.8, best
    assert purity.height >= len(best)
    assert purity["labelled_share"].min() >= 0.5


@pytest.mark.slow
@pytest.mark.parametrize("sim_seed", [1, 2, 3])
def test_simulated_rings_recovered_100k(sim_seed: int) -> None:
    best, purity = _ring_recovery(100_000, sim_seed=sim_seed)
    assert min(best) >= 0.8, best
    assert purity["labelled_share"].min() >= 0.5


def _graph_of(v: pl.DataFrame, rows: list[tuple], **columns: list) -> MarketGraph:
    """A market graph of vertices ``v`` (with ``vid``) and ``(buyer, seller, n_orders, ...)``
    edge rows; ``columns`` are further edge columns."""
    vid = dict(zip(v["account_id"], v["vid"], strict=True))
    e = pl.DataFrame(
        {
            "buyer_vid": [vid[r[0]] for r in rows],
            "seller_vid": [vid[r[1]] for r in rows],
            "buyer_id": [r[0] for r in rows],
            "seller_id": [r[1] for r in rows],
            "n_orders": [r[2] for r in rows],
            **columns,
        }
    )
    return market_graph_from_frames(v, e)


def _candidate_market() -> tuple[MarketGraph, pl.DataFrame]:
    """(buyer, seller, orders, suspicious) rows: a ring r1-r3 at store R; r2-r4 also at
    store T, where r1 has one ordinary order; near misses: q1, q2 at Q (2 buyers only), n1
    with a single order at R, d1 with 4 suspicious orders at R and P but 10 ordinary ones
    elsewhere (not concentrated), and so P, left with p1 and p2, falls too."""
    rows = [
        *[(b, "R", 2, True) for b in ("r1", "r2", "r3")],
        *[(b, "T", 2, True) for b in ("r2", "r3", "r4")],
        ("r1", "T", 1, False),
        ("q1", "Q", 2, True),
        ("q2", "Q", 2, True),
        ("n1", "R", 1, True),
        ("d1", "R", 2, True),
        ("d1", "P", 2, True),
        *[("d1", f"O{i}", 2, False) for i in range(5)],
        ("p1", "P", 2, True),
        ("p2", "P", 2, True),
    ]
    buyers = sorted({r[0] for r in rows})
    sellers = sorted({r[1] for r in rows})
    v = (
        pl.DataFrame(
            {
                "account_id": buyers + sellers,
                "kind": ["buyer"] * len(buyers) + ["seller"] * len(sellers),
            }
        )
        .sort("account_id")
        .with_row_index("vid")
    )
    mg = _graph_of(v, rows, suspicion=[2.0 if r[3] else 1.0 for r in rows])
    return mg, mg.edges.select("suspicion")


def _kept(mg: MarketGraph, mask: np.ndarray) -> set[tuple[str, str]]:
    return set(mg.edges.filter(pl.Series(mask)).select("buyer_id", "seller_id").rows())


def test_ring_candidate_edges_keep_rings_and_prune_near_misses() -> None:
    mg, susp = _candidate_market()
    kept = _kept(mg, ring_candidate_edges(mg, susp))
    ring = {(b, "R") for b in ("r1", "r2", "r3")} | {(b, "T") for b in ("r2", "r3", "r4")}
    # r1's ordinary order at T is kept too: the subgraph is induced by the kept accounts
    assert kept == ring | {("r1", "T")}
    # without the concentration rule d1 stays, and with it P (3 suspicious buyers)
    loose = _kept(mg, ring_candidate_edges(mg, susp, min_concentration=0.0))
    assert {("d1", "R"), ("d1", "P"), ("p1", "P"), ("p2", "P")} <= loose
    assert not {("q1", "Q"), ("n1", "R")} & loose


def test_ring_candidate_edges_not_induced_keeps_the_pruned_evidence_only() -> None:
    """induced=False: the surviving evidence edges only (r1's ordinary order at T is not
    evidence); a second pruning round drops what the first round's losses starve."""
    mg, susp = _candidate_market()
    kept = _kept(mg, ring_candidate_edges(mg, susp, induced=False))
    ring = {(b, "R") for b in ("r1", "r2", "r3")} | {(b, "T") for b in ("r2", "r3", "r4")}
    assert kept == ring
    # without the concentration rule, P keeps 3 buyers; with ring_min_buyers 4 it falls
    # (round 1), and then d1, left with R only, still qualifies through R (round 2 stable)
    strict = DetectParams(ring_min_buyers=4)
    loose = _kept(mg, ring_candidate_edges(mg, susp, params=strict, min_concentration=0.0))
    assert not {("p1", "P"), ("p2", "P"), ("d1", "P")} & loose
    assert ("d1", "R") in loose


def test_candidate_subgraph_finds_the_same_ring(market: Dataset, det: GroupDetection) -> None:
    whole = detect_groups(market, seed=0, params={"candidate_subgraph": False})
    ring = {"R", *RING}

    def best(d: GroupDetection) -> float:
        rings = d.groups.filter(pl.col("kind") == "shill_ring")["member_ids"].to_list()
        return max((len(ring & set(m)) / len(ring | set(m)) for m in rings), default=0.0)

    assert best(det) == best(whole) == 1.0


def test_edge_suspicion_linked_to_seller_or_co_buyer() -> None:
    """b1 and b2 (linked) both buy at S: both edges linked; b3 is linked to its seller T;
    near miss: b4 is linked to b1, but they share no seller, so b4's edge is not linked."""
    rows = [("b1", "S"), ("b2", "S"), ("b3", "T"), ("b4", "U"), ("b5", "S")]
    ids = sorted({x for r in rows for x in r})
    vid = {a: i for i, a in enumerate(ids)}
    v = pl.DataFrame(
        {"vid": list(range(len(ids))), "account_id": ids, "kind": ["buyer"] * 5 + ["seller"] * 3}
    )
    e = pl.DataFrame(
        {
            "buyer_vid": [vid[b] for b, _ in rows],
            "seller_vid": [vid[s] for _, s in rows],
            "buyer_id": [b for b, _ in rows],
            "seller_id": [s for _, s in rows],
            "n_orders": [1] * len(rows),
            "amount": [10.0] * len(rows),
        }
    )
    mg = market_graph_from_frames(v, e)
    links = pl.DataFrame({"account_a": ["b1", "T", "b1"], "account_b": ["b2", "b3", "b4"]})
    susp = edge_suspicion(mg, links)
    linked = dict(zip(mg.edges["buyer_id"], susp["linked"], strict=True))
    assert linked == {"b1": True, "b2": True, "b3": True, "b4": False, "b5": False}
    assert susp.filter(pl.col("linked"))["suspicion"].to_list() == [3.0, 3.0, 3.0]


def test_linked_cluster_signals_count_trade_inside_and_common_sellers() -> None:
    """Cluster {b1, b2, b3, s9}: b1 bought 2 orders from s9 (self dealing; b4 -> s9 is outside
    the cluster and does not count), b1, b2 and b3 bought from s1 (3 common buyers; s2 had 2)."""
    from graphkit.detect.rings import _score_linked

    rows = [
        ("b1", "s9", 2),
        ("b4", "s9", 5),
        ("b1", "s1", 1),
        ("b2", "s1", 1),
        ("b3", "s1", 3),
        ("b4", "s1", 1),
        ("b1", "s2", 1),
        ("b2", "s2", 1),
    ]
    names = sorted({r[0] for r in rows} | {r[1] for r in rows} | {"x_no_orders"})
    v = pl.DataFrame(
        {"account_id": names, "kind": ["seller" if n[0] == "s" else "buyer" for n in names]}
    ).with_row_index("vid")
    mg = _graph_of(v, rows)
    cluster = ["b1", "b2", "b3", "s9", "x_no_orders"]
    members = pl.DataFrame({"gid": [0] * len(cluster), "account_id": cluster})
    strong = pl.DataFrame(
        {
            "account_a": ["b1", "b1", "b2", "b3"],
            "account_b": ["b2", "s9", "b3", "x_no_orders"],
            "kinds": [["payment"]] * 4,
            "weight": [1.0] * 4,
        }
    )
    out = _score_linked(members, mg, strong)
    signals = {s["name"]: s["value"] for s in out["signals"][0]}
    assert signals["self_dealing"] == 2
    assert signals["common_seller"] == pytest.approx(3 / 5)
    assert signals["identity_strength"] == pytest.approx(1.0)


def _ring_members_reference(mg: MarketGraph, memb: np.ndarray, p: DetectParams) -> pl.DataFrame:
    """The ring test as polars joins over every edge (the implementation before issue #9's
    array version): the reference the array version must equal."""
    comm = pl.DataFrame({"vid": mg.vertices["vid"], "community": memb})
    v = mg.vertices.select("vid", "account_id", "kind").join(comm, on="vid")
    sellers = v.filter(pl.col("kind") == "seller")
    n_sell = sellers.group_by("community").agg(pl.len().alias("n_sellers"))
    ok = n_sell.filter(pl.col("n_sellers") <= p.ring_max_sellers)
    ring_sellers = sellers.join(ok, on="community", how="semi").select(
        pl.col("vid").alias("seller_vid"), "community"
    )
    e = mg.edges.select("buyer_vid", "seller_vid", "n_orders")
    total = e.group_by("buyer_vid").agg(pl.col("n_orders").sum().alias("total"))
    inside = (
        e.join(ring_sellers, on="seller_vid")
        .join(comm.rename({"vid": "buyer_vid", "community": "bc"}), on="buyer_vid")
        .filter(pl.col("bc") == pl.col("community"))
    )
    concentrated = (
        inside.group_by("community", "buyer_vid")
        .agg(pl.col("n_orders").sum().alias("inside"))
        .join(total, on="buyer_vid")
        .filter(
            (pl.col("inside") >= p.min_concentration * pl.col("total"))
            & (pl.col("inside") >= p.ring_min_orders)
        )
    )
    pairs = inside.join(
        concentrated.select("community", "buyer_vid"), on=["community", "buyer_vid"]
    )
    kept = (
        pairs.group_by("community", "seller_vid")
        .agg(pl.len().alias("nb"))
        .filter(pl.col("nb") >= p.ring_min_buyers)
        .select("community", "seller_vid")
    )
    buyers = (
        pairs.join(kept, on=["community", "seller_vid"]).select("community", "buyer_vid").unique()
    )
    sizes = buyers.group_by("community").agg(pl.len().alias("nb"))
    sizes = sizes.filter(pl.col("nb").is_between(p.ring_min_buyers, p.ring_max_buyers))
    members = pl.concat(
        [
            buyers.join(sizes, on="community", how="semi").select(
                "community", pl.col("buyer_vid").alias("vid"), pl.lit("buyer").alias("role")
            ),
            kept.join(sizes, on="community", how="semi").select(
                "community", pl.col("seller_vid").alias("vid"), pl.lit("seller").alias("role")
            ),
        ]
    )
    return members.join(mg.vertices.select("vid", "account_id"), on="vid").select(
        pl.col("community").cast(pl.Int64).alias("cand"), "account_id", "role"
    )


def _random_market(seed: int, n_b: int, n_s: int, n_e: int) -> MarketGraph:
    rng = np.random.default_rng(seed)
    names = [f"b{i:03d}" for i in range(n_b)] + [f"s{i:03d}" for i in range(n_s)]
    v = pl.DataFrame(
        {"account_id": names, "kind": ["buyer"] * n_b + ["seller"] * n_s}
    ).with_row_index("vid")
    pairs = np.unique(rng.integers(0, n_b, n_e) * n_s + rng.integers(0, n_s, n_e))
    bv, sv = pairs // n_s, n_b + pairs % n_s
    e = pl.DataFrame(
        {
            "buyer_vid": bv,
            "seller_vid": sv,
            "buyer_id": pl.Series(names).gather(bv),
            "seller_id": pl.Series(names).gather(sv),
            "n_orders": rng.integers(1, 5, len(pairs)),
        }
    )
    return market_graph_from_frames(v, e)


@pytest.mark.parametrize("seed", range(6))
def test_ring_members_equal_the_join_reference(seed: int) -> None:
    """Random markets and random partitions (few communities, so that many are ring-sized and
    many buyers concentrated): the array ring test keeps exactly the reference's members."""
    from graphkit.detect.rings import _ring_members

    rng = np.random.default_rng(100 + seed)
    mg = _random_market(seed, n_b=120, n_s=12, n_e=300)
    memb = rng.integers(0, 8, mg.vertices.height)
    # most buyers in the community of the seller they bought most from
    heaviest = mg.edges.sort("n_orders", descending=True).unique("buyer_vid", keep="first")
    follow = rng.random(heaviest.height) < 0.8
    buyers = heaviest["buyer_vid"].to_numpy()[follow]
    memb[buyers] = memb[heaviest["seller_vid"].to_numpy()[follow]]
    p = DetectParams(ring_min_buyers=2 + seed % 2, ring_max_buyers=15 + 5 * seed)
    got = _ring_members(mg, memb, p).sort("cand", "role", "account_id")
    want = _ring_members_reference(mg, memb, p).sort("cand", "role", "account_id")
    assert want.height > 0
    assert got.equals(want)


def test_ring_members_hand_built() -> None:
    """Community 0 = {b0, b1, b2, sA}: each buyer places >= half its orders with sA (b2:
    2 of 3), so sA and the 3 buyers are a ring. Near misses: b3 (community 0) buys once from
    sA (ring_min_orders 2) and is left out; community 1 = {b4, b5, b6, sB, sC, sD, sE} has 4
    sellers (> ring_max_sellers 3) and yields nothing."""
    from graphkit.detect.rings import _ring_members

    names = ["b0", "b1", "b2", "b3", "b4", "b5", "b6", "sA", "sB", "sC", "sD", "sE"]
    v = pl.DataFrame({"account_id": names, "kind": ["buyer"] * 7 + ["seller"] * 5}).with_row_index(
        "vid"
    )
    vid = {n: i for i, n in enumerate(names)}
    rows = [("b0", "sA", 3), ("b1", "sA", 2), ("b2", "sA", 2), ("b2", "sB", 1), ("b3", "sA", 1)]
    rows += [(b, s, 3) for b in ("b4", "b5", "b6") for s in ("sB", "sC", "sD", "sE")]
    rows.sort(key=lambda r: (vid[r[0]], vid[r[1]]))
    mg = _graph_of(v, rows)
    memb = np.array([0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1])
    got = _ring_members(mg, memb, DetectParams())
    assert sorted(got.iter_rows()) == [
        (0, "b0", "buyer"),
        (0, "b1", "buyer"),
        (0, "b2", "buyer"),
        (0, "sA", "seller"),
    ]


def test_linked_scores_prefiltered_equal_filtered_after() -> None:
    """_score_linked(min_score=x) returns exactly the rows of the unfiltered call scoring >= x
    (signals included, bit for bit), for thresholds that keep all, some and none."""
    from graphkit.detect.rings import _score_linked

    rng = np.random.default_rng(7)
    mg = _random_market(3, n_b=60, n_s=8, n_e=240)
    names = mg.vertices["account_id"].to_list()
    # 12 clusters of 2-6 accounts (buyers and sellers), linked in a chain with random weights
    perm = rng.permutation(len(names))[:48]
    sizes = rng.integers(2, 7, 12)
    rows, links = [], []
    start = 0
    for gid, k in enumerate(sizes):
        acc = [names[i] for i in perm[start : start + k]]
        start += k
        rows += [(gid, a) for a in acc]
        links += [
            (min(a, b), max(a, b), ["device"], float(rng.uniform(0.5, 1.0)))
            for a, b in itertools.pairwise(acc)
        ]
    members = pl.DataFrame(rows, schema=["gid", "account_id"], orient="row")
    strong = pl.DataFrame(links, schema=["account_a", "account_b", "kinds", "weight"], orient="row")
    full = _score_linked(members, mg, strong)
    assert full.height == 12
    kept_counts = []
    for x in (0.0, float(full["score"].median()), 0.3, 2.0):
        got = _score_linked(members, mg, strong, min_score=x)
        assert got.equals(full.filter(pl.col("score") >= x)), x
        kept_counts.append(got.height)
    assert kept_counts[0] == 12
    assert 0 < kept_counts[1] < 12
    assert kept_counts[-1] == 0


def test_search_sorted_equals_numpy_searchsorted() -> None:
    """Queries searched in sorted order give np.searchsorted's positions, query for query
    (repeated keys, repeated queries, queries below and above every key, empty and one)."""
    from graphkit.detect.sorted_runs import search_sorted

    rng = np.random.default_rng(11)
    keys = np.sort(rng.integers(0, 500, 2_000))
    queries = rng.integers(-10, 520, 5_000)
    np.testing.assert_array_equal(search_sorted(keys, queries), np.searchsorted(keys, queries))
    for q in (queries[:0], queries[:1]):
        np.testing.assert_array_equal(search_sorted(keys, q), np.searchsorted(keys, q))


def test_linked_mask_equals_its_definition_on_a_random_market() -> None:
    """_linked_mask on a random market (only linked buyers' edges are joined) equals the
    definition written pair by pair: the buyer is linked to the seller, or to a buyer y that
    also bought from the seller."""
    from graphkit.detect.rings import _linked_mask

    rng = np.random.default_rng(11)
    buyers = [f"b{i:02d}" for i in range(40)]
    sellers = [f"s{i}" for i in range(6)]
    pairs = sorted({(buyers[i], sellers[j]) for i, j in rng.integers(0, [40, 6], (120, 2))})
    ids = sorted(buyers + sellers)
    vid = {a: i for i, a in enumerate(ids)}
    v = pl.DataFrame(
        {"vid": list(range(len(ids))), "account_id": ids},
    ).with_columns(
        pl.when(pl.col("account_id").str.starts_with("s"))
        .then(pl.lit("seller"))
        .otherwise(pl.lit("buyer"))
        .alias("kind")
    )
    e = pl.DataFrame(
        {
            "buyer_vid": [vid[b] for b, _ in pairs],
            "seller_vid": [vid[s] for _, s in pairs],
            "buyer_id": [b for b, _ in pairs],
            "seller_id": [s for _, s in pairs],
            "n_orders": [1] * len(pairs),
        }
    )
    mg = market_graph_from_frames(v, e)
    accounts = buyers + sellers + ["nobody"]
    raw = {tuple(sorted((accounts[i], accounts[j]))) for i, j in rng.integers(0, 47, (25, 2))}
    link_pairs = sorted(p for p in raw if p[0] != p[1])
    links = pl.DataFrame(
        {"account_a": [a for a, _ in link_pairs], "account_b": [b for _, b in link_pairs]}
    )
    linked_to = {a: set() for a in accounts}
    for a, b in link_pairs:
        linked_to[a].add(b)
        linked_to[b].add(a)
    edge_set = set(pairs)
    want = [
        s in linked_to[b] or any((y, s) in edge_set for y in linked_to[b])
        for b, s in zip(mg.edges["buyer_id"], mg.edges["seller_id"], strict=True)
    ]
    got = _linked_mask(mg, links).tolist()
    assert got == want
    assert 0 < sum(want) < len(want)  # some edges linked, some not: the test can fail


def test_leiden_in_a_child_while_fraudar_and_lockstep_run(
    market: Dataset, det: GroupDetection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leiden forced into a child process (started before FRAUDAR and lockstep, collected
    after them): the same groups, members and signals as in-process; a failure in the work
    done meanwhile leaves no child behind (the job is closed on the way out)."""
    import graphkit.detect.communities as communities
    import graphkit.detect.dense as dense

    monkeypatch.setattr(communities, "CHILD_MIN_EDGES", 0)
    started: list[communities.LeidenJob] = []
    start = communities.start_leiden_membership

    def spy(*args, **kwargs):
        job = start(*args, **kwargs)
        started.append(job)
        return job

    monkeypatch.setattr(communities, "start_leiden_membership", spy)
    child = detect_groups(market, seed=0)
    assert [job.in_child for job in started] == [True]
    assert child.groups.equals(det.groups)
    assert child.members.equals(det.members)
    assert child.account_signals.equals(det.account_signals)

    def boom(*args, **kwargs):
        raise RuntimeError("dense failed")

    monkeypatch.setattr(dense, "dense_blocks", boom)
    closed: list[bool] = []
    monkeypatch.setattr(
        communities.LeidenJob,
        "close",
        lambda self, _close=communities.LeidenJob.close: (closed.append(True), _close(self))[1],
    )
    with pytest.raises(RuntimeError, match="dense failed"):
        detect_groups(market, seed=0)
    assert closed == [True]
