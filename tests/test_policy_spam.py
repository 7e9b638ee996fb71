from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from micro_market import T0, MicroMarket
from micro_market import day as _day

from graphkit.evaluate import evaluate
from graphkit.findings import FINDINGS_SCHEMA
from graphkit.io import dataset_from_frames, load_dataset
from graphkit.policy import ScanContext, finalize_findings, get_check
from graphkit.policy.spam import defang, spam_campaigns, spam_senders, unsolicited_messages

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"

PROMO = "Hello {n}! Best replica sneakers & bags, 70% off this week only, see shop-{c} now"
SHIPPED = "Hi {n}, your order {c} has shipped today. Thank you for buying from our store!"


class Market(MicroMarket):
    """A micro-marketplace whose :meth:`run` is the COMM_SPAM check."""

    def __init__(self) -> None:
        super().__init__(amount=10.0)

    def run(self, **overrides: object) -> pl.DataFrame:
        return self.check("COMM_SPAM", **overrides)


def _spam(m: Market, sender: str, n: int, *, day: float = 1.0, prefix: str = "x") -> list[str]:
    """``sender`` writes the promo, with small edits, to ``n`` strangers."""
    ids = []
    for i in range(n):
        text = PROMO.format(n=f"{prefix}friend{i}", c=f"{i * 37 % 1000:03d}")
        if i % 4 == 1:
            text = text.replace("Best", "BEST").replace("now", "now!!")
        if i % 4 == 2:
            text = text.replace("sneakers", "snaekers")
        ids.append(m.message(sender, f"{prefix}stranger{i}", day + i / 100, text))
    return ids


def test_bulk_unsolicited_near_duplicates_fire() -> None:
    m = Market()
    ids = _spam(m, "spammer", 12)
    out = m.run()
    assert out["sender_id"].to_list() == ["spammer"]
    row = out.row(0, named=True)
    assert sorted(row["message_ids"]) == ids
    assert row["n_recipients"] == 12
    assert row["n_campaigns"] == 1
    assert row["share_unsolicited"] == 1.0
    assert row["recommended_action"] == "warning"
    assert "12 member(s)" in row["explanation"]
    assert "Best replica sneakers" in row["explanation"]
    names = [s["name"] for s in row["signals"]]
    assert names[:3] == ["unsolicited_recipients", "campaigns", "share_unsolicited"]


def test_loose_variants_of_a_flagged_campaign_join_it() -> None:
    m = Market()
    ids = [
        m.message("spammer", f"x{i}", 1, PROMO.format(n="friend", c=f"{i:03d}")) for i in range(12)
    ]
    # Jaccard ~0.4 to the template: below `similarity`, above `variant_similarity`
    variant = "Yo!! replica sneakers + bags 70% off, this week only -> www.kqzvtrplm/xhwq code K"
    v = m.message("spammer", "y0", 2, variant)
    # the same loose variant from a sender with no campaign is not evidence of anything
    m.message("bystander", "y1", 2, variant)
    out = m.run()
    assert out["sender_id"].to_list() == ["spammer"]
    assert sorted(out["message_ids"][0]) == sorted([*ids, v])
    assert out["n_recipients"][0] == 13
    disabled = m.run(variant_similarity=0.5)
    assert sorted(disabled["message_ids"][0]) == ids


def test_just_under_the_recipient_threshold_does_not_fire() -> None:
    m = Market()
    _spam(m, "spammer", 9)
    assert m.run().height == 0


def test_seller_order_notifications_to_own_buyers_do_not_fire() -> None:
    m = Market()
    for i in range(30):
        oid = m.order(f"buyer{i}", "store", day=i)
        m.message("store", f"buyer{i}", i + 0.5, SHIPPED.format(n=f"buyer{i}", c=oid), oid)
    assert m.run().height == 0


def test_notification_before_the_order_is_unsolicited() -> None:
    # the same template sent to 30 members *before* they ever ordered: spam
    m = Market()
    for i in range(30):
        m.message("store", f"buyer{i}", i, SHIPPED.format(n=f"buyer{i}", c=f"{i:05d}"))
        m.order(f"buyer{i}", "store", day=i + 1)
    out = m.run()
    assert out["sender_id"].to_list() == ["store"]


