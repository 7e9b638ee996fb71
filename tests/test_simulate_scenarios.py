"""Each planted scenario has its intended statistical fingerprint; organic data has none.

One simulated marketplace with six instances of every scenario is shared by the module.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from graphkit.contract import SCENARIOS
from graphkit.simulate import SimulationConfig, simulate
from graphkit.simulate import text as T

N = 40_000
COUNT = 6
FEEDBACK_WORDS = r"(?i)(feedback|star|review|valoraci|estrella|avalia|отзыв|avis|bewertung)"


@pytest.fixture(scope="module")
def m():
    cfg = SimulationConfig()
    for s in SCENARIOS:
        cfg = cfg.with_scenario(s, count=COUNT)
    return simulate(N, seed=23, config=cfg)


@pytest.fixture(scope="module")
def t(m):
    return m.tables


def _acc(m, scenario):
    return m.labels.filter((pl.col("scenario") == scenario) & (pl.col("entity_kind") == "account"))


def _ent(m, scenario, kind):
    return m.labels.filter((pl.col("scenario") == scenario) & (pl.col("entity_kind") == kind))


def _as_of(t):
    return max(
        t["orders"]["created_at"].max(),
        t["feedback"]["created_at"].max(),
        t["messages"]["sent_at"].max(),
    )


def _labelled_accounts(m):
    return m.labels.filter(pl.col("entity_kind") == "account")["entity_id"].implode()


def _non_hub_links(t):
    """(account_id, other) pairs sharing a device/address/payment/phone or a non-NAT IP."""
    ids = t["identifiers"].with_columns(pl.len().over("kind", "value").alias("holders"))
    ids = ids.filter(pl.col("holders").is_between(2, 20))
    return (
        ids.join(ids, on=["kind", "value"], suffix="_o")
        .filter(pl.col("account_id") != pl.col("account_id_o"))
        .select("account_id", other="account_id_o")
        .unique()
    )


# ----------------------------------------------------------------------------- rings
def _ring_orders(m, t, scenario):
    accounts = _acc(m, scenario)
    sellers = t["accounts"].filter(pl.col("kind") == "seller").select("account_id")
    ring_sellers = accounts.join(sellers, left_on="entity_id", right_on="account_id")
    orders = t["orders"].join(
        _ent(m, scenario, "order").select("entity_id", "group_id"),
        left_on="order_id",
        right_on="entity_id",
    )
    return accounts, ring_sellers, orders


@pytest.mark.parametrize("scenario", ["shill_ring", "camouflage"])
def test_ring_dominates_its_sellers_ratings(m, t, scenario):
    _, ring_sellers, orders = _ring_orders(m, t, scenario)
    assert ring_sellers.height == COUNT
    fb = t["feedback"].filter(pl.col("dsr_item_as_described").is_not_null())
    per_seller = (
        fb.join(ring_sellers.select("entity_id"), left_on="target_id", right_on="entity_id")
        .with_columns(pl.col("order_id").is_in(orders["order_id"].implode()).alias("ring"))
        .group_by("target_id")
        .agg(pl.col("ring").mean().alias("ring_share"))
    )
    assert per_seller.height == COUNT
    assert per_seller["ring_share"].median() > 0.4
    ring_fb = fb.filter(pl.col("order_id").is_in(orders["order_id"].implode()))
    organic_fb = fb.filter(~pl.col("author_id").is_in(_labelled_accounts(m)))
    perfect = (pl.col("rating") == 5) & (pl.col("dsr_item_as_described") == 5)
    assert ring_fb.select(perfect.mean()).item() > 0.7
    assert ring_fb.select(perfect.mean()).item() > organic_fb.select(perfect.mean()).item() + 0.15


def test_shill_ring_small_amounts_burst_new_accounts(m, t):
    cfg = SimulationConfig().shill_ring
    _, ring_sellers, orders = _ring_orders(m, t, "shill_ring")
    honest = (
        t["orders"]
        .join(ring_sellers.select("entity_id"), left_on="seller_id", right_on="entity_id")
        .filter(~pl.col("order_id").is_in(orders["order_id"].implode()))
    )
    assert orders["amount"].median() < 0.6 * honest["amount"].median()
    span = orders.group_by("group_id").agg(pl.col("created_at").max() - pl.col("created_at").min())
    # windows are whole days (times follow the daily cycle inside their day)
    assert span["created_at"].max() <= timedelta(days=cfg.time_spread_days + 1)
    first = orders.group_by("buyer_id").agg(pl.col("created_at").min().alias("first"))
    age = first.join(t["accounts"], left_on="buyer_id", right_on="account_id").select(
        (pl.col("first") - pl.col("created_at")).alias("age")
    )
    # registered at most new_account_days before the ring starts (it lasts time_spread_days),
    # except the aged accounts
    young = (age["age"] <= timedelta(days=cfg.new_account_days + cfg.time_spread_days)).mean()
    assert young >= 1 - cfg.aged_share - 0.2
    assert young < 1.0 or cfg.aged_share == 0
    assert age["age"].median() < timedelta(days=cfg.new_account_days)
    # shill ring buyers spend only on their seller
    buyers = orders["buyer_id"].unique().implode()
    all_orders = t["orders"].filter(pl.col("buyer_id").is_in(buyers))
    assert all_orders["seller_id"].is_in(ring_sellers["entity_id"].implode()).mean() > 0.9


def test_ring_accounts_partly_linked(m, t):
    accounts = _acc(m, "shill_ring")
    links = (
        _non_hub_links(t)
        .join(accounts.select("entity_id", "group_id"), left_on="account_id", right_on="entity_id")
        .join(accounts.select("entity_id", g2="group_id"), left_on="other", right_on="entity_id")
    )
    linked = links.filter(pl.col("group_id") == pl.col("g2"))["account_id"].unique()
    share = linked.len() / accounts.height
    assert 0.3 < share < 0.95  # some linked (to the seller or each other), some not at all


def test_camouflage_accounts_also_buy_honestly(m, t):
    accounts, ring_sellers, orders = _ring_orders(m, t, "camouflage")
    buyers = accounts.join(ring_sellers, on="entity_id", how="anti")["entity_id"].implode()
    mine = t["orders"].filter(pl.col("buyer_id").is_in(buyers))
    camo = mine.filter(~pl.col("order_id").is_in(orders["order_id"].implode()))
    assert camo.height > accounts.height  # several honest-looking purchases per account
    assert not camo["seller_id"].is_in(ring_sellers["entity_id"].implode()).any()
    # camouflage purchases are not labelled
    assert not camo["order_id"].is_in(m.labels["entity_id"].implode()).any()


def test_feedback_trading_accounts_rate_other_sellers_of_their_circle(m, t):
    acc = _acc(m, "feedback_trading")
    orders = t["orders"].join(
        _ent(m, "feedback_trading", "order").select("entity_id", "group_id"),
        left_on="order_id",
        right_on="entity_id",
    )
    member = acc.select("entity_id", g_b="group_id")
    both = orders.join(member, left_on="buyer_id", right_on="entity_id").join(
        acc.select("entity_id", g_s="group_id"), left_on="seller_id", right_on="entity_id"
    )
    assert both.height == orders.height
    assert (both["g_b"] == both["g_s"]).all()
    fb = t["feedback"].filter(pl.col("order_id").is_in(orders["order_id"].implode()))
    by_buyer = fb.filter(pl.col("author_id").is_in(orders["buyer_id"].implode()))
    by_seller = fb.filter(pl.col("author_id").is_in(orders["seller_id"].implode()))
    assert by_buyer.select((pl.col("rating") >= 4).mean()).item() == 1.0
    assert by_seller.height > 0.5 * by_buyer.height  # sellers rate back


def test_dsr_manipulation_perfect_then_refunded(m, t):
    orders = _ent(m, "dsr_manipulation", "order")["entity_id"].implode()
    fb = t["feedback"].filter(pl.col("order_id").is_in(orders))
    perfect = (
        (pl.col("rating") == 5)
        & (pl.col("dsr_item_as_described") == 5)
        & (pl.col("dsr_communication") == 5)
        & (pl.col("dsr_shipping_speed") == 5)
    )
    assert fb.select(perfect.mean()).item() > 0.9
    ref = t["refunds"].join(fb.select("order_id", fb_at="created_at"), on="order_id")
    assert ref.height > 0.6 * fb.height
    assert (ref["refunded_at"] > ref["fb_at"]).all()
    burst = (
        t["orders"]
        .filter(pl.col("order_id").is_in(orders))
        .group_by("seller_id")
        .agg((pl.col("created_at").max() - pl.col("created_at").min()).alias("span"))
    )
    assert burst["span"].max() <= timedelta(days=SimulationConfig().dsr_manipulation.burst_days + 1)


# ----------------------------------------------------------------------------- conduct
def test_extortion_threat_then_feedback(m, t):
    threats = t["messages"].filter(
        pl.col("message_id").is_in(_ent(m, "feedback_extortion", "message")["entity_id"].implode())
    )
    assert threats.height >= COUNT
    assert threats["text"].str.contains(FEEDBACK_WORDS).all()
    assert threats["text"].n_unique() >= min(8, threats.height)  # varied wording
    fb = t["feedback"].join(threats.select("order_id", "sent_at"), on="order_id")
    fb = fb.filter(pl.col("author_id").is_in(_acc(m, "feedback_extortion")["entity_id"].implode()))
    assert fb.height == threats.height
    assert (fb["created_at"] > fb["sent_at"]).all()
    assert (fb["rating"] <= 2).mean() > 0.5  # mostly refused, then punished


def test_threat_wording_varies_across_languages():
    texts = T.compose_threats(np.random.default_rng(4), 400)
    assert texts.n_unique() > 150
    assert texts.str.contains(r"[^\x00-\x7F]").mean() > 0.1  # not only English
    assert texts.str.contains(FEEDBACK_WORDS).all()


def test_organic_messages_mention_feedback_but_never_threaten(m, t):
    planted_orders = m.labels.filter(pl.col("entity_kind") == "order")["entity_id"].implode()
    organic = t["messages"].filter(
        ~pl.col("sender_id").is_in(_labelled_accounts(m))
        & ~pl.col("order_id").fill_null("").is_in(planted_orders)  # victims' replies
    )
    assert organic.height > 1000
    mentions = organic.filter(pl.col("text").str.contains(FEEDBACK_WORDS))
    assert mentions.height > 20  # honest near misses: notes, sellers asking for ratings
    threats = set(
        T.compose_threats(np.random.default_rng(0), 5000).str.replace_all(r"\d+", "N").to_list()
    )
    normalized = set(organic["text"].str.replace_all(r"\d+", "N").to_list())
    assert not normalized & threats
    demand = r"(?i)(unless|otherwise|only if|or I |if you don.t|si no|se n[aã]o|иначе|sinon|sonst)"
    assert not mentions["text"].str.contains(demand).any()


def test_unpaid_serial_vs_organic(m, t):
    cutoff = _as_of(t) - timedelta(days=20)
    unpaid = t["orders"].filter(pl.col("paid_at").is_null())
    per_buyer = unpaid.group_by("buyer_id").agg(
        (pl.col("created_at") < cutoff).sum().alias("overdue"), pl.len().alias("unpaid")
    )
    actors = _acc(m, "unpaid_serial").select("entity_id")
    planted = per_buyer.join(actors, left_on="buyer_id", right_on="entity_id")
    assert planted.height == COUNT
    assert (planted["overdue"] >= 3).all()
    organic = per_buyer.filter(~pl.col("buyer_id").is_in(_labelled_accounts(m)))
    assert organic.height > 50  # honest one-off unpaid orders exist
    assert organic["unpaid"].max() == 1


def test_spam_unsolicited_near_duplicates(m, t):
    spam = t["messages"].filter(
        pl.col("message_id").is_in(_ent(m, "spam", "message")["entity_id"].implode())
    )
    assert spam["order_id"].null_count() == spam.height
    pairs = t["orders"].select(a="buyer_id", b="seller_id")
    pairs = pl.concat([pairs, pairs.select(a="b", b="a")])
    contact = spam.join(pairs, left_on=["sender_id", "recipient_id"], right_on=["a", "b"])
    assert contact.height == 0  # never between parties that traded
    per_sender = spam.group_by("sender_id").agg(
        pl.len().alias("n"), pl.col("text").str.slice(0, 40).n_unique().alias("variants")
    )
    assert (per_sender["n"] >= 40).all()
    assert (per_sender["variants"] > 1).all()  # small variations, not one fixed text
    words = spam.with_columns(pl.col("text").str.split(" ").list.slice(1, 4).list.join(" "))
    shared = words.group_by("sender_id").agg(pl.col("text").mode().first().alias("top"), pl.len())
    assert shared.height == COUNT
    # organic senders never send bulk unsolicited messages
    organic = t["messages"].filter(
        pl.col("order_id").is_null() & ~pl.col("sender_id").is_in(_labelled_accounts(m))
    )
    assert organic.group_by("sender_id").len()["len"].max() <= 5


# ----------------------------------------------------------------------------- cases
def test_case_after_refund_only_planted(m, t):
    first_refund = t["refunds"].group_by("order_id").agg(pl.col("refunded_at").min())
    after = (
        t["disputes"]
        .join(first_refund, on="order_id")
        .filter(pl.col("opened_at") > pl.col("refunded_at"))
    )
    planted = _ent(m, "case_after_refund", "case")["entity_id"]
    assert set(after["case_id"]) == set(planted)
    assert planted.len() >= COUNT


def test_retaliation_follows_negative_feedback_or_refusal(m, t):
    cases = t["disputes"].filter(
        pl.col("case_id").is_in(_ent(m, "retaliation_case", "case")["entity_id"].implode())
    )
    orders = t["orders"].select("order_id", "seller_id")
    neg = (
        t["feedback"]
        .filter(pl.col("rating") <= 2)
        .join(orders, left_on=["order_id", "author_id"], right_on=["order_id", "seller_id"])
    )
    seller_msg = t["messages"].join(
        orders, left_on=["order_id", "sender_id"], right_on=["order_id", "seller_id"]
    )
    triggers = pl.concat(
        [neg.select("order_id", at="created_at"), seller_msg.select("order_id", at="sent_at")]
    )
    c = cases.join(triggers, on="order_id").filter(
        (pl.col("at") < pl.col("opened_at"))
        & (pl.col("opened_at") - pl.col("at") <= timedelta(days=3))
    )
    assert c["case_id"].n_unique() == cases.height
    # organic: no case after a seller's negative feedback on the buyer of that pair
    org_cases = t["disputes"].filter(~pl.col("opened_by").is_in(_labelled_accounts(m)))
    org = org_cases.join(t["orders"].select("order_id", "seller_id"), on="order_id").join(
        neg.join(t["orders"].select("order_id", "buyer_id"), on="order_id").select(
            "buyer_id", seller="author_id", neg_at="created_at"
        ),
        left_on=["opened_by", "seller_id"],
        right_on=["buyer_id", "seller"],
    )
    assert org.filter(pl.col("neg_at") < pl.col("opened_at")).height == 0


def test_false_claims_many_rejected_vs_organic(m, t):
    per = (
        t["disputes"]
        .group_by("opened_by")
        .agg((pl.col("outcome") == "rejected").sum().alias("rejected"), pl.len().alias("cases"))
    )
    orders = t["orders"].group_by("buyer_id").agg(pl.len().alias("orders"))
    per = per.join(orders, left_on="opened_by", right_on="buyer_id")
    planted = per.join(
        _acc(m, "false_claims").select("entity_id"), left_on="opened_by", right_on="entity_id"
    )
    assert planted.height == COUNT
    assert (planted["rejected"] >= 2).all()
    assert (planted["cases"] / planted["orders"]).median() > 0.3
    organic = per.filter(~pl.col("opened_by").is_in(_labelled_accounts(m)))
    assert organic["rejected"].max() <= 1


# ----------------------------------------------------------------------------- coupons
def _redemptions(t):
    return t["orders"].drop_nulls("coupon_id").join(t["coupons"], on="coupon_id")


def test_coupon_multi_account_one_person_many_accounts(m, t):
    acc = _acc(m, "coupon_multi_account")
    ids = t["identifiers"].filter(pl.col("kind").is_in(["device", "payment"]))
    shared = (
        ids.join(acc.select("entity_id", "group_id"), left_on="account_id", right_on="entity_id")
        .group_by("group_id", "kind", "value")
        .agg(pl.col("account_id").n_unique().alias("n"))
        .group_by("group_id", "kind")
        .agg(pl.col("n").max())
    )
    sizes = acc.group_by("group_id").len()
    joined = shared.join(sizes, on="group_id")
    assert (joined["n"] == joined["len"]).all()  # every account holds the person's device/payment
    red = _redemptions(t).filter(
        pl.col("order_id").is_in(_ent(m, "coupon_multi_account", "order")["entity_id"].implode())
    )
    per = red.join(acc.select("entity_id", "group_id"), left_on="buyer_id", right_on="entity_id")
    per = per.group_by("group_id", "coupon_id").agg(pl.len(), pl.col("per_buyer_limit").first())
    assert (per["len"] > per["per_buyer_limit"]).all()


def test_organic_coupons_within_terms(m, t):
    red = _redemptions(t).filter(~pl.col("buyer_id").is_in(_labelled_accounts(m)))
    assert red.height > 100
    assert (red["created_at"] >= red["valid_from"]).all()
    assert (red["created_at"] <= red["valid_to"]).all()
    assert ((red["amount"] + red["discount"]) >= red["min_spend"] - 1e-9).all()
    per_account = red.group_by("buyer_id", "coupon_id").agg(
        pl.len(), pl.col("per_buyer_limit").first()
    )
    assert (per_account["len"] <= per_account["per_buyer_limit"]).all()
    # no honest person (payment instrument) exceeds a per-person limit either
    pay = t["identifiers"].filter(pl.col("kind") == "payment").select("account_id", pay="value")
    per_person = (
        red.join(pay, left_on="buyer_id", right_on="account_id")
        .group_by("pay", "coupon_id")
        .agg(pl.col("order_id").n_unique(), pl.col("per_buyer_limit").first())
    )
    assert (per_person["order_id"] <= per_person["per_buyer_limit"]).all()


def test_coupon_self_dealing_linked_and_out_of_terms(m, t):
    acc = _acc(m, "coupon_self_dealing")
    stores = acc.join(
        t["accounts"].filter(pl.col("kind") == "seller"), left_on="entity_id", right_on="account_id"
    )
    red = _redemptions(t).filter(
        pl.col("order_id").is_in(_ent(m, "coupon_self_dealing", "order")["entity_id"].implode())
    )
    assert (red["issuer_id"] == red["seller_id"]).all()
    assert red["issuer_id"].is_in(stores["entity_id"].implode()).all()
    links = _non_hub_links(t)
    linked = red.join(links, left_on=["buyer_id", "seller_id"], right_on=["account_id", "other"])
    assert linked["order_id"].n_unique() == red.height  # every redeemer is linked to the store
    out = (pl.col("created_at") > pl.col("valid_to")) | (
        pl.col("amount") + pl.col("discount") < pl.col("min_spend")
    )
    assert red.select(out.any()).item()


# ----------------------------------------------------------------------------- organic
def test_organic_ratings_j_shaped_and_dsrs_follow(m, t):
    fb = t["feedback"].filter(
        pl.col("dsr_item_as_described").is_not_null()
        & ~pl.col("author_id").is_in(_labelled_accounts(m))
    )
    share = fb["rating"].value_counts(normalize=True).sort("rating")["proportion"].to_list()
    p1, p2, p3, p4, p5 = share
    assert p5 > p4 > p3
    assert p5 > 0.5
    assert p1 > p2  # the J: more 1s than 2s
    corr = fb.select(pl.corr("rating", "dsr_item_as_described")).item()
    assert corr > 0.5
    sellers = t["feedback"].join(
        t["accounts"].filter(pl.col("kind") == "seller"), left_on="author_id", right_on="account_id"
    )
    assert sellers["dsr_communication"].null_count() == sellers.height


def test_organic_popularity_weekly_cycle_and_hubs(m, t):
    o = t["orders"]
    per_seller = o.group_by("seller_id").len().sort("len", descending=True)
    top = per_seller.head(max(1, per_seller.height // 100))["len"].sum()
    assert top / o.height > 0.1  # Zipf-like concentration
    daily = o.group_by(pl.col("created_at").dt.date().alias("d")).len()
    daily = daily.with_columns(pl.col("d").dt.weekday().alias("wd"))
    weekend = daily.filter(pl.col("wd") >= 6)["len"].mean()
    weekday = daily.filter(pl.col("wd") <= 5)["len"].mean()
    assert weekend > 1.1 * weekday
    holders = t["identifiers"].group_by("kind", "value").len()
    assert holders.filter(pl.col("kind") == "ip")["len"].max() >= 100  # carrier NAT
    houses = holders.filter((pl.col("kind") == "address") & pl.col("len").is_between(2, 4))
    assert houses.height > 20  # honest households


def test_feedback_delays_and_time_order(t):
    fb = t["feedback"].join(t["orders"].select("order_id", "paid_at", "created_at"), on="order_id")
    assert (fb["created_at"] >= fb["created_at_right"]).all()
    delay = (fb["created_at"] - fb["paid_at"]).dt.total_days()
    assert delay.quantile(0.05) >= 1
    assert delay.quantile(0.95) <= 31


def test_new_honest_sellers_grow_fast(m, t):
    start = t["orders"]["created_at"].min()
    new = t["accounts"].filter((pl.col("kind") == "seller") & (pl.col("created_at") > start))
    new = new.filter(~pl.col("account_id").is_in(_labelled_accounts(m)))
    sales = t["orders"].join(new, left_on="seller_id", right_on="account_id")
    per = sales.group_by("seller_id").len()
    median_all = t["orders"].group_by("seller_id").len()["len"].median()
    assert per["len"].max() > 5 * median_all


def test_one_price_per_listing_for_everyone(m, t):
    """Planted orders pay the listed unit price like everybody (amount = price x quantity)."""
    o = t["orders"].filter(pl.col("coupon_id").is_null())
    per_item = o.with_columns(pl.col("amount").min().over("item_id").alias("unit"))
    # quantities are 1-3, so amount / (the listing's smallest amount) is k/j with j, k <= 3
    ratio = per_item["amount"] / per_item["unit"] * 6
    assert ((ratio - ratio.round()).abs() < 1e-6).all()
    planted = m.labels.filter(pl.col("entity_kind") == "order")["entity_id"].implode()
    shared = per_item.group_by("item_id").agg(
        pl.col("order_id").is_in(planted).any().alias("p"),
        (~pl.col("order_id").is_in(planted)).any().alias("h"),
    )
    assert shared.filter(pl.col("p") & pl.col("h")).height > 10  # listings both buy


def test_planted_orders_follow_the_daily_cycle(m, t):
    planted = m.labels.filter(pl.col("entity_kind") == "order")["entity_id"].implode()
    o = t["orders"].with_columns(
        pl.col("order_id").is_in(planted).alias("planted"),
        (pl.col("created_at").dt.hour() < 6).alias("night"),
    )
    share = o.group_by("planted").agg(pl.col("night").mean()).sort("planted")["night"].to_list()
    assert abs(share[0] - share[1]) < 0.06


def test_no_unintended_tells(m, t):
    """Planted and honest records share what is not a designed signal."""
    lab_fb = m.labels.filter(pl.col("entity_kind") == "feedback")
    lab_fb = lab_fb.filter(pl.col("scenario") != "dsr_manipulation")  # DSRs are its point
    buyers_fb = t["feedback"].join(
        t["orders"].select("order_id", "buyer_id"),
        left_on=["order_id", "author_id"],
        right_on=["order_id", "buyer_id"],
    )
    planted = buyers_fb.filter(pl.col("feedback_id").is_in(lab_fb["entity_id"].implode()))
    honest = buyers_fb.filter(~pl.col("author_id").is_in(_labelled_accounts(m)))
    missing = [f["dsr_item_as_described"].is_null().mean() for f in (planted, honest)]
    assert planted.height > 200
    assert abs(missing[0] - missing[1]) < 0.05
    per_acc = t["identifiers"].group_by("account_id").len()
    p_ids = per_acc.filter(pl.col("account_id").is_in(_labelled_accounts(m)))["len"].mean()
    h_ids = per_acc.filter(~pl.col("account_id").is_in(_labelled_accounts(m)))["len"].mean()
    assert abs(p_ids - h_ids) / h_ids < 0.15
