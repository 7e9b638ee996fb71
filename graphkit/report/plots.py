"""Plots for reports and notebooks: compute once, draw many.

Each ``*_plot`` function aggregates in polars and returns a small frozen
object holding only the numbers to draw; its ``.plot(ax=None)`` method draws
them on a matplotlib ``Axes`` (a new figure when ``ax`` is ``None``) and
returns the ``Axes``; its ``.draw_svg(canvas, box)`` method draws the same
picture as SVG (:func:`figure_svg`, :mod:`graphkit.report.svg`). The HTML
report (SVG, no matplotlib) and the investigator notebooks (matplotlib) call
the same functions. matplotlib is imported only when something is drawn with it.

Text that comes from the data (account ids) is drawn with math parsing off,
so an id such as ``$x$`` is shown as typed.

Examples
--------
>>> import polars as pl
>>> from graphkit.report.plots import subgraph_plot
>>> orders = pl.DataFrame({"order_id": ["o1", "o2"], "buyer_id": ["b1", "b2"],
...                        "seller_id": ["s1", "s1"], "amount": [5.0, 7.0]})
>>> p = subgraph_plot(orders, account_ids=["b1", "b2", "s1"], evidence_ids=["o1"])
>>> p.edges.select("buyer_id", "evidence").rows()
[('b1', True), ('b2', False)]
>>> ax = p.plot()  # doctest: +SKIP
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from graphkit.contract import DSR_COLUMNS
from graphkit.report.cases import is_in

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes

    from graphkit.report.svg import Box, Canvas

__all__ = [
    "EVENT_TIMES",
    "DistributionPlot",
    "SubgraphPlot",
    "TimelinePlot",
    "TrendPlot",
    "figure_png",
    "figure_svg",
    "findings_trend_plot",
    "rating_distribution_plot",
    "rating_distribution_plots",
    "spring_positions",
    "subgraph_plot",
    "timeline_events",
    "timeline_plot",
]

#: Colours: buyers blue, sellers orange, evidence red (colour-blind safe pairs).
BUYER_COLOR, SELLER_COLOR, EVIDENCE_COLOR, EDGE_COLOR = "#1f77b4", "#ff7f0e", "#d62728", "#9a9a9a"

#: Event tables of a timeline and the time column of each.
EVENT_TIMES: dict[str, str] = {
    "orders": "created_at",
    "feedback": "created_at",
    "messages": "sent_at",
    "disputes": "opened_at",
}

_MEASURES = ("rating", *DSR_COLUMNS)

#: Timeline line colours per event table.
_TIMELINE_COLORS = {
    "orders": BUYER_COLOR,
    "feedback": SELLER_COLOR,
    "messages": "#2ca02c",
    "disputes": EVIDENCE_COLOR,
}
#: Line colours of one line per rule (matplotlib's default cycle, as the notebooks draw).
_CYCLE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
#: Pixels per point at the report's 80 dpi (matplotlib sizes are in points).
_PX = 80 / 72


class Plot(Protocol):
    """Anything with ``plot(ax=None) -> Axes``."""

    def plot(self, ax: Axes | None = None) -> Axes:
        """Draw on ``ax`` (a new figure when ``None``) and return it."""
        ...


def _new_axes(figsize: tuple[float, float]) -> Axes:
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _pad_single_bucket(ax: Axes, counts: pl.DataFrame) -> None:
    """Give a time axis with one bucket a week each side (else matplotlib spans years)."""
    from datetime import timedelta

    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(maxticks=5)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))

    buckets = counts["bucket"].unique() if counts.height else []
    if len(buckets) == 1:
        b = buckets[0]
        ax.set_xlim(b - timedelta(days=7), b + timedelta(days=7))
    ax.set_ylim(bottom=0)


def _text(value: object, limit: int = 14) -> str:
    s = str(value)
    return s if len(s) <= limit else s[: limit - 1] + "…"


# --- subgraph ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubgraphPlot:
    """A case's buyer–seller subgraph with a fixed layout.

    Attributes
    ----------
    nodes
        ``account_id``, ``kind`` (``buyer``/``seller``), ``member`` (in the
        case, else a counterparty), ``x``, ``y``; sorted by ``account_id``.
    edges
        ``buyer_id``, ``seller_id``, ``n_orders``, ``amount``, ``evidence``
        (whether any order on the edge is evidence); sorted.
    title
        Axes title.
    dropped_nodes
        Counterparties left out to keep the drawing readable.
    """

    nodes: pl.DataFrame
    edges: pl.DataFrame
    title: str = ""
    dropped_nodes: int = 0

    def plot(self, ax: Axes | None = None) -> Axes:
        """Draw buyers as circles, sellers as squares, evidence edges in thick red."""
        ax = ax if ax is not None else _new_axes((6.0, 4.5))
        pos = {r[0]: (r[1], r[2]) for r in self.nodes.select("account_id", "x", "y").iter_rows()}
        from matplotlib.collections import LineCollection

        # one collection per kind of edge: a Line2D artist per edge made drawing the
        # dominant cost of the report
        for evidence_pass in (False, True):
            part = self.edges.filter(pl.col("evidence") == evidence_pass)
            if part.height == 0:
                continue
            rows = part.select("buyer_id", "seller_id", "n_orders").iter_rows()
            segments = [(pos[b], pos[s]) for b, s, _ in rows]
            widths = part.select(
                (pl.col("n_orders").clip(upper_bound=10) * 0.25).cast(pl.Float64)
            ).to_series().to_numpy() + (1.6 if evidence_pass else 0.7)
            ax.add_collection(
                LineCollection(
                    segments,
                    colors=EVIDENCE_COLOR if evidence_pass else EDGE_COLOR,
                    linewidths=widths,
                    alpha=0.9 if evidence_pass else 0.6,
                    zorder=2 if evidence_pass else 1,
                )
            )
        for kind, marker, color in (("buyer", "o", BUYER_COLOR), ("seller", "s", SELLER_COLOR)):
            for member in (True, False):
                sel = self.nodes.filter((pl.col("kind") == kind) & (pl.col("member") == member))
                if sel.height == 0:
                    continue
                ax.scatter(
                    sel["x"].to_list(),
                    sel["y"].to_list(),
                    s=90 if member else 40,
                    marker=marker,
                    c=color,
                    edgecolors="black" if member else "none",
                    alpha=1.0 if member else 0.45,
                    zorder=3,
                    label=f"{kind}s" + ("" if member else " (counterparty)"),
                )
        if self.nodes.height <= 30:
            for acct, x, y in self.nodes.select("account_id", "x", "y").iter_rows():
                ax.text(x, y + 0.06, _text(acct), fontsize=6, ha="center", parse_math=False)
        ax.plot([], [], color=EVIDENCE_COLOR, linewidth=2, label="evidence orders")
        ax.plot([], [], color=EDGE_COLOR, linewidth=1, label="other orders")
        ax.legend(loc="lower left", fontsize=6, frameon=False)
        note = f" (+{self.dropped_nodes} counterparties not drawn)" if self.dropped_nodes else ""
        # an explicit y skips matplotlib's title auto-positioning (a layout of every tick
        # label on each draw); nothing is drawn above the axes, so the place is the same
        ax.set_title(self.title + note, fontsize=9, loc="left", y=1.0)
        ax.set_axis_off()
        return ax

    def draw_svg(self, canvas: Canvas, box: Box) -> None:
        """Draw the same picture as :meth:`plot` into ``box`` of an SVG canvas."""
        note = f" (+{self.dropped_nodes} counterparties not drawn)" if self.dropped_nodes else ""
        canvas.text(box.x, box.y + 11, self.title + note, size=11)
        kinds = [
            (label, kind, color)
            for label, kind, color, present in (
                ("buyers", "circle-edge", BUYER_COLOR, self._has("buyer", True)),
                ("buyers (counterparty)", "dot", BUYER_COLOR, self._has("buyer", False)),
                ("sellers", "square-edge", SELLER_COLOR, self._has("seller", True)),
                ("sellers (counterparty)", "square", SELLER_COLOR, self._has("seller", False)),
                ("evidence orders", "line", EVIDENCE_COLOR, True),
                ("other orders", "line", EDGE_COLOR, True),
            )
            if present
        ]
        canvas.legend(box.x, box.y + box.h - 12.0 * (len(kinds) - 1) - 4, kinds, size=8.5)
        area = box.inset(128, 28, 10, 14)
        xs, ys = self.nodes["x"], self.nodes["y"]
        if self.nodes.height == 0:
            return
        xlo, xhi = float(xs.min()), float(xs.max())  # type: ignore[arg-type]
        ylo, yhi = float(ys.min()), float(ys.max())  # type: ignore[arg-type]
        if xhi - xlo < 1e-9:
            xlo, xhi = xlo - 1.0, xhi + 1.0
        if yhi - ylo < 1e-9:
            ylo, yhi = ylo - 1.0, yhi + 1.0
        pos = {
            a: (area.sx(x, xlo, xhi), area.sy(y, ylo, yhi))
            for a, x, y in self.nodes.select("account_id", "x", "y").iter_rows()
        }
        # one path per edge style: thicker for more orders, evidence on top in red
        styles: dict[tuple[bool, int], list[tuple[float, float, float, float]]] = {}
        for b, s, n, ev in self.edges.select(
            "buyer_id", "seller_id", "n_orders", "evidence"
        ).iter_rows():
            if b in pos and s in pos:
                styles.setdefault((bool(ev), min(int(n), 10)), []).append((*pos[b], *pos[s]))
        for (ev, n), segs in sorted(styles.items()):
            canvas.segments(
                segs,
                stroke=EVIDENCE_COLOR if ev else EDGE_COLOR,
                width=(n * 0.25 + (1.6 if ev else 0.7)) * _PX,
                opacity=0.9 if ev else 0.6,
            )
        for kind, shape, color in (
            ("buyer", "circle", BUYER_COLOR),
            ("seller", "square", SELLER_COLOR),
        ):
            for member in (False, True):
                sel = self.nodes.filter((pl.col("kind") == kind) & (pl.col("member") == member))
                radius = (4.7 if member else 3.2) * _PX * (0.9 if shape == "square" else 1.0)
                canvas.markers(
                    [pos[a] for a in sel["account_id"].to_list()],
                    shape=shape,
                    size=radius,
                    fill=color,
                    edge="#000" if member else None,
                    opacity=1.0 if member else 0.45,
                )
        if self.nodes.height <= 30:
            for acct in self.nodes["account_id"].to_list():
                x, y = pos[acct]
                canvas.text(x, y - 7, _text(acct), size=7.5, anchor="middle")

    def _has(self, kind: str, member: bool) -> bool:
        return bool(
            self.nodes.filter((pl.col("kind") == kind) & (pl.col("member") == member)).height
        )


def subgraph_plot(
    orders: pl.DataFrame | pl.LazyFrame,
    *,
    account_ids: Iterable[str],
    seller_ids: Iterable[str] = (),
    evidence_ids: Iterable[str] = (),
    seed: int = 0,
    max_nodes: int = 150,
    title: str = "",
) -> SubgraphPlot:
    """Compute the drawing of a case's subgraph from its order rows.

    Parameters
    ----------
    orders
        Order rows (at least ``order_id``, ``buyer_id``, ``seller_id``; ``amount`` used
        when present), e.g. ``case_rows(...)["orders"]``.
    account_ids
        The case's accounts; edges with one end outside are drawn when the
        order is evidence (the outside end is a counterparty).
    seller_ids
        Accounts to draw as sellers even without an order as seller here.
    evidence_ids
        Order ids to highlight.
    seed
        Layout seed (same seed, same picture).
    max_nodes
        Counterparties beyond this many nodes are dropped (fewest orders first).
    title
        Axes title.

    Returns
    -------
    SubgraphPlot

    Examples
    --------
    >>> o = pl.DataFrame({"order_id": ["o1"], "buyer_id": ["b"], "seller_id": ["s"]})
    >>> subgraph_plot(o, account_ids=["b", "s"]).nodes["kind"].to_list()
    ['buyer', 'seller']
    """
    accts = pl.Series(sorted(set(account_ids)), dtype=pl.String)
    ev = pl.Series(sorted(set(evidence_ids)), dtype=pl.String)
    lf = orders.lazy() if isinstance(orders, pl.DataFrame) else orders
    amount = pl.col("amount") if "amount" in lf.collect_schema().names() else pl.lit(0.0)
    edges = (
        lf.with_columns(is_ev=is_in("order_id", ev), amt=amount.cast(pl.Float64))
        .filter((is_in("buyer_id", accts) & is_in("seller_id", accts)) | pl.col("is_ev"))
        .group_by("buyer_id", "seller_id")
        .agg(
            n_orders=pl.len().cast(pl.Int64),
            amount=pl.col("amt").sum().round(2),
            evidence=pl.col("is_ev").any(),
        )
        .sort("buyer_id", "seller_id")
        .collect()
    )
    sellers = set(seller_ids) | set(edges["seller_id"].to_list())
    members = set(accts.to_list())
    weight = (
        pl.concat(
            [
                edges.select(account_id="buyer_id", n="n_orders"),
                edges.select(account_id="seller_id", n="n_orders"),
            ]
        )
        .group_by("account_id")
        .agg(pl.col("n").sum())
    )
    nodes = (
        pl.DataFrame({"account_id": sorted(members)}, schema={"account_id": pl.String})
        .join(weight, on="account_id", how="full", coalesce=True)
        .with_columns(
            n=pl.col("n").fill_null(0),
            member=is_in("account_id", accts),
            kind=pl.when(is_in("account_id", sorted(sellers)))
            .then(pl.lit("seller"))
            .otherwise(pl.lit("buyer")),
        )
    )
    dropped = 0
    if nodes.height > max_nodes:
        keep = nodes.sort(["member", "n", "account_id"], descending=[True, True, False]).head(
            max_nodes
        )
        dropped = nodes.height - keep.height
        nodes = keep
        kept = nodes["account_id"]
        edges = edges.filter(is_in("buyer_id", kept) & is_in("seller_id", kept))
    nodes = nodes.sort("account_id")
    index = nodes.select("account_id", i=pl.int_range(pl.len(), dtype=pl.Int64))
    pairs = (
        edges.join(index.rename({"account_id": "buyer_id"}), on="buyer_id")
        .join(index.rename({"account_id": "seller_id", "i": "j"}), on="seller_id")
        .select("i", "j", w=pl.col("n_orders").cast(pl.Float64))
    )
    xy = spring_positions(
        nodes.height,
        pairs["i"].to_numpy(),
        pairs["j"].to_numpy(),
        pairs["w"].to_numpy(),
        seed=seed,
    )
    nodes = nodes.with_columns(
        x=pl.Series(xy[:, 0], dtype=pl.Float64), y=pl.Series(xy[:, 1], dtype=pl.Float64)
    ).select("account_id", "kind", "member", "x", "y")
    return SubgraphPlot(nodes=nodes, edges=edges, title=title, dropped_nodes=dropped)


def spring_positions(
    n: int,
    i: np.ndarray,
    j: np.ndarray,
    weight: np.ndarray,
    *,
    seed: int = 0,
    iterations: int = 50,
    threshold: float = 1e-4,
) -> np.ndarray:
    """Return ``(n, 2)`` force-directed positions in ``[-1, 1]``, seeded.

    The Fruchterman-Reingold layout of ``networkx.spring_layout(G, seed=seed)`` for a
    graph of up to a few hundred nodes (its dense force method, step for step: the same
    positions), without importing networkx: an undirected edge ``i[e]``-``j[e]`` of
    weight ``weight[e]`` per entry (a repeated pair keeps its last weight). One node sits
    at the origin.

    Examples
    --------
    >>> import numpy as np
    >>> xy = spring_positions(3, np.array([0, 1]), np.array([1, 2]), np.ones(2), seed=1)
    >>> xy.shape, float(np.abs(xy).max())
    ((3, 2), 1.0)
    """
    import numpy as np

    if n <= 1:
        return np.zeros((n, 2))
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    # the last entry of each unordered pair (networkx.Graph keeps the last weight added)
    _, first_of_reversed = np.unique((lo * n + hi)[::-1], return_index=True)
    last = len(lo) - 1 - first_of_reversed
    adj = np.zeros((n, n))
    adj[lo[last], hi[last]] = weight[last]
    adj[hi[last], lo[last]] = weight[last]
    pos = np.random.RandomState(seed).rand(n, 2)
    k = np.sqrt(1.0 / n)
    t = max(pos[:, 0].max() - pos[:, 0].min(), pos[:, 1].max() - pos[:, 1].min()) * 0.1
    dt = t / (iterations + 1)
    for _ in range(iterations):
        delta = pos[:, np.newaxis, :] - pos[np.newaxis, :, :]
        distance = np.linalg.norm(delta, axis=-1)
        np.clip(distance, 0.01, None, out=distance)
        displacement = np.einsum("ijk,ij->ik", delta, (k * k / distance**2 - adj * distance / k))
        length = np.clip(np.linalg.norm(displacement, axis=-1), a_min=0.01, a_max=None)
        delta_pos = np.einsum("ij,i->ij", displacement, t / length)
        pos += delta_pos
        t -= dt
        if (np.linalg.norm(delta_pos) / n) < threshold:
            break
    pos -= pos.mean(axis=0)
    lim = np.abs(pos).max()
    if lim > 0:
        pos *= 1.0 / lim
    return pos


# --- rating / DSR distributions ---------------------------------------------------------------


@dataclass(frozen=True)
class DistributionPlot:
    """Shares of each star value, implicated sellers against the population.

    Attributes
    ----------
    counts
        ``measure`` (``rating`` or a DSR column), ``value`` (1..5), ``cohort``
        (``implicated``/``population``), ``n``, ``share`` (within measure and cohort).
    title
        Axes title.
    """

    counts: pl.DataFrame
    title: str = ""

    def plot(self, ax: Axes | None = None) -> Axes:
        """Draw side-by-side bars: one block of 1..5 per measure, two cohorts."""
        ax = ax if ax is not None else _new_axes((7.5, 3.0))
        width = 0.4
        measures = [m for m in _MEASURES if m in set(self.counts["measure"].to_list())]
        for offset, cohort, color in (
            (-width / 2, "population", EDGE_COLOR),
            (width / 2, "implicated", EVIDENCE_COLOR),
        ):
            part = self.counts.filter(pl.col("cohort") == cohort)
            xs, ys = [], []
            for i, m in enumerate(measures):
                sub = part.filter(pl.col("measure") == m)
                for v, share in sub.select("value", "share").iter_rows():
                    xs.append(i * 6 + v + offset)
                    ys.append(share)
            n = int(part.filter(pl.col("measure") == measures[0])["n"].sum()) if measures else 0
            ax.bar(xs, ys, width=width, color=color, label=f"{cohort} (n={n:,} feedback)")
        ax.set_xticks([i * 6 + v for i in range(len(measures)) for v in range(1, 6)])
        ax.set_xticklabels([str(v) for _ in measures for v in range(1, 6)], fontsize=6)
        for i, m in enumerate(measures):
            label = m.replace("dsr_", "DSR ").replace("_", " ")
            ax.text(
                i * 6 + 3,
                -0.12,
                label,
                ha="center",
                va="top",
                fontsize=7,
                transform=ax.get_xaxis_transform(),
            )
        ax.set_ylabel("share", fontsize=7)
        ax.tick_params(axis="y", labelsize=6)
        ax.legend(fontsize=6, frameon=False)
        ax.set_title(self.title, fontsize=9, loc="left", y=1.0)
        return ax

    def draw_svg(self, canvas: Canvas, box: Box) -> None:
        """Draw the same bars as :meth:`plot` into ``box`` of an SVG canvas."""
        from graphkit.report.svg import axes, nice_ticks

        canvas.text(box.x, box.y + 11, self.title, size=11)
        measures = [m for m in _MEASURES if m in set(self.counts["measure"].to_list())]
        cohorts = (("population", EDGE_COLOR, -0.2), ("implicated", EVIDENCE_COLOR, 0.2))
        first = self.counts.filter(pl.col("measure") == measures[0]) if measures else None
        entries = []
        for cohort, color, _ in cohorts:
            n = int(first.filter(pl.col("cohort") == cohort)["n"].sum()) if first is not None else 0
            entries.append((f"{cohort} (n={n:,} feedback)", "bar", color))
        canvas.legend(box.x + 40, box.y + 28, entries, size=8.5, columns=2, column_width=210)
        area = box.inset(40, 36, 6, 32)
        xlo, xhi = 0.4, max(len(measures), 1) * 6 - 0.4
        top = float(self.counts["share"].max() or 0.0) if self.counts.height else 0.0  # type: ignore[arg-type]
        ticks = nice_ticks(0.0, max(top, 0.05), 4)
        yhi = ticks[-1]
        axes(
            canvas,
            area,
            x_ticks=[
                (area.sx(i * 6 + v, xlo, xhi), str(v))
                for i in range(len(measures))
                for v in range(1, 6)
            ],
            y_ticks=[(area.sy(t, 0.0, yhi), f"{t:g}") for t in ticks],
            y_label="share",
        )
        bar_w = 0.4 * area.w / (xhi - xlo)
        index = {m: i for i, m in enumerate(measures)}
        for cohort, color, offset in cohorts:
            part = self.counts.filter(pl.col("cohort") == cohort)
            rects = []
            for m, v, share in part.select("measure", "value", "share").iter_rows():
                if m not in index:
                    continue
                x = area.sx(index[m] * 6 + v + offset, xlo, xhi) - bar_w / 2
                y = area.sy(float(share), 0.0, yhi)
                rects.append((x, y, bar_w, area.y + area.h - y))
            canvas.rects(rects, fill=color)
        for i, m in enumerate(measures):
            label = m.replace("dsr_", "DSR ").replace("_", " ")
            canvas.text(
                area.sx(i * 6 + 3, xlo, xhi), area.y + area.h + 24, label, size=9, anchor="middle"
            )


def rating_distribution_plot(
    feedback: pl.DataFrame | pl.LazyFrame,
    orders: pl.DataFrame | pl.LazyFrame,
    *,
    seller_ids: Iterable[str],
    title: str = "Ratings and DSRs received: implicated sellers vs all other sellers",
) -> DistributionPlot:
    """Compute star distributions of feedback *received by sellers from buyers*.

    Parameters
    ----------
    feedback, orders
        The dataset's tables; a feedback row counts when its ``target_id`` is a
        seller (an account that sells in ``orders``): accounts are buyers or
        sellers, so that is the feedback buyers left.
    seller_ids
        The implicated sellers; every other seller is the population.
    title
        Axes title.

    Returns
    -------
    DistributionPlot

    Examples
    --------
    >>> o = pl.DataFrame({"order_id": ["o1", "o2"], "seller_id": ["s1", "s2"]})
    >>> f = pl.DataFrame({"order_id": ["o1", "o2"], "target_id": ["s1", "s2"], "rating": [5, 1]})
    >>> p = rating_distribution_plot(f, o, seller_ids=["s1"])
    >>> p.counts.filter(pl.col("n") > 0).select("cohort", "value").rows()
    [('implicated', 5), ('population', 1)]
    """
    sellers = sorted(set(seller_ids))
    plots = rating_distribution_plots(
        feedback, orders, cohorts={"": sellers}, population_excludes=sellers, title=title
    )
    return plots[""]


def rating_distribution_plots(
    feedback: pl.DataFrame | pl.LazyFrame,
    orders: pl.DataFrame | pl.LazyFrame,
    *,
    cohorts: Mapping[str, Iterable[str]],
    population_excludes: Iterable[str] = (),
    title: str = "{key}: ratings received vs all other sellers",
) -> dict[str, DistributionPlot]:
    """Star distributions of several seller cohorts against one population, in one pass.

    Parameters
    ----------
    feedback, orders
        The dataset's tables (see :func:`rating_distribution_plot`).
    cohorts
        Key (e.g. a group id) -> its sellers; a seller may be in several cohorts.
    population_excludes
        Sellers left out of the population (e.g. every implicated seller); the
        population is every other seller.
    title
        Axes title, formatted with ``key``.

    Returns
    -------
    dict
        Key -> :class:`DistributionPlot` (cohort ``implicated`` = the key's sellers).

    Examples
    --------
    >>> o = pl.DataFrame({"order_id": ["o1", "o2", "o3"], "seller_id": ["s1", "s2", "s3"]})
    >>> f = pl.DataFrame({"target_id": ["s1", "s2", "s3"], "rating": [5, 4, 1]})
    >>> ps = rating_distribution_plots(f, o, cohorts={"G1": ["s1"], "G2": ["s2"]},
    ...                                population_excludes=["s1", "s2"])
    >>> ps["G2"].counts.filter(pl.col("n") > 0).select("cohort", "value").rows()
    [('implicated', 4), ('population', 1)]
    """
    fb = feedback.lazy() if isinstance(feedback, pl.DataFrame) else feedback
    od = orders.lazy() if isinstance(orders, pl.DataFrame) else orders
    cols = fb.collect_schema().names()
    measures = [m for m in _MEASURES if m in cols]
    members = pl.DataFrame(
        [(k, s) for k, ids in cohorts.items() for s in sorted(set(ids))],
        schema={"key": pl.String, "target_id": pl.String},
        orient="row",
    )
    excluded = sorted(set(population_excludes))
    # feedback to a seller is feedback from a buyer: a semi-join on the (few) seller ids
    # is much cheaper than joining every feedback row to its order
    all_sellers = od.select(target_id=pl.col("seller_id")).unique()
    wide = fb.select("target_id", *[pl.col(m).cast(pl.Int64) for m in measures]).join(
        all_sellers, on="target_id", how="semi"
    )

    def long_counts(frame: pl.LazyFrame, keys: list[str]) -> pl.LazyFrame:
        # count the (few) distinct combinations of the measures first, then unpivot those
        # weighted: far cheaper than unpivoting every feedback row
        return (
            frame.group_by(*keys, *measures)
            .agg(_w=pl.len().cast(pl.Int64))
            .unpivot(index=[*keys, "_w"], on=measures, variable_name="measure", value_name="value")
            .drop_nulls("value")
            .group_by(*keys, "measure", "value")
            .agg(n=pl.col("_w").sum())
        )

    cohort_counts, population = pl.collect_all(
        [
            long_counts(wide.join(members.lazy(), on="target_id", how="inner"), ["key"]),
            long_counts(wide.filter(~is_in("target_id", excluded)), []),
        ]
    )
    grid = pl.DataFrame({"measure": measures}, schema={"measure": pl.String}).join(
        pl.DataFrame({"value": list(range(1, 6))}, schema={"value": pl.Int64}), how="cross"
    )
    pop = grid.join(population, on=["measure", "value"], how="left").with_columns(
        cohort=pl.lit("population")
    )
    out = {}
    for key in cohorts:
        mine = grid.join(
            cohort_counts.filter(pl.col("key") == key).drop("key"),
            on=["measure", "value"],
            how="left",
        ).with_columns(cohort=pl.lit("implicated"))
        counts = (
            pl.concat([mine, pop])
            .select("cohort", "measure", "value", n=pl.col("n").fill_null(0))
            .with_columns(
                share=(pl.col("n") / pl.col("n").sum().over("cohort", "measure"))
                .fill_nan(0.0)
                .fill_null(0.0)
            )
            .sort("measure", "cohort", "value")
        )
        out[key] = DistributionPlot(counts=counts, title=title.format(key=key))
    return out


# --- timelines --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelinePlot:
    """Events per time bucket and kind (orders, feedback, messages, cases).

    Attributes
    ----------
    counts
        ``kind``, ``bucket`` (start of the bucket, UTC), ``n``; sorted.
    every
        The bucket width (a polars duration string such as ``"1d"``).
    title
        Axes title.
    """

    counts: pl.DataFrame
    every: str = "1d"
    title: str = ""

    def plot(self, ax: Axes | None = None) -> Axes:
        """Draw one line (with a marker per bucket) per event kind."""
        ax = ax if ax is not None else _new_axes((6.0, 2.6))
        colors = _TIMELINE_COLORS
        for kind in EVENT_TIMES:
            part = self.counts.filter(pl.col("kind") == kind)
            if part.height == 0:
                continue
            label = "cases" if kind == "disputes" else kind
            ax.plot(
                part["bucket"].to_list(),
                part["n"].to_list(),
                marker="o",
                markersize=3,
                linewidth=1,
                color=colors[kind],
                label=f"{label} ({int(part['n'].sum()):,})",
            )
        _pad_single_bucket(ax, self.counts)
        ax.set_ylabel(f"per {self.every}", fontsize=7)
        ax.tick_params(labelsize=6)
        if self.counts.height:
            ax.legend(fontsize=6, frameon=False)
        else:
            ax.text(0.5, 0.5, "no dated events", ha="center", transform=ax.transAxes)
        ax.set_title(self.title, fontsize=9, loc="left", y=1.0)
        return ax

    def draw_svg(self, canvas: Canvas, box: Box) -> None:
        """Draw the same lines as :meth:`plot` into ``box`` of an SVG canvas."""
        series = []
        for kind in EVENT_TIMES:
            part = self.counts.filter(pl.col("kind") == kind)
            if part.height:
                label = "cases" if kind == "disputes" else kind
                series.append((f"{label} ({int(part['n'].sum()):,})", _TIMELINE_COLORS[kind], part))
        _time_axes_svg(
            canvas,
            box,
            self.counts,
            series,
            title=self.title,
            y_label=f"per {self.every}",
            empty="no dated events",
            legend_columns=2,
        )


def timeline_events(tables: Mapping[str, pl.DataFrame | pl.LazyFrame]) -> pl.LazyFrame:
    """Stack the dated events of ``tables`` into one ``kind``, ``time`` frame.

    Examples
    --------
    >>> from datetime import datetime
    >>> o = pl.DataFrame({"created_at": [datetime(2026, 1, 1)]})
    >>> timeline_events({"orders": o}).collect()["kind"].to_list()
    ['orders']
    """
    parts = [
        (frame.lazy() if isinstance(frame, pl.DataFrame) else frame).select(
            kind=pl.lit(name, dtype=pl.String), time=pl.col(EVENT_TIMES[name])
        )
        for name, frame in tables.items()
        if name in EVENT_TIMES
    ]
    if not parts:
        return pl.LazyFrame(schema={"kind": pl.String, "time": pl.Datetime("us", "UTC")})
    return pl.concat(parts, how="vertical_relaxed").drop_nulls("time")


def timeline_plot(
    tables: Mapping[str, pl.DataFrame | pl.LazyFrame],
    *,
    every: str | None = None,
    title: str = "",
) -> TimelinePlot:
    """Count a case's orders, feedback, messages and cases per time bucket.

    Parameters
    ----------
    tables
        Table name -> rows (e.g. ``case_rows(...)``); tables without a time
        column in :data:`EVENT_TIMES` are ignored.
    every
        Bucket width; default: ``1d`` when the events span at most 90 days,
        ``1w`` up to two years, else ``1mo``.
    title
        Axes title.

    Returns
    -------
    TimelinePlot

    Examples
    --------
    >>> from datetime import datetime
    >>> o = pl.DataFrame({"created_at": [datetime(2026, 1, 1, 5), datetime(2026, 1, 1, 9)]})
    >>> timeline_plot({"orders": o}).counts["n"].to_list()
    [2]
    """
    events = timeline_events(tables).collect()
    if every is None:
        span = (
            (events["time"].max() - events["time"].min()).days  # type: ignore[operator]
            if events.height
            else 0
        )
        every = "1d" if span <= 90 else ("1w" if span <= 730 else "1mo")
    counts = (
        events.group_by("kind", bucket=pl.col("time").dt.truncate(every))
        .agg(n=pl.len().cast(pl.Int64))
        .sort("kind", "bucket")
    )
    return TimelinePlot(counts=counts, every=every, title=title)


# --- findings trend ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPlot:
    """Findings per policy by the week their evidence starts (``first_seen``).

    Attributes
    ----------
    counts
        ``rule_id``, ``bucket``, ``n``; sorted.
    """

    counts: pl.DataFrame
    every: str = "1w"
    title: str = ""

    def plot(self, ax: Axes | None = None) -> Axes:
        """Draw one line per rule id."""
        ax = ax if ax is not None else _new_axes((7.0, 2.6))
        for rule in sorted(set(self.counts["rule_id"].to_list())):
            part = self.counts.filter(pl.col("rule_id") == rule)
            ax.plot(part["bucket"].to_list(), part["n"].to_list(), marker=".", label=rule)
        _pad_single_bucket(ax, self.counts)
        ax.set_ylabel(f"findings per {self.every}", fontsize=7)
        ax.tick_params(labelsize=6)
        if self.counts.height:
            ax.legend(fontsize=6, frameon=False, ncols=2)
        else:
            ax.text(0.5, 0.5, "no dated findings", ha="center", transform=ax.transAxes)
        ax.set_title(self.title, fontsize=9, loc="left", y=1.0)
        return ax

    def draw_svg(self, canvas: Canvas, box: Box) -> None:
        """Draw the same lines as :meth:`plot` into ``box`` of an SVG canvas."""
        rules = sorted(set(self.counts["rule_id"].to_list()))
        series = [
            (rule, _CYCLE[i % len(_CYCLE)], self.counts.filter(pl.col("rule_id") == rule))
            for i, rule in enumerate(rules)
        ]
        _time_axes_svg(
            canvas,
            box,
            self.counts,
            series,
            title=self.title,
            y_label=f"findings per {self.every}",
            empty="no dated findings",
            legend_columns=0,
        )


def findings_trend_plot(
    findings: pl.DataFrame, *, every: str = "1w", title: str = "New findings over time"
) -> TrendPlot:
    """Count findings per rule id and ``first_seen`` bucket.

    Examples
    --------
    >>> from datetime import datetime
    >>> f = pl.DataFrame({"rule_id": ["A", "A"], "first_seen": [datetime(2026, 1, 5)] * 2})
    >>> findings_trend_plot(f).counts["n"].to_list()
    [2]
    """
    counts = (
        findings.drop_nulls("first_seen")
        .group_by("rule_id", bucket=pl.col("first_seen").dt.truncate(every))
        .agg(n=pl.len().cast(pl.Int64))
        .sort("rule_id", "bucket")
    )
    return TrendPlot(counts=counts, every=every, title=title)


def _time_axes_svg(
    canvas: Canvas,
    box: Box,
    counts: pl.DataFrame,
    series: list[tuple[str, str, pl.DataFrame]],
    *,
    title: str,
    y_label: str,
    empty: str,
    legend_columns: int,
) -> None:
    """Lines of counts per time bucket (``bucket``, ``n``) with a date axis, into ``box``.

    ``legend_columns`` > 0 puts the legend under the title in that many columns; 0 puts
    it in one column on the right.
    """
    from datetime import timedelta

    from graphkit.report.svg import axes, date_ticks, nice_ticks

    canvas.text(box.x, box.y + 11, title, size=11)
    entries = [(label, "line", color) for label, color, _ in series]
    if legend_columns:
        rows = -(-len(entries) // legend_columns)
        col_w = (box.w - 44) / legend_columns
        canvas.legend(
            box.x + 44, box.y + 28, entries, size=8.5, columns=legend_columns, column_width=col_w
        )
        area = box.inset(44, 22 + 12 * max(rows, 1), 8, 22)
    else:
        canvas.legend(box.x + box.w - 170, box.y + 30, entries, size=8.5)
        area = box.inset(44, 22, 180, 22)
    if counts.height == 0:
        axes(canvas, area, y_label=y_label)
        canvas.text(area.x + area.w / 2, area.y + area.h / 2, empty, size=10, anchor="middle")
        return
    lo, hi = counts["bucket"].min(), counts["bucket"].max()
    if lo == hi:
        lo, hi = lo - timedelta(days=7), hi + timedelta(days=7)  # type: ignore[operator]
    else:
        pad = (hi - lo) * 0.03  # type: ignore[operator]
        lo, hi = lo - pad, hi + pad  # type: ignore[operator]
    t0, t1 = lo.timestamp(), hi.timestamp()  # type: ignore[union-attr]
    ticks = nice_ticks(0.0, max(float(counts["n"].max()), 1.0), 4)  # type: ignore[arg-type]
    ticks = [t for t in ticks if t == int(t)] or ticks  # counts: whole numbers only
    yhi = ticks[-1]
    x_ticks = [(area.sx(t.timestamp(), t0, t1), label) for t, label in date_ticks(lo, hi)]  # type: ignore[arg-type]
    axes(
        canvas,
        area,
        x_ticks=x_ticks,
        y_ticks=[(area.sy(t, 0.0, yhi), f"{t:,.0f}") for t in ticks],
        y_label=y_label,
    )
    for _, color, part in series:
        points = [
            (area.sx(b.timestamp(), t0, t1), area.sy(float(n), 0.0, yhi))
            for b, n in part.select("bucket", "n").iter_rows()
        ]
        canvas.polyline(points, stroke=color, width=1.2, marker=2.2)


# --- rendering --------------------------------------------------------------------------------


def figure_png(
    *plots: Plot,
    size: tuple[float, float] = (6.0, 3.0),
    dpi: int = 80,
    widths: tuple[float, ...] | None = None,
) -> bytes:
    r"""Draw ``plots`` side by side on one off-screen figure and return PNG bytes.

    Uses ``matplotlib.figure.Figure`` directly (no pyplot state), fixed margins
    (a layout engine would draw every figure twice) and no ``Software``
    metadata, so the same plots give the same bytes. Several plots in one
    figure cost one PNG encoding instead of several.

    Parameters
    ----------
    *plots
        Objects with ``plot(ax)``.
    size
        Figure size in inches (all plots together).
    dpi
        Resolution.
    widths
        Relative widths of the plots (default equal).

    Examples
    --------
    >>> png = figure_png(timeline_plot({}))  # doctest: +SKIP
    >>> png[:4]  # doctest: +SKIP
    b'\\x89PNG'
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=dpi)
    fig.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.2, wspace=0.25)
    axes = fig.subplots(1, len(plots), squeeze=False, width_ratios=widths)[0]
    for plot, ax in zip(plots, axes, strict=True):
        plot.plot(ax=ax)
    buf = io.BytesIO()
    meta: dict[str, Any] = {"Software": None}
    fig.savefig(buf, format="png", dpi=dpi, metadata=meta)
    return buf.getvalue()


