"""Append rows of one kind (orders, feedback, messages, cases, refunds, coupons) to a world.

Each function allocates the internal ids, appends the rows and returns the ids,
so organic behaviour and planted scenarios build their records the same way.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from graphkit.simulate.world import World

__all__ = [
    "add_cases",
    "add_coupons",
    "add_feedback",
    "add_messages",
    "add_orders",
    "add_refunds",
    "payment_times",
    "recorded_dsr",
]


def payment_times(world: World, created_at: np.ndarray) -> np.ndarray:
    """Prompt payments: minutes to a few hours after the Buy Now moment."""
    n = len(created_at)
    return created_at + (world.rng.lognormal(2.5, 1.2, n) * 60_000_000).astype(np.int64)


def _col(x: np.ndarray | None, n: int) -> pl.Series:
    if x is None:
        return pl.repeat(None, n, dtype=pl.Int64, eager=True)
    s = pl.Series(np.asarray(x))
    if s.dtype.is_integer():
        return pl.select(pl.when(s >= 0).then(s)).to_series()
    if s.dtype.is_float():
        return s.fill_nan(None)
    return s


def recorded_dsr(world: World, n: int) -> np.ndarray:
    """Return whether each of ``n`` buyer ratings records its DSRs (some are not recorded)."""
    return world.rng.random(n) >= world.config.organic.dsr_missing_rate


def add_orders(
    world: World,
    buyer: np.ndarray,
    seller: np.ndarray,
    created_at: np.ndarray,
    amount: np.ndarray,
    *,
    paid_at: np.ndarray | None = None,
    item: np.ndarray | None = None,
    cancelled_at: np.ndarray | None = None,
    coupon: np.ndarray | None = None,
    discount: np.ndarray | None = None,
) -> np.ndarray:
    """Append orders; negative ``paid_at``/``cancelled_at``/``coupon``/``item`` mean null.

    ``discount`` is NaN where no coupon applies. ``paid_at`` defaults to a few minutes
    after creation.
    """
    n = len(buyer)
    oid = world.ids("orders", n)
    if paid_at is None:
        paid_at = payment_times(world, created_at)
    world.add(
        "orders",
        {
            "oid": oid,
            "buyer": np.asarray(buyer, np.int64),
            "seller": np.asarray(seller, np.int64),
            "item": _col(item, n),
            "amount": np.round(np.asarray(amount, np.float64), 2),
            "created_at": np.asarray(created_at, np.int64),
            "paid_at": _col(paid_at, n),
            "cancelled_at": _col(cancelled_at, n),
            "coupon": _col(coupon, n),
            "discount": _col(None if discount is None else np.round(discount, 2), n),
        },
    )
    return oid


def add_feedback(
    world: World,
    oid: np.ndarray,
    author: np.ndarray,
    target: np.ndarray,
    created_at: np.ndarray,
    ratings: tuple[np.ndarray, ...],
    *,
    dsr: np.ndarray | bool = True,
    text: pl.Series | np.ndarray | None = None,
) -> np.ndarray:
    """Append feedback; ``ratings`` is ``(rating, item, communication, shipping)``.

    ``dsr`` (bool or per-row bool) says whether the DSRs are recorded (never for
    feedback written by sellers).
    """
    n = len(oid)
    fid = world.ids("feedback", n)
    has = np.broadcast_to(np.asarray(dsr, dtype=bool), (n,))
    cols = {}
    for name, values in zip(
        ("dsr_item_as_described", "dsr_communication", "dsr_shipping_speed"),
        ratings[1:],
        strict=True,
    ):
        cols[name] = pl.select(pl.when(pl.Series(has)).then(pl.Series(values))).to_series()
    world.add(
        "feedback",
        {
            "fid": fid,
            "oid": np.asarray(oid, np.int64),
            "author": np.asarray(author, np.int64),
            "target": np.asarray(target, np.int64),
            "rating": ratings[0],
            **cols,
            "created_at": np.asarray(created_at, np.int64),
            "text": text if text is not None else pl.repeat(None, n, dtype=pl.String, eager=True),
        },
    )
    return fid


def add_messages(
    world: World,
    sender: np.ndarray,
    recipient: np.ndarray,
    sent_at: np.ndarray,
    text: pl.Series | np.ndarray,
    *,
    oid: np.ndarray | None = None,
) -> np.ndarray:
    """Append messages; ``oid`` negative or ``None`` means no order."""
    n = len(sender)
    mid = world.ids("messages", n)
    world.add(
        "messages",
        {
            "mid": mid,
            "sender": np.asarray(sender, np.int64),
            "recipient": np.asarray(recipient, np.int64),
            "oid": _col(oid, n),
            "sent_at": np.asarray(sent_at, np.int64),
            "text": text,
        },
    )
    return mid


def add_cases(
    world: World,
    oid: np.ndarray,
    opened_by: np.ndarray,
    opened_at: np.ndarray,
    reason: np.ndarray,
    outcome: np.ndarray,
    closed_at: np.ndarray,
) -> np.ndarray:
    """Append Buyer Protection cases; ``closed_at`` negative means still open."""
    n = len(oid)
    cid = world.ids("disputes", n)
    world.add(
        "disputes",
        {
            "cid": cid,
            "oid": np.asarray(oid, np.int64),
            "opened_by": np.asarray(opened_by, np.int64),
            "opened_at": np.asarray(opened_at, np.int64),
            "reason": np.asarray(reason),
            "outcome": np.asarray(outcome),
            "closed_at": _col(closed_at, n),
        },
    )
    return cid


def add_refunds(
    world: World, oid: np.ndarray, refunded_at: np.ndarray, amount: np.ndarray, via: np.ndarray
) -> np.ndarray:
    """Append refunds (amount rounded to cents, at least 0.01)."""
    n = len(oid)
    rid = world.ids("refunds", n)
    world.add(
        "refunds",
        {
            "rid": rid,
            "oid": np.asarray(oid, np.int64),
            "refunded_at": np.asarray(refunded_at, np.int64),
            "amount": np.maximum(np.round(np.asarray(amount, np.float64), 2), 0.01),
            "via": np.broadcast_to(np.asarray(via), (n,)),
        },
    )
    return rid


def add_coupons(
    world: World,
    issuer: np.ndarray,
    kind: np.ndarray,
    value: np.ndarray,
    min_spend: np.ndarray,
    per_buyer_limit: np.ndarray,
    valid_from: np.ndarray,
    valid_to: np.ndarray,
) -> np.ndarray:
    """Append coupons; ``issuer`` negative means the platform; validity ends by the snapshot."""
    n = len(issuer)
    cpid = world.ids("coupons", n)
    world.add(
        "coupons",
        {
            "cpid": cpid,
            "issuer": np.asarray(issuer, np.int64),
            "kind": np.broadcast_to(np.asarray(kind), (n,)),
            "value": np.round(np.asarray(value, np.float64), 2),
            "min_spend": np.round(np.asarray(min_spend, np.float64), 2),
            "per_buyer_limit": np.asarray(per_buyer_limit, np.int64),
            "valid_from": np.asarray(valid_from, np.int64),
            # the dataset is a snapshot at the window's end: no timestamp lies after it
            "valid_to": np.minimum(np.asarray(valid_to, np.int64), world.end),
        },
    )
    return cpid
