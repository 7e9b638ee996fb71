"""``graphkit evaluate RUN LABELS``: score a scan against simulator ground truth.

Prints per-scenario and per-rule precision / recall / F1, ring recovery and
ROC-AUC, and writes them as JSON. Exit codes: 0 done, 2 missing input, 1 internal error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Score a scan run against simulator labels (precision, recall, F1, ring recovery, AUC)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``graphkit evaluate``."""
    parser.add_argument("run", metavar="RUN_DIR", help="folder written by `graphkit scan`")
    parser.add_argument(
        "labels",
        metavar="LABELS",
        help="labels.parquet written by `graphkit simulate` (or the simulated dataset folder)",
    )
    parser.add_argument(
        "--json",
        metavar="FILE",
        help="where to write the JSON results (default: RUN_DIR-evaluation.json beside the run)",
    )


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the table, write the JSON."""
    from graphkit.evaluate import evaluate_run

    ev = evaluate_run(args.run, args.labels)
    target = Path(args.json) if args.json else Path(f"{Path(args.run).resolve()}-evaluation.json")
    ev.to_json(target)
    print(ev.format_table())
    print(f"\nwrote {target}")
    return 0
