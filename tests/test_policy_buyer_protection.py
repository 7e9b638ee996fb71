from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from graphkit.config import ScanConfig
from graphkit.io import dataset_from_frames
from graphkit.policy import ScanContext, get_check

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def t(day: float) -> datetime:
    return T0 + timedelta(days=day)


def _market(
    orders: list[tuple[str, str, str, float, float]],
    *,
    feedback: list[tuple[str, str, str, str, int, float]] = (),
    disputes: list[tuple[str, str, str, float, str]] = (),
    refunds: list[tuple[str, str, float, float, str]] = (),
    messages: list[tuple[str, str, str, float, str]] = (),
) -> dict[str, pl.DataFrame]:
    """orders: (id, buyer, seller, day, amount); feedback: (id, order, author, target, rating,
    day); disputes: (case, order, buyer, day, outcome); refunds: (id, order, day, amount, via);
    messages: (id, sender, recipient, day, text)."""
    frames = {
        "orders": pl.DataFrame(
            {
                "order_id": [o[0] for o in orders],
                "buyer_id": [o[1] for o in orders],
                "seller_id": [o[2] for o in orders],
                "amount": [o[4] for o in orders],
                "created_at": [t(o[3]) for o in orders],
                "paid_at": [t(o[3]) for o in orders],
            }
        )
    }
    fb = list(feedback) or [
        ("f_any", orders[0][0], orders[0][1], orders[0][2], 5, orders[0][3] + 1)
    ]
    frames["feedback"] = pl.DataFrame(
        {
            "feedback_id": [f[0] for f in fb],
            "order_id": [f[1] for f in fb],
            "author_id": [f[2] for f in fb],
            "target_id": [f[3] for f in fb],
            "rating": [f[4] for f in fb],
            "dsr_item_as_described": [None] * len(fb),
            "dsr_communication": [None] * len(fb),
            "dsr_shipping_speed": [None] * len(fb),
            "created_at": [t(f[5]) for f in fb],
        },
        schema_overrides={
            c: pl.Int8 for c in ("dsr_item_as_described", "dsr_communication", "dsr_shipping_speed")
        },
    )
    if disputes:
        frames["disputes"] = pl.DataFrame(
            {
                "case_id": [d[0] for d in disputes],
                "order_id": [d[1] for d in disputes],
                "opened_by": [d[2] for d in disputes],
                "opened_at": [t(d[3]) for d in disputes],
                "reason": ["not_as_described"] * len(disputes),
                "outcome": [d[4] for d in disputes],
            }
        )
    if refunds:
        frames["refunds"] = pl.DataFrame(
            {
                "refund_id": [r[0] for r in refunds],
                "order_id": [r[1] for r in refunds],
                "refunded_at": [t(r[2]) for r in refunds],
                "amount": [r[3] for r in refunds],
                "via": [r[4] for r in refunds],
            }
        )
    if messages:
        frames["messages"] = pl.DataFrame(
            {
                "message_id": [m[0] for m in messages],
                "sender_id": [m[1] for m in messages],
                "recipient_id": [m[2] for m in messages],
                "sent_at": [t(m[3]) for m in messages],
                "text": [m[4] for m in messages],
            }
        )
    return frames


def _run(rule: str, frames: dict[str, pl.DataFrame], **overrides: object) -> pl.DataFrame:
    ds = dataset_from_frames(frames, as_of=t(200))
    cfg = ScanConfig.from_mapping({"rules": {rule: overrides}} if overrides else {})
    ctx = ScanContext(ds, cfg)
    return get_check(rule)(ctx, ctx.params(rule)).sort("buyer_id")


# --- case after refund ----------------------------------------------------------------------


