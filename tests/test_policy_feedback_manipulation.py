from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from micro_market import feedback_frame

from graphkit.config import ScanConfig
from graphkit.io import dataset_from_frames
from graphkit.policy import ScanContext, get_check

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def t(d: float) -> datetime:
    return T0 + timedelta(days=d)


def market() -> dict[str, pl.DataFrame]:
    """6 honest sellers with varied ratings; 'bad' seller with 8 paid ratings from fresh accounts
    (1 hour after payment, perfect DSRs, refunded afterwards); 'loyal' seller with enthusiastic
    but honest ratings (5s from old accounts, after delivery)."""
    accounts, orders, fb, refunds = [], [], [], []
    sellers = [f"s{i}" for i in range(6)] + ["bad", "loyal"]
    for s in sellers:
        accounts.append((s, "seller", t(-400)))
    k = 0
    ratings_cycle = [5, 4, 5, 3, 5, 4, 2, 5, 4, 5]
    for si, s in enumerate(sellers):
        for j in range(20):
            b = f"hb{k}"
            accounts.append((b, "buyer", t(-300)))
            day = j * 3 + si * 0.1
            oid, fid = f"o{k}", f"f{k}"
            orders.append((oid, b, s, day, 30.0))
            r = 5 if s == "loyal" else ratings_cycle[(j + si) % 10]
            dsr = r if s == "loyal" else max(1, r - (j % 2))
            fb.append((fid, oid, b, s, r, dsr, day + 6 + j % 4))
            k += 1
    for j in range(8):
        b = f"paid{j}"
        accounts.append((b, "buyer", t(49)))
        oid, fid = f"op{j}", f"fp{j}"
        orders.append((oid, b, "bad", 50 + j * 0.3, 8.0))
        fb.append((fid, oid, b, "bad", 5, 5, 50 + j * 0.3 + 1 / 24))
        refunds.append((f"r{j}", oid, 50 + j * 0.3 + 2, 8.0))
    frames = {
        "accounts": pl.DataFrame(
            {
                "account_id": [a[0] for a in accounts],
                "kind": [a[1] for a in accounts],
                "created_at": [a[2] for a in accounts],
            }
        ),
        "orders": pl.DataFrame(
            {
                "order_id": [o[0] for o in orders],
                "buyer_id": [o[1] for o in orders],
                "seller_id": [o[2] for o in orders],
                "amount": [o[4] for o in orders],
                "created_at": [t(o[3]) for o in orders],
                "paid_at": [t(o[3]) for o in orders],
            }
        ),
        "feedback": feedback_frame(fb, t),
        "refunds": pl.DataFrame(
            {
                "refund_id": [r[0] for r in refunds],
                "order_id": [r[1] for r in refunds],
                "refunded_at": [t(r[2]) for r in refunds],
                "amount": [r[3] for r in refunds],
                "via": ["seller"] * len(refunds),
            }
        ),
    }
    return frames


@pytest.fixture(scope="module")
def frames() -> dict[str, pl.DataFrame]:
    return market()


