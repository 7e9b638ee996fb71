"""The graphkit error tree.

Every error graphkit raises on purpose is a :class:`GraphkitError`, and each
subclass also subclasses the matching builtin so callers can catch either.
Messages say what was expected, what was found, and what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "ConfigError",
    "DataContractError",
    "GraphkitError",
    "InputNotFoundError",
]


class GraphkitError(Exception):
    """Base class of every error graphkit raises deliberately."""


class ConfigError(GraphkitError, ValueError):
    """A configuration file or parameter is invalid."""


class InputNotFoundError(GraphkitError, FileNotFoundError):
    """A dataset folder, run folder or file the user named does not exist."""


class DataContractError(GraphkitError, ValueError):
    """A dataset breaks the data contract.

    Carries *every* problem found, not just the first, as a polars DataFrame
    with the columns ``file``, ``table``, ``column``, ``rule``, ``rows`` (how
    many rows break it) and ``examples`` (up to five example ids/values).

    Examples
    --------
    >>> import graphkit
    >>> try:
    ...     graphkit.load_dataset("no/such/folder")
    ... except graphkit.GraphkitError as err:
    ...     print(type(err).__name__)
    InputNotFoundError
    """

    def __init__(self, problems: pl.DataFrame, *, source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        n = problems.height
        where = f" in {source}" if source else ""
        lines = [f"dataset{where} breaks the data contract: {n} problem(s) found"]
        for row in problems.head(20).iter_rows(named=True):
            col = f".{row['column']}" if row["column"] else ""
            lines.append(
                f"  - {row['table']}{col}: {row['rule']} ({row['rows']} row(s)); "
                f"e.g. {', '.join(row['examples'])}"
            )
        if n > 20:
            lines.append(f"  ... and {n - 20} more (see .problems)")
        lines.append(
            "Fix the listed rows, or re-run with lenient mode to continue without them "
            "(they are written to a rejects file)."
        )
        super().__init__("\n".join(lines))