def test_replies_to_a_seller_the_member_bought_from_are_solicited() -> None:
    # buyers write the same question to the seller they bought from (either direction)
    m = Market()
    for i in range(15):
        m.order(f"buyer{i}", "store", day=0)
        m.message("store", f"buyer{i}", 2, PROMO.format(n=i, c=i))
    assert m.run().height == 0


def test_store_answering_presale_questions_with_one_template_does_not_fire() -> None:
    m = Market()
    answer = "Hello {n}, yes we ship worldwide, delivery takes 10-20 days. Thank you!"
    for i in range(30):
        m.message(f"asker{i}", "store", i, f"Do you ship to country number {i}?")
        m.message("store", f"asker{i}", i + 0.1, answer.format(n=f"asker{i}"))
    assert m.run().height == 0
    # the same template sent to 30 members who never wrote first is spam
    spam = Market()
    for i in range(30):
        spam.message("store", f"asker{i}", i + 0.1, answer.format(n=f"asker{i}"))
    assert spam.run()["sender_id"].to_list() == ["store"]
    # and with replies counted as unsolicited (strictly the order-based definition)
    assert m.run(replies_solicited=False)["sender_id"].to_list() == ["store"]


def test_same_presale_question_to_a_few_stores_does_not_fire() -> None:
    m = Market()
    for i in range(4):
        m.message("shopper", f"store{i}", 1 + i / 10, "Hi, do you ship this lamp to Canada?")
    assert m.run().height == 0


def test_many_different_messages_to_strangers_are_not_bulk() -> None:
    questions = [
        "Is the oak desk still available?",
        "Do you ship to Norway, and how long does it take?",
        "What is the battery life of this model?",
        "Can I pay with bank transfer?",
        "Hola, tienen la talla 42 en negro?",
        "Does the jacket run small? I am usually a medium.",
        "Is the warranty valid in Europe?",
        "How many pieces come in one pack of screws?",
        "Bonjour, le colis est-il suivi ?",
        "Could you combine shipping for three lamps?",
        "Is this charger compatible with a 2019 laptop?",
        "What material is the strap made of?",
    ]
    m = Market()
    for i, q in enumerate(questions):
        m.message("curious", f"store{i}", 1 + i / 10, q)
    assert m.run().height == 0


def test_mostly_solicited_template_respects_the_share_threshold() -> None:
    m = Market()
    for i in range(20):
        oid = m.order(f"buyer{i}", "store", day=0)
        m.message("store", f"buyer{i}", 1, PROMO.format(n=i, c=i), oid)
    for i in range(10):
        m.message("store", f"stranger{i}", 1, PROMO.format(n=i, c=i))
    assert m.run().height == 0  # 10 of 30 copies unsolicited < 0.5
    out = m.run(min_unsolicited_share=0.3)
    assert out["n_recipients"].to_list() == [10]


@pytest.mark.parametrize(
    ("n", "campaigns", "action"),
    [
        (12, 1, "warning"),
        (60, 1, "restrict_buying"),
        (12, 2, "restrict_buying"),
        (210, 1, "suspend"),
        (12, 3, "suspend"),
    ],
)
def test_escalation_ladder(n: int, campaigns: int, action: str) -> None:
    m = Market()
    texts = [
        PROMO,
        "Earn 500 USD a day from home, no experience needed, write to jobs{c} {n}",
        "Cheap followers and five star reviews for your shop, contact agency{c} {n}",
    ]
    for c in range(campaigns):
        for i in range(n):
            m.message("spammer", f"s{c}_{i}", 1 + c, texts[c].format(n=f"pal{i}", c=i))
    out = m.run()
    assert out["recommended_action"].to_list() == [action]
    assert out["n_campaigns"].to_list() == [campaigns]
    severity = {"warning": "medium", "restrict_buying": "high", "suspend": "critical"}
    assert out["severity"].to_list() == [severity[action]]


