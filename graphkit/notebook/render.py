r"""HTML and plain-text renderings of findings, groups and scan results.

Everything that comes from the data (ids, explanations, signal details,
policy titles) is untrusted: in HTML it passes through :func:`html.escape`
(quotes included), in plain text its control characters (ANSI escapes,
carriage returns) are replaced, so neither a notebook nor a terminal can be
made to run or redraw anything by a crafted account id or message.

The functions take plain values or frames, never a kernel or a widget, so the
same text serves notebooks, terminals and tests.

Examples
--------
>>> from graphkit.notebook.render import esc, plain
>>> esc('<b onclick="x">')
'&lt;b onclick=&quot;x&quot;&gt;'
>>> plain("bell\x07 and\nnewline") == "bell\ufffd and newline"
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

import polars as pl

__all__ = [
    "SEVERITY_COLORS",
    "esc",
    "findings_table_html",
    "groups_table_html",
    "ids_html",
    "ids_text",
    "num",
    "plain",
    "scan_html",
    "scan_text",
    "severity_badge",
    "signals_html",
    "signals_text",
    "wrap",
]

#: Badge colours per severity (white text on each).
SEVERITY_COLORS: dict[str, str] = {
    "critical": "#7b1010",
    "high": "#d62728",
    "medium": "#c55a00",
    "low": "#6b6b6b",
}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BOX = "font-family:sans-serif;font-size:13px;line-height:1.35;max-width:1100px"
_TABLE = "border-collapse:collapse;font-size:12px;margin:4px 0"
_CELL = "border-bottom:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top"
_MUTED = "color:#666"


def esc(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute (``None`` -> empty).

    Examples
    --------
    >>> esc(None), esc("a&b")
    ('', 'a&amp;b')
    """
    return "" if value is None else escape(str(value), quote=True)


def plain(value: object) -> str:
    r"""Make any value safe for a terminal line: newlines/tabs -> space, controls -> U+FFFD.

    Examples
    --------
    >>> plain("\x1b[31mred") == "\ufffd[31mred"
    True
    """
    if value is None:
        return ""
    text = str(value).replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    return _CONTROL.sub("\ufffd", text)


def wrap(text: object, *, indent: str = "    ", hanging: str = "", width: int = 100) -> str:
    """Return terminal-safe text wrapped at ``width`` columns, every line indented.

    ``hanging`` is added to the indent of the continuation lines.

    Examples
    --------
    >>> print(wrap("a b c", indent="  ", width=5))
      a b
      c
    """
    import textwrap

    return textwrap.fill(
        plain(text),
        width=width,
        initial_indent=indent,
        subsequent_indent=indent + hanging,
        break_long_words=False,
        break_on_hyphens=False,
    )


def num(value: object) -> str:
    """Format a number compactly (3 significant digits; integers as integers; ``None`` -> -).

    Examples
    --------
    >>> num(0.123456), num(6.0), num(None), num(1234567)
    ('0.123', '6', '-', '1,234,567')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _cap(ids: Sequence[str] | None, limit: int) -> tuple[list[str], int]:
    ids = list(ids or [])
    return ids[:limit], max(len(ids) - limit, 0)


def ids_html(ids: Sequence[str] | None, *, limit: int = 12) -> str:
    """Render ids as escaped ``<code>`` items, with a ``+N more`` note past ``limit``.

    Examples
    --------
    >>> ids_html(["a", "<b>"], limit=1)
    '<code>a</code> <span style="color:#666">+1 more</span>'
    """
    shown, more = _cap(ids, limit)
    out = " ".join(f"<code>{esc(i)}</code>" for i in shown)
    if more:
        out += f' <span style="{_MUTED}">+{more:,} more</span>'
    return out or f'<span style="{_MUTED}">none</span>'


def ids_text(ids: Sequence[str] | None, *, limit: int = 8) -> str:
    """Render ids as a comma-separated terminal-safe line, with ``(+N more)``.

    Examples
    --------
    >>> ids_text(["a", "b", "c"], limit=2)
    'a, b (+1 more)'
    """
    shown, more = _cap(ids, limit)
    out = ", ".join(plain(i) for i in shown)
    return (out + f" (+{more:,} more)" if more else out) or "none"


def severity_badge(severity: str | None) -> str:
    """Return a coloured, escaped badge for a severity.

    Examples
    --------
    >>> "high" in severity_badge("high")
    True
    """
    color = SEVERITY_COLORS.get(str(severity), "#444")
    return (
        f'<span style="background:{color};color:#fff;border-radius:3px;padding:0 5px;'
        f'font-size:11px">{esc(severity)}</span>'
    )


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Build a table from *already escaped* cells."""
    th = "".join(f'<th style="{_CELL}">{h}</th>' for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{c}</td>' for c in r) + "</tr>" for r in rows
    )
    return f'<table style="{_TABLE}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def signals_html(signals: Iterable[Mapping[str, Any]] | None) -> str:
    """Render named signals (name, value, threshold, contribution, detail) as a table.

    Examples
    --------
    >>> "<td" in signals_html([{"name": "x", "value": 1.0, "threshold": None,
    ...                         "contribution": 0.5, "detail": "d"}])
    True
    """
    rows = [
        (
            f"<code>{esc(s.get('name'))}</code>",
            esc(num(s.get("value"))),
            esc(num(s.get("threshold"))),
            esc(num(s.get("contribution"))),
            esc(s.get("detail")),
        )
        for s in (signals or [])
    ]
    if not rows:
        return f'<div style="{_MUTED}">no signals recorded</div>'
    return _table(("signal", "value", "threshold", "contribution", "detail"), rows)


