"""``SHILL_PURCHASE``: purchases made to lift a seller's ranking, by rings or its own circle.

Evidence is gathered per buyer–seller *pair* (a function of the rows of that
pair, its buyer and its seller):

- ``repeat``: the buyer ordered from the seller at least ``min_pair_orders`` times;
- ``concentrated``: the seller has most of the buyer's orders, and far more of them
  than its share of the whole market (``concentration_lift``): a buyer who orders
  mostly from a store that holds most of the market is ordinary;
- ``new_account``: the buyer registered shortly before its first order there;
- ``small_amounts``: the buyer's orders are far below the seller's usual amount;
- ``top_ratings``: the buyer rated the seller top (5 stars) nearly every time;
- ``repeat_top_ratings``: ... and did so on at least ``repeat_top_orders`` orders (buying
  and top-rating the same store again and again is what camouflaged ring accounts do
  between their honest-looking purchases);
- ``linked_to_seller``: the buyer shares identifiers with the seller (family, friends,
  employees: the policy names them);
- ``linked_to_cobuyer``: the buyer shares identifiers with another suspicious buyer of
  the same seller (one operator behind several accounts);
- ``same_group``: group detection put buyer and seller in the same ring.

A pair is suspicious when it is a repeat pair and its evidence points reach
``min_points``; a seller is flagged when enough of its buyers are suspicious
(a ring) and at least one of them carries evidence independent of repeat buying
(:data:`INDEPENDENT_EVIDENCE`: a new account, cheap orders, an identity link;
concentration, top ratings and a detected group all restate "loyal regulars"),
or when a suspicious buyer is linked to the seller itself. A ring none of whose
suspicious buyers shares an identifier with the seller or with another of them
(behaviour only) needs more: four such buyers, or two buying cheap, or three who
top-rated the store on three or more orders while one of them buys mostly
elsewhere (a new account's first orders are concentrated by construction, so three
new regulars of a small store rating it top are what chance gives a large market).

Once a ring is found, its *window* (first to last order of its suspicious buyers)
names more buyers (``ring_window``, :func:`ring_window_buyers`): a repeat buyer of the
ring's store whose orders there all fall inside the window and who rated every one of
them positively, at least ``ring_window_min_ratings`` times. Camouflaged ring accounts
spread most of their orders over popular stores, so their pair with the ring store has
too few points on its own; the honest repeat buyers of a ring store in the simulated
development runs bought outside the ring's window or did not rate.

Examples
--------
>>> from graphkit.policy.shill import EVIDENCE_POINTS
>>> EVIDENCE_POINTS["linked_to_seller"]
2
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from graphkit.detect.rating_trading import ring_group_members
from graphkit.policy.context import ScanContext
from graphkit.policy.registry import Threshold, days, escalate, evidence, register, signal

if TYPE_CHECKING:
    from graphkit.graph.build import MarketGraph

__all__ = [
    "EVIDENCE_POINTS",
    "INDEPENDENT_EVIDENCE",
    "PairBase",
    "check_shill_purchase",
    "graph_pair_base",
    "pair_base",
    "pair_evidence",
    "ring_window_buyers",
    "shill_sellers",
]

#: Points each piece of pair evidence adds (identity and detected rings weigh double).
EVIDENCE_POINTS: dict[str, int] = {
    "concentrated": 1,
    "new_account": 1,
    "small_amounts": 1,
    "top_ratings": 1,
    "repeat_top_ratings": 2,
    "linked_to_seller": 2,
    "linked_to_cobuyer": 1,
    "same_group": 2,
}

#: Pair evidence that does not follow from repeat buying itself (the rest, concentration,
#: top ratings and detected groups, is what a small store's loyal regulars show too).
INDEPENDENT_EVIDENCE = ("new_account", "small_amounts", "linked_to_seller", "linked_to_cobuyer")

THRESHOLDS = (
    Threshold("min_pair_orders", 2, "one purchase does not move a ranking; shills buy repeatedly"),
    Threshold(
        "concentration",
        0.5,
        "at least half of the buyer's orders go to this seller (honest buyers spread out)",
    ),
    Threshold(
        "concentration_lift",
        3.0,
        "the buyer's share of orders at the seller is at least 3x the seller's share of all "
        "orders (what a buyer ordering in proportion to the market would place there)",
    ),
    Threshold(
        "min_group_score",
        0.5,
        "same_group counts only for detected groups scoring at least 0.5 (or weaker ones around "
        "a store such a group holds): detection reports every candidate from 0.3, and the weak "
        "ones are mostly a small store with a few regulars (simulated 1M seed 0: 41 of the 43 "
        "stores flagged only through such groups were organic, 2 paid-rating stores)",
    ),
    Threshold(
        "young_store_group_min_score",
        0.4,
        "... or, for a group whose stores all made their first sale within the detection's "
        "young_store_days (90) of registering, at least 0.4: building a new store's reputation "
        "is what rings are for (simulated 100k seed 14: a camouflaged ring around a 27-day-old "
        "store scored 0.40; 0.4 for every group named 4 organic accounts at 1M seed 0)",
    ),
    Threshold(
        "new_account_days",
        45.0,
        "accounts opened for a ring start buying within weeks of registering",
    ),
    Threshold(
        "small_amount_ratio",
        0.6,
        "shill orders are cheap: the pair's median amount under 60% of the seller's median",
    ),
    Threshold("top_share", 0.8, "nearly every rating the buyer gave the seller is 5 stars"),
    Threshold(
        "repeat_top_orders",
        3,
        "three top-rated orders at one store: a habit, which the seller-level share then "
        "separates from a popular store's loyal customers",
    ),
    Threshold(
        "min_points",
        3,
        "three independent pieces of evidence (e.g. new + cheap + top rated) on a repeat pair",
    ),
    Threshold(
        "min_ring_buyers",
        3,
        "a ring is at least three suspicious buyers of one seller",
    ),
    Threshold(
        "min_ring_share",
        0.05,
        "suspicious buyers are at least 5% of the seller's buyers (a popular store always "
        "has a few odd buyers)",
    ),
    Threshold(
        "min_independent_buyers",
        1,
        "a ring needs at least one buyer with evidence independent of repeat buying (new "
        "account, cheap orders, identity link): a small store's regulars are concentrated, "
        "rate it top and may be grouped by detection, without being shills",
    ),
    Threshold(
        "min_independent_share",
        0.25,
        "... and at least a quarter of the suspicious buyers carry such evidence: among a "
        "big store's hundreds of repeat top-raters a few are new or bargain buyers by chance",
    ),
    Threshold(
        "min_untied_ring_buyers",
        4,
        "a ring none of whose suspicious buyers shares an identifier with the seller or with "
        "another of them (behaviour only) needs 4 suspicious buyers, or ...: a new account's "
        "first orders are concentrated by construction, so three new regulars of a small "
        "store rating it top are what chance gives a few of the thousands of small stores of "
        "a large market (simulated 1M seeds 0-2: all 13 rings flagged on organic stores had "
        "3 buyers and no identity tie)",
    ),
    Threshold(
        "min_untied_cheap_buyers",
        2,
        "... 2 suspicious buyers placing cheap orders (small_amounts): a shill's purchase only "
        "has to exist, a regular pays the store's usual prices (the organic 3-buyer rings "
        "above had at most 1 such buyer)",
    ),
    Threshold(
        "min_untied_repeat_top_buyers",
        3,
        "... or 3 suspicious buyers who top-rated the store on 3+ orders each (repeat top "
        "ratings), at least one of them buying mostly elsewhere (not concentrated): the "
        "camouflaged ring's pattern, where a small store's regulars buy mostly there "
        "(simulated 10M: 2 camouflaged rings of 3 untied buyers, 1 cheap, found only so)",
    ),
    Threshold(
        "max_untied_window_days",
        120.0,
        "... and, for any of these untied routes, its suspicious buyers' orders at the store "
        "span at most 120 days: a ranking campaign buys within weeks to a few months, while "
        "untied regulars spread over half a year are the store's customer base (simulated "
        "100k seed 7: an organic store's 161-day 'ring')",
    ),
    Threshold(
        "max_coupon_share",
        0.5,
        "purchases made mostly with coupons are coupon self-dealing (COUPON_ABUSE), not "
        "ranking purchases",
    ),
    Threshold(
        "skip_trading_sellers",
        True,
        "a seller in a feedback-trading circle is reported under FEEDBACK_MANIPULATION, "
        "where the reciprocal ratings are the evidence (one finding per conduct)",
    ),
    Threshold(
        "ring_window_min_ratings",
        2,
        "a repeat buyer of a ring's store joins the ring when every order there falls in the "
        "ring's window and was rated positively, at least twice (one good rating is what any "
        "customer gives; the honest repeat buyers of ring stores in the simulated development "
        "runs bought outside the window or did not rate)",
    ),
    Threshold(
        "ring_window_margin_days",
        7.0,
        "the ring's window (estimated from its suspicious buyers' orders) is widened by a week "
        "each side: other ring accounts' orders fell 0-2 days outside it in the simulated "
        "development runs, honest repeat buyers' orders 26 days or more",
    ),
    Threshold(
        "suspend_points",
        7,
        "behaviour alone tops out at 6 points; suspension without a buyer linked to the "
        "seller needs identity links among the buyers or a detected ring on top",
    ),
)


@dataclass(frozen=True)
class PairBase:
    """The part of :func:`pair_evidence` that needs no detection result.

    Parameters
    ----------
    pairs
        One row per repeat pair: counts and the behaviour evidence columns
        (``concentrated``, ``new_account``, ``small_amounts``, ``top_ratings``,
        ``repeat_top_ratings``), in no particular order.
    sellers
        Every seller with at least one order (distinct).
    """

    pairs: pl.DataFrame
    sellers: pl.Series


def pair_base(
    orders: pl.LazyFrame,
    feedback: pl.LazyFrame,
    *,
    accounts: pl.LazyFrame | None = None,
    params: Mapping[str, Any],
) -> PairBase:
    """Return the behaviour evidence of every repeat buyer–seller pair (:class:`PairBase`).

    Everything of :func:`pair_evidence` that reads only the tables: the tables' market
    graph (:func:`graphkit.graph.build.build_market_graph`) summed up by
    :func:`graph_pair_base`. A scan builds the graph once for group detection and this
    check; :func:`pair_evidence` adds the identity links and detected groups (``base=``).

    Parameters
    ----------
    orders, feedback, accounts, params
        As for :func:`pair_evidence`.

    Raises
    ------
    DataContractError
        Listing every required contract column missing from the tables.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from graphkit.contract import DSR_COLUMNS
    >>> t = [datetime(2025, 1, d, tzinfo=UTC) for d in (1, 2)]
    >>> o = pl.LazyFrame({"order_id": ["o1", "o2"], "buyer_id": ["b", "b"],
    ...     "seller_id": ["s", "s"], "amount": [5.0, 5.0], "created_at": t, "paid_at": t})
    >>> f = pl.LazyFrame({"feedback_id": ["f1"], "order_id": ["o1"], "author_id": ["b"],
    ...     "target_id": ["s"], "rating": [5], **{c: [5] for c in DSR_COLUMNS},
    ...     "created_at": t[1:]})
    >>> from graphkit.policy.registry import get_check
    >>> base = pair_base(o, f, params=get_check("SHILL_PURCHASE").defaults())
    >>> base.pairs["n_orders"].to_list(), base.sellers.to_list()
    ([2], ['s'])
    """
    from graphkit.dataset import Dataset
    from graphkit.graph.build import build_market_graph
    from graphkit.validation import require_columns

    tables = {"orders": orders, "feedback": feedback}
    if accounts is not None:
        tables["accounts"] = accounts
    require_columns(tables)
    # (the market graph does not read as_of)
    ds = Dataset(tables, as_of=datetime(1970, 1, 1, tzinfo=UTC))
    return graph_pair_base(build_market_graph(ds), params=params)


def graph_pair_base(mg: MarketGraph, *, params: Mapping[str, Any]) -> PairBase:
    """Return :func:`pair_base` from a market graph built by ``build_market_graph``.

    Integer work on the graph's edges (one per pair: orders, first and last order, the
    buyer's ratings on the pair's orders) and its coded orders (amounts and coupons, one
    contiguous run per edge): no pass over the id strings. At 10M orders this replaces a
    string group-by of every order (twice, for memory), a median pass and a feedback join.

    Parameters
    ----------
    mg
        A :class:`~graphkit.graph.build.MarketGraph` with its coded ``orders``.
    params
        The check's thresholds.

    Examples
    --------
    >>> base = graph_pair_base(build_market_graph(ds), params=params)  # doctest: +SKIP
    """
    if mg.orders is None:
        raise ValueError("graph_pair_base needs the coded orders of build_market_graph")
    e = mg.edges
    n = e["n_orders"].to_numpy()
    edge = np.repeat(np.arange(len(n), dtype=np.int64), n)
    # per pair, over its orders (a run of the coded orders): the least and greatest amount,
    # the coupon share; the median only where it is neither (three orders or more), as
    # polars computes it for two: min + (max - min) / 2
    per = (
        mg.orders.select("amount", "coupon")
        .with_columns(_edge=pl.Series(edge).set_sorted())
        .group_by("_edge", maintain_order=True)
        .agg(
            one_amount=pl.col("amount").min(),
            max_amount=pl.col("amount").max(),
            coupon_share=pl.col("coupon").mean(),
        )
    )
    three = np.repeat(n >= 3, n)
    medians = (
        mg.orders.select("amount")
        .filter(pl.Series(three))
        .with_columns(_edge=pl.Series(edge[three]).set_sorted())
        .group_by("_edge", maintain_order=True)
        .agg(_median=pl.col("amount").median())
    )
    del edge, three
    count = pl.col("n_orders")
    edges = e.select(
        "buyer_vid",
        "seller_vid",
        "buyer_id",
        "seller_id",
        "n_orders",
        first_order="first_at",
        last_order="last_at",
        n_feedback="n_feedback",
        n_top="n_top_ratings",
        n_positive="n_positive_ratings",
    ).with_row_index("_edge")
    pairs = (
        pl.concat([edges, per.drop("_edge")], how="horizontal")
        .with_columns(pl.col("_edge").cast(pl.Int64))
        .join(medians, on="_edge", how="left")
        .with_columns(
            pair_median=pl.when(count == 1)
            .then(pl.col("one_amount"))
            .when(count == 2)
            .then(pl.col("one_amount") + (pl.col("max_amount") - pl.col("one_amount")) * 0.5)
            .otherwise(pl.col("_median"))
        )
    )
    # per seller, over all its pairs: its share of all orders (the concentration a buyer
    # would show by chance) and its usual amount, the median over its *buyers* (each
    # buyer's median), so that a ring placing many cheap orders does not drag it down
    sellers = (
        pairs.lazy()
        .group_by("seller_vid")
        .agg(
            seller_orders=count.sum(),
            seller_median=pl.col("pair_median").median(),
            seller_buyers=pl.len().cast(pl.Int64),
        )
        .with_columns(market_share=pl.col("seller_orders") / pl.col("seller_orders").sum())
        .drop("seller_orders")
    )
    buyer_tot = pairs.lazy().group_by("buyer_vid").agg(buyer_orders=count.sum())
    created = mg.vertices.select(buyer_vid="vid", buyer_created="created_at").lazy()
    df = (
        pairs.lazy()
        .filter(
            (count >= int(params["min_pair_orders"]))
            & (pl.col("coupon_share") < float(params["max_coupon_share"]))
        )
        .join(sellers, on="seller_vid", how="left")
        .join(buyer_tot, on="buyer_vid", how="left")
        .join(created, on="buyer_vid", how="left")
        .with_columns(
            order_share=count / pl.col("buyer_orders"),
            amount_ratio=pl.when(pl.col("seller_median") > 0)
            .then(pl.col("pair_median") / pl.col("seller_median"))
            .otherwise(None),
            age_days=(pl.col("first_order") - pl.col("buyer_created")).dt.total_seconds() / 86400.0,
        )
        .with_columns(
            concentrated=(pl.col("order_share") >= float(params["concentration"]))
            & (
                pl.col("order_share")
                >= float(params["concentration_lift"]) * pl.col("market_share")
            ),
            new_account=(pl.col("age_days") <= float(params["new_account_days"])).fill_null(False),
            small_amounts=(pl.col("amount_ratio") <= float(params["small_amount_ratio"])).fill_null(
                False
            ),
            top_ratings=(pl.col("n_feedback") > 0)
            & (pl.col("n_top") >= float(params["top_share"]) * pl.col("n_feedback")),
        )
        .with_columns(
            repeat_top_ratings=pl.col("top_ratings")
            & (pl.col("n_top") >= int(params["repeat_top_orders"]))
        )
        .select(_PAIR_COLUMNS)
    )
    sold = np.zeros(mg.vertices.height, dtype=bool)
    sold[e["seller_vid"].to_numpy()] = True
    return PairBase(
        df.collect(), mg.vertices["account_id"].filter(pl.Series(sold)).alias("seller_id")
    )


#: The columns of :attr:`PairBase.pairs`, in order.
_PAIR_COLUMNS = [
    "buyer_id",
    "seller_id",
    "n_orders",
    "pair_median",
    "first_order",
    "last_order",
    "coupon_share",
    "seller_median",
    "seller_buyers",
    "market_share",
    "buyer_orders",
    "n_feedback",
    "n_top",
    "n_positive",
    "buyer_created",
    "order_share",
    "amount_ratio",
    "age_days",
    "concentrated",
    "new_account",
    "small_amounts",
    "top_ratings",
    "repeat_top_ratings",
]


def pair_evidence(
    orders: pl.LazyFrame,
    feedback: pl.LazyFrame,
    *,
    accounts: pl.LazyFrame | None = None,
    links: pl.DataFrame | None = None,
    members: pl.DataFrame | None = None,
    groups: pl.DataFrame | None = None,
    params: Mapping[str, Any],
    evidence_ids: bool = True,
    base: PairBase | None = None,
) -> pl.DataFrame:
    """Return the evidence of every repeat buyer–seller pair.

    Parameters
    ----------
    orders, feedback
        The dataset's tables, with the contract's columns (their market graph,
        :func:`~graphkit.graph.build.build_market_graph`, reads the orders' ``paid_at``
        and the feedback's ``order_id`` and DSRs).
    accounts
        For account ages (``new_account`` is false without it).
    links
        Identity links ``account_a, account_b, kinds, weight`` (optional).
    members
        Detected group members ``group_id, account_id`` (optional).
    groups
        Detected groups ``group_id, score`` (optional): when given, only members of groups
        scoring at least ``min_group_score``, or of weaker groups around a store that such a
        group holds, count for ``same_group``
        (:func:`graphkit.detect.rating_trading.ring_group_members`).
    params
        The check's thresholds.
    evidence_ids
        Add ``order_ids`` and ``feedback_ids`` (sorted) of the suspicious pairs (empty lists
        for the others). The check itself gathers them later, for the flagged sellers' pairs
        only (two passes over orders and feedback instead of four).
    base
        :func:`pair_base` of the same tables and ``params``, when computed already (a scan
        computes it while group detection runs); computed here when ``None``.

    Returns
    -------
    DataFrame
        One row per pair with at least ``min_pair_orders`` orders: counts, the boolean
        evidence columns of :data:`EVIDENCE_POINTS`, ``points`` and ``suspicious``, sorted by
        seller and buyer.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from graphkit.contract import DSR_COLUMNS
    >>> t = [datetime(2025, 1, d, tzinfo=UTC) for d in (1, 2)]
    >>> o = pl.LazyFrame({"order_id": ["o1", "o2"], "buyer_id": ["b", "b"],
    ...     "seller_id": ["s", "s"], "amount": [5.0, 5.0], "created_at": t, "paid_at": t})
    >>> f = pl.LazyFrame({"feedback_id": ["f1"], "order_id": ["o1"], "author_id": ["b"],
    ...     "target_id": ["s"], "rating": [5], **{c: [5] for c in DSR_COLUMNS},
    ...     "created_at": t[1:]})
    >>> from graphkit.policy.registry import get_check
    >>> params = get_check("SHILL_PURCHASE").defaults()
    >>> pair_evidence(o, f, params=params)[["buyer_id", "n_orders", "top_ratings"]].row(0)
    ('b', 2, True)
    """
    if base is None:
        base = pair_base(orders, feedback, accounts=accounts, params=params)
    pdf = base.pairs

    # identity: buyer linked to the seller itself
    if links is not None and links.height:
        both = pl.concat(
            [
                links.select("account_a", "account_b", "kinds"),
                links.select(
                    pl.col("account_b").alias("account_a"),
                    pl.col("account_a").alias("account_b"),
                    "kinds",
                ),
            ]
        )
        # links are one row per pair of accounts: each (buyer, seller) appears once in
        # ``both``, so only the links of the repeat pairs are formatted
        to_seller = (
            both.rename({"account_a": "buyer_id", "account_b": "seller_id"})
            .join(pdf.select("buyer_id", "seller_id"), on=["buyer_id", "seller_id"], how="semi")
            .select(
                "buyer_id",
                "seller_id",
                seller_link_kinds=pl.col("kinds").list.sort().list.join("+"),
            )
            .unique(["buyer_id", "seller_id"], keep="first")
        )
        pdf = pdf.join(to_seller, on=["buyer_id", "seller_id"], how="left")
    else:
        both = None
        pdf = pdf.with_columns(seller_link_kinds=pl.lit(None, dtype=pl.String))
    pdf = pdf.with_columns(linked_to_seller=pl.col("seller_link_kinds").is_not_null())

    # detected rings: buyer and seller in the same group
    if members is not None and groups is not None:
        members = ring_group_members(
            members,
            groups,
            min_score=float(params["min_group_score"]),
            sellers=base.sellers,
            young_min_score=float(params["young_store_group_min_score"]),
        )
    if members is not None and members.height:
        m = members.select("group_id", "account_id")
        same = (
            pdf.select("buyer_id", "seller_id")
            .join(m.rename({"account_id": "buyer_id"}), on="buyer_id")
            .join(m.rename({"account_id": "seller_id"}), on=["seller_id", "group_id"])
            .group_by("buyer_id", "seller_id")
            .agg(group_id=pl.col("group_id").min())
        )
        pdf = pdf.join(same, on=["buyer_id", "seller_id"], how="left")
    else:
        pdf = pdf.with_columns(group_id=pl.lit(None, dtype=pl.String))
    pdf = pdf.with_columns(same_group=pl.col("group_id").is_not_null())

    base = [k for k in EVIDENCE_POINTS if k != "linked_to_cobuyer"]
    pdf = pdf.with_columns(_pts=pl.sum_horizontal(_points(base)))
    # identity among co-buyers: a link to another candidate buyer of the same seller
    if both is not None:
        cand = pdf.filter(pl.col("_pts") >= 2).select("buyer_id", "seller_id")
        co = (
            both.join(cand.rename({"buyer_id": "account_a"}), on="account_a")
            .join(cand.rename({"buyer_id": "account_b"}), on=["account_b", "seller_id"])
            .select(buyer_id="account_a", seller_id="seller_id")
            .unique()
            .with_columns(linked_to_cobuyer=pl.lit(True))
        )
        pdf = pdf.join(co, on=["buyer_id", "seller_id"], how="left").with_columns(
            pl.col("linked_to_cobuyer").fill_null(False)
        )
    else:
        pdf = pdf.with_columns(linked_to_cobuyer=pl.lit(False))
    pdf = (
        pdf.with_columns(points=pl.sum_horizontal(_points(list(EVIDENCE_POINTS))).cast(pl.Int64))
        .with_columns(suspicious=pl.col("points") >= int(params["min_points"]))
        .drop("_pts")
    )
    if not evidence_ids:
        return pdf.sort("seller_id", "buyer_id")
    # evidence ids, gathered for the suspicious pairs only (lists for every pair are costly)
    keys = pdf.filter("suspicious").select("buyer_id", "seller_id")
    ids, fids = _evidence_ids(orders, feedback, keys, by=["buyer_id", "seller_id"])
    empty = pl.lit([], dtype=pl.List(pl.String))
    return (
        pdf.join(ids, on=["buyer_id", "seller_id"], how="left")
        .join(fids, on=["buyer_id", "seller_id"], how="left")
        .with_columns(pl.col("order_ids", "feedback_ids").fill_null(empty))
        .sort("seller_id", "buyer_id")
    )


def _evidence_ids(
    orders: pl.LazyFrame | pl.DataFrame,
    feedback: pl.LazyFrame | pl.DataFrame,
    keys: pl.DataFrame,
    *,
    by: list[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the sorted order and feedback ids of the pairs in ``keys``, per ``by`` columns."""
    pairs = ["buyer_id", "seller_id"]
    # a one-column membership test first (the keys are a few thousand pairs among millions
    # of rows), then the exact pair test on what is left
    buyers = keys.get_column("buyer_id").unique().implode()
    oids = (
        orders.lazy()
        .select("order_id", *pairs)
        .filter(pl.col("buyer_id").is_in(buyers))
        .join(keys.lazy(), on=pairs, how="semi")
        .group_by(by)
        .agg(order_ids=pl.col("order_id").sort())
    )
    fids = (
        feedback.lazy()
        .select(
            "feedback_id",
            pl.col("author_id").alias("buyer_id"),
            pl.col("target_id").alias("seller_id"),
        )
        .filter(pl.col("buyer_id").is_in(buyers))
        .join(keys.lazy(), on=pairs, how="semi")
        .group_by(by)
        .agg(feedback_ids=pl.col("feedback_id").sort())
    )
    oids_df, fids_df = pl.collect_all([oids, fids])
    return oids_df, fids_df


def _points(names: list[str]) -> list[pl.Expr]:
    return [pl.col(n).cast(pl.Int64) * EVIDENCE_POINTS[n] for n in names]


def shill_sellers(pairs: pl.DataFrame, *, params: Mapping[str, Any]) -> pl.DataFrame:
    """Aggregate suspicious pairs per seller and keep the rings and the linked-buyer cases.

    Returns
    -------
    DataFrame
        One row per flagged seller: ``seller_id``, ``buyers``, ``n_buyers``, ``ring_share``,
        ``n_linked``, ``max_points``, evidence ids, counts per evidence kind, ``group_id``.
    """
    sus = pairs.filter("suspicious")
    untied_window = days(params["max_untied_window_days"])
    ids = [
        pl.col(c).list.explode(keep_nulls=False, empty_as_null=False)
        for c in ("order_ids", "feedback_ids")
        if c in pairs.columns
    ]
    per = sus.group_by("seller_id").agg(
        *ids,
        buyers=pl.col("buyer_id").sort(),
        n_buyers=pl.len().cast(pl.Int64),
        seller_buyers=pl.col("seller_buyers").first(),
        n_linked=pl.col("linked_to_seller").sum().cast(pl.Int64),
        n_tied=(pl.col("linked_to_seller") | pl.col("linked_to_cobuyer")).sum().cast(pl.Int64),
        n_cheap=pl.col("small_amounts").sum().cast(pl.Int64),
        n_independent=pl.any_horizontal(INDEPENDENT_EVIDENCE).sum().cast(pl.Int64),
        max_points=pl.col("points").max(),
        n_orders=pl.col("n_orders").sum(),
        group_id=pl.col("group_id").drop_nulls().min(),
        first_seen=pl.col("first_order").min(),
        last_seen=pl.col("last_order").max(),
        **{f"n_{k}": pl.col(k).sum().cast(pl.Int64) for k in EVIDENCE_POINTS},
    )
    ring = (
        (pl.col("n_buyers") >= int(params["min_ring_buyers"]))
        & (pl.col("ring_share") >= float(params["min_ring_share"]))
        & (pl.col("n_independent") >= int(params["min_independent_buyers"]))
        & (pl.col("n_independent") >= float(params["min_independent_share"]) * pl.col("n_buyers"))
        & (
            (pl.col("n_tied") > 0)
            | (
                (
                    (pl.col("n_buyers") >= int(params["min_untied_ring_buyers"]))
                    | (pl.col("n_cheap") >= int(params["min_untied_cheap_buyers"]))
                    | (
                        (
                            pl.col("n_repeat_top_ratings")
                            >= int(params["min_untied_repeat_top_buyers"])
                        )
                        & (pl.col("n_concentrated") < pl.col("n_buyers"))
                    )
                )
                & (pl.col("last_seen") - pl.col("first_seen") <= untied_window)
            )
        )
    )
    return (
        per.with_columns(ring_share=pl.col("n_buyers") / pl.col("seller_buyers"))
        .filter(ring | (pl.col("n_linked") > 0))
        .sort("seller_id")
    )


def ring_window_buyers(
    pairs: pl.DataFrame, rings: pl.DataFrame, *, min_ratings: int = 2, margin_days: float = 7.0
) -> pl.DataFrame:
    """Return the repeat buyers of each ring's store who bought there only inside its window.

    A ring's window runs from the first to the last order of its suspicious buyers at the
    store (``first_seen``, ``last_seen`` of :func:`shill_sellers`), widened by
    ``margin_days`` on each side (the window is estimated from the suspicious buyers only:
    the other ring accounts' orders fell 0-2 days outside it in the simulated development
    runs, the honest repeat buyers' 26 days or more). A repeat pair that is not
    suspicious itself joins the ring when all its orders at the store fall inside the window
    and the buyer rated the store positively (4-5 stars) at least ``min_ratings`` times and
    never lower (signal ``ring_window``).

    Parameters
    ----------
    pairs
        Output of :func:`pair_evidence`.
    rings
        Output of :func:`shill_sellers` (``seller_id``, ``first_seen``, ``last_seen``).
    min_ratings
        Positive ratings the buyer must have given the store.
    margin_days
        Days the window is widened by on each side.

    Returns
    -------
    DataFrame
        The joining pairs (columns of ``pairs``), with ``ring_window`` true.

    Examples
    --------
    >>> from datetime import datetime
    >>> d = [datetime(2025, 1, k) for k in (1, 5, 9, 20)]
    >>> pairs = pl.DataFrame({"buyer_id": ["in", "late", "once"], "seller_id": ["s"] * 3,
    ...     "suspicious": [False] * 3, "first_order": [d[1], d[1], d[1]],
    ...     "last_order": [d[2], d[3], d[2]], "n_feedback": [2, 2, 1], "n_positive": [2, 2, 1]})
    >>> rings = pl.DataFrame({"seller_id": ["s"], "first_seen": [d[0]], "last_seen": [d[2]]})
    >>> ring_window_buyers(pairs, rings)["buyer_id"].to_list()
    ['in']
    """
    margin = days(margin_days)
    window = rings.select(
        "seller_id",
        first_seen=pl.col("first_seen") - margin,
        last_seen=pl.col("last_seen") + margin,
    )
    return (
        pairs.filter(~pl.col("suspicious"))
        .join(window, on="seller_id", how="inner")
        .filter(
            (pl.col("first_order") >= pl.col("first_seen"))
            & (pl.col("last_order") <= pl.col("last_seen"))
            & (pl.col("n_positive") >= min_ratings)
            & (pl.col("n_positive") == pl.col("n_feedback"))
        )
        .drop("first_seen", "last_seen")
        .with_columns(ring_window=pl.lit(True))
        .sort("seller_id", "buyer_id")
    )


def _order_columns(ctx: ScanContext) -> list[str]:
    cols = ["order_id", "buyer_id", "seller_id", "amount", "created_at"]
    if "coupon_id" in ctx.ds.table("orders").collect_schema().names():
        cols.append("coupon_id")
    return cols


def _tables(ctx: ScanContext) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame | None]:
    """Return the orders, feedback and accounts columns the check reads, as lazy queries.

    Only the columns used (the feedback's text is no concern of this check), read when a
    query runs and not kept: above the in-memory size the scan reads tables from disk, and
    each query here reads a few columns (or, filtered, a few row groups) of them.
    """
    return (
        ctx.lazy("orders").select(_order_columns(ctx)),
        ctx.lazy("feedback").select("feedback_id", "author_id", "target_id", "rating"),
        ctx.lazy("accounts").select("account_id", "created_at") if ctx.ds.has("accounts") else None,
    )


