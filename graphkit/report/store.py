"""The run-history store: one SQLite file of runs, their findings and groups.

``graphkit history RUN`` records each run here (:func:`record_and_diff`) and
compares it with the run recorded before it (:mod:`graphkit.report.history`).
The tables are plain SQL so an investigator can query them directly (see
docs/scheduled-runs.md).

Examples
--------
>>> from graphkit.report.store import record_and_diff
>>> diff = record_and_diff("runs/history.sqlite", load_run("runs/2026-03-02"))  # doctest: +SKIP
>>> diff.exit_code  # doctest: +SKIP
3
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from graphkit.errors import InputNotFoundError
from graphkit.report.history import (
    HistoryDiff,
    _diff_frames,
    _finding_sets,
    _group_sets,
    _label,
    diff_runs,
)
from graphkit.report.run import Run

__all__ = ["RunStore", "history_for", "record_and_diff"]


_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_path TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    as_of TEXT,
    version TEXT,
    recorded_at TEXT NOT NULL,
    n_findings INTEGER NOT NULL,
    n_groups INTEGER NOT NULL,
    run_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS findings (
    run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    finding_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    score REAL,
    group_id TEXT,
    recommended_action TEXT,
    n_evidence INTEGER NOT NULL,
    subject_ids TEXT NOT NULL,
    PRIMARY KEY (run_id, finding_id)
);
CREATE TABLE IF NOT EXISTS groups (
    run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    group_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    score REAL,
    member_ids TEXT NOT NULL,
    seller_ids TEXT NOT NULL,
    PRIMARY KEY (run_id, group_id)
);
CREATE TABLE IF NOT EXISTS group_members (
    run_id INTEGER NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    group_id TEXT NOT NULL,
    account_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS group_members_account ON group_members(account_id);
"""


class RunStore:
    """The run history: one SQLite file holding runs, their findings and groups.

    Tables: ``runs``, ``findings`` (subject ids as a JSON list), ``groups``
    (member and seller ids as JSON lists) and ``group_members`` (one row per
    group member, indexed by account, for "which runs flagged this account?").

    Parameters
    ----------
    path
        The SQLite file (created with its folder when absent).

    Examples
    --------
    >>> with RunStore("runs/history.sqlite") as store:  # doctest: +SKIP
    ...     run_id = store.record(load_run("runs/2026-03-01"))
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(self.path)
        self._con.execute("PRAGMA foreign_keys = ON")
        self._con.executescript(_DDL)

    def close(self) -> None:
        """Close the database."""
        self._con.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._con:
            yield self._con

    def record(self, run: Run) -> int:
        """Store ``run`` (replacing an earlier record of the same folder); return its id.

        A re-recorded folder keeps its place in the history (its ``run_id``).
        """
        key = str(run.path.resolve())
        meta_json = json.dumps(dict(run.meta), sort_keys=True, default=str)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._tx() as con:
            row = con.execute("SELECT run_id FROM runs WHERE run_path = ?", (key,)).fetchone()
            values = (
                _label(run),
                run.as_of,
                run.version,
                now,
                run.findings.height,
                run.groups.height,
                meta_json,
            )
            if row is None:
                cur = con.execute(
                    "INSERT INTO runs (run_path, label, as_of, version, recorded_at, n_findings,"
                    " n_groups, run_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, *values),
                )
                run_id = int(cur.lastrowid or 0)
            else:
                run_id = int(row[0])
                for table in ("findings", "groups", "group_members"):
                    con.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
                con.execute(
                    "UPDATE runs SET label=?, as_of=?, version=?, recorded_at=?, n_findings=?,"
                    " n_groups=?, run_json=? WHERE run_id=?",
                    (*values, run_id),
                )
            f = run.findings.select(
                pl.lit(run_id, dtype=pl.Int64).alias("run_id"),
                "finding_id",
                "rule_id",
                "severity",
                "score",
                "group_id",
                "recommended_action",
                pl.col("evidence_ids").list.len().fill_null(0).cast(pl.Int64).alias("n_ev"),
                pl.col("subject_ids").fill_null([]).list.sort().alias("subjects"),
            ).with_columns(pl.col("subjects").map_batches(_json_lists, return_dtype=pl.String))
            con.executemany("INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", f.rows())
            g = run.groups.select(
                pl.lit(run_id, dtype=pl.Int64).alias("run_id"),
                "group_id",
                "kind",
                "score",
                pl.col("member_ids").fill_null([]).list.sort().alias("m"),
                pl.col("seller_ids").fill_null([]).list.sort().alias("s"),
            ).with_columns(
                pl.col("m").map_batches(_json_lists, return_dtype=pl.String),
                pl.col("s").map_batches(_json_lists, return_dtype=pl.String),
            )
            con.executemany("INSERT INTO groups VALUES (?, ?, ?, ?, ?, ?)", g.rows())
            members = (
                run.groups.select(
                    pl.lit(run_id, dtype=pl.Int64).alias("run_id"),
                    "group_id",
                    pl.concat_list(
                        pl.col("member_ids").fill_null([]), pl.col("seller_ids").fill_null([])
                    )
                    .list.unique()
                    .alias("account_id"),
                )
                .explode("account_id")
                .drop_nulls("account_id")
                .sort("group_id", "account_id")
            )
            con.executemany("INSERT INTO group_members VALUES (?, ?, ?)", members.rows())
        return run_id

    def runs(self) -> pl.DataFrame:
        """Return the recorded runs, oldest first (without their ``run.json``)."""
        rows = self._con.execute(
            "SELECT run_id, run_path, label, as_of, version, recorded_at, n_findings, n_groups"
            " FROM runs ORDER BY run_id"
        ).fetchall()
        schema = {
            "run_id": pl.Int64,
            "run_path": pl.String,
            "label": pl.String,
            "as_of": pl.String,
            "version": pl.String,
            "recorded_at": pl.String,
            "n_findings": pl.Int64,
            "n_groups": pl.Int64,
        }
        return pl.DataFrame(rows, schema=schema, orient="row")

    def previous(self, run_id: int) -> int | None:
        """Return the id of the run recorded before ``run_id`` (``None`` for the first)."""
        row = self._con.execute(
            "SELECT MAX(run_id) FROM runs WHERE run_id < ?", (run_id,)
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def label(self, run_id: int) -> str:
        """Return the stored label (folder name and ``as_of``) of ``run_id``."""
        row = self._con.execute("SELECT label FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"no run {run_id} in {self.path}")
        return str(row[0])

    def group_sets(self, run_id: int) -> pl.DataFrame:
        """Return a run's groups as ``id``, ``key`` (kind), ``members``, ``score``."""
        rows = self._con.execute(
            "SELECT group_id, kind, member_ids, seller_ids, score FROM groups WHERE run_id = ?"
            " ORDER BY group_id",
            (run_id,),
        ).fetchall()
        df = pl.DataFrame(
            rows,
            schema={
                "id": pl.String,
                "key": pl.String,
                "m": pl.String,
                "s": pl.String,
                "score": pl.Float64,
            },
            orient="row",
        )
        lst = pl.List(pl.String)
        return df.select(
            "id",
            "key",
            members=pl.concat_list(
                pl.col("m").str.json_decode(lst), pl.col("s").str.json_decode(lst)
            ),
            score="score",
        )

    def finding_sets(self, run_id: int) -> pl.DataFrame:
        """Return a run's findings as ``id``, ``key`` (rule id), ``members``, ``severity``."""
        rows = self._con.execute(
            "SELECT finding_id, rule_id, subject_ids, severity FROM findings WHERE run_id = ?"
            " ORDER BY finding_id",
            (run_id,),
        ).fetchall()
        df = pl.DataFrame(
            rows,
            schema={"id": pl.String, "key": pl.String, "m": pl.String, "severity": pl.String},
            orient="row",
        )
        return df.select(
            "id",
            "key",
            members=pl.col("m").str.json_decode(pl.List(pl.String)),
            severity="severity",
        )

    def diff(self, run_id: int, *, min_overlap: float = 0.5) -> HistoryDiff:
        """Compare stored run ``run_id`` with the run recorded before it."""
        prev = self.previous(run_id)
        empty_g = pl.DataFrame(
            schema={
                "id": pl.String,
                "key": pl.String,
                "members": pl.List(pl.String),
                "score": pl.Float64,
            }
        )
        empty_f = pl.DataFrame(
            schema={
                "id": pl.String,
                "key": pl.String,
                "members": pl.List(pl.String),
                "severity": pl.String,
            }
        )
        return _diff_frames(
            self.group_sets(prev) if prev is not None else empty_g,
            self.finding_sets(prev) if prev is not None else empty_f,
            self.group_sets(run_id),
            self.finding_sets(run_id),
            previous=self.label(prev) if prev is not None else None,
            current=self.label(run_id),
            min_overlap=min_overlap,
        )


