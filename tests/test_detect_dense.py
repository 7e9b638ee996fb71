"""FRAUDAR-style dense blocks: planted bicliques with camouflage, near misses, determinism."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphkit.detect.dense import (
    dense_blocks,
    fraudar_peel,
    fraudar_peel_windows,
    fraudar_weights,
)
from graphkit.graph.build import market_graph_from_frames


def _biclique_with_camouflage(rng: np.random.Generator):
    """Buyers 0-9 x sellers 0-4 fully connected (the ring); each ring buyer also buys from
    one popular seller (5-9); 1000 honest buyers (10-1009) each buy from four of the five
    popular sellers (an organic core: 4 edges per buyer, denser than the ring's 3.3 when
    unweighted); 300 sparse edges to small sellers 10-59."""
    fb, fs = np.meshgrid(np.arange(10), np.arange(5), indexing="ij")
    hb = np.repeat(np.arange(10, 1010), 4)
    hs = 5 + (np.repeat(np.arange(1000), 4) + np.tile(np.arange(4), 1000)) % 5
    b = [fb.ravel(), np.arange(10), hb, rng.integers(10, 1010, 300)]
    s = [fs.ravel(), 5 + np.arange(10) % 5, hs, rng.integers(10, 60, 300)]
    key = np.unique(np.concatenate(b) * 1000 + np.concatenate(s))
    return key // 1000, key % 1000


def test_planted_biclique_found_without_camouflage_sellers() -> None:
    b, s = _biclique_with_camouflage(np.random.default_rng(0))
    blocks = fraudar_peel(b, s, n_buyers=1010, n_sellers=60)
    assert blocks[0].buyers.tolist() == list(range(10))
    assert blocks[0].sellers.tolist() == [0, 1, 2, 3, 4]
    assert blocks[0].n_edges == 50


def test_unweighted_peel_is_fooled_by_camouflage() -> None:
    """The near miss that motivates FRAUDAR's column weights: without them the organic
    core around the popular sellers looks denser than the ring."""
    b, s = _biclique_with_camouflage(np.random.default_rng(0))
    blk = fraudar_peel(b, s, n_buyers=1010, n_sellers=60, column_weighting="none")[0]
    assert set(blk.sellers.tolist()) >= {5, 6, 7, 8, 9}
    assert len(blk.buyers) > 100  # the ring drowns in honest buyers (precision < 10%)


def test_two_blocks_found_in_turn() -> None:
    rng = np.random.default_rng(1)
    b1, s1 = np.meshgrid(np.arange(8), np.arange(4), indexing="ij")
    b2, s2 = np.meshgrid(np.arange(8, 14), np.arange(4, 7), indexing="ij")
    hb, hs = rng.integers(14, 200, 150), rng.integers(7, 80, 150)
    key = np.unique(
        np.concatenate([b1.ravel(), b2.ravel(), hb]) * 1000
        + np.concatenate([s1.ravel(), s2.ravel(), hs])
    )
    blocks = fraudar_peel(key // 1000, key % 1000, n_buyers=200, n_sellers=80, n_blocks=2)
    assert [blk.buyers.tolist() for blk in blocks] == [list(range(8)), list(range(8, 14))]
    assert [blk.sellers.tolist() for blk in blocks] == [[0, 1, 2, 3], [4, 5, 6]]


def test_sparse_graph_has_no_large_dense_block() -> None:
    """Near miss: the densest part of a random sparse graph (mean degree 1.5) is less
    than half as dense as the planted 10x5 ring."""
    rng = np.random.default_rng(2)
    key = np.unique(rng.integers(0, 400, 600) * 1000 + rng.integers(0, 400, 600))
    blk = fraudar_peel(key // 1000, key % 1000, n_buyers=400, n_sellers=400)[0]
    b, s = _biclique_with_camouflage(np.random.default_rng(0))
    ring = fraudar_peel(b, s, n_buyers=1010, n_sellers=60)[0]
    assert blk.density < 0.5 * ring.density


def test_edge_weight_lifts_a_sparse_ring() -> None:
    """A sparse ring (density 0.5) under a denser organic core is found only when its
    edges carry a suspicion weight (e.g. lockstep timing)."""
    rng = np.random.default_rng(3)
    core_b, core_s = np.meshgrid(np.arange(12), np.arange(6), indexing="ij")
    ring = (rng.random((8, 4)) < 0.5).nonzero()
    b = np.concatenate([core_b.ravel(), ring[0] + 12])
    s = np.concatenate([core_s.ravel(), ring[1] + 6])
    plain = fraudar_peel(b, s, n_buyers=20, n_sellers=10)[0]
    assert plain.buyers.max() < 12
    w = np.where(b >= 12, 20.0, 1.0)
    lifted = fraudar_peel(b, s, n_buyers=20, n_sellers=10, edge_weight=w)[0]
    assert lifted.buyers.min() >= 12


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.5])
def test_result_stable_across_batch_tolerance(eps: float) -> None:
    b, s = _biclique_with_camouflage(np.random.default_rng(0))
    blk = fraudar_peel(b, s, n_buyers=1010, n_sellers=60, eps=eps)[0]
    assert blk.buyers.tolist() == list(range(10))


def test_column_weights() -> None:
    w = fraudar_weights(np.array([0, 0, 0, 1]), n_sellers=3)
    assert w.tolist() == pytest.approx([1 / np.log(8)] * 3 + [1 / np.log(6)])
    with pytest.raises(ValueError, match="column_weighting"):
        fraudar_weights(np.array([0]), n_sellers=1, column_weighting="sqrt")  # type: ignore[arg-type]


def test_dense_blocks_on_market_graph() -> None:
    b, s = _biclique_with_camouflage(np.random.default_rng(0))
    buyers = [f"b{i:03d}" for i in range(1010)]
    sellers = [f"s{i:03d}" for i in range(60)]
    v = pl.DataFrame(
        {"account_id": buyers + sellers, "kind": ["buyer"] * 1010 + ["seller"] * 60}
    ).with_row_index("vid")
    e = pl.DataFrame(
        {
            "buyer_vid": b,
            "seller_vid": s + 1010,
            "buyer_id": [buyers[i] for i in b],
            "seller_id": [sellers[i] for i in s],
            "n_orders": np.ones(len(b), dtype=np.int64),
        }
    )
    mg = market_graph_from_frames(v, e)
    out = dense_blocks(mg, n_blocks=1)
    first = out.filter(pl.col("block") == 0)
    assert first.filter(pl.col("role") == "buyer")["account_id"].to_list() == buyers[:10]
    assert first.filter(pl.col("role") == "seller")["account_id"].to_list() == sellers[:5]
    assert first["block_n_edges"].unique().to_list() == [50]
    assert out.equals(dense_blocks(mg, n_blocks=1))
    assert dense_blocks(mg, n_blocks=1, min_buyers=11).is_empty()


def test_time_windows_find_a_block_hidden_by_the_organic_core() -> None:
    """A sparse ring (each buyer 3 of 6 sellers) loses to a denser organic core over the
    whole year, but it is the densest thing inside its 3-day campaign window."""
    rng = np.random.default_rng(4)
    core_b, core_s = np.meshgrid(np.arange(30), np.arange(8), indexing="ij")
    ring_b = np.repeat(np.arange(30, 42), 3)
    ring_s = 8 + np.concatenate([rng.choice(6, 3, replace=False) for _ in range(12)])
    b = np.concatenate([core_b.ravel(), ring_b])
    s = np.concatenate([core_s.ravel(), ring_s])
    t = np.concatenate([rng.uniform(0, 365, core_b.size), 200 + rng.uniform(0, 2, len(ring_b))])
    whole = fraudar_peel(b, s, n_buyers=42, n_sellers=14)[0]
    assert whole.buyers.max() < 30  # the core wins on structure alone
    found = fraudar_peel_windows(b, s, t, n_buyers=42, n_sellers=14, window=3.0)
    start, blk = found[0]
    assert blk.buyers.tolist() == list(range(30, 42))
    assert blk.sellers.tolist() == list(range(8, 14))
    assert 197 <= start <= 200
    # near miss: the same ring spread over the year is not found in any window
    t_spread = t.copy()
    t_spread[core_b.size :] = rng.uniform(0, 365, len(ring_b))
    spread = fraudar_peel_windows(b, s, t_spread, n_buyers=42, n_sellers=14, window=3.0)
    assert all(len(set(x.buyers.tolist()) & set(range(30, 42))) < 6 for _, x in spread)


def _windows_one_by_one(b, s, t, *, n_sellers, window, min_edges=10, eps=0.05):
    """Reference: every window (both offsets) peeled on its own, whole-graph weights."""
    from graphkit.detect.dense import _peel

    w = fraudar_weights(s, n_sellers=n_sellers)
    out = []
    for offset in (0.0, window / 2):
        bucket = np.floor((t + offset) / window).astype(np.int64)
        for k in np.unique(bucket):
            idx = np.flatnonzero(bucket == k)
            if len(idx) < min_edges:
                continue
            ub, lu = np.unique(b[idx], return_inverse=True)
            us, lv = np.unique(s[idx], return_inverse=True)
            n = len(ub) + len(us)
            mask, dens = _peel(lu, lv + len(ub), w[idx], None, np.zeros(n, np.int64), 1, eps)
            members = np.flatnonzero(mask)
            buyers = ub[members[members < len(ub)]]
            sellers = us[members[members >= len(ub)] - len(ub)]
            out.append((float(k * window - offset), buyers.tolist(), sellers.tolist(), dens[0]))
    out.sort(key=lambda x: (-x[3], x[0]))
    return out


def _random_timed_market(seed: int):
    """Sparse organic orders over 60 days plus two rings in different 2-day campaigns."""
    rng = np.random.default_rng(seed)
    n = 3000
    b = rng.integers(0, 300, n)
    s = rng.integers(0, 60, n)
    t = rng.uniform(0, 60, n)
    r1b, r1s = np.meshgrid(np.arange(300, 308), np.arange(60, 64), indexing="ij")
    r2b, r2s = np.meshgrid(np.arange(308, 314), np.arange(64, 67), indexing="ij")
    b = np.concatenate([b, r1b.ravel(), r2b.ravel()])
    s = np.concatenate([s, r1s.ravel(), r2s.ravel()])
    t = np.concatenate([t, 10 + rng.uniform(0, 2, r1b.size), 40 + rng.uniform(0, 2, r2b.size)])
    key, first = np.unique(b * 1000 + s, return_index=True)
    return key // 1000, key % 1000, t[first]


@pytest.mark.parametrize(("seed", "min_edges"), [(0, 10), (1, 10), (2, 150)])
def test_windows_vectorised_equal_one_window_at_a_time(seed: int, min_edges: int) -> None:
    """All windows peeled at once give each window's block exactly as peeling it alone
    (min_edges=150 skips most windows, so the skipped-window path is compared too)."""
    b, s, t = _random_timed_market(seed)
    got = fraudar_peel_windows(b, s, t, n_buyers=314, n_sellers=67, window=3.0, min_edges=min_edges)
    ref = _windows_one_by_one(b, s, t, n_sellers=67, window=3.0, min_edges=min_edges)
    assert len(got) == len(ref) >= 10
    for (start, blk), (r_start, r_b, r_s, r_d) in zip(got, ref, strict=True):
        assert start == pytest.approx(r_start)
        assert blk.buyers.tolist() == r_b
        assert blk.sellers.tolist() == r_s
        assert blk.density == pytest.approx(r_d, rel=1e-9)
    # both rings come first, denser ring (8x4) first, each in its campaign window
    assert got[0][1].buyers.tolist() == list(range(300, 308))
    assert got[0][1].sellers.tolist() == [60, 61, 62, 63]
    assert 8.5 <= got[0][0] <= 10
    second = next(blk for _, blk in got if blk.buyers.min() >= 308)
    assert second.buyers.tolist() == list(range(308, 314))


def test_windows_top_keeps_the_densest_windows() -> None:
    b, s, t = _random_timed_market(0)
    every = fraudar_peel_windows(b, s, t, n_buyers=314, n_sellers=67, window=3.0)
    top = fraudar_peel_windows(b, s, t, n_buyers=314, n_sellers=67, window=3.0, top=3)
    assert len(top) == 3
    for (s1, b1), (s2, b2) in zip(top, every[:3], strict=True):
        assert s1 == s2
        assert b1.buyers.tolist() == b2.buyers.tolist()
        assert b1.density == b2.density
    with pytest.raises(ValueError, match="top"):
        fraudar_peel_windows(b, s, t, n_buyers=314, n_sellers=67, window=3.0, top=0)
    # reproducible, and min_edges drops every window when no window is that busy
    again = fraudar_peel_windows(b, s, t, n_buyers=314, n_sellers=67, window=3.0)
    assert [(x, y.buyers.tolist(), y.density) for x, y in again] == [
        (x, y.buyers.tolist(), y.density) for x, y in every
    ]
    assert (
        fraudar_peel_windows(b, s, t, n_buyers=314, n_sellers=67, window=3.0, min_edges=10**6) == []
    )


def _ring_behind_heavy_buyers(rng: np.random.Generator, *, ring: bool = True):
    """Sellers 0-19 are popular stores; buyers 0-39 are organic heavy buyers who each buy
    from all 20 (a 40x20 biclique, denser than the ring under FRAUDAR's weights); buyers
    40-2039 each buy from 2 popular stores. Ring: buyers 2040-2049 x new sellers 20-24,
    complete, each ring buyer also buying from 3 popular stores (popularity-biased
    camouflage). 300 sparse edges between light buyers and small sellers 25-99."""
    hb, hs = np.meshgrid(np.arange(40), np.arange(20), indexing="ij")
    lb = np.repeat(np.arange(40, 2040), 2)
    ls = rng.integers(0, 20, lb.size)
    parts_b = [hb.ravel(), lb, rng.integers(40, 2040, 300)]
    parts_s = [hs.ravel(), ls, rng.integers(25, 100, 300)]
    if ring:
        rb, rs = np.meshgrid(np.arange(2040, 2050), np.arange(20, 25), indexing="ij")
        parts_b += [rb.ravel(), np.repeat(np.arange(2040, 2050), 3)]
        parts_s += [rs.ravel(), rng.integers(0, 20, 30)]
    key = np.unique(np.concatenate(parts_b) * 1000 + np.concatenate(parts_s))
    return key // 1000, key % 1000


def test_pmi_finds_ring_first_under_biased_camouflage() -> None:
    b, s = _ring_behind_heavy_buyers(np.random.default_rng(5))
    plain = fraudar_peel(b, s, n_buyers=2050, n_sellers=100)[0]
    assert set(range(40)) <= set(plain.buyers.tolist())  # FRAUDAR: the organic core first
    assert not set(plain.buyers.tolist()) & set(range(2040, 2050))
    blk = fraudar_peel(b, s, n_buyers=2050, n_sellers=100, degree_correction="pmi")[0]
    assert blk.buyers.tolist() == list(range(2040, 2050))
    assert blk.sellers.tolist() == [20, 21, 22, 23, 24]
    assert blk.n_edges == 50


def test_pmi_does_not_flag_organic_heavy_buyers() -> None:
    """Near miss: without a ring, FRAUDAR's first block is exactly the 40 heavy buyers x 20
    popular stores (a tight group an investigator would review). With PMI weights their
    biclique is expected from their degrees: they never form a block of their own (the
    densest block is a diffuse blob where they are under 1/5 of the buyers) and it is
    far less dense than the ring is when present."""
    b, s = _ring_behind_heavy_buyers(np.random.default_rng(5), ring=False)
    plain = fraudar_peel(b, s, n_buyers=2050, n_sellers=100)[0]
    assert plain.buyers.tolist() == list(range(40))
    blocks = fraudar_peel(b, s, n_buyers=2050, n_sellers=100, degree_correction="pmi", n_blocks=3)
    for blk in blocks:
        heavy = len(set(blk.buyers.tolist()) & set(range(40)))
        assert heavy <= 0.2 * len(blk.buyers)
    b2, s2 = _ring_behind_heavy_buyers(np.random.default_rng(5))
    ring = fraudar_peel(b2, s2, n_buyers=2050, n_sellers=100, degree_correction="pmi")[0]
    assert blocks[0].density < 0.6 * ring.density


def test_pmi_weights() -> None:
    b, s = np.array([0, 0, 1, 2]), np.array([0, 1, 0, 0])
    w = fraudar_weights(s, n_sellers=2, buyer=b, degree_correction="pmi")
    d_s, d_b = np.array([3, 1, 3, 3]), np.array([2, 2, 1, 1])
    assert w.tolist() == pytest.approx((np.log1p(4 / (d_b * d_s)) / np.log(d_s + 5)).tolist())
    with pytest.raises(ValueError, match="buyer"):
        fraudar_weights(s, n_sellers=2, degree_correction="pmi")
    with pytest.raises(ValueError, match="degree_correction"):
        fraudar_weights(s, n_sellers=2, buyer=b, degree_correction="lift")  # type: ignore[arg-type]


def test_dense_blocks_pmi_on_market_graph() -> None:
    b, s = _ring_behind_heavy_buyers(np.random.default_rng(5))
    buyers = [f"b{i:04d}" for i in range(2050)]
    sellers = [f"s{i:03d}" for i in range(100)]
    v = pl.DataFrame(
        {"account_id": buyers + sellers, "kind": ["buyer"] * 2050 + ["seller"] * 100}
    ).with_row_index("vid")
    e = pl.DataFrame(
        {
            "buyer_vid": b,
            "seller_vid": s + 2050,
            "buyer_id": [buyers[i] for i in b],
            "seller_id": [sellers[i] for i in s],
            "n_orders": np.ones(len(b), dtype=np.int64),
        }
    )
    mg = market_graph_from_frames(v, e)
    first = dense_blocks(mg, n_blocks=1, degree_correction="pmi")
    assert first.filter(pl.col("role") == "buyer")["account_id"].to_list() == buyers[2040:]
    plain = dense_blocks(mg, n_blocks=1)
    assert set(buyers[:40]) <= set(plain["account_id"].to_list())


def test_windows_pmi_finds_ring_in_its_campaign() -> None:
    b, s = _ring_behind_heavy_buyers(np.random.default_rng(6))
    rng = np.random.default_rng(7)
    t = rng.uniform(0, 90, len(b))
    t[b >= 2040] = 30 + rng.uniform(0, 2, int((b >= 2040).sum()))
    found = fraudar_peel_windows(
        b, s, t, n_buyers=2050, n_sellers=100, window=3.0, degree_correction="pmi", top=2
    )
    assert found[0][1].buyers.tolist() == list(range(2040, 2050))
    assert set(found[0][1].sellers.tolist()) >= {20, 21, 22, 23, 24}


@pytest.mark.parametrize("seed", [0, 1])
def test_pmi_first_block_is_planted_on_simulated_market(seed: int) -> None:
    """Simulated marketplace, the ring-candidate subgraph detect_groups peels (suspicion x
    column weights from the whole graph): under PMI weights the first block is made of
    planted-scenario accounts only; under FRAUDAR's weights it is a large, mostly organic
    blob (the near miss PMI fixes)."""
    import dataclasses

    from graphkit.detect.rings import DetectParams, edge_suspicion, ring_candidate_edges
    from graphkit.graph.build import build_identity_graph, build_market_graph
    from graphkit.io import dataset_from_frames
    from graphkit.simulate import simulate

    sm = simulate(30_000, seed=seed)
    ds = dataset_from_frames(sm.tables)
    mg = build_market_graph(ds)
    p = DetectParams()
    strong = build_identity_graph(ds).links.filter(pl.col("weight") >= p.identity_min_weight)
    susp = edge_suspicion(mg, strong, params=p)
    mask = ring_candidate_edges(mg, susp, params=p)
    graph = dataclasses.replace(mg, edges=mg.edges.filter(pl.Series(mask)))
    planted = set(sm.labels.filter(pl.col("entity_kind") == "account")["entity_id"].to_list())
    bv, sv = mg.edges["buyer_vid"].to_numpy(), mg.edges["seller_vid"].to_numpy()
    firsts = {}
    for correction in ("none", "pmi"):
        col = fraudar_weights(
            sv, n_sellers=mg.vertices.height, buyer=bv, degree_correction=correction
        )
        out = dense_blocks(
            graph,
            n_blocks=1,
            edge_weight=(susp["suspicion"].to_numpy() * col)[mask],
            column_weighting="none",
            min_buyers=3,
        )
        firsts[correction] = set(out["account_id"].to_list())
    assert len(firsts["pmi"]) >= 5
    assert firsts["pmi"] <= planted
    assert len(firsts["none"] & planted) < 0.5 * len(firsts["none"])


def test_time_concentration_values() -> None:
    from graphkit.detect.dense import time_concentration

    b = np.array([7, 7, 7, 7, 7, 3, 3, 9])
    t = np.array([0.0, 0.2, 0.5, 0.9, 30.0, 5.0, 100.0, 50.0])
    got = time_concentration(b, t, window=3.0)
    assert got.tolist() == pytest.approx([0.75, 0.75, 0.75, 0.75, 0.0, 0.0, 0.0, 0.0])
    # an order 1.5 after another is inside the window (closed), 1.6 is not
    edge = time_concentration(np.array([1, 1, 2, 2]), np.array([0.0, 1.5, 0.0, 1.6]), window=3.0)
    assert edge.tolist() == [1.0, 1.0, 0.0, 0.0]
    assert time_concentration(np.array([], dtype=np.int64), np.array([]), window=1.0).size == 0


def test_time_concentration_weight_lifts_a_campaign_ring() -> None:
    """The sparse ring of the windows test loses to the organic core on structure alone;
    weighting every edge by 1 + 3 x time concentration (its buyers ordered within 2 days)
    makes it the first block of the whole-graph peel. Near miss: the same ring with its
    orders spread over the year stays behind the core."""
    from graphkit.detect.dense import time_concentration

    rng = np.random.default_rng(4)
    core_b, core_s = np.meshgrid(np.arange(30), np.arange(8), indexing="ij")
    ring_b = np.repeat(np.arange(30, 42), 3)
    ring_s = 8 + np.concatenate([rng.choice(6, 3, replace=False) for _ in range(12)])
    b = np.concatenate([core_b.ravel(), ring_b])
    s = np.concatenate([core_s.ravel(), ring_s])
    t = np.concatenate([rng.uniform(0, 365, core_b.size), 200 + rng.uniform(0, 2, len(ring_b))])
    sizes = {"n_buyers": 42, "n_sellers": 14}
    assert fraudar_peel(b, s, **sizes)[0].buyers.max() < 30
    w = 1.0 + 3.0 * time_concentration(b, t, window=3.0)
    lifted = fraudar_peel(b, s, edge_weight=w, **sizes)[0]
    assert lifted.buyers.tolist() == list(range(30, 42))
    t_spread = t.copy()
    t_spread[core_b.size :] = rng.uniform(0, 365, len(ring_b))
    w_spread = 1.0 + 3.0 * time_concentration(b, t_spread, window=3.0)
    assert fraudar_peel(b, s, edge_weight=w_spread, **sizes)[0].buyers.max() < 30


def _full_pass_peel(u, v, w, prior, n, eps):
    """Reference batch peel: every round passes over all live edges (the original loop)."""
    deg = np.bincount(u, w, n) + np.bincount(v, w, n) + prior
    has_edge = (np.bincount(u, minlength=n) + np.bincount(v, minlength=n)) > 0
    nodes = np.flatnonzero(has_edge)
    remap = np.full(n, -1, dtype=np.int64)
    remap[nodes] = np.arange(len(nodes))
    lu, lv, lw = remap[u], remap[v], w
    ld, lp = deg[nodes], prior[nodes]
    f = float(lw.sum() + lp.sum())
    size = len(nodes)
    best, best_round = (f / size if size else 0.0), 0
    removed_round = np.zeros(n, dtype=np.int64)
    r = 0
    while size:
        r += 1
        thr = max(float(ld.min()) * (1.0 + eps), f / size)
        rem = ld <= thr + 1e-12
        hit = rem[lu] | rem[lv]
        hw = lw[hit]
        f -= float(hw.sum() + lp[rem].sum())
        ld = ld - np.bincount(lu[hit], hw, size) - np.bincount(lv[hit], hw, size)
        removed_round[nodes[rem]] = r
        keep = ~rem
        size = int(keep.sum())
        if size and f / size > best:
            best, best_round = f / size, r
        new = np.cumsum(keep) - 1
        live = ~hit
        lu, lv, lw = new[lu[live]], new[lv[live]], lw[live]
        nodes, ld, lp = nodes[keep], ld[keep], lp[keep]
    return has_edge & (removed_round > best_round), best


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("eps", [0.0, 0.05, 0.25])
def test_incidence_peel_equals_full_pass_peel(seed: int, eps: float) -> None:
    """The peel that touches only the removed vertices' edges gives the full-pass peel's
    mask and bit-identical density (random weights, priors, repeated pairs, isolated
    vertices, a planted block)."""
    from graphkit.detect.dense import _peel_once

    rng = np.random.default_rng(seed)
    n = 400
    u = np.concatenate([rng.integers(0, 150, 2000), np.repeat(np.arange(10), 8)])
    v = np.concatenate([rng.integers(200, 380, 2000), 200 + np.tile(np.arange(8), 10)])
    w = rng.random(len(u)) * np.where(np.arange(len(u)) >= 2000, 3.0, 1.0)
    prior = np.where(rng.random(n) < 0.1, rng.random(n), 0.0)
    mask, best = _peel_once(u, v, w, prior, n, eps)
    ref_mask, ref_best = _full_pass_peel(u, v, w, prior, n, eps)
    assert np.array_equal(mask, ref_mask)
    assert best == ref_best
    assert mask[:10].all()
    assert not mask[380:].any()


def test_blocks_equal_repeated_full_pass_peels() -> None:
    """fraudar_peel's blocks (one incidence index filtered for every peel) equal blocks
    peeled in turn by the full-pass reference, edges of each block removed."""
    rng = np.random.default_rng(7)
    b = np.concatenate([rng.integers(0, 300, 3000), np.repeat(np.arange(12), 6)])
    s = np.concatenate([rng.integers(0, 200, 3000), np.tile(np.arange(6), 12)])
    ew = rng.random(len(b)) + 0.5
    blocks = fraudar_peel(
        b, s, n_buyers=300, n_sellers=200, edge_weight=ew, column_weighting="none", n_blocks=4
    )
    u, v, prior, alive = b, s + 300, np.zeros(500), np.ones(len(b), dtype=bool)
    for blk in blocks:
        mask, dens = _full_pass_peel(u[alive], v[alive], ew[alive], prior, 500, 0.05)
        members = np.flatnonzero(mask)
        assert blk.buyers.tolist() == members[members < 300].tolist()
        assert blk.sellers.tolist() == (members[members >= 300] - 300).tolist()
        assert blk.density == dens
        alive &= ~(mask[u] & mask[v])
        prior = prior.copy()
        prior[members] = 0.0
    assert len(blocks) == 4
    assert all(len(blk.buyers) > 0 for blk in blocks)
