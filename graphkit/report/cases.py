"""Select the evidence rows of a case (a group or finding) from a dataset.

One function, :func:`case_rows`, used by the report (for every top group at
once, then per group on the small result) and by the evidence export. It is a
set of semi-joins in polars: no loop over rows.

Which rows belong to a case with accounts ``A`` and evidence ids ``E``:

- ``orders``: ids in ``E``, orders of feedback/cases/refunds in ``E``, and
  every order whose buyer *and* seller are both in ``A`` (the case's subgraph);
- ``feedback``, ``disputes``, ``refunds``: ids in ``E`` or on a selected order;
- ``messages``: ids in ``E`` or sent between two accounts of ``A``;
- ``coupons``: ids in ``E`` or used on a selected order;
- ``accounts``: ``A`` plus the counterparties of the selected orders;
- ``identifiers``: those of ``A``.

Examples
--------
>>> import polars as pl
>>> orders = pl.DataFrame({"order_id": ["o1", "o2"], "buyer_id": ["b1", "b2"],
...                        "seller_id": ["s1", "s1"]})
>>> rows = case_rows({"orders": orders}, account_ids=["b1", "s1"], evidence=[])
>>> rows["orders"]["order_id"].to_list()
['o1']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

__all__ = ["CASE_TABLES", "case_rows", "evidence_by_kind", "evidence_order_ids", "is_in"]

#: Tables of a case, in the order they are written; each with its key column.
CASE_TABLES: dict[str, str] = {
    "orders": "order_id",
    "feedback": "feedback_id",
    "messages": "message_id",
    "disputes": "case_id",
    "refunds": "refund_id",
    "coupons": "coupon_id",
    "accounts": "account_id",
    "identifiers": "account_id",
}

#: Evidence kind (``findings.EVIDENCE_KINDS``) -> the table holding it.
_KIND_TABLE = {
    "order": "orders",
    "feedback": "feedback",
    "message": "messages",
    "case": "disputes",
    "refund": "refunds",
    "coupon": "coupons",
    "account": "accounts",
}


def is_in(column: str | pl.Expr, values: pl.Series | Iterable[str]) -> pl.Expr:
    """Return ``column is in values`` (string ids), in the unambiguous polars 2 form.

    Examples
    --------
    >>> pl.DataFrame({"a": ["x", "y"]}).filter(is_in("a", ["x"]))["a"].to_list()
    ['x']
    """
    col = pl.col(column) if isinstance(column, str) else column
    series = values if isinstance(values, pl.Series) else pl.Series(list(values), dtype=pl.String)
    return col.is_in(pl.lit(series.cast(pl.String)).implode())


def evidence_by_kind(evidence: Iterable[Mapping[str, str]]) -> dict[str, list[str]]:
    """Group typed evidence ``[{kind, id}, ...]`` into ``{table: sorted unique ids}``.

    Examples
    --------
    >>> evidence_by_kind([{"kind": "order", "id": "o2"}, {"kind": "order", "id": "o1"}])
    {'orders': ['o1', 'o2']}
    """
    out: dict[str, set[str]] = {}
    for item in evidence:
        table = _KIND_TABLE.get(str(item.get("kind")))
        if table is not None and item.get("id") is not None:
            out.setdefault(table, set()).add(str(item["id"]))
    return {t: sorted(ids) for t, ids in sorted(out.items())}


def _lazy(frame: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    return frame.lazy() if isinstance(frame, pl.DataFrame) else frame


def _ids(values: Iterable[str]) -> pl.Series:
    return pl.Series(sorted(set(values)), dtype=pl.String)


def case_rows(
    tables: Mapping[str, pl.LazyFrame | pl.DataFrame],
    *,
    account_ids: Iterable[str],
    evidence: Iterable[Mapping[str, str]] | Mapping[str, Iterable[str]],
) -> dict[str, pl.DataFrame]:
    """Return the rows of every present table that belong to a case, sorted by key.

    Parameters
    ----------
    tables
        Table name -> frame (``Dataset.tables``, or frames already narrowed).
    account_ids
        The case's accounts (group members and sellers, or finding subjects).
    evidence
        Typed evidence ``[{kind, id}, ...]`` as in a finding's ``evidence``
        column, or ``{table: ids}`` as returned by :func:`evidence_by_kind`.

    Returns
    -------
    dict
        Table name -> selected rows (only the tables present in ``tables``),
        each sorted by its key column for reproducible output.

    Examples
    --------
    >>> fb = pl.DataFrame({"feedback_id": ["f1"], "order_id": ["o9"]})
    >>> orders = pl.DataFrame({"order_id": ["o9"], "buyer_id": ["x"], "seller_id": ["y"]})
    >>> rows = case_rows({"orders": orders, "feedback": fb}, account_ids=[],
    ...                  evidence=[{"kind": "feedback", "id": "f1"}])
    >>> rows["orders"]["order_id"].to_list()
    ['o9']
    """
    if isinstance(evidence, Mapping):
        ev = {t: sorted(set(map(str, ids))) for t, ids in evidence.items()}
    else:
        ev = evidence_by_kind(evidence)
    accts = _ids(account_ids)
    lazy = {name: _lazy(frame) for name, frame in tables.items() if name in CASE_TABLES}

    def ev_ids(table: str) -> pl.Series:
        return _ids(ev.get(table, []))

    # stage 1: orders named by evidence of other kinds
    linked = [
        lazy[t].filter(is_in(CASE_TABLES[t], ev_ids(t))).select("order_id")
        for t in ("feedback", "disputes", "refunds")
        if t in lazy and ev.get(t)
    ]
    linked_ids = (
        pl.concat(pl.collect_all(linked))["order_id"].unique()
        if linked
        else pl.Series([], dtype=pl.String)
    )
    out: dict[str, pl.DataFrame] = {}
    if "orders" in lazy:
        out["orders"] = (
            lazy["orders"]
            .filter(
                is_in("order_id", ev_ids("orders"))
                | is_in("order_id", linked_ids)
                | (is_in("buyer_id", accts) & is_in("seller_id", accts))
            )
            .sort("order_id")
            .collect()
        )
    order_ids = out["orders"]["order_id"] if "orders" in out else pl.Series([], dtype=pl.String)

    plans: dict[str, pl.LazyFrame] = {}
    for t in ("feedback", "disputes", "refunds"):
        if t in lazy:
            key = CASE_TABLES[t]
            plans[t] = lazy[t].filter(is_in(key, ev_ids(t)) | is_in("order_id", order_ids))
    if "messages" in lazy:
        plans["messages"] = lazy["messages"].filter(
            is_in("message_id", ev_ids("messages"))
            | (is_in("sender_id", accts) & is_in("recipient_id", accts))
        )
    if "coupons" in lazy:
        used = (
            out["orders"]["coupon_id"].drop_nulls()
            if "orders" in out and "coupon_id" in out["orders"].columns
            else pl.Series([], dtype=pl.String)
        )
        plans["coupons"] = lazy["coupons"].filter(
            is_in("coupon_id", ev_ids("coupons")) | is_in("coupon_id", used)
        )
    if "accounts" in lazy:
        parties = accts
        if "orders" in out:
            parties = pl.concat(
                [accts, out["orders"]["buyer_id"], out["orders"]["seller_id"], ev_ids("accounts")]
            ).unique()
        plans["accounts"] = lazy["accounts"].filter(is_in("account_id", parties))
    if "identifiers" in lazy:
        plans["identifiers"] = lazy["identifiers"].filter(is_in("account_id", accts))

    names = list(plans)
    sorted_plans = [plans[n].sort(_sort_keys(n, plans[n])) for n in names]
    for name, frame in zip(names, pl.collect_all(sorted_plans), strict=True):
        out[name] = frame
    return {name: out[name] for name in CASE_TABLES if name in out}


def _sort_keys(name: str, frame: pl.LazyFrame) -> list[str]:
    if name == "identifiers":
        cols = frame.collect_schema().names()
        return [c for c in ("account_id", "kind", "value", "seen_at") if c in cols]
    return [CASE_TABLES[name]]


def evidence_order_ids(
    rows: Mapping[str, pl.DataFrame], evidence: Iterable[Mapping[str, str]]
) -> set[str]:
    """Return the ids of the orders that evidence names, directly or via feedback/cases/refunds.

    Parameters
    ----------
    rows
        A case's rows (:func:`case_rows`).
    evidence
        Typed evidence ``[{kind, id}, ...]``.

    Examples
    --------
    >>> fb = pl.DataFrame({"feedback_id": ["f1"], "order_id": ["o7"]})
    >>> sorted(evidence_order_ids({"feedback": fb}, [{"kind": "feedback", "id": "f1"},
    ...                                              {"kind": "order", "id": "o1"}]))
    ['o1', 'o7']
    """
    ev = evidence_by_kind(evidence)
    out = set(ev.get("orders", []))
    for table in ("feedback", "disputes", "refunds"):
        if table in rows and ev.get(table):
            key = CASE_TABLES[table]
            hit = rows[table].filter(is_in(key, pl.Series(ev[table], dtype=pl.String)))
            out.update(hit["order_id"].to_list())
    return out