def _refund_market() -> dict[str, pl.DataFrame]:
    return _market(
        [
            ("o1", "cheat", "s1", 0, 50.0),
            ("o2", "partial", "s1", 0, 50.0),
            ("o3", "case_first", "s1", 0, 50.0),
            ("o4", "crossed", "s1", 0, 50.0),
            ("o5", "serial", "s1", 0, 20.0),
            ("o6", "serial", "s2", 1, 20.0),
        ],
        disputes=[
            ("c1", "o1", "cheat", 8, "rejected"),
            ("c2", "o2", "partial", 9, "partial_refund"),
            ("c3", "o3", "case_first", 5, "refund_buyer"),
            ("c4", "o4", "crossed", 5 + 0.5 / 24, "withdrawn"),
            ("c5", "o5", "serial", 10, "rejected"),
            ("c6", "o6", "serial", 12, "open"),
        ],
        refunds=[
            ("r1", "o1", 5, 50.0, "seller"),
            ("r2", "o2", 8, 10.0, "seller"),  # 20% partial refund
            ("r3", "o3", 7, 50.0, "case"),  # the refund the case obtained
            ("r4", "o4", 5, 50.0, "seller"),  # 30 minutes before the case
            ("r5", "o5", 3, 20.0, "seller"),
            ("r6", "o6", 4, 10.0, "seller"),
            ("r7", "o6", 5, 10.0, "platform"),  # two partial refunds adding up to 100%
        ],
    )


def test_case_after_refund_fires_on_refunded_orders_only() -> None:
    out = _run("BPP_CASE_AFTER_REFUND", _refund_market())
    assert out["buyer_id"].to_list() == ["cheat", "serial"]
    cheat, serial = out.rows(named=True)
    assert cheat["recommended_action"] == "warning"
    assert cheat["case_ids"] == ["c1"]
    assert cheat["refund_ids"] == ["r1"]
    assert "3.0 days after 50.0 of 50.0 was refunded (100%)" in cheat["explanation"]
    assert serial["recommended_action"] == "restrict_buying"
    assert serial["case_ids"] == ["c5", "c6"]
    assert sorted(serial["refund_ids"]) == ["r5", "r6", "r7"]
    assert serial["score"] > cheat["score"]


def test_case_after_refund_thresholds_move_the_line() -> None:
    out = _run("BPP_CASE_AFTER_REFUND", _refund_market(), min_refund_share=0.2, min_gap_hours=0.25)
    assert out["buyer_id"].to_list() == ["cheat", "crossed", "partial", "serial"]


# --- retaliation ----------------------------------------------------------------------------


def _retaliation_market() -> dict[str, pl.DataFrame]:
    buyers = ["angry", "refused", "late", "upheld", "reverse", "other", "polite", "partial", "hola"]
    orders = [(f"o_{b}", b, "s2", 0, 30.0) for b in buyers]
    orders.append(("o_other3", "other", "s3", 0, 30.0))
    return _market(
        orders,
        feedback=[
            ("f_angry", "o_angry", "s2", "angry", 1, 10),
            ("f_late", "o_late", "s2", "late", 1, 10),
            ("f_upheld", "o_upheld", "s2", "upheld", 2, 10),
            ("f_reverse", "o_reverse", "s2", "reverse", 1, 11),
            ("f_other", "o_other", "s2", "other", 1, 10),
            ("f_polite_b", "o_polite", "polite", "s2", 5, 3),
            ("f_partial", "o_partial", "s2", "partial", 2, 10),
        ],
        disputes=[
            ("c_angry", "o_angry", "angry", 11, "rejected"),
            ("c_refused", "o_refused", "refused", 10.5, "rejected"),
            ("c_late", "o_late", "late", 20, "rejected"),
            ("c_upheld", "o_upheld", "upheld", 11, "refund_buyer"),
            ("c_reverse", "o_reverse", "reverse", 10, "rejected"),
            ("c_other", "o_other3", "other", 11, "rejected"),
            ("c_polite", "o_polite", "polite", 10.5, "rejected"),
            ("c_partial", "o_partial", "partial", 12.9, "partial_refund"),
            ("c_hola", "o_hola", "hola", 10.2, "withdrawn"),
        ],
        messages=[
            ("m1", "refused", "s2", 9, "Give me 50% back or I open a dispute"),
            ("m2", "s2", "refused", 10, "Sorry, we cannot give a partial refund for this item."),
            ("m3", "s2", "polite", 10, "Thank you, your parcel ships tomorrow!"),
            ("m4", "s2", "hola", 10, "Lo sentimos, no podemos hacerlo."),
        ],
    )