@pytest.fixture(autouse=True)
def _rating_signals_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Judge the check on the rating signals alone: group detection on this tiny, very
    regular marketplace is not what these tests are about (it is tested on its own)."""
    monkeypatch.setattr(ScanContext, "has_groups", lambda self: False)


def _run(frames: dict[str, pl.DataFrame], **overrides: object) -> pl.DataFrame:
    ds = dataset_from_frames(frames, as_of=t(120))
    cfg = ScanConfig.from_mapping(
        {"rules": {"FEEDBACK_MANIPULATION": overrides}} if overrides else {}
    )
    ctx = ScanContext(ds, cfg)
    return get_check("FEEDBACK_MANIPULATION")(ctx, ctx.params("FEEDBACK_MANIPULATION"))


def test_paid_ratings_fire_and_name_the_raters(frames: dict[str, pl.DataFrame]) -> None:
    out = _run(frames)
    assert out["seller_id"].to_list() == ["bad"]
    row = out.row(0, named=True)
    assert row["subject_ids"] == ["bad", *[f"paid{j}" for j in range(8)]]
    assert sorted(row["feedback_ids"]) == [f"fp{j}" for j in range(8)]
    assert row["recommended_action"] == "suspend"
    assert "8 of its ratings are suspicious" in row["explanation"]
    assert "refunded" in row["explanation"]
    names = [s["name"] for s in row["signals"]]
    assert "suspicious_ratings" in names
    assert len(names) >= 3  # the seller's fired rating signals are carried along


def test_enthusiastic_honest_seller_is_a_near_miss(frames: dict[str, pl.DataFrame]) -> None:
    # 'loyal' has only 5-star ratings from old accounts after delivery: no suspicious rating
    out = _run(frames, min_score=0.1)
    assert "loyal" not in out["seller_id"].to_list()
    assert _run(frames, min_suspicious=9).height == 0
    assert _run(frames, min_score=0.9, paid_burst_min_seller_ratings=0).height == 0
    # 'bad' (8 paid ratings refunded within days) is still flagged by its campaign alone
    paid = _run(frames, min_score=0.9)
    assert paid["seller_id"].to_list() == ["bad"]
    assert "paid_burst_ratings" in [s["name"] for s in paid.row(0, named=True)["signals"]]


def test_weak_raters_are_named_only_with_enough_flags(frames: dict[str, pl.DataFrame]) -> None:
    out = _run(frames, min_weak_reasons=99)
    # the paid ratings carry strong flags (too early, refunded after): still named
    assert out.row(0, named=True)["subject_ids"][1:] == [f"paid{j}" for j in range(8)]


def test_circle_raters_are_accounts_rating_several_circle_stores() -> None:
    from graphkit.policy.feedback_manipulation import circle_raters

    tp = pl.DataFrame({"seller_a": ["A", "C"], "seller_b": ["B", "D"]})
    rows = [
        ("w", "A", 5), ("w", "B", 5), ("w", "B", 4),  # works for circle A-B
        ("h", "A", 5), ("h", "B", 5),  # two ratings only
        ("h2", "A", 5), ("h2", "A", 5), ("h2", "A", 5),  # one store only
        ("B", "A", 5), ("B", "A", 5), ("B", "A", 5),  # a circle seller itself (in the pair)
        ("x", "A", 5), ("x", "C", 5), ("x", "D", 1),  # spread over two circles, one negative
        ("y", "A", 5), ("y", "B", 5),  # two circle stores, but 3 of its 5 ratings elsewhere
        ("y", "Z1", 5), ("y", "Z2", 5), ("y", "Z3", 5),
        ("h3", "A", 5), ("h3", "A", 4),  # one store, not every rating top
    ]  # fmt: skip
    fb = _circle_feedback(rows, "f{}")
    # two ratings for two of the circle's stores (regulars of one store left out here)
    out = circle_raters(fb, tp, regular_min_top=None)
    assert out["feedback_id"].to_list() == ["f0", "f1", "f2", "f3", "f4"]
    assert out["author_id"].unique().sort().to_list() == ["h", "w"]
    # near miss: h's two ratings are below a three-rating bar
    one = circle_raters(fb, tp, min_ratings=3, regular_min_top=None)
    assert one["author_id"].unique().to_list() == ["w"]
    # y works for the circle once 40% of its positive ratings are enough
    loose = circle_raters(fb, tp, min_worker_share=0.4, regular_min_top=None)
    assert loose["author_id"].unique().sort().to_list() == ["h", "w", "y"]
    # default: h2 rated one circle store three times, always 5 stars, nothing else (a regular
    # assigned to that store); near miss h3: a 5 and a 4
    reg = circle_raters(fb, tp)
    assert reg["author_id"].unique().sort().to_list() == ["h", "h2", "w"]
    assert reg.filter(author_id="h2")["reasons"].to_list() == [["circle_regular"]] * 3
    assert reg.filter(author_id="w")["reasons"].to_list() == [[]] * 3
    assert circle_raters(fb, tp, regular_min_top=4).filter(author_id="h2").height == 0
    assert circle_raters(fb, tp.clear()).height == 0


def test_circles_widen_to_stores_their_raters_share_but_not_to_popular_ones() -> None:
    from graphkit.policy.feedback_manipulation import circle_raters

    tp = pl.DataFrame({"seller_a": ["A"], "seller_b": ["B"]})
    rows = [(w, s) for w in ("w1", "w2", "w3") for s in ("A", "B", "E", "P")]  # 3 workers
    rows += [(f"x{i}", "P") for i in range(40)]  # P is popular: 3 of 43 raters (< 10%)
    rows += [("x0", "E")]  # E: 3 of 4 raters come from the circle
    fb = _circle_feedback([(a, t, 5) for a, t in rows], "f{:02d}")
    out = circle_raters(fb, tp)
    # w1..w3 work for circle A-B; E (3 of its 4 raters are workers) joins, P does not
    assert sorted(out["target_id"].unique().to_list()) == ["A", "B", "E"]
    assert sorted(out["author_id"].unique().to_list()) == ["w1", "w2", "w3"]
    # without E the workers have two ratings each, below a three-rating bar
    assert circle_raters(fb, tp, expand_min_coraters=4, min_ratings=3).height == 0


def test_trading_signal_of_a_hub_store_is_not_evidence() -> None:
    from graphkit.findings import SIGNAL
    from graphkit.policy.feedback_manipulation import manipulation_findings

    def sig(name: str, c: float) -> dict:
        return {"name": name, "value": 1.0, "threshold": 1.0, "contribution": c, "detail": ""}

    sellers = pl.DataFrame(
        {
            "seller_id": ["hub", "circle"],
            "manipulation_score": [0.76, 0.7],
            "n_trading_partners": [54, 3],
            "signals": [
                [sig("feedback_trading", 0.7), sig("unreliable_ratings", 0.2)],
                [sig("feedback_trading", 0.7)],
            ],
            "explanation": ["x", "y"],
        },
        schema_overrides={"signals": pl.List(SIGNAL)},
    )
    fb = pl.DataFrame(
        {
            "feedback_id": [f"f{i}" for i in range(6)],
            "order_id": [f"o{i}" for i in range(6)],
            "author_id": ["a"] * 6,
            "target_id": ["hub"] * 3 + ["circle"] * 3,
            "created_at": list(range(6)),
            "reasons": [["traded"]] * 6,
            "suspicious": [True] * 6,
        }
    )
    out = manipulation_findings(sellers, fb)
    assert out["seller_id"].to_list() == ["circle"]
    both = manipulation_findings(sellers, fb, max_trading_partners=100)
    assert both["seller_id"].to_list() == ["circle", "hub"]
    low = manipulation_findings(sellers, fb, min_score=0.15, require_independent_signal=False)
    assert low.filter(seller_id="hub")["score"].item() == pytest.approx(0.2)
    # what is left of the hub (rating unreliability) is clustering evidence only
    assert manipulation_findings(sellers, fb, min_score=0.15)["seller_id"].to_list() == ["circle"]


def _refunded_top_seller() -> pl.DataFrame:
    """Seller 'bad', flagged on its refunded top ratings alone (score 0.6)."""
    from graphkit.findings import SIGNAL

    sig = {"name": "refunded_top", "value": 0.5, "threshold": 0.2, "contribution": 0.6}
    return pl.DataFrame(
        {
            "seller_id": ["bad"],
            "manipulation_score": [0.6],
            "n_trading_partners": [0],
            "signals": [[{**sig, "detail": ""}]],
            "explanation": ["x"],
        },
        schema_overrides={"signals": pl.List(SIGNAL)},
    )


def test_a_refund_after_the_rating_names_the_rater_only_with_a_second_flag() -> None:
    from graphkit.policy.feedback_manipulation import manipulation_findings

    sellers = _refunded_top_seller()
    reasons = {
        "refund_only": ["refunded_after"],  # an honest buyer whose item failed later
        "refund_and_dsr": ["refunded_after", "perfect_dsr"],
        "traded_only": ["traded"],
    }
    fb = pl.DataFrame(
        {
            "feedback_id": [f"f_{a}" for a in reasons],
            "order_id": [f"o_{a}" for a in reasons],
            "author_id": list(reasons),
            "target_id": ["bad"] * 3,
            "created_at": [1, 2, 3],
            "reasons": list(reasons.values()),
            "suspicious": [True] * 3,
        }
    )
    out = manipulation_findings(sellers, fb).row(0, named=True)
    assert out["raters"] == ["refund_and_dsr", "traded_only"]
    assert out["n_suspicious"] == 3  # the rating itself still counts against the seller
    assert out["n_strong"] == 3
    # one flag is enough when the operator says so
    loose = manipulation_findings(sellers, fb, min_weak_reasons=1).row(0, named=True)
    assert loose["raters"] == ["refund_and_dsr", "refund_only", "traded_only"]


def test_a_refund_after_a_late_rating_does_not_corroborate_the_rater() -> None:
    from datetime import datetime, timedelta

    from graphkit.policy.feedback_manipulation import manipulation_findings

    sellers = _refunded_top_seller()
    t0 = datetime(2025, 1, 1)
    # rater -> (days from payment to rating, reasons)
    rows = {
        "paid_review": (3.0, ["refunded_after", "perfect_dsr"]),  # rated at once: named
        "edge": (5.0, ["refunded_after", "perfect_dsr"]),  # on the bar: named
        "late_dispute": (12.0, ["refunded_after", "perfect_dsr"]),  # near miss
        "late_three": (12.0, ["refunded_after", "perfect_dsr", "from_new_account"]),
        "unpaid": (1.0, ["refunded_after", "perfect_dsr"]),  # no payment: not "soon"
    }
    fb = pl.DataFrame(
        {
            "feedback_id": [f"f_{a}" for a in rows],
            "order_id": [f"o_{a}" for a in rows],
            "author_id": list(rows),
            "target_id": ["bad"] * len(rows),
            "created_at": [t0 + timedelta(days=d) for d, _ in rows.values()],
            "reasons": [r for _, r in rows.values()],
            "suspicious": [True] * len(rows),
        }
    )
    orders = pl.DataFrame(
        {
            "order_id": [f"o_{a}" for a in rows],
            "paid_at": [None if a == "unpaid" else t0 for a in rows],
        },
        schema_overrides={"paid_at": pl.Datetime("us")},
    )
    out = manipulation_findings(sellers, fb, orders=orders, refunded_rater_max_delay_days=5.0).row(
        0, named=True
    )
    assert out["raters"] == ["edge", "late_three", "paid_review"]
    assert (out["n_suspicious"], out["n_strong"]) == (5, 5)  # still against the seller
    # off (0, or no orders): every refunded perfect rating names its rater, as before
    off = manipulation_findings(sellers, fb, orders=orders).row(0, named=True)
    assert off["raters"] == sorted(rows)


def test_clustering_signals_alone_do_not_flag_a_seller() -> None:
    from graphkit.findings import SIGNAL
    from graphkit.policy.feedback_manipulation import manipulation_findings

    def sig(name: str, c: float) -> dict:
        return {"name": name, "value": 1.0, "threshold": 1.0, "contribution": c, "detail": ""}

    sellers = pl.DataFrame(
        {
            "seller_id": ["regulars", "ring"],
            "manipulation_score": [0.9, 0.9],
            "n_trading_partners": [0, 0],
            "signals": [
                # a small store's regulars: grouped together, unreliable, coming back
                [
                    sig("group_members", 0.7),
                    sig("unreliable_ratings", 0.5),
                    sig("repeat_raters", 0.3),
                    sig("burst", 0.0),  # present but not fired
                ],
                # the same plus one independent signal (raters share identifiers)
                [
                    sig("group_members", 0.7),
                    sig("unreliable_ratings", 0.5),
                    sig("linked_accounts", 0.2),
                ],
            ],
            "explanation": ["x", "y"],
        },
        schema_overrides={"signals": pl.List(SIGNAL)},
    )
    fb = pl.DataFrame(
        {
            "feedback_id": [f"f{i}" for i in range(6)],
            "order_id": [f"o{i}" for i in range(6)],
            "author_id": [f"a{i}" for i in range(6)],
            "target_id": ["regulars"] * 3 + ["ring"] * 3,
            "created_at": list(range(6)),
            "reasons": [["in_group_with_target"]] * 6,
            "suspicious": [True] * 6,
        }
    )
    assert manipulation_findings(sellers, fb)["seller_id"].to_list() == ["ring"]
    loose = manipulation_findings(sellers, fb, require_independent_signal=False)
    assert loose["seller_id"].to_list() == ["regulars", "ring"]


def test_linked_account_of_a_circle_worker_works_for_the_circle() -> None:
    from graphkit.policy.feedback_manipulation import circle_raters

    tp = pl.DataFrame({"seller_a": ["A"], "seller_b": ["B"]})
    rows = [
        ("w", "A", 5), ("w", "B", 5),  # the circle's worker
        ("v", "B", 5), ("v", "B", 4), ("v", "Z", 5),  # linked to w, rates one circle store
        ("u", "B", 5), ("u", "B", 4), ("u", "Z1", 5), ("u", "Z2", 5), ("u", "Z3", 5),  # near miss
        ("q", "B", 5), ("q", "B", 4), ("q", "Z", 5),  # same ratings as v, but no link
    ]  # fmt: skip
    fb = _circle_feedback(rows, "f{:02d}")
    links = pl.DataFrame({"account_a": ["v", "w"], "account_b": ["w", "u"]})
    named = circle_raters(fb, tp, links=links)["author_id"].unique().sort().to_list()
    # v: linked to worker w and 2 of its 3 positive ratings go to the circle;
    # u: linked too, but 3 of its 5 ratings go elsewhere; q: the same ratings, no link
    assert named == ["v", "w"]
    v = circle_raters(fb, tp, links=links).filter(author_id="v")
    assert v["reasons"].to_list() == [["linked_to_worker"]] * 2
    assert circle_raters(fb, tp)["author_id"].unique().to_list() == ["w"]


def _circle_feedback(rows: list[tuple[str, str, int]], id_format: str) -> pl.DataFrame:
    """Unflagged feedback for ``circle_raters``: one row per ``(author, target, rating)``,
    feedback ids ``id_format.format(i)``, created in row order."""
    return pl.DataFrame(
        {
            "feedback_id": [id_format.format(i) for i in range(len(rows))],
            "order_id": [f"o{i}" for i in range(len(rows))],
            "author_id": [r[0] for r in rows],
            "target_id": [r[1] for r in rows],
            "rating": [r[2] for r in rows],
            "created_at": list(range(len(rows))),
            "reasons": [[] for _ in rows],
        },
        schema_overrides={"reasons": pl.List(pl.String)},
    )


def _paid_frames(delay_days: float = 1.0) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Store 's' (refunded_top fired): 4 refunded paid ratings on days 10-11, unrefunded
    perfect top ratings 'in' (day 10.5), 'far' (day 20); 'imperfect' (day 10.5, DSR 5/5/4);
    store 't' (signal not fired) has the same pattern."""
    from graphkit.findings import SIGNAL

    rows = []  # (fid, author, seller, day, refunded, perfect)
    for store in ("s", "t"):
        for j in range(4):
            rows.append((f"{store}p{j}", f"{store}paid{j}", store, 10 + j / 3, True, True))
        rows.append((f"{store}in", f"{store}in", store, 10.5, False, True))
        rows.append((f"{store}far", f"{store}far", store, 20.0, False, True))
        rows.append((f"{store}imp", f"{store}imperfect", store, 10.5, False, False))
    fb = pl.DataFrame(
        {
            "feedback_id": [r[0] for r in rows],
            "order_id": [f"o{r[0]}" for r in rows],
            "author_id": [r[1] for r in rows],
            "target_id": [r[2] for r in rows],
            "created_at": [t(r[3]) for r in rows],
            "rating": [5] * len(rows),
            "perfect_dsr": [r[5] for r in rows],
            "refunded_after": [r[4] for r in rows],
            "reasons": [[] for _ in rows],
        },
        schema_overrides={"reasons": pl.List(pl.String)},
    )
    orders = pl.DataFrame(
        {"order_id": [f"o{r[0]}" for r in rows], "paid_at": [t(r[3] - delay_days) for r in rows]}
    )

    def sig(name: str) -> list[dict]:
        return [{"name": name, "value": 0.4, "threshold": 0.12, "contribution": 0.6, "detail": ""}]

    sellers = pl.DataFrame(
        {"seller_id": ["s", "t"], "signals": [sig("refunded_top"), sig("burst")]},
        schema_overrides={"signals": pl.List(SIGNAL)},
    )
    return fb, sellers, orders


