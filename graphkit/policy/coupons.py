"""``COUPON_ABUSE``: per-person limits dodged through linked accounts, self-dealing, out of terms.

Three patterns, each its own finding:

- *multi-account*: accounts tied by strong identifiers (device, payment) form
  one *person*; a person redeeming a coupon more often than its
  ``per_buyer_limit`` through several accounts circumvents the per-person limit;
- *self-dealing*: a coupon redeemed on an order to the redeemer's own or a
  linked store (buyer and seller share identifiers);
- *out of terms*: redemptions outside the coupon's validity or below its
  ``min_spend``.

Grouping accounts into persons is a whole-graph stage (connected components
of the identity graph in igraph's C core); everything else is per coupon /
per person polars.

Examples
--------
>>> import polars as pl
>>> links = pl.DataFrame({"account_a": ["a1", "a2"], "account_b": ["a2", "a3"]})
>>> linked_persons(links).sort("account_id")["person_id"].to_list()
['a1', 'a1', 'a1']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from graphkit.policy.context import ScanContext
from graphkit.policy.registry import Threshold, escalate, evidence, register, signal

__all__ = [
    "check_coupon_abuse",
    "coupon_redemptions",
    "linked_persons",
    "multi_account_redemptions",
    "out_of_terms_redemptions",
    "self_dealing_redemptions",
]

THRESHOLDS = (
    Threshold(
        "person_kinds",
        "device,payment",
        "a shared device or payment instrument means one person; a shared address or IP "
        "is a household or a network, not a person",
    ),
    Threshold(
        "min_excess",
        2,
        "one redemption over the limit is what a household sharing a device produces; "
        "farming accounts exceeds it repeatedly",
    ),
    Threshold(
        "min_self_dealing_weight",
        0.0,
        "any identity link between buyer and store counts (hubs are already capped upstream)",
    ),
    Threshold("suspend_at", 4, "four redemptions over the limit are a deliberate scheme"),
    Threshold(
        "spend_tolerance",
        0.01,
        "money rounding: a subtotal within one cent of min_spend meets it",
    ),
)


def linked_persons(links: pl.DataFrame) -> pl.DataFrame:
    """Group linked accounts into persons (connected components of the links).

    Parameters
    ----------
    links
        ``account_a, account_b`` pairs (already filtered to the kinds that identify a person).

    Returns
    -------
    DataFrame
        ``account_id, person_id`` for every account in a link; ``person_id`` is the
        smallest account id of its component (deterministic).
    """
    import igraph as ig

    ids = (
        pl.concat([links["account_a"], links["account_b"]])
        .unique()
        .sort()
        .to_frame("account_id")
        .with_row_index("vid")
    )
    if ids.height == 0:
        return pl.DataFrame(schema={"account_id": pl.String, "person_id": pl.String})
    e = (
        links.select("account_a", "account_b")
        .join(ids.rename({"account_id": "account_a", "vid": "a"}), on="account_a")
        .join(ids.rename({"account_id": "account_b", "vid": "b"}), on="account_b")
    )
    edges = np.column_stack([e["a"].to_numpy(), e["b"].to_numpy()]).astype(np.int64)
    g = ig.Graph(n=ids.height, edges=edges, directed=False)
    membership = np.asarray(g.connected_components().membership, dtype=np.int64)
    return (
        ids.with_columns(comp=pl.Series(membership))
        .with_columns(person_id=pl.col("account_id").min().over("comp"))
        .select("account_id", "person_id")
    )


def coupon_redemptions(orders: pl.LazyFrame, coupons: pl.LazyFrame) -> pl.LazyFrame:
    """Orders that redeemed a coupon, with the coupon's terms."""
    cols = ["order_id", "buyer_id", "seller_id", "amount", "created_at", "coupon_id"]
    has_discount = "discount" in orders.collect_schema().names()
    if has_discount:
        cols.append("discount")
    red = orders.filter(pl.col("coupon_id").is_not_null()).select(cols)
    if not has_discount:
        red = red.with_columns(discount=pl.lit(None, dtype=pl.Float64))
    return red.join(
        coupons.select(
            "coupon_id",
            "issuer_id",
            pl.col("kind").alias("coupon_kind"),
            "value",
            "min_spend",
            "per_buyer_limit",
            "valid_from",
            "valid_to",
        ),
        on="coupon_id",
        how="inner",
    )


