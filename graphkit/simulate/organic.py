"""Honest trade: orders, payments, feedback, messages, cases, refunds and coupons.

Everything is drawn in whole-array numpy/polars operations. Organic behaviour
is built so that it cannot contain a planted fingerprint:

- an honest buyer has at most one unpaid order (``unpaid_serial`` needs several);
- a case is never opened on an order refunded before it (``case_after_refund``);
- no case follows, between the same buyer and seller, a negative seller rating or
  a refused request (``retaliation_case``);
- an honest buyer has at most one rejected case (``false_claims``);
- no message makes a rating conditional on anything (``feedback_extortion``);
- unsolicited messages are varied one-off pre-sale questions (``spam``);
- coupons are redeemed within validity, ``min_spend`` and the per-account limit.

It still contains the honest look-alikes that make detection hard: households
sharing an address/device/IP, carrier NAT IPs, shared warehouse addresses, fast
growing new sellers, templated (solicited) thank-you messages, perfect 5/5/5/5
ratings, one-off unpaid orders, rejected and refunded cases.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from graphkit.simulate import text as T
from graphkit.simulate.population import Population, draw_items, item_prices
from graphkit.simulate.ratings import honest_ratings
from graphkit.simulate.records import (
    add_cases,
    add_coupons,
    add_feedback,
    add_messages,
    add_orders,
    add_refunds,
    payment_times,
)
from graphkit.simulate.world import DAY, HOUR, World

__all__ = ["make_coupons", "organic_trade", "rating_texts"]

#: Share of honest orders on a store's cheap accessory listings.
ACCESSORY_SHARE = 0.06

_NAMES = np.array(["friend", "Anna", "Carlos", "Olga", "John", "Maria", "Li", "customer", "Sam"])


def rating_texts(rng: np.random.Generator, rating: np.ndarray, share: float) -> pl.Series:
    """Return optional feedback text matching the rating class (null for ``1 - share`` of rows)."""
    n = len(rating)
    templates = [*T.FEEDBACK_POS, *T.FEEDBACK_MID, *T.FEEDBACK_NEG]
    n_pos, n_mid, n_neg = len(T.FEEDBACK_POS), len(T.FEEDBACK_MID), len(T.FEEDBACK_NEG)
    idx = np.where(
        rating >= 4,
        rng.integers(0, n_pos, n),
        np.where(
            rating == 3,
            n_pos + rng.integers(0, n_mid, n),
            n_pos + n_mid + rng.integers(0, n_neg, n),
        ),
    )
    idx = np.where(rng.random(n) < share, idx, -1)
    return pl.Series("text", templates, dtype=pl.String).gather(
        pl.Series(idx).replace(-1, None) if n else pl.Series([], dtype=pl.Int64)
    )


def make_coupons(world: World, pop: Population) -> pl.DataFrame:
    """Issue platform, select and store coupons; return them (internal ids)."""
    rng = world.rng
    org = world.config.organic
    n_pc = max(4, org.days // 8)
    frm = world.uniform_times(n_pc, world.start - 10 * DAY, world.end - 5 * DAY)
    value = rng.choice(np.array([2.0, 3.0, 5.0, 8.0, 10.0]), n_pc)
    add_coupons(
        world,
        np.full(n_pc, -1),
        np.where(rng.random(n_pc) < 0.3, "select", "platform"),
        value,
        np.round(value * rng.uniform(3, 8, n_pc)),
        rng.choice(np.array([1, 1, 1, 2, 3]), n_pc),
        frm,
        frm + world.days(rng.uniform(5, 30, n_pc)),
    )
    k = pop.organic_sellers
    issuing = np.flatnonzero(rng.random(k) < org.store_coupon_seller_share)
    per = rng.integers(1, 4, len(issuing))
    issuer_pos = np.repeat(issuing, per)
    m = len(issuer_pos)
    frm = world.uniform_times(m, world.start - 10 * DAY, world.end - 5 * DAY)
    value = np.round(pop.seller_price[issuer_pos] * rng.uniform(0.05, 0.2, m) + 0.5)
    add_coupons(
        world,
        pop.sellers[issuer_pos],
        np.full(m, "store"),
        value,
        np.round(value * rng.uniform(2, 6, m)),
        np.ones(m, dtype=np.int64),
        frm,
        frm + world.days(rng.uniform(14, 60, m)),
    )
    return world.table("coupons")


def _redeem(
    world: World,
    coupons: pl.DataFrame,
    buyer: np.ndarray,
    seller: np.ndarray,
    created: np.ndarray,
    gross: np.ndarray,
    eligible: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick a coupon valid for each eligible order; return (coupon id or -1, discount or NaN)."""
    rng = world.rng
    n = len(buyer)
    rate = world.config.organic.coupon_rate
    orders = pl.DataFrame(
        {"row": np.arange(n), "buyer": buyer, "seller": seller, "t": created, "gross": gross}
    ).filter(pl.Series(eligible & (rng.random(n) < rate * 2)))
    store = coupons.filter(pl.col("kind") == "store")
    plat = coupons.filter(pl.col("kind") != "store")
    # store coupons: only on the issuing store's orders
    cand_store = orders.join(store, left_on="seller", right_on="issuer", how="inner")
    # platform/select coupons: one random draw per order
    pick = rng.integers(0, max(plat.height, 1), orders.height)
    cand_plat = orders.with_columns(
        pl.Series("cpid", plat["cpid"].gather(pick) if plat.height else [None] * orders.height)
    ).join(plat.drop("issuer"), on="cpid", how="inner")
    cols = [
        "row",
        "buyer",
        "t",
        "gross",
        "cpid",
        "value",
        "min_spend",
        "per_buyer_limit",
        "valid_from",
        "valid_to",
    ]
    cand = pl.concat([cand_store.select(cols), cand_plat.select(cols)])
    cand = cand.with_columns(pl.Series("key", rng.random(cand.height)))
    chosen = (
        cand.filter(
            (pl.col("t") >= pl.col("valid_from"))
            & (pl.col("t") <= pl.col("valid_to"))
            & (pl.col("gross") >= pl.col("min_spend"))
        )
        .sort("row", "key")
        .unique("row", keep="first", maintain_order=True)
        .sort("buyer", "cpid", "t", "row")
        .filter(pl.col("row").cum_count().over("buyer", "cpid") <= pl.col("per_buyer_limit"))
    )
    coupon = np.full(n, -1, dtype=np.int64)
    discount = np.full(n, np.nan)
    rows = chosen["row"].to_numpy()
    coupon[rows] = chosen["cpid"].to_numpy()
    discount[rows] = chosen["value"].to_numpy()
    return coupon, discount