def test_paid_burst_names_unrefunded_raters_inside_the_refunded_burst() -> None:
    from graphkit.policy.feedback_manipulation import paid_burst_raters

    fb, sellers, orders = _paid_frames()
    out = paid_burst_raters(fb, sellers, orders=orders)
    # fires: 'sin' (4 refunded ratings within 2 days, rated 1 day after payment); near misses:
    # 'sfar' (outside the window), 'simp' (imperfect DSR), store t (refunded_top not fired)
    assert out["feedback_id"].to_list() == ["sin"]
    assert paid_burst_raters(fb, sellers, orders=orders, min_refunded=5).height == 0
    assert paid_burst_raters(fb, sellers, orders=orders, window_days=0.1).height == 0
    # near miss: the same rating left 8 days after payment (an honest buyer's pace)
    fb, sellers, orders = _paid_frames(delay_days=8.0)
    assert paid_burst_raters(fb, sellers, orders=orders).height == 0
    assert paid_burst_raters(fb, sellers)["feedback_id"].to_list() == ["sin"]  # no delay check


def test_paid_burst_raters_are_named_under_the_seller_finding() -> None:
    from graphkit.policy.feedback_manipulation import manipulation_findings, paid_burst_raters

    fb, sellers, orders = _paid_frames()
    sellers = sellers.with_columns(
        manipulation_score=pl.lit(0.7), n_trading_partners=pl.lit(0), explanation=pl.lit("x")
    )
    fb = fb.with_columns(
        suspicious=pl.col("refunded_after"),
        reasons=pl.when(pl.col("refunded_after"))
        .then(pl.lit(["refunded_after", "perfect_dsr"]))
        .otherwise(pl.col("reasons")),
    )
    paid = paid_burst_raters(fb, sellers, orders=orders)
    out = manipulation_findings(sellers, fb, paid=paid)
    row = out.filter(seller_id="s").row(0, named=True)
    assert "sin" in row["raters"]
    assert "sin" in row["feedback_ids"]
    without = manipulation_findings(sellers, fb).filter(seller_id="s").row(0, named=True)
    assert "sin" not in without["raters"]


