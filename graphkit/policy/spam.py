"""``COMM_SPAM``: unsolicited messages sent in bulk with near-duplicate text.

A message is **unsolicited** when its sender and recipient had no order
together (in either direction) created at or before the moment it was sent,
and the recipient had not written to the sender first (a reply is solicited).
A **campaign** of a sender is a near-duplicate cluster of texts
(:func:`graphkit.detect.text.near_duplicate_clusters`: shingles + MinHash +
LSH, robust to small edits) in which the sender reached at least
``min_recipients`` distinct members unsolicited, with at least
``min_unsolicited_share`` of the sender's copies going to strangers. A seller's
order-status template sent to its own buyers is solicited and never counts; a
buyer asking a few stores the same pre-sale question stays under the
recipient threshold. Once a sender is flagged, their looser variants of a
campaign text (per-recipient codes and links push copies below the
similarity threshold) join the campaign (:func:`absorb_variants`).

One finding per sender with at least one campaign; evidence is the
unsolicited messages of its campaigns. The recommended action escalates
with volume and repetition: warning -> restrict_buying -> suspend, and the
score follows that ladder (medium, high, critical severity). Senders
sharing a campaign cluster with other flagged senders get a common
``group_id``.

Examples
--------
>>> from graphkit.policy.spam import unsolicited_messages
>>> unsolicited_messages.__name__
'unsolicited_messages'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from graphkit.detect.text import near_duplicate_clusters
from graphkit.findings import group_ids
from graphkit.policy.context import ScanContext
from graphkit.policy.registry import Threshold, evidence, register, severity_from_score, signal

__all__ = [
    "THRESHOLDS",
    "absorb_variants",
    "check_comm_spam",
    "defang",
    "spam_campaigns",
    "spam_senders",
    "unsolicited_messages",
]

THRESHOLDS = (
    Threshold(
        "min_recipients",
        10,
        "the same text to 10+ members one never traded with is bulk; a buyer asking a few "
        "stores the same pre-sale question is not",
    ),
    Threshold(
        "min_unsolicited_share",
        0.5,
        "most copies of the text went to strangers; a template mostly sent to one's own "
        "buyers is order communication",
    ),
    Threshold(
        "similarity",
        0.5,
        "estimated Jaccard of character 5-gram sets: copies with a changed name, price or "
        "a few words stay above 0.5, different messages on one topic fall below",
    ),
    Threshold(
        "replies_solicited",
        True,
        "a message to someone who wrote to the sender first is an answer, not spam",
    ),
    Threshold(
        "variant_similarity",
        0.3,
        "a flagged spammer's looser variants (per-recipient codes and links) of a campaign "
        "text join it down to this similarity; set >= similarity to disable",
    ),
    Threshold("shingle_chars", 5, "5-character shingles keep word order, survive typos"),
    Threshold("num_perm", 64, "64 MinHash rows: Jaccard estimate within ~0.06 (1 s.d.)"),
    Threshold("bands", 16, "16 bands of 4 rows: candidate curve midpoint ~0.5 = similarity"),
    Threshold("restrict_at_recipients", 50, "50+ strangers reached is a campaign, not a lapse"),
    Threshold("suspend_at_recipients", 200, "200+ strangers reached is industrial spam"),
    Threshold("restrict_at_campaigns", 2, "a second distinct campaign is repeat spamming"),
    Threshold("suspend_at_campaigns", 3, "a third distinct campaign after two is persistent"),
    Threshold(
        "max_evidence",
        500,
        "evidence lists the first 500 message ids (sorted); counts in the signals are complete",
    ),
    Threshold("example_chars", 120, "the example text is cut to 120 characters"),
)


def defang(text: pl.Expr, *, max_chars: int = 120) -> pl.Expr:
    r"""Return untrusted ``text`` made inert for display (a polars expression).

    Control and format characters (newlines, zero-width and bidi overrides) become
    spaces, angle brackets become ``‹ ›`` so markup can never be rendered, runs of
    whitespace collapse, and the result is cut to ``max_chars`` with ``…``.

    Examples
    --------
    >>> import polars as pl
    >>> pl.select(defang(pl.lit("<b>Hi</b>\n\u202eyou"), max_chars=12)).item()
    '‹b›Hi‹/b› y…'
    """
    clean = (
        text.fill_null("")
        .str.replace_all(r"\p{C}+", " ")
        .str.replace_all("<", "‹", literal=True)
        .str.replace_all(">", "›", literal=True)
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    return (
        pl.when(clean.str.len_chars() > max_chars)
        .then(clean.str.slice(0, max_chars - 1) + pl.lit("…"))
        .otherwise(clean)
    )


def _pair(a: str, b: str) -> dict[str, pl.Expr]:
    lo = pl.when(pl.col(a) <= pl.col(b)).then(pl.col(a)).otherwise(pl.col(b))
    hi = pl.when(pl.col(a) <= pl.col(b)).then(pl.col(b)).otherwise(pl.col(a))
    return {"_lo": lo, "_hi": hi}


_HASHES = ["_lh", "_hh"]
_PAIR_SEED = 0x5BA1


def _pair_hash(a: str, b: str) -> dict[str, pl.Expr]:
    """Return the unordered pair ``{a, b}`` as two 64-bit hashes (smaller first)."""
    ha, hb = pl.col(a).hash(_PAIR_SEED), pl.col(b).hash(_PAIR_SEED)
    return {"_lh": pl.min_horizontal(ha, hb), "_hh": pl.max_horizontal(ha, hb)}


def unsolicited_messages(
    messages: pl.LazyFrame, orders: pl.LazyFrame, *, replies_solicited: bool = True
) -> pl.LazyFrame:
    """Mark each message solicited or not by the orders (and messages) between its parties.

    A message is unsolicited when no order between sender and recipient, in either
    direction, was created at or before ``sent_at`` and, with ``replies_solicited``,
    the recipient had not written to the sender before (a reply answers a question:
    a store answering pre-sale questions with one template is not spamming). A
    function of the rows of each unordered account pair (partition-ready by pair).

    Parameters
    ----------
    messages
        The messages table.
    orders
        The orders table (``buyer_id``, ``seller_id``, ``created_at``).
    replies_solicited
        Whether a message to someone who wrote to the sender earlier is solicited.

    Returns
    -------
    LazyFrame
        ``messages`` with ``first_order_at`` (first order between the pair, null if none),
        ``first_contact_at`` (first message from the recipient to the sender, null if
        none) and ``unsolicited`` (bool).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3)]
    >>> o = pl.LazyFrame({"buyer_id": ["b"], "seller_id": ["s"], "created_at": [t[1]]})
    >>> m = pl.LazyFrame({"message_id": ["m1", "m2", "m3", "m4", "m5"],
    ...                   "sender_id": ["s", "s", "x", "q", "x"],
    ...                   "recipient_id": ["b", "b", "b", "x", "q"],
    ...                   "sent_at": [t[0], t[1], t[1], t[1], t[2]]})
    >>> unsolicited_messages(m, o).collect()["unsolicited"].to_list()
    [True, False, True, True, False]
    """
    return _unsolicited_by_ids(messages, orders, replies_solicited=replies_solicited)


def _unsolicited(*, replies_solicited: bool) -> pl.Expr:
    """Return the ``unsolicited`` flag of ``first_order_at``, ``first_contact_at``, ``sent_at``."""
    ordered = pl.col("first_order_at").is_not_null() & (
        pl.col("first_order_at") <= pl.col("sent_at")
    )
    replied = pl.col("first_contact_at").is_not_null() & (
        pl.col("first_contact_at") < pl.col("sent_at")
    )
    return (~(ordered | (replied if replies_solicited else False))).alias("unsolicited")


def _hash(col: str) -> pl.Expr:
    return pl.col(col).hash(_PAIR_SEED)


def _key(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """One 64-bit key of the ordered pair of 64-bit hashes ``(a, b)``."""
    return pl.struct(a.alias("a"), b.alias("b")).hash(_PAIR_SEED)


def _first_orders(messages: pl.DataFrame, orders: pl.LazyFrame) -> pl.DataFrame:
    """Return the first order between each message's two accounts, matched on 64-bit hashes.

    ``first_order_at`` is the earliest order of the message's unordered pair key (64-bit
    hashes of the two ids), and ``own`` says whether that earliest order is between the
    message's own two accounts (compared on the ids). When ``own`` holds,
    ``first_order_at`` is exact (an order of the pair is the earliest of the key, so no
    colliding order comes first); when it does not, the key holds another pair's order
    (a hash collision) and the first order of the message's pair is unknown. Null
    ``first_order_at``: no order of the key, so none of the pair either. Row-aligned with
    ``messages``.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3)]
    >>> o = pl.LazyFrame({"buyer_id": ["b", "b"], "seller_id": ["s", "s"],
    ...                   "created_at": [t[2], t[1]]})
    >>> m = pl.DataFrame({"sender_id": ["s", "x"], "recipient_id": ["b", "b"]})
    >>> f = _first_orders(m, o)
    >>> [None if v is None else v.day for v in f["first_order_at"]], f["own"].to_list()
    ([2, None], [True, None])
    """
    s, r = pl.col("sender_id"), pl.col("recipient_id")
    created = pl.col("created_at")
    hb, hs = _hash("buyer_id"), _hash("seller_id")
    keys = messages.select(
        "sender_id",
        "recipient_id",
        _u=_key(
            pl.min_horizontal(_hash("sender_id"), _hash("recipient_id")),
            pl.max_horizontal(_hash("sender_id"), _hash("recipient_id")),
        ),
    )
    first = (
        orders.select("buyer_id", "seller_id", "created_at")
        .filter(created.is_not_null())
        .with_columns(_u=_key(pl.min_horizontal(hb, hs), pl.max_horizontal(hb, hs)))
        .join(keys.lazy().select("_u").unique(), on="_u", how="semi")
        .group_by("_u")
        .agg(
            first_order_at=created.min(),
            _ob=pl.col("buyer_id").get(created.arg_min()),
            _os=pl.col("seller_id").get(created.arg_min()),
        )
        .collect()
    )
    ob, os_ = pl.col("_ob"), pl.col("_os")
    return keys.join(first, on="_u", how="left", maintain_order="left").select(
        "first_order_at", own=((s == ob) & (r == os_)) | ((s == os_) & (r == ob))
    )


def _unsolicited_by_ids(
    messages: pl.LazyFrame, orders: pl.LazyFrame, *, replies_solicited: bool = True
) -> pl.LazyFrame:
    """:func:`unsolicited_messages` matching the pairs on the id strings (the reference path)."""
    # only orders between accounts that exchanged messages matter: screen the orders on
    # 64-bit hashes of the unordered pair (a collision only lets an extra order through),
    # then take the first order per pair exactly, on the ids, from the few that pass
    # materialised and joined eagerly: the same joins in one lazy plan cost twice the CPU
    keyed = (
        messages.with_columns(**_pair_hash("sender_id", "recipient_id"))
        .with_columns(**_pair("sender_id", "recipient_id"))
        .collect()
    )
    related = (
        orders.select("buyer_id", "seller_id", "created_at")
        .with_columns(**_pair_hash("buyer_id", "seller_id"))
        .join(keyed.lazy().select(_HASHES).unique(), on=_HASHES, how="semi")
    )
    first = (
        related.select(*_HASHES, **_pair("buyer_id", "seller_id"), created_at="created_at")
        .group_by(*_HASHES, "_lo", "_hi")
        .agg(first_order_at=pl.col("created_at").min())
        .collect()  # small (pairs that exchanged messages)
    )
    contact = (
        keyed.lazy()
        .group_by(sender_id=pl.col("recipient_id"), recipient_id=pl.col("sender_id"))
        .agg(first_contact_at=pl.col("sent_at").min())
        .collect()
    )
    out = (
        keyed.join(first, on=[*_HASHES, "_lo", "_hi"], how="left", maintain_order="left")
        .join(contact, on=["sender_id", "recipient_id"], how="left", maintain_order="left")
        .drop(*_HASHES, "_lo", "_hi")
        .lazy()
    )
    return out.with_columns(unsolicited=_unsolicited(replies_solicited=replies_solicited))


def spam_campaigns(
    messages: pl.DataFrame,
    *,
    min_recipients: int = 10,
    min_unsolicited_share: float = 0.5,
) -> pl.DataFrame:
    """Return the (sender, near-duplicate cluster) pairs that are bulk unsolicited campaigns.

    Per sender, except that a flagged sender's copies in a cluster that is another
    sender's campaign are kept too (a function of the rows of each cluster and sender).

    Parameters
    ----------
    messages
        Messages with ``unsolicited`` (:func:`unsolicited_messages`) and ``cluster_id``
        (:func:`graphkit.detect.text.near_duplicate_clusters`).
    min_recipients
        Minimum distinct recipients reached unsolicited by the sender with the cluster's text.
    min_unsolicited_share
        Minimum share of the sender's messages in the cluster that were unsolicited.

    Returns
    -------
    DataFrame
        One row per campaign, sorted by sender and cluster: ``sender_id``, ``cluster_id``,
        ``n_messages``, ``n_unsolicited``, ``n_recipients``, ``n_unsolicited_recipients``,
        ``share_unsolicited``, ``message_ids`` (the unsolicited ones, sorted),
        ``recipient_ids`` (unsolicited, sorted), ``example_id``, ``first_seen``, ``last_seen``,
        ``own_campaign`` (the pair passes both thresholds itself; false for a flagged
        sender's smaller share of a cluster that is another sender's campaign, kept as
        evidence of the same spamming).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> m = pl.DataFrame({"message_id": ["m1", "m2"], "sender_id": ["s", "s"],
    ...                   "recipient_id": ["a", "b"], "sent_at": [t, t],
    ...                   "cluster_id": ["m1", "m1"], "unsolicited": [True, True]})
    >>> spam_campaigns(m, min_recipients=2)["n_unsolicited_recipients"].to_list()
    [2]
    """
    unsol = pl.col("unsolicited")
    return (
        messages.filter(pl.col("cluster_id").is_not_null())
        .group_by("sender_id", "cluster_id")
        .agg(
            n_messages=pl.len().cast(pl.Int64),
            n_unsolicited=unsol.sum().cast(pl.Int64),
            n_recipients=pl.col("recipient_id").n_unique().cast(pl.Int64),
            n_unsolicited_recipients=pl.col("recipient_id").filter(unsol).n_unique().cast(pl.Int64),
            message_ids=pl.col("message_id").filter(unsol).sort(),
            recipient_ids=pl.col("recipient_id").filter(unsol).unique().sort(),
            example_id=pl.col("message_id").filter(unsol).min(),
            first_seen=pl.col("sent_at").filter(unsol).min(),
            last_seen=pl.col("sent_at").filter(unsol).max(),
        )
        .with_columns(share_unsolicited=pl.col("n_unsolicited") / pl.col("n_messages"))
        .with_columns(
            own_campaign=(pl.col("n_unsolicited_recipients") >= min_recipients)
            & (pl.col("share_unsolicited") >= min_unsolicited_share)
        )
        .with_columns(
            campaign_cluster=pl.col("own_campaign").any().over("cluster_id"),
            flagged_sender=pl.col("own_campaign").any().over("sender_id"),
        )
        # a flagged sender's copies of a campaign text that landed in another sender's
        # campaign cluster belong to the same spamming (near-duplicate clusters split a
        # sender's copies when the clustering links them to others' first)
        .filter(
            pl.col("own_campaign")
            | (
                pl.col("campaign_cluster")
                & pl.col("flagged_sender")
                & (pl.col("share_unsolicited") >= min_unsolicited_share)
            )
        )
        .drop("campaign_cluster", "flagged_sender")
        .sort("sender_id", "cluster_id")
    )


def spam_senders(campaigns: pl.DataFrame, *, max_evidence: int = 500) -> pl.DataFrame:
    """Aggregate campaigns per sender (one row per sender, sorted).

    Returns
    -------
    DataFrame
        ``sender_id``, ``n_campaigns``, ``n_messages`` (unsolicited copies),
        ``n_recipients`` (distinct strangers reached over all campaigns),
        ``share_unsolicited`` (over the campaigns' messages), ``largest_cluster``,
        ``largest_cluster_recipients``, ``example_id``, ``message_ids`` (first
        ``max_evidence``), ``cluster_ids``, ``first_seen``, ``last_seen``.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> c = pl.DataFrame({"sender_id": ["s", "s"], "cluster_id": ["m1", "m9"],
    ...     "n_messages": [10, 12], "n_unsolicited": [10, 12], "n_recipients": [10, 12],
    ...     "n_unsolicited_recipients": [10, 12], "share_unsolicited": [1.0, 1.0],
    ...     "message_ids": [["m1"], ["m9"]], "recipient_ids": [["a"], ["a", "b"]],
    ...     "example_id": ["m1", "m9"], "first_seen": [t, t], "last_seen": [t, t],
    ...     "own_campaign": [True, True]})
    >>> spam_senders(c)[["n_campaigns", "n_recipients", "largest_cluster"]].row(0)
    (2, 2, 'm9')
    """
    ranked = campaigns.sort(
        "sender_id",
        "own_campaign",
        "n_unsolicited_recipients",
        "cluster_id",
        descending=[False, True, True, False],
    )
    return (
        ranked.group_by("sender_id", maintain_order=True)
        .agg(
            n_campaigns=pl.col("own_campaign").sum().cast(pl.Int64),
            n_messages=pl.col("n_unsolicited").sum().cast(pl.Int64),
            n_all=pl.col("n_messages").sum(),
            n_recipients=pl.col("recipient_ids")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .n_unique()
            .cast(pl.Int64),
            largest_cluster=pl.col("cluster_id").first(),
            largest_cluster_recipients=pl.col("n_unsolicited_recipients").first(),
            example_id=pl.col("example_id").first(),
            message_ids=pl.col("message_ids")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .sort()
            .head(max_evidence),
            cluster_ids=pl.col("cluster_id").sort(),
            first_seen=pl.col("first_seen").min(),
            last_seen=pl.col("last_seen").max(),
        )
        .with_columns(share_unsolicited=pl.col("n_messages") / pl.col("n_all"))
        .drop("n_all")
        .sort("sender_id")
    )


def absorb_variants(
    messages: pl.DataFrame,
    campaigns: pl.DataFrame,
    *,
    threshold: float = 0.3,
    k: int = 5,
    seed: int = 0,
) -> pl.DataFrame:
    """Move a flagged sender's looser variants of a campaign text into that campaign.

    Copies of a template that carry per-recipient random codes or links sit near the
    similarity threshold, so a few fall out of the campaign's cluster. Once a sender is
    established as a bulk spammer, their other unsolicited messages are clustered again,
    per sender, at the looser ``threshold`` (32 bands of 2 rows, so candidates are
    found down to ~0.2); a message linked to one of the sender's campaign messages takes
    that campaign's ``cluster_id``. A function of the rows of each sender.

    Parameters
    ----------
    messages
        Messages with ``sender_id``, ``text``, ``unsolicited`` and ``cluster_id``.
    campaigns
        Output of :func:`spam_campaigns` on ``messages``.
    threshold
        Looser Jaccard similarity for variants of a flagged sender's campaign.
    k, seed
        Shingle length and MinHash seed.

    Returns
    -------
    DataFrame
        ``messages`` with ``cluster_id`` updated for the absorbed variants.

    Examples
    --------
    >>> absorb_variants.__name__
    'absorb_variants'
    """
    flagged = campaigns.select("sender_id").unique()
    pool = messages.join(flagged, on="sender_id").filter(pl.col("unsolicited"))
    if pool.height == 0:
        return messages
    loose = near_duplicate_clusters(
        pool.select("message_id", "sender_id", "text"),
        by="sender_id",
        k=k,
        num_perm=64,
        bands=32,
        threshold=threshold,
        seed=seed,
    ).rename({"cluster_id": "_loose"})
    in_campaign = campaigns.select("cluster_id", message_id=pl.col("message_ids")).explode(
        "message_id"
    )
    moved = (
        loose.join(in_campaign, on="message_id", how="left", maintain_order="left")
        .with_columns(_campaign=pl.col("cluster_id").min().over("_loose"))
        .filter(pl.col("_campaign").is_not_null() & pl.col("cluster_id").is_null())
        .select("message_id", "_campaign")
    )
    return (
        messages.join(moved, on="message_id", how="left", maintain_order="left")
        .with_columns(cluster_id=pl.coalesce("_campaign", "cluster_id"))
        .drop("_campaign")
    )


def _campaign_groups(campaigns: pl.DataFrame) -> pl.DataFrame:
    """``sender_id -> group_id`` for senders whose largest shared cluster has 2+ flagged senders."""
    shared = (
        campaigns.group_by("cluster_id")
        .agg(senders=pl.col("sender_id").unique().sort(), size=pl.col("n_unsolicited").sum())
        .filter(pl.col("senders").list.len() >= 2)
        .sort("size", "cluster_id", descending=[True, False])
    )
    if shared.height == 0:
        return pl.DataFrame(schema={"sender_id": pl.String, "group_id": pl.String})
    shared = shared.with_columns(
        group_id=pl.Series(group_ids("spam_campaign", shared["senders"].to_list()), dtype=pl.String)
    )
    return (
        shared.explode("senders")
        .rename({"senders": "sender_id"})
        .group_by("sender_id", maintain_order=True)
        .agg(pl.col("group_id").first())
    )


def _reply_rate(messages: pl.DataFrame, senders: pl.DataFrame) -> pl.DataFrame:
    """Share of each flagged sender's stranger recipients who ever wrote back."""
    reached = senders.select("sender_id", "message_ids").explode("message_ids")
    pairs = (
        reached.join(
            messages.select("message_id", "recipient_id"),
            left_on="message_ids",
            right_on="message_id",
        )
        .select("sender_id", "recipient_id")
        .unique()
    )
    back = (
        messages.join(senders.select(recipient_id="sender_id"), on="recipient_id", how="semi")
        .select(
            sender_id=pl.col("recipient_id"), recipient_id=pl.col("sender_id"), replied=pl.lit(True)
        )
        .unique()
    )
    return (
        pairs.join(back, on=["sender_id", "recipient_id"], how="left", maintain_order="left")
        .group_by("sender_id")
        .agg(reply_rate=pl.col("replied").fill_null(False).mean())
    )


def _candidate_messages(
    messages: pl.LazyFrame,
    orders: pl.LazyFrame,
    *,
    min_recipients: int,
    replies_solicited: bool,
) -> pl.DataFrame:
    """Return the messages of :func:`unsolicited_messages` that the spam check can use.

    Those sent by or to a sender who may have reached ``min_recipients`` distinct members
    unsolicited: one with at least ``min_recipients`` messages not surely solicited (an
    order between the two accounts, confirmed on the ids, precedes the message; counted
    per 64-bit hash of the sender, so senders sharing a hash only add up and no
    candidate is left out; the check then counts distinct strangers on the ids). Every
    other message can neither be in a campaign nor be a reply to a campaign's sender.
    Their flags are :func:`unsolicited_messages`'s, row for row (a hash collision that
    hides a pair's first order sends these messages through the string path).
    Only these messages' texts are read.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> o = pl.LazyFrame({"buyer_id": ["b"], "seller_id": ["s"], "created_at": [t]})
    >>> m = pl.LazyFrame({"message_id": ["m1", "m2", "m3"], "sender_id": ["x", "x", "s"],
    ...                   "recipient_id": ["a", "b", "b"], "sent_at": [t, t, t],
    ...                   "text": ["hi", "hi", "ok"]})
    >>> _candidate_messages(m, o, min_recipients=2, replies_solicited=True)["message_id"].to_list()
    ['m1', 'm2']
    """
    base = messages.select("message_id", "sender_id", "recipient_id", "sent_at").collect()
    first = _first_orders(base, orders)
    # a message is surely solicited when an order between its two accounts (confirmed on
    # the ids) precedes it; a sender needs min_recipients other messages to be a
    # candidate (a hash shared by senders only adds their counts up)
    surely = (
        first["own"].fill_null(False) & (first["first_order_at"] <= base["sent_at"])
    ).fill_null(False)
    senders = (
        base.filter(~surely)
        .group_by(_hash("sender_id"))
        .agg(n=pl.len())
        .filter(pl.col("n") >= min_recipients)
        .to_series()
        .implode()
    )
    keep = _hash("sender_id").is_in(senders) | _hash("recipient_id").is_in(senders)
    few = base.hstack(first).filter(keep)
    if few.select((pl.col("first_order_at").is_not_null() & ~pl.col("own")).any()).item():
        # a hash collision hides the first order of some pair: the ids decide
        few = (
            _unsolicited_by_ids(
                messages.join(few.lazy().select("message_id"), on="message_id", how="semi"),
                orders,
                replies_solicited=replies_solicited,
            )
            .select(*base.columns, "first_order_at", "first_contact_at", "unsolicited")
            .collect()
        )
    else:
        # every reverse message of these is among them (sent to or by the same candidate)
        contact = few.group_by(sender_id="recipient_id", recipient_id="sender_id").agg(
            first_contact_at=pl.col("sent_at").min()
        )
        few = (
            few.drop("own")
            .join(contact, on=["sender_id", "recipient_id"], how="left", maintain_order="left")
            .with_columns(_unsolicited(replies_solicited=replies_solicited))
        )
    text = (
        messages.select("message_id", "text")
        .join(few.lazy().select("message_id"), on="message_id", how="semi")
        .collect()
    )
    return few.join(text, on="message_id", how="left", maintain_order="left")


@register(
    rule_id="COMM_SPAM",
    tables=("messages", "orders"),
    thresholds=THRESHOLDS,
)
def check_comm_spam(ctx: ScanContext, params: Mapping[str, Any]) -> pl.DataFrame:
    """Flag members who send near-duplicate unsolicited messages to many strangers.

    One finding per sender with at least one bulk campaign (see the module docstring);
    the action escalates with distinct strangers reached and with repeated campaigns.

    Examples
    --------
    >>> check_comm_spam.rule_id
    'COMM_SPAM'
    """
    messages = _candidate_messages(
        ctx.lazy("messages"),
        ctx.lazy("orders"),
        min_recipients=int(params["min_recipients"]),
        replies_solicited=bool(params["replies_solicited"]),
    )
    # only senders who reached enough strangers at all can have a campaign: cluster their
    # messages (all of them, for the unsolicited share), not the whole table
    reach = pl.col("recipient_id").filter(pl.col("unsolicited")).n_unique().over("sender_id")
    candidates = messages.filter(reach >= int(params["min_recipients"]))
    clusters = near_duplicate_clusters(
        candidates.select("message_id", "text"),
        k=int(params["shingle_chars"]),
        num_perm=int(params["num_perm"]),
        bands=int(params["bands"]),
        threshold=float(params["similarity"]),
        seed=ctx.seed,
    )
    clustered = candidates.join(clusters.select("message_id", "cluster_id"), on="message_id")
    campaigns = spam_campaigns(
        clustered,
        min_recipients=int(params["min_recipients"]),
        min_unsolicited_share=float(params["min_unsolicited_share"]),
    )
    if float(params["variant_similarity"]) < float(params["similarity"]):
        clustered = absorb_variants(
            clustered,
            campaigns,
            threshold=float(params["variant_similarity"]),
            k=int(params["shingle_chars"]),
            seed=ctx.seed,
        )
        campaigns = spam_campaigns(
            clustered,
            min_recipients=int(params["min_recipients"]),
            min_unsolicited_share=float(params["min_unsolicited_share"]),
        )
    senders = spam_senders(campaigns, max_evidence=int(params["max_evidence"]))
    examples = messages.join(
        senders.select(message_id="example_id"), on="message_id", how="semi"
    ).select(
        example_id=pl.col("message_id"),
        example=defang(pl.col("text"), max_chars=int(params["example_chars"])),
    )
    senders = (
        senders.join(examples, on="example_id", how="left", maintain_order="left")
        .join(_campaign_groups(campaigns), on="sender_id", how="left", maintain_order="left")
        .join(_reply_rate(messages, senders), on="sender_id", how="left", maintain_order="left")
    )
    n = pl.col("n_recipients")
    c = pl.col("n_campaigns")
    suspend = (n >= params["suspend_at_recipients"]) | (c >= params["suspend_at_campaigns"])
    restrict = (n >= params["restrict_at_recipients"]) | (c >= params["restrict_at_campaigns"])
    action = (
        pl.when(suspend)
        .then(pl.lit("suspend"))
        .when(restrict)
        .then(pl.lit("restrict_buying"))
        .otherwise(pl.lit("warning"))
    )
    # the score follows the ladder, so severity and action agree: warning 0.5-0.7
    # (medium), restrict 0.75-0.85 (high), suspend 0.9-1.0 (critical), rising within a
    # step with the strangers reached
    lo, mid, hi = (
        float(params["min_recipients"]),
        float(params["restrict_at_recipients"]),
        float(params["suspend_at_recipients"]),
    )

    def progress(a: float, b: float) -> pl.Expr:
        return ((n.cast(pl.Float64) - a) / max(b - a, 1.0)).clip(0.0, 1.0)

    score = (
        pl.when(suspend)
        .then(0.9 + 0.1 * progress(hi, 2 * hi))
        .when(restrict)
        .then(0.75 + 0.1 * progress(mid, hi))
        .otherwise(0.5 + 0.2 * progress(lo, mid))
    )
    df = senders.with_columns(
        subject_ids=pl.concat_list(pl.col("sender_id")),
        evidence=evidence("message", pl.col("message_ids")),
        score=score,
        severity=severity_from_score(score),
        recommended_action=action,
        explanation=pl.format(
            "Sender {} sent {} near-duplicate unsolicited message(s) to {} member(s) with whom "
            "they had no order, in {} campaign(s); {}% of the campaigns' copies went to "
            "strangers; largest campaign {} reached {}; {}% of them ever replied. "
            'Example ({}): "{}"',
            pl.col("sender_id"),
            pl.col("n_messages"),
            n,
            c,
            (pl.col("share_unsolicited") * 100).round(0).cast(pl.Int64),
            pl.col("largest_cluster"),
            pl.col("largest_cluster_recipients"),
            (pl.col("reply_rate").fill_null(0.0) * 100).round(0).cast(pl.Int64),
            pl.col("example_id"),
            pl.col("example"),
        ),
        signals=pl.concat_list(
            signal(
                "unsolicited_recipients",
                n,
                threshold=float(params["min_recipients"]),
                contribution=score,
                detail=pl.format("distinct strangers reached; action {}", action),
            ),
            signal("campaigns", c, threshold=float(params["restrict_at_campaigns"])),
            signal(
                "share_unsolicited",
                pl.col("share_unsolicited"),
                threshold=float(params["min_unsolicited_share"]),
            ),
            signal("unsolicited_messages", pl.col("n_messages")),
            signal(
                "largest_cluster_recipients",
                pl.col("largest_cluster_recipients"),
                detail=pl.format("cluster {}", pl.col("largest_cluster")),
            ),
            signal(
                "reply_rate",
                pl.col("reply_rate").fill_null(0.0),
                detail=pl.lit("share of reached strangers who ever wrote back"),
            ),
        ),
    )
    return df
