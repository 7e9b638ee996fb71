"""Load a scan's run folder: its findings, account scores, groups and ``run.json``.

The report, the evidence export and the run history all read a run through
:func:`load_run`, never the files directly, so the run-folder layout is known
in one place.

Examples
--------
>>> from graphkit.report.run import load_run
>>> run = load_run("runs/2026-03-01")  # doctest: +SKIP
>>> run.findings.height, run.as_of  # doctest: +SKIP
(42, '2026-03-01T00:00:00+00:00')
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from graphkit.errors import GraphkitError, InputNotFoundError
from graphkit.findings import ACCOUNT_SCORES_SCHEMA, FINDINGS_SCHEMA, GROUPS_SCHEMA

if TYPE_CHECKING:
    from graphkit.dataset import Dataset

__all__ = [
    "RUN_FILES",
    "Run",
    "RunFormatError",
    "input_hashes",
    "load_run",
    "load_run_dataset",
    "not_evaluated",
    "write_run",
]

#: The files of a run folder that :func:`load_run` reads.
RUN_FILES = {
    "findings": "findings.parquet",
    "account_scores": "account_scores.parquet",
    "groups": "groups.parquet",
    "meta": "run.json",
}


class RunFormatError(GraphkitError, ValueError):
    """A run folder's files do not have the output contract's schema."""


@dataclass(frozen=True)
class Run:
    """A scan's output, read back.

    Parameters
    ----------
    path
        The run folder.
    findings, account_scores, groups
        The output tables, with exactly the schemas of :mod:`graphkit.findings`.
    meta
        The parsed ``run.json`` (version, parameters, ``as_of``, seed, input
        hashes, row counts, timings, ``not_evaluated``, source path).
    """

    path: Path
    findings: pl.DataFrame
    account_scores: pl.DataFrame
    groups: pl.DataFrame
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The run folder's name (its final name while ``graphkit scan`` writes it atomically)."""
        m = re.fullmatch(r"\.(.+)\.tmp-[^/]*", self.path.name)
        return m.group(1) if m else self.path.name

    @property
    def as_of(self) -> str | None:
        """The run's ``as_of`` as written in ``run.json`` (ISO 8601 text) or ``None``."""
        value = self.meta.get("as_of")
        return None if value is None else str(value)

    @property
    def version(self) -> str | None:
        """The graphkit version that made the run."""
        value = self.meta.get("version")
        return None if value is None else str(value)

    @property
    def source(self) -> Path | None:
        """The dataset folder the run was made from, when ``run.json`` records it."""
        for key in ("source", "dataset", "dataset_path", "input"):
            value = self.meta.get(key)
            if isinstance(value, str) and value:
                return Path(value)
            if isinstance(value, Mapping) and isinstance(value.get("path"), str):
                return Path(value["path"])
        return None


