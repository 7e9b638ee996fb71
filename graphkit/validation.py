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

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from graphkit.contract import TABLES, TIME, Column, Table

__all__ = [
    "LEVELS",
    "PROBLEM_SCHEMA",
    "Evaluation",
    "RowRule",
    "evaluate",
    "find_problems",
    "normalise",
    "parent_tables",
    "problem",
    "reference_rules",
    "require_columns",
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
    """Build one problem record (a row of :data:`PROBLEM_SCHEMA`).

    Examples
    --------
    >>> problem("orders", "amount", "wrong type", 1, ["row 2 amount='abc'"])["column"]
    'amount'
    """
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
    if dtype.is_nested() or dtype in (pl.Binary, pl.Object, pl.Null):
        return pl.lit(None, dtype=col.dtype)  # lists, structs, bytes: reported as wrong type
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
    if dtype.is_integer() and col.kind in ("int", "rating"):  # fast path (Parquet, NDJSON)
        if col.kind == "rating":  # out-of-range values stay out of 1..5 (reported as such)
            return expr.clip(-128, 127).cast(pl.Int8)
        return expr.cast(pl.Int64, strict=False)
    num = expr.str.strip_chars() if dtype == pl.String else expr
    as_float = num.cast(pl.Float64, strict=False)
    if col.kind == "float":
        return as_float
    # int / rating: integral values only
    integral = as_float.is_finite() & (as_float == as_float.floor())
    out = pl.when(integral).then(as_float).otherwise(None)
    if col.kind == "rating":
        return out.clip(-128, 127).cast(pl.Int8)
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
    """Drop the validation helper columns, leaving canonical and extra columns.

    Examples
    --------
    >>> strip_raw(normalise("refunds", pl.LazyFrame({"refund_id": ["r1"]}))).collect_schema()[
    ...     "refund_id"
    ... ]
    String
    """
    names = lf.collect_schema().names()
    return lf.drop([n for n in names if n.startswith(RAW) or n == ROW])


@dataclass(frozen=True)
class RowRule:
    """A per-row rule: ``broken`` is true on rows that break it.

    ``screen``, when given, is a cheap aggregate that is true whenever the rule
    *may* be broken somewhere in the table (e.g. "fewer distinct key hashes than
    keys"); ``broken`` is then evaluated only when the screen fires. A screen may
    fire falsely (a hash collision) but never miss a broken row. ``prescreen``, when
    given, is a cheaper aggregate of the same kind (e.g. "the keys are not strictly
    increasing"): ``screen`` is then evaluated only when the prescreen fires.
    """

    table: str
    column: str
    rule: str
    broken: pl.Expr
    shows: tuple[str, ...]
    screen: pl.Expr | None = None
    prescreen: pl.Expr | None = None


#: An id that is blank or holds a control character (one regex pass over the column).
_BAD_ID = r"^\s*$|[\x00-\x1f\x7f]"


def _is_missing(col: Column) -> pl.Expr:
    raw = pl.col(RAW + col.name)
    if col.kind == "id":
        return raw.is_null() | (raw.cast(pl.String, strict=False).str.strip_chars() == "")
    return raw.is_null()


def _fewer_distinct(expr: pl.Expr, keep: pl.Expr, *, hashed: bool = False) -> pl.Expr:
    """Aggregate: true when ``expr`` (rows where ``keep``) has fewer distinct hashes than rows.

    ``hashed``: ``expr`` is already a hash (equal values give equal hashes).
    """
    return (expr if hashed else expr.hash(0)).filter(keep).n_unique() < keep.sum()


def _not_increasing(c: pl.Expr) -> pl.Expr:
    """Aggregate: true unless the non-null values of ``c`` strictly increase (then unique).

    Exact, and about a quarter of the CPU of counting distinct hashes (:func:`_fewer_distinct`,
    10M keys, streaming engine: 0.23 vs 1.02 s with the read): keys written in key order,
    as database exports usually are, skip the hash count.
    """
    v = c.drop_nulls()
    return ~(v > v.shift(1)).all()


def _pair_hash(a: str, b: str) -> pl.Expr:
    """Hash the pair ``(a, b)``: equal pairs, equal hashes (a screen only).

    Two column hashes (different seeds) combined by xor: a third cheaper than hashing
    the struct of both columns (10M feedback rows).
    """
    return pl.col(a).hash(0) ^ pl.col(b).hash(1)


#: The id rules a column's id screen covers (re-fired by the reference screen, see below).
_ID_RULES = frozenset(
    {"null or empty id", "empty id", "id contains control characters (newline, tab, NUL, ...)"}
)


def _column_rules(
    spec: Table, col: Column, *, clean_ref: bool = False, sorted_key: bool = False
) -> list[RowRule]:
    """Return the rules of one column.

    ``clean_ref``: the column references a key that was checked and holds no null, blank
    or control-character id. A non-null value that matches such a key is then itself a
    good id, so a bad id is always a dangling reference too: the regex screen is left
    out, and :func:`evaluate` fires the id rules when the column's reference screen fires.
    ``sorted_key``: a unique column's hash count is computed only when its values do not
    strictly increase (:func:`_not_increasing`); for keys that no table references (a
    referenced key's hash count also proves its hashes distinct, for the hash joins).
    """
    c, raw = pl.col(col.name), pl.col(RAW + col.name)
    rules: list[RowRule] = []
    t, n = spec.name, col.name
    is_id = col.kind == "id" or (col.kind == "str" and col.ref is not None)
    # one regex pass screens both id rules; they are evaluated exactly only when it fires
    nulls = raw.is_null() if not col.nullable else pl.lit(False)
    if not is_id:
        id_screen = None
    elif clean_ref:
        id_screen = nulls.any() if not col.nullable else pl.lit(False).alias(f"__no_{n}")
    else:
        id_screen = (nulls | c.str.contains(_BAD_ID)).any()
    if not col.nullable:
        label = "null or empty id" if col.kind == "id" else "null value"
        rules.append(RowRule(t, n, label, _is_missing(col), (n,), screen=id_screen))
    elif is_id:
        rules.append(
            RowRule(
                t,
                n,
                "empty id",
                raw.is_not_null() & (c.str.strip_chars() == ""),
                (n,),
                screen=id_screen,
            )
        )
    if is_id:
        rules.append(
            RowRule(
                t,
                n,
                "id contains control characters (newline, tab, NUL, ...)",
                c.str.contains(r"[\x00-\x1f\x7f]"),
                (n,),
                screen=id_screen,
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
        rules.append(RowRule(t, n, "rating out of 1..5", ~c.is_between(1, 5), (RAW + n,)))
    if col.ge is not None:
        rules.append(RowRule(t, n, "negative or below minimum", c < col.ge, (n,)))
    if col.gt is not None:
        rules.append(RowRule(t, n, "not strictly positive", c <= col.gt, (n,)))
    if col.allowed is not None:
        rules.append(
            RowRule(t, n, f"not one of {', '.join(col.allowed)}", ~c.is_in(col.allowed), (n,))
        )
    if col.unique:
        rules.append(
            RowRule(
                t,
                n,
                "duplicate key",
                c.is_not_null() & c.is_duplicated(),
                (n,),
                screen=_fewer_distinct(c, c.is_not_null()),
                prescreen=_not_increasing(c) if sorted_key else None,
            )
        )
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
        pair = pl.struct("order_id", "author_id")
        return [
            RowRule(
                table,
                "author_id",
                "duplicate feedback for (order_id, author_id)",
                c("order_id").is_not_null() & pair.is_duplicated(),
                ("feedback_id", "order_id", "author_id"),
                screen=_fewer_distinct(
                    _pair_hash("order_id", "author_id"), c("order_id").is_not_null(), hashed=True
                ),
            )
        ]
    return []


#: What a table borrows from the table it references (beyond "the key exists").
_PARENT_FIELDS: dict[tuple[str, str], dict[str, str]] = {
    ("orders", "buyer_id"): {"kind": "__buyer_kind"},
    ("orders", "seller_id"): {"kind": "__seller_kind"},
    ("feedback", "order_id"): {
        "buyer_id": "__o_buyer",
        "seller_id": "__o_seller",
        "created_at": "__o_created",
    },
    ("disputes", "order_id"): {"buyer_id": "__o_buyer"},
}


def _attach(
    out: pl.LazyFrame,
    column: str,
    tables: Mapping[str, pl.LazyFrame],
    ref: tuple[str, str],
    flag: str,
    fields: Mapping[str, str],
    *,
    unique_keys: frozenset[str],
    hashed_keys: frozenset[str],
) -> pl.LazyFrame:
    """Left-join the referenced table's key (as ``flag`` = True) and ``fields`` onto ``out``.

    When the parent's key hashes are known to be distinct (``hashed_keys``), the join
    runs on 64-bit hashes, much cheaper than on strings, and each match is verified
    by comparing the strings, so a hash collision can never fake a match.
    """
    parent = tables[ref[0]].filter(pl.col(ref[1]).is_not_null())
    extra = [pl.col(src).alias(dst) for src, dst in fields.items()]
    if ref[0] in hashed_keys:
        right = parent.select(
            pl.col(ref[1]).hash(0).alias("__ref"), pl.col(ref[1]).alias("__refkey"), *extra
        )
        joined = out.with_columns(pl.col(column).hash(0).alias("__lkey")).join(
            right, left_on="__lkey", right_on="__ref", how="left"
        )
        same = pl.col("__refkey") == pl.col(column)
        return joined.with_columns(
            pl.when(same).then(True).alias(flag),
            *[pl.when(same).then(pl.col(dst)).alias(dst) for dst in fields.values()],
        ).drop("__lkey", "__refkey")
    right = parent.select(pl.col(ref[1]).alias("__ref"), pl.lit(True).alias(flag), *extra)
    if ref[0] not in unique_keys:
        # duplicate parent keys would multiply rows; keep the first (deterministic)
        right = right.unique("__ref", keep="first")
    return out.join(right, left_on=column, right_on="__ref", how="left")


_NARROW_BASE = [ROW]
#: Columns (besides the row number and the referencing columns) that reference rules use.
_NARROW_EXTRA: dict[str, tuple[str, ...]] = {
    "feedback": ("author_id", "target_id", "created_at"),
    "disputes": ("opened_by",),
    "coupons": ("issuer_id",),
}


def _narrow_columns(table: str) -> list[str]:
    spec = TABLES[table]
    refs = [c.name for c in spec.columns if c.ref is not None]
    names = [spec.key, *refs, *_NARROW_EXTRA.get(table, ())] if spec.key else refs
    return list(dict.fromkeys(n for n in names if n))


#: Columns compared, row by row, with these columns of the referenced order (see
#: :func:`_trusted_columns`), by the rule that names them.
_PARTY_COLUMNS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("feedback", "author_id"): (("orders", "buyer_id"), ("orders", "seller_id")),
    ("feedback", "target_id"): (("orders", "buyer_id"), ("orders", "seller_id")),
}
_PARTY_RULE = "author/target not the parties of the order"


def _trusted_columns(
    table: str, refs: list[RowRule], clean_cols: Collection[tuple[str, str]]
) -> dict[str, int]:
    """Id columns of ``table`` whose bad ids fire a reference screen: column -> rule index.

    A column referencing a clean key (an id column that broke no id rule) cannot hold a
    bad id on a row that matches: a bad id never matches, so the ``dangling reference``
    screen fires. Likewise feedback's author and target must equal the clean buyer and
    seller ids of a known order, so a bad one fires the parties rule's screen (which
    also fires on any row whose order is unknown).
    """
    by_rule = {(r.column, r.rule): j for j, r in enumerate(refs)}
    out: dict[str, int] = {}
    for col in TABLES[table].columns:
        ref = col.ref
        if ref is not None and ref in clean_cols and ref[1] == TABLES[ref[0]].key:
            j = by_rule.get((col.name, f"dangling reference to {ref[0]}.{ref[1]}"))
            if j is not None:
                out[col.name] = j
        sources = _PARTY_COLUMNS.get((table, col.name))
        if sources and all(src in clean_cols for src in sources):
            j = by_rule.get(("author_id", _PARTY_RULE))
            if j is not None:
                out[col.name] = j
    return out


def _usable(tables: Mapping[str, pl.LazyFrame], parents: frozenset[str] | None) -> set[str]:
    return set(tables) if parents is None else set(tables) & set(parents)


def _joined(
    table: str,
    lf: pl.LazyFrame,
    tables: Mapping[str, pl.LazyFrame],
    *,
    parents: frozenset[str] | None = None,
    unique_keys: frozenset[str] = frozenset(),
    hashed_keys: frozenset[str] = frozenset(),
) -> pl.LazyFrame:
    """Attach what cross-table rules need: one left join per reference.

    Parameters
    ----------
    parents
        Tables that may be referenced (default: all present); a table whose key column
        is missing cannot be referenced meaningfully.
    unique_keys
        Tables whose key is known to be unique: joined without a de-duplication pass.
    hashed_keys
        Tables whose keys are known to have distinct 64-bit hashes: joined on hashes.
    """
    usable = _usable(tables, parents)
    keys = {"unique_keys": unique_keys, "hashed_keys": hashed_keys}
    out = lf
    for col in TABLES[table].columns:
        if col.ref is None or col.ref[0] not in usable:
            continue
        fields = _PARENT_FIELDS.get((table, col.name), {})
        out = _attach(out, col.name, tables, col.ref, f"__has_{col.name}", fields, **keys)
    if table == "coupons" and "accounts" in usable:
        ref, fields = ("accounts", "account_id"), {"kind": "__issuer_kind"}
        out = _attach(out, "issuer_id", tables, ref, "__has_issuer_id", fields, **keys)
    return out


def _reference_rules(table: str, usable: set[str]) -> list[RowRule]:
    spec = TABLES[table]
    rules = []
    for col in spec.columns:
        if col.ref is None or col.ref[0] not in usable:
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
                (spec.key, col.name) if spec.key else (col.name,),
                screen=(c.is_not_null() & pl.col(f"__has_{col.name}").is_null()).any(),
            )
        )
    c = pl.col
    if table == "orders" and "accounts" in usable:
        for role in ("buyer", "seller"):
            kind = c(f"__{role}_kind")
            rules.append(
                RowRule(
                    table,
                    f"{role}_id",
                    f"{role}_id is not a {role} account",
                    c(f"__has_{role}_id").is_not_null() & kind.is_not_null() & (kind != role),
                    ("order_id", f"{role}_id", f"__{role}_kind"),
                )
            )
    if table == "feedback" and "orders" in usable:
        known = c("__has_order_id").is_not_null()
        buyer_side = (c("author_id") == c("__o_buyer")) & (c("target_id") == c("__o_seller"))
        seller_side = (c("author_id") == c("__o_seller")) & (c("target_id") == c("__o_buyer"))
        rules += [
            RowRule(
                table,
                "author_id",
                _PARTY_RULE,
                known & ~(buyer_side | seller_side),
                ("feedback_id", "order_id", "author_id", "target_id"),
                # also fires on a row whose order is unknown: see _trusted_columns
                screen=(~known | ~(buyer_side | seller_side)).any(),
            ),
            RowRule(
                table,
                "created_at",
                "feedback before its order",
                known & (c("created_at") < c("__o_created")),
                ("feedback_id", "order_id", "created_at"),
            ),
        ]
    if table == "disputes" and "orders" in usable:
        rules.append(
            RowRule(
                table,
                "opened_by",
                "case not opened by the order's buyer",
                c("__has_order_id").is_not_null() & (c("opened_by") != c("__o_buyer")),
                ("case_id", "order_id", "opened_by"),
            )
        )
    if table == "coupons" and "accounts" in usable:
        rules.append(
            RowRule(
                table,
                "issuer_id",
                "issuer is neither a seller nor 'platform'",
                (c("issuer_id") != "platform")
                & (c("__issuer_kind").is_null() | (c("__issuer_kind") != "seller")),
                ("coupon_id", "issuer_id"),
            )
        )
    return rules


