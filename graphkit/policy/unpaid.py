"""``UNPAID_ITEMS``: Buy Now commitments not paid within the payment period.

An order is *unpaid* when its payment deadline (``created_at + days_to_pay``)
has passed as of the run's ``as_of`` and it was not paid by then. A buyer's
unpaid orders are counted in a rolling window; the largest count in any
window picks the step of the escalation ladder
(warning -> restrict_buying -> suspend -> terminate).

Examples
--------
>>> from graphkit.policy.unpaid import unpaid_orders
>>> unpaid_orders.__name__
'unpaid_orders'
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from graphkit.policy.context import ScanContext
from graphkit.policy.registry import Threshold, evidence, register, signal

__all__ = ["check_unpaid_items", "unpaid_orders", "unpaid_strikes"]

THRESHOLDS = (
    Threshold("days_to_pay", 20, "the policy gives buyers 20 days to pay after Buy Now"),
    Threshold(
        "window_days",
        365,
        "strikes are counted over a rolling year, the usual memory of a buyer-discipline ladder",
    ),
    Threshold(
        "warning_at",
        2,
        "the policy disciplines repeated non-payment; a single unpaid item is routine",
    ),
    Threshold("restrict_at", 3, "a third unpaid item in a year restricts buying"),
    Threshold("suspend_at", 5, "five unpaid items in a year suspend the account"),
    Threshold("terminate_at", 8, "eight unpaid items in a year are a pattern worth termination"),
    Threshold(
        "count_cancelled",
        True,
        "a never-paid order that was cancelled is the usual end of an unpaid item (the seller "
        "gives up waiting); the data does not say who cancelled",
    ),
)

_LADDER = (
    ("terminate_at", "terminate", "critical"),
    ("suspend_at", "suspend", "high"),
    ("restrict_at", "restrict_buying", "medium"),
    ("warning_at", "warning", "low"),
)


def unpaid_orders(
    orders: pl.LazyFrame,
    *,
    as_of: datetime,
    days_to_pay: int = 20,
    count_cancelled: bool = True,
) -> pl.LazyFrame:
    """Return the orders not paid within ``days_to_pay`` of Buy Now, as of ``as_of``.

    Parameters
    ----------
    orders
        The orders table (all rows of the buyers of interest).
    as_of
        The moment of the analysis; orders whose deadline is later are still open.
    days_to_pay
        The payment period.
    count_cancelled
        Whether orders cancelled (unpaid) before their deadline count.

    Returns
    -------
    LazyFrame
        ``order_id, buyer_id, seller_id, created_at, deadline, paid_at`` of the unpaid orders.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> o = pl.LazyFrame({"order_id": ["o1", "o2"], "buyer_id": ["b", "b"], "seller_id": ["s", "s"],
    ...                   "created_at": [t, t], "paid_at": [None, t]})
    >>> unpaid_orders(o, as_of=datetime(2026, 2, 1, tzinfo=UTC)).collect()["order_id"].to_list()
    ['o1']
    """
    deadline = pl.col("created_at") + pl.duration(days=days_to_pay)
    cols = orders.collect_schema().names()
    late = pl.col("paid_at").is_null() | (pl.col("paid_at") > pl.col("deadline"))
    keep = (pl.col("deadline") <= pl.lit(as_of)) & late
    base = ["order_id", "buyer_id", "seller_id", "created_at", "paid_at"]
    if "cancelled_at" in cols and not count_cancelled:
        base.append("cancelled_at")
        keep = keep & ~(
            pl.col("cancelled_at").is_not_null() & (pl.col("cancelled_at") < pl.col("deadline"))
        )
    return orders.select(base).with_columns(deadline=deadline).filter(keep)


def unpaid_strikes(unpaid: pl.LazyFrame, *, window_days: int = 365) -> pl.LazyFrame:
    """Count each buyer's unpaid orders per rolling window ending at each deadline.

    A function of the rows of each buyer only (partition-ready by ``buyer_id``).

    Returns
    -------
    LazyFrame
        One row per buyer: ``buyer_id``, ``n_unpaid`` (all time), ``max_in_window``,
        ``order_ids`` (sorted), ``first_seen``, ``last_seen``.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2)]
    >>> u = pl.LazyFrame({"order_id": ["o1", "o2"], "buyer_id": ["b", "b"], "created_at": t,
    ...                   "deadline": t})
    >>> unpaid_strikes(u).collect()["max_in_window"].to_list()
    [2]
    """
    per_order = unpaid.sort("buyer_id", "deadline", "order_id").with_columns(
        in_window=pl.len()
        .rolling(index_column="deadline", period=f"{window_days}d")
        .over("buyer_id")
        .cast(pl.Int64)
    )
    return (
        per_order.group_by("buyer_id")
        .agg(
            n_unpaid=pl.len().cast(pl.Int64),
            max_in_window=pl.col("in_window").max(),
            order_ids=pl.col("order_id").sort(),
            first_seen=pl.col("created_at").min(),
            last_seen=pl.col("created_at").max(),
        )
        .sort("buyer_id")
    )


@register(rule_id="UNPAID_ITEMS", tables=("orders",), thresholds=THRESHOLDS)
def check_unpaid_items(ctx: ScanContext, params: Mapping[str, Any]) -> pl.DataFrame:
    """Flag buyers who repeatedly did not pay within the payment period.

    One finding per buyer whose rolling-window count of unpaid orders reaches
    ``warning_at``; the action follows the ladder thresholds.

    Examples
    --------
    >>> check_unpaid_items.rule_id
    'UNPAID_ITEMS'
    """
    orders = ctx.lazy("orders")
    unpaid = unpaid_orders(
        orders,
        as_of=ctx.as_of,
        days_to_pay=int(params["days_to_pay"]),
        count_cancelled=bool(params["count_cancelled"]),
    )
    strikes = (
        unpaid_strikes(unpaid, window_days=int(params["window_days"]))
        .filter(pl.col("max_in_window") >= params["warning_at"])
        .collect()  # the few buyers with strikes
        .lazy()
    )
    # the buyer's order volume up to the last deadline that counts, for the unpaid rate
    # (of the flagged buyers only, not a count over every buyer's orders)
    cutoff = ctx.as_of - timedelta(days=int(params["days_to_pay"]))
    volume = (
        orders.filter(pl.col("created_at") <= pl.lit(cutoff))
        .join(strikes.select("buyer_id"), on="buyer_id", how="semi")
        .group_by("buyer_id")
        .agg(n_orders=pl.len().cast(pl.Int64))
    )
    n = pl.col("max_in_window")
    action = pl.lit("warning")
    severity = pl.lit("low")
    for key, act, sev in reversed(_LADDER):
        action = pl.when(n >= params[key]).then(pl.lit(act)).otherwise(action)
        severity = pl.when(n >= params[key]).then(pl.lit(sev)).otherwise(severity)
    step = pl.lit(0)
    for i, (key, _, _) in enumerate(reversed(_LADDER), start=1):
        step = pl.when(n >= params[key]).then(pl.lit(i)).otherwise(step)
    # score: 0.5 at the warning step, approaching 1 as strikes accumulate
    # rounded (as the finding score is): polars evaluates pow on a scalar and on a column
    # differently in the last bit, which made the signal's contribution differ between runs
    score = (1.0 - 0.5 * (0.8 ** (n - params["warning_at"]).cast(pl.Float64))).round(6)
    rate = pl.col("n_unpaid") / pl.col("n_orders").cast(pl.Float64)
    df = (
        strikes.join(volume, on="buyer_id", how="left")
        .with_columns(pl.col("n_orders").fill_null(pl.col("n_unpaid")))
        .with_columns(
            subject_ids=pl.concat_list(pl.col("buyer_id")),
            evidence=evidence("order", pl.col("order_ids")),
            score=score,
            severity=severity,
            recommended_action=action,
            explanation=pl.format(
                "Buyer {} did not pay {} order(s) within {} days of Buy Now as of {}; "
                "{} of them within one {}-day window (escalation step {} of 4: {}). "
                "Unpaid rate {} of {} orders due.",
                pl.col("buyer_id"),
                pl.col("n_unpaid"),
                pl.lit(int(params["days_to_pay"])),
                pl.lit(ctx.as_of.strftime("%Y-%m-%d")),
                n,
                pl.lit(int(params["window_days"])),
                step,
                action,
                pl.col("n_unpaid"),
                pl.col("n_orders"),
            ),
            signals=pl.concat_list(
                signal(
                    "unpaid_in_window",
                    n,
                    threshold=float(params["warning_at"]),
                    contribution=score,
                    detail=pl.format("ladder step {}: {}", step, action),
                ),
                signal("unpaid_total", pl.col("n_unpaid")),
                signal("unpaid_rate", rate, detail=pl.lit("unpaid / orders due")),
            ),
        )
    )
    return df.collect()
