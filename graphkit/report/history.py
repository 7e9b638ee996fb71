"""Run history: what changed since the previous run, matched by members.

A scheduled scan records each run in one SQLite file
(:class:`graphkit.report.store.RunStore`); :func:`diff_runs` compares a run
with the one before it and reports every group and finding as
``new``, ``grown``, ``shrunk``, ``changed``, ``unchanged`` or ``gone``. Groups
and findings are matched **by their members** (finding: its subjects), never
by id, because ids change when a ring gains a member.

Matching: two sets of the same kind (group kind; finding rule id) are
candidates when they share at least ``min_overlap`` of the smaller set's
members; each side's best candidate (highest Jaccard, then most shared, then
id) is taken, and a pair is matched when it is each other's best. All of it
is a join and a group-by in polars.

Examples
--------
>>> import polars as pl
>>> prev = pl.DataFrame({"id": ["G1"], "key": ["ring"], "members": [["a", "b", "c"]]})
>>> curr = pl.DataFrame({"id": ["G9"], "key": ["ring"], "members": [["a", "b", "c", "d"]]})
>>> match_sets(prev, curr).select("id", "previous_id", "status").rows()
[('G9', 'G1', 'grown')]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from graphkit.report.run import Run

__all__ = [
    "EXIT_CLEAN",
    "EXIT_NEW_CRITICAL",
    "STATUSES",
    "HistoryDiff",
    "diff_runs",
    "match_sets",
]

#: Exit codes of ``graphkit history`` (see docs/scheduled-runs.md).
EXIT_CLEAN, EXIT_NEW_CRITICAL = 0, 3

STATUSES = ("new", "grown", "shrunk", "changed", "unchanged", "gone")

_MATCH_SCHEMA = {
    "id": pl.String,
    "previous_id": pl.String,
    "key": pl.String,
    "status": pl.String,
    "n": pl.Int64,
    "n_previous": pl.Int64,
    "shared": pl.Int64,
    "added": pl.Int64,
    "removed": pl.Int64,
    "jaccard": pl.Float64,
    "added_ids": pl.List(pl.String),
    "removed_ids": pl.List(pl.String),
}


def match_sets(
    previous: pl.DataFrame, current: pl.DataFrame, *, min_overlap: float = 0.5
) -> pl.DataFrame:
    """Match sets of members between two runs and say how each changed.

    Parameters
    ----------
    previous, current
        Frames with ``id`` (str), ``key`` (str: sets match only within a key)
        and ``members`` (list of str).
    min_overlap
        Least share of the smaller set's members two sets must share to match.

    Returns
    -------
    DataFrame
        One row per current set (``new`` when unmatched) and per unmatched
        previous set (``gone``): ``id``, ``previous_id``, ``key``, ``status``,
        ``n``, ``n_previous``, ``shared``, ``added``, ``removed``, ``jaccard``;
        sorted by status order, key, id.

    Examples
    --------
    >>> prev = pl.DataFrame({"id": ["A"], "key": ["k"], "members": [["x", "y"]]})
    >>> curr = pl.DataFrame({"id": ["B"], "key": ["k"], "members": [["p", "q"]]})
    >>> match_sets(prev, curr)["status"].to_list()
    ['new', 'gone']
    """

    def prep(df: pl.DataFrame) -> pl.DataFrame:
        return df.select(
            pl.col("id").cast(pl.String),
            pl.col("key").cast(pl.String),
            pl.col("members").cast(pl.List(pl.String)).list.unique().alias("members"),
        ).with_columns(n=pl.col("members").list.len().cast(pl.Int64))

    prev, curr = prep(previous), prep(current)
    pe = prev.select(previous_id="id", key="key", n_previous="n", account="members").explode(
        "account"
    )
    ce = curr.select("id", "key", "n", account="members").explode("account")
    pairs = (
        ce.drop_nulls("account")
        .join(pe.drop_nulls("account"), on=["key", "account"], how="inner")
        .group_by("id", "previous_id", "key", "n", "n_previous")
        .agg(shared=pl.len().cast(pl.Int64))
        .with_columns(
            jaccard=pl.col("shared") / (pl.col("n") + pl.col("n_previous") - pl.col("shared"))
        )
        .filter(pl.col("shared") >= min_overlap * pl.min_horizontal("n", "n_previous"))
    )
    order = ["jaccard", "shared", "previous_id", "id"]
    desc = [True, True, False, False]
    best_curr = pairs.sort(order, descending=desc).unique("id", keep="first")
    best_prev = pairs.sort(order, descending=desc).unique("previous_id", keep="first")
    matched = best_curr.join(best_prev.select("id", "previous_id"), on=["id", "previous_id"])
    matched = (
        matched.join(curr.select("id", "members"), on="id")
        .join(prev.select(previous_id="id", previous_members="members"), on="previous_id")
        .with_columns(
            added=pl.col("n") - pl.col("shared"),
            removed=pl.col("n_previous") - pl.col("shared"),
            added_ids=pl.col("members").list.set_difference("previous_members").list.sort(),
            removed_ids=pl.col("previous_members").list.set_difference("members").list.sort(),
        )
    ).with_columns(
        status=pl.when((pl.col("added") == 0) & (pl.col("removed") == 0))
        .then(pl.lit("unchanged"))
        .when(pl.col("n") > pl.col("n_previous"))
        .then(pl.lit("grown"))
        .when(pl.col("n") < pl.col("n_previous"))
        .then(pl.lit("shrunk"))
        .otherwise(pl.lit("changed"))
    )
    new = curr.join(matched.select("id"), on="id", how="anti").select(
        "id",
        "key",
        "n",
        previous_id=pl.lit(None, dtype=pl.String),
        status=pl.lit("new"),
        n_previous=pl.lit(0, dtype=pl.Int64),
        shared=pl.lit(0, dtype=pl.Int64),
        added="n",
        removed=pl.lit(0, dtype=pl.Int64),
        jaccard=pl.lit(0.0),
        added_ids=pl.col("members").list.sort(),
        removed_ids=pl.lit([], dtype=pl.List(pl.String)),
    )
    gone = prev.join(matched.select(id="previous_id"), on="id", how="anti").select(
        id=pl.lit(None, dtype=pl.String),
        key="key",
        n=pl.lit(0, dtype=pl.Int64),
        previous_id="id",
        status=pl.lit("gone"),
        n_previous="n",
        shared=pl.lit(0, dtype=pl.Int64),
        added=pl.lit(0, dtype=pl.Int64),
        removed="n",
        jaccard=pl.lit(0.0),
        added_ids=pl.lit([], dtype=pl.List(pl.String)),
        removed_ids=pl.col("members").list.sort(),
    )
    cols = list(_MATCH_SCHEMA)
    out = pl.concat(
        [f.select(cols).cast(_MATCH_SCHEMA) for f in (matched, new, gone)], how="vertical"
    )
    rank = {s: i for i, s in enumerate(STATUSES)}
    return (
        out.with_columns(_r=pl.col("status").replace_strict(rank, return_dtype=pl.Int64))
        .sort(["_r", "key", "id", "previous_id"], nulls_last=True)
        .drop("_r")
    )


@dataclass(frozen=True)
class HistoryDiff:
    """What changed between two runs.

    Attributes
    ----------
    groups
        :func:`match_sets` of the groups (key = group kind), plus ``score``.
    findings
        :func:`match_sets` of the findings (key = rule id; members = subjects),
        plus ``severity`` and ``previous_severity``.
    previous, current
        Labels of the two runs (run folder name and ``as_of``); ``previous`` is
        ``None`` for the first run recorded.
    """

    groups: pl.DataFrame
    findings: pl.DataFrame
    previous: str | None
    current: str

    @property
    def new_critical(self) -> pl.DataFrame:
        """Critical findings that are new, or were matched but were not critical before."""
        return self.findings.filter(
            (pl.col("severity") == "critical")
            & (
                (pl.col("status") == "new")
                | (pl.col("previous_severity").fill_null("") != "critical")
            )
        )

    @property
    def exit_code(self) -> int:
        """``3`` when there are new critical findings, else ``0``."""
        return EXIT_NEW_CRITICAL if self.new_critical.height else EXIT_CLEAN

    def counts(self, what: str = "groups") -> dict[str, int]:
        """Return ``{status: count}`` of groups or findings (statuses with a count only)."""
        df = self.groups if what == "groups" else self.findings
        got = dict(df.group_by("status").len().rows())
        return {s: int(got[s]) for s in STATUSES if s in got}

    def finding_counts_by_rule(self) -> dict[str, dict[str, int]]:
        """Return ``{rule_id: {status: count}}`` for the statuses other than ``unchanged``."""
        rows = (
            self.findings.filter(pl.col("status") != "unchanged")
            .group_by("key", "status")
            .len()
            .rows()
        )
        out: dict[str, dict[str, int]] = {}
        for key, status, n in rows:
            out.setdefault(key, {})[status] = int(n)
        rank = {s: i for i, s in enumerate(STATUSES)}
        return {k: dict(sorted(v.items(), key=lambda kv: rank[kv[0]])) for k, v in out.items()}

    def summary(self) -> str:
        """One paragraph for a log file: counts per status and the new critical findings."""
        g = ", ".join(f"{n} {s}" for s, n in self.counts("groups").items()) or "none"
        f = ", ".join(f"{n} {s}" for s, n in self.counts("findings").items()) or "none"
        lines = [
            f"run {self.current} vs previous {self.previous or '(none: first run recorded)'}",
            f"groups: {g}",
            f"findings: {f}",
        ]
        crit = self.new_critical
        if crit.height:
            lines.append(f"NEW CRITICAL findings ({crit.height}):")
            lines += [
                f"  {r['id']} {r['key']} ({r['n']} subjects)"
                for r in crit.head(50).iter_rows(named=True)
            ]
        for r in self.groups.filter(pl.col("status") == "new").head(50).iter_rows(named=True):
            lines.append(
                f"new group {r['key']} {r['id']}: {r['n']} members: {_ids(r['added_ids'])}"
            )
        for what, df in (("group", self.groups), ("finding", self.findings)):
            for r in df.filter(pl.col("status") == "grown").head(50).iter_rows(named=True):
                lines.append(
                    f"grown {what} {r['key']} {r['id']} (was {r['previous_id']}): "
                    f"{r['n_previous']} -> {r['n']} members; joined: {_ids(r['added_ids'])}"
                )
        return "\n".join(lines)

    def as_context(self, max_rows: int = 200) -> dict[str, Any]:
        """Return the values the HTML report shows (changed groups, then changed findings)."""
        changed = [
            {"what": "group", **r, "severity": ""}
            for r in self.groups.filter(pl.col("status") != "unchanged").iter_rows(named=True)
        ] + [
            {"what": f"finding {r['key']}", **r}
            for r in self.findings.filter(pl.col("status") != "unchanged").iter_rows(named=True)
        ]
        for c in changed:
            c["joined"] = _ids(c.pop("added_ids"))
            c["left"] = _ids(c.pop("removed_ids"))
            c["id"] = c["id"] or "–"
            c["previous_id"] = c["previous_id"] or "–"
            c["severity"] = c.get("severity") or ""
        totals = {f"groups {k}": v for k, v in self.counts("groups").items()} | {
            f"findings {k}": v for k, v in self.counts("findings").items()
        }
        return {
            "previous": self.previous or "none (first run recorded)",
            "totals": totals,
            "changes": changed[:max_rows],
            "n_hidden": max(len(changed) - max_rows, 0),
        }


def _ids(ids: list[str] | None, n: int = 10) -> str:
    ids = list(ids or [])
    return ", ".join(ids[:n]) + (f" … (+{len(ids) - n})" if len(ids) > n else "")


def _group_sets(groups: pl.DataFrame) -> pl.DataFrame:
    return groups.select(
        id="group_id",
        key="kind",
        members=pl.concat_list(
            pl.col("member_ids").fill_null([]), pl.col("seller_ids").fill_null([])
        ),
        score="score",
    )


def _finding_sets(findings: pl.DataFrame) -> pl.DataFrame:
    return findings.select(
        id="finding_id", key="rule_id", members="subject_ids", severity="severity"
    )


def diff_runs(previous: Run | None, current: Run, *, min_overlap: float = 0.5) -> HistoryDiff:
    """Compare two runs' groups and findings, matched by members.

    Parameters
    ----------
    previous
        The earlier run (``None``: everything in ``current`` is new).
    current
        The later run.
    min_overlap
        See :func:`match_sets`.

    Returns
    -------
    HistoryDiff

    Examples
    --------
    >>> d = diff_runs(load_run("runs/monday"), load_run("runs/tuesday"))  # doctest: +SKIP
    >>> d.counts("groups")  # doctest: +SKIP
    {'new': 1, 'grown': 1, 'unchanged': 4}
    """
    from graphkit.findings import empty_findings, empty_groups

    pg = previous.groups if previous is not None else empty_groups()
    pf = previous.findings if previous is not None else empty_findings()
    return _diff_frames(
        _group_sets(pg),
        _finding_sets(pf),
        _group_sets(current.groups),
        _finding_sets(current.findings),
        previous=_label(previous) if previous is not None else None,
        current=_label(current),
        min_overlap=min_overlap,
    )


def _label(run: Run) -> str:
    return f"{run.name} (as of {run.as_of or 'unknown'})"


def _diff_frames(
    prev_groups: pl.DataFrame,
    prev_findings: pl.DataFrame,
    groups: pl.DataFrame,
    findings: pl.DataFrame,
    *,
    previous: str | None,
    current: str,
    min_overlap: float,
) -> HistoryDiff:
    g = match_sets(prev_groups, groups, min_overlap=min_overlap).join(
        groups.select("id", "score"), on="id", how="left"
    )
    f = (
        match_sets(prev_findings, findings, min_overlap=min_overlap)
        .join(findings.select("id", "severity"), on="id", how="left")
        .join(
            prev_findings.select(previous_id="id", previous_severity="severity"),
            on="previous_id",
            how="left",
        )
    )
    return HistoryDiff(groups=g, findings=f, previous=previous, current=current)
