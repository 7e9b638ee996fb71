"""The self-contained HTML report of a run.

:func:`render_report` turns a :class:`~graphkit.report.run.Run` (and, when
given, its dataset and the change since the previous run) into one HTML
string; :func:`write_report` writes it as ``report.html`` in the run folder.

The page opens anywhere without a network: CSS is inline, plots are SVG images
in ``data:`` URIs (drawn by :func:`graphkit.report.plots.figure_svg`, no
matplotlib; an SVG shown as an image runs nothing), there is no script, and a
Content-Security-Policy forbids loading anything else. Every value from the
data goes through Jinja2's autoescaping (and XML escaping inside the SVGs), so
a message holding ``<script>`` shows as text.

Examples
--------
>>> from graphkit.report import write_report
>>> write_report("runs/2026-03-01")  # doctest: +SKIP
PosixPath('runs/2026-03-01/report.html')
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from graphkit.errors import GraphkitError
from graphkit.findings import SEVERITIES
from graphkit.report.cases import case_rows, evidence_order_ids, is_in
from graphkit.report.run import Run, input_hashes, load_run, not_evaluated

if TYPE_CHECKING:
    import jinja2

    from graphkit.dataset import Dataset
    from graphkit.report.history import HistoryDiff

_ALL = "\x00all implicated"  # a cohort key no group id can be
_EMPTY_ORDERS = pl.DataFrame(
    schema={"order_id": pl.String, "buyer_id": pl.String, "seller_id": pl.String}
)

__all__ = [
    "DatasetMismatchError",
    "check_dataset",
    "policy_quotes",
    "render_report",
    "write_report",
]

#: Content-Security-Policy of every page graphkit writes: nothing but inline CSS and data: images.
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


class DatasetMismatchError(GraphkitError, ValueError):
    """The dataset's files do not hash to the SHA-256s the run recorded."""