def signals_text(signals: Iterable[Mapping[str, Any]] | None, *, indent: str = "    ") -> str:
    """Render named signals one per line (terminal-safe).

    Examples
    --------
    >>> signals_text([{"name": "x", "value": 2.0, "threshold": 1.0,
    ...                "contribution": None, "detail": None}])
    '    x = 2 (threshold 1)'
    """
    lines = []
    for s in signals or []:
        line = f"{plain(s.get('name'))} = {num(s.get('value'))}"
        if s.get("threshold") is not None:
            line += f" (threshold {num(s.get('threshold'))})"
        if s.get("contribution") is not None:
            line += f" -> +{num(s.get('contribution'))}"
        if s.get("detail"):
            line += f": {plain(s.get('detail'))}"
        lines.append(wrap(line, indent=indent, hanging="    "))
    return "\n".join(lines) if lines else f"{indent}(no signals)"


def _truncate(text: object, n: int) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def findings_table_html(findings: pl.DataFrame, *, max_rows: int = 15) -> str:
    """Render the top findings (by score, then id) as an escaped HTML table.

    Examples
    --------
    >>> from graphkit.findings import empty_findings
    >>> "no findings" in findings_table_html(empty_findings())
    True
    """
    if findings.height == 0:
        return f'<div style="{_MUTED}">no findings</div>'
    top = findings.sort(["score", "finding_id"], descending=[True, False]).head(max_rows)
    rows = [
        (
            f'<code style="white-space:nowrap">{esc(r["finding_id"])}</code>',
            severity_badge(r["severity"]),
            esc(num(r["score"])),
            ids_html(r["subject_ids"], limit=4),
            esc(r["recommended_action"]),
            esc(_truncate(r["explanation"], 220)),
        )
        for r in top.iter_rows(named=True)
    ]
    more = findings.height - top.height
    note = f'<div style="{_MUTED}">… {more:,} more findings</div>' if more > 0 else ""
    head = ("finding", "severity", "score", "subjects", "action", "explanation")
    return _table(head, rows) + note


def groups_table_html(groups: pl.DataFrame, *, max_rows: int = 10) -> str:
    """Render the top groups (by score, then id) as an escaped HTML table.

    Examples
    --------
    >>> from graphkit.findings import empty_groups
    >>> "no groups" in groups_table_html(empty_groups())
    True
    """
    if groups.height == 0:
        return f'<div style="{_MUTED}">no groups detected</div>'
    top = groups.sort(["score", "group_id"], descending=[True, False]).head(max_rows)
    rows = [
        (
            f'<code style="white-space:nowrap">{esc(r["group_id"])}</code>',
            esc(r["kind"]),
            esc(num(r["score"])),
            esc(num(len(r["member_ids"] or []))),
            ids_html(r["seller_ids"], limit=4),
        )
        for r in top.iter_rows(named=True)
    ]
    more = groups.height - top.height
    note = f'<div style="{_MUTED}">… {more:,} more groups</div>' if more > 0 else ""
    return _table(("group", "kind", "score", "members", "sellers"), rows) + note


def _per_rule(findings: pl.DataFrame, rules: Sequence[str]) -> pl.DataFrame:
    """Per rule id: findings by severity (0 for rules without findings)."""
    counts = findings.group_by("rule_id").agg(
        findings=pl.len().cast(pl.Int64),
        **{s: (pl.col("severity") == s).sum().cast(pl.Int64) for s in SEVERITY_COLORS},
    )
    names = sorted(set(rules) | set(findings["rule_id"].to_list()))
    base = pl.DataFrame({"rule_id": names}, schema={"rule_id": pl.String})
    return (
        base.join(counts, on="rule_id", how="left")
        .with_columns(pl.exclude("rule_id").fill_null(0))
        .sort("rule_id")
    )