def parent_tables(table: str) -> set[str]:
    """Return the tables whose rows the rows of ``table`` refer to.

    Examples
    --------
    >>> sorted(parent_tables("orders")), sorted(parent_tables("coupons"))
    (['accounts', 'coupons'], ['accounts'])
    """
    parents = {c.ref[0] for c in TABLES[table].columns if c.ref is not None}
    if table == "coupons":
        parents.add("accounts")  # the issuer must be a seller account (or 'platform')
    return parents


def reference_rules(table: str, present: Collection[str]) -> list[RowRule]:
    """Return the rules of ``table`` that involve the tables it references (of ``present``).

    Examples
    --------
    >>> sorted({r.rule for r in reference_rules("refunds", ["orders"])})
    ['dangling reference to orders.order_id']
    """
    return _reference_rules(table, set(present))


def row_rules(
    table: str,
    tables: Mapping[str, pl.LazyFrame],
    *,
    parents: frozenset[str] | None = None,
) -> list[RowRule]:
    """Every per-row rule of ``table``, given the other (normalised) tables present.

    Examples
    --------
    >>> rules = row_rules("refunds", {})
    >>> [r.rule for r in rules if r.column == "amount"]
    ['null value', 'wrong type', 'not a finite number', 'not strictly positive']
    """
    spec = TABLES[table]
    rules = [r for col in spec.columns for r in _column_rules(spec, col)]
    return rules + _cross_rules(table) + _reference_rules(table, _usable(tables, parents))


