"""Rating-pattern signals on hand-built rating histories with known answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from graphkit.dataset import Dataset
from graphkit.detect.rating_features import seller_origins
from graphkit.detect.rating_params import RatingParams
from graphkit.detect.ratings import FEEDBACK_FLAGS, RatingSignals, rating_signals
from graphkit.findings import SIGNAL
from graphkit.io import dataset_from_frames

T0 = datetime(2026, 1, 1, tzinfo=UTC)
J_SHAPE = [5] * 14 + [4] * 3 + [3] + [1] * 2  # 70% 5s, 15% 4s, 5% 3s, 10% 1s: an honest J


@dataclass
class Market:
    """A hand-built marketplace: every order gets buyer feedback; times in days after T0."""

    orders: list[dict] = field(default_factory=list)
    feedback: list[dict] = field(default_factory=list)
    refunds: list[dict] = field(default_factory=list)
    created: dict[str, datetime] = field(default_factory=dict)
    sellers: set[str] = field(default_factory=set)

    def rate(
        self,
        buyer: str,
        seller: str,
        rating: int,
        *,
        day: float = 0.0,
        dsr: tuple[int | None, int | None, int | None] | None = None,
        fb_delay: float = 7.0,
        paid: bool = True,
        refund: tuple[float, float] | None = None,
    ) -> str:
        """Add an order of ``buyer`` from ``seller`` and its buyer feedback; return the id.

        ``refund`` is ``(fraction of amount, days after the feedback)``; negative days
        put the refund before the feedback.
        """
        i = len(self.orders)
        oid, fid = f"o{i:05d}", f"f{i:05d}"
        t = T0 + timedelta(days=day)
        d = dsr if dsr is not None else (rating, rating, rating)
        self.orders.append(
            {
                "order_id": oid,
                "buyer_id": buyer,
                "seller_id": seller,
                "amount": 20.0,
                "created_at": t,
                "paid_at": t if paid else None,
            }
        )
        self.feedback.append(
            {
                "feedback_id": fid,
                "order_id": oid,
                "author_id": buyer,
                "target_id": seller,
                "rating": rating,
                "dsr_item_as_described": d[0],
                "dsr_communication": d[1],
                "dsr_shipping_speed": d[2],
                "created_at": t + timedelta(days=fb_delay),
            }
        )
        if refund is not None:
            frac, after = refund
            self.refunds.append(
                {
                    "refund_id": f"r{i:05d}",
                    "order_id": oid,
                    "refunded_at": t + timedelta(days=fb_delay + after),
                    "amount": 20.0 * frac,
                    "via": "seller",
                }
            )
        self.created.setdefault(buyer, T0 - timedelta(days=365))
        self.created.setdefault(seller, T0 - timedelta(days=365))
        self.sellers.add(seller)
        return fid

    def seller_rates_buyer(self, order_index: int, rating: int = 5) -> None:
        o = self.orders[order_index]
        self.feedback.append(
            {
                "feedback_id": f"sf{order_index:05d}",
                "order_id": o["order_id"],
                "author_id": o["seller_id"],
                "target_id": o["buyer_id"],
                "rating": rating,
                "dsr_item_as_described": None,
                "dsr_communication": None,
                "dsr_shipping_speed": None,
                "created_at": o["created_at"] + timedelta(days=1),
            }
        )

    def honest(self, seller: str, n: int, *, start: float = 0.0, per_day: float = 1.0) -> None:
        """``n`` honest J-shaped ratings from distinct old buyers, ``per_day`` a day."""
        for k in range(n):
            r = J_SHAPE[k % len(J_SHAPE)]
            self.rate(f"{seller}-b{k}", seller, r, day=start + k / per_day)

    def dataset(self, *, accounts: bool = True) -> Dataset:
        t = pl.Datetime("us", "UTC")
        frames: dict[str, pl.DataFrame] = {
            "orders": pl.DataFrame(self.orders, schema_overrides={"paid_at": t}),
            "feedback": pl.DataFrame(
                self.feedback,
                schema_overrides={
                    c: pl.Int64
                    for c in ("dsr_item_as_described", "dsr_communication", "dsr_shipping_speed")
                },
            ),
        }
        if accounts:
            ids = sorted(self.created)
            frames["accounts"] = pl.DataFrame(
                {
                    "account_id": ids,
                    "kind": ["seller" if a in self.sellers else "buyer" for a in ids],
                    "created_at": [self.created[a] for a in ids],
                }
            )
        if self.refunds:
            frames["refunds"] = pl.DataFrame(self.refunds)
        return dataset_from_frames(frames)


def _links(*pairs: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_a": [a for a, _ in pairs],
            "account_b": [b for _, b in pairs],
            "kinds": [["device"] for _ in pairs],
            "n_shared": [1 for _ in pairs],
            "weight": [1.0 for _ in pairs],
        },
        schema_overrides={"kinds": pl.List(pl.String), "n_shared": pl.Int64},
    )


def _groups(members: dict[str, list[str]]) -> pl.DataFrame:
    rows = [(g, a) for g, accts in members.items() for a in accts]
    return pl.DataFrame(
        {
            "group_id": [g for g, _ in rows],
            "account_id": [a for _, a in rows],
            "role": ["member"] * len(rows),
        }
    )


def _seller(sig: RatingSignals, seller: str) -> dict:
    return sig.sellers.filter(pl.col("seller_id") == seller).row(0, named=True)


def _fired(sig: RatingSignals, seller: str) -> set[str]:
    return {s["name"] for s in _seller(sig, seller)["signals"]}


def _flagged(sig: RatingSignals, flag: str) -> set[str]:
    return set(sig.feedback.filter(pl.col(flag))["feedback_id"])


def _honest_background(m: Market) -> None:
    for s in ("h1", "h2", "h3"):
        m.honest(s, 100)


# ------------------------------------------------------------------------------------- honest
def test_honest_j_shape_sellers_fire_nothing() -> None:
    m = Market()
    _honest_background(m)
    sig = rating_signals(m.dataset(), identity_links=_links(), group_members=_groups({}))
    assert sig.sellers["seller_id"].to_list() == ["h1", "h2", "h3"]
    assert sig.sellers["manipulation_score"].to_list() == [0.0, 0.0, 0.0]
    assert sig.sellers["signals"].list.len().to_list() == [0, 0, 0]
    assert sig.sellers["n_unreliable"].to_list() == [0, 0, 0]
    assert not sig.feedback["suspicious"].any()
    h1 = _seller(sig, "h1")
    assert h1["n_ratings"] == 100
    assert h1["rating_mean"] == pytest.approx((70 * 5 + 15 * 4 + 5 * 3 + 10 * 1) / 100)
    assert h1["explanation"].startswith("manipulation score 0.00: no rating signal fired.")


def test_small_seller_with_five_fives_is_smoothed_not_flagged() -> None:
    m = Market()
    _honest_background(m)
    for k in range(5):
        m.rate(f"n-b{k}", "new", 5, day=10 + 3 * k, dsr=(5, 5, 5))
    sig = rating_signals(m.dataset())
    row = _seller(sig, "new")
    assert row["rating_mean"] == 5.0
    pop_mean = sig.population["mean_rating"]
    assert row["rating_smoothed"] == pytest.approx((25 + 10 * pop_mean) / 15)
    assert row["divergence"] < RatingParams().divergence_min
    assert row["perfect_dsr_share"] == 1.0
    assert _fired(sig, "new") == set()
    assert row["manipulation_score"] == 0.0


def test_many_perfect_ratings_diverge_but_only_weakly() -> None:
    # the same all-5 profile with 100 ratings is no longer noise: divergence and perfect-DSR
    # fire, but they are weak signals and the score stays low
    m = Market()
    _honest_background(m)
    for k in range(100):
        m.rate(f"p-b{k}", "perfect", 5, day=k / 2)
    sig = rating_signals(m.dataset())
    assert _fired(sig, "perfect") == {"divergence", "perfect_dsr"}
    assert 0.0 < _seller(sig, "perfect")["manipulation_score"] < 0.4
    assert not sig.feedback.filter(pl.col("target_id") == "perfect")["suspicious"].any()


def test_honest_new_seller_growing_fast_is_not_a_burst() -> None:
    m = Market()
    _honest_background(m)
    k = 0
    for day in range(1, 43):  # a store opened on day 1, doubling every week: 1 -> 64 a day
        for _ in range(int(2 ** (day / 7))):
            m.rate(f"g-b{k}", "grow", J_SHAPE[k % len(J_SHAPE)], day=day + 0.5)
            k += 1
    m.created["grow"] = T0 + timedelta(days=1)
    sig = rating_signals(m.dataset())
    row = _seller(sig, "grow")
    assert row["n_ratings"] == k
    assert row["burst_ratio"] < RatingParams().burst_min_ratio
    assert row["burst_days"] == 0
    assert _fired(sig, "grow") == set()
    assert row["manipulation_score"] == 0.0


def test_big_seller_seen_from_the_first_day_of_the_dataset_is_not_a_burst() -> None:
    # 20 ratings a day from the dataset's first day on: its past is cut off, not empty
    m = Market()
    _honest_background(m)
    for k in range(2000):
        m.rate(f"big-b{k}", "big", 5, day=k / 20)
    sig = rating_signals(m.dataset())
    row = _seller(sig, "big")
    assert row["burst_days"] == 0
    assert "burst" not in _fired(sig, "big")


def test_ring_on_a_brand_new_store_is_a_burst_against_the_floor() -> None:
    m = Market()
    _honest_background(m)
    ring = {m.rate(f"ring{k}", "fresh", 5, day=60 + k / 30) for k in range(20)}
    m.created["fresh"] = T0 + timedelta(days=59)
    sig = rating_signals(m.dataset())
    row = _seller(sig, "fresh")
    assert row["burst_count"] == 20
    assert row["burst_expected"] == pytest.approx(3 * RatingParams().burst_floor_per_day)
    assert "burst" in _fired(sig, "fresh")
    assert _flagged(sig, "in_burst") == ring


def test_repeat_raters() -> None:
    m = Market()
    _honest_background(m)
    m.honest("s", 30)
    shills = {m.rate(f"shill{k % 5}", "s", 5, day=40 + k) for k in range(15)}  # 5 x 3 ratings
    twice = {m.rate("loyal", "s", 5, day=60 + k) for k in range(2)}  # 2 ratings: not repeat
    sig = rating_signals(m.dataset())
    assert _flagged(sig, "repeat_rater") == shills
    assert not twice & _flagged(sig, "repeat_rater")
    assert _seller(sig, "s")["n_top_repeat"] == 15
    assert "repeat_raters" in _fired(sig, "s")
    # one weak flag is not enough to call a rating suspicious
    assert not _flagged(sig, "suspicious")


# -------------------------------------------------------------------------------------- rings
def _burst_market(n_ring: int) -> tuple[Market, set[str]]:
    m = Market()
    _honest_background(m)
    m.honest("s", 80, per_day=2.0)  # orders on days 0..39.5, feedback on days 7..46.5
    ring = set()
    for k in range(n_ring):  # all ring feedback on day 50, from accounts registered on day 38
        buyer = f"ring{k}"
        ring.add(m.rate(buyer, "s", 5, day=43 + k / (n_ring + 1), dsr=(5, 5, 5)))
        m.created[buyer] = T0 + timedelta(days=38)
    return m, ring


def test_burst_from_a_ring_fires_and_flags_the_ring_ratings() -> None:
    m, ring = _burst_market(30)
    sig = rating_signals(m.dataset())
    row = _seller(sig, "s")
    # window: days 48..50 (only the ring); baseline: the 28 days 20..47 before it, where the
    # honest feedback of orders k = 26..79 falls (feedback day 7 + k / 2)
    baseline_top = sum(1 for k in range(26, 80) if J_SHAPE[k % len(J_SHAPE)] == 5)
    assert row["burst_count"] == 30
    assert row["burst_expected"] == pytest.approx(baseline_top / 28 * 3)
    assert row["burst_ratio"] == pytest.approx(30 / (baseline_top / 28 * 3))
    assert row["burst_end"] == T0 + timedelta(days=50)
    assert "burst" in _fired(sig, "s")
    assert _flagged(sig, "in_burst") == ring
    assert _flagged(sig, "from_new_account") == ring
    assert _flagged(sig, "suspicious") == ring
    assert row["n_unreliable"] == 30
    assert "unreliable_ratings" in _fired(sig, "s")
    assert "once 30 unreliable ratings are removed." in row["explanation"]


def test_burst_windows_stay_within_their_seller() -> None:
    # a second seller with the same honest history on the same days, sorting right after "s":
    # windows that reached across sellers would count both sellers' ratings
    m, ring = _burst_market(30)
    m.honest("t", 80, per_day=2.0)
    sig = rating_signals(m.dataset())
    s, t = _seller(sig, "s"), _seller(sig, "t")
    baseline_top = sum(1 for k in range(26, 80) if J_SHAPE[k % len(J_SHAPE)] == 5)
    assert s["burst_count"] == 30
    assert s["burst_expected"] == pytest.approx(baseline_top / 28 * 3)
    assert t["burst_days"] == 0
    assert "burst" not in _fired(sig, "t")
    assert _flagged(sig, "in_burst") == ring


def test_seller_origins_for_given_sellers_match_the_full_table() -> None:
    m, _ = _burst_market(30)
    m.honest("t", 20, start=60.0)
    m.created["t"] = T0 + timedelta(days=55)  # registered inside the dataset
    ds = m.dataset()
    p = RatingParams()
    full = seller_origins(ds, p).collect().sort("target_id")
    some = seller_origins(ds, p, sellers=pl.Series(["t", "s", "t"])).collect().sort("target_id")
    assert some["target_id"].to_list() == ["s", "t"]
    assert_frame_equal(some, full.filter(pl.col("target_id").is_in(["s", "t"])))
    assert some.filter(pl.col("target_id") == "t")["new_seller"].item()


def test_small_ring_below_burst_count_does_not_fire() -> None:
    m, _ = _burst_market(8)
    sig = rating_signals(m.dataset())
    row = _seller(sig, "s")
    assert "burst" not in _fired(sig, "s")
    assert row["burst_days"] == 0
    assert not _flagged(sig, "in_burst")
    assert not _flagged(sig, "suspicious")


def test_paid_ratings_refunded_afterwards() -> None:
    m = Market()
    _honest_background(m)
    m.honest("s", 20)
    paid = {m.rate(f"pay{k}", "s", 5, day=30 + k, refund=(1.0, 2.0)) for k in range(10)}
    partial = m.rate("partial", "s", 5, day=45, refund=(0.3, 2.0))
    before = m.rate("before", "s", 5, day=46, refund=(1.0, -1.0))
    low = m.rate("low", "s", 2, day=47, refund=(1.0, 2.0))
    sig = rating_signals(m.dataset())
    flagged = _flagged(sig, "refunded_after")
    assert flagged == paid | {low}
    assert partial not in flagged
    assert before not in flagged
    row = _seller(sig, "s")
    assert row["n_top_refunded"] == 10
    assert "refunded_top" in _fired(sig, "s")
    # a refunded low rating is a complaint, not a paid rating: never suspicious
    assert _flagged(sig, "suspicious") == paid


@pytest.mark.parametrize(("n_paid", "fires"), [(10, True), (3, False)])
def test_paid_ratings_a_fifth_of_top_ratings_fire_a_tenth_does_not(
    n_paid: int, fires: bool
) -> None:
    """10 refunded of 44 top ratings (23%) flags the store; 3 of 37 (8%) is an honest store."""
    m = Market()
    _honest_background(m)
    m.honest("s", 50)  # 35 top ratings
    for k in range(n_paid - 1):
        m.rate(f"pay{k}", "s", 5, day=60 + k, refund=(1.0, 2.0))
    m.rate("last", "s", 5, day=70, refund=(1.0, 2.0))
    sig = rating_signals(m.dataset())
    row = _seller(sig, "s")
    assert row["n_top_refunded"] == n_paid
    assert ("refunded_top" in _fired(sig, "s")) is fires
    if fires:  # well above the threshold: most of the signal's weight, enough to flag
        assert row["manipulation_score"] >= 0.5


def test_too_early_feedback() -> None:
    m = Market()
    _honest_background(m)
    early = m.rate("e1", "s", 5, day=1, fb_delay=1.0)
    ok = m.rate("e2", "s", 5, day=2, fb_delay=3.0)
    unpaid = m.rate("e3", "s", 5, day=3, fb_delay=10.0, paid=False)
    sig = rating_signals(m.dataset())
    flagged = _flagged(sig, "too_early")
    assert early in flagged
    assert unpaid in flagged
    assert ok not in flagged
    assert flagged <= {early, unpaid}


def test_new_account_flag_uses_age_at_purchase_time() -> None:
    m = Market()
    _honest_background(m)
    young = m.rate("young", "s", 5, day=20)
    old = m.rate("old", "s", 5, day=20)
    m.created["young"] = T0 + timedelta(days=10)  # 10 days old when buying on day 20
    m.created["old"] = T0 - timedelta(days=20)  # 40 days old
    sig = rating_signals(m.dataset())
    assert young in _flagged(sig, "from_new_account")
    assert old not in _flagged(sig, "from_new_account")


def test_linked_and_group_raters() -> None:
    m = Market()
    _honest_background(m)
    m.honest("s", 30)
    linked = {m.rate(f"sock{k}", "s", 5, day=40 + k) for k in range(8)}
    grouped = {m.rate(f"ring{k}", "s", 5, day=40 + k) for k in range(8)}
    elsewhere = m.rate("ring0", "h1", 5, day=60)  # a ring member rating another seller
    links = _links(*[(f"sock{k}", "s") for k in range(8)], ("h2-b0", "unrelated"))
    groups = _groups({"G1": [f"ring{k}" for k in range(8)] + ["s"], "G2": ["h1-b5"]})
    sig = rating_signals(m.dataset(), identity_links=links, group_members=groups)
    assert _flagged(sig, "linked_to_target") == linked
    assert _flagged(sig, "in_group_with_target") == grouped
    assert elsewhere not in _flagged(sig, "in_group_with_target")
    row = _seller(sig, "s")
    assert row["n_top_linked"] == 8
    assert row["n_top_group"] == 8
    assert {"linked_accounts", "group_members"} <= _fired(sig, "s")
    assert _flagged(sig, "suspicious") == linked | grouped
    reasons = dict(sig.feedback.select("feedback_id", "reasons").iter_rows())
    assert all("linked_to_target" in reasons[f] for f in linked)
    assert all("in_group_with_target" in reasons[f] for f in grouped)
    assert all(
        reasons[f] == []
        for f in sig.feedback.filter(pl.col("author_id").str.starts_with("h"))["feedback_id"]
    )
    raters = sig.raters.filter(pl.col("account_id").is_in(["sock0", "ring0", "s-b0"])).sort(
        "account_id"
    )
    assert raters.select(
        "account_id", "n_ratings", "n_sellers", "n_strong_flags", "n_suspicious"
    ).rows() == [
        ("ring0", 2, 2, 1, 1),
        ("s-b0", 1, 1, 0, 0),
        ("sock0", 1, 1, 1, 1),
    ]
    assert row["manipulation_score"] > 0.8
    assert "Not computed" not in row["explanation"]


@pytest.mark.parametrize(("score", "counted"), [(0.8, True), (0.5, True), (0.49, False)])
def test_only_groups_scoring_at_least_group_min_score_count(score: float, counted: bool) -> None:
    m = Market()
    _honest_background(m)
    m.honest("s", 30)
    grouped = {m.rate(f"ring{k}", "s", 5, day=40 + k) for k in range(8)}
    members = _groups({"G1": [f"ring{k}" for k in range(8)] + ["s"]})
    groups = pl.DataFrame({"group_id": ["G1"], "score": [score]})
    sig = rating_signals(m.dataset(), group_members=members, groups=groups)
    assert _flagged(sig, "in_group_with_target") == (grouped if counted else set())
    assert _seller(sig, "s")["n_top_group"] == (8 if counted else 0)
    assert ("group_members" in _fired(sig, "s")) is counted
    # without the groups' table every member counts, whatever its group's score
    unfiltered = rating_signals(m.dataset(), group_members=members)
    assert _flagged(unfiltered, "in_group_with_target") == grouped


def test_weak_groups_count_only_around_a_store_a_ring_scored_group_holds() -> None:
    m = Market()
    _honest_background(m)
    for s in ("s", "t"):
        m.honest(s, 30)
    ring = {m.rate(f"ring{k}", "s", 5, day=40 + k) for k in range(4)}
    cover = {m.rate(f"cover{k}", "s", 5, day=40 + k) for k in range(4)}  # a second, weak group
    regulars = {m.rate(f"reg{k}", "t", 5, day=40 + k) for k in range(4)}  # t's weak group only
    members = _groups(
        {
            "strong": [f"ring{k}" for k in range(4)] + ["s"],
            "weak_s": [f"cover{k}" for k in range(4)] + ["s"],
            "weak_t": [f"reg{k}" for k in range(4)] + ["t"],
        }
    )
    groups = pl.DataFrame({"group_id": ["strong", "weak_s", "weak_t"], "score": [0.7, 0.4, 0.4]})
    sig = rating_signals(m.dataset(), group_members=members, groups=groups)
    assert _flagged(sig, "in_group_with_target") == ring | cover  # s is implicated
    assert not regulars & _flagged(sig, "in_group_with_target")  # near miss: t is not
    # the strong group scored below the bar: nothing around s counts either
    weak = groups.with_columns(score=pl.lit(0.4))
    sig = rating_signals(m.dataset(), group_members=members, groups=weak)
    assert _flagged(sig, "in_group_with_target") == set()


@pytest.mark.parametrize(
    ("stores", "dsr", "counted"),
    [
        (("a", "b"), (5, 5, 5), True),  # two stores rated perfectly by the group: a circle
        (("a", "b"), (5, 4, 5), False),  # near miss: the same group, ordinary DSRs
        (("a",), (5, 5, 5), False),  # near miss: one store and its perfect raters
    ],
)
def test_weak_group_of_several_stores_counts_when_its_ratings_are_perfect(
    stores: tuple[str, ...], dsr: tuple[int, int, int], counted: bool
) -> None:
    m = Market()
    _honest_background(m)
    for s in ("a", "b"):
        m.honest(s, 30)
    rated = {m.rate(f"acct{k}", stores[k % len(stores)], 5, day=40 + k, dsr=dsr) for k in range(6)}
    members = _groups({"G": [f"acct{k}" for k in range(6)] + list(stores)})
    groups = pl.DataFrame({"group_id": ["G"], "score": [0.45]})
    sig = rating_signals(m.dataset(), group_members=members, groups=groups)
    assert _flagged(sig, "in_group_with_target") == (rated if counted else set())
    # the share is a setting: 5/4/5 triples count once any share will do
    loose = rating_signals(
        m.dataset(),
        group_members=members,
        groups=groups,
        params=RatingParams(circle_min_perfect_share=0.0),
    )
    assert bool(_flagged(loose, "in_group_with_target")) is (len(stores) > 1)


def test_missing_inputs_give_null_signals_that_say_not_computed() -> None:
    m = Market()
    _honest_background(m)
    sig = rating_signals(m.dataset(accounts=False))
    for flag in ("from_new_account", "in_group_with_target", "linked_to_target"):
        assert sig.feedback[flag].null_count() == sig.feedback.height
    row = _seller(sig, "h1")
    for col in (
        "share_top_from_new_accounts",
        "share_top_from_group_members",
        "share_top_from_linked_accounts",
    ):
        assert row[col] is None
    assert "Not computed: new-account share (no accounts table)" in row["explanation"]
    assert "identity-linked share (no identity_links given)" in row["explanation"]
    assert row["refunded_top_share"] == 0.0  # no refunds table: nothing known refunded


def test_inflation_sentence_has_exact_numbers() -> None:
    m = Market()
    _honest_background(m)
    for k in range(4):
        m.rate(f"real{k}", "s", 4, day=k, dsr=(4, 4, 4))
        m.rate(f"sock{k}", "s", 5, day=k, dsr=(5, 5, 5))
    sig = rating_signals(m.dataset(), identity_links=_links(*[(f"sock{k}", "s") for k in range(4)]))
    row = _seller(sig, "s")
    assert row["dsr_item_as_described_mean"] == 4.5
    assert row["dsr_item_as_described_mean_reliable"] == 4.0
    assert row["dsr_item_as_described_inflation"] == 0.5
    assert row["n_unreliable"] == 4
    assert (
        "Inflation: DSR item-as-described 4.50 -> 4.00, DSR communication 4.50 -> 4.00, "
        "DSR shipping speed 4.50 -> 4.00, rating 4.50 -> 4.00 "
        "once 4 unreliable ratings are removed."
    ) in row["explanation"]


# ------------------------------------------------------------------------------------ trading
def test_feedback_trading_between_linked_accounts_of_two_sellers() -> None:
    m = Market()
    _honest_background(m)
    for s in ("A", "B", "C"):
        m.honest(s, 20)
    ab = m.rate("a1", "B", 5, day=30)  # a1 is A's account
    ba = m.rate("b1", "A", 5, day=31)  # b1 is B's account
    ca = m.rate("c1", "A", 5, day=32)  # c1 is C's account: one-way, no trade
    neg = m.rate("b1", "C", 1, day=33)  # reciprocal but negative: no trade
    m.rate("c1", "B", 2, day=34)
    links = _links(("a1", "A"), ("b1", "B"), ("c1", "C"))
    sig = rating_signals(m.dataset(), identity_links=links)
    pairs = sig.trading_pairs
    assert pairs.select("account_a", "account_b", "seller_a", "seller_b", "n_feedback").rows() == [
        ("a1", "b1", "A", "B", 2)
    ]
    assert pairs["feedback_ids"].to_list() == [sorted([ab, ba])]
    assert _flagged(sig, "traded") == {ab, ba}
    assert ca not in _flagged(sig, "traded")
    assert neg not in _flagged(sig, "traded")
    # one trade among A's 16 top ratings: smoothed share 4%, below trading_share_min (5%)
    assert "feedback_trading" not in _fired(sig, "A")
    assert "feedback_trading" not in _fired(sig, "C")
    assert _seller(sig, "A")["n_trading_partners"] == 1
    assert _seller(sig, "A")["n_top_traded"] == 1


def test_trading_signal_needs_a_share_of_the_stores_top_ratings() -> None:
    """A circle's small stores fire; a dominant store whose accounts traded too does not."""
    m = Market()
    _honest_background(m)
    m.honest("small", 20)  # 14 top ratings
    m.honest("big", 400)  # 280 top ratings
    for k in range(4):  # four trades each way between accounts of the two stores
        m.rate(f"big_acct{k}", "small", 5, day=30 + k)
        m.rate(f"small_acct{k}", "big", 5, day=30 + k)
    links = _links(
        *[(f"big_acct{k}", "big") for k in range(4)],
        *[(f"small_acct{k}", "small") for k in range(4)],
    )
    sig = rating_signals(m.dataset(), identity_links=links)
    assert _seller(sig, "small")["n_top_traded"] == 4
    assert _seller(sig, "big")["n_top_traded"] == 4
    assert "feedback_trading" in _fired(sig, "small")  # 4 of 18 top ratings
    assert "feedback_trading" not in _fired(sig, "big")  # 4 of 284: not its reputation
    detail = next(x for x in _seller(sig, "small")["signals"] if x["name"] == "feedback_trading")
    assert detail["detail"].startswith("4 of 18 top ratings traded with 1 other seller(s) (22%")
    # the same trades fire for the big store once the share threshold is dropped
    low = rating_signals(
        m.dataset(), identity_links=links, params=RatingParams(trading_share_min=0.0)
    )
    assert "feedback_trading" in _fired(low, "big")


