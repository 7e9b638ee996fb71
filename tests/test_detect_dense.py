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
