"""Graphs of a marketplace: the buyer–seller graph, the identity graph, conversions.

Examples
--------
>>> from graphkit.graph import build_market_graph, build_identity_graph
>>> mg = build_market_graph(ds)  # doctest: +SKIP
>>> idg = build_identity_graph(ds, max_accounts_per_value=20)  # doctest: +SKIP
"""

from __future__ import annotations

from graphkit.graph.build import (
    IdentityGraph,
    MarketGraph,
    build_identity_graph,
    build_market_graph,
    market_graph_from_frames,
)

__all__ = [
    "IdentityGraph",
    "MarketGraph",
    "build_identity_graph",
    "build_market_graph",
    "market_graph_from_frames",
]