def _meta(result: Any) -> Mapping[str, Any]:
    """``run_info`` of a ScanResult or ``meta`` of a loaded Run."""
    for attr in ("run_info", "meta"):
        value = getattr(result, attr, None)
        if isinstance(value, Mapping):
            return value
    return {}


def _not_evaluated(result: Any) -> dict[str, str]:
    value = getattr(result, "not_evaluated", None)
    if not isinstance(value, Mapping):
        value = _meta(result).get("not_evaluated", {})
    return {str(k): str(v) for k, v in dict(value or {}).items()}


def scan_html(result: Any, *, max_rows: int = 15) -> str:
    """Render a scan result (or a loaded run) as one escaped HTML block.

    Shows the run's ``as_of``, seed and version, findings per policy and
    severity, the policies not evaluated and why, the top findings and groups.

    Parameters
    ----------
    result
        A :class:`graphkit.scan.ScanResult` or :class:`graphkit.report.Run`
        (anything with ``findings``, ``groups`` and ``run_info``/``meta``).
    max_rows
        Findings shown (groups: two thirds of it).

    Examples
    --------
    >>> from graphkit.scan import ScanResult
    >>> from graphkit.findings import empty_findings, empty_groups
    >>> r = ScanResult(empty_findings(), pl.DataFrame(), empty_groups(), {"seed": 0})
    >>> scan_html(r).startswith("<div")
    True
    """
    meta = _meta(result)
    skipped = _not_evaluated(result)
    findings: pl.DataFrame = result.findings
    groups: pl.DataFrame = result.groups
    per_rule = _per_rule(findings, [*meta.get("rules", []), *skipped])
    rows = []
    for r in per_rule.iter_rows(named=True):
        status = skipped.get(r["rule_id"])
        sev = " ".join(f"{severity_badge(s)}&nbsp;{r[s]:,}" for s in SEVERITY_COLORS if r[s])
        rows.append(
            (
                f"<code>{esc(r['rule_id'])}</code>",
                esc(num(r["findings"])),
                sev,
                f'<span style="{_MUTED}">{esc(status)}</span>' if status else "evaluated",
            )
        )
    head = (
        f"<b>graphkit scan</b>: {findings.height:,} findings, {groups.height:,} groups"
        f' <span style="{_MUTED}">as_of <code>{esc(meta.get("as_of"))}</code>, seed '
        f"<code>{esc(meta.get('seed'))}</code>, graphkit {esc(meta.get('version'))}</span>"
    )
    return (
        f'<div class="graphkit-scan" style="{_BOX}">{head}'
        + _table(("policy", "findings", "by severity", "status"), rows)
        + "<details open><summary><b>Top findings</b></summary>"
        + findings_table_html(findings, max_rows=max_rows)
        + "</details><details><summary><b>Groups</b></summary>"
        + groups_table_html(groups, max_rows=max(1, (2 * max_rows) // 3))
        + "</details></div>"
    )


def scan_text(result: Any, *, max_rows: int = 8) -> str:
    """Render a scan result (or loaded run) as a few terminal-safe lines.

    Examples
    --------
    >>> from graphkit.scan import ScanResult
    >>> from graphkit.findings import empty_findings, empty_groups
    >>> r = ScanResult(empty_findings(), pl.DataFrame(), empty_groups(), {"seed": 0})
    >>> print(scan_text(r))
    <ScanResult: 0 findings, 0 groups; as_of -, seed 0>
    """
    meta = _meta(result)
    skipped = _not_evaluated(result)
    findings: pl.DataFrame = result.findings
    name = type(result).__name__
    lines = [
        f"<{name}: {findings.height:,} findings, {result.groups.height:,} groups; "
        f"as_of {plain(meta.get('as_of') or '-')}, seed {plain(meta.get('seed'))}>"
    ]
    per_rule = _per_rule(findings, [*meta.get("rules", []), *skipped])
    for r in per_rule.iter_rows(named=True):
        if r["rule_id"] in skipped:
            lines.append(f"  {plain(r['rule_id']):24s} {plain(skipped[r['rule_id']])}")
            continue
        sev = ", ".join(f"{r[s]} {s}" for s in SEVERITY_COLORS if r[s])
        lines.append(f"  {plain(r['rule_id']):24s} {r['findings']:5,d}  {sev}")
    if findings.height:
        lines.append("  top findings:")
        top = findings.sort(["score", "finding_id"], descending=[True, False]).head(max_rows)
        for r in top.iter_rows(named=True):
            lines.append(
                f"    {plain(r['finding_id'])}  {plain(r['severity']):8s} "
                f"{num(r['score']):>5s}  {ids_text(r['subject_ids'], limit=3)}"
            )
    return "\n".join(lines)
