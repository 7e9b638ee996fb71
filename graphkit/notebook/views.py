"""Views of one finding or one group, for notebooks and terminals.

:func:`finding` and :func:`group` pick one row of a scan result (or a loaded
run) and return a frozen view: plain Python values, a readable ``repr`` in a
terminal, a rich ``_repr_html_`` in Jupyter. Given the dataset, the view also
holds the case's drawn subgraph (the report's
:func:`graphkit.report.plots.subgraph_plot`, computed once), shown in the HTML
as a picture, drawn again by ``.plot(ax)`` and opened interactively by
``.widget()``.

Examples
--------
>>> import graphkit
>>> from graphkit.scan import scan
>>> ds = graphkit.load_dataset("data/sample")  # doctest: +SKIP
>>> result = scan(ds)  # doctest: +SKIP
>>> view = finding(result, result.findings["finding_id"][0], dataset=ds)  # doctest: +SKIP
>>> view  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from graphkit.notebook.render import (
    _BOX,
    _MUTED,
    esc,
    ids_html,
    ids_text,
    num,
    plain,
    severity_badge,
    signals_html,
    signals_text,
    wrap,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from graphkit.dataset import Dataset
    from graphkit.report.plots import SubgraphPlot
    from graphkit.widgets.graph_view import GraphView

__all__ = ["FindingView", "GroupView", "Signal", "case_subgraph", "finding", "group"]


@dataclass(frozen=True)
class Signal:
    """One named signal with its numbers (a row of a ``signals`` list column)."""

    name: str
    value: float | None = None
    threshold: float | None = None
    contribution: float | None = None
    detail: str | None = None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Signal:
        """Build from a ``SIGNAL`` struct value (a dict)."""
        return cls(
            name=str(raw.get("name")),
            value=raw.get("value"),
            threshold=raw.get("threshold"),
            contribution=raw.get("contribution"),
            detail=raw.get("detail"),
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the signal as a plain dict (the ``SIGNAL`` struct's fields)."""
        return {
            "name": self.name,
            "value": self.value,
            "threshold": self.threshold,
            "contribution": self.contribution,
            "detail": self.detail,
        }


def _signals(raw: Iterable[Mapping[str, Any]] | None) -> tuple[Signal, ...]:
    return tuple(Signal.from_mapping(s) for s in (raw or []))


def _png_html(subgraph: SubgraphPlot | None, alt: str) -> str:
    if subgraph is None:
        return ""
    from graphkit.report.html import data_uri
    from graphkit.report.plots import figure_png

    png = figure_png(subgraph, size=(6.4, 4.6), dpi=80)
    return f'<div><img alt="{esc(alt)}" src="{data_uri(png)}" style="max-width:520px"></div>'


def _draw(subgraph: SubgraphPlot | None, ax: Axes | None, what: str) -> Axes:
    if subgraph is None:
        raise ValueError(
            f"this {what} view has no subgraph: build it with dataset=... "
            f"(e.g. result.{what}(id, dataset=ds)) to draw it"
        )
    return subgraph.plot(ax=ax)


def _widget(subgraph: SubgraphPlot | None, what: str, **kwargs: Any) -> GraphView:
    if subgraph is None:
        raise ValueError(
            f"this {what} view has no subgraph: build it with dataset=... to open the widget"
        )
    from graphkit.widgets import GraphView

    return GraphView.from_subgraph(subgraph, **kwargs)