def test_sellers_trading_with_their_own_accounts_without_links() -> None:
    m = Market()
    _honest_background(m)
    xy = m.rate("X", "Y", 5, day=5)
    yx = m.rate("Y", "X", 5, day=6)
    # seller accounts cannot buy under the contract's accounts table, so no accounts here
    sig = rating_signals(m.dataset(accounts=False))
    assert sig.trading_pairs.select("account_a", "account_b", "seller_a", "seller_b").rows() == [
        ("X", "Y", "X", "Y")
    ]
    assert _flagged(sig, "traded") == {xy, yx}


# ----------------------------------------------------------------------------- table contract
def test_output_tables_have_the_interface_columns_and_types() -> None:
    m, _ = _burst_market(12)
    m.seller_rates_buyer(0)
    sig = rating_signals(m.dataset(), identity_links=_links(), group_members=_groups({}))
    s = sig.sellers
    for col in (
        "seller_id",
        "n_ratings",
        "rating_mean",
        "rating_smoothed",
        "dsr_item_as_described_mean",
        "dsr_shipping_speed_smoothed",
        "divergence",
        "birdnest_score",
        "burst_ratio",
        "share_top_from_new_accounts",
        "share_top_from_group_members",
        "share_top_from_linked_accounts",
        "perfect_dsr_share",
        "early_feedback_share",
        "refunded_top_share",
        "n_top_traded",
        "n_trading_partners",
        "dsr_item_as_described_mean_reliable",
        "n_unreliable",
        "manipulation_score",
        "signals",
        "explanation",
    ):
        assert col in s.columns, col
    assert s.schema["signals"] == pl.List(SIGNAL)
    assert s["manipulation_score"].is_between(0.0, 1.0).all()
    assert {"account_id", "fairness", "n_ratings"} <= set(sig.raters.columns)
    fb = sig.feedback
    assert {
        "feedback_id",
        "order_id",
        "author_id",
        "target_id",
        "reliability",
        "suspicious",
    } <= set(fb.columns)
    for flag in FEEDBACK_FLAGS:
        assert fb.schema[flag] == pl.Boolean
    # seller -> buyer feedback is not a rating of a seller
    assert "sf00000" not in fb["feedback_id"].to_list()
    assert s["seller_id"].is_sorted()
    for frame in (s, sig.raters, fb, sig.trading_pairs):
        assert not any(dt.is_unsigned_integer() for dt in frame.schema.values())


