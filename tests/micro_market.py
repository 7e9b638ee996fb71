"""A micro-marketplace built row by row, for the hand-built policy tests.

Orders, messages, feedback and refunds are appended one call at a time with
readable ids (``o0000``, ``m0000``, ``f0000``, ``r0``); :meth:`MicroMarket.check`
runs one policy check on them with optional threshold overrides.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import polars as pl

from graphkit.config import ScanConfig
from graphkit.io import dataset_from_frames
from graphkit.policy import ScanContext, get_check

T0 = datetime(2026, 1, 1, tzinfo=UTC)

MESSAGE_SCHEMA = {
    "message_id": pl.String,
    "sender_id": pl.String,
    "recipient_id": pl.String,
    "order_id": pl.String,
    "sent_at": pl.Datetime("us", "UTC"),
    "text": pl.String,
}


def day(d: float) -> datetime:
    """``d`` days after :data:`T0`."""
    return T0 + timedelta(days=d)


def feedback_frame(rows: list[tuple], at: Callable[[float], datetime] = day) -> pl.DataFrame:
    """Feedback from ``(feedback_id, order_id, author, target, rating, dsr, day)`` tuples.

    ``dsr`` fills the three DSR columns; ``at`` turns a day number into a time.
    """
    return pl.DataFrame(
        {
            "feedback_id": [f[0] for f in rows],
            "order_id": [f[1] for f in rows],
            "author_id": [f[2] for f in rows],
            "target_id": [f[3] for f in rows],
            "rating": [f[4] for f in rows],
            "dsr_item_as_described": [f[5] for f in rows],
            "dsr_communication": [f[5] for f in rows],
            "dsr_shipping_speed": [f[5] for f in rows],
            "created_at": [at(f[6]) for f in rows],
        }
    )


class MicroMarket:
    """Rows of a tiny marketplace; every order costs ``amount``."""

    def __init__(self, amount: float = 10.0) -> None:
        self.amount = amount
        self.orders: list[dict[str, object]] = []
        self.messages: list[dict[str, object]] = []
        self.feedback: list[dict[str, object]] = []
        self.refunds: list[dict[str, object]] = []

    def order(self, buyer: str, seller: str, day: float) -> str:
        at = T0 + timedelta(days=day)
        oid = f"o{len(self.orders):04d}"
        self.orders.append(
            {
                "order_id": oid,
                "buyer_id": buyer,
                "seller_id": seller,
                "amount": self.amount,
                "created_at": at,
                "paid_at": at,
            }
        )
        return oid

    def parties(self, oid: str) -> tuple[str, str]:
        """The buyer and the seller of order ``oid``."""
        o = next(o for o in self.orders if o["order_id"] == oid)
        return str(o["buyer_id"]), str(o["seller_id"])

    def message(
        self, sender: str, recipient: str, d: float, text: str, order_id: str | None = None
    ) -> str:
        mid = f"m{len(self.messages):04d}"
        self.messages.append(
            {
                "message_id": mid,
                "sender_id": sender,
                "recipient_id": recipient,
                "order_id": order_id,
                "sent_at": day(d),
                "text": text,
            }
        )
        return mid

    def say(
        self, oid: str, d: float, text: str, *, from_seller: bool = False, link: bool = True
    ) -> str:
        """A message between the parties of order ``oid`` (linked to it unless ``link=False``)."""
        buyer, seller = self.parties(oid)
        sender, recipient = (seller, buyer) if from_seller else (buyer, seller)
        return self.message(sender, recipient, d, text, oid if link else None)

    def rate(self, oid: str, d: float, rating: int) -> str:
        """The buyer's feedback on order ``oid``; every DSR equals ``rating``."""
        buyer, seller = self.parties(oid)
        fid = f"f{len(self.feedback):04d}"
        self.feedback.append(
            {
                "feedback_id": fid,
                "order_id": oid,
                "author_id": buyer,
                "target_id": seller,
                "rating": rating,
                "dsr_item_as_described": rating,
                "dsr_communication": rating,
                "dsr_shipping_speed": rating,
                "created_at": day(d),
            }
        )
        return fid

    def refund(self, oid: str, d: float, amount: float) -> None:
        self.refunds.append(
            {
                "refund_id": f"r{len(self.refunds)}",
                "order_id": oid,
                "refunded_at": day(d),
                "amount": amount,
                "via": "seller",
            }
        )

    def check(self, rule_id: str, **overrides: object) -> pl.DataFrame:
        """Run check ``rule_id`` (as of day 100) with threshold ``overrides``.

        Feedback is a required table: a market without any gets one filler order
        (``bz`` -> ``sz``, day 0) rated 5 stars on day 1, unrelated to the rest.
        """
        if not self.feedback:
            self.rate(self.order("bz", "sz", 0), 1, 5)
        frames = {
            "orders": pl.DataFrame(self.orders),
            "feedback": pl.DataFrame(self.feedback),
            "messages": pl.DataFrame(self.messages, schema=MESSAGE_SCHEMA),
        }
        if self.refunds:
            frames["refunds"] = pl.DataFrame(self.refunds)
        ds = dataset_from_frames(frames, as_of=day(100))
        cfg = ScanConfig.from_mapping({"rules": {rule_id: overrides}} if overrides else {})
        ctx = ScanContext(ds, cfg)
        return get_check(rule_id)(ctx, ctx.params(rule_id))
