"""The :class:`Dataset`: a validated marketplace dataset as polars LazyFrames.

Examples
--------
>>> import polars as pl
>>> from datetime import datetime, UTC
>>> from graphkit.dataset import Dataset
>>> ds = Dataset(tables={"orders": pl.LazyFrame({"order_id": ["o1"]})},
...              as_of=datetime(2026, 3, 1, tzinfo=UTC))
>>> ds.has("orders"), ds.has("messages")
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl

from graphkit.contract import TIME

__all__ = ["Dataset", "SourceFile"]


@dataclass(frozen=True)
class SourceFile:
    """A file a table was read from, with its SHA-256 and row count."""

    table: str
    path: str
    format: str
    sha256: str
    rows: int


@dataclass(frozen=True)
class Dataset:
    """A marketplace dataset that passed the data contract.

    Tables hold the contract's canonical dtypes (ids ``String``, times
    ``Datetime("us", "UTC")``, money ``Float64``, ratings ``Int8``); unknown
    extra columns are carried along. Downstream code trusts them.

    Parameters
    ----------
    tables
        Table name -> LazyFrame, for the tables present.
    as_of
        The moment the analysis is made for (UTC).
    source
        The folder the dataset was read from, if any.
    files
        The files read, with hashes (recorded in ``run.json``).
    rejects
        In lenient mode, the rows left out with their reasons (else ``None``).
    """

    tables: Mapping[str, pl.LazyFrame]
    as_of: datetime
    source: Path | None = None
    files: tuple[SourceFile, ...] = field(default=())
    rejects: pl.DataFrame | None = None

    def has(self, name: str) -> bool:
        """Whether the dataset has table ``name``."""
        return name in self.tables

    def table(self, name: str) -> pl.LazyFrame:
        """Return table ``name``; raise ``KeyError`` naming the present tables if absent."""
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(
                f"dataset has no {name!r} table (present: {', '.join(sorted(self.tables))})"
            ) from None

    def get(self, name: str) -> pl.LazyFrame | None:
        """Return table ``name`` or ``None`` when the dataset does not have it."""
        return self.tables.get(name)

    @property
    def orders(self) -> pl.LazyFrame:
        """The orders table."""
        return self.table("orders")

    @property
    def feedback(self) -> pl.LazyFrame:
        """The feedback table."""
        return self.table("feedback")

    def row_counts(self) -> dict[str, int]:
        """Rows per table (runs a count on each LazyFrame)."""
        frames = [lf.select(pl.len()) for lf in self.tables.values()]
        counts = pl.collect_all(frames)
        return {name: int(c.item()) for name, c in zip(self.tables, counts, strict=True)}

    def summary(self) -> pl.DataFrame:
        """One row per table: rows, columns, and the time span of its first timestamp column.

        Examples
        --------
        >>> ds.summary()  # doctest: +SKIP
        """
        rows = self.row_counts()
        out = []
        for name, lf in self.tables.items():
            schema = lf.collect_schema()
            times = [n for n, t in schema.items() if isinstance(t, pl.Datetime)]
            out.append(
                {
                    "table": name,
                    "rows": rows[name],
                    "columns": len(schema),
                    "time_column": times[0] if times else None,
                }
            )
        spans = pl.collect_all(
            [
                lf.select(
                    pl.col(r["time_column"]).min().alias("first"),
                    pl.col(r["time_column"]).max().alias("last"),
                )
                if r["time_column"]
                else pl.LazyFrame(
                    {"first": [None], "last": [None]}, schema={"first": TIME, "last": TIME}
                )
                for r, lf in zip(out, self.tables.values(), strict=True)
            ]
        )
        return pl.DataFrame(out).hstack(pl.concat(spans))

    def __repr__(self) -> str:
        names = ", ".join(self.tables)
        where = f" from {self.source}" if self.source else ""
        return f"<Dataset{where}: {names}; as_of {self.as_of.isoformat()}>"

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in r) + "</tr>"
            for r in self.summary().iter_rows()
        )
        head = "".join(
            f"<th>{h}</th>" for h in ("table", "rows", "columns", "time column", "first", "last")
        )
        where = f" from <code>{escape(str(self.source))}</code>" if self.source else ""
        return (
            f"<div class='graphkit-dataset'><b>graphkit Dataset</b>{where}, "
            f"as_of <code>{escape(self.as_of.isoformat())}</code>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>"
        )

    def collect(self) -> dict[str, pl.DataFrame]:
        """Collect every table into memory (convenient for small data and notebooks)."""
        frames = pl.collect_all(list(self.tables.values()))
        return dict(zip(self.tables, frames, strict=True))

    def in_memory(self) -> Dataset:
        """Return the same dataset with every table read (and cast) once, held in memory.

        The tables of a loaded dataset are lazy queries over its files: each reader
        re-reads (and, for CSV, re-parses) the file. A scan reads the orders and feedback
        many times, so for data that fits in memory reading them once is cheaper.

        Examples
        --------
        >>> from datetime import UTC, datetime
        >>> ds = Dataset({"orders": pl.LazyFrame({"order_id": ["o1"]})},
        ...              as_of=datetime(2026, 3, 1, tzinfo=UTC))
        >>> ds.in_memory().orders.collect()["order_id"].to_list()
        ['o1']
        """
        frames = self.collect()
        return Dataset(
            tables={name: df.lazy() for name, df in frames.items()},
            as_of=self.as_of,
            source=self.source,
            files=self.files,
            rejects=self.rejects,
        )
