"""``graphkit report RUN``: (re)write the self-contained HTML report of a run.

Exit codes: 0 written, 2 invalid input (no such run, dataset altered), 1 internal error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Write the self-contained HTML report (report.html) of a scan's run folder."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``graphkit report``."""
    parser.add_argument("run", metavar="RUN", help="run folder written by `graphkit scan`")
    parser.add_argument(
        "--dataset",
        metavar="DIR",
        help="dataset folder of the run (default: the one recorded in run.json); its files "
        "must hash to the run's recorded SHA-256s",
    )
    parser.add_argument(
        "--no-dataset",
        action="store_true",
        help="report the findings only (no subgraphs, timelines, messages, distributions)",
    )
    parser.add_argument(
        "--history",
        metavar="DB",
        help="run-history store (graphkit history): adds what changed since the previous run",
    )
    parser.add_argument("--top", type=int, default=8, help="groups drawn (default: %(default)s)")
    parser.add_argument(
        "--max-rows", type=int, default=500, help="findings listed (default: %(default)s)"
    )
    parser.add_argument(
        "--group-ratings",
        action="store_true",
        help="also plot each drawn group's seller ratings against the population (slower)",
    )
    parser.add_argument("--out", metavar="FILE", help="write here instead of RUN/report.html")


def run(args: argparse.Namespace) -> int:
    """Render and write the report; return the exit code."""
    from graphkit.errors import InputNotFoundError
    from graphkit.io import atomic_write
    from graphkit.report.html import render_report
    from graphkit.report.run import load_run, load_run_dataset
    from graphkit.report.store import history_for

    run_ = load_run(args.run)
    dataset = None
    if not args.no_dataset:
        try:
            dataset = load_run_dataset(run_, args.dataset)
        except InputNotFoundError as err:
            if args.dataset:
                raise
            print(f"graphkit report: {err}; reporting findings only", file=sys.stderr)
    history = history_for(args.history, run_) if args.history else None
    html = render_report(
        run_,
        dataset=dataset,
        history=history,
        top_groups=args.top,
        max_rows=args.max_rows,
        group_ratings=args.group_ratings,
    )
    target = Path(args.out) if args.out else Path(args.run) / "report.html"
    with atomic_write(target) as tmp:
        tmp.write_text(html, encoding="utf-8")
    print(target)
    return 0