def test_same_input_gives_byte_identical_output_and_row_order_only_moves_rows(tmp_path) -> None:
    m, _ = _burst_market(30)
    m.rate("a1", "B", 5, day=5)
    m.rate("b1", "A", 5, day=6)
    ds = m.dataset()
    links = _links(("a1", "A"), ("b1", "B"), ("ring3", "s"))
    a = rating_signals(ds, identity_links=links)
    b = rating_signals(ds, identity_links=links)
    for name in ("sellers", "raters", "feedback", "trading_pairs"):
        getattr(a, name).write_parquet(tmp_path / f"a_{name}.parquet")
        getattr(b, name).write_parquet(tmp_path / f"b_{name}.parquet")
        assert (tmp_path / f"a_{name}.parquet").read_bytes() == (
            tmp_path / f"b_{name}.parquet"
        ).read_bytes(), name
    assert a.feedback["feedback_id"].to_list() == ds.feedback.collect()["feedback_id"].to_list()
    shuffled = Dataset(
        tables={
            k: v.collect().sample(fraction=1.0, shuffle=True, seed=7).lazy()
            for k, v in ds.tables.items()
        },
        as_of=ds.as_of,
    )
    c = rating_signals(shuffled, identity_links=links.reverse())
    for name, key in (
        ("sellers", "seller_id"),
        ("raters", "account_id"),
        ("feedback", "feedback_id"),
        ("trading_pairs", "account_a"),
    ):
        assert_frame_equal(getattr(a, name).sort(key), getattr(c, name).sort(key), abs_tol=1e-9)


