from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from micro_market import MicroMarket
from micro_market import day as _day

from graphkit.evaluate import evaluate
from graphkit.findings import FINDINGS_SCHEMA
from graphkit.io import dataset_from_frames, load_dataset
from graphkit.policy import ScanContext, finalize_findings, get_check

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"

THREAT = "Send me a free second charger, otherwise you get a 1 star review from me."
THREAT_ES = "Si no me haces un descuento del 30%, te dejo una valoración negativa."


class Market(MicroMarket):
    """A micro-marketplace whose :meth:`run` is the FEEDBACK_EXTORTION check."""

    def __init__(self) -> None:
        super().__init__(amount=20.0)

    def run(self, **overrides: object) -> pl.DataFrame:
        return self.check("FEEDBACK_EXTORTION", **overrides)


def test_threat_followed_by_negative_feedback_fires() -> None:
    m = Market()
    oid = m.order("buyer", "store", 0)
    mid = m.say(oid, 3, THREAT)
    fid = m.rate(oid, 6, 1)
    out = m.run()
    assert out["buyer_id"].to_list() == ["buyer"]
    row = out.row(0, named=True)
    assert row["recommended_action"] == "restrict_buying"
    assert row["severity"] == "high"
    assert row["message_ids"] == [mid]
    assert row["negative_ids"] == [fid]
    kinds = {(e["kind"], e["id"]) for e in row["evidence"]}
    assert kinds == {("message", mid), ("order", oid), ("feedback", fid)}
    assert "otherwise" in row["explanation"]
    assert fid in row["explanation"]


def test_threat_without_negative_feedback_is_a_warning() -> None:
    m = Market()
    oid = m.order("buyer", "store", 0)
    m.say(oid, 3, THREAT_ES)
    fid = m.rate(oid, 6, 5)  # the seller gave in
    row = m.run().row(0, named=True)
    assert row["recommended_action"] == "warning"
    assert row["severity"] == "medium"
    assert row["n_negative_after"] == 0
    assert fid in [e["id"] for e in row["evidence"]]


def test_negative_feedback_before_the_threat_does_not_count_as_follow_up() -> None:
    m = Market()
    oid = m.order("buyer", "store", 0)
    m.rate(oid, 2, 1)
    m.say(oid, 3, "Refund me 15 USD and I will remove my negative review.")
    row = m.run().row(0, named=True)
    assert row["n_negative_after"] == 0
    assert row["recommended_action"] == "warning"


@pytest.mark.parametrize(
    "text",
    [
        "Item broken, I will leave honest feedback.",
        "The item is broken, I would like a refund please.",
        "Please send tracking.",
        "If the parcel does not arrive by Monday I will leave negative feedback.",
        "I want a refund or I will open a dispute.",
        "Thanks, all good, 5 stars from me. Any discount on my next order?",
    ],
)
def test_buyer_near_misses_do_not_fire(text: str) -> None:
    m = Market()
    oid = m.order("buyer", "store", 0)
    m.say(oid, 3, text)
    m.rate(oid, 6, 1)
    assert m.run().height == 0


def test_seller_asking_for_good_feedback_does_not_fire() -> None:
    m = Market()
    oid = m.order("buyer", "store", 0)
    m.say(
        oid,
        3,
        "If you like the item please leave 5 stars, we add a free gift next time!",
        from_seller=True,
    )
    m.say(oid, 4, "Free gift if you change your negative review to 5 stars", from_seller=True)
    m.rate(oid, 6, 2)
    assert m.run().height == 0


def test_threat_to_a_seller_without_an_order_is_not_this_rule() -> None:
    m = Market()
    m.order("buyer", "store", 0)
    m.messages.append(
        {
            "message_id": "mx",
            "sender_id": "buyer",
            "recipient_id": "other_store",
            "order_id": None,
            "sent_at": _day(3),
            "text": THREAT,
        }
    )
    assert m.run().height == 0


def test_message_without_order_id_is_attributed_to_the_latest_prior_order() -> None:
    m = Market()
    m.order("buyer", "store", 0)
    second = m.order("buyer", "store", 5)
    later = m.order("buyer", "store", 20)
    m.say(second, 7, THREAT, link=False)
    m.rate(later, 25, 1)  # negative on an order that was not threatened
    row = m.run().row(0, named=True)
    assert row["order_ids"] == [second]
    assert row["n_negative_after"] == 0


