"""``graphkit scan DATASET --out RUN``: check every marketplace policy on a dataset.

Prints one progress line per stage on stderr and a summary table at the end.
Exit codes: 0 success, 2 invalid input (dataset, config or arguments), 1 internal error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HELP = "Run every policy check on a dataset and write findings, scores, groups and a report."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``graphkit scan``."""
    parser.add_argument("dataset", metavar="DATASET", help="dataset folder (one file per table)")
    parser.add_argument(
        "--out", metavar="RUN", required=True, help="run folder to write (replaced atomically)"
    )
    parser.add_argument("--config", metavar="TOML", help="scan config (thresholds, policy text)")
    parser.add_argument(
        "--as-of",
        metavar="TIME",
        help="analysis moment (ISO 8601); default: config, else the latest timestamp in the data",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the run (default: config, else 0)"
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="continue without rows that break the data contract; they are written, with "
        "their reasons, to rejects.csv in the run folder",
    )
    parser.add_argument("--no-report", action="store_true", help="do not write report.html")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--serial",
        action="store_true",
        help="run every stage in turn (default: up to 10M orders, the checks that need no "
        "detection result run while detection runs; same output)",
    )
    mode.add_argument(
        "--overlap",
        action="store_true",
        help="run the checks that need no detection result while detection runs, whatever "
        "the size (more memory; tables read lazily above 3M orders)",
    )


def _progress(quiet: bool):  # type: ignore[no-untyped-def]
    start = time.perf_counter()

    def report(stage: str, seconds: float) -> None:
        if not quiet:
            total = time.perf_counter() - start
            print(f"  {stage:<34} {seconds:8.2f} s   (total {total:7.2f} s)", file=sys.stderr)

    return report


def _overlap(args: argparse.Namespace) -> bool | None:
    if args.serial:
        return False
    return True if args.overlap else None


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``graphkit scan``; return the exit code."""
    from graphkit.config import load_config
    from graphkit.io import load_dataset
    from graphkit.scan import scan

    progress = _progress(args.quiet)
    config = load_config(args.config)
    as_of = args.as_of if args.as_of is not None else config.as_of
    seed = args.seed if args.seed is not None else (config.seed or 0)
    if not args.quiet:
        print(f"graphkit scan {args.dataset} -> {args.out}", file=sys.stderr)
    t0 = time.perf_counter()
    ds = load_dataset(args.dataset, as_of=as_of, lenient=args.lenient)
    progress("load + validate", time.perf_counter() - t0)
    result = scan(ds, config=config, seed=seed, progress=progress, overlap=_overlap(args))
    t0 = time.perf_counter()
    out = result.write(Path(args.out), report=not args.no_report, dataset=ds)
    progress("write", time.perf_counter() - t0)

    summary = result.summary()
    rows = [["rule", "findings", "critical", "high", "medium", "low", "status"]]
    for r in summary.iter_rows(named=True):
        rows.append(
            [
                r["rule_id"],
                *(str(r[k]) for k in ("findings", "critical", "high", "medium", "low")),
                r["status"],
            ]
        )
    flagged = result.account_scores.filter(result.account_scores["rule_ids"].list.len() > 0).height
    print(_table(rows))
    print(
        f"\n{result.findings.height:,} finding(s) on {flagged:,} of "
        f"{result.account_scores.height:,} account(s); {result.groups.height:,} group(s); "
        f"as_of {ds.as_of.isoformat()}, seed {seed}"
    )
    if result.not_evaluated:
        print(f"{len(result.not_evaluated)} polic(ies) not evaluated (see status column)")
    if ds.rejects is not None and ds.rejects.height:
        print(f"lenient: {ds.rejects.height:,} row(s) left out, listed in {out / 'rejects.csv'}")
    print(f"written: {out}")
    return 0
