"""Turn the world's internal frames into contract tables and labels.

Internal ids become stable strings numbered in time order (accounts by
registration, orders by Buy Now time, feedback by creation, ...), so an id
never reveals whether a row is organic or planted, and the same seed gives the
same ids. Identifier serials become opaque scrambled values. Every table gets the
contract's column order and canonical dtypes and a deterministic row order.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from graphkit.contract import canonical_schema
from graphkit.simulate.world import ID_COLUMN, World, splitmix64

__all__ = ["assemble"]

_PREFIX = {
    "accounts": "u",
    "orders": "o",
    "feedback": "f",
    "messages": "m",
    "disputes": "c",
    "refunds": "r",
    "coupons": "cp",
}
_TIME_KEY = {
    "accounts": "created_at",
    "orders": "created_at",
    "feedback": "created_at",
    "messages": "sent_at",
    "disputes": "opened_at",
    "refunds": "refunded_at",
    "coupons": "valid_from",
}
_VALUE_PREFIX = {
    "email": "e",
    "phone": "t",
    "device": "d",
    "address": "a",
    "payment": "p",
    "ip": "i",
}
_VALUE_MASK = (1 << 36) - 1
_LABEL_TABLE = {
    "account": "accounts",
    "order": "orders",
    "feedback": "feedback",
    "message": "messages",
    "case": "disputes",
    "coupon": "coupons",
}


def _order_and_ids(frame: pl.DataFrame, table: str) -> tuple[np.ndarray, np.ndarray, pl.Series]:
    """Assign ids to a table's rows in time order.

    Returns ``(order, rank, ids)``: the row order (internal ids sorted by time, then id),
    the 1-based rank of each internal id, and the string id per internal id.
    """
    n = frame.height
    key = frame[_TIME_KEY[table]].to_numpy()
    iid = frame[ID_COLUMN[table]].to_numpy()
    if not np.array_equal(iid, np.arange(n)):
        raise AssertionError(f"internal {table} ids are not dense and ordered")
    order = np.lexsort((iid, key))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    width = max(6, len(str(n)))
    ids = pl.select(
        pl.concat_str([pl.lit(_PREFIX[table]), pl.Series(rank).cast(pl.String).str.zfill(width)])
    ).to_series()
    return order, rank, ids


def _ref(ids: pl.Series, column: str) -> pl.Expr:
    """Map an internal id column (nullable) to its string id."""
    return pl.lit(ids).gather(pl.col(column))


def _times(*cols: str) -> list[pl.Expr]:
    return [pl.col(c).cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias(c) for c in cols]


def _finish(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Put columns in contract order with contract dtypes."""
    schema = canonical_schema(table)
    return frame.select(pl.col(c).cast(t) for c, t in schema.items())