def test_retaliation_fires_after_negative_feedback_or_refusal() -> None:
    out = _run("BPP_RETALIATION", _retaliation_market())
    assert out["buyer_id"].to_list() == ["angry", "hola", "partial", "refused"]
    angry, _, _, refused = out.rows(named=True)
    assert {"kind": "feedback", "id": "f_angry"} in angry["conflicts"]
    assert "1.0 days after negative feedback f_angry" in angry["explanation"]
    assert {"kind": "message", "id": "m2"} in refused["conflicts"]
    assert "refused demand" in refused["explanation"]
    assert angry["recommended_action"] == "warning"


def test_retaliation_settings() -> None:
    m = _retaliation_market()
    no_msg = _run("BPP_RETALIATION", m, use_refusals=False)["buyer_id"].to_list()
    assert no_msg == ["angry", "partial"]
    wide = _run("BPP_RETALIATION", m, window_days=15.0, exclude_upheld=False)
    assert wide["buyer_id"].to_list() == ["angry", "hola", "late", "partial", "refused", "upheld"]


def test_retaliation_without_messages_table_still_runs() -> None:
    m = _retaliation_market()
    del m["messages"]
    assert _run("BPP_RETALIATION", m)["buyer_id"].to_list() == ["angry", "partial"]


# --- false claims ---------------------------------------------------------------------------


def _claims_market() -> dict[str, pl.DataFrame]:
    orders, disputes = [], []

    def buyer(name: str, n_orders: int, rejected_sellers: list[str]) -> None:
        for i in range(n_orders):
            orders.append((f"o_{name}{i}", name, f"s{i % 3}", i, 10.0))
        for j, s in enumerate(rejected_sellers):
            oid = f"o_{name}_c{j}"
            orders.append((oid, name, s, 50 + j, 10.0))
            disputes.append((f"c_{name}{j}", oid, name, 60 + j, "rejected"))

    buyer("liar", 2, ["s1", "s2", "s3", "s1"])  # 4 rejected of 6 orders, 3 sellers
    buyer("heavy", 40, ["s1", "s2", "s3"])  # 3 rejected of 43 orders (7%)
    buyer("feud", 2, ["s1", "s1", "s1", "s1"])  # one seller only
    buyer("two", 1, ["s1", "s2"])  # only two rejected
    # an honest buyer whose cases were upheld
    orders.append(("o_ok", "ok", "s1", 1, 10.0))
    disputes.append(("c_ok", "o_ok", "ok", 5, "refund_buyer"))
    return _market(orders, disputes=disputes)


def test_false_claims_fires_on_rejected_history_across_sellers() -> None:
    out = _run("BPP_FALSE_CLAIMS", _claims_market())
    assert out["buyer_id"].to_list() == ["liar"]
    row = out.row(0, named=True)
    assert (row["n_rejected"], row["n_sellers"], row["n_orders"]) == (4, 3, 6)
    assert row["recommended_action"] == "restrict_buying"
    assert "4 of 4 Buyer Protection case(s) rejected" in row["explanation"]
    assert len(row["case_ids"]) == 4


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"min_rejected_rate": 0.05}, ["heavy", "liar"]),
        ({"min_sellers": 1}, ["feud", "liar"]),
        ({"min_rejected": 2}, ["liar", "two"]),
        ({"suspend_at": 4}, ["liar"]),
    ],
)
def test_false_claims_thresholds(overrides: dict, expected: list[str]) -> None:
    out = _run("BPP_FALSE_CLAIMS", _claims_market(), **overrides)
    assert out["buyer_id"].to_list() == expected
    if "suspend_at" in overrides:
        assert out["recommended_action"].to_list() == ["suspend"]