def test_score_grows_with_volume() -> None:
    small, big = Market(), Market()
    _spam(small, "spammer", 12)
    _spam(big, "spammer", 80)
    assert big.run()["score"][0] > small.run()["score"][0] >= 0.5


def test_senders_sharing_a_campaign_get_one_group() -> None:
    m = Market()
    _spam(m, "bot1", 12, prefix="a")
    _spam(m, "bot2", 11, prefix="b")
    _spam(m, "loner", 10, prefix="c")
    m.message("loner", "q", 1, "completely different text about used bicycles for sale")
    out = m.run().sort("sender_id")
    groups = dict(zip(out["sender_id"], out["group_id"], strict=True))
    assert groups["bot1"] == groups["bot2"] == groups["loner"]
    assert groups["bot1"].startswith("G-spam_campaign-")


def test_findings_are_typed_and_deterministic() -> None:
    m = Market()
    _spam(m, "spammer", 15)
    check = get_check("COMM_SPAM")
    a = finalize_findings(m.run(), check.text())
    b = finalize_findings(m.run(), check.text())
    assert a.equals(b)
    assert dict(a.schema) == FINDINGS_SCHEMA
    row = a.row(0, named=True)
    assert row["rule_id"] == "COMM_SPAM"
    assert row["subject_ids"] == ["spammer"]
    assert len(row["evidence_ids"]) == 15
    assert {e["kind"] for e in row["evidence"]} == {"message"}


def test_not_evaluated_without_messages(tiny: dict[str, pl.DataFrame]) -> None:
    del tiny["messages"]
    ds = dataset_from_frames(tiny)
    assert get_check("COMM_SPAM").not_evaluated_reason(ds) == "not evaluated (no messages table)"


def test_unsolicited_is_judged_at_send_time_in_both_directions() -> None:
    orders = pl.LazyFrame({"buyer_id": ["b"], "seller_id": ["s"], "created_at": [_day(5)]})
    msgs = pl.LazyFrame(
        {
            "message_id": ["before", "at", "after", "reverse", "other"],
            "sender_id": ["s", "s", "s", "b", "s"],
            "recipient_id": ["b", "b", "b", "s", "c"],
            "sent_at": [_day(4), _day(5), _day(6), _day(6), _day(6)],
        }
    )
    out = unsolicited_messages(msgs, orders).collect()
    assert out["unsolicited"].to_list() == [True, False, False, False, True]


def test_flagged_senders_copies_in_anothers_campaign_are_kept() -> None:
    rows = (
        [("A", "c1", f"a{i}") for i in range(12)]
        + [("B", "c2", f"b{i}") for i in range(11)]
        + [("B", "c1", f"bx{i}") for i in range(3)]
        + [("C", "c1", f"cx{i}") for i in range(3)]  # C is not flagged on its own
    )
    msgs = pl.DataFrame(
        {
            "sender_id": [r[0] for r in rows],
            "cluster_id": [r[1] for r in rows],
            "message_id": [r[2] for r in rows],
            "recipient_id": [f"r{i}" for i in range(len(rows))],
            "sent_at": [T0] * len(rows),
            "unsolicited": [True] * len(rows),
        }
    )
    camp = spam_campaigns(msgs)
    assert camp.select("sender_id", "cluster_id", "own_campaign").rows() == [
        ("A", "c1", True),
        ("B", "c1", False),
        ("B", "c2", True),
    ]
    senders = spam_senders(camp)
    b = senders.filter(pl.col("sender_id") == "B").row(0, named=True)
    assert b["n_campaigns"] == 1
    assert b["n_recipients"] == 14
    assert b["largest_cluster"] == "c2"
    assert len(b["message_ids"]) == 14


def test_defang_makes_text_inert() -> None:
    raw = '<script>alert("x")</script>\u202e\u200bhi\n\nthere ' + "y" * 200
    got = pl.select(defang(pl.lit(raw), max_chars=60)).item()
    assert "<" not in got
    assert ">" not in got
    assert "\u202e" not in got
    assert "\n" not in got
    assert len(got) == 60
    assert got.endswith("…")


