from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from graphkit.config import ScanConfig
from graphkit.io import dataset_from_frames
from graphkit.policy import ScanContext, get_check

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _orders(rows: list[tuple[str, str, int, int | None]]) -> pl.DataFrame:
    """rows: (order_id, buyer_id, created day offset, paid day offset or None)."""
    return pl.DataFrame(
        {
            "order_id": [r[0] for r in rows],
            "buyer_id": [r[1] for r in rows],
            "seller_id": ["s1"] * len(rows),
            "amount": [10.0] * len(rows),
            "created_at": [T0 + timedelta(days=r[2]) for r in rows],
            "paid_at": [None if r[3] is None else T0 + timedelta(days=r[3]) for r in rows],
        },
        schema_overrides={"paid_at": pl.Datetime("us", "UTC")},
    )


def _feedback(orders: pl.DataFrame) -> pl.DataFrame:
    """One rating on the first order (the contract requires a non-empty feedback table)."""
    first = orders.row(0, named=True)
    return pl.DataFrame(
        {
            "feedback_id": ["f1"],
            "order_id": [first["order_id"]],
            "author_id": [first["buyer_id"]],
            "target_id": [first["seller_id"]],
            "rating": [5],
            "dsr_item_as_described": [5],
            "dsr_communication": [5],
            "dsr_shipping_speed": [5],
            "created_at": [first["created_at"] + timedelta(days=30)],
        }
    )


def _run(orders: pl.DataFrame, as_of_day: int, **overrides: object) -> pl.DataFrame:
    ds = dataset_from_frames(
        {"orders": orders, "feedback": _feedback(orders)}, as_of=T0 + timedelta(days=as_of_day)
    )
    cfg = ScanConfig.from_mapping({"rules": {"UNPAID_ITEMS": overrides}} if overrides else {})
    ctx = ScanContext(ds, cfg)
    check = get_check("UNPAID_ITEMS")
    return check(ctx, ctx.params("UNPAID_ITEMS"))


def test_repeated_unpaid_fires_with_ladder() -> None:
    rows = [(f"a{i}", "serial", i * 10, None) for i in range(5)]  # 5 unpaid in 40 days
    rows += [("w1", "twice", 0, None), ("w2", "twice", 30, None)]
    out = _run(_orders(rows), as_of_day=200).sort("buyer_id")
    assert out["buyer_id"].to_list() == ["serial", "twice"]
    serial = out.row(0, named=True)
    assert serial["recommended_action"] == "suspend"
    assert serial["severity"] == "high"
    assert serial["order_ids"] == [f"a{i}" for i in range(5)]
    assert "5 order(s)" in serial["explanation"]
    twice = out.row(1, named=True)
    assert twice["recommended_action"] == "warning"
    assert twice["score"] < serial["score"]


@pytest.mark.parametrize(
    ("n", "action"),
    [(2, "warning"), (3, "restrict_buying"), (5, "suspend"), (8, "terminate"), (12, "terminate")],
)
def test_ladder_steps(n: int, action: str) -> None:
    rows = [(f"o{i}", "b", i, None) for i in range(n)]
    out = _run(_orders(rows), as_of_day=100)
    assert out["recommended_action"].to_list() == [action]


def test_near_misses_do_not_fire() -> None:
    rows = [
        ("p1", "paid_day_19", 0, 19),  # paid on day 19 of 20
        ("p2", "paid_day_19", 1, 20),
        ("l1", "one_unpaid", 0, None),  # a single unpaid item is routine
        ("l2", "one_unpaid", 5, 6),
        ("r1", "not_due_yet", 90, None),  # deadline day 110 is after as_of day 100
        ("r2", "not_due_yet", 95, None),
        ("x1", "spread_out", 0, None),  # two unpaid 400 days apart: never 2 in a year
        ("x2", "spread_out", 400, None),
    ]
    out = _run(_orders(rows), as_of_day=100)
    assert out.height == 0
    out = _run(_orders([r for r in rows if r[1] == "spread_out"]), as_of_day=500)
    assert out.height == 0


def test_deadline_is_exactly_days_to_pay() -> None:
    rows = [("a", "b", 0, None), ("c", "b", 0, None)]
    assert _run(_orders(rows), as_of_day=19).height == 0
    assert _run(_orders(rows), as_of_day=20).height == 1
    # paying late (day 25) still broke the 20-day commitment
    rows = [("a", "b", 0, 25), ("c", "b", 0, 25)]
    assert _run(_orders(rows), as_of_day=30).height == 1
    # a longer configured period moves the deadline
    assert _run(_orders(rows), as_of_day=30, days_to_pay=26).height == 0


def test_cancelled_unpaid_orders_count_unless_configured() -> None:
    o = _orders([("a", "b", 0, None), ("c", "b", 1, None)]).with_columns(
        cancelled_at=pl.col("created_at") + pl.duration(days=2)
    )
    assert _run(o, as_of_day=60).height == 1
    assert _run(o, as_of_day=60, count_cancelled=False).height == 0
    # a paid order that was later cancelled is not an unpaid item either way
    paid = _orders([("a", "b", 0, 1), ("c", "b", 1, 2)]).with_columns(
        cancelled_at=pl.col("created_at") + pl.duration(days=2)
    )
    assert _run(paid, as_of_day=60).height == 0


def test_score_and_contribution_do_not_depend_on_how_many_buyers_are_flagged() -> None:
    """polars computes ``0.8 ** x`` differently in the last bit for 1-2 rows and for more."""
    alone = [(f"s{i}", "serial", i, None) for i in range(7)]
    crowd = alone + [(f"{b}{i}", b, i, None) for b in ("x", "y", "z") for i in range(7)]
    outs = [
        _run(_orders(rows), as_of_day=100).filter(pl.col("buyer_id") == "serial")
        for rows in (alone, crowd)
    ]
    first, second = (o.row(0, named=True) for o in outs)
    assert first["score"] == second["score"] == round(1 - 0.5 * 0.8**5, 6)
    assert first["signals"][0]["contribution"] == second["signals"][0]["contribution"]
