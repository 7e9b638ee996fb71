"""Reports, case evidence and run history of a scan.

- :func:`write_report` / :func:`render_report`: the self-contained HTML report.
- :func:`export_case` / :func:`verify_case`: a BagIt evidence bag for one group
  or finding, and its integrity check.
- :class:`RunStore` / :func:`diff_runs`: the SQLite run history and what
  changed since the previous run.
- :mod:`graphkit.report.plots`: the plots the report draws (reused by notebooks).

matplotlib, jinja2 and bagit are imported only when used.

Examples
--------
>>> from graphkit.report import load_run, write_report
>>> write_report("runs/2026-03-01", dataset=graphkit.load_dataset("data/x"))  # doctest: +SKIP
PosixPath('runs/2026-03-01/report.html')
"""

from __future__ import annotations

from graphkit.report.cases import case_rows
from graphkit.report.evidence import (
    EvidenceError,
    ExportResult,
    VerifyResult,
    export_case,
    verify_case,
)
from graphkit.report.history import HistoryDiff, diff_runs, match_sets
from graphkit.report.html import DatasetMismatchError, check_dataset, render_report, write_report
from graphkit.report.pseudonyms import pseudonymise
from graphkit.report.run import Run, RunFormatError, load_run
from graphkit.report.store import RunStore, history_for, record_and_diff

__all__ = [
    "DatasetMismatchError",
    "EvidenceError",
    "ExportResult",
    "HistoryDiff",
    "Run",
    "RunFormatError",
    "RunStore",
    "VerifyResult",
    "case_rows",
    "check_dataset",
    "diff_runs",
    "export_case",
    "history_for",
    "load_run",
    "match_sets",
    "pseudonymise",
    "record_and_diff",
    "render_report",
    "verify_case",
    "write_report",
]
