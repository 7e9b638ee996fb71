"""``FEEDBACK_MANIPULATION``: sellers whose ratings and DSRs are manipulated, and who did it.

Consumes the rating-pattern signals of :mod:`graphkit.detect.ratings` (per
seller ``manipulation_score`` with its fired signals; per feedback
``suspicious`` with its evidence flags). One finding per seller whose score
reaches ``min_score`` and that has at least ``min_suspicious`` suspicious
ratings; the subjects are the seller and the authors of its suspicious
ratings that carry hard evidence (a strong flag, or several flags; a refund
after the rating names the rater only with a second flag, see
:data:`CORROBORATE_REASONS`).

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

__all__ = [
    "CLUSTER_SIGNALS",
    "CORROBORATE_REASONS",
    "STRONG_REASONS",
    "check_feedback_manipulation",
    "circle_raters",
    "manipulation_findings",
]

#: Feedback evidence flags that mark a rating as manipulated on their own.
STRONG_REASONS = (
    "in_group_with_target",
    "linked_to_target",
    "too_early",
    "refunded_after",
    "traded",
)

#: Strong flags that name a *rater* only with a second flag on the same ratings: an honest
#: buyer whose item failed after a 5-star rating is refunded too; a paid review refunded
#: afterwards also carries a perfect DSR, a fresh account, a burst or an early rating.
#: (They still count as hard evidence against the seller.)
CORROBORATE_REASONS = ("refunded_after",)

#: Seller signals that restate one fact, "the raters cluster with the seller" (detected group
#: membership, REV2 unreliability computed on the same rating graph, raters coming back
#: again and again). Alone they do not flag a seller: a seller needs one more signal
#: independent of that clustering (identity links, new accounts, refunds after the rating,
#: early ratings, bursts, trading, divergence).
CLUSTER_SIGNALS = ("group_members", "unreliable_ratings", "repeat_raters")

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
    Threshold(
        "circle_min_sellers",
        2,
        "an account rating two or more stores of one feedback-trading circle works for the circle",
    ),
    Threshold(
        "circle_min_ratings",
        2,
        "two positive ratings into the circle (one for each of two of its stores, with at "
        "least half of all the account's positive ratings): an honest buyer rarely happens on "
        "two small stores that trade ratings with each other and little else",
    ),
    Threshold(
        "max_trading_partners",
        10,
        "a trading circle is a handful of stores; a store 'trading' with dozens sits inside "
        "a large detected group, and that signal is not evidence against it",
    ),
    Threshold(
        "require_independent_signal",
        True,
        "group membership, rating unreliability and repeat raters all say 'the raters cluster "
        "with the seller' (a small store's loyal regulars do too); a seller is flagged only "
        "with one more signal independent of that clustering",
    ),
    Threshold("warning_score", 0.65, "above this the seller is warned, below reviewed"),
    Threshold("suspend_score", 0.8, "near-certain manipulation with several strong signals"),
)


def circle_raters(
    feedback: pl.DataFrame,
    trading_pairs: pl.DataFrame,
    *,
    min_sellers: int = 2,
    min_ratings: int = 2,
    expand_min_coraters: int = 3,
    expand_min_share: float = 0.2,
    max_store_raters_quantile: float = 0.95,
    min_worker_share: float = 0.5,
    max_trading_partners: int = 10,
) -> pl.DataFrame:
    """Return the positive ratings of accounts that work for a feedback-trading circle.

    A circle is a connected set of sellers that trade ratings
    (``RatingSignals.trading_pairs``); an account (not one of the circle's sellers)
    that gave at least ``min_ratings`` positive ratings to at least ``min_sellers``
    of the circle's stores rates for the circle, linked to a seller or not.

    Circles are first widened by one step: a store joins a circle when at least
    ``expand_min_coraters`` accounts that positively rated the circle also positively
    rated it, and they are at least ``expand_min_share`` of its raters (so a popular
    store, rated by everyone, does not join); only accounts that already rate two or
    more of the circle's stores count as co-raters.

    Two guards keep popular stores and ordinary customers out: stores above the
    ``max_store_raters_quantile`` of raters per store are never circle stores (a store
    rated by everyone shares raters with every store), and a worker must give at least
    ``min_worker_share`` of all its positive ratings to the circle.

    Returns
    -------
    DataFrame
        ``feedback_id, order_id, author_id, target_id, created_at, reasons`` of those ratings.

    Examples
    --------
    >>> tp = pl.DataFrame({"seller_a": ["s1"], "seller_b": ["s2"]})
    >>> fb = pl.DataFrame({"feedback_id": ["f1", "f2", "f3"], "order_id": ["o1", "o2", "o3"],
    ...     "author_id": ["a"] * 3, "target_id": ["s1", "s2", "s2"], "rating": [5, 5, 4],
    ...     "created_at": [1, 2, 3], "reasons": [[], [], []]})
    >>> circle_raters(fb, tp)["feedback_id"].to_list()
    ['f1', 'f2', 'f3']
    """
    from graphkit.policy.coupons import linked_persons

    cols = ["feedback_id", "order_id", "author_id", "target_id", "created_at", "reasons"]
    if trading_pairs.height == 0:
        return feedback.select(cols).clear()
    pos = feedback.filter(pl.col("rating") >= 4)
    n_raters = pos.group_by("target_id").agg(n_raters=pl.col("author_id").n_unique())
    cap = n_raters["n_raters"].quantile(max_store_raters_quantile, "higher")
    popular = n_raters.filter(pl.col("n_raters") > cap).select("target_id")
    partners = (
        pl.concat(
            [
                trading_pairs.select(s="seller_a", p="seller_b"),
                trading_pairs.select(s="seller_b", p="seller_a"),
            ]
        )
        .group_by("s")
        .agg(n=pl.col("p").n_unique())
        .filter(pl.col("n") > max_trading_partners)
        .select(target_id="s")
    )
    popular = pl.concat([popular, partners.cast(popular.schema)]).unique()
    tp = trading_pairs.join(
        popular.rename({"target_id": "seller_a"}), on="seller_a", how="anti"
    ).join(popular.rename({"target_id": "seller_b"}), on="seller_b", how="anti")
    if tp.height == 0:
        return feedback.select(cols).clear()
    circles = linked_persons(tp.select(account_a="seller_a", account_b="seller_b")).rename(
        {"account_id": "target_id", "person_id": "circle"}
    )
    # the co-raters that can pull a store into a circle are the circle's *workers*: accounts
    # with positive ratings for at least ``min_sellers`` of its stores
    raters = (
        pos.join(circles, on="target_id", how="inner")
        .group_by("author_id", "circle")
        .agg(n_sellers=pl.col("target_id").n_unique())
        .filter(pl.col("n_sellers") >= min_sellers)
        .select("author_id", "circle")
    )
    joins = (
        pos.join(raters, on="author_id", how="inner")
        .join(circles, on="target_id", how="anti")
        .group_by("target_id", "circle")
        .agg(n_co=pl.col("author_id").n_unique())
        .join(n_raters, on="target_id", how="left")
        .join(popular, on="target_id", how="anti")
        .filter(
            (pl.col("n_co") >= expand_min_coraters)
            & (pl.col("n_co") >= expand_min_share * pl.col("n_raters"))
        )
        .select("target_id", "circle")
    )
    circles = pl.concat([circles, joins]).unique(keep="first").sort("target_id", "circle")
    into = pos.join(circles, on="target_id", how="inner")
    into = into.join(
        circles.rename({"target_id": "author_id", "circle": "own"}), on="author_id", how="anti"
    )
    n_given = pos.group_by("author_id").agg(n_given=pl.len())
    workers = (
        into.group_by("author_id", "circle")
        .agg(n=pl.len(), n_sellers=pl.col("target_id").n_unique())
        .join(n_given, on="author_id", how="left")
        .filter(
            (pl.col("n_sellers") >= min_sellers)
            & (pl.col("n") >= min_ratings)
            & (pl.col("n") >= min_worker_share * pl.col("n_given"))
        )
        .select("author_id", "circle")
    )
    return (
        into.join(workers, on=["author_id", "circle"], how="semi").select(cols).sort("feedback_id")
    )


def manipulation_findings(
    sellers: pl.DataFrame,
    feedback: pl.DataFrame,
    *,
    min_score: float = 0.5,
    min_suspicious: int = 3,
    min_weak_reasons: int = 2,
    extra: pl.DataFrame | None = None,
    max_trading_partners: int = 10,
    require_independent_signal: bool = True,
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
    extra
        More ratings to treat as suspicious with a named rater (e.g. :func:`circle_raters`).
    max_trading_partners
        A seller "trading" with more stores than this is a hub inside a large detected
        group, not a member of a trading circle (circles are a handful of stores): its
        ``feedback_trading`` signal is left out of its score.
    require_independent_signal
        Flag a seller on its score only when one of its fired signals is outside
        :data:`CLUSTER_SIGNALS` (the trading-circle path is independent evidence).

    Returns
    -------
    DataFrame
        One row per flagged seller: ``seller_id``, ``score``, ``seller_signals``,
        ``seller_explanation``, ``n_suspicious``, ``feedback_ids``, ``order_ids``,
        ``raters`` (named raters), ``first_seen``, ``last_seen``.
    """
    strong = pl.col("reasons").list.eval(pl.element().is_in(STRONG_REASONS)).list.any()
    alone = [r for r in STRONG_REASONS if r not in CORROBORATE_REASONS]
    strong_alone = pl.col("reasons").list.eval(pl.element().is_in(alone)).list.any()
    cols = ["feedback_id", "order_id", "author_id", "target_id", "created_at", "reasons"]
    sus = feedback.filter(pl.col("suspicious").fill_null(False)).with_columns(
        named=strong_alone | (pl.col("reasons").list.len() >= min_weak_reasons)
    )
    if extra is not None and extra.height:
        more = extra.select(cols).with_columns(
            reasons=pl.concat_list(pl.col("reasons"), pl.lit(["trading_circle"])),
            named=pl.lit(True),
        )
        sus = pl.concat([sus.select(*cols, "named"), more]).unique(
            "feedback_id", keep="last", maintain_order=False
        )
    per = (
        sus.sort("created_at", "feedback_id")
        .group_by(pl.col("target_id").alias("seller_id"))
        .agg(
            n_suspicious=pl.len().cast(pl.Int64),
            n_strong=strong.sum().cast(pl.Int64),
            n_circle=pl.col("reasons").list.contains("trading_circle").sum().cast(pl.Int64),
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
    # a store rated by a trading circle's workers is flagged even when its own rating
    # signals stay low (its partners' side of the trade is where the evidence is)
    circle_score = 0.6
    hub = pl.col("n_trading_partners").fill_null(0) > max_trading_partners
    kept = pl.col("signals").list.eval(
        pl.element().filter(pl.element().struct.field("name") != "feedback_trading")
    )
    without_trading = 1.0 - kept.list.eval(
        1.0 - pl.element().struct.field("contribution").fill_null(0.0)
    ).list.eval(pl.element().product()).list.first().fill_null(1.0)
    flagged = sellers.select(
        "seller_id",
        score=pl.when(hub)
        .then(without_trading)
        .otherwise(pl.col("manipulation_score"))
        .cast(pl.Float64),
        seller_signals=pl.when(hub).then(kept).otherwise(pl.col("signals")).cast(pl.List(SIGNAL)),
        seller_explanation=pl.col("explanation"),
    )
    in_circle = pl.col("n_circle") >= min_suspicious
    on_score = pl.col("score") >= min_score
    if require_independent_signal:
        independent = (
            pl.col("seller_signals")
            .list.eval(
                (pl.element().struct.field("contribution").fill_null(0.0) > 0)
                & ~pl.element().struct.field("name").is_in(CLUSTER_SIGNALS)
            )
            .list.any()
        )
        on_score = on_score & independent
    return (
        flagged.join(per, on="seller_id", how="inner")
        .filter((on_score | in_circle) & (pl.col("n_suspicious") >= min_suspicious))
        .with_columns(
            score=pl.when(in_circle)
            .then(pl.max_horizontal("score", pl.lit(circle_score)))
            .otherwise("score")
        )
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
    circle = circle_raters(
        sig.feedback,
        sig.trading_pairs,
        min_sellers=int(params["circle_min_sellers"]),
        min_ratings=int(params["circle_min_ratings"]),
        max_trading_partners=int(params["max_trading_partners"]),
    )
    found = manipulation_findings(
        sig.sellers,
        sig.feedback,
        min_score=float(params["min_score"]),
        min_suspicious=int(params["min_suspicious"]),
        min_weak_reasons=int(params["min_weak_reasons"]),
        extra=circle,
        max_trading_partners=int(params["max_trading_partners"]),
        require_independent_signal=bool(params["require_independent_signal"]),
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
                signal(
                    "trading_circle_ratings",
                    "n_circle",
                    threshold=float(params["min_suspicious"]),
                    detail=pl.lit("positive ratings from accounts working for a trading circle"),
                ),
            ),
        ),
    )
