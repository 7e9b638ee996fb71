"""FEEDBACK_MANIPULATION: circle regulars of a store that trades ratings itself flag the store.

A trading circle's store can be rated mostly by accounts assigned to it alone (circle
regulars: repeat 5-star ratings, most of the account's positive ratings) and by one or two
accounts of its partners. When the store is a side of a trading pair (reciprocal positive
ratings with another store through accounts tied to each), those regulars' ratings count
toward flagging it; a store that only joined a circle through shared raters still needs
ratings from circle workers (``test_circle_regulars_name_raters_but_do_not_flag_a_store``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from micro_market import feedback_frame

from graphkit.config import ScanConfig
from graphkit.findings import SIGNAL
from graphkit.io import dataset_from_frames
from graphkit.policy import ScanContext, get_check
from graphkit.policy.feedback_manipulation import manipulation_findings

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def t(d: float) -> datetime:
    return T0 + timedelta(days=d)


def _sellers() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "seller_id": ["trader", "quiet"],
            "manipulation_score": [0.38, 0.0],
            "n_trading_partners": [3, 0],
            "signals": [[], []],
            "explanation": ["feedback_trading fired below min_score", "no rating signal fired"],
        },
        schema_overrides={"signals": pl.List(SIGNAL)},
    )


def _feedback() -> pl.DataFrame:
    """One rating of each store: a traded rating of 'trader' (suspicious), one of 'quiet'."""
    return pl.DataFrame(
        {
            "feedback_id": ["f0", "f1"],
            "order_id": ["o0", "o1"],
            "author_id": ["w", "a"],
            "target_id": ["trader", "quiet"],
            "created_at": [0, 0],
            "reasons": [["perfect_dsr", "traded"], []],
            "suspicious": [True, False],
        },
        schema_overrides={"reasons": pl.List(pl.String)},
    )


def _regulars(store: str) -> pl.DataFrame:
    """Three circle-regular ratings of ``store`` by two accounts."""
    return pl.DataFrame(
        {
            "feedback_id": [f"{store}-c1", f"{store}-c2", f"{store}-c3"],
            "order_id": [f"{store}-p1", f"{store}-p2", f"{store}-p3"],
            "author_id": ["r1", "r1", "r2"],
            "target_id": [store] * 3,
            "created_at": [1, 2, 3],
            "reasons": [["repeat_rater", "circle_regular"]] * 3,
        },
        schema_overrides={"reasons": pl.List(pl.String)},
    )


def test_circle_regulars_flag_a_store_that_trades_ratings() -> None:
    extra = pl.concat([_regulars("trader"), _regulars("quiet")])
    out = manipulation_findings(
        _sellers(), _feedback(), extra=extra, trading_stores=pl.Series(["trader"])
    )
    # the trading store: its regulars' 3 ratings make it a circle store (score raised to 0.6)
    assert out["seller_id"].to_list() == ["trader"]
    row = out.row(0, named=True)
    assert row["n_circle"] == 3
    assert row["score"] == pytest.approx(0.6)
    assert row["raters"] == ["r1", "r2", "w"]
    # near miss: the same regulars on a store that is not a side of a trading pair
    assert "quiet" not in out["seller_id"].to_list()


def test_circle_regulars_of_a_trading_store_near_misses() -> None:
    extra = _regulars("trader")
    # without the trading stores (the switch off, or the store trades with nobody)
    assert manipulation_findings(_sellers(), _feedback(), extra=extra).height == 0
    other = pl.Series(["quiet"])
    assert (
        manipulation_findings(_sellers(), _feedback(), extra=extra, trading_stores=other).height
        == 0
    )
    # two regular ratings are not the min_suspicious 3 (the traded rating is not a circle's)
    two = extra.head(2)
    traders = pl.Series(["trader"])
    assert (
        manipulation_findings(_sellers(), _feedback(), extra=two, trading_stores=traders).height
        == 0
    )


def _market(*, tied: bool = True, n_traded: int = 2) -> dict[str, pl.DataFrame]:
    """Eight honest stores (25 honest raters each, 'T' 40); stores 'T' and 'P' trade 5-star
    ratings through an account tied to each (sharing a device with it): ``n_traded`` of 'T'
    (2: 7% of its top ratings, its feedback_trading signal fires below min_score, as the
    missed simulated store 20k s56 u004219) and one of 'P'. 'T' is also rated 3 and 2 times,
    always 5 stars, by accounts that rate nothing else (its circle regulars). With
    ``tied=False`` the account rating 'P' for 'T' shares nothing with 'T': no trading pair."""
    accounts: list[tuple[str, str]] = []
    orders: list[tuple[str, str, str, float]] = []
    fb: list[tuple[str, str, str, str, int, int, float]] = []
    devices: list[tuple[str, str]] = []
    stores = [f"h{i}" for i in range(6)] + ["T", "P"]
    cycle = [5, 4, 5, 3, 5, 4, 2, 5, 4, 5]
    k = 0

    def rate(buyer: str, store: str, day: float, r: int, dsr: int) -> None:
        nonlocal k
        orders.append((f"o{k}", buyer, store, day))
        fb.append((f"f{k}", f"o{k}", buyer, store, r, dsr, day + 9))
        k += 1

    for si, s in enumerate(stores):
        accounts.append((s, "seller"))
        devices.append((s, f"dev-{s}"))
        for j in range(40 if s == "T" else 25):
            b = f"hb{si}_{j}"
            accounts.append((b, "buyer"))
            devices.append((b, f"dev-{b}"))
            r = cycle[(j + si) % 10]
            rate(b, s, j * 3 + si * 0.1, r, max(1, r - (j % 2)))
    for b, dev in (("tp", "dev-P"), ("tt", "dev-T" if tied else "dev-tt")):
        accounts.append((b, "buyer"))
        devices.append((b, dev))
    for j in range(n_traded):
        rate("tp", "T", 30.0 + j, 5, 5)
    rate("tt", "P", 31.0, 5, 5)
    for b, n in (("r1", 3), ("r2", 2)):
        accounts.append((b, "buyer"))
        devices.append((b, f"dev-{b}"))
        for j in range(n):
            rate(b, "T", 28.0 + 4 * j, 5, 5)
    return {
        "accounts": pl.DataFrame(
            {
                "account_id": [a[0] for a in accounts],
                "kind": [a[1] for a in accounts],
                "created_at": [t(-300)] * len(accounts),
            }
        ),
        "identifiers": pl.DataFrame(
            {
                "account_id": [d[0] for d in devices],
                "kind": ["device"] * len(devices),
                "value": [d[1] for d in devices],
            }
        ),
        "orders": pl.DataFrame(
            {
                "order_id": [o[0] for o in orders],
                "buyer_id": [o[1] for o in orders],
                "seller_id": [o[2] for o in orders],
                "amount": [30.0] * len(orders),
                "created_at": [t(o[3]) for o in orders],
                "paid_at": [t(o[3]) for o in orders],
            }
        ),
        "feedback": feedback_frame(fb, t),
    }


@pytest.fixture(autouse=True)
def _rating_signals_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Group detection on this tiny, regular market is not what these tests are about."""
    monkeypatch.setattr(ScanContext, "has_groups", lambda self: False)