@dataclass(frozen=True)
class FindingView:
    """One finding, ready to read.

    Attributes mirror the findings table (``graphkit.findings.FINDINGS_SCHEMA``);
    lists are tuples, ``signals`` are :class:`Signal`, ``evidence`` is
    ``((kind, id), ...)``. ``subgraph`` is the drawn case subgraph when the
    view was built with the dataset.
    """

    finding_id: str
    rule_id: str
    policy: str | None
    severity: str | None
    score: float | None
    group_id: str | None
    subject_ids: tuple[str, ...]
    evidence_ids: tuple[str, ...]
    recommended_action: str | None
    explanation: str | None
    signals: tuple[Signal, ...] = ()
    evidence: tuple[tuple[str, str], ...] = ()
    section: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    subgraph: SubgraphPlot | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_row(
        cls, row: Mapping[str, Any], *, subgraph: SubgraphPlot | None = None
    ) -> FindingView:
        """Build from one findings row (a dict, as from ``iter_rows(named=True)``)."""
        ev = row.get("evidence") or []
        return cls(
            finding_id=str(row["finding_id"]),
            rule_id=str(row.get("rule_id")),
            policy=row.get("policy"),
            severity=row.get("severity"),
            score=row.get("score"),
            group_id=row.get("group_id"),
            subject_ids=tuple(row.get("subject_ids") or ()),
            evidence_ids=tuple(row.get("evidence_ids") or ()),
            recommended_action=row.get("recommended_action"),
            explanation=row.get("explanation"),
            signals=_signals(row.get("signals")),
            evidence=tuple((str(e.get("kind")), str(e.get("id"))) for e in ev),
            section=row.get("section"),
            first_seen=row.get("first_seen"),
            last_seen=row.get("last_seen"),
            subgraph=subgraph,
        )

    def plot(self, ax: Axes | None = None) -> Axes:
        """Draw the finding's subgraph with matplotlib (the static fallback of ``widget``)."""
        return _draw(self.subgraph, ax, "finding")

    def widget(self, **kwargs: Any) -> GraphView:
        """Open the subgraph in the interactive :class:`graphkit.widgets.GraphView`."""
        return _widget(self.subgraph, "finding", **kwargs)

    def __repr__(self) -> str:
        when = ""
        if self.first_seen is not None:
            when = f"\n  seen: {self.first_seen.isoformat()} .. "
            when += self.last_seen.isoformat() if self.last_seen is not None else "?"
        return (
            f"<Finding {plain(self.finding_id)}: {plain(self.policy)} "
            f"[{plain(self.severity)}, score {num(self.score)}] "
            f"-> {plain(self.recommended_action)}>\n"
            f"  subjects ({len(self.subject_ids)}): {ids_text(self.subject_ids)}\n"
            f"  evidence ({len(self.evidence_ids)}): {ids_text(self.evidence_ids, limit=6)}"
            + (f"\n  group: {plain(self.group_id)}" if self.group_id else "")
            + when
            + f"\n  explanation:\n{wrap(self.explanation)}\n  signals:\n"
            + signals_text([s.as_dict() for s in self.signals])
        )

    def _repr_html_(self) -> str:
        when = ""
        if self.first_seen is not None:
            last = self.last_seen.isoformat() if self.last_seen is not None else "?"
            when = f" · seen {esc(self.first_seen.isoformat())} .. {esc(last)}"
        group = f" · group <code>{esc(self.group_id)}</code>" if self.group_id else ""
        return (
            f'<div class="graphkit-finding" style="{_BOX}">'
            f"<div>{severity_badge(self.severity)} <b>{esc(self.policy)}</b> "
            f"<code>{esc(self.finding_id)}</code> score <b>{esc(num(self.score))}</b>, "
            f"recommended action <b>{esc(self.recommended_action)}</b></div>"
            f'<div style="{_MUTED}">rule <code>{esc(self.rule_id)}</code> · policy section '
            f"{esc(self.section)}{group}{when}</div>"
            f"<p>{esc(self.explanation)}</p>"
            f"<div><b>Subjects</b> ({len(self.subject_ids):,}): {ids_html(self.subject_ids)}</div>"
            f"<div><b>Evidence</b> ({len(self.evidence_ids):,}): "
            f"{ids_html(self.evidence_ids, limit=20)}</div>"
            f"<div><b>Signals</b></div>{signals_html([s.as_dict() for s in self.signals])}"
            + _png_html(self.subgraph, f"subgraph of {self.finding_id}")
            + "</div>"
        )