def test_no_buyer_feedback_gives_empty_tables() -> None:
    m = Market()
    m.rate("b1", "s1", 5, day=1)
    m.feedback = []
    m.seller_rates_buyer(0)  # only a seller -> buyer rating
    sig = rating_signals(m.dataset())
    assert sig.sellers.height == sig.raters.height == sig.feedback.height == 0
    assert sig.trading_pairs.height == 0
    assert sig.sellers.schema["signals"] == pl.List(SIGNAL)


@pytest.mark.parametrize(("score", "counted"), [(0.6, True), (0.4, False)])
def test_scan_context_passes_the_groups_scores_to_the_rating_signals(
    monkeypatch: pytest.MonkeyPatch, score: float, counted: bool
) -> None:
    from graphkit.policy.context import ScanContext

    m = Market()
    _honest_background(m)
    m.honest("s", 30)
    grouped = {m.rate(f"ring{k}", "s", 5, day=40 + k) for k in range(8)}
    members = _groups({"G1": [f"ring{k}" for k in range(8)] + ["s"]})
    table = pl.DataFrame({"group_id": ["G1"], "score": [score], "seller_ids": [["s"]]})
    monkeypatch.setattr(ScanContext, "has_groups", lambda self: True)
    monkeypatch.setattr(ScanContext, "ring_members", members)
    monkeypatch.setattr(ScanContext, "group_table", table)
    monkeypatch.setattr(ScanContext, "identity_links", _links(("x", "y")))
    sig = ScanContext(m.dataset()).ratings
    # a weak candidate group (score < group_min_score, no ring-scored group at s) does not count
    assert _flagged(sig, "in_group_with_target") == (grouped if counted else set())


