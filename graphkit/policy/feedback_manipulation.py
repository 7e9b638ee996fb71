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

from graphkit.detect.rating_trading import corating_pairs
from graphkit.findings import SIGNAL
from graphkit.policy.context import ScanContext
from graphkit.policy.registry import (
    Threshold,
    days,
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
    "mutual_trade_stores",
    "paid_burst_raters",
    "paid_burst_sellers",
    "trading_signal_sellers",
    "window_raters",
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
        "refunded_rater_max_delay_days",
        5.0,
        "a refund after the rating counts toward naming the rater only for a rating left at "
        "most 5 days after payment: a paid review comes at once and is refunded afterwards, an "
        "honest late rating refunded through a later dispute is not evidence against the rater "
        "(simulated runs: paid reviewers 2-4 days, honest raters so named 8-22 days) (0 turns "
        "this off)",
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
        "corating_circles",
        True,
        "stores co-rated by the same dedicated accounts (graphkit.detect.rating_trading."
        "corating_pairs: >= 3 accounts giving the pair >= half of their positive ratings, "
        ">= 5% of the larger store's raters) form circles too, without identity links or "
        "detected groups (every such pair in 15 simulated development/seen runs was planted)",
    ),
    Threshold(
        "circle_expand_min_share",
        0.1,
        "a store joins a trading circle when at least 3 of the circle's workers rate it and "
        "they are at least 10% of its raters (circle stores missed by the trading pairs: "
        "11-13% in the simulated development runs; no other store had three such co-raters)",
    ),
    Threshold(
        "circle_mutual_min_traders",
        2,
        "a store joins a trading circle when 2 accounts traded mutual 5-star ratings with it "
        "and with a circle store (>= 10% of its raters, >= half of their positive ratings): in "
        "the 12 simulated development runs 87 organic stores had one such trader (2 of them "
        "at >= 10%), 2 had two (at 1.5% and 2.5%), the 3 missed circle stores 2-4 (12-40%) "
        "(0 turns this off)",
    ),
    Threshold(
        "circle_regulars_flag_traders",
        True,
        "the repeat 5-star ratings of circle regulars (see circle_raters) count toward "
        "flagging a store whose own feedback_trading signal fired (its traded share of top "
        "ratings above the signal's threshold, though its score stays below min_score): the "
        "trade is the evidence, the regulars its dedicated raters. A store with one incidental "
        "trade among many honest ratings (signal not fired), or one that only joined a circle "
        "through shared raters, still needs ratings from circle workers: its loyal customers "
        "look the same (simulated 100k s11: an organic store, 1 traded rating, no signal). "
        "Simulated seeds 50-59: the two trading stores missed (signal 0.37-0.39) had 2 "
        "ratings from circle workers and 2-6 from regulars; no organic store was added in 52 "
        "20k/100k runs (seeds 0-15, 50-59) nor on held-out seeds 60-69 or 1M s0-s2 (False "
        "turns this off)",
    ),
    Threshold(
        "circle_mutual_rounds",
        2,
        "a store joined to a circle through mutual trades (circle_mutual_min_traders) is a "
        "circle store when the next store is tested the same way, once more (2 rounds): a "
        "circle is the stores connected by its accounts' trades, and a store whose dedicated "
        "traders traded with the joined store is one trade further (simulated 20k s55: the "
        "second store missed had 2 such traders, one through the store joined in round 1; no "
        "organic store joined in 52 20k/100k runs, held-out seeds 60-69 or 1M s0-s2) (1: one "
        "round, as before)",
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
    Threshold(
        "paid_burst_days",
        2.0,
        "an unrefunded perfect top rating within 2 days of refunded ones on a store whose "
        "refunded-top signal fired is part of the paid burst (a campaign's ratings arrive "
        "within days of each other; an honest store's refunds are scattered)",
    ),
    Threshold(
        "paid_burst_min_refunded",
        3,
        "... of at least 3 refunded positive ratings (one or two nearby refunds are chance)",
    ),
    Threshold(
        "paid_burst_max_delay_days",
        5.0,
        "... left at most 5 days after payment: paid reviewers rate at once (the simulated "
        "campaigns 1-4 days), 95% of organic ratings come after more than 7 days",
    ),
    Threshold(
        "paid_burst_min_seller_ratings",
        5,
        "a store whose refunded-top signal fired is flagged (score at least 0.6) when at least "
        "5 of its refunded top ratings with perfect DSRs, each left at most "
        "paid_burst_max_delay_days after payment, fall within paid_burst_seller_window_days: a "
        "bought campaign, even on a store whose many honest ratings dilute its refunded share "
        "(a simulated campaign of 8-25 paid orders, 85% refunded, makes 6 or more; no organic "
        "store was flagged by it in the 32 simulated 20k/100k runs, seeds 0-15) (0 turns this "
        "off)",
    ),
    Threshold(
        "paid_burst_seller_window_days",
        7.0,
        "... within 7 days: a campaign's paid ratings arrive within about a week (the simulated "
        "campaigns' orders within 5 days, rated 1-4 days after payment)",
    ),
    Threshold(
        "window_min_ratings",
        2,
        "an account that rated a flagged seller at least twice, always 4-5 stars, only inside "
        "the window of its suspicious ratings, is named (one good rating is what anyone gives)",
    ),
    Threshold(
        "window_margin_days",
        7.0,
        "the window of the suspicious ratings is widened by a week each side (as "
        "SHILL_PURCHASE's ring window)",
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
    expand_min_share: float = 0.1,
    max_store_raters_quantile: float = 0.95,
    min_worker_share: float = 0.5,
    max_trading_partners: int = 10,
    links: pl.DataFrame | None = None,
    regular_min_top: int | None = 2,
    seller_ratings: pl.DataFrame | pl.LazyFrame | None = None,
    mutual_min_traders: int | None = 2,
    mutual_rounds: int = 2,
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
    more of the circle's stores count as co-raters. (0.1: the circle stores missed by
    the trading pairs have dozens of honest raters, of whom the circle's co-raters were
    11-13% in the simulated development runs; no store outside a circle had three
    co-raters there.)

    With identity ``links``, an account that shares an identifier with a worker of the
    circle (signal ``linked_to_worker``) works for it too when at least
    ``min_worker_share`` of its positive ratings (and ``min_ratings`` of them) go to the
    circle's stores, even if they go to one store only: the operator's second account
    rating the store it is assigned to. An account linked to a worker whose ratings go
    mostly elsewhere (a housemate shopping normally) is not named.

    An account assigned to one store of the circle rates only that store: with
    ``regular_min_top``, an account that rated one circle store at least that many times,
    every time 5 stars, and gave it at least ``min_worker_share`` of all its positive
    ratings works for the circle too (2: in the simulated development runs 18 circle and
    camouflaged-ring accounts matched and one honest buyer, whose two ratings of the store
    were a 5 and a 4 with a 4-star bar; None turns this off).

    With ``seller_ratings`` (the feedback table, both directions), a store joins a circle
    also when at least ``mutual_min_traders`` accounts traded mutual 5-star ratings both
    with a store of the circle and with it (:func:`mutual_trade_stores`): the circle store
    whose accounts each made only one or two trades, none of them with two circle stores
    (their ratings of it are then tagged ``mutual_trade``). This is repeated up to
    ``mutual_rounds`` times, a store so joined counting as a circle store in the next round
    (the next store's traders traded with it).

    Two guards keep popular stores and ordinary customers out: stores above the
    ``max_store_raters_quantile`` of raters per store are never circle stores (a store
    rated by everyone shares raters with every store), and a worker must give at least
    ``min_worker_share`` of all its positive ratings to the circle.

    Returns
    -------
    DataFrame
        ``feedback_id, order_id, author_id, target_id, created_at, reasons`` of those ratings;
        ``reasons`` ends with ``linked_to_worker`` or ``circle_regular`` when the rater was
        named through that path (nothing is added for a worker of two or more stores).

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
    # the columns used, once (the rating signals' feedback carries ~20 more): every step below
    # filters or joins these rows
    feedback = feedback.select(*cols, "rating")
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
    traders = None
    if seller_ratings is not None and mutual_min_traders is not None:
        found = []
        # a store joined through mutual trades is a circle store for the next round (a
        # handful of rounds: each adds the stores one trade away)
        for _ in range(max(mutual_rounds, 1)):
            step = mutual_trade_stores(
                pos,
                seller_ratings,
                circles,
                exclude=popular,
                n_raters=n_raters,
                min_traders=mutual_min_traders,
                min_share=expand_min_share,
                min_worker_share=min_worker_share,
            )
            found.append(step)
            joined = step.select("target_id", "circle").unique()
            if joined.height == 0:
                break
            circles = pl.concat([circles, joined]).unique(keep="first").sort("target_id", "circle")
        traders = pl.concat(found).unique().sort("target_id", "circle", "author_id")
    into = pos.join(circles, on="target_id", how="inner")
    into = into.join(
        circles.rename({"target_id": "author_id", "circle": "own"}), on="author_id", how="anti"
    )
    # positive ratings given by the accounts rating into a circle (every account the share
    # tests below look at does; counting them for every account costs a group per account)
    n_given = (
        pos.filter(pl.col("author_id").is_in(into.get_column("author_id").unique().implode()))
        .group_by("author_id")
        .agg(n_given=pl.len())
    )
    workers = (
        into.group_by("author_id", "circle")
        .agg(n=pl.len(), n_sellers=pl.col("target_id").n_unique())
        .join(n_given, on="author_id", how="left")
        .filter(
            (pl.col("n_sellers") >= min_sellers)
            & (pl.col("n") >= min_ratings)
            & (pl.col("n") >= min_worker_share * pl.col("n_given"))
        )
        .select("author_id", "circle", _via=pl.lit(None, dtype=pl.String))
    )
    if links is not None and links.height:
        both = pl.concat(
            [
                links.select(pl.col("account_a").alias("author_id"), other="account_b"),
                links.select(pl.col("account_b").alias("author_id"), other="account_a"),
            ]
        ).cast(pl.String)
        near = (
            both.join(workers.rename({"author_id": "other"}), on="other")
            .select("author_id", "circle")
            .unique()
        )
        linked = (
            into.join(near, on=["author_id", "circle"], how="semi")
            .group_by("author_id", "circle")
            .agg(n=pl.len())
            .join(n_given, on="author_id", how="left")
            .filter(
                (pl.col("n") >= min_ratings) & (pl.col("n") >= min_worker_share * pl.col("n_given"))
            )
            .select("author_id", "circle", _via=pl.lit("linked_to_worker"))
        )
        workers = pl.concat([workers, linked])
    if regular_min_top is not None:
        per_store = (
            feedback.join(circles, on="target_id", how="inner")
            .join(circles.select(author_id="target_id"), on="author_id", how="anti")
            .group_by("author_id", "target_id", "circle")
            .agg(n=pl.len(), n_top=(pl.col("rating") == 5).sum())
            .filter((pl.col("n") >= regular_min_top) & (pl.col("n_top") == pl.col("n")))
            .join(n_given, on="author_id", how="left")
            .filter(pl.col("n") >= min_worker_share * pl.col("n_given"))
            .select("author_id", "circle", _via=pl.lit("circle_regular"))
        )
        workers = pl.concat([workers, per_store])
    # one path per worker and circle: the two-store worker first, then linked, then regular
    order = pl.col("_via").replace_strict(
        {"linked_to_worker": 1, "circle_regular": 2}, default=0, return_dtype=pl.Int8
    )
    workers = (
        workers.sort("author_id", "circle", order)
        .unique(["author_id", "circle"], keep="first")
        .select("author_id", "circle", "_via")
    )
    empty = pl.lit([], dtype=pl.List(pl.String))

    def tag(col: str) -> pl.Expr:
        return pl.when(pl.col(col).is_not_null()).then(pl.concat_list(col)).otherwise(empty)

    out = into.join(workers, on=["author_id", "circle"], how="inner")
    tags = [tag("_via")]
    if traders is not None and traders.height:
        # the ratings that pulled their store into the circle say so
        mutual = traders.select("author_id", "target_id", _mt=pl.lit("mutual_trade")).unique()
        out = out.join(mutual, on=["author_id", "target_id"], how="left")
        tags.append(tag("_mt"))
    return (
        out.with_columns(reasons=pl.concat_list("reasons", *tags))
        .select(cols)
        .unique("feedback_id", keep="first")
        .sort("feedback_id")
    )


def mutual_trade_stores(
    pos: pl.DataFrame,
    seller_ratings: pl.DataFrame | pl.LazyFrame,
    circles: pl.DataFrame,
    *,
    exclude: pl.DataFrame | None = None,
    n_raters: pl.DataFrame | None = None,
    min_traders: int = 2,
    min_share: float = 0.1,
    min_worker_share: float = 0.5,
) -> pl.DataFrame:
    """Return the stores tied to a trading circle by accounts that trade mutual 5-star ratings.

    A *mutual trade* is an account's 5-star rating of a store that the store returned with a
    5-star rating of the account (in ``seller_ratings``, on any order). A store outside a
    circle is tied to it when at least ``min_traders`` accounts (not circle stores) made a
    mutual trade both with a store of the circle and with it, give the circle and the store
    together at least ``min_worker_share`` of all their positive ratings, and are at least
    ``min_share`` of the store's positive raters. That is the circle store whose own accounts
    made one or two trades each, with one partner store each: every one of its trades is
    mutual, but no account rates two circle stores and no identifier ties it to the circle.

    Thresholds: 2 traders and 10% of the store's positive raters (in the 12 simulated
    development runs, 20k and 100k orders seeds 0-5, 87 organic stores had one such trader,
    two of them at >= 10% of their raters; 2 organic stores had two, at 1.5% and 2.5%; the
    three missed circle stores had 2-4, at 12-40%); mutual on *both* sides (an honest store
    returns a 5-star rating for about a third of its top ratings, a circle store for most:
    with the store's side one-way, a small store of another scenario, coupon self-dealing,
    joined in the development runs through two circle-store customers); half of the
    traders' positive ratings, as a worker in :func:`circle_raters`.

    Parameters
    ----------
    pos
        Positive buyer -> seller ratings: ``author_id, target_id, rating`` (4-5 stars).
    seller_ratings
        The feedback table (``author_id, target_id, rating``, any direction; lazy is best:
        only the sellers' 5-star ratings of the candidate traders are collected).
    circles
        ``target_id, circle``: the stores of each circle.
    exclude
        ``target_id`` of stores that never join (popular stores, hubs).
    n_raters
        ``target_id, n_raters`` positive raters per store (computed from ``pos`` if None).
    min_traders, min_share, min_worker_share
        See above.

    Returns
    -------
    pl.DataFrame
        ``target_id, circle, author_id`` (the joining store, its circle, one trader per row),
        sorted.

    Examples
    --------
    >>> pos = pl.DataFrame({"author_id": ["a", "a", "b", "b", "c"],
    ...     "target_id": ["C", "S", "C", "S", "S"], "rating": [5] * 5})
    >>> back = pl.DataFrame({"author_id": ["C", "S", "C", "S"],
    ...     "target_id": ["a", "a", "b", "b"], "rating": [5] * 4})
    >>> circles = pl.DataFrame({"target_id": ["C"], "circle": ["C"]})
    >>> mutual_trade_stores(pos, back, circles)["author_id"].to_list()
    ['a', 'b']
    """
    out_schema = {"target_id": pl.String, "circle": pl.String, "author_id": pl.String}
    top = pos.filter(pl.col("rating") == 5).select(pl.col("author_id", "target_id").cast(pl.String))
    circles = circles.select(pl.col("target_id", "circle").cast(pl.String))
    stores = circles.select("target_id").unique()
    # accounts with a 5-star rating of a circle store (few): the only ones looked up below
    cand = (
        top.join(stores, on="target_id", how="semi")
        .join(stores.rename({"target_id": "author_id"}), on="author_id", how="anti")
        .get_column("author_id")
        .unique()
    )
    if cand.len() == 0:
        return pl.DataFrame(schema=out_schema)
    back = (
        seller_ratings.lazy()
        .filter((pl.col("rating") == 5) & pl.col("target_id").is_in(cand.implode()))
        .select(pl.col("target_id").alias("author_id"), pl.col("author_id").alias("target_id"))
        .unique()
        .collect()
        .cast(pl.String)
    )
    mutual = (
        top.filter(pl.col("author_id").is_in(cand.implode()))
        .join(back, on=["author_id", "target_id"], how="semi")
        .unique()
    )
    with_circle = mutual.join(circles, on="target_id").select("author_id", "circle").unique()
    outside = mutual.join(stores, on="target_id", how="anti")
    if exclude is not None:
        outside = outside.join(
            exclude.select(pl.col("target_id").cast(pl.String)), on="target_id", how="anti"
        )
    pairs = outside.join(with_circle, on="author_id")
    if pairs.height == 0:
        return pl.DataFrame(schema=out_schema)
    mine = pos.select(pl.col("author_id", "target_id").cast(pl.String)).filter(
        pl.col("author_id").is_in(pairs.get_column("author_id").unique().implode())
    )
    n_given = mine.group_by("author_id").agg(n_given=pl.len())
    n_circle = mine.join(circles, on="target_id").group_by("author_id", "circle").agg(n_c=pl.len())
    n_store = mine.group_by("author_id", "target_id").agg(n_s=pl.len())
    if n_raters is None:
        n_raters = pos.group_by("target_id").agg(n_raters=pl.col("author_id").n_unique())
    dedicated = (
        pairs.join(n_circle, on=["author_id", "circle"])
        .join(n_store, on=["author_id", "target_id"])
        .join(n_given, on="author_id")
        .filter(pl.col("n_c") + pl.col("n_s") >= min_worker_share * pl.col("n_given"))
        .select("target_id", "circle", "author_id")
    )
    kept = (
        dedicated.group_by("target_id", "circle")
        .agg(k=pl.len())
        .join(n_raters.select(pl.col("target_id").cast(pl.String), "n_raters"), on="target_id")
        .filter((pl.col("k") >= min_traders) & (pl.col("k") >= min_share * pl.col("n_raters")))
        .select("target_id", "circle")
    )
    return dedicated.join(kept, on=["target_id", "circle"], how="semi").sort(
        "target_id", "circle", "author_id"
    )


def trading_signal_sellers(sellers: pl.DataFrame) -> pl.Series:
    """Return the sellers whose own ``feedback_trading`` rating signal fired.

    The signal fires when the share of a seller's top ratings traded with other stores
    (reciprocal positive ratings through accounts tied to each) is above its threshold;
    its contribution is then positive even where the seller's score stays low.

    Parameters
    ----------
    sellers
        ``RatingSignals.sellers`` (``seller_id``, ``signals``).

    Returns
    -------
    Series
        ``seller_id`` of those sellers, sorted.

    Examples
    --------
    >>> from graphkit.findings import SIGNAL
    >>> sig = [{"name": "feedback_trading", "value": 0.06, "threshold": 0.05,
    ...         "contribution": 0.39, "detail": ""}]
    >>> sellers = pl.DataFrame({"seller_id": ["s", "t"], "signals": [sig, []]},
    ...                        schema_overrides={"signals": pl.List(SIGNAL)})
    >>> trading_signal_sellers(sellers).to_list()
    ['s']
    """
    fired = pl.col("signals").list.eval(
        (pl.element().struct.field("name") == "feedback_trading")
        & (pl.element().struct.field("contribution").fill_null(0.0) > 0)
    )
    return sellers.filter(fired.list.any()).get_column("seller_id").cast(pl.String).sort()


def _refunded_top_sellers(sellers: pl.DataFrame) -> pl.DataFrame:
    """Return ``target_id`` of the sellers whose ``refunded_top`` signal fired."""
    return sellers.filter(
        pl.col("signals").list.eval(pl.element().struct.field("name") == "refunded_top").list.any()
    ).select(target_id="seller_id")


def _rated_soon_after_payment(
    ratings: pl.DataFrame, orders: pl.DataFrame, max_delay_days: float
) -> pl.DataFrame:
    """Keep the ``ratings`` left at most ``max_delay_days`` after their order was paid."""
    if ratings.height == 0:
        return ratings
    paid = orders.select("order_id", "paid_at").filter(
        pl.col("order_id").is_in(ratings.get_column("order_id").implode())
    )
    limit = days(max_delay_days)
    return ratings.join(paid, on="order_id", how="left").filter(
        (pl.col("created_at") - pl.col("paid_at") <= limit).fill_null(False)
    )


def paid_burst_raters(
    feedback: pl.DataFrame,
    sellers: pl.DataFrame,
    *,
    orders: pl.DataFrame | None = None,
    window_days: float = 2.0,
    min_refunded: int = 3,
    max_delay_days: float = 5.0,
) -> pl.DataFrame:
    """Return the unrefunded top ratings left inside a seller's burst of refunded top ratings.

    A paid-rating campaign buys a burst of 5-star ratings with perfect DSRs and refunds
    most of the orders afterwards; the few orders it did not (yet) refund look like honest
    purchases. For each seller whose ``refunded_top`` signal fired, a top rating with a
    perfect 5/5/5 DSR triple that was *not* refunded is named (signal ``paid_burst``) when
    at least ``min_refunded`` of the seller's refunded positive ratings were left within
    ``window_days`` of it and, with ``orders``, it was left at most ``max_delay_days`` after
    the order was paid.

    ``window_days`` = 2: the paid ratings of a campaign arrive within days of each other
    (orders inside a few days, rated 1-4 days after payment), while an honest store's
    refunded ratings are scattered. ``min_refunded`` = 3: the ``min_flagged`` of the rating
    signals, one or two refunds near a rating are coincidence. Perfect DSRs are required
    because an honest rating is a perfect triple only about 40% of the time (with 1 day
    and 3 refunds, or 2 days and 2, the simulated development runs named more honest raters
    for the same paid ones). ``max_delay_days`` = 5: a paid reviewer rates as soon as the
    order is paid, without waiting for the item (1-4 days in the simulated campaigns),
    while 95% of organic ratings come more than 7 days after payment; the honest raters
    that the time window alone named in the development runs had rated 8-13 days after
    payment.

    Parameters
    ----------
    feedback
        ``RatingSignals.feedback``.
    sellers
        ``RatingSignals.sellers`` (``seller_id``, ``signals``).
    orders
        ``order_id, paid_at`` (the dataset's orders); without it the delay is not checked.
    window_days, min_refunded, max_delay_days
        See above.

    Returns
    -------
    DataFrame
        ``feedback_id, order_id, author_id, target_id, created_at, reasons`` of those
        ratings, sorted by ``feedback_id``.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from graphkit.findings import SIGNAL
    >>> t0 = datetime(2025, 1, 1)
    >>> fb = pl.DataFrame({"feedback_id": ["p1", "p2", "p3", "x", "late"],
    ...     "order_id": ["o1", "o2", "o3", "o4", "o5"], "author_id": ["a", "b", "c", "d", "e"],
    ...     "target_id": ["s"] * 5, "rating": [5] * 5, "perfect_dsr": [True] * 5,
    ...     "refunded_after": [True, True, True, False, False],
    ...     "created_at": [t0, t0 + timedelta(days=1), t0 + timedelta(days=1), t0,
    ...                    t0 + timedelta(days=9)], "reasons": [[]] * 5})
    >>> sig = [{"name": "refunded_top", "value": 0.3, "threshold": 0.12, "contribution": 0.6,
    ...         "detail": ""}]
    >>> sellers = pl.DataFrame({"seller_id": ["s"], "signals": [sig]},
    ...                        schema_overrides={"signals": pl.List(SIGNAL)})
    >>> paid_burst_raters(fb, sellers)["feedback_id"].to_list()
    ['x']
    """
    cols = ["feedback_id", "order_id", "author_id", "target_id", "created_at", "reasons"]
    fired = _refunded_top_sellers(sellers)
    if fired.height == 0:
        return feedback.select(cols).clear()
    fb = feedback.join(fired, on="target_id", how="semi")
    anchors = (
        fb.filter(pl.col("refunded_after").fill_null(False) & (pl.col("rating") >= 4))
        .select("target_id", _t="created_at")
        .sort("target_id", "_t")
        .with_columns(_rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("target_id"))
        .sort("_t")
    )
    w = days(window_days)
    cand = (
        fb.filter(
            (pl.col("rating") == 5)
            & pl.col("perfect_dsr").fill_null(False)
            & ~pl.col("refunded_after").fill_null(False)
        )
        .select(cols)
        .with_columns(_hi=pl.col("created_at") + w, _lo=pl.col("created_at") - w)
    )
    # refunded ratings within the window = rank of the last one <= t + w minus rank of the
    # last one < t - w (two as-of joins on the per-seller ranks, no pairwise join)
    hi = cand.sort("_hi").join_asof(
        anchors.rename({"_rank": "_r_hi"}),
        left_on="_hi",
        right_on="_t",
        by="target_id",
        check_sortedness=False,  # both sides sorted by time above
    )
    lo = cand.with_columns(_lo=pl.col("_lo") - pl.duration(microseconds=1)).sort("_lo")
    lo = lo.join_asof(
        anchors.rename({"_rank": "_r_lo"}),
        left_on="_lo",
        right_on="_t",
        by="target_id",
        check_sortedness=False,
    )
    n = hi.select("feedback_id", "_r_hi").join(
        lo.select("feedback_id", "_r_lo"), on="feedback_id", how="left"
    )
    keep = n.filter(
        pl.col("_r_hi").fill_null(0) - pl.col("_r_lo").fill_null(0) >= min_refunded
    ).select("feedback_id")
    out = cand.join(keep, on="feedback_id", how="semi").select(cols)
    if orders is not None:
        out = _rated_soon_after_payment(out, orders, max_delay_days).select(cols)
    return out.sort("feedback_id")


def paid_burst_sellers(
    feedback: pl.DataFrame,
    sellers: pl.DataFrame,
    *,
    orders: pl.DataFrame | None = None,
    min_ratings: int = 5,
    window_days: float = 7.0,
    max_delay_days: float = 5.0,
) -> pl.DataFrame:
    """Return the sellers whose refunded top ratings hold a paid-rating campaign.

    A seller whose ``refunded_top`` signal fired is returned when at least ``min_ratings``
    of its top ratings with a perfect 5/5/5 DSR triple that were refunded afterwards (and,
    with ``orders``, left at most ``max_delay_days`` after the order was paid) fall within
    ``window_days`` of each other. The refunded-top share of a store with many honest
    ratings stays near its threshold however many ratings were bought; the campaign itself
    (perfect ratings left at once after payment, refunded, within a week) is the evidence.

    Parameters
    ----------
    feedback
        ``RatingSignals.feedback``.
    sellers
        ``RatingSignals.sellers`` (``seller_id``, ``signals``).
    orders
        ``order_id, paid_at``; without it the delay is not checked.
    min_ratings, window_days, max_delay_days
        See above (``min_ratings`` 0: nothing is returned).

    Returns
    -------
    DataFrame
        ``seller_id`` and ``n_paid_burst`` (all such ratings of the seller), sorted by
        ``seller_id``.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from graphkit.findings import SIGNAL
    >>> t0 = datetime(2025, 1, 1)
    >>> fb = pl.DataFrame({"order_id": [f"o{i}" for i in range(5)], "target_id": ["s"] * 5,
    ...     "rating": [5] * 5, "perfect_dsr": [True] * 5, "refunded_after": [True] * 5,
    ...     "created_at": [t0 + timedelta(days=i) for i in range(5)]})
    >>> sig = [{"name": "refunded_top", "value": 0.3, "threshold": 0.12, "contribution": 0.4,
    ...         "detail": ""}]
    >>> sellers = pl.DataFrame({"seller_id": ["s"], "signals": [sig]},
    ...                        schema_overrides={"signals": pl.List(SIGNAL)})
    >>> paid_burst_sellers(fb, sellers).rows()
    [('s', 5)]
    """
    empty = pl.DataFrame(schema={"seller_id": pl.String, "n_paid_burst": pl.Int64})
    if min_ratings <= 0:
        return empty
    fired = _refunded_top_sellers(sellers)
    if fired.height == 0:
        return empty
    rows = feedback.join(fired, on="target_id", how="semi").filter(
        (pl.col("rating") == 5)
        & pl.col("perfect_dsr").fill_null(False)
        & pl.col("refunded_after").fill_null(False)
    )
    if orders is not None:
        rows = _rated_soon_after_payment(rows, orders, max_delay_days)
    w = days(window_days)
    # a window holds min_ratings of them when the (min_ratings - 1)-th next rating of the
    # same seller is at most window_days later
    return (
        rows.select("target_id", "created_at")
        .sort("target_id", "created_at")
        .group_by("target_id")
        .agg(
            n_paid_burst=pl.len().cast(pl.Int64),
            _hit=((pl.col("created_at").shift(-(min_ratings - 1)) - pl.col("created_at")) <= w)
            .fill_null(False)
            .any(),
        )
        .filter("_hit")
        .select(pl.col("target_id").alias("seller_id"), "n_paid_burst")
        .sort("seller_id")
    )


def window_raters(
    feedback: pl.DataFrame,
    found: pl.DataFrame,
    *,
    min_ratings: int = 2,
    margin_days: float = 7.0,
) -> pl.DataFrame:
    """Return the raters of flagged sellers who rated them only inside the manipulation window.

    For each seller of ``found`` (:func:`manipulation_findings`), the window runs from its
    first to its last suspicious rating (``first_seen``, ``last_seen``), widened by
    ``margin_days``. An account not yet named that rated the seller at least
    ``min_ratings`` times, every time positively (4-5 stars) and every time inside the
    window, rated with the ring (signal ``in_window``): the camouflaged ring account or the
    circle account whose own ratings carry no flag. (2 ratings: one good rating is what any
    customer gives; 7 days: as SHILL_PURCHASE's ``ring_window_margin_days``. In the 15
    simulated development and seen runs at 20k and 100k orders this named planted circle
    and camouflaged-ring accounts only, no unlabelled one.)

    Returns
    -------
    DataFrame
        ``seller_id, author_id, feedback_id, order_id`` of those ratings, sorted.

    Examples
    --------
    >>> from datetime import datetime
    >>> d = [datetime(2025, 1, k) for k in (1, 3, 5, 9, 28)]
    >>> fb = pl.DataFrame({"feedback_id": ["f1", "f2", "f3", "f4", "f5", "f6"],
    ...     "order_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
    ...     "author_id": ["named", "a", "a", "b", "b", "c"], "target_id": ["s"] * 6,
    ...     "rating": [5, 5, 4, 5, 5, 5], "created_at": [d[0], d[1], d[2], d[1], d[4], d[2]]})
    >>> found = pl.DataFrame({"seller_id": ["s"], "raters": [["named"]],
    ...     "first_seen": [d[0]], "last_seen": [d[3]]})
    >>> window_raters(fb, found)["author_id"].unique().to_list()
    ['a']
    """
    margin = days(margin_days)
    win = found.select(
        pl.col("seller_id").alias("target_id"),
        _lo=pl.col("first_seen") - margin,
        _hi=pl.col("last_seen") + margin,
    )
    named = found.select(pl.col("seller_id").alias("target_id"), author_id="raters").explode(
        "author_id"
    )
    fb = (
        feedback.select("feedback_id", "order_id", "author_id", "target_id", "rating", "created_at")
        .join(win, on="target_id", how="inner")
        .join(named, on=["target_id", "author_id"], how="anti")
    )
    ok = (
        fb.group_by("target_id", "author_id")
        .agg(
            n=pl.len(),
            good=((pl.col("rating") >= 4) & pl.col("created_at").is_between("_lo", "_hi")).all(),
        )
        .filter((pl.col("n") >= min_ratings) & pl.col("good"))
        .select("target_id", "author_id")
    )
    return (
        fb.join(ok, on=["target_id", "author_id"], how="semi")
        .select(pl.col("target_id").alias("seller_id"), "author_id", "feedback_id", "order_id")
        .sort("seller_id", "author_id", "feedback_id")
    )


def _add_window_raters(found: pl.DataFrame, extra: pl.DataFrame) -> pl.DataFrame:
    per = extra.group_by("seller_id").agg(
        _a=pl.col("author_id").unique().sort(),
        _f=pl.col("feedback_id"),
        _o=pl.col("order_id"),
    )
    empty = pl.lit([], dtype=pl.List(pl.String))
    return (
        found.join(per, on="seller_id", how="left")
        .with_columns(
            n_window=pl.col("_a").list.len().fill_null(0).cast(pl.Int64),
            raters=pl.concat_list("raters", pl.col("_a").fill_null(empty)).list.sort(),
            feedback_ids=pl.concat_list("feedback_ids", pl.col("_f").fill_null(empty)),
            order_ids=pl.concat_list("order_ids", pl.col("_o").fill_null(empty)),
        )
        .drop("_a", "_f", "_o")
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
    paid: pl.DataFrame | None = None,
    paid_sellers: pl.DataFrame | None = None,
    orders: pl.DataFrame | None = None,
    refunded_rater_max_delay_days: float = 0.0,
    trading_stores: pl.Series | None = None,
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
        More ratings to treat as suspicious with a named rater (e.g. :func:`circle_raters`);
        ``min_suspicious`` of them flag their store, except those of circle regulars
        (reason ``circle_regular``), which only name the rater unless their store is one of
        ``trading_stores``.
    trading_stores
        Stores that trade ratings themselves (e.g. those whose ``feedback_trading`` signal
        fired, :func:`trading_signal_sellers`): the ratings of their circle regulars count
        toward flagging them too (the trade is the evidence against the store; any other
        store is flagged on its circle workers' ratings alone).
    paid
        Ratings inside a paid-rating burst (:func:`paid_burst_raters`): suspicious, with a
        named rater and the reason ``paid_burst``; they do not flag a seller on their own.
    paid_sellers
        Sellers holding a paid-rating campaign (:func:`paid_burst_sellers`: ``seller_id``,
        ``n_paid_burst``): flagged with ``min_suspicious`` suspicious ratings whatever their
        score, which is raised to 0.6 (as a trading circle's store).
    orders, refunded_rater_max_delay_days
        With ``orders`` (``order_id, paid_at``) and a positive delay, ``refunded_after``
        counts toward the ``min_weak_reasons`` that name a rater only on a rating left at
        most that many days after payment (it still counts against the seller).
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
        ``raters`` (named raters), ``first_seen``, ``last_seen``, ``n_paid_burst`` (the
        seller's paid-campaign ratings where they alone flag it, else null).
    """
    strong = pl.col("reasons").list.eval(pl.element().is_in(STRONG_REASONS)).list.any()
    alone = [r for r in STRONG_REASONS if r not in CORROBORATE_REASONS]
    strong_alone = pl.col("reasons").list.eval(pl.element().is_in(alone)).list.any()
    cols = ["feedback_id", "order_id", "author_id", "target_id", "created_at", "reasons"]
    sus = feedback.filter(pl.col("suspicious").fill_null(False))
    n_reasons = pl.col("reasons").list.len()
    if orders is not None and refunded_rater_max_delay_days > 0:
        refunded = sus.filter(pl.col("reasons").list.contains("refunded_after"))
        soon = _rated_soon_after_payment(
            refunded.select("feedback_id", "order_id", "created_at"),
            orders,
            refunded_rater_max_delay_days,
        ).get_column("feedback_id")
        late = pl.col("reasons").list.contains("refunded_after") & ~pl.col("feedback_id").is_in(
            soon.implode()
        )
        n_reasons = n_reasons - late.cast(pl.UInt32)
    sus = sus.with_columns(named=strong_alone | (n_reasons >= min_weak_reasons))
    # named rows from the rule-level namers: a trading-circle row replaces the feedback's
    # flagged row (keep "last"), a paid-burst row is added only where there is none ("first")
    for rows, reason, keep in ((extra, "trading_circle", "last"), (paid, "paid_burst", "first")):
        if rows is not None and rows.height:
            tagged = rows.select(cols).with_columns(
                reasons=pl.concat_list(pl.col("reasons"), pl.lit([reason])),
                named=pl.lit(True),
            )
            sus = pl.concat([sus.select(*cols, "named"), tagged]).unique(
                "feedback_id", keep=keep, maintain_order=False
            )
    per = (
        sus.sort("created_at", "feedback_id")
        .group_by(pl.col("target_id").alias("seller_id"))
        .agg(
            n_suspicious=pl.len().cast(pl.Int64),
            n_strong=strong.sum().cast(pl.Int64),
            # a circle regular names a rater but does not flag a store: an organic store's
            # loyal customers look the same once the store is (wrongly) in a circle
            n_circle=(
                pl.col("reasons").list.contains("trading_circle")
                & ~pl.col("reasons").list.contains("circle_regular")
            )
            .sum()
            .cast(pl.Int64),
            _n_regular=pl.col("reasons").list.contains("circle_regular").sum().cast(pl.Int64),
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
    traders = pl.col("seller_id").is_in(
        (trading_stores if trading_stores is not None else pl.Series([], dtype=pl.String))
        .cast(pl.String)
        .implode()
    )
    per = per.with_columns(
        n_circle=pl.col("n_circle") + pl.when(traders).then("_n_regular").otherwise(0)
    ).drop("_n_regular")
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
    if paid_sellers is not None and paid_sellers.height:
        flagged = flagged.join(
            paid_sellers.select("seller_id", "n_paid_burst"), on="seller_id", how="left"
        )
    else:
        flagged = flagged.with_columns(n_paid_burst=pl.lit(None, dtype=pl.Int64))
    on_paid = pl.col("n_paid_burst").is_not_null()
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
        .filter((on_score | in_circle | on_paid) & (pl.col("n_suspicious") >= min_suspicious))
        .with_columns(
            score=pl.when(in_circle | (on_paid & ~on_score))
            .then(pl.max_horizontal("score", pl.lit(circle_score)))
            .otherwise("score"),
            # kept only where the campaign is what flags the seller
            n_paid_burst=pl.when(on_paid & ~on_score & ~in_circle).then("n_paid_burst"),
        )
        .sort("seller_id")
    )


#: Key of the co-rated store pairs in the scan context (:meth:`ScanContext.shared`).
_CORATING_KEY = "FEEDBACK_MANIPULATION corating_pairs"


def _prefetch_feedback_manipulation(ctx: ScanContext, params: Mapping[str, Any]) -> None:
    """Find the co-rated store pairs during detection: they read only the buyers' ratings.

    The rating base holds the rows of the rating signals' ``feedback`` (same rows, same
    ratings), so :func:`corating_pairs` of either is the same table. Nothing is done when
    the rating signals are done already (the base is gone; the check uses them).
    """
    if not params["corating_circles"]:
        return
    base = ctx.rating_base(prefetch=True)
    if base is not None:
        ctx.shared(_CORATING_KEY, lambda: corating_pairs(base.flags))


@register(
    rule_id="FEEDBACK_MANIPULATION",
    tables=("orders", "feedback"),
    signals=("ratings",),
    optional_tables=("accounts", "refunds", "identifiers"),
    thresholds=THRESHOLDS,
    prefetch=_prefetch_feedback_manipulation,
)
def check_feedback_manipulation(ctx: ScanContext, params: Mapping[str, Any]) -> pl.DataFrame:
    """Flag sellers with manipulated ratings/DSRs and the accounts that rated for them.

    Examples
    --------
    >>> check_feedback_manipulation.signals
    ('ratings',)
    """
    sig = ctx.ratings
    pairs = sig.trading_pairs.select("seller_a", "seller_b")
    if params["corating_circles"]:
        co = ctx.shared(_CORATING_KEY, lambda: corating_pairs(sig.feedback))
        co = co.select("seller_a", "seller_b")
        pairs = pl.concat([pairs, co]).unique().sort("seller_a", "seller_b")
    circle = circle_raters(
        sig.feedback,
        pairs,
        min_sellers=int(params["circle_min_sellers"]),
        min_ratings=int(params["circle_min_ratings"]),
        max_trading_partners=int(params["max_trading_partners"]),
        expand_min_share=float(params["circle_expand_min_share"]),
        links=ctx.identity_links,
        # the sellers' ratings of their buyers (mutual trades): a lazy read, filtered to the
        # few accounts rating into a circle before anything is collected
        seller_ratings=ctx.lazy("feedback").select("author_id", "target_id", "rating"),
        mutual_min_traders=int(params["circle_mutual_min_traders"]) or None,
        mutual_rounds=int(params["circle_mutual_rounds"]),
    )
    paid_at = ctx.frame("orders", columns=["order_id", "paid_at"])
    found = manipulation_findings(
        sig.sellers,
        sig.feedback,
        min_score=float(params["min_score"]),
        min_suspicious=int(params["min_suspicious"]),
        min_weak_reasons=int(params["min_weak_reasons"]),
        extra=circle,
        max_trading_partners=int(params["max_trading_partners"]),
        require_independent_signal=bool(params["require_independent_signal"]),
        paid=paid_burst_raters(
            sig.feedback,
            sig.sellers,
            orders=paid_at,
            window_days=float(params["paid_burst_days"]),
            min_refunded=int(params["paid_burst_min_refunded"]),
            max_delay_days=float(params["paid_burst_max_delay_days"]),
        ),
        paid_sellers=paid_burst_sellers(
            sig.feedback,
            sig.sellers,
            orders=paid_at,
            min_ratings=int(params["paid_burst_min_seller_ratings"]),
            window_days=float(params["paid_burst_seller_window_days"]),
            max_delay_days=float(params["paid_burst_max_delay_days"]),
        ),
        orders=paid_at,
        refunded_rater_max_delay_days=float(params["refunded_rater_max_delay_days"]),
        trading_stores=(
            trading_signal_sellers(sig.sellers) if params["circle_regulars_flag_traders"] else None
        ),
    )
    found = _add_window_raters(
        found,
        window_raters(
            sig.feedback,
            found,
            min_ratings=int(params["window_min_ratings"]),
            margin_days=float(params["window_margin_days"]),
        ),
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
            "{} rater account(s) named ({} of them for rating it only inside the window of "
            "its suspicious ratings, {} to {}, always 4-5 stars).",
            "seller_id",
            pl.col("seller_explanation"),
            "n_suspicious",
            "n_strong",
            reasons_txt.list.join(", "),
            pl.col("raters").list.len(),
            "n_window",
            pl.col("first_seen").dt.strftime("%Y-%m-%d"),
            pl.col("last_seen").dt.strftime("%Y-%m-%d"),
        ),
        signals=pl.concat_list(
            pl.col("seller_signals"),
            pl.concat_list(
                signal(
                    "suspicious_ratings", "n_suspicious", threshold=float(params["min_suspicious"])
                ),
                signal("named_raters", pl.col("raters").list.len()),
                signal(
                    "window_raters",
                    "n_window",
                    detail=pl.lit(
                        "accounts that rated the seller only inside its manipulation window, "
                        "at least twice, always 4-5 stars"
                    ),
                ),
                signal(
                    "trading_circle_ratings",
                    "n_circle",
                    threshold=float(params["min_suspicious"]),
                    detail=pl.lit("positive ratings from accounts working for a trading circle"),
                ),
            ),
            # only where a paid-rating campaign alone flags the seller (other findings keep
            # their signals as they were)
            pl.when(pl.col("n_paid_burst").is_not_null())
            .then(
                pl.concat_list(
                    signal(
                        "paid_burst_ratings",
                        "n_paid_burst",
                        threshold=float(params["paid_burst_min_seller_ratings"]),
                        detail=pl.lit(
                            "refunded top ratings with perfect DSRs left at most "
                            f"{float(params['paid_burst_max_delay_days']):g} days after "
                            f"payment, {int(params['paid_burst_min_seller_ratings'])} of them "
                            f"within {float(params['paid_burst_seller_window_days']):g} days"
                        ),
                    )
                )
            )
            .otherwise(pl.lit([], dtype=pl.List(SIGNAL))),
        ),
    )
