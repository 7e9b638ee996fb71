"""Conversions: igraph / MarketGraph <-> networkx, GraphML and GEXF export.

networkx is for small subgraphs (an investigator's case, a plot, Gephi): the
converters refuse graphs above ``max_edges`` rather than silently building a
10M-edge Python object. Node ids are account ids; attributes are converted to
types GraphML and GEXF store and networkx reads back (str, int, float, bool;
times as ISO 8601 strings). Files are written atomically.

Examples
--------
>>> from graphkit.graph.convert import subgraph, to_networkx, write_graphml
>>> small = subgraph(mg, ["b1", "s1"])  # doctest: +SKIP
>>> G = to_networkx(small)  # doctest: +SKIP
>>> write_graphml(G, "case.graphml")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from graphkit.graph.build import MarketGraph, market_graph_from_frames

if TYPE_CHECKING:
    import igraph
    import networkx as nx

__all__ = [
    "GEXF_FALLBACK_DATE",
    "from_networkx",
    "subgraph",
    "to_networkx",
    "write_gexf",
    "write_graphml",
]

_DEFAULT_MAX_EDGES = 2_000_000


def _plain(value: Any) -> Any:
    """Return a value GraphML/GEXF can store, or None to drop it."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def subgraph(mg: MarketGraph, account_ids: list[str] | pl.Series) -> MarketGraph:
    """Return the induced subgraph on ``account_ids`` (unknown ids ignored), with new vids.

    Examples
    --------
    >>> sub = subgraph(mg, ["b1", "b2", "s1"])  # doctest: +SKIP
    >>> sub.vertices["account_id"].to_list()  # doctest: +SKIP
    ['b1', 'b2', 's1']
    """
    keep = pl.DataFrame({"account_id": pl.Series(list(account_ids), dtype=pl.String)}).unique()
    v = mg.vertices.join(keep, on="account_id", how="semi").sort("account_id")
    v = v.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("vid"))
    ids = v.select("account_id", "vid")
    e = (
        mg.edges.drop("buyer_vid", "seller_vid")
        .join(ids.rename({"account_id": "buyer_id", "vid": "buyer_vid"}), on="buyer_id")
        .join(ids.rename({"account_id": "seller_id", "vid": "seller_vid"}), on="seller_id")
    )
    return market_graph_from_frames(v, e)


def to_networkx(
    graph: MarketGraph | igraph.Graph,
    *,
    vertices: list[str] | None = None,
    max_edges: int = _DEFAULT_MAX_EDGES,
) -> nx.DiGraph | nx.Graph:
    """Convert a market graph (or any igraph graph) to networkx.

    Parameters
    ----------
    graph
        A :class:`MarketGraph` (gives a ``DiGraph`` buyer -> seller with every
        vertex and edge column as attributes) or an ``igraph.Graph`` (nodes named
        by its ``name`` attribute when present).
    vertices
        Optional account ids: convert only the induced subgraph on them.
    max_edges
        Refuse larger graphs (default 2M): take a :func:`subgraph` first.

    Returns
    -------
    networkx.DiGraph or networkx.Graph

    Examples
    --------
    >>> G = to_networkx(mg, vertices=["b1", "s1"])  # doctest: +SKIP
    >>> G.nodes["s1"]["kind"]  # doctest: +SKIP
    'seller'
    """
    import networkx as nx

    if isinstance(graph, MarketGraph):
        mg = subgraph(graph, vertices) if vertices is not None else graph
        if mg.edges.height > max_edges:
            raise ValueError(
                f"graph has {mg.edges.height} edges, more than max_edges={max_edges}; "
                "convert a subgraph (graphkit.graph.convert.subgraph) or raise max_edges"
            )
        G = nx.DiGraph()
        for row in mg.vertices.iter_rows(named=True):  # bounded by max_edges' graphs
            G.add_node(row["account_id"], **{k: v for k, v in row.items() if k != "account_id"})
        for row in mg.edges.iter_rows(named=True):
            G.add_edge(
                row["buyer_id"],
                row["seller_id"],
                **{k: v for k, v in row.items() if k not in ("buyer_id", "seller_id")},
            )
        return G
    g = graph
    if vertices is not None:
        names = set(vertices)
        g = g.induced_subgraph([v.index for v in g.vs if v["name"] in names])
    if g.ecount() > max_edges:
        raise ValueError(f"graph has {g.ecount()} edges, more than max_edges={max_edges}")
    G = nx.DiGraph() if g.is_directed() else nx.Graph()
    named = "name" in g.vs.attributes()
    key = (lambda i: g.vs[i]["name"]) if named else (lambda i: i)
    for v in g.vs:
        G.add_node(key(v.index), **{k: v[k] for k in v.attributes() if k != "name"})
    for e in g.es:
        G.add_edge(key(e.source), key(e.target), **e.attributes())
    return G