def _example(row: Mapping[str, object], shows: tuple[str, ...]) -> str:
    parts = [f"row {int(row[ROW]) + 1}"]  # type: ignore[call-overload]
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


def require_columns(tables: Mapping[str, pl.LazyFrame | pl.DataFrame]) -> None:
    """Raise ``DataContractError`` listing every required column missing from ``tables``.

    For functions that take contract tables directly (not a validated dataset).

    Examples
    --------
    >>> require_columns({"accounts": pl.LazyFrame({"account_id": ["a"]})})
    Traceback (most recent call last):
    ...
    graphkit.errors.DataContractError: dataset breaks the data contract: 2 problem(s) found...
    """
    from graphkit.errors import DataContractError

    found = [p for name, t in tables.items() for p in _missing_columns(name, t.collect_schema())]
    if found:
        raise DataContractError(pl.DataFrame(found, schema=PROBLEM_SCHEMA))


#: Evaluation order: a table is checked after the tables it references, so their key
#: uniqueness is known (references to a unique key need no de-duplication pass).
LEVELS: tuple[tuple[str, ...], ...] = (
    ("accounts",),
    ("coupons", "identifiers"),
    ("orders",),
    ("feedback", "messages", "disputes", "refunds"),
)


def _counts(rules: list[RowRule], idx: list[int]) -> list[pl.Expr]:
    return [rules[i].broken.fill_null(False).sum().cast(pl.Int64).alias(f"n{i}") for i in idx]


