"""The data contract (v1), declared once.

Every table of ``shared/data-contract.md``: its columns, their canonical
polars dtypes and the rules each value must follow. Readers, validation, the
simulator and the tests all read this one declaration.

Examples
--------
>>> from graphkit.contract import TABLES
>>> TABLES["orders"].key
'order_id'
>>> [c.name for c in TABLES["orders"].columns][:3]
['order_id', 'buyer_id', 'seller_id']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import polars as pl

__all__ = [
    "ACCOUNT_KINDS",
    "CONTRACT_VERSION",
    "DSR_COLUMNS",
    "IDENTIFIER_KINDS",
    "LABELS",
    "SCENARIOS",
    "TABLES",
    "TIME",
    "Column",
    "Table",
    "canonical_schema",
]

CONTRACT_VERSION = "1"

#: The one datetime dtype used for every timestamp inside graphkit (UTC, microseconds).
TIME = pl.Datetime("us", "UTC")

Kind = Literal["id", "str", "datetime", "float", "int", "rating"]

_DTYPES: dict[str, pl.DataType] = {
    "id": pl.String(),
    "str": pl.String(),
    "datetime": TIME,
    "float": pl.Float64(),
    "int": pl.Int64(),
    "rating": pl.Int8(),
}

ACCOUNT_KINDS = ("buyer", "seller")
IDENTIFIER_KINDS = ("device", "ip", "address", "payment", "phone", "email")
DSR_COLUMNS = ("dsr_item_as_described", "dsr_communication", "dsr_shipping_speed")
SCENARIOS = (
    "shill_ring",
    "feedback_trading",
    "dsr_manipulation",
    "feedback_extortion",
    "case_after_refund",
    "retaliation_case",
    "false_claims",
    "unpaid_serial",
    "spam",
    "coupon_multi_account",
    "coupon_self_dealing",
    "camouflage",
)


@dataclass(frozen=True)
class Column:
    """One column of a contract table.

    Parameters
    ----------
    name
        Column name as it appears in the file.
    kind
        ``id`` (non-empty string), ``str``, ``datetime``, ``float``, ``int`` or ``rating`` (1..5).
    required
        Whether the column must be present in the file.
    nullable
        Whether a null value is allowed.
    unique
        Whether values must be unique within the table.
    ge, gt
        Lower bounds for numbers (``>=`` and ``>``).
    allowed
        The closed set of allowed values for a categorical string.
    ref
        ``(table, column)`` this column references; checked only when that table is present.
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    unique: bool = False
    ge: float | None = None
    gt: float | None = None
    allowed: tuple[str, ...] | None = None
    ref: tuple[str, str] | None = None

    @property
    def dtype(self) -> pl.DataType:
        """The canonical polars dtype of this column."""
        return _DTYPES[self.kind]


@dataclass(frozen=True)
class Table:
    """One table of the contract: its columns, its key, whether a dataset must have it."""

    name: str
    columns: tuple[Column, ...]
    required: bool = False
    key: str | None = None
    unique_together: tuple[tuple[str, ...], ...] = field(default=())

    def column(self, name: str) -> Column:
        """Return the declared column ``name``."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        """Names of the declared columns, in contract order."""
        return [c.name for c in self.columns]


def _id(name: str, **kw: object) -> Column:
    return Column(name, "id", **kw)  # type: ignore[arg-type]


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "accounts",
            (
                _id("account_id", unique=True),
                Column("kind", "str", allowed=ACCOUNT_KINDS),
                Column("created_at", "datetime"),
                Column("country", "str", required=False, nullable=True),
            ),
            key="account_id",
        ),
        Table(
            "identifiers",
            (
                _id("account_id", ref=("accounts", "account_id")),
                Column("kind", "str", allowed=IDENTIFIER_KINDS),
                _id("value"),
                Column("seen_at", "datetime", required=False, nullable=True),
            ),
        ),
        Table(
            "orders",
            (
                _id("order_id", unique=True),
                _id("buyer_id", ref=("accounts", "account_id")),
                _id("seller_id", ref=("accounts", "account_id")),
                Column("item_id", "str", required=False, nullable=True),
                Column("amount", "float", ge=0.0),
                Column("created_at", "datetime"),
                Column("paid_at", "datetime", nullable=True),
                Column("cancelled_at", "datetime", required=False, nullable=True),
                Column(
                    "coupon_id", "str", required=False, nullable=True, ref=("coupons", "coupon_id")
                ),
                Column("discount", "float", required=False, nullable=True, ge=0.0),
            ),
            required=True,
            key="order_id",
        ),
        Table(
            "feedback",
            (
                _id("feedback_id", unique=True),
                _id("order_id", ref=("orders", "order_id")),
                _id("author_id"),
                _id("target_id"),
                Column("rating", "rating"),
                Column("dsr_item_as_described", "rating", nullable=True),
                Column("dsr_communication", "rating", nullable=True),
                Column("dsr_shipping_speed", "rating", nullable=True),
                Column("created_at", "datetime"),
                Column("text", "str", required=False, nullable=True),
            ),
            required=True,
            key="feedback_id",
            unique_together=(("order_id", "author_id"),),
        ),
        Table(
            "messages",
            (
                _id("message_id", unique=True),
                _id("sender_id", ref=("accounts", "account_id")),
                _id("recipient_id", ref=("accounts", "account_id")),
                Column(
                    "order_id", "str", required=False, nullable=True, ref=("orders", "order_id")
                ),
                Column("sent_at", "datetime"),
                Column("text", "str", nullable=True),
            ),
            key="message_id",
        ),
        Table(
            "disputes",
            (
                _id("case_id", unique=True),
                _id("order_id", ref=("orders", "order_id")),
                _id("opened_by"),
                Column("opened_at", "datetime"),
                Column("reason", "str"),
                Column(
                    "outcome",
                    "str",
                    allowed=("open", "refund_buyer", "partial_refund", "rejected", "withdrawn"),
                ),
                Column("closed_at", "datetime", required=False, nullable=True),
            ),
            key="case_id",
        ),
        Table(
            "refunds",
            (
                _id("refund_id", unique=True),
                _id("order_id", ref=("orders", "order_id")),
                Column("refunded_at", "datetime"),
                Column("amount", "float", gt=0.0),
                Column("via", "str", allowed=("seller", "case", "platform")),
            ),
            key="refund_id",
        ),
        Table(
            "coupons",
            (
                _id("coupon_id", unique=True),
                _id("issuer_id"),
                Column("kind", "str", allowed=("platform", "select", "store")),
                Column("value", "float", gt=0.0),
                Column("min_spend", "float", ge=0.0),
                Column("per_buyer_limit", "int", ge=1),
                Column("valid_from", "datetime"),
                Column("valid_to", "datetime"),
            ),
            key="coupon_id",
        ),
    )
}

#: Ground truth written by the simulator and read by the evaluator, never by detection.
LABELS = Table(
    "labels",
    (
        Column(
            "entity_kind",
            "str",
            allowed=("account", "order", "feedback", "message", "case", "coupon"),
        ),
        _id("entity_id"),
        Column("scenario", "str"),
        Column("group_id", "str", nullable=True),
    ),
)


def canonical_schema(table: str) -> dict[str, pl.DataType]:
    """Return ``{column: dtype}`` of a contract table's declared columns.

    Examples
    --------
    >>> canonical_schema("refunds")["amount"]
    Float64
    """
    t = LABELS if table == "labels" else TABLES[table]
    return {c.name: c.dtype for c in t.columns}