def from_networkx(G: nx.DiGraph | nx.Graph) -> MarketGraph:
    """Build a :class:`MarketGraph` from a networkx graph of accounts.

    Nodes are account ids with a ``kind`` attribute (``buyer``/``seller``;
    inferred from edge direction when absent); edges go buyer -> seller and may
    carry any :data:`~graphkit.graph.build.EDGE_SCHEMA` column (missing counts
    are 0). The inverse of :func:`to_networkx` on a market graph.

    Examples
    --------
    >>> mg2 = from_networkx(to_networkx(mg))  # doctest: +SKIP
    >>> mg2.edges.equals(mg.edges)  # doctest: +SKIP
    True
    """
    from graphkit.graph.build import EDGE_SCHEMA

    sellers = {v for _, v in G.edges()}
    nodes = sorted(G.nodes(), key=str)
    v = (
        pl.DataFrame(
            {
                "account_id": [str(n) for n in nodes],
                "kind": [
                    G.nodes[n].get("kind", "seller" if n in sellers else "buyer") for n in nodes
                ],
                "created_at": [G.nodes[n].get("created_at") for n in nodes],
            },
            schema_overrides={"created_at": pl.Object},
        )
        .with_columns(
            pl.col("created_at")
            .map_elements(
                lambda x: x.isoformat() if isinstance(x, datetime) else x, return_dtype=pl.String
            )
            .str.to_datetime(time_zone="UTC", time_unit="us")
        )
        .with_row_index("vid")
    )
    cols = [c for c in EDGE_SCHEMA if c not in ("buyer_vid", "seller_vid", "buyer_id", "seller_id")]
    rows = []
    for a, b, data in G.edges(data=True):
        rows.append(
            {"buyer_id": str(a), "seller_id": str(b), **{c: _plain(data.get(c)) for c in cols}}
        )
    e = pl.DataFrame(
        rows,
        schema={
            "buyer_id": pl.String,
            "seller_id": pl.String,
            **{c: pl.String if EDGE_SCHEMA[c].is_temporal() else EDGE_SCHEMA[c] for c in cols},
        },
        orient="row",
    )
    e = e.with_columns(
        pl.col(c).str.to_datetime(time_zone="UTC", time_unit="us")
        for c in cols
        if EDGE_SCHEMA[c].is_temporal()
    )
    ids = v.select("account_id", pl.col("vid").cast(pl.Int64))
    e = e.join(ids.rename({"account_id": "buyer_id", "vid": "buyer_vid"}), on="buyer_id").join(
        ids.rename({"account_id": "seller_id", "vid": "seller_vid"}), on="seller_id"
    )
    return market_graph_from_frames(v, e)


def _sanitised(G: nx.Graph) -> nx.Graph:
    H = G.__class__()
    for n, data in G.nodes(data=True):
        H.add_node(str(n), **{k: p for k, v in data.items() if (p := _plain(v)) is not None})
    for a, b, data in G.edges(data=True):
        H.add_edge(
            str(a), str(b), **{k: p for k, v in data.items() if (p := _plain(v)) is not None}
        )
    return H


def _as_nx(g: Any) -> nx.Graph:
    import networkx as nx

    return g if isinstance(g, nx.Graph) else to_networkx(g)


def write_graphml(g: nx.Graph | MarketGraph | igraph.Graph, path: str | os.PathLike[str]) -> None:
    """Write a graph as GraphML (atomically), readable by Gephi and ``networkx.read_graphml``.

    Examples
    --------
    >>> write_graphml(subgraph(mg, ["b1", "s1"]), "case.graphml")  # doctest: +SKIP
    """
    import networkx as nx

    from graphkit.io import atomic_write

    with atomic_write(path) as tmp:
        nx.write_graphml(_sanitised(_as_nx(g)), tmp)


#: ``lastmodifieddate`` of a GEXF file whose graph carries no time (see :func:`write_gexf`).
GEXF_FALLBACK_DATE = "1970-01-01"


def _latest_date(G: nx.Graph) -> str:
    """Latest calendar date among the graph's datetime attributes, or the fallback."""
    latest = None
    for items in (G.nodes(data=True), G.edges(data=True)):
        for *_, data in items:  # small graphs only (the converters cap the size)
            for v in data.values():
                if isinstance(v, datetime) and (latest is None or v > latest):
                    latest = v
    return GEXF_FALLBACK_DATE if latest is None else latest.date().isoformat()


def write_gexf(
    g: nx.Graph | MarketGraph | igraph.Graph,
    path: str | os.PathLike[str],
    *,
    date: str | None = None,
) -> None:
    """Write a graph as GEXF (atomically), readable by Gephi and ``networkx.read_gexf``.

    The file is a function of the graph and ``date`` only: networkx stamps
    today's date into ``<meta lastmodifieddate>``, which made two exports of the
    same graph differ; here the stamp is ``date``.

    Parameters
    ----------
    g
        A networkx graph, a :class:`MarketGraph` or an igraph graph.
    path
        Output file (written atomically).
    date
        ``lastmodifieddate`` as ``YYYY-MM-DD``. Default: the latest date found in
        the graph's datetime attributes (e.g. an edge's ``last_at``), or
        :data:`GEXF_FALLBACK_DATE` when it has none; never today's date.

    Examples
    --------
    >>> write_gexf(subgraph(mg, ["b1", "s1"]), "case.gexf")  # doctest: +SKIP
    >>> write_gexf(G, "case.gexf", date="2026-03-31")  # doctest: +SKIP
    """
    from networkx.readwrite.gexf import GEXFWriter

    from graphkit.io import atomic_write

    G = _as_nx(g)
    if date is None:
        stamp = _latest_date(G)
    else:
        try:
            stamp = datetime.strptime(date, "%Y-%m-%d").date().isoformat()
        except (TypeError, ValueError):
            raise ValueError(f"date must be 'YYYY-MM-DD', got {date!r}") from None
    writer = GEXFWriter(encoding="utf-8", prettyprint=True, version="1.2draft")
    writer.add_graph(_sanitised(G))
    meta = writer.xml.find("meta")
    if meta is not None:
        meta.set("lastmodifieddate", stamp)
    with atomic_write(path) as tmp:
        writer.write(tmp)