def test_repeat_across_sellers_escalates_to_suspend() -> None:
    m = Market()
    for i in range(3):
        oid = m.order("serial", f"store{i}", i)
        m.say(oid, i + 1, [THREAT, THREAT_ES, "Partial refund now or 1 star DSR for you"][i])
        m.rate(oid, i + 4, 1)
    two = Market()
    for i in range(2):
        oid = two.order("twice", "store", i)
        two.say(oid, i + 1, THREAT)
    rows = [m.run().row(0, named=True), two.run().row(0, named=True)]
    assert [r["recommended_action"] for r in rows] == ["suspend", "restrict_buying"]
    assert rows[0]["n_sellers"] == 3
    assert rows[0]["score"] > rows[1]["score"]


def test_plain_refund_demand_is_left_to_review() -> None:
    m = Market()
    oid = m.order("buyer", "store", 0)
    m.say(oid, 3, "The lamp came broken. If you don't refund me I will leave negative feedback.")
    m.rate(oid, 6, 1)
    strong = Market()
    oid2 = strong.order("buyer", "store", 0)
    strong.say(oid2, 3, "If you don't refund me 50% I will leave negative feedback.")
    strong.rate(oid2, 6, 1)
    row, row2 = m.run().row(0, named=True), strong.run().row(0, named=True)
    assert row["recommended_action"] == "review"
    assert "review before acting" in row["explanation"]
    assert row2["recommended_action"] == "restrict_buying"
    assert row["score"] < row2["score"]


def test_refund_after_the_threat_is_reported() -> None:
    m = Market()
    oid = m.order("buyer", "store", 0)
    m.say(oid, 3, THREAT)
    m.refund(oid, 1, 5.0)  # before the threat: not counted
    m.refund(oid, 4, 7.5)
    row = m.run().row(0, named=True)
    assert row["refunded_after"] == 7.5
    assert {s["name"]: s["value"] for s in row["signals"]}["refunded_after_threat"] == 7.5


def test_min_threat_score_is_configurable() -> None:
    m = Market()
    oid = m.order("buyer", "store", 0)
    m.say(oid, 3, "si refund bad note")  # weak cues only: 0.625
    assert m.run().height == 0
    assert m.run(min_threat_score=0.6).height == 0  # three weak cues
    assert m.run(min_threat_score=0.6, max_weak_cues=3).height == 1


def test_findings_are_typed_and_deterministic() -> None:
    m = Market()
    oid = m.order("buyer", "store", 0)
    m.say(oid, 3, THREAT)
    m.rate(oid, 6, 1)
    check = get_check("FEEDBACK_EXTORTION")
    a = finalize_findings(m.run(), check.text())
    b = finalize_findings(m.run(), check.text())
    assert a.equals(b)
    assert dict(a.schema) == FINDINGS_SCHEMA
    assert a["rule_id"].to_list() == ["FEEDBACK_EXTORTION"]
    assert a["subject_ids"].to_list() == [["buyer"]]


def test_sample_dataset_recovers_planted_extortion() -> None:
    ds = load_dataset(SAMPLE)
    ctx = ScanContext(ds)
    check = get_check("FEEDBACK_EXTORTION")
    findings = finalize_findings(check(ctx, ctx.params("FEEDBACK_EXTORTION")), check.text())
    labels = pl.read_parquet(SAMPLE / "labels.parquet")
    row = (
        evaluate(findings, labels)
        .scenarios.filter(pl.col("scenario") == "feedback_extortion")
        .row(0, named=True)
    )
    assert row["true_accounts"] >= 1
    assert row["precision"] >= 0.9
    assert row["recall"] >= 0.9
    assert row["entity_precision"] >= 0.9
    assert row["entity_recall"] >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_simulated_extortion_precision_recall(seed: int) -> None:
    from graphkit.simulate import simulate

    sim = simulate(200_000, seed=seed)
    ds = dataset_from_frames(sim.tables)
    ctx = ScanContext(ds, seed=seed)
    check = get_check("FEEDBACK_EXTORTION")
    findings = finalize_findings(check(ctx, ctx.params("FEEDBACK_EXTORTION")), check.text())
    row = (
        evaluate(findings, sim.labels)
        .scenarios.filter(pl.col("scenario") == "feedback_extortion")
        .row(0, named=True)
    )
    assert row["precision"] >= 0.9
    assert row["recall"] >= 0.9


