"""Feedback trading: reciprocal top ratings between accounts tied to different sellers.

An account is *tied* to a seller when it is the seller itself, is
identity-linked to the seller, or (optionally) is a member of a detected group
that contains the seller. A top rating from an account tied to seller A to a
different seller B is a *cross rating* A -> B. Sellers A and B *trade* when
there are cross ratings in both directions; each trading pair of accounts
(``account_a`` tied to A rated B, ``account_b`` tied to B rated A) is one row of
the output, with the feedback ids of both directions as evidence.

Examples
--------
>>> import polars as pl
>>> fb = pl.DataFrame({"feedback_id": ["f1", "f2"], "author_id": ["A", "B"],
...                    "target_id": ["B", "A"], "positive": [True, True]})
>>> ties = seller_ties(pl.Series(["A", "B"]))
>>> trading_pairs(fb.lazy(), ties).collect()["n_feedback"].to_list()
[2]
"""

from __future__ import annotations

import polars as pl

__all__ = [
    "TRADING_SCHEMA",
    "corating_pairs",
    "ring_group_members",
    "seller_ties",
    "trading_pairs",
]

TRADING_SCHEMA: dict[str, pl.DataType] = {
    "account_a": pl.String(),
    "account_b": pl.String(),
    "seller_a": pl.String(),
    "seller_b": pl.String(),
    "n_feedback": pl.Int64(),
    "feedback_ids": pl.List(pl.String),
}


def ring_group_members(
    group_members: pl.DataFrame,
    groups: pl.DataFrame,
    *,
    min_score: float,
    sellers: pl.Series,
    ratings: pl.LazyFrame | None = None,
    circle_min_sellers: int = 2,
    circle_min_perfect_share: float = 0.75,
    circle_min_ratings: int = 3,
    young_min_score: float | None = None,
) -> pl.DataFrame:
    """Members of the detected groups that count as rings of their sellers.

    A group counts when it scores at least ``min_score``, or when it holds a seller
    that a group scoring at least ``min_score`` also holds: group detection reports
    every candidate, and a weak candidate (a small store and a few regulars) is
    evidence only around a store that a ring-scored group already implicates (the
    camouflaged ring accounts that a second, weaker group finds around that store).
    With ``ratings``, a weak group spanning at least ``circle_min_sellers`` stores
    also counts when its buyers' ratings of those stores (at least
    ``circle_min_ratings``) are nearly all perfect 5/5/5 DSR triples
    (``circle_min_perfect_share``): the shape of a trading circle, which detection
    finds as one group of a few stores and their accounts but scores low. With
    ``young_min_score`` and a ``signals`` column in ``groups``, a group whose
    ``young_stores`` signal fired (every seller made its first sale within
    ``young_store_days`` of registering, :data:`graphkit.detect.rings.SIGNAL_WEIGHTS`)
    counts on its own from that lower score: building a new store's reputation is what
    rings are for.

    Parameters
    ----------
    group_members
        ``group_id, account_id[, ...]`` of the detected groups.
    groups
        ``group_id, score[, signals]`` of the detected groups.
    min_score
        Score from which a group counts on its own.
    sellers
        The seller account ids (which members are stores).
    ratings
        Buyer feedback ``author_id, target_id, perfect_dsr`` (optional).
    circle_min_sellers, circle_min_perfect_share, circle_min_ratings
        When a weak group counts as a trading circle (see above).
    young_min_score
        Score from which a group around young stores counts on its own (None: no such
        exception).

    Returns
    -------
    pl.DataFrame
        The rows of ``group_members`` that count, in their input order.

    Examples
    --------
    >>> m = pl.DataFrame({"group_id": ["g1", "g1", "g2", "g2", "g3", "g3"],
    ...                   "account_id": ["s", "a", "s", "b", "t", "c"]})
    >>> g = pl.DataFrame({"group_id": ["g1", "g2", "g3"], "score": [0.8, 0.4, 0.4]})
    >>> ring_group_members(m, g, min_score=0.5, sellers=pl.Series(["s", "t"]))[
    ...     "account_id"].to_list()
    ['s', 'a', 's', 'b']
    """
    gm = group_members.with_columns(pl.col("group_id").cast(pl.String))
    key = gm.select("group_id", pl.col("account_id").cast(pl.String))
    ring = pl.col("score") >= min_score
    if young_min_score is not None and "signals" in groups.columns:
        fired = pl.element().struct.field("value") <= pl.element().struct.field("threshold")
        young = (
            pl.col("signals")
            .list.eval(
                ((pl.element().struct.field("name") == "young_stores") & fired).fill_null(False)
            )
            .list.any()
        )
        ring = ring | ((pl.col("score") >= young_min_score) & young)
    scores = groups.select(pl.col("group_id").cast(pl.String), ring=ring)
    store = pl.DataFrame({"account_id": sellers.cast(pl.String)}).unique()
    primary = [scores.filter("ring").select("group_id")]
    weak = key.join(primary[0], on="group_id", how="anti")
    if ratings is not None:
        primary.append(
            _circle_groups(
                weak,
                store,
                ratings,
                min_sellers=circle_min_sellers,
                min_perfect_share=circle_min_perfect_share,
                min_ratings=circle_min_ratings,
            )
        )
    counted = pl.concat(primary).unique()
    implicated = (  # stores of ring-scored groups (circle groups do not implicate further)
        key.join(primary[0], on="group_id", how="semi")
        .join(store, on="account_id", how="semi")
        .select("account_id")
        .unique()
    )
    corroborated = weak.join(implicated, on="account_id", how="semi").select("group_id")
    kept = pl.concat([counted, corroborated]).unique()
    return gm.join(kept, on="group_id", how="semi", maintain_order="left")


