"""FEEDBACK_MANIPULATION on a simulated marketplace with planted violations (labels never shown)."""

from __future__ import annotations

import polars as pl
import pytest

from graphkit.io import dataset_from_frames
from graphkit.policy import ScanContext, get_check
from graphkit.simulate import simulate


def test_simulated_trading_circles_are_named_in_full_and_nobody_else() -> None:
    """20k orders, seed 0: circle accounts with two ratings into their circle are named too."""
    m = simulate(20_000, seed=0)
    ctx = ScanContext(dataset_from_frames(m.tables), seed=0)  # with detected groups
    out = get_check("FEEDBACK_MANIPULATION")(ctx, ctx.params("FEEDBACK_MANIPULATION"))
    acct = m.labels.filter(pl.col("entity_kind") == "account")
    circles = acct.filter(pl.col("scenario") == "feedback_trading")["entity_id"]
    subjects = out.select(pl.col("subject_ids").explode())["subject_ids"]
    # issue #6 targets: recall and precision >= 0.95 (before this round: recall 0.94)
    assert circles.is_in(subjects.implode()).mean() >= 0.95
    assert subjects.is_in(acct["entity_id"].implode()).mean() >= 0.95


def test_simulated_paid_rating_campaigns_are_named_in_full() -> None:
    """100k orders, seed 1: the unrefunded paid ratings inside a refunded burst name their
    raters (dsr_manipulation recall 0.86 before paid_burst_raters)."""
    m = simulate(100_000, seed=1)
    ctx = ScanContext(dataset_from_frames(m.tables), seed=1)
    out = get_check("FEEDBACK_MANIPULATION")(ctx, ctx.params("FEEDBACK_MANIPULATION"))
    acct = m.labels.filter(pl.col("entity_kind") == "account")
    paid = acct.filter(pl.col("scenario") == "dsr_manipulation")["entity_id"]
    subjects = out.select(pl.col("subject_ids").explode())["subject_ids"]
    assert paid.is_in(subjects.implode()).mean() >= 0.95
    assert subjects.is_in(acct["entity_id"].implode()).mean() >= 0.95
    burst = out.select(pl.col("reason_counts").explode().struct.field("reasons"))
    assert "paid_burst" in burst.to_series().to_list()


@pytest.mark.parametrize(
    ("n_orders", "seed"),
    [
        # circle accounts that rate only the store they are assigned to are named as circle
        # regulars (feedback_trading recall 0.88 before)
        pytest.param(100_000, 5, id="circle-regulars-100k-s5"),
        # a circle none of whose accounts shares an identifier with its store and which
        # detection does not report (feedback_trading recall 0.56 before corating_pairs)
        pytest.param(20_000, 7, id="circle-without-ties-20k-s7"),
        # a circle store none of whose accounts rates two circle stores, tied to the circle
        # by its accounts' mutual 5-star trades (feedback_trading recall 0.88 before
        # mutual_trade_stores: the store and three of its accounts were missed)
        pytest.param(20_000, 3, id="circle-store-by-mutual-trades-20k-s3"),
        # a store that trades ratings itself (a side of a trading pair) rated by two circle
        # workers once each and by two circle regulars (2-3 ratings each): flagged on the
        # regulars' ratings too (feedback_trading recall 0.87 before: the store and its two
        # regulars were missed)
        pytest.param(20_000, 56, id="trading-store-regulars-20k-s56"),
        # circle stores one mutual trade from a store joined through mutual trades (second
        # round of mutual_trade_stores; recall 0.92 and 0.94 before: 2 stores and an account,
        # a store and its regular missed)
        pytest.param(20_000, 55, id="circle-store-second-round-20k-s55"),
        pytest.param(20_000, 53, id="circle-store-second-round-20k-s53"),
    ],
)
def test_simulated_trading_circles_are_named(n_orders: int, seed: int) -> None:
    m = simulate(n_orders, seed=seed)
    ctx = ScanContext(dataset_from_frames(m.tables), seed=seed)
    out = get_check("FEEDBACK_MANIPULATION")(ctx, ctx.params("FEEDBACK_MANIPULATION"))
    acct = m.labels.filter(pl.col("entity_kind") == "account")
    circles = acct.filter(pl.col("scenario") == "feedback_trading")["entity_id"]
    subjects = out.select(pl.col("subject_ids").explode())["subject_ids"]
    assert circles.is_in(subjects.implode()).mean() >= 0.95
    assert subjects.is_in(acct["entity_id"].implode()).mean() >= 0.95


def test_simulated_window_raters_complete_a_camouflaged_ring() -> None:
    """100k orders, seed 7: a camouflaged ring flagged by FEEDBACK_MANIPULATION only; its
    accounts without a rating flag rated the store only inside the ring's window (camouflage
    recall 0.86 before window_raters)."""
    m = simulate(100_000, seed=7)
    ctx = ScanContext(dataset_from_frames(m.tables), seed=7)
    outs = [get_check(r)(ctx, ctx.params(r)) for r in ("SHILL_PURCHASE", "FEEDBACK_MANIPULATION")]
    subjects = pl.concat([o.select(pl.col("subject_ids").explode()) for o in outs])["subject_ids"]
    acct = m.labels.filter(pl.col("entity_kind") == "account")
    camo = acct.filter(pl.col("scenario") == "camouflage")["entity_id"]
    assert camo.is_in(subjects.implode()).mean() >= 0.95
    sig = outs[1].select(pl.col("signals").explode()).unnest("signals")
    assert sig.filter(pl.col("name") == "window_raters")["value"].sum() >= 1


def test_prefetched_corating_pairs_give_the_same_findings() -> None:
    """The scan's second thread finds the co-rated store pairs on the rating base (during
    detection); the check then uses them instead of the rating signals' feedback."""
    m = simulate(20_000, seed=0)
    ds = dataset_from_frames(m.tables)
    check = get_check("FEEDBACK_MANIPULATION")
    plain = ScanContext(ds, seed=0)
    want = check(plain, plain.params("FEEDBACK_MANIPULATION"))
    ctx = ScanContext(ds, seed=0)
    assert check.prefetch is not None
    check.prefetch(ctx, ctx.params("FEEDBACK_MANIPULATION"))
    co = ctx._shared["FEEDBACK_MANIPULATION corating_pairs"]
    assert co.height > 0  # the simulated circles are co-rated: the comparison is not vacuous
    assert co.equals(plain._shared["FEEDBACK_MANIPULATION corating_pairs"])
    assert check(ctx, ctx.params("FEEDBACK_MANIPULATION")).equals(want)
    # once the rating signals are done the base is gone: the prefetch does nothing
    later = ScanContext(ds, seed=0)
    _ = later.ratings
    check.prefetch(later, later.params("FEEDBACK_MANIPULATION"))
    assert "FEEDBACK_MANIPULATION corating_pairs" not in later._shared
