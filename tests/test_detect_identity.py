"""Linked-account clusters: households, shared cards, NAT hubs."""

from __future__ import annotations

import polars as pl

from graphkit.detect.identity import linked_account_clusters
from graphkit.findings import group_ids
from graphkit.graph.build import IdentityGraph


def _links(rows: list[tuple[str, str, list[str], float]]) -> IdentityGraph:
    links = pl.DataFrame(
        {
            "account_a": [r[0] for r in rows],
            "account_b": [r[1] for r in rows],
            "kinds": [r[2] for r in rows],
            "n_shared": [len(r[2]) for r in rows],
            "weight": [r[3] for r in rows],
        },
        schema_overrides={"n_shared": pl.Int64},
    )
    return IdentityGraph(links=links, hubs=pl.DataFrame())


def test_clusters_from_strong_links_only() -> None:
    idg = _links(
        [
            ("c1", "c2", ["payment"], 0.63),
            ("c2", "c3", ["payment"], 0.63),
            ("h1", "h2", ["address"], 0.5),
            ("i1", "i2", ["ip"], 0.3),  # a lone shared ip: too weak
        ]
    )
    out = linked_account_clusters(idg, min_weight=0.5)
    got = out.group_by("cluster_id").agg(pl.col("account_id").sort()).sort("cluster_id")
    members = sorted(got["account_id"].to_list())
    assert members == [["c1", "c2", "c3"], ["h1", "h2"]]
    c = out.filter(pl.col("account_id") == "c2").row(0, named=True)
    assert c["cluster_id"] == group_ids("linked_accounts", [["c1", "c2", "c3"]])[0]
    assert (c["cluster_size"], c["n_links"], c["kinds"]) == (3, 2, ["payment"])
    assert "i1" not in out["account_id"].to_list()
    stricter = linked_account_clusters(idg, min_weight=0.6)
    assert sorted(stricter["account_id"].to_list()) == ["c1", "c2", "c3"]


def test_size_limits_and_empty() -> None:
    idg = _links(
        [("a", "b", ["device"], 0.8), ("b", "c", ["device"], 0.8), ("x", "y", ["email"], 1.0)]
    )
    assert set(linked_account_clusters(idg, max_size=2)["account_id"]) == {"x", "y"}
    assert set(linked_account_clusters(idg, min_size=3)["account_id"]) == {"a", "b", "c"}
    assert linked_account_clusters(idg, min_weight=2.0).is_empty()