def _more_routes_market() -> dict[str, pl.DataFrame]:
    """Buyers for the one-seller and serial-claimant routes, each with a near miss."""
    orders, disputes = [], []

    def buyer(name: str, n_plain: int, cases: list[tuple[str, str]]) -> None:
        for i in range(n_plain):
            orders.append((f"o_{name}{i}", name, "s1", i, 10.0))
        for j, (seller, outcome) in enumerate(cases):
            oid = f"o_{name}_c{j}"
            orders.append((oid, name, seller, 50 + j, 10.0))
            disputes.append((f"c_{name}{j}", oid, name, 60 + j, outcome))

    # a loyal customer of s1 whose claims there are rejected again and again
    buyer("loyal5", 4, [("s1", "rejected")] * 5)  # 5 rejected, one seller: fires
    buyer("loyal4", 4, [("s1", "rejected")] * 4)  # 4 rejected, one seller: near miss
    # a serial claimant: 4 cases on 9 orders (44%), 2 rejected at 2 sellers: fires
    serial = [("s1", "rejected"), ("s2", "rejected"), ("s3", "withdrawn"), ("s2", "partial_refund")]
    buyer("serial", 5, serial)
    buyer("three_cases", 3, serial[:3])  # 3 cases: near miss
    buyer("rare", 10, serial)  # 2 rejected of 14 orders (14% < 15%): near miss
    # 4 cases, but the 2 rejected ones at one seller: near miss (rejected across sellers)
    buyer("one_seller2", 5, [("s1", "rejected"), ("s1", "rejected"), *serial[2:]])
    return _market(orders, disputes=disputes)


def test_false_claims_one_seller_and_serial_claimant_routes() -> None:
    out = _run("BPP_FALSE_CLAIMS", _more_routes_market())
    assert out["buyer_id"].to_list() == ["loyal5", "serial"]
    loyal, serial = out.rows(named=True)
    assert (loyal["route"], loyal["n_sellers"], loyal["n_rejected"]) == ("one_seller", 1, 5)
    assert "5 rejected claims (at least 5) are a pattern" in loyal["explanation"]
    assert (serial["route"], serial["n_cases"], serial["n_rejected"]) == ("serial_claimant", 4, 2)
    assert "4 cases (at least 4) opened on 44.4% of the orders" in serial["explanation"]
    opened = next(s for s in serial["signals"] if s["name"] == "cases_opened")
    assert (opened["value"], opened["threshold"]) == (4.0, 4.0)
    assert 0.5 <= serial["score"] <= 1.0


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"one_seller_min_rejected": 4}, ["loyal4", "loyal5", "serial"]),
        ({"one_seller_min_rejected": 99}, ["serial"]),
        ({"serial_min_cases": 3}, ["loyal5", "serial", "three_cases"]),
        ({"min_rejected_rate": 0.1}, ["loyal5", "rare", "serial"]),
        ({"serial_min_cases": 99}, ["loyal5"]),
    ],
)
def test_false_claims_route_thresholds(overrides: dict, expected: list[str]) -> None:
    out = _run("BPP_FALSE_CLAIMS", _more_routes_market(), **overrides)
    assert out["buyer_id"].to_list() == expected


def test_bpp_checks_need_their_tables() -> None:
    frames = _market([("o1", "b", "s", 0, 1.0)])
    ds = dataset_from_frames(frames, as_of=t(10))
    for rule in ("BPP_CASE_AFTER_REFUND", "BPP_RETALIATION", "BPP_FALSE_CLAIMS"):
        assert "no disputes table" in get_check(rule).not_evaluated_reason(ds)


def test_false_claims_leave_retaliation_cases_to_their_own_rule() -> None:
    orders = [(f"o{i}", "avenger", f"s{i}", i, 10.0) for i in range(4)]
    orders += [("ox", "avenger", "s0", 9, 10.0)]
    feedback = [(f"neg{i}", f"o{i}", f"s{i}", "avenger", 1, 20 + i) for i in range(4)]
    disputes = [(f"c{i}", f"o{i}", "avenger", 20.5 + i, "rejected") for i in range(4)]
    m = _market(orders, feedback=feedback, disputes=disputes)
    assert _run("BPP_FALSE_CLAIMS", m).height == 0
    assert _run("BPP_RETALIATION", m)["buyer_id"].to_list() == ["avenger"]
    both = _run("BPP_FALSE_CLAIMS", m, exclude_retaliation=False)
    assert both["buyer_id"].to_list() == ["avenger"]


def _refunded_claims_market(refund_amount: float) -> dict[str, pl.DataFrame]:
    """A buyer with 3 rejected cases against 3 sellers, each on an order refunded 4 days before."""
    orders = [(f"o{i}", "double", f"s{i}", i, 40.0) for i in range(3)]
    orders += [(f"x{i}", "double", "s0", 30 + i, 40.0) for i in range(3)]
    disputes = [(f"c{i}", f"o{i}", "double", 10 + i, "rejected") for i in range(3)]
    refunds = [(f"r{i}", f"o{i}", 6 + i, refund_amount, "seller") for i in range(3)]
    return _market(orders, disputes=disputes, refunds=refunds)