def _shared_pair_base(ctx: ScanContext, params: Mapping[str, Any]) -> PairBase:
    """Return :func:`pair_base` of the scan's tables, once per scan and ``params``."""

    def compute() -> PairBase:
        return graph_pair_base(ctx.market_graph, params=params)

    return ctx.shared(f"SHILL_PURCHASE pair_base {sorted(params.items())}", compute)


def _prefetch_shill_purchase(ctx: ScanContext, params: Mapping[str, Any]) -> None:
    _shared_pair_base(ctx, params)


@register(
    rule_id="SHILL_PURCHASE",
    tables=("orders", "feedback"),
    signals=("identity", "ratings"),
    optional_tables=("accounts", "identifiers"),
    thresholds=THRESHOLDS,
    prefetch=_prefetch_shill_purchase,
)
def check_shill_purchase(ctx: ScanContext, params: Mapping[str, Any]) -> pl.DataFrame:
    """Flag sellers whose ranking is lifted by ring purchases or by their own circle.

    Uses detected groups when group detection is available (``same_group`` evidence, from
    groups scoring at least ``min_group_score``).

    Examples
    --------
    >>> check_shill_purchase.rule_id
    'SHILL_PURCHASE'
    """
    members = ctx.ring_members if ctx.has_groups() else None
    skip: list[str] = []
    if params["skip_trading_sellers"]:  # ratings is a declared signal: the scan has it
        tp = ctx.ratings.trading_pairs
        skip = pl.concat([tp["seller_a"], tp["seller_b"]]).unique().to_list()
    orders, feedback, accounts = _tables(ctx)
    pairs = pair_evidence(
        orders,
        feedback,
        accounts=accounts,
        links=ctx.identity_links,
        members=members,
        groups=ctx.group_scores() if members is not None else None,
        params=params,
        evidence_ids=False,
        base=_shared_pair_base(ctx, params),
    ).filter(~pl.col("seller_id").is_in(skip))
    rings = shill_sellers(pairs, params=params)
    window = ring_window_buyers(
        pairs,
        rings,
        min_ratings=int(params["ring_window_min_ratings"]),
        margin_days=float(params["ring_window_margin_days"]),
    )
    found = _with_window_buyers(rings, pairs, window, orders, feedback)
    kinds_txt = pl.concat_str(
        [
            pl.format("{} {}", pl.col(f"n_{k}"), pl.lit(k.replace("_", " ")))
            for k in EVIDENCE_POINTS
        ],
        separator=", ",
    )
    strong = pl.col("max_points") >= int(params["suspend_points"])
    action, severity = escalate(
        pl.col("n_linked").cast(pl.Float64) + 10.0 * strong.cast(pl.Float64),
        [(1, "suspend", "high"), (10, "suspend", "critical")],
        default=("warning", "medium"),
    )
    score = (
        0.5
        + 0.2 * (1.0 - 0.7 ** (pl.col("n_buyers") - 1).cast(pl.Float64))
        + 0.15 * (pl.col("n_linked") > 0).cast(pl.Float64)
        + 0.15 * (pl.col("max_points") / 8.0).clip(0.0, 1.0)
    )
    return found.with_columns(
        subject_ids=pl.concat_list(pl.col("seller_id"), pl.col("buyers")),
        evidence=pl.concat_list(
            evidence("order", pl.col("order_ids")), evidence("feedback", pl.col("feedback_ids"))
        ),
        score=score,
        recommended_action=action,
        severity=severity,
        explanation=pl.format(
            "Seller {}: {} buyer account(s) ({}% of its {} buyers) bought from it repeatedly "
            "({} orders) with shill evidence: {}. {} buyer(s) share identifiers with the "
            "seller; strongest pair scores {} points (threshold {}). {} more buyer(s) "
            "bought from it only inside the ring's window ({} to {}) and rated every such "
            "order positively (at least {} times).",
            "seller_id",
            "n_buyers",
            (pl.col("ring_share") * 100).round(1),
            "seller_buyers",
            "n_orders",
            kinds_txt,
            "n_linked",
            "max_points",
            pl.lit(int(params["min_points"])),
            "n_ring_window",
            pl.col("first_seen").dt.strftime("%Y-%m-%d"),
            pl.col("last_seen").dt.strftime("%Y-%m-%d"),
            pl.lit(int(params["ring_window_min_ratings"])),
        ),
        signals=pl.concat_list(
            signal(
                "suspicious_buyers",
                "n_buyers",
                threshold=float(params["min_ring_buyers"]),
                contribution=score,
            ),
            signal("ring_share", "ring_share", threshold=float(params["min_ring_share"])),
            signal("buyers_linked_to_seller", "n_linked", threshold=1.0),
            signal("max_pair_points", "max_points", threshold=float(params["min_points"])),
            *[signal(f"buyers_{k}", f"n_{k}") for k in EVIDENCE_POINTS],
            signal(
                "buyers_in_ring_window",
                "n_ring_window",
                detail=pl.lit(
                    "repeat buyers whose orders at the store all fall in the ring's window, "
                    "every one rated positively"
                ),
            ),
        ),
    )


