from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from graphkit.dataset import Dataset
from graphkit.findings import FINDINGS_SCHEMA
from graphkit.policy import (
    PolicyText,
    Threshold,
    checks,
    evidence,
    finalize_findings,
    get_check,
    policy_texts,
    register,
    signal,
)
from graphkit.policy.registry import SIGNAL_DECIMALS, unregister

CONTRACT_RULES = {
    "UNPAID_ITEMS",
    "SHILL_PURCHASE",
    "COMM_SPAM",
    "BPP_CASE_AFTER_REFUND",
    "BPP_RETALIATION",
    "BPP_FALSE_CLAIMS",
    "FEEDBACK_EXTORTION",
    "FEEDBACK_MANIPULATION",
    "COUPON_ABUSE",
}


def test_every_contract_rule_has_a_policy_text() -> None:
    texts = policy_texts()
    assert set(texts) == CONTRACT_RULES
    for t in texts.values():
        assert t.title
        assert t.section
        assert len(t.text) > 40


def test_policy_sections_come_from_the_marketplace_rules() -> None:
    from pathlib import Path

    rules = Path(__file__).resolve().parents[2] / "shared" / "marketplace-rules.txt"
    if not rules.exists():
        pytest.skip("shared/marketplace-rules.txt not available")
    body = rules.read_text(encoding="utf-8")
    for t in policy_texts().values():
        assert t.section in body, t.section


def test_registered_checks_declare_tables_and_thresholds_with_reasons() -> None:
    registered = checks()
    assert [c.rule_id for c in registered] == sorted(c.rule_id for c in registered)
    for c in registered:
        assert c.rule_id in CONTRACT_RULES
        assert c.tables, c.rule_id
        for t in c.thresholds:
            assert t.reason.strip(), (c.rule_id, t.name)


def test_register_rejects_duplicates_and_unknown_signals() -> None:
    @register(rule_id="T_DUP", tables=("orders",), builtin=False)
    def one(ctx, params):  # pragma: no cover - never run
        return pl.DataFrame()

    try:
        with pytest.raises(ValueError, match="already registered"):

            @register(rule_id="T_DUP", tables=("orders",), builtin=False)
            def two(ctx, params):  # pragma: no cover
                return pl.DataFrame()

        with pytest.raises(ValueError, match="unknown signals"):
            register(rule_id="T_SIG", tables=("orders",), signals=("telepathy",))
        with pytest.raises(ValueError, match="duplicate threshold"):
            register(
                rule_id="T_THR",
                tables=("orders",),
                thresholds=(Threshold("a", 1, "x"), Threshold("a", 2, "y")),
            )
    finally:
        unregister("T_DUP")
    with pytest.raises(KeyError, match="no check registered"):
        get_check("T_DUP")


def test_missing_table_means_not_evaluated() -> None:
    ds = Dataset(
        {"orders": pl.LazyFrame({"order_id": ["o"]})}, as_of=datetime(2026, 1, 1, tzinfo=UTC)
    )

    @register(rule_id="T_NEEDS", tables=("orders", "disputes", "refunds"), builtin=False)
    def needs(ctx, params):  # pragma: no cover
        return pl.DataFrame()

    try:
        assert needs.missing_tables(ds) == ["disputes", "refunds"]
        assert (
            needs.not_evaluated_reason(ds) == "not evaluated (no disputes table, no refunds table)"
        )
        assert get_check("UNPAID_ITEMS").not_evaluated_reason(ds) is None
    finally:
        unregister("T_NEEDS")


def test_policy_text_override() -> None:
    c = get_check("UNPAID_ITEMS")
    t = c.text({"UNPAID_ITEMS": {"text": "Pay within 20 days."}})
    assert t.text == "Pay within 20 days."
    assert t.title == policy_texts()["UNPAID_ITEMS"].title


def _draft(subjects: list[list[str]], ev: list[list[str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"subject_ids": subjects, "ids": ev, "score": [1.5] * len(ev)}
    ).with_columns(
        evidence=evidence("order", pl.col("ids")),
        severity=pl.lit("low"),
        recommended_action=pl.lit("warning"),
        explanation=pl.lit("x"),
        signals=pl.concat_list(signal("n", 1, threshold=2)),
    )


def test_finalize_findings_schema_ids_and_order_independence() -> None:
    text = PolicyText("UNPAID_ITEMS", "Unpaid items", "sec", "txt")
    a = finalize_findings(_draft([["b2", "b1"], ["b3"]], [["o2", "o1"], ["o9"]]), text)
    b = finalize_findings(_draft([["b3"], ["b1", "b2"]], [["o9"], ["o1", "o2"]]), text)
    assert a.schema == pl.Schema(FINDINGS_SCHEMA)
    assert a.equals(b)
    row = a.filter(pl.col("subject_ids").list.len() == 2).row(0, named=True)
    assert row["subject_ids"] == ["b1", "b2"]
    assert row["evidence_ids"] == ["o1", "o2"]
    assert row["score"] == 1.0  # clipped
    assert row["section"] == "sec"
    assert row["finding_id"].startswith("UNPAID_ITEMS-")


def test_finalize_findings_rejects_bad_actions_and_missing_columns() -> None:
    text = PolicyText("X", "x", "s", "t")
    bad = _draft([["b"]], [["o"]]).with_columns(recommended_action=pl.lit("ban_forever"))
    with pytest.raises(ValueError, match="bad actions"):
        finalize_findings(bad, text)
    with pytest.raises(ValueError, match="lack columns"):
        finalize_findings(_draft([["b"]], [["o"]]).drop("signals"), text)


def test_signal_numbers_are_identical_for_values_one_bit_apart() -> None:
    # 273064 s / 86400 by true division and by the reciprocal differ in the last bit;
    # polars can take either path depending on chunking, so a finding's signal would change
    # from run to run unless the number is rounded.
    a, b = 273064 / 86400.0, 273064 * (1 / 86400.0)
    assert a != b
    df = pl.DataFrame({"x": [a, b]})
    out = df.select(signal("gap", "x", threshold=pl.col("x"), contribution=pl.col("x")))
    first, second = out.to_series().to_list()
    assert first == second
    assert first["value"] == round(a, SIGNAL_DECIMALS)