def figure_svg(
    *plots: Any,
    size: tuple[float, float] = (6.0, 3.0),
    dpi: int = 80,
    widths: tuple[float, ...] | None = None,
) -> bytes:
    """Draw ``plots`` side by side into one SVG document and return its bytes.

    The report's figures: the same pictures as :func:`figure_png` without matplotlib
    (no import, no text layout engine, no rasterising), vector, and the same bytes for
    the same plots. Each plot needs a ``draw_svg(canvas, box)`` method.

    Parameters
    ----------
    *plots
        :class:`SubgraphPlot`, :class:`TimelinePlot`, :class:`DistributionPlot`,
        :class:`TrendPlot`.
    size
        Figure size in inches (all plots together), as for :func:`figure_png`.
    dpi
        Pixels per inch of the SVG's width and height.
    widths
        Relative widths of the plots (default equal).

    Examples
    --------
    >>> svg = figure_svg(timeline_plot({}))
    >>> svg[:4]
    b'<svg'
    """
    from graphkit.report.svg import Box, Canvas

    width, height = size[0] * dpi, size[1] * dpi
    canvas = Canvas(width, height)
    ratios = widths or (1.0,) * len(plots)
    gap, margin = 16.0, 6.0
    usable = width - 2 * margin - gap * (len(plots) - 1)
    x = margin
    for plot, ratio in zip(plots, ratios, strict=True):
        w = usable * ratio / sum(ratios)
        plot.draw_svg(canvas, Box(x, margin, w, height - 2 * margin))
        x += w + gap
    return canvas.to_bytes()