def _run(frames: dict[str, pl.DataFrame], **overrides: object) -> pl.DataFrame:
    ds = dataset_from_frames(frames, as_of=t(120))
    cfg = ScanConfig.from_mapping(
        {"rules": {"FEEDBACK_MANIPULATION": overrides}} if overrides else {}
    )
    ctx = ScanContext(ds, cfg)
    return get_check("FEEDBACK_MANIPULATION")(ctx, ctx.params("FEEDBACK_MANIPULATION"))


def test_trading_store_is_flagged_with_its_regulars() -> None:
    out = _run(_market())
    assert out["seller_id"].to_list() == ["T"]
    row = out.row(0, named=True)
    assert row["subject_ids"] == ["T", "r1", "r2", "tp"]
    sig = {s["name"]: s["value"] for s in row["signals"]}
    # the regulars' 3 + 2 ratings and the 2 traded ratings of 'tp' (which rates 'T' only)
    assert sig["trading_circle_ratings"] == 7
    # its own signal fired below min_score: without the regulars it was not flagged
    assert 0 < sig["feedback_trading"] < 0.5
    assert row["score"] == pytest.approx(0.6)


def test_trading_store_near_misses() -> None:
    # the switch off: the regulars alone do not flag the store (the behaviour before)
    assert _run(_market(), circle_regulars_flag_traders=False).height == 0
    # no tie on one side, no trading pair, no circle: nothing
    assert _run(_market(tied=False)).height == 0
    # one incidental trade among 40 honest ratings: 'T' is still a side of a trading pair,
    # but its own feedback_trading signal does not fire (simulated 100k s11: an organic store
    # so flagged on its loyal customers when any side of a pair counted)
    assert _run(_market(n_traded=1)).height == 0


