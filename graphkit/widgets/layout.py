"""The data an interactive graph view draws: nodes with positions, edges by index.

:func:`graph_payload` turns a :class:`graphkit.report.plots.SubgraphPlot`
(the report's subgraph: same selection, same evidence marks) into two plain
lists the widget's JavaScript draws. Positions are computed here, in Python,
by igraph's Kamada–Kawai layout (seeded with the static picture's positions,
so the same case gives the same picture, and both views look alike), then
scaled into the unit square and rounded, so the payload is byte-stable.

No anywidget import here: the payload can be computed and tested without a
notebook.

Examples
--------
>>> import polars as pl
>>> from graphkit.report.plots import subgraph_plot
>>> orders = pl.DataFrame({"order_id": ["o1", "o2"], "buyer_id": ["b1", "b2"],
...                        "seller_id": ["s1", "s1"], "amount": [5.0, 7.0]})
>>> p = subgraph_plot(orders, account_ids=["b1", "b2", "s1"], evidence_ids=["o1"])
>>> nodes, edges = graph_payload(p)
>>> [n["id"] for n in nodes], [(e["source"], e["target"], e["evidence"]) for e in edges]
(['b1', 'b2', 's1'], [(0, 2, True), (1, 2, False)])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from graphkit.report.plots import SubgraphPlot

__all__ = ["LAYOUTS", "graph_payload", "layout_positions"]

#: ``kk``: igraph Kamada–Kawai seeded with the static positions (deterministic);
#: ``plot``: exactly the static picture's positions.
LAYOUTS = ("kk", "plot")

Layout = Literal["kk", "plot"]


def layout_positions(
    n: int, edges: np.ndarray, start: np.ndarray, *, layout: Layout = "kk"
) -> np.ndarray:
    """Return ``(n, 2)`` positions scaled into ``[0, 1]`` (aspect kept, centred), rounded.

    Parameters
    ----------
    n
        Number of vertices.
    edges
        ``(m, 2)`` integer array of vertex indices.
    start
        ``(n, 2)`` starting positions (the static layout).
    layout
        One of :data:`LAYOUTS`.

    Examples
    --------
    >>> pos = layout_positions(2, np.array([[0, 1]]), np.array([[0.0, 0.0], [2.0, 0.0]]),
    ...                        layout="plot")
    >>> pos.tolist()
    [[0.0, 0.5], [1.0, 0.5]]
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, found {layout!r}")
    xy = np.asarray(start, dtype=np.float64).reshape(n, 2)
    if layout == "kk" and n > 1:
        import igraph as ig

        g = ig.Graph(n=n, edges=np.asarray(edges, dtype=np.int64).reshape(-1, 2).tolist())
        xy = np.asarray(g.layout_kamada_kawai(seed=xy.tolist()).coords, dtype=np.float64)
    if n == 0:
        return np.zeros((0, 2))
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = float((hi - lo).max())
    if span <= 0.0:
        return np.full((n, 2), 0.5)
    scaled = (xy - lo) / span + (1.0 - (hi - lo) / span) / 2.0
    return np.round(scaled, 4) + 0.0  # + 0.0 turns -0.0 into 0.0


def graph_payload(
    plot: SubgraphPlot, *, layout: Layout = "kk"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return ``(nodes, edges)`` for the graph view of a subgraph plot.

    Parameters
    ----------
    plot
        A computed subgraph (``graphkit.report.plots.subgraph_plot``).
    layout
        ``"kk"`` (default) or ``"plot"``; see :data:`LAYOUTS`.

    Returns
    -------
    nodes
        One dict per account, sorted by id: ``id``, ``kind`` (``buyer``/``seller``),
        ``member`` (in the case, else a counterparty), ``x``, ``y`` (0..1),
        ``orders`` and ``amount`` (over the drawn edges).
    edges
        One dict per buyer–seller pair, sorted: ``source``, ``target`` (indices
        into ``nodes``), ``orders``, ``amount``, ``evidence``.

    Examples
    --------
    >>> nodes, edges = graph_payload(p)  # doctest: +SKIP
    """
    nodes = (
        plot.nodes.sort("account_id").with_row_index("i").with_columns(pl.col("i").cast(pl.Int64))
    )
    index = nodes.select("account_id", "i")
    edges = (
        plot.edges.join(index.rename({"account_id": "buyer_id", "i": "source"}), on="buyer_id")
        .join(index.rename({"account_id": "seller_id", "i": "target"}), on="seller_id")
        .sort("source", "target")
    )
    ends = pl.concat(
        [
            edges.select(i="source", orders="n_orders", amount="amount"),
            edges.select(i="target", orders="n_orders", amount="amount"),
        ]
    )
    per_node = ends.group_by("i").agg(pl.col("orders").sum(), pl.col("amount").sum().round(2))
    nodes = nodes.join(per_node, on="i", how="left").sort("i")
    pos = layout_positions(
        nodes.height,
        edges.select("source", "target").to_numpy(),
        nodes.select("x", "y").to_numpy(),
        layout=layout,
    )
    node_rows = nodes.select(
        id=pl.col("account_id"),
        kind=pl.col("kind"),
        member=pl.col("member"),
        x=pl.Series(pos[:, 0] if nodes.height else [], dtype=pl.Float64),
        y=pl.Series(pos[:, 1] if nodes.height else [], dtype=pl.Float64),
        orders=pl.col("orders").fill_null(0).cast(pl.Int64),
        amount=pl.col("amount").fill_null(0.0).cast(pl.Float64),
    ).to_dicts()
    edge_rows = edges.select(
        "source",
        "target",
        orders=pl.col("n_orders").cast(pl.Int64),
        amount=pl.col("amount").cast(pl.Float64),
        evidence=pl.col("evidence"),
    ).to_dicts()
    return node_rows, edge_rows
