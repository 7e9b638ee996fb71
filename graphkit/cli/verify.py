"""``graphkit verify DIR``: re-check an evidence bag written by ``graphkit export``.

Exit codes: 0 the bag is complete and every byte matches its SHA-256 manifest,
4 the bag was altered or is incomplete (problems listed), 2 no such folder,
1 internal error.
"""

from __future__ import annotations

import argparse
import sys

HELP = "Verify an evidence bag (BagIt, SHA-256): exit 0 intact, 4 altered."

EXIT_ALTERED = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``graphkit verify``."""
    parser.add_argument("bag", metavar="DIR", help="bag folder written by `graphkit export`")


def run(args: argparse.Namespace) -> int:
    """Verify the bag; return the exit code."""
    from graphkit.report.evidence import verify_case

    result = verify_case(args.bag)
    if result.ok:
        print(f"{result.path}: OK ({result.files} payload files match their SHA-256)")
        return 0
    print(f"{result.path}: FAILED verification", file=sys.stderr)
    for problem in result.problems:
        print(f"  - {problem}", file=sys.stderr)
    return EXIT_ALTERED
