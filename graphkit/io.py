"""Reading and writing marketplace datasets; atomic output helpers.

A dataset is a folder with one file per table, ``<table>.parquet``,
``<table>.csv`` or ``<table>.ndjson``. Parquet is scanned lazily (a 10M-row
table is never held twice); CSV and NDJSON are parsed as text and cast by
:mod:`graphkit.validation`, which reports every problem at once.

Examples
--------
>>> import graphkit
>>> ds = graphkit.load_dataset("data/sample")  # doctest: +SKIP
>>> ds.orders.select("order_id", "amount").head(2).collect()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from graphkit.contract import TABLES
from graphkit.dataset import Dataset, SourceFile
from graphkit.errors import DataContractError, InputNotFoundError
from graphkit.validation import (
    LEVELS,
    PROBLEM_SCHEMA,
    ROW,
    evaluate,
    normalise,
    parent_tables,
    problem,
    reference_rules,
    row_reasons,
    strip_raw,
)

__all__ = [
    "FORMATS",
    "REJECTS_SCHEMA",
    "ValidationReport",
    "atomic_dir",
    "atomic_write",
    "dataset_from_frames",
    "file_sha256",
    "load_dataset",
    "validate_dataset",
    "write_csv_safe",
    "write_dataset",
]

FORMATS = ("parquet", "csv", "ndjson")
REJECTS_SCHEMA: dict[str, pl.DataType] = {
    "table": pl.String(),
    "row": pl.Int64(),
    "key": pl.String(),
    "reasons": pl.String(),
}
_KNOWN_EXTRA = {"labels"}  # written by the simulator beside the tables; never read by detection


# --------------------------------------------------------------------------- atomic output
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` only if the block succeeds.

    A half-written output folder never appears: on an exception the temporary
    folder is removed and ``path`` is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> with atomic_dir(out) as tmp:
    ...     _ = (tmp / "a.txt").write_text("hi")
    >>> (out / "a.txt").read_text()
    'hi'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; an output folder gets the usual mode
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}-{id(tmp)}"
        target.rename(old)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w") -> Iterator[Path]:
    """Yield a temporary file path that is moved onto ``path`` only if the block succeeds.

    ``mode`` is accepted for symmetry and ignored: write the yielded path however you like.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.json"
    >>> with atomic_write(out) as tmp:
    ...     _ = tmp.write_text("{}")
    >>> out.read_text()
    '{}'
    """
    del mode
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.chmod(0o666 & ~_umask())  # mkstemp makes 0600; an output file gets the usual mode
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB blocks.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x"
    >>> _ = path.write_bytes(b"")
    >>> file_sha256(path)[:12]
    'e3b0c44298fc'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- writing
_FORMULA_START = r"^[=+\-@\t\r]"


def spreadsheet_safe(df: pl.DataFrame) -> pl.DataFrame:
    """Return ``df`` ready for CSV: lists joined with ``"; "``, formula-like text neutralised.

    A text cell starting with ``= + - @``, tab or carriage return is prefixed
    with ``'`` so that a spreadsheet shows it as text instead of running it.

    Examples
    --------
    >>> spreadsheet_safe(pl.DataFrame({"t": ["=HYPERLINK(1)", "ok"], "l": [["a", "b"], []]})).rows()
    [("'=HYPERLINK(1)", 'a; b'), ('ok', '')]
    """
    exprs = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
            col = col.list.eval(pl.element().struct.json_encode()).list.join("; ")
        elif isinstance(dtype, pl.List):
            col = col.cast(pl.List(pl.String), strict=False).list.join("; ")
        elif isinstance(dtype, pl.Struct):
            col = col.struct.json_encode()
        elif dtype != pl.String:
            exprs.append(col)
            continue
        exprs.append(
            pl.when(col.str.contains(_FORMULA_START))
            .then(pl.lit("'") + col)
            .otherwise(col)
            .alias(name)
        )
    return df.select(exprs)


def write_csv_safe(df: pl.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` as CSV atomically, with :func:`spreadsheet_safe` applied.

    Examples
    --------
    >>> import tempfile
    >>> path = write_csv_safe(pl.DataFrame({"t": ["=cmd()"]}), tempfile.mkdtemp() + "/x.csv")
    >>> path.read_text().splitlines()
    ['t', "'=cmd()"]
    """
    with atomic_write(path) as tmp:
        spreadsheet_safe(df).write_csv(tmp, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ")
    return Path(path)


def write_dataset(
    tables: Mapping[str, pl.DataFrame | pl.LazyFrame],
    out_dir: str | os.PathLike[str],
    *,
    format: str = "parquet",
) -> Path:
    """Write tables as a dataset folder, atomically; return the folder.

    Same frames give byte-identical files. Nested columns are not allowed in CSV.

    Examples
    --------
    >>> import tempfile, polars as pl
    >>> out = write_dataset({"coupons": pl.DataFrame({"coupon_id": ["c1"]})},
    ...                     tempfile.mkdtemp() + "/ds", format="csv")
    >>> sorted(p.name for p in out.iterdir())
    ['coupons.csv']
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    with atomic_dir(out_dir) as tmp:
        for name, frame in tables.items():
            if not re.fullmatch(r"[a-z_]+", name):
                raise ValueError(f"table names are lowercase words; got {name!r}")
            df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
            target = tmp / f"{name}.{format}"
            if format == "parquet":
                df.write_parquet(target, compression="zstd", statistics=True)
            elif format == "csv":
                df.write_csv(target, datetime_format="%Y-%m-%dT%H:%M:%S%.fZ")
            else:
                df.write_ndjson(target)
    return Path(out_dir)


# --------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating a dataset.

    Attributes
    ----------
    problems
        Every problem found (:data:`graphkit.validation.PROBLEM_SCHEMA`); empty when valid.
        In lenient mode, the problems of the input, before its offending rows were left out.
    warnings
        Things worth knowing that do not break the contract (unknown files, ...).
    row_counts
        Rows per table as read.
    rejects
        Lenient mode: rows left out with their reasons (:data:`REJECTS_SCHEMA`).
    dataset
        The validated dataset, or ``None`` when it could not be accepted.
    """

    problems: pl.DataFrame
    warnings: tuple[str, ...] = ()
    row_counts: Mapping[str, int] = field(default_factory=dict)
    rejects: pl.DataFrame | None = None
    dataset: Dataset | None = None

    @property
    def ok(self) -> bool:
        """Whether the dataset was accepted."""
        return self.dataset is not None


def _discover(folder: Path) -> tuple[dict[str, Path], list[dict[str, object]], list[str]]:
    found: dict[str, list[Path]] = {}
    notes: list[str] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        stem, _, ext = entry.name.partition(".")
        if ext not in FORMATS:
            notes.append(f"ignored {entry.name}: not a .parquet, .csv or .ndjson table file")
        elif stem in TABLES:
            found.setdefault(stem, []).append(entry)
        elif stem not in _KNOWN_EXTRA:
            notes.append(f"ignored {entry.name}: {stem!r} is not a table of the data contract")
    problems = [
        problem(
            name,
            None,
            "more than one file for the table",
            len(paths),
            [p.name for p in paths],
            file=", ".join(str(p) for p in paths),
        )
        for name, paths in found.items()
        if len(paths) > 1
    ]
    return {k: v[0] for k, v in found.items() if len(v) == 1}, problems, notes


#: Parquet datasets up to this many bytes (all files) are read into memory once, at the
#: door: validation's passes and every later reader then share one copy instead of each
#: re-reading the files (1M orders, 64 MiB: validate + Dataset.in_memory 2.2 -> 1.9 CPU s,
#: +0.2 GiB). Larger ones are scanned lazily (memory).
EAGER_MAX_BYTES = 256 << 20


def _read_raw(name: str, path: Path, *, eager: bool = False) -> pl.LazyFrame:
    """Read one table file as a raw LazyFrame; raises polars errors on unreadable files.

    CSV and NDJSON are always read into memory; Parquet only when ``eager``.
    """
    fmt = path.name.partition(".")[2]
    if fmt == "parquet":
        return pl.read_parquet(path).lazy() if eager else pl.scan_parquet(path)
    if fmt == "csv":
        df = pl.read_csv(path, infer_schema=False, encoding="utf8", raise_if_empty=True)
        dup = [c for c in df.columns if re.search(r"_duplicated_\d+$", c)]
        if dup:
            names = sorted({c.rsplit("_duplicated_", 1)[0] for c in dup})
            raise _FileProblem("duplicate column name", names, column=", ".join(names))
        if len(df.columns) == 1 and re.search(r"[;\t|]", df.columns[0]):
            raise _FileProblem("wrong delimiter (expected ',')", [df.columns[0][:60]])
        return df.lazy()
    size = path.stat().st_size
    if size == 0 or (size < 1 << 20 and not path.read_bytes().strip()):
        raise _FileProblem("empty file", [path.name])
    return pl.read_ndjson(path, infer_schema_length=None).lazy()


class _FileProblem(Exception):
    def __init__(self, rule: str, examples: list[str], column: str | None = None) -> None:
        super().__init__(rule)
        self.rule, self.examples, self.column = rule, examples, column


def _unreadable(
    raw: Mapping[str, pl.LazyFrame], found: Mapping[str, Path]
) -> list[dict[str, object]]:
    """Find which table files cannot be read to the end (after a failure mid-validation)."""
    out = []
    for name, lf in raw.items():
        try:
            lf.select(pl.all().null_count()).collect()
        except pl.exceptions.PolarsError as err:
            out.append(problem(name, None, _describe_read_error(err), 0, [], str(found[name])))
    return out


def _describe_read_error(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    if "utf-8" in text.lower() or "utf8" in text.lower():
        return "not valid UTF-8 text (re-encode the file as UTF-8)"
    if isinstance(err, pl.exceptions.NoDataError) or "empty" in text.lower():
        return "empty file"
    return f"unreadable file ({text[:120]})"


def _coerce_as_of(as_of: datetime | str | None) -> datetime | None:
    if as_of is None or isinstance(as_of, datetime):
        if isinstance(as_of, datetime) and as_of.tzinfo is None:
            return as_of.replace(tzinfo=UTC)
        return as_of
    parsed = pl.Series([as_of]).str.strip_chars()
    out = pl.select(
        pl.coalesce(
            parsed.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", strict=False, time_zone="UTC"),
            parsed.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False).dt.replace_time_zone(
                "UTC"
            ),
            parsed.str.to_datetime("%Y-%m-%d", strict=False).dt.replace_time_zone("UTC"),
        )
    ).item()
    if out is None:
        from graphkit.errors import ConfigError

        raise ConfigError(
            f"as_of must be an ISO 8601 time such as 2026-03-01T00:00:00Z; got {as_of!r}"
        )
    return out


def _validate_tables(
    raw: Mapping[str, pl.LazyFrame],
    *,
    files: Mapping[str, str],
    read_problems: list[dict[str, object]],
    as_of: datetime | str | None,
    lenient: bool,
    source: Path | None,
    sources: tuple[SourceFile, ...] = (),
    notes: tuple[str, ...] = (),
) -> ValidationReport:
    moment = _coerce_as_of(as_of)  # a bad as_of fails before the long work
    raw_schemas = {k: v.collect_schema() for k, v in raw.items()}
    tables = {k: normalise(k, v) for k, v in raw.items()}
    counts_frames = pl.collect_all([lf.select(pl.len()) for lf in raw.values()])
    row_counts = {k: int(c.item()) for k, c in zip(raw, counts_frames, strict=True)}
    table_level = list(read_problems)
    for name in ("orders", "feedback"):
        if row_counts.get(name) == 0:
            table_level.append(problem(name, None, "no rows", 0, [], files.get(name, "")))
    ev = evaluate(tables, raw_schemas=raw_schemas, files=files)
    # a table whose file could not be read is not "missing" on top of that
    unread = {str(p["table"]) for p in read_problems}
    problems = ev.problems.filter(
        ~((pl.col("rule") == "missing table") & pl.col("table").is_in(sorted(unread)))
    )
    if table_level:
        problems = pl.concat([pl.DataFrame(table_level, schema=PROBLEM_SCHEMA), problems])
    fixable = problems.filter(pl.col("rows") > 0).height == problems.height
    rejects = None
    if problems.height and lenient and fixable:
        tables, rejects = _drop_offending_rows(tables, problems)
        ev = evaluate(tables, files=files)
        fixable = ev.problems.height == 0
        if not fixable:  # should not happen: what is left is what blocks the dataset
            problems = ev.problems
    if problems.height and not (lenient and fixable):
        return ValidationReport(problems, notes, row_counts, rejects, None)
    clean = {k: strip_raw(v) for k, v in tables.items()}
    moment = moment or ev.latest or datetime.now(tz=UTC)
    ds = Dataset(tables=clean, as_of=moment, source=source, files=sources, rejects=rejects)
    return ValidationReport(problems, notes, row_counts, rejects, ds)


def _drop_offending_rows(
    tables: dict[str, pl.LazyFrame], problems: pl.DataFrame
) -> tuple[dict[str, pl.LazyFrame], pl.DataFrame]:
    """Lenient mode: remove rows that break rules, and then rows that depended on them.

    Tables are cleaned in reference order (:data:`~graphkit.validation.LEVELS`): a row
    whose parent row was removed is then a dangling reference, and says so. Rows only
    depend on rows of earlier levels, so one pass suffices. Only the rules ``problems``
    found broken are re-checked, plus every reference rule of a table whose parent lost rows.
    """
    current = dict(tables)
    collected: list[pl.DataFrame] = []
    cleaned: set[str] = set()  # earlier levels: clean, so their keys are unique
    shrunk: set[str] = set()  # tables that lost rows
    broken: dict[str, set[tuple[str, str]]] = {}
    for table, column, rule in problems.select("table", "column", "rule").iter_rows():
        broken.setdefault(table, set()).add((column, rule))
    for level in LEVELS:
        names, only = [], []
        for name in (n for n in level if n in current):
            rules = set(broken.get(name, set()))
            if parent_tables(name) & shrunk:
                rules |= {(r.column, r.rule) for r in reference_rules(name, current)}
            if rules:
                names.append(name)
                only.append(rules)
        reasons = pl.collect_all(
            [
                row_reasons(n, current, unique_keys=frozenset(cleaned), only=o)
                for n, o in zip(names, only, strict=True)
            ]
        )
        cleaned.update(n for n in level if n in current)
        for name, r in zip(names, reasons, strict=True):
            if r.height:
                shrunk.add(name)
                current[name] = current[name].filter(~pl.col(ROW).is_in(r[ROW].implode()))
                collected.append(
                    r.select(
                        pl.lit(name).alias("table"),
                        (pl.col(ROW) + 1).alias("row"),
                        pl.col("key"),
                        pl.col("reasons").list.join("; ").alias("reasons"),
                    )
                )
    rejects = (
        pl.concat(collected).sort("table", "row")
        if collected
        else pl.DataFrame(schema=REJECTS_SCHEMA)
    )
    return current, rejects


def validate_dataset(
    path: str | os.PathLike[str],
    *,
    as_of: datetime | str | None = None,
    lenient: bool = False,
) -> ValidationReport:
    """Validate a dataset folder against the data contract and report every problem.

    Never raises for bad data (the report carries the problems); raises
    :class:`~graphkit.errors.InputNotFoundError` when the folder does not exist.

    Parameters
    ----------
    path
        The dataset folder.
    as_of
        The moment of the analysis; default the latest timestamp in the dataset.
    lenient
        Continue without offending rows (and rows depending on them), listing them in
        ``report.rejects``, instead of refusing the dataset.

    Examples
    --------
    >>> report = validate_dataset("data/sample")  # doctest: +SKIP
    >>> report.ok, report.problems.height  # doctest: +SKIP
    (True, 0)
    """
    folder = Path(path)
    if not folder.is_dir():
        raise InputNotFoundError(
            f"dataset folder {str(folder)!r} does not exist or is not a folder; "
            "expected a folder holding orders.<parquet|csv|ndjson> and feedback.<...>"
        )
    found, read_problems, notes = _discover(folder)
    raw: dict[str, pl.LazyFrame] = {}
    sources = []
    eager = sum(f.stat().st_size for f in found.values()) <= EAGER_MAX_BYTES
    for name, file in sorted(found.items()):
        try:
            lf = _read_raw(name, file, eager=eager)
            lf.collect_schema()
        except _FileProblem as fp:
            read_problems.append(problem(name, fp.column, fp.rule, 0, fp.examples, str(file)))
            continue
        except (pl.exceptions.PolarsError, OSError, ValueError) as err:
            read_problems.append(problem(name, None, _describe_read_error(err), 0, [], str(file)))
            continue
        raw[name] = lf
        sources.append((name, file))
    report_files = {name: str(file) for name, file in found.items()}
    rows = dict.fromkeys(raw, 0)
    try:
        report = _validate_tables(
            raw,
            files=report_files,
            read_problems=read_problems,
            as_of=as_of,
            lenient=lenient,
            source=folder,
            notes=tuple(notes),
        )
    except pl.exceptions.PolarsError:  # e.g. a Parquet file whose data pages cannot be read
        unreadable = _unreadable(raw, found)
        if not unreadable:  # not a file problem after all: an internal error
            raise
        problems = pl.DataFrame([*read_problems, *unreadable], schema=PROBLEM_SCHEMA)
        return ValidationReport(problems, tuple(notes), rows, None, None)
    if report.dataset is None:
        return report
    counts = report.row_counts
    files = tuple(
        SourceFile(name, str(file), file.name.partition(".")[2], file_sha256(file), counts[name])
        for name, file in sources
    )
    ds = Dataset(
        tables=report.dataset.tables,
        as_of=report.dataset.as_of,
        source=folder,
        files=files,
        rejects=report.rejects,
    )
    return ValidationReport(report.problems, report.warnings, counts, report.rejects, ds)


def load_dataset(
    path: str | os.PathLike[str],
    *,
    as_of: datetime | str | None = None,
    lenient: bool = False,
) -> Dataset:
    """Read and validate a dataset folder; return a :class:`~graphkit.dataset.Dataset`.

    Raises
    ------
    DataContractError
        With every problem found, when the dataset breaks the contract (strict mode), or
        when a problem cannot be fixed by leaving rows out (lenient mode).
    InputNotFoundError
        When the folder does not exist.

    Examples
    --------
    >>> ds = load_dataset("data/sample")  # doctest: +SKIP
    >>> ds.as_of  # doctest: +SKIP
    datetime.datetime(2026, 6, 30, 23, 41, 2, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
    """
    report = validate_dataset(path, as_of=as_of, lenient=lenient)
    for note in report.warnings:
        warnings.warn(note, UserWarning, stacklevel=2)
    if report.dataset is None:
        raise DataContractError(report.problems, source=str(path))
    return report.dataset


def dataset_from_frames(
    frames: Mapping[str, pl.DataFrame | pl.LazyFrame],
    *,
    as_of: datetime | str | None = None,
    lenient: bool = False,
) -> Dataset:
    """Validate in-memory tables against the contract and return a Dataset.

    The same rules as :func:`load_dataset`; handy in tests and notebooks.

    Examples
    --------
    >>> import polars as pl
    >>> ds = dataset_from_frames({
    ...     "orders": pl.DataFrame({"order_id": ["o1"], "buyer_id": ["b1"], "seller_id": ["s1"],
    ...         "amount": [9.5], "created_at": ["2026-03-01T10:00:00Z"], "paid_at": [None]}),
    ...     "feedback": pl.DataFrame({"feedback_id": ["f1"], "order_id": ["o1"],
    ...         "author_id": ["b1"], "target_id": ["s1"], "rating": [5],
    ...         "dsr_item_as_described": [5], "dsr_communication": [5],
    ...         "dsr_shipping_speed": [5], "created_at": ["2026-03-05T10:00:00Z"]}),
    ... })
    >>> ds.as_of.isoformat()
    '2026-03-05T10:00:00+00:00'
    """
    unknown = sorted(set(frames) - set(TABLES))
    if unknown:
        raise ValueError(
            f"unknown table(s) {', '.join(unknown)}; tables of the contract: {', '.join(TABLES)}"
        )
    raw = {k: (v if isinstance(v, pl.LazyFrame) else v.lazy()) for k, v in frames.items()}
    report = _validate_tables(
        raw, files={}, read_problems=[], as_of=as_of, lenient=lenient, source=None
    )
    if report.dataset is None:
        raise DataContractError(report.problems)
    return report.dataset
