"""The pipeline: dataset -> detection -> every policy check -> findings, scores, groups.

:func:`scan` is the main job of graphkit, written as one readable function;
:class:`ScanResult` holds its output and writes the run folder of the output
contract atomically.

Examples
--------
>>> import graphkit
>>> ds = graphkit.load_dataset("data/sample")  # doctest: +SKIP
>>> result = scan(ds, seed=0)  # doctest: +SKIP
>>> result.write("runs/today")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from graphkit.config import ScanConfig
from graphkit.dataset import Dataset
from graphkit.findings import (
    ACCOUNT_SCORES_SCHEMA,
    GROUPS_SCHEMA,
    empty_findings,
    empty_groups,
)
from graphkit.policy import ScanContext, checks, finalize_findings
from graphkit.policy.registry import SIGNAL_DECIMALS, PolicyCheck

__all__ = [
    "IN_MEMORY_MAX_ORDERS",
    "OVERLAP_MAX_ORDERS",
    "Progress",
    "ScanResult",
    "account_ids",
    "account_scores",
    "scan",
]

#: ``progress(stage, seconds)``: called when a stage ends (``seconds`` its wall time).
Progress = Callable[[str, float], None]

#: Largest dataset (orders) whose tables are read into memory once (:meth:`Dataset.in_memory`).
#: Measured (busy 2-core machine): at 1M orders reading once saves ~1 CPU s for +0.13 GiB;
#: at 10M the tables in memory take 2.5-3 GiB, with detection's 4.6 GiB over the budget.
IN_MEMORY_MAX_ORDERS = 3_000_000

#: Largest dataset (orders) whose signal-free checks and rating base run, by default, in a
#: second thread while detection runs. Above :data:`IN_MEMORY_MAX_ORDERS` the checks read
#: the tables lazily (:meth:`ScanContext.lazy`: only the columns their plans use, nothing
#: held after them), smallest transient first. Measured at 10M (sim_10000000_s0, load 5-10):
#: each check alone peaks at 0.2-1.9 GiB (rating base 2.4); detection alone 4.6 GiB (group
#: scoring, at its end). The overlapped scan peaked at 5.01-5.19 GiB (serial: 5.29-5.35),
#: the max during detection 4.86-5.18; with detection's group scoring held until the second
#: thread's rating base starts (their peaks forced together) 5.13 GiB: under the 6 GiB
#: budget. Not measured beyond 10M: serial there. (Overlap with the tables in memory at
#: 10M peaked at 6.8-8.3 GiB.) Wall: the overlap fills detection's idle core, so it gains
#: only on a machine with one to spare; pairs serial -> overlapped at load 4.7-7.6 (no
#: core to spare) gave scan() 114.5 -> 66.6 s and 93.1 -> 101.5 s, CPU 92.5 -> 95.4 and
#: 84.6 -> 91.1 s; ``graphkit scan`` CLI end to end at load 2.8-3.5: 75.2 -> 67.8 s wall,
#: 104.0 -> 117.3 CPU s, 5.32 -> 5.27 GiB. A quiet-machine pair is still to be measured.
OVERLAP_MAX_ORDERS = 10_000_000

#: Order of the signal-free checks in the second thread: smallest transient memory first
#: (peak RSS of each alone on a lazy 10M dataset, GiB, measured at cf24b12; FEEDBACK_EXTORTION
#: and COMM_SPAM read less since, and BPP_RETALIATION shares BPP_FALSE_CLAIMS' pass), so that
#: what coincides with detection's early peak (building the market graph) is small.
#: Unlisted checks run last.
_EARLY_ORDER = {
    "UNPAID_ITEMS": 0.22,
    "BPP_FALSE_CLAIMS": 0.48,
    "BPP_RETALIATION": 0.69,
    "BPP_CASE_AFTER_REFUND": 0.73,
    "FEEDBACK_EXTORTION": 1.19,
    "COMM_SPAM": 1.85,
}

#: Checks whose prefetch reads the rating base: run after it in the second thread.
_AFTER_RATING_BASE = frozenset({"FEEDBACK_MANIPULATION"})

#: Checks whose prefetch reads the market graph (:attr:`ScanContext.market_graph`, built
#: by detection): last in the second thread, by when detection has built it, and, where
#: not done yet, in the main thread right after detection, before the graph is let go.
_READS_MARKET_GRAPH = frozenset({"SHILL_PURCHASE"})

#: Signals whose detection failed to import are reported per check, never silently skipped.
_SIGNAL_STAGES = {"groups": "groups", "identity": "identity", "ratings": "ratings"}


@dataclass(frozen=True)
class ScanResult:
    """The output of a scan (the tables of the output contract and the run record).

    Parameters
    ----------
    findings
        One row per finding (``FINDINGS_SCHEMA``), sorted by ``finding_id``.
    account_scores
        One row per account of the dataset (``ACCOUNT_SCORES_SCHEMA``).
    groups
        Detected rings / linked-account clusters (``GROUPS_SCHEMA``).
    run_info
        What ``run.json`` records (version, parameters, ``as_of``, seed, inputs, timings...).
    not_evaluated
        ``{rule_id: reason}`` of the policies that could not be checked.
    """

    findings: pl.DataFrame
    account_scores: pl.DataFrame
    groups: pl.DataFrame
    run_info: dict[str, Any]
    not_evaluated: dict[str, str] = field(default_factory=dict)
    rejects: pl.DataFrame | None = None

    def summary(self) -> pl.DataFrame:
        """Per rule: findings by severity, or the reason it was not evaluated.

        Examples
        --------
        >>> r = ScanResult(empty_findings(), pl.DataFrame(), empty_groups(), {}, {"X": "n/a"})
        >>> r.summary().columns
        ['rule_id', 'findings', 'critical', 'high', 'medium', 'low', 'status']
        """
        rules = sorted(
            set(self.run_info.get("rules", [])) | set(self.not_evaluated)
            or set(self.findings["rule_id"].unique().to_list())
        )
        counts = self.findings.group_by("rule_id").agg(
            findings=pl.len().cast(pl.Int64),
            **{
                sev: (pl.col("severity") == sev).sum().cast(pl.Int64)
                for sev in ("critical", "high", "medium", "low")
            },
        )
        base = pl.DataFrame({"rule_id": rules}, schema={"rule_id": pl.String})
        status = pl.Series([self.not_evaluated.get(r, "evaluated") for r in rules], dtype=pl.String)
        return (
            base.join(counts, on="rule_id", how="left")
            .with_columns(pl.exclude("rule_id").fill_null(0), status=status)
            .sort("rule_id")
        )

    def finding(self, finding_id: str, *, dataset: Dataset | None = None) -> Any:
        """Return one finding as a notebook view (:func:`graphkit.notebook.finding`)."""
        from graphkit.notebook import finding

        return finding(self, finding_id, dataset=dataset)

    def group(self, group_id: str, *, dataset: Dataset | None = None) -> Any:
        """Return one group as a notebook view (:func:`graphkit.notebook.group`)."""
        from graphkit.notebook import group

        return group(self, group_id, dataset=dataset)

    def __repr__(self) -> str:
        from graphkit.notebook.render import scan_text

        return scan_text(self)

    def _repr_html_(self) -> str:
        from graphkit.notebook.render import scan_html

        return scan_html(self)

    def write(
        self, out_dir: str | Path, *, report: bool = True, dataset: Dataset | None = None
    ) -> Path:
        """Write the run folder atomically; return its path.

        Writes ``findings.parquet``, ``findings.csv`` (lists joined, formula-like
        cells neutralised), ``account_scores.parquet``, ``groups.parquet``,
        ``run.json``, ``rejects.csv`` when rows were left out in lenient mode and,
        when ``report``, ``report.html`` (:func:`graphkit.report.write_report`, given
        ``dataset`` for the evidence it quotes). A half-written folder never appears.
        """
        from graphkit.io import atomic_dir, write_csv_safe

        out = Path(out_dir)
        with atomic_dir(out) as tmp:
            self.findings.write_parquet(tmp / "findings.parquet", statistics=False)
            write_csv_safe(self.findings, tmp / "findings.csv")
            self.account_scores.write_parquet(tmp / "account_scores.parquet", statistics=False)
            self.groups.write_parquet(tmp / "groups.parquet", statistics=False)
            (tmp / "run.json").write_text(
                json.dumps(self.run_info, indent=2, sort_keys=True, default=str) + "\n",
                encoding="utf-8",
            )
            if self.rejects is not None and self.rejects.height:
                write_csv_safe(self.rejects, tmp / "rejects.csv")
            if report:
                from graphkit.report import write_report

                write_report(tmp, dataset=dataset)
        return out


def scan(
    ds: Dataset,
    *,
    config: ScanConfig | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    overlap: bool | None = None,
) -> ScanResult:
    """Run every policy check on a dataset; return findings, account scores and groups.

    Parameters
    ----------
    ds
        A validated dataset (:func:`graphkit.load_dataset`); its ``as_of`` is the run's.
    config
        Threshold overrides, disabled rules, policy wording (defaults when ``None``).
    seed
        The one seed of the run (detection randomness); same input + seed = same output.
    progress
        Called with ``(stage, seconds)`` after each stage (from the thread that ran it,
        one call at a time).
    overlap
        Run the checks that need no detection result, the rating base and the parts of
        the other checks that need none (their ``prefetch``) in a second thread while
        detection runs (same output; ``False`` runs everything in order, in this thread).
        Default ``None``: when the dataset has at most :data:`OVERLAP_MAX_ORDERS` orders.
        Independently, the tables are read into memory once (:meth:`Dataset.in_memory`)
        when the dataset has at most :data:`IN_MEMORY_MAX_ORDERS` orders; larger ones are
        read lazily.

    Returns
    -------
    ScanResult
        The output tables and the run record; ``.write(out_dir)`` writes the run folder.

    Examples
    --------
    >>> result = scan(graphkit.load_dataset("data/sample"))  # doctest: +SKIP
    >>> result.summary()  # doctest: +SKIP
    """
    from graphkit import __version__

    cfg = config or ScanConfig()
    timings: dict[str, float] = {}
    cpu_timings: dict[str, float] = {}
    notes: list[str] = []

    lock = threading.Lock()

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        t0, c0 = time.perf_counter(), time.process_time()
        yield
        wall = round(time.perf_counter() - t0, 4)
        # CPU seconds of the whole process (every thread): the stage's cost on a busy
        # machine; while checks overlap detection, both stages' CPU includes the other's
        cpu = round(time.process_time() - c0, 4)
        with lock:
            timings[name], cpu_timings[name] = wall, cpu
            if progress is not None:
                progress(name, wall)

    # 1. inputs (read into memory once when small enough)
    with stage("inputs"):
        row_counts = ds.row_counts()
        n_orders = row_counts.get("orders", 0)
        if overlap is None:
            overlap = n_orders <= OVERLAP_MAX_ORDERS
        if n_orders <= IN_MEMORY_MAX_ORDERS:
            ds = ds.in_memory()
    ctx = ScanContext(ds, cfg, seed=seed)

    # 2. detection, once, shared by every check (failures are recorded, never hidden),
    # 3. the policy checks. Checks that read no detection result (no declared signals)
    # run in a second thread while detection runs: polars releases the GIL while it
    # executes, so on 2 cores the two overlap. Findings are merged in a fixed order and
    # sorted by id, so the output does not depend on which thread finishes first.
    registered = checks()
    early = [c for c in registered if not c.signals] if overlap else []
    # smallest transient memory first (stable: registry order among unlisted checks)
    early.sort(key=lambda c: _EARLY_ORDER.get(c.rule_id, float("inf")))
    # checks whose detection-free part can be computed ahead (their ``prefetch``)
    prefetchable = [
        c
        for c in registered
        if c.signals
        and c.prefetch is not None
        and c.rule_id not in cfg.disabled
        and c.not_evaluated_reason(ds) is None
    ]
    prefetched = prefetchable if overlap else []
    results: dict[str, pl.DataFrame | str] = {}

    def run_check(check: PolicyCheck, unavailable: dict[str, str]) -> None:
        rid = check.rule_id
        with stage(f"check {rid}"):
            reason = check.not_evaluated_reason(ds)
            if rid in cfg.disabled:
                reason = "not evaluated (disabled by config)"
            missing = [_SIGNAL_STAGES[s] for s in check.signals if _SIGNAL_STAGES[s] in unavailable]
            if reason is None and missing:
                reason = f"not evaluated ({unavailable[missing[0]]})"
            if reason is not None:
                results[rid] = reason
                return
            draft = check(ctx, ctx.params(rid))
            results[rid] = finalize_findings(draft, check.text(cfg.policy_text))

    def run_early() -> None:
        for check in early:
            run_check(check, {})

        # then the detection-free part of the other checks (a failure is raised again when
        # the check runs) and of the rating signals (raised again at stage "rating
        # signals"). The rating base after the checks' prefetches, as its transient is the
        # largest (1.4 GiB at 10M orders) and detection's own peak comes at its end; then
        # the prefetches that read the base, then those that read detection's market graph
        def prefetch(check: PolicyCheck) -> None:
            with stage(f"prefetch {check.rule_id}"), suppress(Exception):
                check.prefetch(ctx, ctx.params(check.rule_id))  # type: ignore[misc]

        for check in prefetched:
            if check.rule_id not in _AFTER_RATING_BASE | _READS_MARKET_GRAPH:
                prefetch(check)
        if ds.has("orders") and ds.has("feedback"):
            with stage("rating base"), suppress(Exception):
                ctx.rating_base(prefetch=True)
        for later in (_AFTER_RATING_BASE, _READS_MARKET_GRAPH):
            for check in prefetched:
                if check.rule_id in later:
                    prefetch(check)

    worker = _Worker(run_early) if early or prefetched else None
    unavailable: dict[str, str] = {}
    with stage("detect groups"):
        try:
            _ = ctx.group_table
        except ImportError as err:
            unavailable["groups"] = f"group detection unavailable ({err})"
    # the parts of the checks that read the market graph (those the second thread has not
    # done yet: it may be doing one, which is then awaited), then the graph is let go
    with stage("graph readers"):
        for check in prefetchable:
            if check.rule_id in _READS_MARKET_GRAPH:
                with suppress(Exception):  # raised again when the check runs
                    check.prefetch(ctx, ctx.params(check.rule_id))  # type: ignore[misc]
        if ds.has("orders") and ds.has("feedback"):  # what the rating base reads of it
            with suppress(Exception):
                _ = ctx.buyer_feedback_rows
        ctx.release_market_graph()
    with stage("identity links"):
        try:
            _ = ctx.identity_links
        except ImportError as err:
            unavailable["identity"] = f"identity graph unavailable ({err})"
    with stage("rating signals"):
        try:
            _ = ctx.ratings
        except ImportError as err:
            unavailable["ratings"] = f"rating signals unavailable ({err})"
    notes.extend(sorted(set(unavailable.values())))
    if worker is not None:
        with stage("wait for checks"):
            worker.join()  # re-raises what the thread raised
    for check in registered:
        if check.rule_id not in results:
            run_check(check, unavailable)

    parts: list[pl.DataFrame] = [empty_findings()]
    not_evaluated: dict[str, str] = {}
    for check in registered:
        res = results[check.rule_id]
        if isinstance(res, str):
            not_evaluated[check.rule_id] = res
        else:
            parts.append(res)
    findings = pl.concat(parts, how="vertical").sort("finding_id")

    # 4. groups and account scores
    with stage("scores"):
        groups = _groups(ctx) if "groups" not in unavailable else empty_groups()
        scores = account_scores(
            ds,
            findings,
            members=ctx.group_members if "groups" not in unavailable else None,
            groups=groups,
            priors=_priors(ctx, unavailable),
        )

    run_info: dict[str, Any] = {
        "version": __version__,
        "as_of": ds.as_of.isoformat(),
        "seed": int(seed),
        "source": str(ds.source) if ds.source is not None else None,
        "inputs": [
            {
                "table": f.table,
                "path": f.path,
                "format": f.format,
                "sha256": f.sha256,
                "rows": f.rows,
            }
            for f in ds.files
        ],
        "row_counts": row_counts,
        "parameters": cfg.to_dict(),
        "rules": [c.rule_id for c in registered],
        "not_evaluated": dict(sorted(not_evaluated.items())),
        "findings": {
            r: int(n) for r, n in findings.group_by("rule_id").len().sort("rule_id").iter_rows()
        },
        "timings": {**timings, **{f"detail {k}": v for k, v in ctx.timings.items()}},
        "cpu_timings": cpu_timings,
        "notes": notes,
        "overlap": [c.rule_id for c in registered if c in early],
        "rejected_rows": 0 if ds.rejects is None else ds.rejects.height,
    }
    return ScanResult(
        findings, scores, groups, run_info, dict(sorted(not_evaluated.items())), ds.rejects
    )


class _Worker:
    """Run ``fn`` in a thread; :meth:`join` waits and re-raises what it raised."""

    def __init__(self, fn: Callable[[], None]) -> None:
        self._error: BaseException | None = None

        def target() -> None:
            try:
                fn()
            except BaseException as err:  # handed to the caller by join()
                self._error = err

        self._thread = threading.Thread(target=target, name="graphkit-checks", daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def account_ids(ds: Dataset) -> pl.LazyFrame:
    """Every account of the dataset: the accounts table, or every id seen when it is absent.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> o = pl.LazyFrame({"buyer_id": ["b"], "seller_id": ["s"]})
    >>> ds = Dataset({"orders": o}, as_of=datetime(2026, 1, 1, tzinfo=UTC))
    >>> account_ids(ds).collect()["account_id"].to_list()
    ['b', 's']
    """
    if ds.has("accounts"):
        return ds.table("accounts").select("account_id").unique().sort("account_id")
    cols = {
        "orders": ("buyer_id", "seller_id"),
        "feedback": ("author_id", "target_id"),
        "messages": ("sender_id", "recipient_id"),
        "disputes": ("opened_by",),
        "identifiers": ("account_id",),
    }
    parts = [
        ds.table(t).select(pl.col(c).alias("account_id"))
        for t, cs in cols.items()
        if ds.has(t)
        for c in cs
    ]
    return pl.concat(parts).unique().sort("account_id")


def account_scores(
    ds: Dataset,
    findings: pl.DataFrame,
    *,
    members: pl.DataFrame | None = None,
    groups: pl.DataFrame | None = None,
    priors: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One risk score per account of the dataset.

    ``risk_score = 1 - (1 - prior) * prod(1 - score_f)`` over the findings
    ``f`` naming the account as a subject, where ``prior`` is the account's
    detection score (0 when none). ``group_id`` is the highest-scoring group
    the account belongs to (ties: smallest id).

    Parameters
    ----------
    ds
        The dataset (for the list of accounts).
    findings
        The findings table.
    members
        Group members (``group_id``, ``account_id``), optional.
    groups
        The groups table (for the group scores), optional.
    priors
        ``account_id``, ``prior`` (0..1) from detection, optional.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from graphkit.findings import empty_findings
    >>> o = pl.LazyFrame({"buyer_id": ["b"], "seller_id": ["s"]})
    >>> ds = Dataset({"orders": o}, as_of=datetime(2026, 1, 1, tzinfo=UTC))
    >>> account_scores(ds, empty_findings())["risk_score"].to_list()
    [0.0, 0.0]
    """
    ids = account_ids(ds).collect()
    per = (
        findings.select("rule_id", "score", account_id="subject_ids")
        .explode("account_id")
        .group_by("account_id")
        .agg(
            keep=(1.0 - pl.col("score")).product(),
            rule_ids=pl.col("rule_id").unique().sort(),
        )
    )
    out = ids.join(per, on="account_id", how="left")
    if priors is not None and priors.height:
        out = out.join(priors.select("account_id", "prior"), on="account_id", how="left")
    else:
        out = out.with_columns(prior=pl.lit(None, dtype=pl.Float64))
    if members is not None and members.height and groups is not None:
        best = (
            members.select("group_id", "account_id")
            .join(groups.select("group_id", "score"), on="group_id", how="left")
            .sort(["account_id", "score", "group_id"], descending=[False, True, False])
            .group_by("account_id", maintain_order=True)
            .first()
            .select("account_id", "group_id")
        )
        out = out.join(best, on="account_id", how="left")
    else:
        out = out.with_columns(group_id=pl.lit(None, dtype=pl.String))
    risk = 1.0 - (1.0 - pl.col("prior").fill_null(0.0).clip(0.0, 1.0)) * pl.col("keep").fill_null(
        1.0
    )
    return (
        out.with_columns(
            risk_score=risk.clip(0.0, 1.0).round(6),
            rule_ids=pl.col("rule_ids").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
        .select([pl.col(c).cast(t) for c, t in ACCOUNT_SCORES_SCHEMA.items()])
        .sort("account_id")
    )


def _groups(ctx: ScanContext) -> pl.DataFrame:
    g = ctx.group_table
    if g.height == 0:
        return empty_groups()
    # numbers rounded as the findings' signals are: polars' parallel float sums can differ in
    # the last bit between runs, and the groups table must be byte-identical run to run
    numbers = [pl.field(f).round(SIGNAL_DECIMALS) for f in ("value", "threshold", "contribution")]
    return (
        g.select([pl.col(c).cast(t) for c, t in GROUPS_SCHEMA.items()])
        .with_columns(
            pl.col("score").round(SIGNAL_DECIMALS),
            pl.col("signals").list.eval(pl.element().struct.with_fields(numbers)),
        )
        .sort("group_id")
    )


def _priors(ctx: ScanContext, unavailable: dict[str, str]) -> pl.DataFrame | None:
    """Return the detection score per account (strongest of group score and rating signals)."""
    parts: list[pl.DataFrame] = []
    if "groups" not in unavailable and ctx.group_members.height and ctx.group_table.height:
        members, groups = ctx.group_members, ctx.group_table
        # half the group score; a linked-accounts cluster (a household, one person's
        # accounts) is not misconduct by itself: a quarter
        weight = pl.when(pl.col("kind") == "linked_accounts").then(0.25).otherwise(0.5)
        parts.append(
            members.join(groups.select("group_id", "kind", "score"), on="group_id")
            .group_by("account_id")
            .agg(prior=(pl.col("score").cast(pl.Float64) * weight).max())
        )
    ratings = ctx.ratings if "ratings" not in unavailable else None
    for frame, key in ((getattr(ratings, "sellers", None), "seller_id"),):
        if frame is None:
            continue
        df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        if key in df.columns and "manipulation_score" in df.columns:
            parts.append(
                df.select(
                    account_id=pl.col(key),
                    prior=pl.col("manipulation_score").cast(pl.Float64) * 0.5,
                )
            )
    if not parts:
        return None
    return pl.concat(parts).group_by("account_id").agg(pl.col("prior").max())