def _json_lists(s: pl.Series) -> pl.Series:
    """JSON text of each list of ids, encoded by polars (no Python loop)."""
    return (
        s.to_frame("v")
        .select(
            pl.struct(pl.col("v").cast(pl.List(pl.String)))
            .struct.json_encode()
            .str.strip_prefix('{"v":')
            .str.strip_suffix("}")
        )
        .to_series()
    )


def record_and_diff(store: str | Path, run: Run, *, min_overlap: float = 0.5) -> HistoryDiff:
    """Record ``run`` in the store at ``store`` and return its diff with the previous run.

    Examples
    --------
    >>> d = record_and_diff("runs/history.sqlite", load_run("runs/2026-03-02"))  # doctest: +SKIP
    >>> d.exit_code  # doctest: +SKIP
    3
    """
    with RunStore(store) as s:
        run_id = s.record(run)
        return s.diff(run_id, min_overlap=min_overlap)


def history_for(store: str | Path, run: Run, *, min_overlap: float = 0.5) -> HistoryDiff:
    """Return the change of ``run`` since the run before it, without writing to the store.

    When ``run`` is recorded in the store it is compared with the run recorded
    before it; otherwise with the latest recorded run.

    Examples
    --------
    >>> history_for("runs/history.sqlite", load_run("runs/x")).counts()  # doctest: +SKIP
    {'grown': 1, 'unchanged': 3}
    """
    path = Path(store)
    if not path.is_file():
        raise InputNotFoundError(f"history store {path} does not exist; record a run first")
    with RunStore(path) as s:
        row = s._con.execute(
            "SELECT run_id FROM runs WHERE run_path = ?", (str(run.path.resolve()),)
        ).fetchone()
        if row is not None:
            return s.diff(int(row[0]), min_overlap=min_overlap)
        latest = s._con.execute("SELECT MAX(run_id) FROM runs").fetchone()[0]
        if latest is None:
            return diff_runs(None, run, min_overlap=min_overlap)
        return _diff_frames(
            s.group_sets(int(latest)),
            s.finding_sets(int(latest)),
            _group_sets(run.groups).select("id", "key", "members", "score"),
            _finding_sets(run.findings),
            previous=s.label(int(latest)),
            current=_label(run),
            min_overlap=min_overlap,
        )