def test_corating_pairs_find_a_circle_without_ties_near_misses_do_not() -> None:
    from graphkit.detect.rating_trading import corating_pairs

    rows = []
    for w in ("w1", "w2", "w3"):  # dedicated accounts: all their ratings on stores A and B
        rows += [(w, "A", 5), (w, "B", 5)]
    for h in ("h1", "h2", "h3"):  # rated C and D, but most of their ratings go elsewhere
        rows += [(h, "C", 5), (h, "D", 5), (h, "X1", 5), (h, "X2", 4), (h, "X3", 5)]
    rows += [("v1", "E", 5), ("v1", "F", 5), ("v2", "E", 5), ("v2", "F", 5)]  # two only
    rows += [("n1", "A", 2), ("n1", "G", 5)]  # a negative rating is no trade
    rows += [(f"{s}{i}", s, 4) for i in range(20) for s in ("A", "B")]  # one-store customers
    small = pl.DataFrame(
        {"author_id": [r[0] for r in rows], "target_id": [r[1] for r in rows],
         "rating": [r[2] for r in rows]}
    )  # fmt: skip
    # near miss: in this market of 49 raters, 3 shared raters of two 23-rater stores are
    # what chance gives (23 * 23 / 49 = 10.8 expected)
    assert corating_pairs(small, store_quantile=1.0).height == 0
    rows += [(f"x{i}", f"S{i}", 5) for i in range(2000)]  # the rest of a bigger market
    fb = pl.DataFrame(
        {
            "author_id": [r[0] for r in rows],
            "target_id": [r[1] for r in rows],
            "rating": [r[2] for r in rows],
        }
    )
    out = corating_pairs(fb, store_quantile=1.0)
    assert out.rows() == [("A", "B", 3, 3 / 23)]
    # near misses by setting: 4 shared accounts, or 15% of the larger store's raters
    assert corating_pairs(fb, store_quantile=1.0, min_shared=4).height == 0
    assert corating_pairs(fb, store_quantile=1.0, min_share=0.15).height == 0
    assert corating_pairs(fb, store_quantile=1.0, min_lift=100.0).height == 0
    # C-D: 3 shared raters, but giving the pair 40% of their ratings; at 40% they count
    loose = corating_pairs(fb, store_quantile=1.0, min_worker_share=0.4)
    assert ("C", "D") in [(a, b) for a, b, *_ in loose.rows()]
    # DSRs: the shared accounts' ratings of A and B must be mostly perfect 5/5/5 triples
    worker = pl.col("author_id").is_in(["w1", "w2", "w3"])
    first = worker & (pl.col("author_id") == "w1")

    def with_dsr(perfect: pl.Expr) -> pl.DataFrame:
        return fb.with_columns(perfect_dsr=perfect)

    traded = with_dsr(pl.when(worker).then(~first | (pl.col("target_id") == "A")))
    assert corating_pairs(traded, store_quantile=1.0).height == 1  # 5 of 6 perfect
    honest = with_dsr(pl.when(worker).then(first & (pl.col("target_id") == "A")))
    assert corating_pairs(honest, store_quantile=1.0).height == 0  # 1 of 6: near miss
    assert corating_pairs(honest, store_quantile=1.0, min_perfect_share=0.1).height == 1
    no_dsr = with_dsr(pl.lit(None, dtype=pl.Boolean))  # no DSRs recorded: test left out
    assert corating_pairs(no_dsr, store_quantile=1.0).height == 1