def _examples(rules: list[RowRule], idx: list[int], max_examples: int) -> list[pl.Expr]:
    exprs: list[pl.Expr] = []
    for i in idx:
        rule = rules[i]
        cols = list(dict.fromkeys((ROW, *rule.shows)))
        broken = rule.broken.fill_null(False)
        # the first rows by row number (reference joins do not keep the input order)
        exprs.append(
            pl.struct(cols)
            .filter(broken)
            .bottom_k_by(pl.col(ROW).filter(broken), max_examples)
            .implode()
            .alias(f"e{i}")
        )
    return exprs


#: Timestamps that are terms, not events: a coupon valid until next year says nothing about
#: when the data ends, so they never set the default ``as_of``.
_NOT_EVENTS = {("coupons", "valid_from"), ("coupons", "valid_to")}


def _latest(table: str) -> pl.Expr:
    """Return the latest *event* time of a table (``as_of`` defaults to the max over tables)."""
    times = [
        c.name
        for c in TABLES[table].columns
        if c.kind == "datetime" and (table, c.name) not in _NOT_EVENTS
    ]
    if not times:
        return pl.lit(None, dtype=TIME).alias("__latest")
    return pl.max_horizontal([pl.col(t).max() for t in times]).alias("__latest")


def _screen_names(rules: list[RowRule]) -> dict[int, str]:
    """Rule index -> output name of its screen; rules sharing a screen share the name."""
    first: dict[str, int] = {}
    names: dict[int, str] = {}
    for i, rule in enumerate(rules):
        if rule.screen is not None:
            names[i] = f"s{first.setdefault(str(rule.screen), i)}"
    return names


