"""The evaluator on hand-made findings with known answers."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from graphkit.cli import main
from graphkit.errors import InputNotFoundError
from graphkit.evaluate import SCENARIO_RULES, evaluate, evaluate_run, roc_auc
from graphkit.findings import ACCOUNT_SCORES_SCHEMA, FINDINGS_SCHEMA, GROUPS_SCHEMA


def _labels(rows):
    return pl.DataFrame(
        rows, schema=["entity_kind", "entity_id", "scenario", "group_id"], orient="row"
    )


@pytest.fixture
def labels():
    return _labels(
        [
            *[("account", a, "shill_ring", "R1") for a in ("s1", "b1", "b2", "b3")],
            *[("order", o, "shill_ring", "R1") for o in ("o1", "o2", "o3")],
            *[("feedback", f, "shill_ring", "R1") for f in ("f1", "f2")],
            *[("account", a, "camouflage", "C1") for a in ("c1", "c2", "cs")],
            ("account", "sp1", "spam", "P1"),
            *[("message", m, "spam", "P1") for m in ("m1", "m2", "m3", "m4")],
            ("account", "up1", "unpaid_serial", "U1"),
            ("account", "up2", "unpaid_serial", "U2"),
            ("order", "o10", "unpaid_serial", "U1"),
            ("order", "o11", "unpaid_serial", "U2"),
            *[("account", a, "feedback_trading", "T1") for a in ("t1", "t2")],
            ("account", "rb", "retaliation_case", "X1"),
            ("order", "o30", "retaliation_case", "X1"),
            ("case", "c30", "retaliation_case", "X1"),
        ]
    )


def _findings(rows):
    """Rows of (rule_id, subjects, evidence, group_id) -> a findings table."""
    base = pl.DataFrame(
        {
            "rule_id": [r[0] for r in rows],
            "subject_ids": [r[1] for r in rows],
            "evidence_ids": [r[2] for r in rows],
            "group_id": [r[3] for r in rows],
        },
        schema={
            k: FINDINGS_SCHEMA[k] for k in ("rule_id", "subject_ids", "evidence_ids", "group_id")
        },
    )
    return base


@pytest.fixture
def findings():
    return _findings(
        [
            ("SHILL_PURCHASE", ["s1", "b1", "b2", "h1"], ["o1", "o2", "o9"], "G-ring-1"),
            ("FEEDBACK_MANIPULATION", ["c1"], ["f1"], None),
            ("COMM_SPAM", ["sp1"], ["m1", "m2", "m3", "m9"], None),
            ("UNPAID_ITEMS", ["up1"], ["o10"], None),
            ("UNPAID_ITEMS", ["h2"], ["o20"], None),
        ]
    )


def _row(ev, scenario):
    return ev.scenarios.filter(pl.col("scenario") == scenario).row(0, named=True)


def test_account_level_precision_recall_f1(findings, labels):
    ev = evaluate(findings, labels)
    shill = _row(ev, "shill_ring")
    # predicted {s1,b1,b2,h1,c1}; true {s1,b1,b2,b3}; c1 (camouflage) is compatible, h1 is not
    assert shill["predicted_accounts"] == 5
    assert shill["true_positives"] == 3
    assert shill["precision"] == pytest.approx(4 / 5)
    assert shill["recall"] == pytest.approx(3 / 4)
    assert shill["f1"] == pytest.approx(2 * 0.8 * 0.75 / 1.55)
    camo = _row(ev, "camouflage")
    assert camo["recall"] == pytest.approx(1 / 3)
    assert camo["precision"] == pytest.approx(4 / 5)
    spam = _row(ev, "spam")
    assert (spam["precision"], spam["recall"], spam["f1"]) == (1.0, 1.0, 1.0)
    unpaid = _row(ev, "unpaid_serial")
    assert (unpaid["precision"], unpaid["recall"], unpaid["f1"]) == (0.5, 0.5, 0.5)


def test_entity_level(findings, labels):
    ev = evaluate(findings, labels)
    shill = _row(ev, "shill_ring")
    # evidence {o1,o2,o9,f1} vs labelled {o1,o2,o3,f1,f2}
    assert shill["entity_precision"] == pytest.approx(3 / 4)
    assert shill["entity_recall"] == pytest.approx(3 / 5)
    spam = _row(ev, "spam")
    assert spam["entity_precision"] == pytest.approx(3 / 4)
    assert spam["entity_recall"] == pytest.approx(3 / 4)


def test_typed_evidence_counts_only_labelled_kinds(labels):
    f = _findings([("BPP_RETALIATION", ["rb"], ["o30", "c30", "fx"], None)]).with_columns(
        pl.Series(
            "evidence",
            [
                [
                    {"kind": "order", "id": "o30"},
                    {"kind": "case", "id": "c30"},
                    {"kind": "feedback", "id": "fx"},  # the seller's feedback: context only
                ]
            ],
        )
    )
    row = _row(evaluate(f, labels), "retaliation_case")
    assert row["entity_precision"] == 1.0
    assert row["entity_recall"] == 1.0
    untyped = _row(evaluate(f.drop("evidence"), labels), "retaliation_case")
    assert untyped["entity_precision"] == pytest.approx(2 / 3)


def test_no_predictions_and_absent_scenarios(labels):
    ev = evaluate(_findings([]), labels)
    shill = _row(ev, "shill_ring")
    assert shill["precision"] is None
    assert shill["recall"] == 0.0
    assert shill["f1"] == 0.0
    absent = _row(ev, "case_after_refund")
    assert absent["true_accounts"] == 0
    assert absent["recall"] is None
    assert set(ev.scenarios["scenario"]) == set(SCENARIO_RULES)


def test_rule_level(findings, labels):
    rules = evaluate(findings, labels).rules
    shill = rules.filter(pl.col("rule_id") == "SHILL_PURCHASE").row(0, named=True)
    assert shill["precision"] == pytest.approx(3 / 4)
    assert shill["recall"] == pytest.approx(3 / 7)
    fm = rules.filter(pl.col("rule_id") == "FEEDBACK_MANIPULATION").row(0, named=True)
    assert fm["precision"] == 1.0
    assert fm["recall"] == pytest.approx(1 / 9)
    assert fm["findings"] == 1


def test_ring_recovery_best_jaccard(findings, labels):
    ev = evaluate(findings, labels)
    r1 = ev.groups.filter(pl.col("group_id") == "R1").row(0, named=True)
    assert r1["size"] == 4
    assert r1["best_jaccard"] == pytest.approx(3 / 5)
    c1 = ev.groups.filter(pl.col("group_id") == "C1").row(0, named=True)
    assert c1["best_jaccard"] == pytest.approx(1 / 3)  # {c1} vs {c1,c2,cs}
    u2 = ev.groups.filter(pl.col("group_id") == "U2").row(0, named=True)
    assert u2["best_jaccard"] == 0.0
    assert u2["best_match"] is None
    groups = pl.DataFrame(
        {"group_id": ["G1"], "member_ids": [["b1", "b2", "b3"]], "seller_ids": [["s1"]]},
        schema={k: GROUPS_SCHEMA[k] for k in ("group_id", "member_ids", "seller_ids")},
    )
    ev2 = evaluate(findings, labels, groups=groups)
    r1 = ev2.groups.filter(pl.col("group_id") == "R1").row(0, named=True)
    assert r1["best_jaccard"] == 1.0
    assert r1["best_match"] == "groups:G1"
    shill = _row(ev2, "shill_ring")
    assert shill["groups_recovered"] == 1


def test_roc_auc_known_values():
    s = pl.Series([0.9, 0.8, 0.7, 0.1])
    assert roc_auc(s, pl.Series([True, False, True, False])) == pytest.approx(0.75)
    assert roc_auc(s, pl.Series([False, False, False, False])) is None
    assert roc_auc(pl.Series([0.2, 0.2, 0.9]), pl.Series([True, False, False])) == pytest.approx(
        0.25
    )


def test_auc_from_account_scores(findings, labels):
    acc = labels.filter(pl.col("entity_kind") == "account")["entity_id"].to_list()
    honest = ["h1", "h2", "h3"]
    scores = pl.DataFrame(
        {
            "account_id": [*acc, *honest],
            "risk_score": [0.9] * len(acc) + [0.1, 0.95, 0.1],
            "rule_ids": [[]] * (len(acc) + 3),
            "group_id": [None] * (len(acc) + 3),
        },
        schema=ACCOUNT_SCORES_SCHEMA,
    )
    ev = evaluate(findings, labels, account_scores=scores)
    # every labelled account (0.9) beats h1, h3 (0.1) and loses to h2 (0.95): AUC 2/3
    assert ev.auc == pytest.approx(2 / 3)
    assert _row(ev, "spam")["auc"] == pytest.approx(2 / 3)
    # an account missing from the scores counts as 0
    ev2 = evaluate(findings, labels, account_scores=scores.filter(pl.col("account_id") != "sp1"))
    assert _row(ev2, "spam")["auc"] == 0.0


def test_evaluate_run_and_cli(tmp_path, findings, labels, capsys):
    run = tmp_path / "run"
    run.mkdir()
    full = findings.with_columns(
        pl.lit(None, dtype=c).alias(n)
        for n, c in FINDINGS_SCHEMA.items()
        if n not in findings.columns
    ).select(list(FINDINGS_SCHEMA))
    full.write_parquet(run / "findings.parquet")
    pl.DataFrame(
        {
            "account_id": ["sp1"],
            "risk_score": [1.0],
            "rule_ids": [["COMM_SPAM"]],
            "group_id": [None],
        },
        schema=ACCOUNT_SCORES_SCHEMA,
    ).write_parquet(run / "account_scores.parquet")
    labels.write_parquet(tmp_path / "labels.parquet")
    ev = evaluate_run(run, tmp_path / "labels.parquet")
    assert _row(ev, "spam")["recall"] == 1.0
    assert evaluate_run(run, tmp_path).scenarios.equals(ev.scenarios)  # dataset folder
    out = tmp_path / "eval.json"
    code = main(["evaluate", str(run), str(tmp_path / "labels.parquet"), "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "shill_ring" in printed
    assert "ROC-AUC" in printed
    doc = json.loads(out.read_text())
    assert doc["scenario_rules"]["spam"] == ["COMM_SPAM"]
    spam = next(r for r in doc["scenarios"] if r["scenario"] == "spam")
    assert spam["precision"] == 1.0


def test_missing_inputs(tmp_path, labels):
    with pytest.raises(InputNotFoundError, match="findings"):
        evaluate_run(tmp_path, labels)
    (tmp_path / "run").mkdir()
    _findings([]).write_parquet(tmp_path / "run" / "findings.parquet")
    with pytest.raises(InputNotFoundError, match="labels"):
        evaluate_run(tmp_path / "run", tmp_path / "nope.parquet")
    assert main(["evaluate", str(tmp_path / "nowhere"), str(tmp_path)]) == 2


def test_oracle_findings_from_simulated_labels_score_perfectly():
    """Findings built from the labels themselves: the scenario->rule mapping is consistent."""
    from graphkit.simulate import simulate

    m = simulate(6_000, seed=4)
    lab = m.labels
    acc = lab.filter(pl.col("entity_kind") == "account")
    ent = lab.filter(pl.col("entity_kind") != "account")
    findings = (
        acc.group_by("scenario", "group_id")
        .agg(pl.col("entity_id").sort().alias("subject_ids"))
        .join(
            ent.group_by("scenario", "group_id").agg(
                pl.col("entity_id").sort().alias("evidence_ids")
            ),
            on=["scenario", "group_id"],
            how="left",
        )
        .with_columns(
            pl.col("scenario")
            .replace_strict({s: r[0] for s, r in SCENARIO_RULES.items()})
            .alias("rule_id"),
            pl.col("evidence_ids").fill_null([]),
        )
        .sort("group_id")
    )
    everyone = m.tables["accounts"]["account_id"]
    scores = pl.DataFrame(
        {
            "account_id": everyone,
            "risk_score": everyone.is_in(acc["entity_id"].implode()).cast(pl.Float64),
        }
    )
    ev = evaluate(findings, lab, account_scores=scores)
    for row in ev.scenarios.iter_rows(named=True):
        assert row["precision"] == 1.0, row["scenario"]
        assert row["recall"] == 1.0, row["scenario"]
        assert row["entity_recall"] == 1.0, row["scenario"]
        assert row["mean_best_jaccard"] == 1.0, row["scenario"]
        assert row["auc"] == 1.0, row["scenario"]
    assert ev.auc == 1.0
    # and random scores are no better than chance
    rng = np.random.default_rng(0)
    noise = scores.with_columns(pl.Series("risk_score", rng.random(scores.height)))
    assert abs(evaluate(findings, lab, account_scores=noise).auc - 0.5) < 0.1