def organic_trade(world: World, pop: Population, n: int, coupons: pl.DataFrame) -> None:
    """Generate ``n`` honest orders and everything that follows from them."""
    if n <= 0:
        return
    rng = world.rng
    org = world.config.organic
    end = world.end

    # ---- who buys from whom -------------------------------------------------------
    sw = pop.seller_weight.copy()
    k = pop.organic_sellers
    sw[:k] *= max(n - sw[k:].sum(), 0.5 * n) / sw[:k].sum()
    bw = pop.buyer_weight.copy()
    kb = pop.organic_buyers
    bw[:kb] *= max(n - bw[kb:].sum(), 0.5 * n) / bw[:kb].sum()
    s_pos = rng.choice(len(sw), n, p=sw / sw.sum())
    b_pos = rng.choice(len(bw), n, p=bw / bw.sum())
    # planted actors' honest activity is with honest sellers only (never another scheme's store)
    both = (b_pos >= kb) & (s_pos >= k)
    if both.any():
        s_pos[both] = pop.sample_sellers(rng, int(both.sum()))
    # loyal fans: some honest buyers buy most of the time from one small favourite store
    fav = pop.buyer_favorite[b_pos]
    loyal = (fav >= 0) & (rng.random(n) < 0.6)
    s_pos[loyal] = fav[loyal]
    seller = pop.sellers[s_pos]
    buyer = pop.buyers[b_pos]
    s_created = pop.seller_created[s_pos]
    lo = np.maximum(s_created, pop.buyer_created[b_pos])
    created = world.order_times(n, lo)
    # honest new sellers grow fast: order density rises after registration
    new = s_created > world.start
    if new.any():
        base = lo[new]
        created[new] = base + ((end - base) * rng.random(int(new.sum())) ** (1 / 3)).astype(
            np.int64
        )
    # flash sales: a few honest sellers sell a quarter of their orders within 12 hours
    flash_at = pop.seller_flash[s_pos]
    flash = (flash_at >= 0) & (rng.random(n) < 0.25)
    created[flash] = np.maximum(
        flash_at[flash] + (rng.random(int(flash.sum())) * 12 * HOUR).astype(np.int64), lo[flash]
    )

    # ---- what and how much --------------------------------------------------------
    item = draw_items(rng, pop, s_pos, ACCESSORY_SHARE)
    qty = 1 + (rng.random(n) < 0.12) * rng.integers(1, 3, n)
    gross = np.round(item_prices(pop, s_pos, item) * qty, 2)

    # ---- payment, cancellation ----------------------------------------------------
    flagged = np.flatnonzero(rng.random(n) < org.unpaid_rate)
    by_time = flagged[np.argsort(created[flagged], kind="stable")]
    _, first = np.unique(buyer[by_time], return_index=True)
    unpaid = np.zeros(n, dtype=bool)
    unpaid[by_time[first]] = True  # at most one unpaid order per honest buyer
    paid_at = payment_times(world, created)
    paid_at = np.where(unpaid, -1, np.minimum(paid_at, end))
    unpaid = paid_at < 0
    cancelled = np.full(n, -1, dtype=np.int64)
    c_unpaid = unpaid & (rng.random(n) < 0.5)
    cancelled[c_unpaid] = created[c_unpaid] + world.days(rng.uniform(1, 10, int(c_unpaid.sum())))
    c_paid = ~unpaid & (rng.random(n) < org.cancel_rate)
    cancelled[c_paid] = paid_at[c_paid] + world.days(rng.uniform(0.05, 2, int(c_paid.sum())))
    cancelled = np.where(cancelled > end, -1, cancelled)
    ok = ~unpaid & (cancelled < 0)  # paid and not cancelled
    # troubled orders (more often at low-quality sellers) get worse ratings and are the
    # ones honest buyers open cases on
    quality = pop.seller_quality[s_pos]
    p_case = org.dispute_rate * (1.0 - quality) / max(float(np.mean(1.0 - quality)), 1e-6)
    troubled = ok & (rng.random(n) < p_case)

    coupon, discount = _redeem(world, coupons, buyer, seller, created, gross, ok)
    amount = np.where(coupon >= 0, gross - np.nan_to_num(discount), gross)
    oid = add_orders(
        world,
        buyer,
        seller,
        created,
        amount,
        paid_at=paid_at,
        item=item,
        cancelled_at=cancelled,
        coupon=coupon,
        discount=discount,
    )
    refunded = np.flatnonzero(c_paid & (cancelled >= 0))
    add_refunds(world, oid[refunded], cancelled[refunded], amount[refunded], "platform")

    # ---- delivery and buyer feedback ----------------------------------------------
    delivery = rng.uniform(1, 4, n) + rng.lognormal(2.1, 0.45, n)  # days
    fb = np.flatnonzero(ok & (rng.random(n) < org.buyer_feedback_rate))
    delay = np.clip(delivery[fb] + rng.exponential(3.0, len(fb)), 3.0, 30.0)
    t_fb = paid_at[fb] + world.days(delay)
    fb, t_fb = fb[t_fb <= end], t_fb[t_fb <= end]
    r = honest_ratings(rng, np.where(troubled[fb], 0.3, 1.0) * quality[fb], delivery[fb])
    add_feedback(
        world,
        oid[fb],
        buyer[fb],
        seller[fb],
        t_fb,
        r,
        dsr=rng.random(len(fb)) >= org.dsr_missing_rate,
        text=rating_texts(rng, r[0], 0.3),
    )

    # ---- seller feedback on buyers ------------------------------------------------
    sf = np.flatnonzero(ok & (rng.random(n) < org.seller_feedback_rate))
    t_sf = paid_at[sf] + world.days(rng.uniform(1, 20, len(sf)))
    sf, t_sf = sf[t_sf <= end], t_sf[t_sf <= end]
    m = len(sf)
    s_rating = rng.choice(np.array([5, 4, 2, 1]), m, p=[0.96, 0.025, 0.005, 0.01]).astype(np.int8)
    s_text = pl.select(
        pl.when(pl.Series(rng.random(m) < 0.2)).then(
            pl.when(pl.Series(s_rating) >= 4)
            .then(T.fill(T.SELLER_POS, T.pick(rng, T.SELLER_POS, m)))
            .otherwise(T.fill(T.SELLER_NEG, T.pick(rng, T.SELLER_NEG, m)))
        )
    ).to_series()
    add_feedback(
        world,
        oid[sf],
        seller[sf],
        buyer[sf],
        t_sf,
        (s_rating, s_rating, s_rating, s_rating),
        dsr=False,
        text=s_text,
    )
    quarrel = sf[s_rating <= 2]

    # ---- messages -----------------------------------------------------------------
    conv = np.flatnonzero(ok & (rng.random(n) < org.message_rate))
    kind = rng.choice(3, len(conv), p=[0.65, 0.27, 0.08])  # question, complaint, request
    q, c, rq = conv[kind == 0], conv[kind == 1], conv[kind == 2]
    t_q = created[q] + world.days(rng.uniform(0, 5, len(q)))
    t_c = paid_at[c] + world.days(delivery[c] + rng.uniform(0, 5, len(c)))
    t_r = paid_at[rq] + world.days(rng.uniform(0, 10, len(rq)))
    for rows, t, ask, reply in (
        (q, t_q, T.BUYER_QUESTIONS, T.SELLER_ANSWERS),
        (c, t_c, T.BUYER_COMPLAINTS, T.SELLER_COMPLAINT_REPLIES),
        (rq, t_r, T.BUYER_REQUESTS, T.REFUSALS),
    ):
        keep = t <= end - 2 * DAY
        rows, t = rows[keep], t[keep]
        mm = len(rows)
        add_messages(
            world, buyer[rows], seller[rows], t, T.fill(ask, T.pick(rng, ask, mm)), oid=oid[rows]
        )
        t2 = t + (rng.uniform(0.5, 36, mm) * HOUR).astype(np.int64)
        add_messages(
            world,
            seller[rows],
            buyer[rows],
            t2,
            T.fill(reply, T.pick(rng, reply, mm)),
            oid=oid[rows],
        )
    refused = rq

    # feedback mentioned without any condition: buyer notes, sellers asking for ratings
    note = np.flatnonzero(ok & (rng.random(n) < 0.02))
    t_note = paid_at[note] + world.days(delivery[note] + rng.uniform(0, 3, len(note)))
    note, t_note = note[t_note <= end], t_note[t_note <= end]
    add_messages(
        world,
        buyer[note],
        seller[note],
        t_note,
        T.fill(T.BUYER_FEEDBACK_NOTES, T.pick(rng, T.BUYER_FEEDBACK_NOTES, len(note))),
        oid=oid[note],
    )
    asking = rng.random(k) < 0.05
    ask = np.flatnonzero(ok & np.isin(s_pos, np.flatnonzero(asking)) & (rng.random(n) < 0.5))
    t_ask = paid_at[ask] + world.days(delivery[ask])
    ask, t_ask = ask[t_ask <= end], t_ask[t_ask <= end]
    add_messages(
        world,
        seller[ask],
        buyer[ask],
        t_ask,
        T.fill(T.SELLER_FEEDBACK_REQUESTS, T.pick(rng, T.SELLER_FEEDBACK_REQUESTS, len(ask))),
        oid=oid[ask],
    )

    # templated thank-you from a few sellers to every paying buyer (solicited bulk)
    thank_sellers = np.flatnonzero(rng.random(k) < org.thank_you_seller_share)
    is_thank = np.isin(s_pos, thank_sellers) & ok
    ty = np.flatnonzero(is_thank)
    t_ty = paid_at[ty] + (rng.uniform(1, 12, len(ty)) * HOUR).astype(np.int64)
    ty, t_ty = ty[t_ty <= end], t_ty[t_ty <= end]
    add_messages(
        world,
        seller[ty],
        buyer[ty],
        t_ty,
        T.fill(
            T.THANK_YOU,
            np.zeros(len(ty), np.int64),
            name=rng.choice(_NAMES, len(ty)),
            ref=oid[ty] % 1_000_000 + 100_000,
        ),
        oid=oid[ty],
    )

    # pre-sale questions without an order (half of them by buyers who then buy)
    ps = rng.choice(n, int(n * org.presale_rate), replace=False) if n > 10 else np.arange(0)
    half = len(ps) // 2
    ps_buyer = buyer[ps].copy()
    ps_seller = seller[ps].copy()
    ps_t = created[ps] - (rng.uniform(1, 72, len(ps)) * HOUR).astype(np.int64)
    # the other half: random buyer asks a random (popularity-weighted) seller, never buys
    other = ps[half:]
    ps_buyer[half:] = pop.buyers[rng.choice(kb, len(other))]
    ps_seller[half:] = pop.sellers[pop.sample_sellers(rng, len(other))]
    keep = ps_t >= np.maximum(world.start, lo[ps])
    mm = int(keep.sum())
    add_messages(
        world,
        ps_buyer[keep],
        ps_seller[keep],
        ps_t[keep],
        T.fill(
            T.PRESALE_QUESTIONS,
            T.pick(rng, T.PRESALE_QUESTIONS, mm),
            country=rng.choice(np.array(["Brazil", "Spain", "Poland", "Israel", "the US"]), mm),
            size=rng.choice(np.array(["S", "M", "L", "XL", "42"]), mm),
            qty=rng.integers(2, 20, mm),
        ),
    )

    # ---- refunds by the seller, then cases ----------------------------------------
    sr = np.flatnonzero(ok & (rng.random(n) < org.seller_refund_rate))
    t_sr = paid_at[sr] + world.days(rng.uniform(2, 30, len(sr)))
    sr, t_sr = sr[t_sr <= end], t_sr[t_sr <= end]
    partial = rng.random(len(sr)) < 0.4
    add_refunds(
        world,
        oid[sr],
        t_sr,
        np.where(partial, amount[sr] * rng.uniform(0.2, 0.6, len(sr)), amount[sr]),
        "seller",
    )

    excluded = pl.DataFrame(
        {
            "buyer": buyer[np.concatenate([quarrel, refused])],
            "seller": seller[np.concatenate([quarrel, refused])],
        }
    ).unique()
    cand = troubled.copy()
    cand[sr] = False  # never a case on an order the seller already refunded
    rows = np.flatnonzero(cand)
    rows = (
        pl.DataFrame({"row": rows, "buyer": buyer[rows], "seller": seller[rows]})
        .join(excluded, on=["buyer", "seller"], how="anti")
        .sort("row")["row"]
        .to_numpy()
    )
    opened = paid_at[rows] + world.days(delivery[rows] + rng.uniform(0, 15, len(rows)))
    rows, opened = rows[opened <= end], opened[opened <= end]
    m = len(rows)
    late = delivery[rows] > 20
    reason = np.where(
        rng.random(m) < np.where(late, 0.7, 0.35),
        "not_received",
        np.where(rng.random(m) < 0.85, "not_as_described", "other"),
    )
    outcome = rng.choice(
        np.array(["refund_buyer", "partial_refund", "rejected", "withdrawn"]),
        m,
        p=[0.42, 0.16, 0.24, 0.18],
    )
    # an honest buyer has at most one rejected case
    rej = np.flatnonzero(outcome == "rejected")
    rej = rej[np.argsort(opened[rej], kind="stable")]
    _, first = np.unique(buyer[rows[rej]], return_index=True)
    later = np.setdiff1d(rej, rej[first])
    outcome[later] = "withdrawn"
    closed = opened + world.days(rng.uniform(2, 20, m))
    still_open = closed > end
    outcome = np.where(still_open, "open", outcome)
    closed = np.where(still_open, -1, closed)
    add_cases(world, oid[rows], buyer[rows], opened, reason, outcome, closed)
    ref = np.flatnonzero((outcome == "refund_buyer") | (outcome == "partial_refund"))
    frac = np.where(outcome[ref] == "refund_buyer", 1.0, rng.uniform(0.3, 0.7, len(ref)))
    add_refunds(world, oid[rows[ref]], closed[ref], amount[rows[ref]] * frac, "case")
