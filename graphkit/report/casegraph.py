"""The buyer -> seller graph of a case, and its GraphML / GEXF files.

Built in polars from the case's order rows (one edge per buyer-seller pair,
orders aggregated) and handed to networkx only at this small size.

Examples
--------
>>> import polars as pl
>>> o = pl.DataFrame({"order_id": ["o1"], "buyer_id": ["b"], "seller_id": ["s"]})
>>> sorted(case_graph(o, account_ids=["b", "s"]).edges)
[('b', 's')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from graphkit.report.cases import is_in

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["case_graph", "write_gexf", "write_graphml"]


def case_graph(
    orders: pl.DataFrame,
    *,
    account_ids: Iterable[str],
    seller_ids: Iterable[str] = (),
    evidence_ids: Iterable[str] = (),
) -> nx.DiGraph:
    """Build the case's buyer -> seller graph (one edge per pair, orders aggregated).

    Nodes carry ``kind`` (buyer/seller) and ``member`` (in the case); edges
    ``n_orders``, ``amount``, ``evidence`` (any evidence order) and
    ``order_ids`` (space separated). Nodes and edges are added in sorted
    order, so the same rows write the same files.

    Examples
    --------
    >>> o = pl.DataFrame({"order_id": ["o1"], "buyer_id": ["b"], "seller_id": ["s"],
    ...                   "amount": [3.0]})
    >>> g = case_graph(o, account_ids=["b", "s"])
    >>> sorted(g.nodes(data="kind"))
    [('b', 'buyer'), ('s', 'seller')]
    """
    import networkx as nx

    accts = pl.Series(sorted(set(account_ids)), dtype=pl.String)
    ev = pl.Series(sorted(set(evidence_ids)), dtype=pl.String)
    amount = pl.col("amount") if "amount" in orders.columns else pl.lit(0.0)
    edges = (
        orders.with_columns(is_ev=is_in("order_id", ev), amt=amount.cast(pl.Float64))
        .filter((is_in("buyer_id", accts) & is_in("seller_id", accts)) | pl.col("is_ev"))
        .group_by("buyer_id", "seller_id")
        .agg(
            n_orders=pl.len().cast(pl.Int64),
            amount=pl.col("amt").sum().round(2),
            evidence=pl.col("is_ev").any(),
            order_ids=pl.col("order_id").sort().str.join(" "),
        )
        .sort("buyer_id", "seller_id")
    )
    sellers = set(seller_ids) | set(edges["seller_id"].to_list())
    members = set(accts.to_list())
    nodes = sorted(
        members | set(edges["buyer_id"].to_list()) | sellers & set(edges["seller_id"].to_list())
    )
    g = nx.DiGraph()
    for n in nodes:
        g.add_node(n, kind="seller" if n in sellers else "buyer", member=n in members)
    for b, s, n, amt, is_ev, oids in edges.iter_rows():
        g.add_edge(b, s, n_orders=int(n), amount=float(amt), evidence=bool(is_ev), order_ids=oids)
    return g


def write_graphml(g: nx.DiGraph, path: Path) -> None:
    """Write ``g`` as GraphML (UTF-8, nodes and edges in the graph's order)."""
    import networkx as nx

    nx.write_graphml(g, path, encoding="utf-8", prettyprint=True)


def write_gexf(g: nx.DiGraph, path: Path, *, day: str) -> None:
    """Write ``g`` as GEXF, stamped with ``day`` (not today) so the bytes are reproducible."""
    import networkx as nx

    text = "\n".join(nx.generate_gexf(g, encoding="utf-8", prettyprint=True))
    # networkx stamps today's date; use the run's date so the same case gives the same bytes
    text = re.sub(r'lastmodifieddate="[0-9-]+"', f'lastmodifieddate="{day}"', text, count=1)
    path.write_text(text + "\n", encoding="utf-8")
