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


def _three_bicliques() -> MarketGraph:
    blocks = [
        [(f"{p}{i}", f"{q}{j}") for i in range(5) for j in range(2)]
        for p, q in (("a", "s"), ("b", "t"), ("c", "u"))
    ]
    return _graph([*blocks[0], *blocks[1], *blocks[2], ("a0", "t0"), ("b0", "u0")])


def test_edge_mask_runs_on_the_subgraph_and_leaves_the_rest_alone() -> None:
    """Leiden on the subgraph induced by two of three bicliques: the same two communities
    as on the whole graph; the accounts outside are communities of their own."""
    mg = _three_bicliques()
    ids = mg.vertices["account_id"]
    inside = ids.str.contains("^[abst]").to_numpy()
    vid_in = dict(zip(mg.vertices["vid"], inside, strict=True))
    mask = np.array(
        [vid_in[b] and vid_in[s] for b, s in mg.edges.select("buyer_vid", "seller_vid").rows()]
    )
    assert 0 < mask.sum() < mg.edges.height
    full = leiden_membership(mg, resolution=1.0, seed=0)
    sub = leiden_membership(mg, resolution=1.0, seed=0, edge_mask=mask)
    assert len(set(sub[inside])) == 2
    # the same split of the two bicliques as on the whole graph
    pairs = [(i, j) for i in np.flatnonzero(inside) for j in np.flatnonzero(inside)]
    assert all((full[i] == full[j]) == (sub[i] == sub[j]) for i, j in pairs)
    # outside: every account alone, numbered stably after the subgraph's communities
    out = sub[~inside]
    assert len(set(out)) == len(out)
    assert not set(out) & set(sub[inside])
    assert np.array_equal(sub, leiden_membership(mg, resolution=1.0, seed=0, edge_mask=mask))


def test_edge_mask_judges_merges_against_the_whole_graph() -> None:
    """Two 5x2 bicliques joined by 3 bridge edges, next to a large separate 20x10 biclique.
    On the whole graph the bridge outweighs the null-model penalty, so the two merge; on
    the two-biclique subgraph *taken alone* (its own small total weight) the penalty is 6x
    larger and they would stay apart. The masked run must give the whole-graph answer."""
    small = [
        (f"{p}{i}", f"{q}{j}")
        for p, q in (("a", "s"), ("b", "t"))
        for i in range(5)
        for j in range(2)
    ]
    big = [(f"c{i:02d}", f"u{j}") for i in range(20) for j in range(10)]
    mg = _graph([*small, ("a0", "t0"), ("a1", "t1"), ("a2", "t0"), *big])
    ids = mg.vertices["account_id"].to_list()
    inside = np.array([not (x.startswith("c") or x.startswith("u")) for x in ids])
    vid_in = dict(zip(mg.vertices["vid"], inside, strict=True))
    mask = np.array(
        [vid_in[b] and vid_in[s] for b, s in mg.edges.select("buyer_vid", "seller_vid").rows()]
    )
    full = leiden_membership(mg, seed=0, n_iterations=-1)
    assert len(set(full[inside])) == 1  # merged on the whole graph
    alone = leiden_membership(
        _graph(mg.edges.filter(pl.Series(mask)).select("buyer_id", "seller_id").rows()),
        seed=0,
        n_iterations=-1,
    )
    assert len(set(alone)) == 2  # apart when the subgraph is judged on its own
    sub = leiden_membership(mg, seed=0, n_iterations=-1, edge_mask=mask)
    assert len(set(sub[inside])) == 1
    every = np.ones(mg.edges.height, dtype=bool)
    assert np.array_equal(full, leiden_membership(mg, seed=0, n_iterations=-1, edge_mask=every))


def test_membership_equals_igraphs_community_leiden() -> None:
    """leiden_membership calls igraph's C entry point directly: the partition is the one
    ``Graph.community_leiden(objective_function="modularity")`` finds with the same seed."""
    import random

    import igraph

    rng = np.random.default_rng(3)
    edges = sorted({(f"b{x}", f"s{y}") for x, y in rng.integers(0, 80, (500, 2))})
    mg = _graph(edges)
    ours = leiden_membership(mg, resolution=1.5, seed=11)
    g = mg.graph.as_undirected(mode="each")
    igraph.set_random_number_generator(random.Random(11))
    try:
        part = g.community_leiden(
            objective_function="modularity",
            weights=[1.0] * g.ecount(),
            resolution=1.5,
            n_iterations=2,
        )
    finally:
        igraph.set_random_number_generator(random)
    raw = np.asarray(part.membership)
    # same partition: equal labels in one iff equal labels in the other
    assert np.array_equal(ours[:, None] == ours[None, :], raw[:, None] == raw[None, :])


def test_relabel_by_first_vertex_matches_the_sorting_definition() -> None:
    """The O(n) renumbering equals the np.unique one: communities 0..k-1 in order of
    their smallest vid, on scrambled sparse labels and on edge cases."""
    from graphkit.detect.communities import _relabel_by_first_vertex

    def by_sorting(raw: np.ndarray) -> np.ndarray:
        _, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
        relabel = np.empty(len(first), dtype=np.int64)
        relabel[np.argsort(first, kind="stable")] = np.arange(len(first))
        return relabel[inverse.reshape(-1)]

    rng = np.random.default_rng(4)
    for n, k in ((1000, 30), (500, 5000), (1, 1)):
        raw = rng.integers(0, k, n) * 7 + 3  # sparse, not in first-vertex order
        got = _relabel_by_first_vertex(raw)
        assert got.dtype == np.int64
        assert np.array_equal(got, by_sorting(raw))
    assert _relabel_by_first_vertex(np.array([5, 5, 2, 9, 2])).tolist() == [0, 0, 1, 2, 1]
    assert _relabel_by_first_vertex(np.zeros(0, dtype=np.int64)).tolist() == []
