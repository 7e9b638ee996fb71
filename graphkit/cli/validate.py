"""``graphkit validate DIR``: check a dataset against the data contract.

Exit codes: 0 valid (or accepted leniently), 2 invalid, 1 internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import polars as pl

from graphkit.io import ValidationReport, validate_dataset, write_csv_safe

HELP = "Check a dataset folder against the data contract and report every problem at once."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``graphkit validate``."""
    parser.add_argument("dataset", metavar="DIR", help="dataset folder (one file per table)")
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="accept the dataset without the offending rows (and rows that depend on them); "
        "they are written, with their reasons, to the rejects file",
    )
    parser.add_argument(
        "--rejects",
        metavar="FILE",
        default="graphkit-rejects.csv",
        help="where --lenient writes the rows it left out (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="print a machine-readable JSON report")
    parser.add_argument(
        "--as-of",
        metavar="TIME",
        help="analysis moment (ISO 8601); default: the latest timestamp in the dataset",
    )


def _as_json(report: ValidationReport, rejects_path: str | None) -> str:
    ds = report.dataset
    doc = {
        "valid": report.problems.height == 0,
        "accepted": report.ok,
        "problems": report.problems.to_dicts(),
        "warnings": list(report.warnings),
        "row_counts": dict(report.row_counts),
        "rejected_rows": 0 if report.rejects is None else report.rejects.height,
        "rejects_file": rejects_path,
        "as_of": ds.as_of.isoformat() if ds else None,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _as_text(report: ValidationReport, source: str, rejects_path: str | None) -> str:
    lines = []
    for note in report.warnings:
        lines.append(f"warning: {note}")
    if report.row_counts:
        counts = ", ".join(f"{k} {v:,}" for k, v in sorted(report.row_counts.items()))
        lines.append(f"tables: {counts}")
    if report.problems.height:
        lines.append(f"{report.problems.height} problem(s) in {source}:")
        for row in report.problems.iter_rows(named=True):
            where = row["table"] + (f".{row['column']}" if row["column"] else "")
            count = f" ({row['rows']:,} rows)" if row["rows"] else ""
            lines.append(f"  {where}: {row['rule']}{count}")
            for example in row["examples"]:
                lines.append(f"      {example}")
    if report.rejects is not None:
        lines.append(
            f"lenient: {report.rejects.height:,} row(s) left out, with reasons, in {rejects_path}"
        )
    if report.ok and report.rejects is not None and report.rejects.height:
        lines.append(f"accepted leniently: {source} without the rows listed in {rejects_path}")
    elif report.ok:
        lines.append(f"valid: {source} (as_of {report.dataset.as_of.isoformat()})")  # type: ignore[union-attr]
    else:
        lines.append(f"invalid: {source}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``graphkit validate``."""
    report = validate_dataset(args.dataset, as_of=args.as_of, lenient=args.lenient)
    rejects_path = None
    if report.rejects is not None:
        rejects_path = str(Path(args.rejects))
        write_csv_safe(report.rejects, rejects_path)
    if args.json:
        print(_as_json(report, rejects_path))
    else:
        with pl.Config(fmt_str_lengths=80):
            out = _as_text(report, args.dataset, rejects_path)
        print(out, file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 2