def _read_table(path: Path, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    if not path.is_file():
        raise InputNotFoundError(
            f"run folder lacks {path.name}: expected {path}; is this the --out folder of "
            "`graphkit scan`?"
        )
    df = pl.read_parquet(path)
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise RunFormatError(
            f"{path} lacks the columns {missing} of the output contract; "
            "re-run `graphkit scan` with this graphkit version"
        )
    try:
        return df.select([pl.col(c).cast(t) for c, t in schema.items()])
    except pl.exceptions.PolarsError as err:
        raise RunFormatError(f"{path} does not match the output contract: {err}") from err


def load_run(path: str | Path) -> Run:
    """Read a run folder written by ``graphkit scan``.

    Parameters
    ----------
    path
        The run folder (holding ``findings.parquet``, ``account_scores.parquet``,
        ``groups.parquet`` and ``run.json``).

    Returns
    -------
    Run
        The tables cast to the output schemas (extra columns dropped) and the
        parsed ``run.json``.

    Raises
    ------
    InputNotFoundError
        When the folder or one of its files is missing.
    RunFormatError
        When a table lacks a contract column or ``run.json`` is not a JSON object.

    Examples
    --------
    >>> run = load_run("runs/latest")  # doctest: +SKIP
    >>> run.findings.columns[:2]  # doctest: +SKIP
    ['finding_id', 'rule_id']
    """
    root = Path(path)
    if not root.is_dir():
        raise InputNotFoundError(f"run folder {root} does not exist")
    meta_path = root / RUN_FILES["meta"]
    if not meta_path.is_file():
        raise InputNotFoundError(f"run folder lacks run.json: expected {meta_path}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise RunFormatError(f"{meta_path} is not valid JSON: {err}") from err
    if not isinstance(meta, dict):
        raise RunFormatError(f"{meta_path} must hold a JSON object, found {type(meta).__name__}")
    return Run(
        path=root,
        findings=_read_table(root / RUN_FILES["findings"], FINDINGS_SCHEMA),
        account_scores=_read_table(root / RUN_FILES["account_scores"], ACCOUNT_SCORES_SCHEMA),
        groups=_read_table(root / RUN_FILES["groups"], GROUPS_SCHEMA),
        meta=meta,
    )


def input_hashes(meta: Mapping[str, Any]) -> dict[str, str]:
    """Return ``{table: sha256}`` of the input files recorded in ``run.json``.

    Accepts the shapes a run may record: a list of ``{table, sha256, ...}``
    objects (``graphkit.dataset.SourceFile``) or a ``{table: sha256}`` /
    ``{table: {sha256: ...}}`` mapping, under ``inputs``, ``files`` or
    ``input_files``.

    Examples
    --------
    >>> input_hashes({"inputs": [{"table": "orders", "sha256": "ab"}]})
    {'orders': 'ab'}
    >>> input_hashes({"files": {"orders": {"sha256": "ab"}}})
    {'orders': 'ab'}
    """
    for key in ("inputs", "files", "input_files", "input_sha256"):
        raw = meta.get(key)
        if isinstance(raw, list):
            return {
                str(r["table"]): str(r["sha256"])
                for r in raw
                if isinstance(r, Mapping) and "table" in r and "sha256" in r
            }
        if isinstance(raw, Mapping):
            out: dict[str, str] = {}
            for table, value in raw.items():
                if isinstance(value, str):
                    out[str(table)] = value
                elif isinstance(value, Mapping) and "sha256" in value:
                    out[str(table)] = str(value["sha256"])
            return out
    return {}


def not_evaluated(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return ``[(rule_id, reason), ...]`` of the policies a run could not evaluate.

    Accepts a ``{rule_id: reason}`` mapping or a list of objects with a rule id
    (``rule_id`` / ``policy``) and a ``reason``; sorted by rule id.

    Examples
    --------
    >>> not_evaluated({"not_evaluated": {"COMM_SPAM": "no messages table"}})
    [('COMM_SPAM', 'no messages table')]
    """
    raw = meta.get("not_evaluated") or {}
    pairs: list[tuple[str, str]] = []
    if isinstance(raw, Mapping):
        pairs = [(str(k), str(v)) for k, v in raw.items()]
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, Mapping):
                rid = item.get("rule_id") or item.get("policy") or item.get("id") or "?"
                pairs.append((str(rid), str(item.get("reason", ""))))
            else:
                pairs.append((str(item), ""))
    return sorted(pairs)


def write_run(
    out: str | Path,
    *,
    findings: pl.DataFrame,
    groups: pl.DataFrame,
    account_scores: pl.DataFrame | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write a run folder from tables (atomically): for tests, notebooks and benchmarks.

    ``graphkit scan`` writes real runs; this writes the same four files from
    hand-made tables, cast to the output schemas.

    Examples
    --------
    >>> from graphkit.findings import empty_findings, empty_groups
    >>> import tempfile
    >>> p = write_run(tempfile.mkdtemp() + "/run", findings=empty_findings(),
    ...               groups=empty_groups(), meta={"as_of": "2026-03-01T00:00:00+00:00"})
    >>> load_run(p).as_of
    '2026-03-01T00:00:00+00:00'
    """
    from graphkit.findings import empty_account_scores
    from graphkit.io import atomic_dir

    scores = account_scores if account_scores is not None else empty_account_scores()
    with atomic_dir(out) as tmp:
        for name, df, schema in (
            ("findings", findings, FINDINGS_SCHEMA),
            ("account_scores", scores, ACCOUNT_SCORES_SCHEMA),
            ("groups", groups, GROUPS_SCHEMA),
        ):
            df.select([pl.col(c).cast(t) for c, t in schema.items()]).write_parquet(
                tmp / RUN_FILES[name], statistics=False
            )
        (tmp / RUN_FILES["meta"]).write_text(
            json.dumps(dict(meta or {}), indent=2, sort_keys=True, default=str) + "\n",
            encoding="utf-8",
        )
    return Path(out)


def load_run_dataset(run: Run, path: str | Path | None = None) -> Dataset:
    """Load the dataset a run was made from, with the run's ``as_of``, and check its hashes.

    Parameters
    ----------
    run
        The run.
    path
        The dataset folder; default: the source folder recorded in ``run.json``.

    Raises
    ------
    InputNotFoundError
        When no folder is given and the run records none, or it does not exist.
    DatasetMismatchError
        When the files do not hash to the SHA-256s the run recorded.

    Examples
    --------
    >>> ds = load_run_dataset(load_run("runs/x"))  # doctest: +SKIP
    """
    from graphkit.io import load_dataset
    from graphkit.report.html import check_dataset

    source = Path(path) if path is not None else run.source
    if source is None:
        raise InputNotFoundError(
            f"run {run.path} does not record its dataset folder; pass it with --dataset DIR"
        )
    if not source.is_dir():
        raise InputNotFoundError(
            f"dataset folder {source} of run {run.path} does not exist; pass it with --dataset DIR"
        )
    lenient = bool(run.meta.get("rejected_rows"))
    ds = load_dataset(source, as_of=run.as_of, lenient=lenient)
    check_dataset(run, ds)
    return ds