def assemble(world: World) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Build the contract tables and the labels table from a finished world.

    Returns
    -------
    tables, labels
        ``{table: DataFrame}`` with canonical dtypes, and the labels table.
    """
    numbered = {
        name: _order_and_ids(world.table(name, [ID_COLUMN[name], _TIME_KEY[name]]), name)
        for name in ID_COLUMN
    }
    ids = {name: v[2] for name, v in numbered.items()}
    order = {name: v[0] for name, v in numbered.items()}
    acc = ids["accounts"]
    tables: dict[str, pl.DataFrame] = {}

    tables["accounts"] = _finish(
        world.take("accounts")[order["accounts"]].with_columns(
            _ref(acc, "acc").alias("account_id"), *_times("created_at")
        ),
        "accounts",
    )

    ident = world.take("identifiers")
    # one int64 sort key (account rank, kind, serial): much faster than a 3-key sort
    serial_bits = max(1, int(ident["serial"].max() or 0).bit_length())
    ident = (
        ident.with_columns(
            (
                pl.lit(pl.Series(numbered["accounts"][1])).gather(pl.col("acc")) * 8
                + pl.col("kind").to_physical().cast(pl.Int64)
            ).alias("key")
        )
        .with_columns((pl.col("key") * (1 << serial_bits) + pl.col("serial")).alias("key"))
        .sort("key")
    )
    # an account holds each (kind, value) once: drop repeats (sorted, so they are adjacent)
    ident = ident.filter(pl.col("key") != pl.col("key").shift(1).fill_null(-1))
    # a seeded bijection of the serial mod 2**36: opaque, collision-free, and short enough
    # (one letter + at most 11 digits) to be stored inline by polars
    serial = ident["serial"].to_numpy().astype(np.uint64)
    mult = np.uint64(int(splitmix64(np.array([world.seed]))[0]) | 1)
    salt = np.uint64(int(splitmix64(np.array([world.seed + 1]))[0]))
    hashed = ((serial * mult + salt) & np.uint64(_VALUE_MASK)).astype(np.int64)
    tables["identifiers"] = _finish(
        ident.with_columns(
            _ref(acc, "acc").alias("account_id"),
            pl.concat_str(
                [
                    pl.col("kind").cast(pl.String).replace_strict(_VALUE_PREFIX),
                    pl.Series(hashed).cast(pl.String),
                ]
            ).alias("value"),
            *_times("seen_at"),
        ),
        "identifiers",
    )

    tables["orders"] = _finish(
        world.take("orders")[order["orders"]].with_columns(
            _ref(ids["orders"], "oid").alias("order_id"),
            _ref(acc, "buyer").alias("buyer_id"),
            _ref(acc, "seller").alias("seller_id"),
            pl.when(pl.col("item").is_not_null())
            .then(
                pl.concat_str(
                    [pl.lit("it"), _ref(acc, "seller").str.slice(1), pl.lit("-"), pl.col("item")]
                )
            )
            .alias("item_id"),
            _ref(ids["coupons"], "coupon").alias("coupon_id"),
            *_times("created_at", "paid_at", "cancelled_at"),
        ),
        "orders",
    )

    tables["feedback"] = _finish(
        world.take("feedback")[order["feedback"]].with_columns(
            _ref(ids["feedback"], "fid").alias("feedback_id"),
            _ref(ids["orders"], "oid").alias("order_id"),
            _ref(acc, "author").alias("author_id"),
            _ref(acc, "target").alias("target_id"),
            *_times("created_at"),
        ),
        "feedback",
    )

    tables["messages"] = _finish(
        world.take("messages")[order["messages"]].with_columns(
            _ref(ids["messages"], "mid").alias("message_id"),
            _ref(acc, "sender").alias("sender_id"),
            _ref(acc, "recipient").alias("recipient_id"),
            _ref(ids["orders"], "oid").alias("order_id"),
            *_times("sent_at"),
        ),
        "messages",
    )

    tables["disputes"] = _finish(
        world.take("disputes")[order["disputes"]].with_columns(
            _ref(ids["disputes"], "cid").alias("case_id"),
            _ref(ids["orders"], "oid").alias("order_id"),
            _ref(acc, "opened_by").alias("opened_by"),
            *_times("opened_at", "closed_at"),
        ),
        "disputes",
    )

    tables["refunds"] = _finish(
        world.take("refunds")[order["refunds"]].with_columns(
            _ref(ids["refunds"], "rid").alias("refund_id"),
            _ref(ids["orders"], "oid").alias("order_id"),
            *_times("refunded_at"),
        ),
        "refunds",
    )

    tables["coupons"] = _finish(
        world.take("coupons")[order["coupons"]].with_columns(
            _ref(ids["coupons"], "cpid").alias("coupon_id"),
            pl.when(pl.col("issuer") >= 0)
            .then(_ref(acc, "issuer"))
            .otherwise(pl.lit("platform"))
            .alias("issuer_id"),
            *_times("valid_from", "valid_to"),
        ),
        "coupons",
    )

    lab = world.take("labels")
    parts = []
    for kind, table in _LABEL_TABLE.items():
        part = lab.filter(pl.col("entity_kind") == kind)
        if part.height:
            parts.append(part.with_columns(_ref(ids[table], "iid").alias("entity_id")))
    labels = pl.concat(parts) if parts else lab.with_columns(pl.lit(None).alias("entity_id"))
    labels = _finish(
        labels.unique(
            ["entity_kind", "entity_id", "scenario", "group_id"], maintain_order=True
        ).sort("scenario", "group_id", "entity_kind", "entity_id"),
        "labels",
    )
    return tables, labels