def _circle_groups(
    weak: pl.DataFrame,
    store: pl.DataFrame,
    ratings: pl.LazyFrame,
    *,
    min_sellers: int,
    min_perfect_share: float,
    min_ratings: int,
) -> pl.DataFrame:
    """Weak groups of several stores whose buyers rate those stores with perfect DSRs."""
    weak_sellers = weak.join(store, on="account_id", how="semi")
    multi = (
        weak_sellers.group_by("group_id")
        .len()
        .filter(pl.col("len") >= min_sellers)
        .select("group_id")
    )
    buyers = weak.join(multi, on="group_id", how="semi").join(store, on="account_id", how="anti")
    return (
        ratings.select(
            pl.col("author_id").cast(pl.String),
            pl.col("target_id").cast(pl.String),
            pl.col("perfect_dsr"),
        )
        .join(buyers.lazy().rename({"account_id": "author_id"}), on="author_id")
        .join(
            weak_sellers.lazy().rename({"account_id": "target_id"}),
            on=["group_id", "target_id"],
        )
        .filter(pl.col("perfect_dsr").is_not_null())
        .group_by("group_id")
        .agg(n=pl.len(), share=pl.col("perfect_dsr").mean())
        .filter((pl.col("n") >= min_ratings) & (pl.col("share") >= min_perfect_share))
        .select("group_id")
        .collect()
    )