@cache
def environment() -> jinja2.Environment:
    """Return the Jinja2 environment of graphkit's templates (autoescape on, strict)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("graphkit.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["csp"] = CSP
    return env


def data_uri(image: bytes, mime: str = "image/png") -> str:
    """Return a ``data:<mime>;base64,...`` URI for image bytes (PNG unless told)."""
    return f"data:{mime};base64," + base64.b64encode(image).decode("ascii")


def svg_uri(svg: bytes) -> str:
    """Return a ``data:image/svg+xml;base64,...`` URI (an SVG as an image runs nothing)."""
    return data_uri(svg, "image/svg+xml")


def check_dataset(run: Run, dataset: Dataset) -> None:
    """Raise :class:`DatasetMismatchError` unless ``dataset`` is the data the run read.

    Compares the SHA-256 of each table file the dataset was read from with the
    one recorded in ``run.json``; a dataset built in memory (no files) or a run
    that recorded no hashes is accepted.

    Examples
    --------
    >>> check_dataset(run, graphkit.load_dataset(run.source))  # doctest: +SKIP
    """
    recorded = input_hashes(run.meta)
    if not recorded or not dataset.files:
        return
    actual = {f.table: f.sha256 for f in dataset.files}
    bad = sorted(t for t in set(recorded) | set(actual) if recorded.get(t) != actual.get(t))
    if bad:
        lines = [
            f"  - {t}: run recorded {recorded.get(t, 'no file')}, dataset has "
            f"{actual.get(t, 'no file')}"
            for t in bad
        ]
        raise DatasetMismatchError(
            "the dataset is not the one this run was made from (SHA-256 differs):\n"
            + "\n".join(lines)
            + "\nPass the dataset folder the run was made from, or re-run `graphkit scan`."
        )


def policy_quotes(rule_ids: Sequence[str], findings: pl.DataFrame) -> dict[str, dict[str, str]]:
    """Return ``{rule_id: {title, section, text}}`` quoted from the policy registry.

    Falls back on the findings' ``policy``/``section`` columns for rules the
    registry does not know (or when it cannot be loaded).

    Examples
    --------
    >>> policy_quotes(["UNPAID_ITEMS"], empty_findings())["UNPAID_ITEMS"]["title"]  # doctest: +SKIP
    'Policy on Unpaid Items'
    """
    texts: Mapping[str, Any] = {}
    try:
        from graphkit.policy.registry import policy_texts

        texts = policy_texts()
    except (ImportError, OSError, KeyError, ValueError):
        texts = {}
    first = (
        findings.select("rule_id", "policy", "section")
        .unique("rule_id", keep="first", maintain_order=True)
        .rows()
    )
    from_findings = {r: (p or r, s or "") for r, p, s in first}
    out: dict[str, dict[str, str]] = {}
    for rid in rule_ids:
        t = texts.get(rid)
        if t is not None:
            out[rid] = {"title": t.title, "section": t.section, "text": t.text}
        else:
            title, section = from_findings.get(rid, (rid, ""))
            out[rid] = {"title": title, "section": section, "text": ""}
    return out


def _fmt_signal(s: Mapping[str, Any]) -> str:
    def num(v: object) -> str:
        return "" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)

    text = f"{s['name']} = {num(s['value'])}"
    if s.get("threshold") is not None:
        text += f" (threshold {num(s['threshold'])})"
    if s.get("contribution") is not None:
        text += f", contributes {num(s['contribution'])}"
    if s.get("detail"):
        text += f": {s['detail']}"
    return text


def _capped(ids: Sequence[str] | None, n: int) -> str:
    ids = list(ids or [])
    more = f" … (+{len(ids) - n} more)" if len(ids) > n else ""
    return ", ".join(ids[:n]) + more


def _policy_summary(
    run: Run, quotes: Mapping[str, Mapping[str, str]], history: HistoryDiff | None
) -> list[dict[str, Any]]:
    f = run.findings
    counts = (
        f.group_by("rule_id")
        .agg(
            [(pl.col("severity") == s).sum().cast(pl.Int64).alias(s) for s in SEVERITIES]
            + [
                pl.len().cast(pl.Int64).alias("total"),
                pl.col("subject_ids")
                .list.explode(keep_nulls=False, empty_as_null=False)
                .n_unique()
                .cast(pl.Int64)
                .alias("accounts"),
            ]
        )
        .sort("rule_id")
    )
    by_rule = {r["rule_id"]: r for r in counts.to_dicts()}
    skipped = dict(not_evaluated(run.meta))
    changes: dict[str, dict[str, int]] = {}
    if history is not None:
        changes = history.finding_counts_by_rule()
    rows = []
    for rid in sorted(set(by_rule) | set(quotes) | set(skipped)):
        c = by_rule.get(rid, {})
        rows.append(
            {
                "rule_id": rid,
                "title": quotes.get(rid, {}).get("title", rid),
                "section": quotes.get(rid, {}).get("section", ""),
                "severities": [int(c.get(s, 0)) for s in SEVERITIES],
                "total": int(c.get("total", 0)),
                "accounts": int(c.get("accounts", 0)),
                "status": skipped.get(rid, "evaluated"),
                "evaluated": rid not in skipped,
                "changes": changes.get(rid),
            }
        )
    return rows


def _findings_rows(findings: pl.DataFrame, max_rows: int) -> list[dict[str, Any]]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    top = (
        findings.with_columns(
            _rank=pl.col("severity").replace_strict(rank, default=-1, return_dtype=pl.Int64)
        )
        .sort(["_rank", "score", "finding_id"], descending=[True, True, False])
        .head(max_rows)
        # only what is shown crosses into Python (evidence lists can be long)
        .select(
            "finding_id",
            "rule_id",
            "severity",
            "score",
            "recommended_action",
            "group_id",
            "explanation",
            "signals",
            n_evidence=pl.col("evidence_ids").list.len().fill_null(0),
            n_subjects=pl.col("subject_ids").list.len().fill_null(0),
            subject_ids=pl.col("subject_ids").list.head(5),
        )
    )
    rows = []
    for r in top.iter_rows(named=True):
        rows.append(
            {
                "finding_id": r["finding_id"],
                "rule_id": r["rule_id"],
                "severity": r["severity"],
                "score": f"{r['score']:.3f}" if r["score"] is not None else "",
                "action": r["recommended_action"],
                "group_id": r["group_id"] or "",
                "subjects": ", ".join(r["subject_ids"] or [])
                + (f" … (+{r['n_subjects'] - 5} more)" if r["n_subjects"] > 5 else ""),
                "n_evidence": r["n_evidence"],
                "explanation": r["explanation"] or "",
                "signals": [_fmt_signal(s) for s in (r["signals"] or [])],
            }
        )
    return rows


#: The tables and columns a group panel reads (subgraph, timeline, messages, evidence orders).
_PANEL_COLUMNS: dict[str, frozenset[str]] = {
    "orders": frozenset({"order_id", "buyer_id", "seller_id", "amount", "created_at"}),
    "feedback": frozenset({"feedback_id", "order_id", "created_at"}),
    "messages": frozenset({"message_id", "sender_id", "recipient_id", "sent_at", "text"}),
    "disputes": frozenset({"case_id", "order_id", "opened_at"}),
    "refunds": frozenset({"refund_id", "order_id"}),
}


def _group_sections(
    run: Run,
    dataset: Dataset | None,
    *,
    top_groups: int,
    seed: int,
    max_messages: int,
    ratings: Mapping[str, Any],
) -> list[dict[str, Any]]:
    from graphkit.report.plots import figure_svg, subgraph_plot, timeline_plot

    groups = _top_groups(run, top_groups)
    if groups.height == 0:
        return []
    gf = run.findings.filter(is_in("group_id", groups["group_id"]))
    ev_by_group = {
        g: [e for lst in sub["evidence"].to_list() for e in (lst or [])]
        for (g,), sub in gf.group_by("group_id", maintain_order=True)
    }
    narrowed: dict[str, pl.DataFrame] = {}
    if dataset is not None:
        all_accts = set(groups["member_ids"].explode().drop_nulls().to_list()) | set(
            groups["seller_ids"].explode().drop_nulls().to_list()
        )
        all_ev = [e for lst in ev_by_group.values() for e in lst]
        # the panels draw orders, feedback, messages and cases (and find evidence orders
        # through refunds): only those tables, and only the columns drawn, are read
        drawn = {
            name: lf.select([c for c in lf.collect_schema().names() if c in cols])
            for name, lf in dataset.tables.items()
            if (cols := _PANEL_COLUMNS.get(name)) is not None
        }
        narrowed = case_rows(drawn, account_ids=all_accts, evidence=all_ev)
    sections = []
    for g in groups.iter_rows(named=True):
        gid = g["group_id"]
        members = list(g["member_ids"] or [])
        sellers = list(g["seller_ids"] or [])
        findings = gf.filter(pl.col("group_id") == gid).sort("finding_id")
        section: dict[str, Any] = {
            "group_id": gid,
            "kind": g["kind"],
            "score": f"{g['score']:.3f}" if g["score"] is not None else "",
            "n_members": len(members),
            "n_sellers": len(sellers),
            "members": _capped(sorted(members), 40),
            "sellers": _capped(sorted(sellers), 20),
            "signals": [_fmt_signal(s) for s in (g["signals"] or [])],
            "findings": findings.select(
                "finding_id", "rule_id", "severity", "recommended_action"
            ).to_dicts(),
            "panel_png": None,
            "messages": [],
            "n_messages": 0,
        }
        if narrowed:
            rows = case_rows(
                narrowed, account_ids=set(members) | set(sellers), evidence=ev_by_group.get(gid, [])
            )
            ev_orders = evidence_order_ids(rows, ev_by_group.get(gid, []))
            sg = subgraph_plot(
                rows.get("orders", _EMPTY_ORDERS),
                account_ids=set(members) | set(sellers),
                seller_ids=sellers,
                evidence_ids=ev_orders,
                seed=seed,
                title=f"{gid}: orders among members",
            )
            tl = timeline_plot(rows, title="activity")
            # one figure per group, drawn as SVG (no matplotlib: see graphkit.report.svg)
            if gid in ratings and gid != _ALL:
                svg = figure_svg(sg, tl, ratings[gid], size=(15.0, 3.8), widths=(1.1, 1.0, 1.2))
            else:
                svg = figure_svg(sg, tl, size=(11.0, 3.8), widths=(1.2, 1.0))
            section["panel_png"] = svg_uri(svg)
            if "messages" in rows:
                msgs = rows["messages"].sort("sent_at", "message_id")
                section["n_messages"] = msgs.height
                section["messages"] = [
                    {
                        "message_id": m["message_id"],
                        "sent_at": str(m["sent_at"]),
                        "sender_id": m["sender_id"],
                        "recipient_id": m["recipient_id"],
                        "text": _truncate(m.get("text") or "", 400),
                    }
                    for m in msgs.head(max_messages).iter_rows(named=True)
                ]
        sections.append(section)
    return sections


def _top_groups(run: Run, n: int) -> pl.DataFrame:
    return run.groups.sort(["score", "group_id"], descending=[True, False]).head(n)


def _truncate(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def render_report(
    run: Run | str | Path,
    *,
    dataset: Dataset | None = None,
    history: HistoryDiff | None = None,
    top_groups: int = 8,
    max_rows: int = 500,
    max_messages: int = 10,
    group_ratings: bool = False,
    seed: int = 0,
) -> str:
    """Render the self-contained HTML report of a run.

    Parameters
    ----------
    run
        A loaded :class:`Run` or a run folder.
    dataset
        The dataset the run was made from; needed for the drawn subgraphs,
        timelines, messages and rating distributions (without it the report
        says so and shows the findings only). Its files must hash to the
        run's recorded SHA-256s.
    history
        The change since the previous run (:func:`graphkit.report.history.diff_runs`);
        adds the "since the previous run" section and per-policy trend columns.
    top_groups
        How many groups (highest score first) get a drawn section.
    max_rows
        Findings shown in the table (most severe first); the rest are counted.
    max_messages
        Messages shown per group.
    group_ratings
        Also draw, in each top group's panel, the ratings its sellers received
        against the population (one more plot per group: slower).
    seed
        Layout seed of the subgraph drawings.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    DatasetMismatchError
        When ``dataset`` is not the data the run recorded.

    Examples
    --------
    >>> html = render_report("runs/2026-03-01")  # doctest: +SKIP
    >>> "http" in html  # doctest: +SKIP
    False
    """
    from graphkit.report.plots import (
        DistributionPlot,
        figure_svg,
        findings_trend_plot,
        rating_distribution_plots,
    )

    run = run if isinstance(run, Run) else load_run(run)
    if dataset is not None:
        check_dataset(run, dataset)
    rule_ids = sorted(set(run.findings["rule_id"].to_list()))
    quotes = policy_quotes(
        sorted(set(rule_ids) | {r for r, _ in not_evaluated(run.meta)}), run.findings
    )
    try:
        from graphkit.policy.registry import checks

        for c in checks():
            quotes.setdefault(c.rule_id, policy_quotes([c.rule_id], run.findings)[c.rule_id])
    except (ImportError, OSError, KeyError, ValueError):
        pass
    implicated = set(run.groups["seller_ids"].explode().drop_nulls().to_list()) | set(
        run.findings["subject_ids"].explode().drop_nulls().to_list()
    )
    distribution_png = None
    ratings: dict[str, Any] = {}
    if dataset is not None and implicated:
        # one pass: every implicated seller, and each top group's sellers, vs the population
        cohorts = {
            gid: sellers
            for gid, sellers in _top_groups(run, top_groups).select("group_id", "seller_ids").rows()
            if sellers and group_ratings
        }
        ratings = rating_distribution_plots(
            dataset.feedback,
            dataset.orders,
            cohorts={**cohorts, _ALL: sorted(implicated)},
            population_excludes=implicated,
            title="ratings received: its sellers vs non-implicated sellers",
        )
    groups = _group_sections(
        run,
        dataset,
        top_groups=top_groups,
        seed=seed,
        max_messages=max_messages,
        ratings=ratings,
    )
    if _ALL in ratings:
        dist = DistributionPlot(
            ratings[_ALL].counts,
            "Ratings and DSRs received: implicated sellers vs all other sellers",
        )
        distribution_png = svg_uri(figure_svg(dist, size=(7.5, 3.0)))
    trend_png = None
    if run.findings["first_seen"].drop_nulls().len():
        trend_png = svg_uri(figure_svg(findings_trend_plot(run.findings), size=(7.0, 2.6)))
    meta = run.meta
    context = {
        "run_name": run.name,
        "as_of": run.as_of or "unknown",
        "version": run.version or "unknown",
        "seed": meta.get("seed", ""),
        "inputs": sorted(input_hashes(meta).items()),
        "row_counts": sorted((meta.get("row_counts") or {}).items()),
        "timings": sorted((meta.get("timings") or {}).items()),
        "parameters": _truncate(
            json.dumps(meta.get("parameters", {}), sort_keys=True, indent=1, default=str), 20_000
        ),
        "n_findings": run.findings.height,
        "n_groups": run.groups.height,
        "n_accounts_flagged": run.account_scores.filter(pl.col("risk_score") > 0).height,
        "summary": _policy_summary(run, quotes, history),
        "severities": list(SEVERITIES),
        "not_evaluated": not_evaluated(meta),
        "trend_png": trend_png,
        "history": history.as_context() if history is not None else None,
        "groups": groups,
        "n_groups_hidden": max(run.groups.height - len(groups), 0),
        "has_dataset": dataset is not None,
        "distribution_png": distribution_png,
        "findings": _findings_rows(run.findings, max_rows),
        "n_findings_hidden": max(run.findings.height - max_rows, 0),
        "quotes": [{"rule_id": r, **quotes[r]} for r in rule_ids if r in quotes],
    }
    return environment().get_template("report.html").render(**context)


def write_report(
    run_dir: str | Path,
    *,
    dataset: Dataset | None = None,
    history: HistoryDiff | None = None,
    **options: Any,
) -> Path:
    """Render the report of ``run_dir`` and write it atomically as ``run_dir/report.html``.

    Parameters
    ----------
    run_dir
        The run folder written by ``graphkit scan``.
    dataset
        The dataset of the run (see :func:`render_report`).
    history
        The change since the previous run, if known.
    **options
        Passed on to :func:`render_report` (``top_groups``, ``max_rows``, ...).

    Returns
    -------
    Path
        The path of ``report.html``.

    Examples
    --------
    >>> write_report("runs/2026-03-01", dataset=ds)  # doctest: +SKIP
    PosixPath('runs/2026-03-01/report.html')
    """
    from graphkit.io import atomic_write

    html = render_report(load_run(run_dir), dataset=dataset, history=history, **options)
    target = Path(run_dir) / "report.html"
    with atomic_write(target) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return target