def out_of_terms_redemptions(red: pl.LazyFrame, *, spend_tolerance: float = 0.01) -> pl.LazyFrame:
    """Redemptions outside the validity window or below ``min_spend``.

    The spend compared with ``min_spend`` is the subtotal before the coupon
    (``amount + discount``; the coupon ``value`` when ``discount`` is null).
    """
    subtotal = pl.col("amount") + pl.coalesce(pl.col("discount"), pl.col("value"))
    early = pl.col("created_at") < pl.col("valid_from")
    late = pl.col("created_at") > pl.col("valid_to")
    below = subtotal + spend_tolerance < pl.col("min_spend")
    # (the text pieces are built as plain columns first: a string function inside a
    # when/then panics in polars 2.1 on some inputs)
    return (
        red.with_columns(subtotal=subtotal, early=early, late=late, below=below)
        .filter(early | late | below)
        .with_columns(
            _below_txt=pl.format(
                "subtotal {} below min_spend {}", pl.col("subtotal").round(2), "min_spend"
            )
        )
        .with_columns(
            why=pl.concat_list(
                pl.when("early").then(pl.lit("before valid_from")),
                pl.when("late").then(pl.lit("after valid_to")),
                pl.when("below").then(pl.col("_below_txt")),
            )
            .list.drop_nulls()
            .list.join(", ")
        )
        .drop("_below_txt")
    )


def multi_account_redemptions(
    red: pl.LazyFrame, persons: pl.DataFrame, *, min_excess: int = 2
) -> pl.LazyFrame:
    """Per person and coupon: redemptions beyond the per-person limit across several accounts."""
    return (
        red.join(persons.lazy(), left_on="buyer_id", right_on="account_id", how="inner")
        .group_by("person_id", "coupon_id")
        .agg(
            n=pl.len().cast(pl.Int64),
            n_accounts=pl.col("buyer_id").n_unique().cast(pl.Int64),
            limit=pl.col("per_buyer_limit").first().cast(pl.Int64),
            account_ids=pl.col("buyer_id").unique().sort(),
            order_ids=pl.col("order_id").sort(),
            first_seen=pl.col("created_at").min(),
            last_seen=pl.col("created_at").max(),
        )
        .with_columns(excess=pl.col("n") - pl.col("limit"))
        .filter((pl.col("n_accounts") >= 2) & (pl.col("excess") >= min_excess))
    )


def self_dealing_redemptions(
    red: pl.LazyFrame, links: pl.DataFrame, *, min_weight: float = 0.0
) -> pl.LazyFrame:
    """Redemptions on orders whose buyer shares identifiers with the seller (or the issuer)."""
    lk = (
        links.lazy().filter(pl.col("weight") > min_weight).select("account_a", "account_b", "kinds")
    )
    pairs = pl.concat(
        [
            lk,
            lk.select(
                pl.col("account_b").alias("account_a"),
                pl.col("account_a").alias("account_b"),
                "kinds",
            ),
        ]
    )
    return red.join(
        pairs,
        left_on=["buyer_id", "seller_id"],
        right_on=["account_a", "account_b"],
        how="inner",
    ).with_columns(link_kinds=pl.col("kinds").list.sort().list.join("+"))


def _persons(ctx: ScanContext, kinds: list[str]) -> pl.DataFrame:
    links = ctx.identity_links.filter(
        pl.col("kinds").list.eval(pl.element().is_in(kinds)).list.any()
    )
    return linked_persons(links)


