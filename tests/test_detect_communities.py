"""Leiden communities: known partitions, seeds, stable numbering."""

from __future__ import annotations

import numpy as np
import polars as pl

from graphkit.detect.communities import leiden_communities, leiden_membership
from graphkit.graph.build import MarketGraph, market_graph_from_frames


def _graph(edges: list[tuple[str, str]]) -> MarketGraph:
    buyers = sorted({b for b, _ in edges})
    sellers = sorted({s for _, s in edges})
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
    vid = dict(zip(v["account_id"], v["vid"], strict=True))
    e = pl.DataFrame(
        {
            "buyer_vid": [vid[b] for b, _ in edges],
            "seller_vid": [vid[s] for _, s in edges],
            "buyer_id": [b for b, _ in edges],
            "seller_id": [s for _, s in edges],
            "n_orders": [1] * len(edges),
        }
    )
    return market_graph_from_frames(v, e)


def _two_bicliques_and_bridge() -> MarketGraph:
    left = [(f"a{i}", f"s{j}") for i in range(5) for j in range(2)]
    right = [(f"b{i}", f"t{j}") for i in range(5) for j in range(2)]
    return _graph([*left, *right, ("a0", "t0")])


def test_two_bicliques_are_two_communities() -> None:
    out = leiden_communities(_two_bicliques_and_bridge(), seed=0)
    comm = dict(zip(out["account_id"], out["community"], strict=True))
    assert len(set(comm.values())) == 2
    assert len({comm[f"a{i}"] for i in range(5)} | {comm["s0"], comm["s1"]}) == 1
    assert len({comm[f"b{i}"] for i in range(5)} | {comm["t0"], comm["t1"]}) == 1
    assert comm["a0"] != comm["b0"]
    assert out["community_size"].to_list() == [7] * 14


def test_same_seed_same_partition_and_stable_labels() -> None:
    rng = np.random.default_rng(0)
    edges = sorted({(f"b{x}", f"s{y}") for x, y in rng.integers(0, 60, (300, 2))})
    mg = _graph(edges)
    a = leiden_membership(mg, seed=7)
    assert np.array_equal(a, leiden_membership(mg, seed=7))
    # labels are numbered by first vertex: the first vertex is in community 0
    assert a[0] == 0
    assert np.all(np.diff(np.unique(a, return_index=True)[1]) > 0)


def test_weights_change_the_partition() -> None:
    """A buyer split between two stores joins the one its heavy weight points to."""
    mg = _two_bicliques_and_bridge()
    w = np.ones(mg.edges.height)
    bridge = (mg.edges["buyer_id"] == "a0") & (mg.edges["seller_id"] == "t0")
    w[bridge.to_numpy()] = 50.0
    w[((mg.edges["buyer_id"] == "a0") & (mg.edges["seller_id"] != "t0")).to_numpy()] = 0.01
    out = leiden_communities(mg, weights=w, seed=0)
    comm = dict(zip(out["account_id"], out["community"], strict=True))
    assert comm["a0"] == comm["t0"]
    assert comm["a0"] != comm["a1"]
