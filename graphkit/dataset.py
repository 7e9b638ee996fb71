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

    def collect(self) -> dict[str, pl.DataFrame]:
        """Collect every table into memory (convenient for small data and notebooks)."""
        frames = pl.collect_all(list(self.tables.values()))
        return dict(zip(self.tables, frames, strict=True))
