"""``FEEDBACK_MANIPULATION``: sellers whose ratings and DSRs are manipulated, and who did it.

Consumes the rating-pattern signals of :mod:`graphkit.detect.ratings` (per
seller ``manipulation_score`` with its fired signals; per feedback
``suspicious`` with its evidence flags). One finding per seller whose score
reaches ``min_score`` and that has at least ``min_suspicious`` suspicious
ratings; the subjects are the seller and the authors of its suspicious
ratings that carry hard evidence (a strong flag, or several weak ones).

Examples
--------
>>> from graphkit.policy.feedback_manipulation import STRONG_REASONS
>>> "traded" in STRONG_REASONS
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from graphkit.findings import SIGNAL
from graphkit.policy.context import ScanContext
from graphkit.policy.registry import (
    Threshold,
    evidence,
    register,
    severity_from_score,
    signal,
)

__all__ = ["STRONG_REASONS", "check_feedback_manipulation", "manipulation_findings"]

#: Feedback evidence flags that mark a rating as manipulated on their own.
STRONG_REASONS = (
    "in_group_with_target",
    "linked_to_target",
    "too_early",
    "refunded_after",
    "traded",
)

THRESHOLDS = (
    Threshold(
        "min_score",
        0.5,
        "the combined rating-signal score; 0.5 needs one strong signal fully fired or "
        "several partly",
    ),
    Threshold(
        "min_suspicious",
        3,
        "a handful of suspicious ratings, not one odd rating, makes manipulation",
    ),
    Threshold(
        "min_weak_reasons",
        2,
        "a rater without a strong flag is named only when two weak flags agree "
        "(e.g. new account and in a burst)",
    ),
    Threshold("warning_score", 0.65, "above this the seller is warned, below reviewed"),
    Threshold("suspend_score", 0.8, "near-certain manipulation with several strong signals"),
)


def manipulation_findings(
    sellers: pl.DataFrame,
    feedback: pl.DataFrame,
    *,
    min_score: float = 0.5,
    min_suspicious: int = 3,
    min_weak_reasons: int = 2,
) -> pl.DataFrame:
    """Join flagged sellers to their suspicious ratings and the raters to name.

    Parameters
    ----------
    sellers
        ``RatingSignals.sellers`` (``seller_id``, ``manipulation_score``, ``signals``,
        ``explanation``, ...).
    feedback
        ``RatingSignals.feedback`` (``feedback_id``, ``order_id``, ``author_id``,
        ``target_id``, ``created_at``, ``reasons``, ``suspicious``).

    Returns
    -------
    DataFrame
        One row per flagged seller: ``seller_id``, ``score``, ``seller_signals``,
        ``seller_explanation``, ``n_suspicious``, ``feedback_ids``, ``order_ids``,
        ``raters`` (named raters), ``first_seen``, ``last_seen``.
    """
    strong = pl.col("reasons").list.eval(pl.element().is_in(STRONG_REASONS)).list.any()
    sus = feedback.filter(pl.col("suspicious").fill_null(False)).with_columns(
        named=strong | (pl.col("reasons").list.len() >= min_weak_reasons)
    )
    per = (
        sus.sort("created_at", "feedback_id")
        .group_by(pl.col("target_id").alias("seller_id"))
        .agg(
            n_suspicious=pl.len().cast(pl.Int64),
            n_strong=strong.sum().cast(pl.Int64),
            feedback_ids=pl.col("feedback_id"),
            order_ids=pl.col("order_id"),
            raters=pl.col("author_id").filter(pl.col("named")).unique().sort(),
            reason_counts=pl.col("reasons")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .value_counts(sort=True, name="n"),
            first_seen=pl.col("created_at").min(),
            last_seen=pl.col("created_at").max(),
        )
    )
    flagged = sellers.filter(pl.col("manipulation_score") >= min_score).select(
        "seller_id",
        score=pl.col("manipulation_score").cast(pl.Float64),
        seller_signals=pl.col("signals").cast(pl.List(SIGNAL)),
        seller_explanation=pl.col("explanation"),
    )
    return (
        flagged.join(per, on="seller_id", how="inner")
        .filter(pl.col("n_suspicious") >= min_suspicious)
        .sort("seller_id")
    )


@register(
    rule_id="FEEDBACK_MANIPULATION",
    tables=("orders", "feedback"),
    signals=("ratings",),
    optional_tables=("accounts", "refunds", "identifiers"),
    thresholds=THRESHOLDS,
)
def check_feedback_manipulation(ctx: ScanContext, params: Mapping[str, Any]) -> pl.DataFrame:
    """Flag sellers with manipulated ratings/DSRs and the accounts that rated for them.

    Examples
    --------
    >>> check_feedback_manipulation.signals
    ('ratings',)
    """
    sig = ctx.ratings
    found = manipulation_findings(
        sig.sellers,
        sig.feedback,
        min_score=float(params["min_score"]),
        min_suspicious=int(params["min_suspicious"]),
        min_weak_reasons=int(params["min_weak_reasons"]),
    )
    score = pl.col("score")
    action = (
        pl.when(score >= params["suspend_score"])
        .then(pl.lit("suspend"))
        .when(score >= params["warning_score"])
        .then(pl.lit("warning"))
        .otherwise(pl.lit("review"))
    )
    reasons_txt = pl.col("reason_counts").list.eval(
        pl.format("{} {}", pl.element().struct.field("n"), pl.element().struct.field("reasons"))
    )
    return found.with_columns(
        subject_ids=pl.concat_list(pl.col("seller_id"), pl.col("raters")),
        evidence=pl.concat_list(
            evidence("feedback", pl.col("feedback_ids")), evidence("order", pl.col("order_ids"))
        ),
        severity=severity_from_score(score),
        recommended_action=action,
        explanation=pl.format(
            "Seller {}: {} {} of its ratings are suspicious ({} with hard evidence; flags: {}); "
            "{} rater account(s) named.",
            "seller_id",
            pl.col("seller_explanation"),
            "n_suspicious",
            "n_strong",
            reasons_txt.list.join(", "),
            pl.col("raters").list.len(),
        ),
        signals=pl.concat_list(
            pl.col("seller_signals"),
            pl.concat_list(
                signal(
                    "suspicious_ratings", "n_suspicious", threshold=float(params["min_suspicious"])
                ),
                signal("named_raters", pl.col("raters").list.len()),
            ),
        ),
    )
