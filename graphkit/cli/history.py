"""``graphkit history RUN --store DB``: record a run and report what changed since the last one.

Groups and findings are matched by members (not ids) with the previous run in
the store, and each is reported new, grown, shrunk, changed, unchanged or
gone. See docs/scheduled-runs.md for the cron set-up.

Exit codes: 0 no new critical finding, 3 new critical findings (new, or
newly critical), 2 invalid input, 1 internal error. Without RUN, lists the
recorded runs.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

HELP = "Record a run in the run history and report what is new, grown, shrunk or gone."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``graphkit history``."""
    parser.add_argument(
        "run", metavar="RUN", nargs="?", help="run folder to record (omit to list runs)"
    )
    parser.add_argument(
        "--store",
        metavar="DB",
        help="SQLite history file (default: history.sqlite next to the run folder)",
    )
    parser.add_argument("--log", metavar="FILE", help="append the summary to this log file")
    parser.add_argument(
        "--report",
        action="store_true",
        help="re-render RUN/report.html with a 'since the previous run' section",
    )
    parser.add_argument(
        "--min-overlap",
        type=float,
        default=0.5,
        help="share of the smaller set's members two groups must share to match "
        "(default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    """Record the run, print the change, optionally log and re-render; return the exit code."""
    from graphkit.errors import ConfigError, InputNotFoundError
    from graphkit.report.run import load_run, load_run_dataset
    from graphkit.report.store import RunStore, record_and_diff

    if args.run is None:
        if not args.store:
            raise ConfigError("give a run folder to record, or --store DB to list its runs")
        if not Path(args.store).is_file():
            raise InputNotFoundError(f"history store {args.store} does not exist")
        with RunStore(args.store) as store:
            for r in store.runs().iter_rows(named=True):
                print(
                    f"{r['run_id']:>5}  {r['label']}  {r['n_findings']} findings, "
                    f"{r['n_groups']} groups  recorded {r['recorded_at']}"
                )
        return 0
    run_ = load_run(args.run)
    store_path = Path(args.store) if args.store else run_.path.resolve().parent / "history.sqlite"
    diff = record_and_diff(store_path, run_, min_overlap=args.min_overlap)
    text = diff.summary()
    print(text)
    if args.log:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with open(args.log, "a", encoding="utf-8") as fh:
            fh.write(f"[{stamp}] exit {diff.exit_code}\n{text}\n\n")
    if args.report:
        from graphkit.report.html import write_report

        try:
            dataset = load_run_dataset(run_)
        except InputNotFoundError as err:
            print(f"graphkit history: {err}; report shows findings only", file=sys.stderr)
            dataset = None
        write_report(run_.path, dataset=dataset, history=diff)
    return diff.exit_code
