"""``graphkit export RUN --group G | --finding F --out DIR``: write a case's evidence bag.

The bag (BagIt, RFC 8493) holds case.json, the evidence rows as CSV and
Parquet, the subgraph as GraphML/GEXF/PNG, a timeline and a standalone
case.html, with SHA-256 manifests; check it later with ``graphkit verify DIR``.

Pseudonymisation (``--pseudonymise``) uses the key in the environment variable
named by ``--key-env`` (default ``GRAPHKIT_PSEUDONYM_KEY``) or the first line of
``--key-file``; without either, a random key is made and printed once on
stderr. The key is never written into the bag.

Exit codes: 0 written, 2 invalid input (unknown group/finding, dataset altered), 1 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = "Export one group or finding as a verifiable BagIt evidence bag."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``graphkit export``."""
    parser.add_argument("run", metavar="RUN", help="run folder written by `graphkit scan`")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--group", metavar="G", help="group id (groups.parquet)")
    which.add_argument("--finding", metavar="F", help="finding id (findings.parquet)")
    parser.add_argument("--out", metavar="DIR", required=True, help="bag folder to write")
    parser.add_argument(
        "--dataset", metavar="DIR", help="dataset folder (default: the one in run.json)"
    )
    parser.add_argument(
        "--pseudonymise",
        "--pseudonymize",
        action="store_true",
        help="replace account ids by keyed HMAC pseudonyms in every file",
    )
    parser.add_argument(
        "--key-env",
        metavar="VAR",
        default="GRAPHKIT_PSEUDONYM_KEY",
        help="environment variable holding the pseudonymisation key (default: %(default)s)",
    )
    parser.add_argument("--key-file", metavar="FILE", help="file whose first line is the key")
    parser.add_argument("--seed", type=int, default=0, help="layout seed of the drawing")


def run(args: argparse.Namespace) -> int:
    """Export the case; return the exit code."""
    from graphkit.report.evidence import export_case
    from graphkit.report.run import load_run, load_run_dataset

    key: str | None = None
    if args.pseudonymise:
        if args.key_file:
            key = Path(args.key_file).read_text(encoding="utf-8").splitlines()[0].strip()
        else:
            key = os.environ.get(args.key_env) or None
    run_ = load_run(args.run)
    dataset = load_run_dataset(run_, args.dataset)
    result = export_case(
        run_,
        dataset=dataset,
        out=args.out,
        group_id=args.group,
        finding_id=args.finding,
        pseudonymise_ids=args.pseudonymise,
        key=key,
        seed=args.seed,
    )
    if result.generated_key is not None:
        print(
            f"pseudonymisation key (shown once, not stored; keep it to re-identify or to get "
            f"the same pseudonyms again):\n{result.generated_key}",
            file=sys.stderr,
        )
    print(f"{result.path} ({result.case_kind} {result.case_id}, {len(result.files)} files)")
    return 0