def test_trading_signal_sellers_are_those_whose_own_signal_fired() -> None:
    from graphkit.policy.feedback_manipulation import trading_signal_sellers

    def sig(name: str, contribution: float | None) -> dict[str, object]:
        return {
            "name": name,
            "value": 0.06,
            "threshold": 0.05,
            "contribution": contribution,
            "detail": "",
        }

    sellers = pl.DataFrame(
        {
            "seller_id": ["fired", "zero", "other", "none", "both"],
            "signals": [
                [sig("feedback_trading", 0.39)],
                [sig("feedback_trading", 0.0)],  # near miss: listed, contributes nothing
                [sig("refunded_top", 0.6)],  # near miss: another signal
                [],
                [sig("refunded_top", 0.2), sig("feedback_trading", None), sig("x", 0.1)],
            ],
        },
        schema_overrides={"signals": pl.List(SIGNAL)},
    )
    assert trading_signal_sellers(sellers).to_list() == ["fired"]


def _chain_market(back_d_y1: bool = True) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Circle A-B (a trading pair). Store C: accounts x1, x2 each traded mutual 5-star
    ratings with a circle store (A, B) and with C. Store D: y2 traded with A and with D, y1
    with C and with D (so D is one trade from C, not from A-B). C and D also have 6 organic
    raters each. ``back_d_y1=False``: D did not rate y1 back (one-way)."""
    given = [("x1", "A"), ("x1", "C"), ("x2", "B"), ("x2", "C")]
    given += [("y1", "C"), ("y1", "D"), ("y2", "A"), ("y2", "D")]
    given += [(f"oc{i}", "C") for i in range(6)] + [(f"od{i}", "D") for i in range(6)]
    fb = pl.DataFrame(
        {
            "feedback_id": [f"f{i:02d}" for i in range(len(given))],
            "order_id": [f"o{i:02d}" for i in range(len(given))],
            "author_id": [g[0] for g in given],
            "target_id": [g[1] for g in given],
            "rating": [5] * len(given),
            "created_at": list(range(len(given))),
            "reasons": [[]] * len(given),
        },
        schema_overrides={"reasons": pl.List(pl.String)},
    )
    back = [(s, a) for a, s in given[:8] if back_d_y1 or (a, s) != ("y1", "D")]
    seller_ratings = pl.DataFrame(
        {
            "author_id": [b[0] for b in back],
            "target_id": [b[1] for b in back],
            "rating": [5] * len(back),
        }
    )
    return fb, pl.DataFrame({"seller_a": ["A"], "seller_b": ["B"]}), seller_ratings


def test_a_store_one_mutual_trade_from_a_joined_store_joins_in_the_second_round() -> None:
    from graphkit.policy.feedback_manipulation import circle_raters

    fb, tp, back = _chain_market()
    out = circle_raters(fb, tp, seller_ratings=back)
    # round 1: C joins (x1, x2); round 2: D joins (y2 through A, y1 through C)
    assert sorted(out["author_id"].unique().to_list()) == ["x1", "x2", "y1", "y2"]
    assert out.filter(target_id="D")["reasons"].to_list() == [["mutual_trade"]] * 2
    # near miss: one round (the behaviour before): D has one trader, y1 and y2 one circle store
    one = circle_raters(fb, tp, seller_ratings=back, mutual_rounds=1)
    assert sorted(one["author_id"].unique().to_list()) == ["x1", "x2"]


def test_second_round_near_miss_one_way_trade() -> None:
    from graphkit.policy.feedback_manipulation import circle_raters

    # D did not return y1's 5 stars: y1's trade with D is not mutual, D has one trader
    fb, tp, back = _chain_market(back_d_y1=False)
    out = circle_raters(fb, tp, seller_ratings=back)
    assert sorted(out["author_id"].unique().to_list()) == ["x1", "x2"]
