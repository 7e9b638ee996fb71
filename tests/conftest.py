"""Shared fixtures: a tiny, valid, hand-built marketplace touching every table."""

from __future__ import annotations

import polars as pl
import pytest


def tiny_frames() -> dict[str, pl.DataFrame]:
    """A valid micro-marketplace: 2 sellers, 3 buyers, every table present.

    Times are ISO strings, as they would come from CSV; validation casts them.
    """
    t = "2026-03-{:02d}T10:00:00Z".format
    return {
        "accounts": pl.DataFrame(
            {
                "account_id": ["s1", "s2", "b1", "b2", "b3"],
                "kind": ["seller", "seller", "buyer", "buyer", "buyer"],
                "created_at": [t(1)] * 5,
                "country": ["ES", "CN", "ES", "FR", None],
            }
        ),
        "identifiers": pl.DataFrame(
            {
                "account_id": ["b1", "b2", "s1"],
                "kind": ["device", "device", "payment"],
                "value": ["d-1", "d-1", "p-9"],
                "seen_at": [t(2), t(2), None],
            }
        ),
        "orders": pl.DataFrame(
            {
                "order_id": ["o1", "o2", "o3", "o4"],
                "buyer_id": ["b1", "b2", "b3", "b1"],
                "seller_id": ["s1", "s1", "s2", "s2"],
                "item_id": ["i1", "i1", "i7", None],
                "amount": [10.0, 12.5, 99.0, 0.0],
                "created_at": [t(2), t(3), t(4), t(5)],
                "paid_at": [t(2), t(3), None, t(6)],
                "cancelled_at": [None, None, None, None],
                "coupon_id": ["c1", None, None, None],
                "discount": [2.0, None, None, None],
            }
        ),
        "feedback": pl.DataFrame(
            {
                "feedback_id": ["f1", "f2", "f3"],
                "order_id": ["o1", "o1", "o2"],
                "author_id": ["b1", "s1", "b2"],
                "target_id": ["s1", "b1", "s1"],
                "rating": [5, 4, 1],
                "dsr_item_as_described": [5, None, 2],
                "dsr_communication": [5, None, 1],
                "dsr_shipping_speed": [4, None, 3],
                "created_at": [t(10), t(11), t(12)],
                "text": ["great", "good buyer", "<b>bad</b>"],
            }
        ),
        "messages": pl.DataFrame(
            {
                "message_id": ["m1", "m2"],
                "sender_id": ["b2", "s1"],
                "recipient_id": ["s1", "b2"],
                "order_id": ["o2", None],
                "sent_at": [t(4), t(5)],
                "text": ["where is it?", ""],
            }
        ),
        "disputes": pl.DataFrame(
            {
                "case_id": ["k1"],
                "order_id": ["o2"],
                "opened_by": ["b2"],
                "opened_at": [t(13)],
                "reason": ["not_as_described"],
                "outcome": ["partial_refund"],
                "closed_at": [t(15)],
            }
        ),
        "refunds": pl.DataFrame(
            {
                "refund_id": ["r1"],
                "order_id": ["o2"],
                "refunded_at": [t(15)],
                "amount": [5.0],
                "via": ["case"],
            }
        ),
        "coupons": pl.DataFrame(
            {
                "coupon_id": ["c1"],
                "issuer_id": ["s1"],
                "kind": ["store"],
                "value": [2.0],
                "min_spend": [5.0],
                "per_buyer_limit": [1],
                "valid_from": [t(1)],
                "valid_to": [t(28)],
            }
        ),
    }


@pytest.fixture
def tiny() -> dict[str, pl.DataFrame]:
    """A fresh copy of the tiny valid marketplace (see :func:`tiny_frames`)."""
    return tiny_frames()