def _screens(rules: list[RowRule], idx: Collection[int] | None = None) -> list[pl.Expr]:
    """Screen expressions, each distinct one computed once (rules may share a screen).

    Rules with a prescreen are left out unless listed in ``idx`` (their prescreen fired);
    with ``idx``, only the screens of those rules.
    """
    return [
        rules[i].screen.alias(name)  # type: ignore[union-attr]
        for i, name in _screen_names(rules).items()
        if name == f"s{i}" and (rules[i].prescreen is None if idx is None else i in idx)
    ]


def _prescreens(rules: list[RowRule]) -> list[pl.Expr]:
    return [r.prescreen.alias(f"p{i}") for i, r in enumerate(rules) if r.prescreen is not None]


def _referenced(usable: Collection[str]) -> set[str]:
    """Tables of ``usable`` whose key some table of ``usable`` references."""
    return {p for name in usable for p in parent_tables(name) if p in usable}


def _cache_shared_parents(
    tables: Mapping[str, pl.LazyFrame], names: list[str], usable: frozenset[str]
) -> Mapping[str, pl.LazyFrame]:
    """Read once, into memory, the columns of a parent table that several tables join to.

    ``orders`` is referenced by feedback, messages, disputes and refunds: without this,
    its key column would be read from disk and hashed once per child table.
    """
    needs: dict[str, set[str]] = {}
    users: dict[str, int] = {}
    for name in names:
        for col in TABLES[name].columns:
            if col.ref is None or col.ref[0] not in usable:
                continue
            fields = _PARENT_FIELDS.get((name, col.name), {})
            needs.setdefault(col.ref[0], set()).update({col.ref[1], *fields})
            users[col.ref[0]] = users.get(col.ref[0], 0) + 1
    shared = [p for p, n in users.items() if n >= 2]
    if not shared:
        return tables
    frames = pl.collect_all([tables[p].select(sorted(needs[p])) for p in shared])
    return {**tables, **{p: df.lazy() for p, df in zip(shared, frames, strict=True)}}