def _campaign_frames(
    spacing_days: float = 1.0, delay_days: float = 1.0, score: float = 0.37
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Store 's' (refunded_top fired, score below 0.5): 5 refunded perfect 5-star ratings
    ``spacing_days`` apart, rated ``delay_days`` after payment, among 20 honest ratings
    (unflagged, not refunded, rated 10 days after payment)."""
    from graphkit.findings import SIGNAL

    rows = [(f"p{j}", f"paid{j}", 10 + j * spacing_days, True, delay_days) for j in range(5)]
    rows += [(f"h{j}", f"honest{j}", 2.0 + 3 * j, False, 10.0) for j in range(20)]
    fb = pl.DataFrame(
        {
            "feedback_id": [r[0] for r in rows],
            "order_id": [f"o{r[0]}" for r in rows],
            "author_id": [r[1] for r in rows],
            "target_id": ["s"] * len(rows),
            "created_at": [t(r[2]) for r in rows],
            "rating": [5] * len(rows),
            "perfect_dsr": [r[3] for r in rows],
            "refunded_after": [r[3] for r in rows],
            "suspicious": [r[3] for r in rows],
            "reasons": [["perfect_dsr", "refunded_after"] if r[3] else [] for r in rows],
        },
        schema_overrides={"reasons": pl.List(pl.String)},
    )
    orders = pl.DataFrame(
        {"order_id": [f"o{r[0]}" for r in rows], "paid_at": [t(r[2] - r[4]) for r in rows]}
    )
    sig = [
        {
            "name": "refunded_top",
            "value": 0.15,
            "threshold": 0.12,
            "contribution": score,
            "detail": "",
        }
    ]
    sellers = pl.DataFrame(
        {
            "seller_id": ["s"],
            "signals": [sig],
            "manipulation_score": [score],
            "n_trading_partners": [0],
            "explanation": ["x"],
        },
        schema_overrides={"signals": pl.List(SIGNAL)},
    )
    return fb, sellers, orders


def test_paid_burst_sellers_fire_on_a_week_of_quick_refunded_perfect_ratings() -> None:
    from graphkit.policy.feedback_manipulation import manipulation_findings, paid_burst_sellers

    fb, sellers, orders = _campaign_frames()
    paid = paid_burst_sellers(fb, sellers, orders=orders)
    assert paid.rows() == [("s", 5)]
    # below min_score on its own, the campaign flags the store (score 0.6) and names its raters
    assert manipulation_findings(sellers, fb).height == 0
    row = manipulation_findings(sellers, fb, paid_sellers=paid).row(0, named=True)
    assert row["seller_id"] == "s"
    assert row["score"] == 0.6
    assert row["n_paid_burst"] == 5
    assert row["raters"] == [f"paid{j}" for j in range(5)]
    # a store flagged on its score keeps its score (and no paid-burst count)
    high = sellers.with_columns(
        manipulation_score=pl.lit(0.7),
        signals=pl.col("signals").list.eval(
            pl.element().struct.with_fields(contribution=pl.lit(0.7))
        ),
    )
    row = manipulation_findings(high, fb, paid_sellers=paid).row(0, named=True)
    assert row["score"] == 0.7
    assert row["n_paid_burst"] is None


def test_paid_burst_sellers_near_misses() -> None:
    from graphkit.policy.feedback_manipulation import paid_burst_sellers

    # 5 ratings spread over 8 days (2 days apart): outside the 7-day window
    fb, sellers, orders = _campaign_frames(spacing_days=2.0)
    assert paid_burst_sellers(fb, sellers, orders=orders).height == 0
    assert paid_burst_sellers(fb, sellers, orders=orders, window_days=8.0).height == 1
    # 1.75 days apart: the 5 fit in exactly 7 days
    fb, sellers, orders = _campaign_frames(spacing_days=1.75)
    assert paid_burst_sellers(fb, sellers, orders=orders).height == 1
    # rated 6 days after payment (waited for the item): not a paid reviewer's pace
    fb, sellers, orders = _campaign_frames(delay_days=6.0)
    assert paid_burst_sellers(fb, sellers, orders=orders).height == 0
    assert paid_burst_sellers(fb, sellers).height == 1  # no delay check without orders
    # 4 such ratings only; refunded_top not fired; the threshold set to 0 (off)
    fb, sellers, orders = _campaign_frames()
    assert (
        paid_burst_sellers(fb.filter(pl.col("feedback_id") != "p4"), sellers, orders=orders).height
        == 0
    )
    other = sellers.with_columns(
        signals=pl.col("signals").list.eval(pl.element().struct.with_fields(name=pl.lit("burst")))
    )
    assert paid_burst_sellers(fb, other, orders=orders).height == 0
    assert paid_burst_sellers(fb, sellers, orders=orders, min_ratings=0).height == 0
    # imperfect DSRs on the refunded ratings
    imperfect = fb.with_columns(perfect_dsr=pl.col("feedback_id") == "p0")
    assert paid_burst_sellers(imperfect, sellers, orders=orders).height == 0


def test_circle_regulars_name_raters_but_do_not_flag_a_store() -> None:
    from graphkit.findings import SIGNAL
    from graphkit.policy.feedback_manipulation import manipulation_findings

    sellers = pl.DataFrame(
        {
            "seller_id": ["quiet"],
            "manipulation_score": [0.0],
            "n_trading_partners": [0],
            "signals": [[]],
            "explanation": ["no rating signal fired"],
        },
        schema_overrides={"signals": pl.List(SIGNAL)},
    )
    fb = pl.DataFrame(
        {
            "feedback_id": ["f0"],
            "order_id": ["o0"],
            "author_id": ["a"],
            "target_id": ["quiet"],
            "created_at": [0],
            "reasons": [[]],
            "suspicious": [False],
        },
        schema_overrides={"reasons": pl.List(pl.String)},
    )

    def extra(tag: list[str]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "feedback_id": ["c1", "c2", "c3"],
                "order_id": ["p1", "p2", "p3"],
                "author_id": ["r1", "r1", "r2"],
                "target_id": ["quiet"] * 3,
                "created_at": [1, 2, 3],
                "reasons": [tag] * 3,
            },
            schema_overrides={"reasons": pl.List(pl.String)},
        )

    # three ratings from circle workers flag the store (its partners' side holds the evidence)
    assert manipulation_findings(sellers, fb, extra=extra([]))["seller_id"].to_list() == ["quiet"]
    # near miss: the same three from circle regulars of that store flag nothing
    assert manipulation_findings(sellers, fb, extra=extra(["circle_regular"])).height == 0


def test_window_raters_rated_the_flagged_seller_only_inside_its_window() -> None:
    from graphkit.policy.feedback_manipulation import window_raters

    rows = [  # (author, day, rating); the seller's suspicious ratings ran days 10-20
        ("named", 10, 5), ("named", 20, 5),
        ("in", 12, 5), ("in", 26, 4),  # inside (26 is within the 7-day margin)
        ("late", 15, 5), ("late", 40, 5),  # one rating outside the window
        ("meh", 12, 5), ("meh", 14, 3),  # one rating below 4 stars
        ("once", 15, 5),  # a single rating
    ]  # fmt: skip
    fb = pl.DataFrame(
        {
            "feedback_id": [f"f{i}" for i in range(len(rows))],
            "order_id": [f"o{i}" for i in range(len(rows))],
            "author_id": [r[0] for r in rows],
            "target_id": ["s"] * len(rows),
            "rating": [r[2] for r in rows],
            "created_at": [t(r[1]) for r in rows],
        }
    )
    found = pl.DataFrame(
        {"seller_id": ["s"], "raters": [["named"]], "first_seen": [t(10)], "last_seen": [t(20)]}
    )
    out = window_raters(fb, found)
    assert out["author_id"].unique().to_list() == ["in"]
    assert out["feedback_id"].to_list() == ["f2", "f3"]
    assert window_raters(fb, found, margin_days=5.0).height == 0  # day 26 now outside
    assert window_raters(fb, found, min_ratings=3).height == 0


def _mutual_market(
    back: list[tuple[str, str, int]], extra: list[tuple[str, str, int]] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Circle A-B (a trading pair); store S with 8 organic raters (o0..o7, S only); accounts
    a, b each give A (a) or B (b) and S one 5-star rating; ``back``: the stores' ratings of
    their buyers (author = store). Returns (buyer feedback, trading pairs, seller ratings)."""
    tp = pl.DataFrame({"seller_a": ["A"], "seller_b": ["B"]})
    rows = [("a", "A", 5), ("a", "S", 5), ("b", "B", 5), ("b", "S", 5)]
    rows += [(f"o{i}", "S", 5) for i in range(8)]
    rows += extra or []
    fb = _circle_feedback(rows, "f{:02d}")
    seller_ratings = pl.DataFrame(
        {
            "feedback_id": [f"g{i}" for i in range(len(back))],
            "author_id": [r[0] for r in back],
            "target_id": [r[1] for r in back],
            "rating": [r[2] for r in back],
        }
    )
    return fb, tp, seller_ratings


MUTUAL = [("A", "a", 5), ("S", "a", 5), ("B", "b", 5), ("S", "b", 5)]


def test_store_joins_a_circle_through_two_mutual_five_star_traders() -> None:
    from graphkit.policy.feedback_manipulation import circle_raters, mutual_trade_stores

    fb, tp, back = _mutual_market(MUTUAL)
    out = circle_raters(fb, tp, seller_ratings=back)
    # a and b each made one mutual trade with a circle store and one with S (10 raters): S
    # joins the circle, a and b now rate two of its stores and are named
    assert sorted(out["author_id"].unique().to_list()) == ["a", "b"]
    assert sorted(out["target_id"].unique().to_list()) == ["A", "B", "S"]
    assert out.filter(target_id="S")["reasons"].to_list() == [["mutual_trade"]] * 2
    assert out.filter(target_id="A")["reasons"].to_list() == [[]]
    pos = fb.filter(pl.col("rating") >= 4)
    circles = pl.DataFrame({"target_id": ["A", "B"], "circle": ["A", "A"]})
    joined = mutual_trade_stores(pos, back, circles)
    assert joined.rows() == [("S", "A", "a"), ("S", "A", "b")]
    # without the seller ratings (or with the rule off) nobody rates two circle stores
    assert circle_raters(fb, tp).height == 0
    assert circle_raters(fb, tp, seller_ratings=back, mutual_min_traders=None).height == 0


@pytest.mark.parametrize(
    ("back", "extra", "why"),
    [
        # S did not rate b back: a trade with S must be mutual (an honest store returns a top
        # rating for about a third of its buyers' top ratings)
        (MUTUAL[:3], None, "one-way with S"),
        # B rated b back with 4 stars: not a mutual 5-star trade with the circle
        ([*MUTUAL[:2], ("B", "b", 4), MUTUAL[3]], None, "4 stars back"),
        # the trades are mutual, but S has 22 raters: 2 traders are 9% (< 10%)
        (MUTUAL, [(f"p{i}", "S", 5) for i in range(12)], "popular store"),
        # b gives 3 of its 5 positive ratings to other stores: not dedicated to the circle
        (MUTUAL, [("b", f"Z{i}", 5) for i in range(3)], "b shops elsewhere"),
    ],
)
def test_mutual_trade_near_misses_do_not_widen_the_circle(
    back: list[tuple[str, str, int]], extra: list[tuple[str, str, int]] | None, why: str
) -> None:
    from graphkit.policy.feedback_manipulation import circle_raters

    fb, tp, seller_ratings = _mutual_market(back, extra)
    assert circle_raters(fb, tp, seller_ratings=seller_ratings).height == 0, why


def test_one_mutual_trader_is_not_enough_but_one_is_with_a_lower_bar() -> None:
    from graphkit.policy.feedback_manipulation import circle_raters

    fb, tp, back = _mutual_market(MUTUAL[:2])  # only a traded mutually with A and S
    assert circle_raters(fb, tp, seller_ratings=back).height == 0
    one = circle_raters(fb, tp, seller_ratings=back, mutual_min_traders=1)
    # with one trader S joins; b then rates two circle stores (B and S) and works for it too
    assert sorted(one["author_id"].unique().to_list()) == ["a", "b"]
    assert one.filter(author_id="b")["reasons"].to_list() == [[]] * 2
