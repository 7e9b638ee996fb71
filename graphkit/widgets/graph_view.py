"""``GraphView``: an interactive, offline view of a case's subgraph in Jupyter.

An `anywidget <https://anywidget.dev>`_ widget whose JavaScript and CSS ship
inside the package (``graphkit/widgets/static/``), so it works without a
network connection: no CDN, no build step. The JavaScript is vanilla ES
module code that draws SVG from the node and edge lists this class syncs
(positions precomputed in Python by :func:`graphkit.widgets.layout.graph_payload`):
pan by dragging, zoom with the wheel, hover for details, click to select.
All text from the data is set with ``textContent``, never parsed as HTML.

Examples
--------
>>> from graphkit.widgets import GraphView
>>> view = GraphView.from_subgraph(plot)  # doctest: +SKIP
>>> view  # doctest: +SKIP
>>> view.selected  # the account clicked last  # doctest: +SKIP
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from graphkit.widgets.layout import Layout, graph_payload

if TYPE_CHECKING:
    from graphkit.report.plots import SubgraphPlot

__all__ = ["STATIC", "GraphView"]

#: The folder holding the widget's JavaScript and CSS (package data).
STATIC = Path(__file__).parent / "static"


class GraphView(anywidget.AnyWidget):
    """Interactive buyer–seller subgraph: buyers circles, sellers squares, evidence red.

    Traits (synced with the browser)
    --------------------------------
    nodes
        ``[{id, kind, member, x, y, orders, amount}, ...]``, positions in ``[0, 1]``.
    edges
        ``[{source, target, orders, amount, evidence}, ...]`` (indices into ``nodes``).
    title
        Shown above the drawing.
    height
        Drawing height in pixels.
    dropped_nodes
        Counterparties left out of the drawing (shown in the title line).
    selected
        The id of the account clicked last (``None`` when none); observe it
        from Python with ``view.observe(fn, "selected")``.

    Examples
    --------
    >>> GraphView(nodes=[{"id": "s1", "kind": "seller", "member": True, "x": 0.5,
    ...                   "y": 0.5, "orders": 0, "amount": 0.0}]).nodes[0]["id"]  # doctest: +SKIP
    's1'
    """

    _esm = STATIC / "graph_view.js"
    _css = STATIC / "graph_view.css"

    nodes = traitlets.List(traitlets.Dict()).tag(sync=True)
    edges = traitlets.List(traitlets.Dict()).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    height = traitlets.Int(420).tag(sync=True)
    dropped_nodes = traitlets.Int(0).tag(sync=True)
    selected = traitlets.Unicode(None, allow_none=True).tag(sync=True)

    #: The static picture shown where no widget manager runs (GitHub, nbviewer, a
    #: notebook opened without its kernel): the matplotlib drawing of the same subgraph.
    _fallback: SubgraphPlot | None = None

    @classmethod
    def from_subgraph(
        cls,
        plot: SubgraphPlot,
        *,
        layout: Layout = "kk",
        height: int = 420,
        title: str | None = None,
        static_fallback: bool = True,
    ) -> GraphView:
        """Build the view of a computed subgraph (the same one the report draws).

        Parameters
        ----------
        plot
            From :func:`graphkit.report.plots.subgraph_plot` or
            :func:`graphkit.notebook.case_subgraph`.
        layout
            ``"kk"`` (igraph Kamada–Kawai, seeded with the static positions) or
            ``"plot"`` (the static picture's positions).
        height
            Drawing height in pixels.
        title
            Defaults to the plot's title.
        static_fallback
            Also offer the matplotlib picture (``image/png``) in the display
            bundle, for viewers without a widget manager.

        Returns
        -------
        GraphView

        Examples
        --------
        >>> GraphView.from_subgraph(case.subgraph, height=360)  # doctest: +SKIP
        """
        nodes, edges = graph_payload(plot, layout=layout)
        view = cls(
            nodes=nodes,
            edges=edges,
            title=plot.title if title is None else title,
            height=int(height),
            dropped_nodes=int(plot.dropped_nodes),
        )
        view._fallback = plot if static_fallback else None
        return view

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Return the widget's display bundle plus the static PNG fallback, when there is one.

        Front ends with a widget manager (JupyterLab, Notebook 7, VS Code) rank the
        widget above ``image/png`` and show the interactive view; the others show
        the picture.
        """
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None or self._fallback is None:
            return bundle
        data, meta = bundle if isinstance(bundle, tuple) else (bundle, {})
        from graphkit.report.plots import figure_png

        png = figure_png(self._fallback, size=(6.4, 4.6), dpi=80)
        return {**data, "image/png": base64.b64encode(png).decode("ascii")}, meta

    def __repr__(self) -> str:
        n_ev = sum(1 for e in self.edges if e.get("evidence"))
        return (
            f"<GraphView: {len(self.nodes)} accounts, {len(self.edges)} buyer-seller pairs "
            f"({n_ev} with evidence)>"
        )
