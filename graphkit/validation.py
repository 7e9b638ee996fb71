"""Validation of marketplace tables against the data contract.

Tables arrive as raw LazyFrames (CSV read as text, Parquet/NDJSON as typed).
:func:`normalise` casts every declared column to its canonical dtype without
failing, and :func:`row_rules` states every per-row rule as a boolean polars
expression that is true where a row *breaks* the rule. :func:`find_problems`
evaluates all rules of all tables (one query per table) and returns every
problem at once; :func:`row_reasons` gives, per offending row, its reasons
(lenient mode).

Examples
--------
>>> import polars as pl
>>> raw = {"orders": pl.LazyFrame({"order_id": ["o1", "o1"], "buyer_id": ["b", "b"],
...        "seller_id": ["s", "b"], "amount": ["3.5", "-1"],
...        "created_at": ["2026-01-01T00:00:00Z"] * 2, "paid_at": [None, None]})}
>>> tables = {k: normalise(k, v) for k, v in raw.items()}
>>> find_problems(tables)["rule"].to_list()
['duplicate key', 'negative or below minimum', 'buyer_id equals seller_id', 'missing table']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from graphkit.contract import TABLES, TIME, Column, Table

__all__ = [
    "PROBLEM_SCHEMA",
    "RowRule",
    "find_problems",
    "normalise",
    "problem",
    "row_reasons",
    "row_rules",
    "strip_raw",
]

PROBLEM_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "table": pl.String(),
    "column": pl.String(),
    "rule": pl.String(),
    "rows": pl.Int64(),
    "examples": pl.List(pl.String),
}

#: Raw copies of declared columns are kept under this prefix until validation ends.
RAW = "__raw__"
ROW = "__row"

_TZ_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%d %H:%M:%S%.fZ",
)
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")


def problem(
    table: str, column: str | None, rule: str, rows: int, examples: list[str], file: str = ""
) -> dict[str, object]:
    """Build one problem record (a row of :data:`PROBLEM_SCHEMA`)."""
    return {
        "file": file,
        "table": table,
        "column": column or "",
        "rule": rule,
        "rows": rows,
        "examples": examples,
    }


def _parse_time(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return expr.dt.replace_time_zone("UTC").dt.cast_time_unit("us")
        return expr.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if dtype == pl.Date:
        return expr.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype == pl.String:
        s = expr.str.strip_chars()
        tz = [
            s.str.to_datetime(f, strict=False, time_unit="us", time_zone="UTC") for f in _TZ_FORMATS
        ]
        naive = [
            s.str.to_datetime(f, strict=False, time_unit="us").dt.replace_time_zone("UTC")
            for f in _NAIVE_FORMATS
        ]
        return pl.coalesce([*tz, *naive])
    # numbers (epoch seconds? milliseconds?) are ambiguous: refuse them
    return pl.lit(None, dtype=TIME)


def _cast(col: Column, expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Cast a raw column of ``dtype`` to the canonical dtype of ``col``; failures become null."""
    if col.kind == "datetime":
        return _parse_time(expr, dtype)
    if col.kind in ("id", "str"):
        if dtype.is_float():
            # integers stored as floats (1.0) keep their decimal text "1"
            return (
                pl.when(expr == expr.floor())
                .then(expr.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(expr.cast(pl.String))
            )
        return expr.cast(pl.String, strict=False)
    num = expr.str.strip_chars() if dtype == pl.String else expr
    as_float = num.cast(pl.Float64, strict=False)
    if col.kind == "float":
        return as_float
    # int / rating: integral values only
    integral = as_float.is_finite() & (as_float == as_float.floor())
    out = pl.when(integral).then(as_float).otherwise(None)
    if col.kind == "rating":
        return pl.when(out.is_between(-128, 127)).then(out).otherwise(None).cast(pl.Int8)
    return out.cast(pl.Int64, strict=False)


def normalise(table: str, raw: pl.LazyFrame) -> pl.LazyFrame:
    """Cast a raw table to the contract's canonical dtypes, keeping raw copies for validation.

    Declared columns that are absent are added as nulls (a missing *required*
    column is reported by :func:`find_problems`). Unknown extra columns are kept.

    Examples
    --------
    >>> lf = normalise("refunds", pl.LazyFrame({"refund_id": [1], "amount": ["2.5"]}))
    >>> lf.select("refund_id", "amount").collect().row(0)
    ('1', 2.5)
    """
    spec = TABLES[table]
    schema = raw.collect_schema()
    exprs: list[pl.Expr] = [pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW)]
    for col in spec.columns:
        if col.name in schema:
            dtype = schema[col.name]
            exprs.append(pl.col(col.name).alias(RAW + col.name))
            exprs.append(_cast(col, pl.col(col.name), dtype).alias(col.name))
        else:
            exprs.append(pl.lit(None, dtype=pl.String).alias(RAW + col.name))
            exprs.append(pl.lit(None, dtype=col.dtype).alias(col.name))
    return raw.with_columns(exprs)


