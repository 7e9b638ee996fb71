"""``FEEDBACK_EXTORTION``: threatening a seller with negative feedback to obtain extras.

A buyer's message to the seller of one of their orders is a **threat** when
:func:`graphkit.detect.threats.threat_scores` finds its conditional structure:
a condition, a feedback target, a negative consequence and a demand for
something the listing did not include (extra goods, a partial refund, money,
a discount). A message names its order (``order_id``); a message without one
is attributed to the latest order of that buyer with that seller created at
or before it was sent.

The finding is per buyer. It is stronger when the buyer then left negative
feedback (rating <= ``negative_rating_max``) on a threatened order, and when
the buyer threatened several orders or sellers. Evidence: the threat
messages, the threatened orders and the buyer's feedback on them (whatever
its rating: a 5 after the seller gave in is evidence too). When a
``refunds`` table is present, refunds paid on a threatened order after the
threat are reported as a signal (the seller gave in).

Ladder: warning (one threat) -> restrict_buying (negative feedback followed,
or ``restrict_at_orders`` threatened orders) -> suspend (``suspend_at_sellers``
distinct sellers threatened). When the only demand is a plain refund (which
may be the buyer's remedy for a faulty item, not something outside the
listing) the action is ``review`` and the score lower: a person decides.

Examples
--------
>>> from graphkit.policy.extortion import buyer_seller_messages
>>> buyer_seller_messages.__name__
'buyer_seller_messages'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from graphkit.detect.threats import threat_scores
from graphkit.policy.context import ScanContext
from graphkit.policy.registry import Threshold, evidence, register, severity_from_score, signal

__all__ = [
    "THRESHOLDS",
    "buyer_seller_messages",
    "check_feedback_extortion",
    "extortion_orders",
]

#: a demand cue below this is a plain refund request (see detect.threats)
WEAK_DEMAND = 0.7

#: seed of the 64-bit hashes that screen orders and message pairs
_PAIR_SEED = 0xE7

THRESHOLDS = (
    Threshold(
        "min_threat_score",
        0.75,
        "all four cue families present and mostly strong (see detect.threats.threat_scores)",
    ),
    Threshold(
        "max_weak_cues",
        1,
        "at most one cue family may rest on a weak cue (a bare 'refund', 'then', a promised "
        "good rating); two weak ones read as a remedy request, not a threat",
    ),
    Threshold(
        "negative_rating_max",
        2,
        "ratings 1-2 of 5 are negative feedback on the marketplace's star scale",
    ),
    Threshold(
        "restrict_at_orders",
        2,
        "threatening on a second order is a practice, not a moment of anger",
    ),
    Threshold(
        "suspend_at_sellers",
        3,
        "threatening three different sellers is a business model",
    ),
)


def buyer_seller_messages(messages: pl.LazyFrame, orders: pl.LazyFrame) -> pl.LazyFrame:
    """Return the messages a buyer sent to the seller of one of their orders, with that order.

    A message with ``order_id`` keeps it when the sender is that order's buyer and the
    recipient its seller. A message without ``order_id`` gets the latest order of the
    sender (as buyer) with the recipient (as seller) created at or before ``sent_at``.
    A function of the rows of each buyer (partition-ready by ``buyer_id``).

    Returns
    -------
    LazyFrame
        ``message_id, buyer_id, seller_id, order_id, sent_at, text``.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3)]
    >>> o = pl.LazyFrame({"order_id": ["o1", "o2"], "buyer_id": ["b", "b"],
    ...                   "seller_id": ["s", "s"], "created_at": t[:2]})
    >>> m = pl.LazyFrame({"message_id": ["m1", "m2", "m3"], "sender_id": ["b", "b", "s"],
    ...                   "recipient_id": ["s", "s", "b"], "order_id": ["o1", None, "o1"],
    ...                   "sent_at": t, "text": ["a", "b", "c"]})
    >>> buyer_seller_messages(m, o).collect()["order_id"].to_list()
    ['o1', 'o2']
    """
    cols = ["message_id", "buyer_id", "seller_id", "order_id", "sent_at", "text"]
    messages = messages.collect().lazy()
    # one pass over the orders: those a message names or of a pair with an unnamed
    # message, screened on 64-bit hashes (a collision only keeps an extra order; the
    # joins below match the ids)
    named_ids = messages.select(pl.col("order_id").drop_nulls().hash(_PAIR_SEED))
    loose_pairs = messages.filter(pl.col("order_id").is_null()).select(
        pl.struct("sender_id", "recipient_id").hash(_PAIR_SEED)
    )
    o = (
        orders.select("order_id", "buyer_id", "seller_id", order_at=pl.col("created_at"))
        .filter(
            pl.col("order_id").hash(_PAIR_SEED).is_in(named_ids.collect().to_series().implode())
            | pl.struct("buyer_id", "seller_id")
            .hash(_PAIR_SEED)
            .is_in(loose_pairs.collect().to_series().implode())
        )
        .collect()
        .lazy()
    )
    named = messages.filter(pl.col("order_id").is_not_null())
    on_order = (
        named.join(o.join(named.select("order_id"), on="order_id", how="semi"), on="order_id")
        .filter(
            (pl.col("sender_id") == pl.col("buyer_id"))
            & (pl.col("recipient_id") == pl.col("seller_id"))
        )
        .select(cols)
    )
    unnamed = messages.filter(pl.col("order_id").is_null()).select(
        "message_id",
        "sent_at",
        "text",
        buyer_id=pl.col("sender_id"),
        seller_id=pl.col("recipient_id"),
    )
    # only the orders of pairs with an unnamed message are sorted and searched
    pair_orders = o.join(
        unnamed.select("buyer_id", "seller_id").unique(), on=["buyer_id", "seller_id"], how="semi"
    )
    loose = (
        unnamed.sort("sent_at")
        .join_asof(
            pair_orders.sort("order_at"),
            left_on="sent_at",
            right_on="order_at",
            by=["buyer_id", "seller_id"],
            strategy="backward",
            check_sortedness=False,  # both sides sorted by time just above
        )
        .filter(pl.col("order_id").is_not_null())
        .select(cols)
    )
    return pl.concat([on_order, loose]).sort("message_id")


def extortion_orders(
    threats: pl.DataFrame,
    feedback: pl.LazyFrame,
    *,
    negative_rating_max: int = 2,
    refunds: pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """Summarise threats per threatened order and join what followed.

    A function of the rows of each order (partition-ready by ``order_id``).

    Parameters
    ----------
    threats
        Threat messages: ``message_id, buyer_id, seller_id, order_id, sent_at,
        threat_score`` and the ``match_*`` columns of ``threat_scores``.
    feedback
        The feedback table.
    negative_rating_max
        Highest rating that counts as negative.
    refunds
        The refunds table, if any.

    Returns
    -------
    DataFrame
        One row per (buyer, order), sorted: ``buyer_id, seller_id, order_id, message_ids,
        first_threat_at, last_threat_at, threat_score`` (max), ``strongest_id`` and its
        ``cues``, ``feedback_id, rating, negative_after`` (negative feedback created at
        or after the first threat), ``refunded_after`` (amount refunded after the first
        threat, 0 without a refunds table), ``demand_strength`` (strongest demand cue of the
        order's threats; 1.0 when ``threats`` has no ``cue_demand`` column).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> th = pl.DataFrame({"message_id": ["m1"], "buyer_id": ["b"], "seller_id": ["s"],
    ...     "order_id": ["o1"], "sent_at": [t], "threat_score": [1.0],
    ...     "match_condition": ["if"], "match_feedback": ["review"],
    ...     "match_negative": ["bad"], "match_demand": ["gift"]})
    >>> fb = pl.LazyFrame({"feedback_id": ["f1"], "order_id": ["o1"], "author_id": ["b"],
    ...     "rating": [1], "created_at": [datetime(2026, 1, 2, tzinfo=UTC)]})
    >>> extortion_orders(th, fb)["negative_after"].to_list()
    [True]
    """
    cues = pl.format(
        "condition '{}', feedback '{}', negative '{}', demand '{}'",
        *[pl.col(f"match_{n}") for n in ("condition", "feedback", "negative", "demand")],
    )
    demand = pl.col("cue_demand").max() if "cue_demand" in threats.columns else pl.lit(1.0).first()
    per_order = (
        threats.sort("threat_score", "message_id", descending=[True, False])
        .group_by("buyer_id", "seller_id", "order_id", maintain_order=True)
        .agg(
            message_ids=pl.col("message_id").sort(),
            first_threat_at=pl.col("sent_at").min(),
            last_threat_at=pl.col("sent_at").max(),
            threat_score=pl.col("threat_score").first(),
            strongest_id=pl.col("message_id").first(),
            cues=cues.first(),
            demand_strength=demand,
        )
    )
    fb = (
        feedback.join(per_order.lazy().select("order_id").unique(), on="order_id", how="semi")
        .select(
            "order_id",
            buyer_id=pl.col("author_id"),
            feedback_id=pl.col("feedback_id"),
            rating=pl.col("rating").cast(pl.Int64),
            feedback_at=pl.col("created_at"),
        )
        .collect()
    )
    out = per_order.join(
        fb, on=["order_id", "buyer_id"], how="left", maintain_order="left"
    ).with_columns(
        negative_after=(
            (pl.col("rating") <= negative_rating_max)
            & (pl.col("feedback_at") >= pl.col("first_threat_at"))
        ).fill_null(False)
    )
    if refunds is not None:
        paid = (
            refunds.select("order_id", "refunded_at", "amount")
            .join(out.lazy().select("order_id", "first_threat_at"), on="order_id")
            .collect()
            .filter(pl.col("refunded_at") >= pl.col("first_threat_at"))
            .group_by("order_id")
            .agg(refunded_after=pl.col("amount").sum())
        )
        out = out.join(paid, on="order_id", how="left", maintain_order="left")
    else:
        out = out.with_columns(refunded_after=pl.lit(None, dtype=pl.Float64))
    return out.with_columns(pl.col("refunded_after").fill_null(0.0)).sort("buyer_id", "order_id")


def _pair_orders(messages: pl.LazyFrame, orders: pl.LazyFrame) -> pl.DataFrame:
    """Return the orders whose (buyer, seller) pair sent a message (buyer to seller).

    Screened on a 64-bit hash of the pair (``_pair``, kept as a column): every order
    :func:`buyer_seller_messages` can match to one of ``messages`` is kept (its pair is
    the message's own); a hash collision only keeps an extra order, which the exact match
    on the ids leaves out. One pass over the orders serves the message screen
    (:func:`_order_pair_messages`) and the matching.

    Examples
    --------
    >>> o = pl.LazyFrame({"order_id": ["o1", "o2"], "buyer_id": ["b", "b"],
    ...                   "seller_id": ["s", "t"], "created_at": [1, 2]})
    >>> m = pl.LazyFrame({"sender_id": ["b", "t"], "recipient_id": ["s", "b"]})
    >>> _pair_orders(m, o)["order_id"].to_list()
    ['o1']
    """
    keys = messages.select(_pair=pl.struct("sender_id", "recipient_id").hash(_PAIR_SEED)).unique()
    return (
        orders.select(
            "order_id",
            "buyer_id",
            "seller_id",
            "created_at",
            _pair=pl.struct("buyer_id", "seller_id").hash(_PAIR_SEED),
        )
        .join(keys, on="_pair", how="semi")
        .collect()
    )


def _order_pair_messages(messages: pl.LazyFrame, pair_orders: pl.DataFrame) -> pl.LazyFrame:
    """Return the messages sent from a buyer to a seller they have an order with (a superset).

    ``pair_orders`` from :func:`_pair_orders`: a message passes when the 64-bit hash of
    its ``(sender_id, recipient_id)`` pair is the ``_pair`` of one of them. Every message
    :func:`buyer_seller_messages` keeps passes; a hash collision only lets an extra
    message through, which the exact match on the ids removes later.

    Examples
    --------
    >>> o = pl.LazyFrame({"order_id": ["o1"], "buyer_id": ["b"], "seller_id": ["s"],
    ...                   "created_at": [1]})
    >>> m = pl.LazyFrame({"message_id": ["m1", "m2"], "sender_id": ["b", "s"],
    ...                   "recipient_id": ["s", "b"]})
    >>> _order_pair_messages(m, _pair_orders(m, o)).collect()["message_id"].to_list()
    ['m1']
    """
    key = {"_pair": pl.struct("sender_id", "recipient_id").hash(_PAIR_SEED)}
    pairs = pair_orders.lazy().select("_pair").unique()
    return messages.with_columns(**key).join(pairs, on="_pair", how="semi").drop("_pair")


@register(
    rule_id="FEEDBACK_EXTORTION",
    tables=("messages", "orders", "feedback"),
    optional_tables=("refunds",),
    thresholds=THRESHOLDS,
)
def check_feedback_extortion(ctx: ScanContext, params: Mapping[str, Any]) -> pl.DataFrame:
    """Flag buyers who threaten sellers with negative feedback to obtain extras.

    One finding per buyer with at least one threat message to the seller of one of
    their orders (see the module docstring for the ladder and the evidence).

    Examples
    --------
    >>> check_feedback_extortion.rule_id
    'FEEDBACK_EXTORTION'
    """
    messages = ctx.lazy("messages")
    # only a message between the parties of an order can be a threat to the seller of the
    # buyer's order: screened on a 64-bit hash of the (sender, recipient) pair (a collision
    # only lets an extra message through), the text then decides (each distinct text
    # scored once), and only the few threat messages are matched to their orders exactly.
    # Whether a message is a threat depends on its text alone and its order on its own
    # row alone, so this is the same as scoring the buyer-to-seller messages.
    pair_orders = _pair_orders(messages, ctx.lazy("orders"))
    scores = threat_scores(
        _order_pair_messages(
            messages.select("message_id", "sender_id", "recipient_id", "text"), pair_orders
        ),
        min_score=float(params["min_threat_score"]),
        max_weak_cues=int(params["max_weak_cues"]),
        candidates_only=True,  # only messages with all four cue families can be threats
    ).filter(pl.col("is_threat"))
    candidates = messages.join(scores.lazy().select("message_id"), on="message_id", how="semi")
    # the orders of the messages' own pairs hold every order the matching can use
    msgs = buyer_seller_messages(candidates, pair_orders.lazy().drop("_pair")).collect()
    del pair_orders
    threats = msgs.drop("text").join(scores, on="message_id")
    per_order = extortion_orders(
        threats,
        ctx.lazy("feedback"),
        negative_rating_max=int(params["negative_rating_max"]),
        refunds=ctx.lazy("refunds") if ctx.ds.has("refunds") else None,
    )
    per_buyer = (
        per_order.sort("buyer_id", "threat_score", "order_id", descending=[False, True, False])
        .group_by("buyer_id", maintain_order=True)
        .agg(
            n_orders=pl.len().cast(pl.Int64),
            n_sellers=pl.col("seller_id").n_unique().cast(pl.Int64),
            n_messages=pl.col("message_ids").list.len().sum().cast(pl.Int64),
            n_negative_after=pl.col("negative_after").sum().cast(pl.Int64),
            demand_strength=pl.col("demand_strength").max(),
            max_threat=pl.col("threat_score").first(),
            strongest_id=pl.col("strongest_id").first(),
            cues=pl.col("cues").first(),
            message_ids=pl.col("message_ids").list.explode(keep_nulls=False, empty_as_null=False),
            order_ids=pl.col("order_id"),
            feedback_ids=pl.col("feedback_id").drop_nulls(),
            negative_ids=pl.col("feedback_id").filter(pl.col("negative_after")),
            refunded_after=pl.col("refunded_after").sum(),
            first_seen=pl.col("first_threat_at").min(),
            last_seen=pl.col("last_threat_at").max(),
        )
        .sort("buyer_id")
    )
    neg = pl.col("n_negative_after") > 0
    suspend = pl.col("n_sellers") >= params["suspend_at_sellers"]
    restrict = neg | (pl.col("n_orders") >= params["restrict_at_orders"])
    # only a plain refund was demanded: possibly the buyer's remedy for a faulty item,
    # which the policy does not forbid asking for; a person decides
    remedy_only = pl.col("demand_strength") < WEAK_DEMAND
    action = (
        pl.when(remedy_only)
        .then(pl.lit("review"))
        .when(suspend)
        .then(pl.lit("suspend"))
        .when(restrict)
        .then(pl.lit("restrict_buying"))
        .otherwise(pl.lit("warning"))
    )
    # a single clear threat ~0.65 (medium); followed by negative feedback ~0.85 (high);
    # repeated over orders adds up to 0.1 more
    repeat = ((pl.col("n_orders") - 1).clip(0, 2).cast(pl.Float64)) * 0.05
    score = (
        0.45
        + 0.2 * pl.col("max_threat")
        + pl.when(neg).then(0.2).otherwise(0.0)
        + repeat
        - pl.when(remedy_only).then(0.2).otherwise(0.0)
    ).clip(0.0, 1.0)
    return per_buyer.with_columns(
        subject_ids=pl.concat_list(pl.col("buyer_id")),
        evidence=pl.concat_list(
            evidence("message", pl.col("message_ids")),
            evidence("order", pl.col("order_ids")),
            evidence("feedback", pl.col("feedback_ids")),
        ),
        score=score,
        severity=severity_from_score(score),
        recommended_action=action,
        explanation=pl.format(
            "Buyer {} sent {} message(s) making feedback conditional on something the listing "
            "did not include, on {} order(s) with {} seller(s). Strongest ({}): {} "
            "(threat score {}). {} threatened order(s) then got negative feedback "
            "(rating <= {}) from the buyer{}. Refunded after the threat: {}.{}",
            pl.col("buyer_id"),
            pl.col("n_messages"),
            pl.col("n_orders"),
            pl.col("n_sellers"),
            pl.col("strongest_id"),
            pl.col("cues"),
            pl.col("max_threat"),
            pl.col("n_negative_after"),
            pl.lit(int(params["negative_rating_max"])),
            pl.when(neg)
            .then(pl.format(": {}", pl.col("negative_ids").list.join(", ")))
            .otherwise(pl.lit("")),
            pl.col("refunded_after").round(2),
            pl.when(remedy_only)
            .then(
                pl.lit(
                    " The only demand is a plain refund, which may be the buyer's remedy for a "
                    "faulty item: review before acting."
                )
            )
            .otherwise(pl.lit("")),
        ),
        signals=pl.concat_list(
            signal(
                "threat_score",
                pl.col("max_threat"),
                threshold=float(params["min_threat_score"]),
                contribution=score,
                detail=pl.col("cues"),
            ),
            signal(
                "negative_feedback_after",
                pl.col("n_negative_after"),
                detail=pl.format("rating <= {}", pl.lit(int(params["negative_rating_max"]))),
            ),
            signal(
                "threatened_orders",
                pl.col("n_orders"),
                threshold=float(params["restrict_at_orders"]),
            ),
            signal(
                "threatened_sellers",
                pl.col("n_sellers"),
                threshold=float(params["suspend_at_sellers"]),
            ),
            signal("refunded_after_threat", pl.col("refunded_after")),
            signal(
                "demand_strength",
                pl.col("demand_strength"),
                threshold=WEAK_DEMAND,
                detail=pl.lit("below the threshold: only a plain refund was demanded"),
            ),
        ),
    )