def test_only_messages_between_the_parties_of_an_order_are_screened_in() -> None:
    from graphkit.policy.extortion import _order_pair_messages, _pair_orders

    orders = pl.LazyFrame(
        {
            "order_id": ["o1", "o2", "o3"],
            "buyer_id": ["b", "b2", "b3"],
            "seller_id": ["s", "s2", "s"],
            "created_at": [_day(0)] * 3,
        }
    )
    msgs = pl.LazyFrame(
        {
            "message_id": ["m1", "m2", "m3", "m4", "m5"],
            "sender_id": ["b", "s", "b", "b2", "b2"],
            "recipient_id": ["s", "b", "s2", "s2", "s"],
        }
    )
    # buyer -> own seller passes; the reverse direction and crossed pairs do not
    pair_orders = _pair_orders(msgs, orders)
    got = _order_pair_messages(msgs, pair_orders).collect()["message_id"].sort().to_list()
    assert got == ["m1", "m4"]
    # the orders kept are those of a messaging (buyer, seller) pair: o3's pair never wrote
    assert pair_orders["order_id"].sort().to_list() == ["o1", "o2"]


def test_threat_to_a_store_only_the_buyers_other_account_traded_with_is_not_this_rule() -> None:
    # the sender traded with another store and the store traded with another buyer: the
    # (sender, recipient) pair itself has no order, so the message is no extortion
    m = Market()
    m.order("buyer", "other_store", 0)
    m.order("someone", "store", 0)
    m.messages.append(
        {
            "message_id": "mx",
            "sender_id": "buyer",
            "recipient_id": "store",
            "order_id": None,
            "sent_at": _day(3),
            "text": THREAT,
        }
    )
    assert m.run().height == 0


def test_buyer_seller_messages_matches_plain_joins_on_random_data() -> None:
    """The hashed one-pass order screen keeps exactly what plain joins on the ids keep."""
    import numpy as np

    from graphkit.policy.extortion import buyer_seller_messages

    rng = np.random.default_rng(5)
    ids = [f"u{i}" for i in range(12)]
    n_o, n_m = 200, 300
    orders = pl.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n_o)],
            "buyer_id": rng.choice(ids, n_o),
            "seller_id": rng.choice(ids, n_o),
            "created_at": [_day(int(d)) for d in rng.integers(0, 30, n_o)],
        }
    )
    named = rng.random(n_m) < 0.5
    # a named message mostly comes from its order's buyer to its seller; some name an
    # unknown order or come from someone else
    k = rng.integers(0, n_o + 20, n_m)
    own = (rng.random(n_m) < 0.7) & (k < n_o)
    kk = np.minimum(k, n_o - 1)
    msgs = pl.DataFrame(
        {
            "message_id": [f"m{i:03d}" for i in range(n_m)],
            "sender_id": np.where(own, orders["buyer_id"].to_numpy()[kk], rng.choice(ids, n_m)),
            "recipient_id": np.where(own, orders["seller_id"].to_numpy()[kk], rng.choice(ids, n_m)),
            "order_id": [f"o{k[i]}" if named[i] else None for i in range(n_m)],
            "sent_at": [_day(int(d)) for d in rng.integers(0, 30, n_m)],
            "text": ["t"] * n_m,
        }
    )
    got = buyer_seller_messages(msgs.lazy(), orders.lazy()).collect()
    # plain: a named message keeps its order when the parties match; an unnamed one
    # takes the pair's latest order created at or before it
    on_order = msgs.join(orders, on="order_id").filter(
        (pl.col("sender_id") == pl.col("buyer_id"))
        & (pl.col("recipient_id") == pl.col("seller_id"))
    )
    loose = (
        msgs.filter(pl.col("order_id").is_null())
        .drop("order_id")
        .join(orders, left_on=["sender_id", "recipient_id"], right_on=["buyer_id", "seller_id"])
        .filter(pl.col("created_at") <= pl.col("sent_at"))
        .sort("created_at", "order_id")
        .group_by("message_id")
        .agg(pl.col("order_id").last(), pl.col("created_at").last())
    )
    assert (
        got.filter(pl.col("message_id").is_in(on_order["message_id"].implode()))[
            "order_id"
        ].to_list()
        == on_order.sort("message_id")["order_id"].to_list()
    )
    got_loose = got.join(loose.select("message_id"), on="message_id", how="semi")
    assert got_loose.height == loose.height > 5
    assert on_order.height > 5
    assert got.height == on_order.height + loose.height