@dataclass(frozen=True)
class GroupView:
    """One detected group (ring / linked-account cluster) with the findings about it."""

    group_id: str
    kind: str | None
    member_ids: tuple[str, ...]
    seller_ids: tuple[str, ...]
    score: float | None
    signals: tuple[Signal, ...] = ()
    findings: tuple[FindingView, ...] = ()
    subgraph: SubgraphPlot | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_row(
        cls,
        row: Mapping[str, Any],
        *,
        findings: Iterable[FindingView] = (),
        subgraph: SubgraphPlot | None = None,
    ) -> GroupView:
        """Build from one groups row (a dict)."""
        return cls(
            group_id=str(row["group_id"]),
            kind=row.get("kind"),
            member_ids=tuple(row.get("member_ids") or ()),
            seller_ids=tuple(row.get("seller_ids") or ()),
            score=row.get("score"),
            signals=_signals(row.get("signals")),
            findings=tuple(findings),
            subgraph=subgraph,
        )

    def plot(self, ax: Axes | None = None) -> Axes:
        """Draw the group's subgraph with matplotlib (the static fallback of ``widget``)."""
        return _draw(self.subgraph, ax, "group")

    def widget(self, **kwargs: Any) -> GraphView:
        """Open the subgraph in the interactive :class:`graphkit.widgets.GraphView`."""
        return _widget(self.subgraph, "group", **kwargs)

    def __repr__(self) -> str:
        found = "".join(
            f"\n    {plain(f.finding_id)} [{plain(f.severity)}, {num(f.score)}]"
            for f in self.findings
        )
        return (
            f"<Group {plain(self.group_id)}: {plain(self.kind)}, score {num(self.score)}, "
            f"{len(self.member_ids)} members, {len(self.seller_ids)} sellers>\n"
            f"  sellers: {ids_text(self.seller_ids)}\n"
            f"  members: {ids_text(self.member_ids)}\n  signals:\n"
            + signals_text([s.as_dict() for s in self.signals])
            + (f"\n  findings ({len(self.findings)}):{found}" if self.findings else "")
        )

    def _repr_html_(self) -> str:
        found = "".join(
            f"<li>{severity_badge(f.severity)} <code>{esc(f.finding_id)}</code> "
            f"{esc(f.policy)}, score {esc(num(f.score))}</li>"
            for f in self.findings
        )
        return (
            f'<div class="graphkit-group" style="{_BOX}">'
            f"<div><b>Group</b> <code>{esc(self.group_id)}</code> ({esc(self.kind)}), "
            f"score <b>{esc(num(self.score))}</b></div>"
            f"<div><b>Sellers</b> ({len(self.seller_ids):,}): {ids_html(self.seller_ids)}</div>"
            f"<div><b>Members</b> ({len(self.member_ids):,}): {ids_html(self.member_ids)}</div>"
            f"<div><b>Signals</b></div>{signals_html([s.as_dict() for s in self.signals])}"
            + (f"<div><b>Findings</b></div><ul>{found}</ul>" if found else "")
            + _png_html(self.subgraph, f"subgraph of {self.group_id}")
            + "</div>"
        )


def case_subgraph(
    dataset: Dataset,
    *,
    account_ids: Iterable[str],
    evidence: Iterable[Mapping[str, str]] = (),
    seller_ids: Iterable[str] = (),
    seed: int = 0,
    max_nodes: int = 150,
    title: str = "",
) -> SubgraphPlot:
    """Compute a case's subgraph the way the report and the evidence bag do.

    Selects the case's rows with :func:`graphkit.report.case_rows` (semi-joins
    in polars), marks the orders its evidence names, and lays the picture out
    with :func:`graphkit.report.plots.subgraph_plot`.

    Parameters
    ----------
    dataset
        The dataset the scan ran on.
    account_ids
        The case's accounts.
    evidence
        Typed evidence ``[{"kind": ..., "id": ...}, ...]``.
    seller_ids
        Accounts to draw as sellers.
    seed, max_nodes, title
        Passed to ``subgraph_plot``.

    Returns
    -------
    SubgraphPlot

    Examples
    --------
    >>> p = case_subgraph(ds, account_ids=["s1", "b1"])  # doctest: +SKIP
    >>> p.nodes.height  # doctest: +SKIP
    2
    """
    from graphkit.report.cases import case_rows, evidence_order_ids
    from graphkit.report.plots import subgraph_plot

    accounts = sorted(set(account_ids) | set(seller_ids))
    ev = list(evidence)
    rows = case_rows(dataset.tables, account_ids=accounts, evidence=ev)
    return subgraph_plot(
        rows["orders"],
        account_ids=accounts,
        seller_ids=seller_ids,
        evidence_ids=sorted(evidence_order_ids(rows, ev)),
        seed=seed,
        max_nodes=max_nodes,
        title=title,
    )


