"""Linked-account clusters: connected groups of the identity graph.

Accounts are clustered when identity links of weight at least ``min_weight``
join them (see :func:`graphkit.graph.build_identity_graph` for the weights:
hubs such as NAT addresses are already excluded there, and values shared by
many accounts weigh little). Clusters are the connected components of the
strong links, computed by igraph on integer arrays.

Examples
--------
>>> from graphkit.graph import build_identity_graph
>>> from graphkit.detect.identity import linked_account_clusters
>>> clusters = linked_account_clusters(build_identity_graph(ds))  # doctest: +SKIP
>>> clusters.columns  # doctest: +SKIP
['account_id', 'cluster_id', 'cluster_size', 'n_links', 'max_weight', 'kinds']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from graphkit.findings import group_ids

if TYPE_CHECKING:
    from graphkit.graph.build import IdentityGraph

__all__ = ["CLUSTERS_SCHEMA", "linked_account_clusters"]

#: Output of :func:`linked_account_clusters`: one row per clustered account.
CLUSTERS_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "cluster_id": pl.String(),
    "cluster_size": pl.Int64(),
    "n_links": pl.Int64(),
    "max_weight": pl.Float64(),
    "kinds": pl.List(pl.String),
}


def linked_account_clusters(
    identity_graph: IdentityGraph,
    *,
    min_weight: float = 0.5,
    min_size: int = 2,
    max_size: int | None = None,
) -> pl.DataFrame:
    """Cluster accounts joined by strong identity links.

    Parameters
    ----------
    identity_graph
        The identity graph (links with weights, hubs removed).
    min_weight
        Links below this weight are ignored (default 0.5: one shared payment
        card, email, phone or device between up to 2-3 accounts, or an address
        shared by 2, links; a lone shared IP never does).
    min_size
        Smallest cluster reported (default 2).
    max_size
        Clusters larger than this are dropped (default ``None``: keep all; a
        very large cluster usually means a hub that slipped under the cap).

    Returns
    -------
    pl.DataFrame
        :data:`CLUSTERS_SCHEMA`: ``cluster_id`` is deterministic
        (:func:`graphkit.findings.group_ids` of kind ``linked_accounts`` over the
        members); ``n_links`` and ``max_weight`` describe the account's strong
        links, ``kinds`` the identifier kinds they share. Sorted by cluster,
        account.

    Examples
    --------
    >>> linked_account_clusters(idg, min_weight=0.8)  # doctest: +SKIP
    """
    from graphkit.graph.build import igraph_from_arrays

    links = identity_graph.links.filter(pl.col("weight") >= min_weight)
    if links.is_empty():
        return pl.DataFrame(schema=CLUSTERS_SCHEMA)
    names = pl.concat([links["account_a"], links["account_b"]]).unique().sort()
    index = pl.DataFrame({"account_id": names, "i": np.arange(len(names), dtype=np.int64)})
    src = links.join(index, left_on="account_a", right_on="account_id", how="left")["i"]
    dst = links.join(index, left_on="account_b", right_on="account_id", how="left")["i"]
    g = igraph_from_arrays(len(names), src.to_numpy(), dst.to_numpy(), directed=False)
    comp = pl.DataFrame(
        {"account_id": names, "comp": np.asarray(g.connected_components().membership)}
    )
    groups = comp.group_by("comp").agg(pl.col("account_id").sort().alias("members"))
    groups = groups.with_columns(pl.col("members").list.len().cast(pl.Int64).alias("cluster_size"))
    groups = groups.filter(pl.col("cluster_size") >= min_size)
    if max_size is not None:
        groups = groups.filter(pl.col("cluster_size") <= max_size)
    if groups.is_empty():
        return pl.DataFrame(schema=CLUSTERS_SCHEMA)
    groups = groups.with_columns(
        pl.Series("cluster_id", group_ids("linked_accounts", groups["members"].to_list()))
    )
    ends = pl.concat(
        [
            links.select(pl.col("account_a").alias("account_id"), "weight", "kinds"),
            links.select(pl.col("account_b").alias("account_id"), "weight", "kinds"),
        ]
    )
    per_account = ends.group_by("account_id").agg(
        pl.len().cast(pl.Int64).alias("n_links"),
        pl.col("weight").max().alias("max_weight"),
        pl.col("kinds")
        .list.explode(keep_nulls=False, empty_as_null=False)
        .unique()
        .sort()
        .alias("kinds"),
    )
    out = (
        comp.join(groups.select("comp", "cluster_id", "cluster_size"), on="comp", how="inner")
        .join(per_account, on="account_id", how="left")
        .select(list(CLUSTERS_SCHEMA))
        .sort("cluster_id", "account_id")
    )
    return out.cast(CLUSTERS_SCHEMA)  # type: ignore[arg-type]