def test_sample_dataset_recovers_planted_spam() -> None:
    ds = load_dataset(SAMPLE)
    ctx = ScanContext(ds)
    check = get_check("COMM_SPAM")
    findings = finalize_findings(check(ctx, ctx.params("COMM_SPAM")), check.text())
    labels = pl.read_parquet(SAMPLE / "labels.parquet")
    row = (
        evaluate(findings, labels).scenarios.filter(pl.col("scenario") == "spam").row(0, named=True)
    )
    assert row["true_accounts"] >= 1
    assert row["precision"] >= 0.9
    assert row["recall"] >= 0.9
    assert row["entity_precision"] >= 0.9
    assert row["entity_recall"] >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_simulated_spam_precision_recall(seed: int) -> None:
    from graphkit.simulate import simulate

    sim = simulate(200_000, seed=seed)
    ds = dataset_from_frames(sim.tables)
    ctx = ScanContext(ds, seed=seed)
    check = get_check("COMM_SPAM")
    findings = finalize_findings(check(ctx, ctx.params("COMM_SPAM")), check.text())
    row = (
        evaluate(findings, sim.labels)
        .scenarios.filter(pl.col("scenario") == "spam")
        .row(0, named=True)
    )
    assert row["precision"] >= 0.9
    assert row["recall"] >= 0.9


def test_unsolicited_matches_a_plain_pair_join_on_random_data() -> None:
    """The hashed pair screen gives what joining every order on its unordered pair gives."""
    import numpy as np

    rng = np.random.default_rng(7)
    ids = [f"u{i}" for i in range(40)]
    n_o, n_m = 400, 300
    ob, os_ = rng.choice(ids, n_o), rng.choice(ids, n_o)
    orders = pl.LazyFrame(
        {
            "buyer_id": ob,
            "seller_id": os_,
            "created_at": [_day(int(d)) for d in rng.integers(1, 20, n_o)],
        }
    ).filter(pl.col("buyer_id") != pl.col("seller_id"))
    ms, mr = rng.choice(ids, n_m), rng.choice(ids, n_m)
    msgs = pl.LazyFrame(
        {
            "message_id": [f"m{i:03d}" for i in range(n_m)],
            "sender_id": ms,
            "recipient_id": mr,
            "sent_at": [_day(int(d)) for d in rng.integers(1, 20, n_m)],
        }
    ).filter(pl.col("sender_id") != pl.col("recipient_id"))
    out = unsolicited_messages(msgs, orders).collect()

    lo = pl.min_horizontal("buyer_id", "seller_id")
    hi = pl.max_horizontal("buyer_id", "seller_id")
    first = orders.group_by(a=lo, b=hi).agg(first_order_at=pl.col("created_at").min())
    expected = (
        msgs.with_columns(
            a=pl.min_horizontal("sender_id", "recipient_id"),
            b=pl.max_horizontal("sender_id", "recipient_id"),
        )
        .join(first, on=["a", "b"], how="left", maintain_order="left")
        .collect()
    )
    assert out.height == expected.height > 200
    assert out["message_id"].to_list() == expected["message_id"].to_list()
    assert out["first_order_at"].to_list() == expected["first_order_at"].to_list()
    assert out["first_order_at"].null_count() > 0  # some pairs never traded
    assert out["first_order_at"].null_count() < out.height