def seller_ties(
    sellers: pl.Series,
    *,
    identity_links: pl.DataFrame | None = None,
    group_members: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """Which accounts are tied to which seller.

    Parameters
    ----------
    sellers
        The seller account ids.
    identity_links
        ``account_a, account_b`` identity links; an account linked to a seller is tied to it.
    group_members
        ``group_id, account_id``; every member of a group containing a seller is tied to it.

    Returns
    -------
    pl.LazyFrame
        ``account_id, seller_id`` (unique), always including each seller tied to itself.

    Examples
    --------
    >>> seller_ties(pl.Series(["s1"])).collect().rows()
    [('s1', 's1')]
    """
    s = pl.LazyFrame({"seller_id": sellers.cast(pl.String)}).unique()
    parts = [s.select(pl.col("seller_id").alias("account_id"), "seller_id")]
    if identity_links is not None:
        links = identity_links.lazy().select(pl.col("account_a", "account_b").cast(pl.String))
        for a, b in (("account_a", "account_b"), ("account_b", "account_a")):
            parts.append(
                links.join(s, left_on=b, right_on="seller_id", how="semi").select(
                    pl.col(a).alias("account_id"), pl.col(b).alias("seller_id")
                )
            )
    if group_members is not None:
        gm = group_members.lazy().select(pl.col("group_id", "account_id").cast(pl.String))
        seller_groups = gm.join(s, left_on="account_id", right_on="seller_id", how="semi").select(
            "group_id", pl.col("account_id").alias("seller_id")
        )
        parts.append(gm.join(seller_groups, on="group_id").select("account_id", "seller_id"))
    return pl.concat(parts).unique()


def trading_pairs(
    fb: pl.LazyFrame, ties: pl.LazyFrame, *, min_per_direction: int = 1
) -> pl.LazyFrame:
    """Find reciprocal positive ratings between the sides of two different sellers.

    Parameters
    ----------
    fb
        Buyer -> seller feedback with ``feedback_id, author_id, target_id`` and
        the boolean ``positive``.
    ties
        Output of :func:`seller_ties`.
    min_per_direction
        Cross ratings needed in each direction for a pair of accounts.

    Returns
    -------
    pl.LazyFrame
        :data:`TRADING_SCHEMA` columns, one row per trading pair of accounts,
        oriented so that ``seller_a < seller_b``,
        sorted; ``feedback_ids`` sorted.

    Examples
    --------
    >>> pairs = trading_pairs(flagged, seller_ties(sellers))  # doctest: +SKIP
    """
    cross = (
        fb.filter(pl.col("positive"))
        .select("feedback_id", "author_id", "target_id")
        .join(ties, left_on="author_id", right_on="account_id")
        .filter(pl.col("seller_id") != pl.col("target_id"))
        .group_by(
            pl.col("seller_id").alias("from_seller"),
            pl.col("target_id").alias("to_seller"),
            "author_id",
        )
        .agg(pl.col("feedback_id").unique().sort())
        .filter(pl.col("feedback_id").list.len() >= min_per_direction)
    )
    a = cross.select(
        pl.col("from_seller").alias("seller_a"),
        pl.col("to_seller").alias("seller_b"),
        pl.col("author_id").alias("account_a"),
        pl.col("feedback_id").alias("ids_a"),
    )
    b = cross.select(
        pl.col("to_seller").alias("seller_a"),
        pl.col("from_seller").alias("seller_b"),
        pl.col("author_id").alias("account_b"),
        pl.col("feedback_id").alias("ids_b"),
    )
    return (
        a.join(b, on=["seller_a", "seller_b"])
        .filter(pl.col("seller_a") < pl.col("seller_b"))
        .select(
            "account_a",
            "account_b",
            "seller_a",
            "seller_b",
            (pl.col("ids_a").list.len() + pl.col("ids_b").list.len())
            .cast(pl.Int64)
            .alias("n_feedback"),
            pl.concat_list("ids_a", "ids_b").list.unique().list.sort().alias("feedback_ids"),
        )
        .sort("seller_a", "seller_b", "account_a", "account_b")
    )


def corating_pairs(
    fb: pl.DataFrame | pl.LazyFrame,
    *,
    min_shared: int = 3,
    min_share: float = 0.05,
    min_worker_share: float = 0.5,
    max_stores_per_rater: int = 10,
    store_quantile: float = 0.95,
    min_lift: float = 10.0,
    min_perfect_share: float = 0.5,
) -> pl.DataFrame:
    """Pairs of small stores rated by the same dedicated accounts: a circle seen without ties.

    A trading circle whose accounts share no identifier with their store and that group
    detection does not report has no tie for :func:`trading_pairs` to follow; what is left
    is the rating graph itself: the circle's accounts rate two or more of its stores and
    little else. Stores A and B are *co-rated* when at least ``min_shared`` accounts gave
    both positive ratings (4-5 stars) *and* gave the pair at least ``min_worker_share`` of
    all their positive ratings, and those accounts are at least ``min_share`` of the larger
    store's raters. Stores above the ``store_quantile`` of raters per store are left out (a
    store rated by everyone shares raters with every store), and so are raters of more than
    ``max_stores_per_rater`` such stores.

    Thresholds: 3 shared accounts (the ``min_flagged`` of the rating signals); half of the
    account's positive ratings (an honest buyer who happened on both stores rates other
    stores too); 5% of the larger store's raters; and at least ``min_lift`` = 10 times the
    raters the two stores would share by chance (``n_a * n_b / raters in the market``): in a
    small market, buyers with two or three ratings give any pair of their stores half of them,
    and without this lift a 3,000-order simulated market had 190 false co-rated circle accounts
    (none with it). In the simulated development and seen runs (20k and 100k orders, 15 runs)
    every pair found this way was a planted circle's, with and without the lift. Last, at least
    ``min_perfect_share`` of those accounts' positive ratings of the pair that carry DSRs must
    be a perfect 5/5/5 triple (a traded rating is there to lift the stores' DSRs; honest
    regulars of two stores rate each aspect on its merits): in 8 simulated 20k-1M runs the 62
    planted co-rated pairs had 0.64-1.00, the one organic pair 0.22. Ratings without DSRs (or
    ``fb`` without a ``perfect_dsr`` column) leave this test out.

    Parameters
    ----------
    fb
        Buyer -> seller feedback with ``author_id, target_id, rating`` and optionally
        ``perfect_dsr`` (true / false, null when the rating has no DSRs).
    min_shared, min_share, min_worker_share, max_stores_per_rater, store_quantile, min_lift,
    min_perfect_share
        See above.

    Returns
    -------
    pl.DataFrame
        ``seller_a, seller_b, n_shared, share`` (``seller_a < seller_b``), sorted.

    Examples
    --------
    >>> fb = pl.DataFrame({"author_id": ["a", "a", "b", "b", "c", "c", "d"],
    ...     "target_id": ["A", "B", "A", "B", "A", "B", "A"], "rating": [5] * 7})
    >>> corating_pairs(fb, min_lift=0.0).rows()  # a market of 4 raters: chance, by default
    [('A', 'B', 3, 0.75)]
    """
    lf = fb.lazy()
    has_dsr = "perfect_dsr" in lf.collect_schema().names()
    dsr = pl.col("perfect_dsr") if has_dsr else pl.lit(None, dtype=pl.Boolean)
    pos = lf.filter(pl.col("rating") >= 4).select(
        pl.col("author_id", "target_id").cast(pl.String), _perfect=dsr
    )
    given = pos.group_by("author_id").agg(n_given=pl.len())
    per = (
        pos.group_by("author_id", "target_id")
        .agg(
            c=pl.len(),
            # perfect-DSR ratings, and ratings with DSRs at all
            p=pl.col("_perfect").sum().cast(pl.UInt32),
            d=pl.col("_perfect").count().cast(pl.UInt32),
        )
        .collect()
    )
    raters = per.group_by("target_id").agg(n_raters=pl.len())
    if raters.height == 0:
        return pl.DataFrame(
            schema={
                "seller_a": pl.String,
                "seller_b": pl.String,
                "n_shared": pl.Int64,
                "share": pl.Float64,
            }
        )
    cap = raters["n_raters"].quantile(store_quantile, "higher")
    n_raters_total = max(per.get_column("author_id").n_unique(), 1)
    small = raters.filter(pl.col("n_raters") <= cap).select("target_id")
    p = (
        per.lazy()
        .join(small.lazy(), on="target_id", how="semi")
        .join(given, on="author_id")
        .with_columns(k=pl.len().over("author_id"))
        .filter((pl.col("k") >= 2) & (pl.col("k") <= max_stores_per_rater))
    )
    # a pair holding half of the account's ratings has one store with a quarter of them:
    # anchor the self-join on those rows (a few per account) instead of every pair
    anchor = p.filter(pl.col("c") >= 0.5 * min_worker_share * pl.col("n_given"))
    pairs = (
        anchor.select("author_id", "n_given", a="target_id", c_a="c", p_a="p", d_a="d")
        .join(p.select("author_id", b="target_id", c_b="c", p_b="p", d_b="d"), on="author_id")
        .filter(pl.col("a") != pl.col("b"))
        .filter(pl.col("c_a") + pl.col("c_b") >= min_worker_share * pl.col("n_given"))
        .select(
            "author_id",
            seller_a=pl.min_horizontal("a", "b"),
            seller_b=pl.max_horizontal("a", "b"),
            _p=pl.col("p_a") + pl.col("p_b"),
            _d=pl.col("d_a") + pl.col("d_b"),
        )
        .unique()
        .group_by("seller_a", "seller_b")
        .agg(n_shared=pl.len().cast(pl.Int64), _p=pl.col("_p").sum(), _d=pl.col("_d").sum())
        .filter(
            (pl.col("n_shared") >= min_shared)
            & ((pl.col("_d") == 0) | (pl.col("_p") >= min_perfect_share * pl.col("_d")))
        )
        .join(raters.lazy().rename({"target_id": "seller_a", "n_raters": "_na"}), on="seller_a")
        .join(raters.lazy().rename({"target_id": "seller_b", "n_raters": "_nb"}), on="seller_b")
        .with_columns(
            share=pl.col("n_shared") / pl.max_horizontal("_na", "_nb"),
            # raters the two stores would share by chance, each rater picking stores at random
            _expected=pl.col("_na").cast(pl.Float64) * pl.col("_nb") / n_raters_total,
        )
        .filter(
            (pl.col("share") >= min_share) & (pl.col("n_shared") >= min_lift * pl.col("_expected"))
        )
        .select("seller_a", "seller_b", "n_shared", "share")
        .sort("seller_a", "seller_b")
    )
    return pairs.collect()