def _redemptions(ctx: ScanContext) -> pl.DataFrame:
    """Return :func:`coupon_redemptions` of the scan's tables, collected once per scan.

    Read through :meth:`ScanContext.lazy` (the columns used only, nothing kept), so the
    scan's second thread can collect them while group detection runs (the prefetch).
    """

    def compute() -> pl.DataFrame:
        # rechunked: polars 2.1 string formatting can panic on multi-chunk filtered columns
        return coupon_redemptions(ctx.lazy("orders"), ctx.lazy("coupons")).collect().rechunk()

    return ctx.shared("COUPON_ABUSE redemptions", compute)


def _prefetch_coupon_abuse(ctx: ScanContext, params: Mapping[str, Any]) -> None:
    _redemptions(ctx)


@register(
    rule_id="COUPON_ABUSE",
    tables=("orders", "coupons"),
    signals=("identity",),
    optional_tables=("identifiers",),
    thresholds=THRESHOLDS,
    prefetch=_prefetch_coupon_abuse,
)
def check_coupon_abuse(ctx: ScanContext, params: Mapping[str, Any]) -> pl.DataFrame:
    """Flag per-person limits dodged through linked accounts, self-dealing and out-of-terms use.

    Examples
    --------
    >>> check_coupon_abuse.signals
    ('identity',)
    """
    red = _redemptions(ctx).lazy()
    kinds = [k.strip() for k in str(params["person_kinds"]).split(",") if k.strip()]
    persons = _persons(ctx, kinds)
    parts = []

    # 1. per-person limit circumvented through linked accounts
    multi = multi_account_redemptions(red, persons, min_excess=int(params["min_excess"]))
    per_person = (
        multi.sort("coupon_id")
        .group_by("person_id")
        .agg(
            subject_ids=pl.col("account_ids").list.explode(keep_nulls=False, empty_as_null=False),
            coupon_ids=pl.col("coupon_id"),
            order_ids=pl.col("order_ids").list.explode(keep_nulls=False, empty_as_null=False),
            excess=pl.col("excess").sum(),
            n=pl.col("n").sum(),
            n_accounts=pl.col("n_accounts").max(),
            details=pl.format(
                "coupon {} redeemed {} times by {} accounts (limit {} per person)",
                "coupon_id",
                "n",
                "n_accounts",
                "limit",
            )
            .head(5)
            .str.join("; "),
            first_seen=pl.col("first_seen").min(),
            last_seen=pl.col("last_seen").max(),
        )
    )
    act, sev = escalate(
        pl.col("excess"),
        [(params["suspend_at"], "suspend", "high")],
        default=("restrict_buying", "medium"),
    )
    # rounded: polars evaluates pow on a scalar and on a column differently in the last bit
    score = (0.6 + 0.4 * (1.0 - 0.7 ** (pl.col("excess") - 1).cast(pl.Float64))).round(6)
    parts.append(
        per_person.with_columns(
            evidence=pl.concat_list(
                evidence("coupon", pl.col("coupon_ids")), evidence("order", pl.col("order_ids"))
            ),
            score=score,
            recommended_action=act,
            severity=sev,
            explanation=pl.format(
                "{} accounts sharing {} identifiers act as one person and redeemed coupons {} "
                "time(s) beyond the per-person limit: {}.",
                "n_accounts",
                pl.lit(" or ".join(kinds)),
                "excess",
                "details",
            ),
            signals=pl.concat_list(
                signal(
                    "redemptions_over_limit",
                    "excess",
                    threshold=float(params["min_excess"]),
                    contribution=score,
                ),
                signal("linked_accounts", "n_accounts", threshold=2.0),
            ),
            pattern=pl.lit("multi_account"),
        )
    )

    # 2. self-dealing: redeemed on an order to the redeemer's own or linked store
    selfd = self_dealing_redemptions(
        red, ctx.identity_links, min_weight=float(params["min_self_dealing_weight"])
    )
    per_store = (
        selfd.sort("created_at", "order_id")
        .group_by("seller_id")
        .agg(
            buyers=pl.col("buyer_id").unique().sort(),
            coupon_ids=pl.col("coupon_id").unique().sort(),
            order_ids=pl.col("order_id"),
            n=pl.len().cast(pl.Int64),
            discount=pl.coalesce(pl.col("discount"), pl.col("value")).sum(),
            kinds=pl.col("link_kinds").unique().sort().str.join(", "),
            first_seen=pl.col("created_at").min(),
            last_seen=pl.col("created_at").max(),
        )
    )
    score2 = (0.7 + 0.3 * (1.0 - 0.7 ** (pl.col("n") - 1).cast(pl.Float64))).round(6)
    parts.append(
        per_store.with_columns(
            subject_ids=pl.concat_list(pl.col("seller_id"), pl.col("buyers")),
            evidence=pl.concat_list(
                evidence("coupon", pl.col("coupon_ids")), evidence("order", pl.col("order_ids"))
            ),
            score=score2,
            recommended_action=pl.lit("suspend"),
            severity=pl.lit("high"),
            explanation=pl.format(
                "Store {} received {} coupon redemption(s) worth {} from {} account(s) that share "
                "identifiers with it ({}): coupons redeemed on orders to the redeemer's own or "
                "linked store.",
                "seller_id",
                "n",
                pl.col("discount").round(2),
                pl.col("buyers").list.len(),
                "kinds",
            ),
            signals=pl.concat_list(
                signal("self_dealing_redemptions", "n", threshold=1.0, contribution=score2),
                signal("discount_value", "discount"),
            ),
            pattern=pl.lit("self_dealing"),
        )
    )

    # 3. redemptions outside validity or below min_spend
    oot = out_of_terms_redemptions(red, spend_tolerance=float(params["spend_tolerance"]))
    per_buyer = (
        oot.sort("created_at", "order_id")
        .group_by("buyer_id")
        .agg(
            coupon_ids=pl.col("coupon_id").unique().sort(),
            order_ids=pl.col("order_id"),
            n=pl.len().cast(pl.Int64),
            details=pl.format("order {} with coupon {}: {}", "order_id", "coupon_id", "why")
            .head(5)
            .str.join("; "),
            first_seen=pl.col("created_at").min(),
            last_seen=pl.col("created_at").max(),
        )
    )
    score3 = (0.5 + 0.4 * (1.0 - 0.7 ** (pl.col("n") - 1).cast(pl.Float64))).round(6)
    act3, sev3 = escalate(
        pl.col("n"), [(3, "restrict_buying", "medium")], default=("warning", "low")
    )
    parts.append(
        per_buyer.with_columns(
            subject_ids=pl.concat_list("buyer_id"),
            evidence=pl.concat_list(
                evidence("coupon", pl.col("coupon_ids")), evidence("order", pl.col("order_ids"))
            ),
            score=score3,
            recommended_action=act3,
            severity=sev3,
            explanation=pl.format(
                "Buyer {} redeemed coupons outside their terms {} time(s): {}.",
                "buyer_id",
                "n",
                "details",
            ),
            signals=pl.concat_list(
                signal("out_of_terms_redemptions", "n", threshold=1.0, contribution=score3)
            ),
            pattern=pl.lit("out_of_terms"),
        )
    )
    cols = [
        "pattern",
        "subject_ids",
        "evidence",
        "score",
        "severity",
        "recommended_action",
        "explanation",
        "signals",
        "first_seen",
        "last_seen",
    ]
    # each part collected on its own and concatenated eagerly: the lazy concat of these
    # list/struct-heavy parts once hit a polars 2.1 engine assertion (``i < self.len()``)
    frames = pl.collect_all([p.select(cols) for p in parts])
    return pl.concat(frames, how="vertical", rechunk=True)