@dataclass(frozen=True)
class Evaluation:
    """Every problem of a set of tables, plus their latest timestamp (the default ``as_of``)."""

    problems: pl.DataFrame
    latest: datetime | None


def evaluate(
    tables: Mapping[str, pl.LazyFrame],
    *,
    raw_schemas: Mapping[str, Mapping[str, pl.DataType]] | None = None,
    files: Mapping[str, str] | None = None,
    max_examples: int = 5,
    engine: str = "auto",
) -> Evaluation:
    """Evaluate every contract rule on every table in as few passes as possible.

    A first pass (one query per table; the tables of one :data:`LEVELS` level are
    collected together) counts the rows breaking every rule and finds each table's
    latest timestamp; expensive uniqueness rules are screened there with a hash count.
    Id columns whose values must equal clean ids of an earlier table (references to a
    clean key; feedback's author and target) skip the regex id screen: a bad id there
    cannot match, so the reference (or parties) screen fires their id rules instead
    (:func:`_trusted_columns`). Only on bad data, a second pass evaluates the screens
    that fired exactly and gathers the first ``max_examples`` offending rows of every
    broken rule. See
    :func:`find_problems` for the other parameters; ``engine`` is passed to
    :func:`polars.collect_all`.

    Examples
    --------
    >>> lf = normalise("orders", pl.LazyFrame({"order_id": ["o1"], "buyer_id": ["b"],
    ...     "seller_id": ["s"], "amount": [1.0], "created_at": ["2026-01-02"], "paid_at": [None]}))
    >>> ev = evaluate({"orders": lf})
    >>> ev.problems["rule"].to_list(), ev.latest.isoformat()
    (['missing table'], '2026-01-02T00:00:00+00:00')
    """
    files = files or {}
    found: dict[str, list[dict[str, object]]] = {name: [] for name in TABLES}
    parents: set[str] = set()
    for name, spec in TABLES.items():
        if name not in tables:
            if spec.required:
                found[name].append(problem(name, None, "missing table", 0, []))
            continue
        missing = _missing_columns(name, raw_schemas[name]) if raw_schemas is not None else []
        # rules on absent columns would only repeat the same problem
        found[name].extend({**p, "file": files.get(name, "")} for p in missing)
        if not missing:
            parents.add(name)
    usable = frozenset(parents)
    unique_keys: set[str] = set()  # tables whose key is unique
    hashed_keys: set[str] = set()  # ... and whose key hashes are distinct
    clean_cols: set[tuple[str, str]] = set()  # (table, id column) breaking no id rule
    latest: list[datetime] = []
    referenced = _referenced(usable)
    for level in LEVELS:
        names = [n for n in level if n in usable]
        # per table: its own rules on the table itself, and its reference rules on a
        # narrow frame (key + referencing columns) joined to its parents
        plans: list[tuple[str, list[RowRule], pl.LazyFrame, bool]] = []
        parents_of_level = _cache_shared_parents(tables, names, usable)
        links: dict[int, list[tuple[int, int, int]]] = {}  # local plan -> (rule, plan, rule)
        for name in names:
            spec = TABLES[name]
            refs = _reference_rules(name, set(usable))
            trusted = _trusted_columns(name, refs, clean_cols)
            local = [
                r
                for col in spec.columns
                for r in _column_rules(
                    spec, col, clean_ref=col.name in trusted, sorted_key=name not in referenced
                )
            ]
            plans.append((name, local + _cross_rules(name), tables[name], True))
            links[len(plans) - 1] = [
                (i, len(plans), trusted[r.column])
                for i, r in enumerate(local)
                if r.column in trusted and r.rule in _ID_RULES
            ]
            if refs:
                narrow = tables[name].select(_NARROW_BASE + _narrow_columns(name))
                joined = _joined(
                    name,
                    narrow,
                    parents_of_level,
                    parents=usable,
                    unique_keys=frozenset(unique_keys),
                    hashed_keys=frozenset(hashed_keys),
                )
                plans.append((name, refs, joined, False))
        # pass 1: counts of the plain rules, screens of the expensive ones, latest time
        first = pl.collect_all(
            [
                frame.select(
                    *([_latest(name)] if is_local else []),
                    *_screens(rules),
                    *_prescreens(rules),
                    *_counts(rules, [i for i, r in enumerate(rules) if r.screen is None]),
                )
                for name, rules, frame, is_local in plans
            ],
            engine=engine,
        )
        # pass 1b (only where a prescreen fired): the screens behind them
        pre = [
            [i for i, r in enumerate(rules) if r.prescreen is not None and res[f"p{i}"].item()]
            for (_, rules, _, _), res in zip(plans, first, strict=True)
        ]
        todo = [k for k in range(len(plans)) if pre[k]]
        if todo:
            more = pl.collect_all(
                [plans[k][2].select(_screens(plans[k][1], pre[k])) for k in todo], engine=engine
            )
            for k, res in zip(todo, more, strict=True):
                first[k] = pl.concat([first[k], res], how="horizontal")
        # pass 2 (only on bad data): exact counts of fired screens, examples of broken rules
        fired, broken = [], []
        for (_, rules, _, _), res in zip(plans, first, strict=True):
            fired.append(
                [
                    i
                    for i, name in _screen_names(rules).items()
                    if name in res.columns and res[name].item()
                ]
            )
            broken.append(
                [i for i in range(len(rules)) if f"n{i}" in res.columns and res[f"n{i}"].item()]
            )
        # a bad id in a column referencing a clean key is also a dangling reference
        for k, linked in links.items():
            for i, ref_plan, j in linked:
                if j in fired[ref_plan] and i not in fired[k]:
                    fired[k].append(i)
        todo = [k for k in range(len(plans)) if fired[k] or broken[k]]
        second = pl.collect_all(
            [
                plans[k][2].select(
                    *_counts(plans[k][1], fired[k]),
                    *_examples(plans[k][1], fired[k] + broken[k], max_examples),
                )
                for k in todo
            ],
            engine=engine,
        )
        results = list(first)
        for k, res in zip(todo, second, strict=True):
            extra = res.select([c for c in res.columns if c not in results[k].columns])
            results[k] = pl.concat([results[k], extra], how="horizontal")
        for k, ((name, rules, _, is_local), res) in enumerate(zip(plans, results, strict=True)):
            if is_local and res["__latest"].item() is not None:
                latest.append(res["__latest"].item())
            dup_key = False
            for i, rule in enumerate(rules):
                n = int(res[f"n{i}"].item()) if f"n{i}" in res.columns else 0
                if n == 0:
                    continue  # not broken (or screened out: cannot be broken)
                dup_key |= rule.rule == "duplicate key"
                rows = sorted(res[f"e{i}"].item().to_list(), key=lambda row: row[ROW])
                examples = [_example(row, rule.shows) for row in rows]
                found[name].append(
                    problem(name, rule.column, rule.rule, n, examples, files.get(name, ""))
                )
            key = TABLES[name].key
            if is_local:  # columns whose ids are all non-null, non-blank, control-free
                bad_ids = {
                    rules[i].column
                    for i in fired[k] + broken[k]
                    if rules[i].rule in _ID_RULES and f"n{i}" in res.columns and res[f"n{i}"].item()
                }
                clean_cols.update(
                    (name, c.name)
                    for c in TABLES[name].columns
                    if c.kind == "id" and not c.nullable and c.name not in bad_ids
                )
            if is_local and key and not dup_key:
                unique_keys.add(name)
                dup = [i for i, r in enumerate(rules) if r.rule == "duplicate key"]
                # distinct hashes are known only where the hash count ran (and did not fire)
                if not any(i in fired[k] for i in dup) and all(
                    rules[i].prescreen is None or i in pre[k] for i in dup
                ):
                    hashed_keys.add(name)
    rows = [p for name in TABLES for p in found[name]]
    return Evaluation(pl.DataFrame(rows, schema=PROBLEM_SCHEMA), max(latest, default=None))


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
        missing columns are not reported when omitted.
    files
        Table name -> file path, for the ``file`` column of the report.
    max_examples
        How many example rows to show per problem.

    Returns
    -------
    polars.DataFrame
        One row per problem with :data:`PROBLEM_SCHEMA`, in contract table order;
        empty when the dataset is valid. Examples name 1-based data rows.

    Examples
    --------
    >>> lf = normalise("refunds", pl.LazyFrame({"refund_id": ["r1", "r1"], "order_id": ["o", "o"],
    ...     "refunded_at": ["2026-01-01"] * 2, "amount": [1.0, 0.0], "via": ["case"] * 2}))
    >>> find_problems({"refunds": lf}).select("table", "rule", "rows").rows()[:2]
    [('orders', 'missing table', 0), ('feedback', 'missing table', 0)]
    """
    return evaluate(
        tables, raw_schemas=raw_schemas, files=files, max_examples=max_examples
    ).problems


def row_reasons(
    table: str,
    tables: Mapping[str, pl.LazyFrame],
    *,
    parents: frozenset[str] | None = None,
    unique_keys: frozenset[str] = frozenset(),
    only: Collection[tuple[str, str]] | None = None,
) -> pl.LazyFrame:
    """Rows of ``table`` that break any rule, with every reason (for lenient mode).

    Returns a LazyFrame with ``__row`` (0-based row number in the input),
    ``key`` (the row's key value, if the table has one) and ``reasons`` (list
    of ``"column: rule"`` strings), sorted by row. ``unique_keys`` names the
    referenced tables whose keys are known to be unique (no de-duplication pass);
    ``only``, when given, limits the rules checked to these ``(column, rule)`` pairs
    (those a first evaluation found broken).

    Examples
    --------
    >>> lf = normalise("coupons", pl.LazyFrame({"coupon_id": ["c1"], "issuer_id": ["platform"],
    ...     "kind": ["store"], "value": [0.0], "min_spend": [0.0], "per_buyer_limit": [1],
    ...     "valid_from": ["2026-01-01"], "valid_to": ["2026-02-01"]}))
    >>> row_reasons("coupons", {"coupons": lf}).collect()["reasons"].to_list()
    [['value: not strictly positive']]
    """
    spec = TABLES[table]
    key = pl.col(spec.key).cast(pl.String) if spec.key else pl.lit(None, dtype=pl.String)

    def offending(frame: pl.LazyFrame, rules: list[RowRule]) -> pl.LazyFrame:
        broken = [r.broken.fill_null(False) for r in rules]
        reasons = [
            pl.when(b).then(pl.lit(f"{r.column}: {r.rule}"))
            for b, r in zip(broken, rules, strict=True)
        ]
        return (
            frame.filter(pl.any_horizontal(broken))  # reasons are built for bad rows only
            .select(pl.col(ROW), key.alias("key"), pl.concat_list(reasons).alias("reasons"))
            .with_columns(pl.col("reasons").list.drop_nulls())
        )

    def chosen(rules: list[RowRule]) -> list[RowRule]:
        return rules if only is None else [r for r in rules if (r.column, r.rule) in only]

    lf = tables[table]
    parts = []
    local = chosen([r for c in spec.columns for r in _column_rules(spec, c)] + _cross_rules(table))
    if local:
        parts.append(offending(lf, local))
    refs = chosen(_reference_rules(table, _usable(tables, parents)))
    if refs:
        narrow = lf.select([ROW, *_narrow_columns(table)])
        joined = _joined(table, narrow, tables, parents=parents, unique_keys=unique_keys)
        parts.append(offending(joined, refs))
    if not parts:
        return pl.LazyFrame(schema={ROW: pl.Int64, "key": pl.String, "reasons": pl.List(pl.String)})
    return (
        pl.concat(parts)
        .group_by(ROW, maintain_order=True)
        .agg(
            pl.col("key").first(),
            pl.col("reasons").list.explode(keep_nulls=False, empty_as_null=False),
        )
        .sort(ROW)
    )
