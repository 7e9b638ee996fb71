"""Buyer Protection abuse: ``BPP_CASE_AFTER_REFUND``, ``BPP_RETALIATION``, ``BPP_FALSE_CLAIMS``.

Each check is a function of the cases of a buyer with the orders, refunds,
feedback and messages of those cases' orders / pairs (partition-ready by
``buyer_id``), and yields one finding per buyer with every case as evidence.

Examples
--------
>>> from graphkit.policy.buyer_protection import cases_with_orders
>>> cases_with_orders.__name__
'cases_with_orders'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from graphkit.policy.context import ScanContext
from graphkit.policy.registry import Threshold, days, escalate, evidence, register, signal

__all__ = [
    "cases_after_refund",
    "cases_with_orders",
    "check_case_after_refund",
    "check_false_claims",
    "check_retaliation",
    "false_claim_buyers",
    "retaliation_cases",
]

_UPHELD = ("refund_buyer",)
_ORDER_SEED = 0xCA5E

# A refusal in a seller's message (a few languages): used only to find the *conflict* that
# precedes a case; the case itself is the evidence, so a loose pattern costs little precision.
_REFUSAL = (
    r"(?i)\b(?:can ?not|can't|cannot|won't|will not|unable to|not able to|refuse|decline|"
    r"no (?:more )?(?:refund|discount|compensation|return)s?|not possible|impossible|"
    r"not (?:eligible|entitled)|no podemos|no es posible|não podemos|não é possível|"
    r"nous ne pouvons|pas possible|nicht möglich|können nicht)"
)


def cases_with_orders(disputes: pl.LazyFrame, orders: pl.LazyFrame) -> pl.LazyFrame:
    """Join each case to its order: buyer, seller, amount, order time.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> d = pl.LazyFrame({"case_id": ["c"], "order_id": ["o"], "opened_at": [t],
    ...                   "outcome": ["open"]})
    >>> o = pl.LazyFrame({"order_id": ["o"], "buyer_id": ["b"], "seller_id": ["s"],
    ...                   "amount": [5.0], "created_at": [t]})
    >>> cases_with_orders(d, o).collect()["seller_id"].to_list()
    ['s']
    """
    return disputes.select("case_id", "order_id", "opened_at", "outcome").join(
        orders.select(
            "order_id", "buyer_id", "seller_id", "amount", pl.col("created_at").alias("ordered_at")
        ),
        on="order_id",
        how="inner",
    )


# --- BPP_CASE_AFTER_REFUND ------------------------------------------------------------------

AFTER_REFUND_THRESHOLDS = (
    Threshold(
        "min_refund_share",
        0.25,
        "the policy names any refund already received; only a token goodwill refund "
        "(under a quarter of the price) can leave a real dispute about the rest",
    ),
    Threshold(
        "min_gap_hours",
        1.0,
        "a case opened within the hour of the refund may have crossed it in transit",
    ),
    Threshold("restrict_at", 2, "a second case on a refunded order is a pattern"),
    Threshold("suspend_at", 3, "three such cases are deliberate abuse of the programme"),
)


def cases_after_refund(
    cases: pl.LazyFrame,
    refunds: pl.LazyFrame,
    *,
    min_refund_share: float = 0.25,
    min_gap_hours: float = 1.0,
) -> pl.LazyFrame:
    """Return the cases opened on an order already (mostly) refunded.

    Parameters
    ----------
    cases
        From :func:`cases_with_orders`.
    refunds
        The refunds table.
    min_refund_share
        Share of the order amount refunded before the case for it to count.
    min_gap_hours
        The refund must precede the case by at least this long.

    Returns
    -------
    LazyFrame
        The cases with ``refund_ids``, ``refunded`` (amount), ``refund_share`` and
        ``gap_days`` (from the last counted refund to the case).
    """
    gap = pl.duration(microseconds=int(min_gap_hours * 3_600_000_000))
    before = (
        refunds.select("refund_id", "order_id", "refunded_at", pl.col("amount").alias("refunded"))
        .join(cases.select("case_id", "order_id", "opened_at"), on="order_id", how="inner")
        .filter(pl.col("refunded_at") + gap <= pl.col("opened_at"))
        .group_by("case_id")
        .agg(
            refund_ids=pl.col("refund_id").sort(),
            refunded=pl.col("refunded").sum(),
            last_refund=pl.col("refunded_at").max(),
        )
    )
    share = pl.col("refunded") / pl.col("amount")
    return (
        cases.join(before, on="case_id", how="inner")
        .with_columns(
            refund_share=pl.when(pl.col("amount") > 0).then(share).otherwise(pl.lit(1.0)),
            gap_days=(pl.col("opened_at") - pl.col("last_refund")).dt.total_seconds() / 86400.0,
        )
        .filter(pl.col("refund_share") >= min_refund_share)
    )


@register(
    rule_id="BPP_CASE_AFTER_REFUND",
    tables=("orders", "disputes", "refunds"),
    thresholds=AFTER_REFUND_THRESHOLDS,
)
def check_case_after_refund(ctx: ScanContext, params: Mapping[str, Any]) -> pl.DataFrame:
    """Flag buyers who opened a Buyer Protection case on an order already refunded.

    Examples
    --------
    >>> check_case_after_refund.tables
    ('orders', 'disputes', 'refunds')
    """
    cases = _cases(ctx)
    hits = cases_after_refund(
        cases,
        ctx.lazy("refunds"),
        min_refund_share=float(params["min_refund_share"]),
        min_gap_hours=float(params["min_gap_hours"]),
    ).with_columns(
        detail=pl.format(
            "case {} on order {} opened {} days after {} of {} was refunded ({}%)",
            "case_id",
            "order_id",
            pl.col("gap_days").round(1),
            pl.col("refunded").round(2),
            pl.col("amount").round(2),
            (pl.col("refund_share") * 100).round(0).cast(pl.Int64),
        )
    )
    per = (
        hits.sort("opened_at", "case_id")
        .group_by("buyer_id")
        .agg(
            n=pl.len().cast(pl.Int64),
            case_ids=pl.col("case_id"),
            order_ids=pl.col("order_id"),
            refund_ids=pl.col("refund_ids").list.explode(keep_nulls=False, empty_as_null=False),
            seller_ids=pl.col("seller_id").unique().sort(),
            details=pl.col("detail").head(5).str.join("; "),
            min_gap=pl.col("gap_days").min(),
            first_seen=pl.col("opened_at").min(),
            last_seen=pl.col("opened_at").max(),
        )
    )
    n = pl.col("n")
    action, severity = escalate(
        n,
        [
            (params["restrict_at"], "restrict_buying", "high"),
            (params["suspend_at"], "suspend", "critical"),
        ],
        default=("warning", "medium"),
    )
    # rounded: polars evaluates pow on a scalar and on a column differently in the last bit
    score = (1.0 - 0.3 * 0.6 ** (n - 1).cast(pl.Float64)).round(6)
    return (
        per.with_columns(
            subject_ids=pl.concat_list("buyer_id"),
            evidence=pl.concat_list(
                evidence("case", pl.col("case_ids")),
                evidence("order", pl.col("order_ids")),
                evidence("refund", pl.col("refund_ids")),
            ),
            score=score,
            recommended_action=action,
            severity=severity,
            explanation=pl.format(
                "Buyer {} opened {} Buyer Protection case(s) on orders already refunded: {}.",
                "buyer_id",
                n,
                "details",
            ),
            signals=pl.concat_list(
                signal("cases_after_refund", n, threshold=1.0, contribution=score),
                signal(
                    "min_days_refund_to_case",
                    pl.col("min_gap"),
                    threshold=float(params["min_gap_hours"]) / 24.0,
                ),
            ),
        )
        .sort("buyer_id")
        .collect()
    )


# --- BPP_RETALIATION ------------------------------------------------------------------------

RETALIATION_THRESHOLDS = (
    Threshold(
        "window_days",
        3.0,
        "retaliation follows the conflict within days; honest cases follow delivery problems",
    ),
    Threshold(
        "max_conflict_rating",
        2,
        "1-2 stars from the seller is negative feedback on the marketplace's scale",
    ),
    Threshold(
        "exclude_upheld",
        True,
        "a case upheld with a full refund was a real problem, whatever its timing "
        "(a partial refund is often a goodwill settlement)",
    ),
    Threshold(
        "use_refusals",
        True,
        "a seller's refusal message to the buyer (a turned-down demand) is a conflict too",
    ),
    Threshold("restrict_at", 2, "two retaliation cases are a pattern"),
    Threshold("suspend_at", 3, "three retaliation cases are deliberate abuse"),
)


def retaliation_cases(
    cases: pl.LazyFrame,
    feedback: pl.LazyFrame,
    messages: pl.LazyFrame | None,
    *,
    window_days: float = 3.0,
    max_conflict_rating: int = 2,
    exclude_upheld: bool = True,
) -> pl.LazyFrame:
    """Return cases opened within ``window_days`` after a conflict with the same seller.

    A conflict is negative feedback (``rating <= max_conflict_rating``) the
    seller left the buyer, or (when ``messages`` is given) a message from the
    seller to the buyer that refuses something.

    Returns
    -------
    LazyFrame
        The cases with ``conflict_kind``, ``conflict_id``, ``conflict_at`` and
        ``lag_days`` of the closest preceding conflict.
    """
    window = days(window_days)
    conflicts = [
        feedback.filter(pl.col("rating") <= max_conflict_rating).select(
            pl.col("author_id").alias("seller_id"),
            pl.col("target_id").alias("buyer_id"),
            pl.lit("negative_feedback").alias("conflict_kind"),
            pl.col("feedback_id").alias("conflict_id"),
            pl.col("created_at").alias("conflict_at"),
        )
    ]
    if messages is not None:
        conflicts.append(
            messages.filter(pl.col("text").fill_null("").str.contains(_REFUSAL)).select(
                pl.col("sender_id").alias("seller_id"),
                pl.col("recipient_id").alias("buyer_id"),
                pl.lit("refused_demand").alias("conflict_kind"),
                pl.col("message_id").alias("conflict_id"),
                pl.col("sent_at").alias("conflict_at"),
            )
        )
    c = cases
    if exclude_upheld:
        c = c.filter(~pl.col("outcome").is_in(_UPHELD))
    return (
        c.join(pl.concat(conflicts), on=["buyer_id", "seller_id"], how="inner")
        .filter(
            (pl.col("conflict_at") <= pl.col("opened_at"))
            & (pl.col("opened_at") <= pl.col("conflict_at") + window)
        )
        .with_columns(
            lag_days=(pl.col("opened_at") - pl.col("conflict_at")).dt.total_seconds() / 86400.0
        )
        .sort("case_id", "lag_days", "conflict_id")
        .group_by("case_id", maintain_order=True)
        .first()
    )


def _cases(ctx: ScanContext) -> pl.LazyFrame:
    """Return :func:`cases_with_orders` of the dataset, computed once per scan."""

    def compute() -> pl.DataFrame:
        disputes = ctx.lazy("disputes").collect()
        # the orders of a case only, screened on a 64-bit hash of order_id (a collision
        # keeps an extra order, which the join on the id then drops)
        wanted = disputes.select(pl.col("order_id").hash(_ORDER_SEED)).to_series().implode()
        orders = ctx.lazy("orders").filter(pl.col("order_id").hash(_ORDER_SEED).is_in(wanted))
        return cases_with_orders(disputes.lazy(), orders).collect()

    return ctx.shared("buyer_protection.cases", compute).lazy()


def _refusal_messages(ctx: ScanContext) -> pl.LazyFrame | None:
    """Return the seller-to-buyer refusals between the parties of a case (once per scan).

    ``None`` without messages. :func:`retaliation_cases` applies the same filter again,
    on these few rows only, and only uses messages between a case's seller and buyer.
    """
    if not ctx.ds.has("messages"):
        return None

    def compute() -> pl.DataFrame:
        # a refusal only matters between a case's seller and buyer: screen those pairs
        # first, then run the regex on their messages only
        pairs = _cases(ctx).select(sender_id="seller_id", recipient_id="buyer_id").unique()
        between = (
            ctx.lazy("messages")
            .join(pairs, on=["sender_id", "recipient_id"], how="semi")
            .collect()  # (in one plan the regex filter would be pushed below the join)
        )
        return between.filter(pl.col("text").fill_null("").str.contains(_REFUSAL))

    return ctx.shared("buyer_protection.refusal_messages", compute).lazy()


def _retaliation(ctx: ScanContext, params: Mapping[str, Any]) -> pl.LazyFrame:
    """Return :func:`retaliation_cases` of every case, upheld or not (once per scan).

    ``BPP_RETALIATION`` leaves the upheld ones out afterwards (each case's row depends
    on that case alone), ``BPP_FALSE_CLAIMS`` excludes them all: one pass over the
    feedback serves both.
    """
    window = float(params["window_days"])
    max_rating = int(params["max_conflict_rating"])
    refusals = bool(params["use_refusals"])

    def compute() -> pl.DataFrame:
        return retaliation_cases(
            _cases(ctx),
            ctx.lazy("feedback"),
            _refusal_messages(ctx) if refusals else None,
            window_days=window,
            max_conflict_rating=max_rating,
            exclude_upheld=False,
        ).collect()

    key = f"buyer_protection.retaliation\x00{window!r}\x00{max_rating}\x00{refusals}"
    return ctx.shared(key, compute).lazy()


@register(
    rule_id="BPP_RETALIATION",
    tables=("orders", "feedback", "disputes"),
    optional_tables=("messages",),
    thresholds=RETALIATION_THRESHOLDS,
)
def check_retaliation(ctx: ScanContext, params: Mapping[str, Any]) -> pl.DataFrame:
    """Flag buyers who opened cases right after a conflict with the seller.

    Examples
    --------
    >>> check_retaliation.optional_tables
    ('messages',)
    """
    hits = _retaliation(ctx, params)
    if params["exclude_upheld"]:
        hits = hits.filter(~pl.col("outcome").is_in(_UPHELD))
    hits = hits.with_columns(
        detail=pl.format(
            "case {} against {} opened {} days after {} {} (case outcome: {})",
            "case_id",
            "seller_id",
            pl.col("lag_days").round(1),
            pl.col("conflict_kind").str.replace("_", " "),
            "conflict_id",
            "outcome",
        ),
    ).with_columns(
        conflict_ev=pl.struct(
            kind=pl.when(pl.col("conflict_kind") == "negative_feedback")
            .then(pl.lit("feedback"))
            .otherwise(pl.lit("message")),
            id=pl.col("conflict_id"),
        )
    )
    per = (
        hits.sort("opened_at", "case_id")
        .group_by("buyer_id")
        .agg(
            n=pl.len().cast(pl.Int64),
            case_ids=pl.col("case_id"),
            order_ids=pl.col("order_id"),
            conflicts=pl.col("conflict_ev"),
            seller_ids=pl.col("seller_id").unique().sort(),
            details=pl.col("detail").head(5).str.join("; "),
            min_lag=pl.col("lag_days").min(),
            n_rejected=(pl.col("outcome") == "rejected").sum().cast(pl.Int64),
            first_seen=pl.col("opened_at").min(),
            last_seen=pl.col("opened_at").max(),
        )
    )
    n = pl.col("n")
    action, severity = escalate(
        n,
        [
            (params["restrict_at"], "restrict_buying", "high"),
            (params["suspend_at"], "suspend", "critical"),
        ],
        default=("warning", "medium"),
    )
    window = float(params["window_days"])
    # closer in time and rejected on review = stronger
    score = (
        0.55
        + 0.15 * (1.0 - (pl.col("min_lag") / window).clip(0.0, 1.0))
        + 0.15 * (pl.col("n_rejected") > 0).cast(pl.Float64)
        + 0.15 * (1.0 - 0.5 ** (n - 1).cast(pl.Float64))
    ).round(6)  # last-bit differences of pow (scalar vs column) stay out of the output
    return (
        per.with_columns(
            subject_ids=pl.concat_list("buyer_id"),
            evidence=pl.concat_list(
                evidence("case", pl.col("case_ids")),
                evidence("order", pl.col("order_ids")),
                pl.col("conflicts"),
            ),
            score=score,
            recommended_action=action,
            severity=severity,
            explanation=pl.format(
                "Buyer {} opened {} case(s) within {} days after a conflict with the seller: {}.",
                "buyer_id",
                n,
                pl.lit(window),
                "details",
            ),
            signals=pl.concat_list(
                signal("retaliation_cases", n, threshold=1.0, contribution=score),
                signal("min_days_conflict_to_case", pl.col("min_lag"), threshold=window),
                signal("cases_rejected", pl.col("n_rejected")),
            ),
        )
        .sort("buyer_id")
        .collect()
    )


# --- BPP_FALSE_CLAIMS -----------------------------------------------------------------------

FALSE_CLAIMS_THRESHOLDS = (
    Threshold("min_rejected", 3, "one or two rejected cases happen to honest buyers"),
    Threshold("min_sellers", 2, "false claims across sellers, not a feud with one store"),
    Threshold(
        "min_rejected_rate",
        0.15,
        "rejected cases on at least 15% of the buyer's orders, ~10x an honest buyer's case rate",
    ),
    Threshold(
        "exclude_retaliation",
        True,
        "a case opened right after a conflict is reported as BPP_RETALIATION (with that "
        "rule's settings); counting it again as a false claim double-reports one conduct",
    ),
    Threshold(
        "exclude_after_refund",
        True,
        "a case opened on an order already refunded is reported as BPP_CASE_AFTER_REFUND "
        "(with that rule's settings), and is usually rejected for that very reason; counting "
        "it again as a false claim double-reports one conduct",
    ),
    Threshold(
        "one_seller_min_rejected",
        5,
        "five rejected claims against one store are a pattern, not one dispute: the "
        "across-sellers test is waived from this count on (a buyer who buys mostly at one "
        "store files its false claims there)",
    ),
    Threshold(
        "serial_min_cases",
        4,
        "a serial claimant (at least 4 cases of any outcome, 2 of them rejected against 2+ "
        "sellers, still on 15%+ of its orders) is as telling as 3 rejected cases: an honest "
        "buyer opens a case on a few percent of its orders",
    ),
    Threshold("suspend_at", 6, "six rejected claims are a sustained pattern"),
    Threshold("terminate_at", 10, "ten rejected claims: the buyer uses cases as a business"),
)


def false_claim_buyers(
    cases: pl.LazyFrame,
    orders: pl.LazyFrame,
    *,
    min_rejected: int = 3,
    min_sellers: int = 2,
    min_rejected_rate: float = 0.15,
    one_seller_min_rejected: int | None = 5,
    serial_min_cases: int | None = 4,
) -> pl.LazyFrame:
    """Return buyers whose rejected cases, across sellers, are out of proportion to their orders.

    A buyer qualifies with ``min_rejected`` rejected cases against ``min_sellers`` sellers
    or more, on at least ``min_rejected_rate`` of its orders. Two more routes, each a
    stronger pattern in another respect (the rate test still applies): from
    ``one_seller_min_rejected`` rejected cases on, one seller is enough; a *serial claimant*
    (at least ``serial_min_cases`` cases of any outcome) needs only 2 rejected cases,
    against ``min_sellers`` sellers. ``None`` turns a route off.

    Returns
    -------
    LazyFrame
        Per buyer: ``n_cases``, ``n_rejected``, ``n_sellers`` (of rejected cases),
        ``n_orders``, ``rejected_rate``, ``case_rate`` (cases / orders), ``route``
        (``"across_sellers"``, ``"one_seller"`` or ``"serial_claimant"``), ``case_ids``
        (rejected), ``order_ids``.

    Examples
    --------
    >>> cases = pl.LazyFrame({"case_id": ["c1", "c2", "c3", "c4"], "order_id": ["o1", "o2",
    ...     "o3", "o4"], "buyer_id": ["b"] * 4, "seller_id": ["s1", "s2", "s3", "s1"],
    ...     "opened_at": [1, 2, 3, 4], "outcome": ["rejected", "rejected", "withdrawn",
    ...     "refund_buyer"]})
    >>> orders = pl.LazyFrame({"buyer_id": ["b"] * 9})
    >>> false_claim_buyers(cases, orders).collect()["route"].to_list()
    ['serial_claimant']
    """
    rejected = pl.col("outcome") == "rejected"
    n_rej, n_sel = pl.col("n_rejected"), pl.col("n_sellers")
    routes = [("across_sellers", (n_rej >= min_rejected) & (n_sel >= min_sellers))]
    if one_seller_min_rejected is not None:
        routes.append(("one_seller", n_rej >= one_seller_min_rejected))
    if serial_min_cases is not None:
        serial = (pl.col("n_cases") >= serial_min_cases) & (n_rej >= 2) & (n_sel >= min_sellers)
        routes.append(("serial_claimant", serial))
    route = pl.when(routes[0][1]).then(pl.lit(routes[0][0]))
    for name, cond in routes[1:]:
        route = route.when(cond).then(pl.lit(name))
    per = (
        cases.sort("opened_at", "case_id")
        .group_by("buyer_id")
        .agg(
            n_cases=pl.len().cast(pl.Int64),
            n_rejected=rejected.sum().cast(pl.Int64),
            n_sellers=pl.col("seller_id").filter(rejected).n_unique().cast(pl.Int64),
            case_ids=pl.col("case_id").filter(rejected),
            order_ids=pl.col("order_id").filter(rejected),
            first_seen=pl.col("opened_at").filter(rejected).min(),
            last_seen=pl.col("opened_at").filter(rejected).max(),
        )
        .with_columns(route=route.otherwise(pl.lit(None, dtype=pl.String)))
        .filter(pl.col("route").is_not_null())
        .collect()
    )
    # the order volume of those few buyers only (not a count over every buyer's orders)
    volume = (
        orders.select("buyer_id")
        .join(per.lazy().select("buyer_id"), on="buyer_id", how="semi")
        .group_by("buyer_id")
        .agg(n_orders=pl.len().cast(pl.Int64))
    )
    n_orders = pl.col("n_orders").cast(pl.Float64)
    return (
        per.lazy()
        .join(volume, on="buyer_id", how="left")
        .with_columns(rejected_rate=n_rej / n_orders, case_rate=pl.col("n_cases") / n_orders)
        .filter(pl.col("rejected_rate") >= min_rejected_rate)
    )


@register(
    rule_id="BPP_FALSE_CLAIMS",
    tables=("orders", "disputes"),
    optional_tables=("feedback", "messages", "refunds"),
    thresholds=FALSE_CLAIMS_THRESHOLDS,
)
def check_false_claims(ctx: ScanContext, params: Mapping[str, Any]) -> pl.DataFrame:
    """Flag buyers with a history of rejected cases across sellers.

    Examples
    --------
    >>> check_false_claims.rule_id
    'BPP_FALSE_CLAIMS'
    """
    cases = _cases(ctx)
    if params["exclude_retaliation"]:
        retaliation = _retaliation(ctx, ctx.params("BPP_RETALIATION")).select("case_id")
        cases = cases.join(retaliation, on="case_id", how="anti")
    if params["exclude_after_refund"] and ctx.ds.has("refunds"):
        ap = ctx.params("BPP_CASE_AFTER_REFUND")
        after_refund = cases_after_refund(
            cases,
            ctx.lazy("refunds"),
            min_refund_share=float(ap["min_refund_share"]),
            min_gap_hours=float(ap["min_gap_hours"]),
        ).select("case_id")
        cases = cases.join(after_refund, on="case_id", how="anti")
    per = false_claim_buyers(
        cases,
        ctx.lazy("orders"),
        min_rejected=int(params["min_rejected"]),
        min_sellers=int(params["min_sellers"]),
        min_rejected_rate=float(params["min_rejected_rate"]),
        one_seller_min_rejected=int(params["one_seller_min_rejected"]),
        serial_min_cases=int(params["serial_min_cases"]),
    )
    n = pl.col("n_rejected")
    action, severity = escalate(
        n,
        [
            (params["suspend_at"], "suspend", "high"),
            (params["terminate_at"], "terminate", "critical"),
        ],
        default=("restrict_buying", "medium"),
    )
    rate = pl.col("rejected_rate")
    score = (
        0.5
        + 0.25 * (rate / 0.5).clip(0.0, 1.0)
        + 0.25 * (1.0 - 0.8 ** (n - int(params["min_rejected"])).clip(0).cast(pl.Float64))
    ).round(6)  # last-bit differences of pow (scalar vs column) stay out of the output
    return (
        per.with_columns(
            subject_ids=pl.concat_list("buyer_id"),
            evidence=pl.concat_list(
                evidence("case", pl.col("case_ids")), evidence("order", pl.col("order_ids"))
            ),
            score=score,
            recommended_action=action,
            severity=severity,
            explanation=pl.format(
                "Buyer {} had {} of {} Buyer Protection case(s) rejected on review, against {} "
                "different sellers, on {} order(s): {}% of the buyer's orders ended in a "
                "rejected claim (threshold {}%).{}",
                "buyer_id",
                n,
                "n_cases",
                "n_sellers",
                "n_orders",
                (rate * 100).round(1),
                pl.lit(round(float(params["min_rejected_rate"]) * 100, 1)),
                pl.when(pl.col("route") == "one_seller")
                .then(
                    pl.format(
                        " All against one seller, but {} rejected claims (at least {}) are a "
                        "pattern, not one dispute.",
                        n,
                        pl.lit(int(params["one_seller_min_rejected"])),
                    )
                )
                .when(pl.col("route") == "serial_claimant")
                .then(
                    pl.format(
                        " A serial claimant: {} cases (at least {}) opened on {}% of the "
                        "orders, so {} rejected claims suffice.",
                        "n_cases",
                        pl.lit(int(params["serial_min_cases"])),
                        (pl.col("case_rate") * 100).round(1),
                        n,
                    )
                )
                .otherwise(pl.lit("")),
            ),
            signals=pl.concat_list(
                signal(
                    "rejected_cases",
                    n,
                    threshold=float(params["min_rejected"]),
                    contribution=score,
                ),
                signal(
                    "sellers_claimed_against",
                    pl.col("n_sellers"),
                    threshold=float(params["min_sellers"]),
                ),
                signal(
                    "rejected_rate",
                    rate,
                    threshold=float(params["min_rejected_rate"]),
                    detail=pl.lit("rejected cases / orders"),
                ),
                signal(
                    "cases_opened",
                    "n_cases",
                    threshold=float(params["serial_min_cases"]),
                    detail=pl.format("cases of any outcome; route {}", "route"),
                ),
            ),
        )
        .sort("buyer_id")
        .collect()
    )
