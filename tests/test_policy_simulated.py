"""The policy checks on simulated marketplaces with planted violations (labels known)."""

from __future__ import annotations

import polars as pl
import pytest

from graphkit.evaluate import evaluate
from graphkit.io import dataset_from_frames
from graphkit.scan import ScanResult, scan
from graphkit.simulate import SimulatedMarketplace, simulate

#: The rules of this module's checks and the scenarios they are expected to catch.
MY_RULES = {
    "UNPAID_ITEMS": ("unpaid_serial",),
    "BPP_CASE_AFTER_REFUND": ("case_after_refund",),
    "BPP_RETALIATION": ("retaliation_case",),
    "BPP_FALSE_CLAIMS": ("false_claims",),
    "COUPON_ABUSE": ("coupon_multi_account", "coupon_self_dealing"),
    "SHILL_PURCHASE": ("shill_ring", "camouflage"),
    "FEEDBACK_MANIPULATION": ("feedback_trading", "dsr_manipulation"),
}


@pytest.fixture(scope="module")
def market() -> SimulatedMarketplace:
    return simulate(3000, seed=11)


@pytest.fixture(scope="module")
def result(market: SimulatedMarketplace) -> ScanResult:
    return scan(dataset_from_frames(market.tables), seed=0)


def test_every_rule_fires_on_its_planted_scenarios(
    market: SimulatedMarketplace, result: ScanResult
) -> None:
    labelled = market.labels.filter(entity_kind="account")
    for rule, scenarios in MY_RULES.items():
        subjects = set(
            result.findings.filter(rule_id=rule)["subject_ids"].explode().drop_nulls().to_list()
        )
        truth = set(labelled.filter(pl.col("scenario").is_in(scenarios))["entity_id"].to_list())
        assert subjects & truth, f"{rule} found none of {scenarios}"


def test_precision_and_recall_on_planted_violations(
    market: SimulatedMarketplace, result: ScanResult
) -> None:
    ev = evaluate(result.findings, market.labels, account_scores=result.account_scores)
    rows = ev.scenarios.filter(
        pl.col("scenario").is_in([s for ss in MY_RULES.values() for s in ss])
    )
    tp = (rows["recall"] * rows["true_accounts"]).sum()
    recall = tp / rows["true_accounts"].sum()
    # a regression floor on a tiny (3,000-order) world, where a trading circle is a big
    # part of the market; the >= 0.95 targets are measured at 20k/100k by
    # benchmarks/bench_quality.py and reported in benchmarks/RESULTS.md
    assert recall >= 0.7, ev.format_table()
    for r in rows.iter_rows(named=True):
        assert r["precision"] is None or r["precision"] >= 0.85, ev.format_table()
    assert ev.auc is not None
    assert ev.auc >= 0.9


def test_one_conduct_one_finding_for_buyer_protection_cases(result: ScanResult) -> None:
    def cases(rule: str) -> set[str]:
        ev = (
            result.findings.filter(rule_id=rule)
            .select(pl.col("evidence").explode())
            .unnest("evidence")
        )
        return set(ev.filter(kind="case")["id"].to_list())

    false_claims = cases("BPP_FALSE_CLAIMS")
    assert not false_claims & cases("BPP_CASE_AFTER_REFUND")
    assert not false_claims & cases("BPP_RETALIATION")


def test_no_finding_without_evidence_or_explanation(result: ScanResult) -> None:
    f = result.findings
    assert f.height > 0
    assert f.filter(pl.col("evidence_ids").list.len() == 0).height == 0
    assert f.filter(pl.col("signals").list.len() == 0).height == 0
    assert f.filter(pl.col("explanation").str.len_chars() < 40).height == 0
    assert f["finding_id"].is_unique().all()


@pytest.mark.slow
def test_simulated_scan_is_byte_identical(market: SimulatedMarketplace, tmp_path) -> None:
    ds = dataset_from_frames(market.tables)
    a = scan(ds, seed=5).write(tmp_path / "a", report=False)
    b = scan(ds, seed=5).write(tmp_path / "b", report=False)
    for name in ("findings.parquet", "account_scores.parquet", "groups.parquet"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