def _with_window_buyers(
    found: pl.DataFrame,
    pairs: pl.DataFrame,
    extra: pl.DataFrame,
    orders: pl.LazyFrame,
    feedback: pl.LazyFrame,
) -> pl.DataFrame:
    """Add the ring-window buyers (:func:`ring_window_buyers`) to each flagged seller.

    Also the order and feedback ids of its suspicious pairs and window pairs, gathered in one
    pass over orders and feedback.
    """
    empty = pl.lit([], dtype=pl.List(pl.String))
    keys = pl.concat(
        [
            pairs.filter("suspicious")
            .join(found.select("seller_id"), on="seller_id", how="semi")
            .select("buyer_id", "seller_id"),
            extra.select("buyer_id", "seller_id"),
        ]
    )
    oids, fids = _evidence_ids(orders, feedback, keys, by=["seller_id"])
    per = extra.group_by("seller_id").agg(
        _b=pl.col("buyer_id").sort(), n_ring_window=pl.len().cast(pl.Int64)
    )
    return (
        found.join(per, on="seller_id", how="left")
        .join(oids, on="seller_id", how="left")
        .join(fids, on="seller_id", how="left")
        .with_columns(
            pl.col("n_ring_window").fill_null(0),
            pl.col("order_ids", "feedback_ids").fill_null(empty),
            buyers=pl.concat_list("buyers", pl.col("_b").fill_null(empty)).list.sort(),
        )
        .drop("_b")
        .sort("seller_id")
    )