def test_rating_base_computed_beforehand_gives_the_same_signals() -> None:
    from graphkit.detect.ratings import rating_base

    m = Market()
    _honest_background(m)
    m.honest("s", 30)
    for k in range(8):
        m.rate(f"sock{k}", "s", 5, day=40 + k)
        m.rate(f"ring{k}", "s", 5, day=40 + k, fb_delay=0.5)
    ds = m.dataset()
    links = _links(*[(f"sock{k}", "s") for k in range(8)])
    groups = _groups({"G1": [f"ring{k}" for k in range(8)] + ["s"]})
    direct = rating_signals(ds, identity_links=links, group_members=groups)
    base = rating_base(ds)
    assert "in_group_with_target" not in base.flags.columns  # no detection result in it
    split = rating_signals(ds, identity_links=links, group_members=groups, base=base)
    assert direct.sellers.filter(pl.col("seller_id") == "s")["n_top_group"].item() == 8
    for name in ("sellers", "raters", "feedback", "trading_pairs"):
        assert_frame_equal(getattr(direct, name), getattr(split, name))
    # a base computed with other parameters is not used (6 hours are not too early here)
    strict = RatingParams(min_delivery_days=0.25)
    other = rating_signals(ds, params=strict, base=base)
    assert_frame_equal(other.feedback, rating_signals(ds, params=strict).feedback)
    assert not other.feedback["too_early"].equals(direct.feedback["too_early"])


def test_rating_base_carries_the_bursts_aligned_with_the_feedback() -> None:
    from graphkit.detect.ratings import rating_base

    m, ring = _burst_market(30)
    ds = m.dataset()
    base = rating_base(ds)
    in_burst = set(base.flags.filter("in_burst")["feedback_id"])
    assert in_burst == ring
    assert base.burst_sellers.filter(pl.col("target_id") == "s")["burst_count"].item() == 30
    groups = _groups({"G1": ["ring0", "ring1", "s"]})
    direct = rating_signals(ds, group_members=groups)
    split = rating_signals(ds, group_members=groups, base=base)
    assert _flagged(split, "in_burst") == ring
    for name in ("sellers", "raters", "feedback", "trading_pairs"):
        assert_frame_equal(getattr(direct, name), getattr(split, name))