def strip_raw(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Drop the validation helper columns, leaving canonical and extra columns."""
    names = lf.collect_schema().names()
    return lf.drop([n for n in names if n.startswith(RAW) or n == ROW])


@dataclass(frozen=True)
class RowRule:
    """A per-row rule: ``broken`` is true on rows that break it."""

    table: str
    column: str
    rule: str
    broken: pl.Expr
    shows: tuple[str, ...]


def _is_missing(col: Column) -> pl.Expr:
    raw = pl.col(RAW + col.name)
    if col.kind == "id":
        return raw.is_null() | (raw.cast(pl.String, strict=False).str.strip_chars() == "")
    return raw.is_null()


def _column_rules(spec: Table, col: Column) -> list[RowRule]:
    c, raw = pl.col(col.name), pl.col(RAW + col.name)
    rules: list[RowRule] = []
    t, n = spec.name, col.name
    if not col.nullable:
        label = "null or empty id" if col.kind == "id" else "null value"
        rules.append(RowRule(t, n, label, _is_missing(col), (n,)))
    elif col.kind == "id" or (col.kind == "str" and col.ref):
        rules.append(
            RowRule(t, n, "empty id", raw.is_not_null() & (c.str.strip_chars() == ""), (n,))
        )
    if col.kind == "id" or (col.kind == "str" and col.ref):
        rules.append(
            RowRule(
                t,
                n,
                "id contains control characters (newline, tab, NUL, ...)",
                c.str.contains(r"[\x00-\x1f\x7f]"),
                (n,),
            )
        )
    present = raw.is_not_null() & ~_is_missing(col) if col.kind == "id" else raw.is_not_null()
    if col.kind == "datetime":
        rules.append(RowRule(t, n, "unparseable timestamp", present & c.is_null(), (RAW + n,)))
    elif col.kind in ("float", "int", "rating"):
        rules.append(RowRule(t, n, "wrong type", present & c.is_null(), (RAW + n,)))
    if col.kind == "float":
        rules.append(RowRule(t, n, "not a finite number", c.is_not_null() & ~c.is_finite(), (n,)))
    if col.kind == "rating":
        rules.append(RowRule(t, n, "rating out of 1..5", ~c.is_between(1, 5), (n,)))
    if col.ge is not None:
        rules.append(RowRule(t, n, "negative or below minimum", c < col.ge, (n,)))
    if col.gt is not None:
        rules.append(RowRule(t, n, "not strictly positive", c <= col.gt, (n,)))
    if col.allowed is not None:
        rules.append(
            RowRule(t, n, f"not one of {', '.join(col.allowed)}", ~c.is_in(col.allowed), (n,))
        )
    if col.unique:
        rules.append(RowRule(t, n, "duplicate key", c.is_not_null() & c.is_duplicated(), (n,)))
    return rules


def _cross_rules(table: str) -> list[RowRule]:
    c = pl.col
    if table == "orders":
        return [
            RowRule(
                table,
                "paid_at",
                "paid_at before created_at",
                c("paid_at") < c("created_at"),
                ("order_id", "created_at", "paid_at"),
            ),
            RowRule(
                table,
                "seller_id",
                "buyer_id equals seller_id",
                c("buyer_id") == c("seller_id"),
                ("order_id", "buyer_id"),
            ),
        ]
    if table == "coupons":
        return [
            RowRule(
                table,
                "valid_to",
                "valid_from after valid_to",
                c("valid_from") > c("valid_to"),
                ("coupon_id", "valid_from", "valid_to"),
            )
        ]
    if table == "messages":
        return [
            RowRule(
                table,
                "recipient_id",
                "recipient_id equals sender_id",
                c("recipient_id") == c("sender_id"),
                ("message_id", "sender_id"),
            )
        ]
    if table == "feedback":
        return [
            RowRule(
                table,
                "author_id",
                "duplicate feedback for (order_id, author_id)",
                c("order_id").is_not_null() & pl.struct("order_id", "author_id").is_duplicated(),
                ("feedback_id", "order_id", "author_id"),
            )
        ]
    return []


def _lookup(tables: Mapping[str, pl.LazyFrame], ref: tuple[str, str]) -> pl.LazyFrame | None:
    other = tables.get(ref[0])
    if other is None:
        return None
    return other.select(pl.col(ref[1]).alias("__ref")).filter(pl.col("__ref").is_not_null())


def _joined(table: str, lf: pl.LazyFrame, tables: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
    """Attach what cross-table rules need: reference flags and the parent order's fields."""
    spec = TABLES[table]
    out = lf
    for col in spec.columns:
        if col.ref is None:
            continue
        keys = _lookup(tables, col.ref)
        if keys is None:
            continue
        flag = f"__has_{col.name}"
        out = out.join(
            keys.unique().with_columns(pl.lit(True).alias(flag)),
            left_on=col.name,
            right_on="__ref",
            how="left",
            maintain_order="left",
        )
    accounts = tables.get("accounts")
    if table == "orders" and accounts is not None:
        kinds = accounts.select("account_id", "kind").unique("account_id", keep="first")
        for role in ("buyer", "seller"):
            out = out.join(
                kinds.rename({"account_id": f"{role}_id", "kind": f"__{role}_kind"}),
                on=f"{role}_id",
                how="left",
                maintain_order="left",
            )
    if table in ("feedback", "disputes") and "orders" in tables:
        parent = (
            tables["orders"]
            .select(
                pl.col("order_id"),
                pl.col("buyer_id").alias("__o_buyer"),
                pl.col("seller_id").alias("__o_seller"),
                pl.col("created_at").alias("__o_created"),
            )
            .unique("order_id", keep="first")
        )
        out = out.join(parent, on="order_id", how="left", maintain_order="left")
    if table == "coupons" and accounts is not None:
        sellers = (
            accounts.filter(pl.col("kind") == "seller")
            .select(pl.col("account_id").alias("issuer_id"), pl.lit(True).alias("__issuer_seller"))
            .unique("issuer_id")
        )
        out = out.join(sellers, on="issuer_id", how="left", maintain_order="left")
    return out


def _reference_rules(table: str, tables: Mapping[str, pl.LazyFrame]) -> list[RowRule]:
    spec = TABLES[table]
    rules = []
    for col in spec.columns:
        if col.ref is None or col.ref[0] not in tables:
            continue
        c = pl.col(col.name)
        rules.append(
            RowRule(
                table,
                col.name,
                f"dangling reference to {col.ref[0]}.{col.ref[1]}",
                c.is_not_null()
                & (c.str.strip_chars() != "")
                & pl.col(f"__has_{col.name}").is_null(),
                (spec.key or col.name, col.name) if spec.key else (col.name,),
            )
        )
    c = pl.col
    if table == "orders" and "accounts" in tables:
        for role in ("buyer", "seller"):
            rules.append(
                RowRule(
                    table,
                    f"{role}_id",
                    f"{role}_id is not a {role} account",
                    c(f"__{role}_kind").is_not_null() & (c(f"__{role}_kind") != role),
                    ("order_id", f"{role}_id", f"__{role}_kind"),
                )
            )
    if table == "feedback" and "orders" in tables:
        known = c("__o_buyer").is_not_null()
        buyer_side = (c("author_id") == c("__o_buyer")) & (c("target_id") == c("__o_seller"))
        seller_side = (c("author_id") == c("__o_seller")) & (c("target_id") == c("__o_buyer"))
        rules += [
            RowRule(
                table,
                "author_id",
                "author/target not the parties of the order",
                known & ~(buyer_side | seller_side),
                ("feedback_id", "order_id", "author_id", "target_id"),
            ),
            RowRule(
                table,
                "created_at",
                "feedback before its order",
                known & (c("created_at") < c("__o_created")),
                ("feedback_id", "order_id", "created_at"),
            ),
        ]
    if table == "disputes" and "orders" in tables:
        rules.append(
            RowRule(
                table,
                "opened_by",
                "case not opened by the order's buyer",
                c("__o_buyer").is_not_null() & (c("opened_by") != c("__o_buyer")),
                ("case_id", "order_id", "opened_by"),
            )
        )
    if table == "coupons" and "accounts" in tables:
        rules.append(
            RowRule(
                table,
                "issuer_id",
                "issuer is neither a seller nor 'platform'",
                (c("issuer_id") != "platform") & c("__issuer_seller").is_null(),
                ("coupon_id", "issuer_id"),
            )
        )
    return rules


def row_rules(table: str, tables: Mapping[str, pl.LazyFrame]) -> list[RowRule]:
    """Every per-row rule of ``table``, given the other (normalised) tables present."""
    spec = TABLES[table]
    rules = [r for col in spec.columns for r in _column_rules(spec, col)]
    return rules + _cross_rules(table) + _reference_rules(table, tables)


def _example(row: dict[str, object], shows: tuple[str, ...]) -> str:
    parts = [f"row {int(row[ROW]) + 1}"]
    for name in shows:
        value = row.get(name)
        text = repr(value) if isinstance(value, str) else str(value)
        if len(text) > 60:
            text = text[:57] + "..."
        parts.append(f"{name.removeprefix(RAW).lstrip('_')}={text}")
    return " ".join(parts)


def _missing_columns(table: str, raw_schema: Mapping[str, pl.DataType]) -> list[dict[str, object]]:
    spec = TABLES[table]
    missing = [c.name for c in spec.columns if c.required and c.name not in raw_schema]
    return [problem(table, name, "missing required column", 0, []) for name in missing]


def find_problems(
    tables: Mapping[str, pl.LazyFrame],
    *,
    raw_schemas: Mapping[str, Mapping[str, pl.DataType]] | None = None,
    files: Mapping[str, str] | None = None,
    max_examples: int = 5,
) -> pl.DataFrame:
    """Evaluate every contract rule on every table; return all problems found.

    Parameters
    ----------
    tables
        Table name -> LazyFrame produced by :func:`normalise`.
    raw_schemas
        The schema each table had before normalisation (to report missing columns);
        derived from the raw copies when omitted.
    files
        Table name -> file path, for the ``file`` column of the report.
    max_examples
        How many example rows to show per problem.

    Returns
    -------
    polars.DataFrame
        One row per problem with :data:`PROBLEM_SCHEMA`; empty when the dataset is valid.
    """
    files = files or {}
    problems: list[dict[str, object]] = []
    for name, spec in TABLES.items():
        if name not in tables:
            if spec.required:
                problems.append(problem(name, None, "missing table", 0, []))
            continue
        lf = tables[name]
        missing = _missing_columns(name, raw_schemas[name]) if raw_schemas is not None else []
        if missing:
            problems.extend({**p, "file": files.get(name, "")} for p in missing)
            continue  # rules on absent columns would only repeat the same problem
        rules = row_rules(name, tables)
        joined = _joined(name, lf, tables)
        counts = joined.select(
            [r.broken.fill_null(False).sum().alias(str(i)) for i, r in enumerate(rules)]
        ).collect()
        for i, rule in enumerate(rules):
            n = int(counts[str(i)][0])
            if n == 0:
                continue
            cols = list(dict.fromkeys((ROW, *rule.shows)))
            sample = (
                joined.filter(rule.broken.fill_null(False))
                .select(cols)
                .head(max_examples)
                .collect()
            )
            examples = [_example(row, rule.shows) for row in sample.iter_rows(named=True)]
            problems.append(problem(name, rule.column, rule.rule, n, examples, files.get(name, "")))
    return pl.DataFrame(problems, schema=PROBLEM_SCHEMA)


def row_reasons(table: str, tables: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
    """Rows of ``table`` that break any rule, with every reason (for lenient mode).

    Returns a LazyFrame with ``__row`` (0-based row number in the input),
    ``key`` (the row's key value, if the table has one) and ``reasons`` (list
    of ``"column: rule"`` strings).
    """
    spec = TABLES[table]
    rules = row_rules(table, tables)
    joined = _joined(table, tables[table], tables)
    reason_exprs = [
        pl.when(r.broken.fill_null(False)).then(pl.lit(f"{r.column}: {r.rule}")) for r in rules
    ]
    key = pl.col(spec.key).cast(pl.String) if spec.key else pl.lit(None, dtype=pl.String)
    return (
        joined.select(pl.col(ROW), key.alias("key"), pl.concat_list(reason_exprs).alias("reasons"))
        .with_columns(pl.col("reasons").list.drop_nulls())
        .filter(pl.col("reasons").list.len() > 0)
    )
