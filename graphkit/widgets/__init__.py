"""Interactive Jupyter widgets that work offline (JavaScript shipped in the package).

- :class:`GraphView`: a case's buyer–seller subgraph with pan, zoom, hover
  details and click-to-select (an anywidget; imported on first use).
- :func:`graph_payload`: the nodes/edges/positions it draws, computed with
  igraph (no widget library needed).

matplotlib (``SubgraphPlot.plot``) stays the static fallback, e.g. for the
HTML report and for notebooks viewed without a kernel.

Examples
--------
>>> from graphkit.widgets import graph_payload
>>> callable(graph_payload)
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphkit.widgets.layout import LAYOUTS, graph_payload, layout_positions

if TYPE_CHECKING:
    from graphkit.widgets.graph_view import STATIC, GraphView

__all__ = ["LAYOUTS", "STATIC", "GraphView", "graph_payload", "layout_positions"]


def __getattr__(name: str) -> Any:
    """Import the anywidget-based names only when first used."""
    if name in ("GraphView", "STATIC"):
        from graphkit.widgets import graph_view

        return getattr(graph_view, name)
    raise AttributeError(f"module 'graphkit.widgets' has no attribute {name!r}")
