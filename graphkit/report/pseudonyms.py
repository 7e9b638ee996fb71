"""Keyed pseudonyms for account ids in a case's rows (evidence handed to others).

Every account id becomes ``acct-<first 16 hex of HMAC-SHA256(key, id)>`` and
every identifier value ``ident-<...>``: the same key gives the same pseudonyms
across exports (a partner can link cases), another key gives others, and
without the key nobody can map them back. Ids are also replaced inside free
text (substring match, longest id first: over-redaction rather than leaks).

Examples
--------
>>> import polars as pl
>>> o = pl.DataFrame({"order_id": ["o1"], "buyer_id": ["b1"], "seller_id": ["s1"]})
>>> rows, mapping = pseudonymise({"orders": o}, b"key")
>>> rows["orders"]["buyer_id"][0] == mapping["b1"]
True
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

import polars as pl

__all__ = ["ACCOUNT_COLUMNS", "TEXT_COLUMNS", "pseudonym_ids", "pseudonymise", "replace_ids"]

#: Columns holding account ids, per table: what pseudonymisation replaces.
ACCOUNT_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": ("buyer_id", "seller_id"),
    "feedback": ("author_id", "target_id"),
    "messages": ("sender_id", "recipient_id"),
    "disputes": ("opened_by",),
    "coupons": ("issuer_id",),
    "accounts": ("account_id",),
    "identifiers": ("account_id",),
}
#: Free-text columns where account ids are also replaced (best effort: substring match).
TEXT_COLUMNS: dict[str, tuple[str, ...]] = {"feedback": ("text",), "messages": ("text",)}


def pseudonym_ids(ids: Iterable[str], key: bytes, *, prefix: str = "acct-") -> dict[str, str]:
    """Return ``{id: prefix + HMAC-SHA256(key, id)[:16 hex]}`` for the unique ``ids``.

    Examples
    --------
    >>> pseudonym_ids(["b1"], b"k")["b1"]
    'acct-cce3906dd88a81cf'
    """
    return {
        i: prefix + hmac.new(key, i.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
        for i in sorted(set(ids))
    }


def replace_ids(col: pl.Expr, mapping: Mapping[str, str]) -> pl.Expr:
    """Return ``col`` (text) with every id of ``mapping`` replaced, longest ids first.

    Examples
    --------
    >>> df = pl.DataFrame({"t": ["b1 paid b10"]})
    >>> df.select(replace_ids(pl.col("t"), {"b1": "X", "b10": "Y"})).item()
    'X paid Y'
    """
    if not mapping:
        return col
    pats = sorted(mapping, key=lambda s: (-len(s), s))  # longest first
    return col.str.replace_many(pats, [mapping[p] for p in pats], leftmost=True)


def pseudonymise(
    rows: Mapping[str, pl.DataFrame], key: bytes, *, extra_ids: Iterable[str] = ()
) -> tuple[dict[str, pl.DataFrame], dict[str, str]]:
    """Replace account ids in case rows by keyed pseudonyms.

    Parameters
    ----------
    rows
        Table -> rows (:func:`~graphkit.report.cases.case_rows`).
    key
        The HMAC key.
    extra_ids
        More account ids to map (group members without rows, finding subjects).

    Returns
    -------
    tuple
        The pseudonymised rows and the mapping ``{id: pseudonym}`` (for the
        caller to apply elsewhere; never write it into a bag).

    Examples
    --------
    >>> o = pl.DataFrame({"order_id": ["o1"], "buyer_id": ["b1"], "seller_id": ["s1"]})
    >>> out, m = pseudonymise({"orders": o}, b"k")
    >>> out["orders"]["buyer_id"][0] == m["b1"]
    True
    """
    ids: set[str] = set(extra_ids)
    for table, cols in ACCOUNT_COLUMNS.items():
        if table in rows:
            for c in cols:
                if c in rows[table].columns:
                    ids.update(rows[table][c].drop_nulls().to_list())
    ids.discard("platform")  # the coupon issuer that is not an account
    mapping = pseudonym_ids(ids, key)
    values = pseudonym_ids(
        rows["identifiers"]["value"].drop_nulls().to_list() if "identifiers" in rows else [],
        key,
        prefix="ident-",
    )
    out: dict[str, pl.DataFrame] = {}
    for table, df in rows.items():
        exprs = [
            pl.col(c).replace(mapping) for c in ACCOUNT_COLUMNS.get(table, ()) if c in df.columns
        ]
        exprs += [
            replace_ids(pl.col(c), mapping) for c in TEXT_COLUMNS.get(table, ()) if c in df.columns
        ]
        if table == "identifiers" and "value" in df.columns:
            exprs.append(pl.col("value").replace(values))
        out[table] = df.with_columns(exprs) if exprs else df
    return out, mapping