def _rows(findings: pl.DataFrame, mask: pl.Expr) -> list[dict[str, Any]]:
    return findings.filter(mask).sort("finding_id").to_dicts()


def _evidence_dicts(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [dict(e) for r in rows for e in (r.get("evidence") or [])]


def finding(
    result: Any, finding_id: str, *, dataset: Dataset | None = None, seed: int = 0
) -> FindingView:
    """Return the view of one finding of a scan result (or loaded run).

    Parameters
    ----------
    result
        Anything with a ``findings`` table (``ScanResult``, ``Run``).
    finding_id
        The finding's id.
    dataset
        When given, the view also holds the case's drawn subgraph.
    seed
        Layout seed of the subgraph.

    Returns
    -------
    FindingView

    Raises
    ------
    KeyError
        When no finding has that id (the message names a few that exist).

    Examples
    --------
    >>> view = finding(result, "SHILL_PURCHASE-c0a8e93f1a7b", dataset=ds)  # doctest: +SKIP
    >>> view.severity  # doctest: +SKIP
    'critical'
    """
    rows = _rows(result.findings, pl.col("finding_id") == finding_id)
    if not rows:
        known = result.findings["finding_id"].head(3).to_list()
        raise KeyError(f"no finding {finding_id!r} in this result (e.g. {known})")
    row = rows[0]
    sub = None
    if dataset is not None:
        sub = case_subgraph(
            dataset,
            account_ids=row.get("subject_ids") or [],
            evidence=_evidence_dicts(rows),
            seed=seed,
            title=f"{row.get('rule_id')}: {finding_id}",
        )
    return FindingView.from_row(row, subgraph=sub)


def group(
    result: Any, group_id: str, *, dataset: Dataset | None = None, seed: int = 0
) -> GroupView:
    """Return the view of one group of a scan result, with the findings about it.

    A finding is about the group when it cites the group's id, or when every one
    of its subjects is a member or seller of the group.

    Parameters
    ----------
    result
        Anything with ``groups`` and ``findings`` tables.
    group_id
        The group's id.
    dataset
        When given, the view also holds the group's drawn subgraph (members,
        sellers and the orders the findings about it cite as evidence).
    seed
        Layout seed of the subgraph.

    Returns
    -------
    GroupView

    Raises
    ------
    KeyError
        When no group has that id.

    Examples
    --------
    >>> g = group(result, result.groups["group_id"][0], dataset=ds)  # doctest: +SKIP
    >>> g.plot()  # doctest: +SKIP
    """
    matches = result.groups.filter(pl.col("group_id") == group_id).to_dicts()
    if not matches:
        known = result.groups["group_id"].head(3).to_list()
        raise KeyError(f"no group {group_id!r} in this result (e.g. {known})")
    row = matches[0]
    accounts = pl.Series(
        sorted(set(row.get("member_ids") or []) | set(row.get("seller_ids") or [])),
        dtype=pl.String,
    )
    inside = pl.col("subject_ids").list.eval(pl.element().is_in(pl.lit(accounts).implode()))
    about = (pl.col("group_id") == group_id).fill_null(False) | (
        (pl.col("subject_ids").list.len() > 0) & inside.list.all()
    )
    cited = _rows(result.findings, about)
    sub = None
    if dataset is not None:
        sub = case_subgraph(
            dataset,
            account_ids=row.get("member_ids") or [],
            seller_ids=row.get("seller_ids") or [],
            evidence=_evidence_dicts(cited),
            seed=seed,
            title=f"group {group_id}",
        )
    return GroupView.from_row(row, findings=[FindingView.from_row(r) for r in cited], subgraph=sub)