def _random_market(seed: int) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Random orders and messages among 40 accounts, with a few bulk senders."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = [f"u{i}" for i in range(40)]
    n_o, n_m = 300, 600
    orders = pl.LazyFrame(
        {
            "buyer_id": rng.choice(ids, n_o),
            "seller_id": rng.choice(ids, n_o),
            "created_at": [_day(int(d)) for d in rng.integers(1, 20, n_o)],
        }
    ).filter(pl.col("buyer_id") != pl.col("seller_id"))
    # three bulk senders write half the messages
    senders = np.where(rng.random(n_m) < 0.5, rng.choice(ids[:3], n_m), rng.choice(ids, n_m))
    msgs = pl.LazyFrame(
        {
            "message_id": [f"m{i:03d}" for i in range(n_m)],
            "sender_id": senders,
            "recipient_id": rng.choice(ids, n_m),
            "order_id": [None] * n_m,
            "sent_at": [_day(int(d)) for d in rng.integers(1, 20, n_m)],
            "text": [f"text {i % 7}" for i in range(n_m)],
        },
        schema_overrides={"order_id": pl.String},
    ).filter(pl.col("sender_id") != pl.col("recipient_id"))
    return msgs, orders


@pytest.mark.parametrize("collide", [False, True])
@pytest.mark.parametrize("min_recipients", [3, 10, 40])
def test_candidate_messages_are_the_unsolicited_rows_the_check_needs(
    monkeypatch: pytest.MonkeyPatch, collide: bool, min_recipients: int
) -> None:
    """Same flags as the string path, for every message of or to a candidate sender.

    With ``collide`` the 64-bit hash is replaced by one with many collisions (the id's
    length): the screen still keeps every candidate and the ids decide.
    """
    import graphkit.policy.spam as spam

    if collide:
        monkeypatch.setattr(spam, "_hash", lambda c: pl.col(c).str.len_bytes().cast(pl.UInt64))
    msgs, orders = _random_market(3)
    full = unsolicited_messages(msgs, orders).collect()
    got = spam._candidate_messages(
        msgs, orders, min_recipients=min_recipients, replies_solicited=True
    ).sort("message_id")
    reach = pl.col("recipient_id").filter("unsolicited").n_unique().over("sender_id")
    need = full.filter(reach >= min_recipients)["sender_id"].unique()
    wanted = full.filter(pl.col("sender_id").is_in(need.implode()))
    # every message of a candidate, with the string path's flags and times
    cols = ["message_id", "sender_id", "first_order_at", "first_contact_at", "unsolicited"]
    assert (
        wanted.select(cols).join(got.select(cols), on=cols, how="anti", nulls_equal=True).height
        == 0
    )
    # and every row returned has the string path's values
    assert (
        got.select(cols).join(full.select(cols), on=cols, how="anti", nulls_equal=True).height == 0
    )
    assert got["text"].null_count() == 0
    if min_recipients == 3:
        assert need.len() > 0
        assert wanted.height > 100
    if min_recipients == 40:
        # the bulk senders pass the screen (40+ messages not surely solicited) but reach
        # fewer distinct strangers: no candidate, their rows are still exact
        assert need.len() == 0
        assert got.height > 0


def test_first_orders_flags_an_earliest_order_between_other_accounts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import graphkit.policy.spam as spam

    # every id of the same length shares a hash: the pair key of (a, b) is also (c, d)'s
    monkeypatch.setattr(spam, "_hash", lambda c: pl.col(c).str.len_bytes().cast(pl.UInt64))
    orders = pl.LazyFrame(
        {"buyer_id": ["c", "a"], "seller_id": ["d", "b"], "created_at": [_day(1), _day(5)]}
    )
    msgs = pl.DataFrame({"sender_id": ["a", "c", "xx"], "recipient_id": ["b", "d", "b"]})
    got = spam._first_orders(msgs, orders)
    assert got["own"].to_list() == [False, True, None]
    assert got["first_order_at"].to_list() == [_day(1), _day(1), None]


def test_spam_check_is_the_same_when_hashes_collide(monkeypatch: pytest.MonkeyPatch) -> None:
    import graphkit.policy.spam as spam

    ds = load_dataset(SAMPLE)
    check = get_check("COMM_SPAM")
    ctx = ScanContext(ds)
    want = check(ctx, ctx.params("COMM_SPAM"))
    monkeypatch.setattr(spam, "_hash", lambda c: pl.col(c).str.len_bytes().cast(pl.UInt64))
    ctx = ScanContext(ds)
    got = check(ctx, ctx.params("COMM_SPAM"))
    assert want.height > 0
    assert got.equals(want)
