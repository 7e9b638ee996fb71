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

__all__ = ["TRADING_SCHEMA", "ring_group_members", "seller_ties", "trading_pairs"]

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
    finds as one group of a few stores and their accounts but scores low.

    Parameters
    ----------
    group_members
        ``group_id, account_id[, ...]`` of the detected groups.
    groups
        ``group_id, score`` of the detected groups.
    min_score
        Score from which a group counts on its own.
    sellers
        The seller account ids (which members are stores).
    ratings
        Buyer feedback ``author_id, target_id, perfect_dsr`` (optional).
    circle_min_sellers, circle_min_perfect_share, circle_min_ratings
        When a weak group counts as a trading circle (see above).

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
    scores = groups.select(pl.col("group_id").cast(pl.String), "score")
    store = pl.DataFrame({"account_id": sellers.cast(pl.String)}).unique()
    primary = [scores.filter(pl.col("score") >= min_score).select("group_id")]
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