def test_false_claims_leave_cases_after_refund_to_their_own_rule() -> None:
    m = _refunded_claims_market(40.0)  # fully refunded before each case
    assert _run("BPP_CASE_AFTER_REFUND", m)["buyer_id"].to_list() == ["double"]
    assert _run("BPP_FALSE_CLAIMS", m).height == 0
    both = _run("BPP_FALSE_CLAIMS", m, exclude_after_refund=False)
    assert both["buyer_id"].to_list() == ["double"]
    # the exclusion follows the after-refund rule's own settings
    stricter = ScanConfig.from_mapping(
        {"rules": {"BPP_CASE_AFTER_REFUND": {"min_refund_share": 1.5}}}
    )
    ctx = ScanContext(dataset_from_frames(m, as_of=t(200)), stricter)
    out = get_check("BPP_FALSE_CLAIMS")(ctx, ctx.params("BPP_FALSE_CLAIMS"))
    assert out["buyer_id"].to_list() == ["double"]


def test_false_claims_still_count_cases_after_a_token_refund() -> None:
    # near miss: a 10% goodwill refund is not "already refunded" (BPP_CASE_AFTER_REFUND stays
    # quiet), so the rejected cases remain false claims
    m = _refunded_claims_market(4.0)
    assert _run("BPP_CASE_AFTER_REFUND", m).height == 0
    assert _run("BPP_FALSE_CLAIMS", m)["buyer_id"].to_list() == ["double"]


@pytest.mark.parametrize("exclude_upheld", [True, False])
def test_retaliation_shares_its_pass_with_false_claims(exclude_upheld: bool) -> None:
    # the retaliation cases are computed once per scan, upheld or not; BPP_RETALIATION
    # leaves the upheld out afterwards: the same rows whichever check runs first
    frames = _retaliation_market()
    ds = dataset_from_frames(frames, as_of=t(200))
    cfg = ScanConfig.from_mapping(
        {"rules": {"BPP_RETALIATION": {"exclude_upheld": exclude_upheld}}}
    )
    alone = ScanContext(ds, cfg)
    want = get_check("BPP_RETALIATION")(alone, alone.params("BPP_RETALIATION"))
    shared = ScanContext(ds, cfg)
    get_check("BPP_FALSE_CLAIMS")(shared, shared.params("BPP_FALSE_CLAIMS"))
    got = get_check("BPP_RETALIATION")(shared, shared.params("BPP_RETALIATION"))
    assert got.equals(want)
    assert ("c_upheld" in got["case_ids"].explode().to_list()) == (not exclude_upheld)


def test_retaliation_settings_get_their_own_shared_pass() -> None:
    # one context, two window settings: each gets its own result, not the other's
    ds = dataset_from_frames(_retaliation_market(), as_of=t(200))
    ctx = ScanContext(ds)
    from graphkit.policy.buyer_protection import _retaliation

    params = dict(ctx.params("BPP_RETALIATION"))
    narrow = _retaliation(ctx, params).collect()
    wide = _retaliation(ctx, {**params, "window_days": 15.0}).collect()
    assert narrow.height < wide.height
    assert "c_late" in wide["case_id"].to_list()
    assert "c_late" not in narrow["case_id"].to_list()


def test_cases_are_joined_to_their_own_orders_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # the orders of the cases are screened on a hash of order_id; with every order
    # colliding (a constant seed cannot do that: the screen is widened to all orders by
    # patching the hash) the join on the id still gives each case its own order
    import graphkit.policy.buyer_protection as bp

    frames = _refund_market()
    ds = dataset_from_frames(frames, as_of=t(200))
    want = bp._cases(ScanContext(ds)).collect().sort("case_id")
    monkeypatch.setattr(pl.Expr, "hash", lambda self, seed=0: self.str.len_bytes().cast(pl.UInt64))
    got = bp._cases(ScanContext(ds)).collect().sort("case_id")
    assert got.equals(want)
    assert want.height == frames["disputes"].height
    assert (want["buyer_id"] == frames["disputes"].sort("case_id")["opened_by"]).all()
