"""Judge a scan against the simulator's ground truth.

A scan's ``findings`` name rule ids; the simulator's ``labels`` name scenarios.
:data:`SCENARIO_RULES` is the explicit bridge between them: the rules that are
*expected* to catch each scenario.

Who counts as a violating account of each scenario (what the labels hold):

=====================  ======================================================
scenario               violating accounts (``entity_kind == "account"``)
=====================  ======================================================
shill_ring             the ring's seller and every ring buyer (linked or not)
camouflage             same as shill_ring; their honest-looking purchases from
                       popular sellers are *not* labelled entities
feedback_trading       the sellers of the circle and their buyer accounts
dsr_manipulation       the seller and the paid reviewer accounts
feedback_extortion     the threatening buyer (sellers are victims)
case_after_refund      the buyer
retaliation_case       the buyer
false_claims           the buyer
unpaid_serial          the buyer
spam                   the sender
coupon_multi_account   every account of the one person
coupon_self_dealing    the store and its linked accounts
=====================  ======================================================

Metrics
-------
For scenario ``s`` with rules ``R(s)``, *predicted* accounts are the subjects of
findings whose rule is in ``R(s)``; *true* accounts are those labelled ``s``.

- recall = |predicted ∩ true(s)| / |true(s)|
- precision = |predicted ∩ compatible(s)| / |predicted|, where ``compatible(s)``
  are the accounts of every scenario sharing a rule with ``s`` (a SHILL_PURCHASE
  finding on a camouflaged ring is right, not a false positive of shill_ring).
  ``None`` when nothing was predicted.
- entity level: the same with findings' evidence ids against labelled orders,
  feedback, messages, cases and coupons, counting only evidence of the kinds the
  scenario labels (a refusal message cited as context is not a false positive).
- ring recovery: for each planted group, the best Jaccard similarity between its
  accounts and any detected set (a finding's subjects, the union of subjects per
  finding ``group_id``, a ``groups`` row's members and sellers).
- ROC-AUC of ``account_scores.risk_score``: all labelled accounts against the
  unlabelled ones, and per scenario (its accounts against the unlabelled ones).
  Accounts absent from ``account_scores`` score 0.

Examples
--------
>>> import polars as pl
>>> labels = pl.DataFrame({"entity_kind": ["account"], "entity_id": ["u1"],
...                        "scenario": ["spam"], "group_id": ["spam-0001"]})
>>> findings = pl.DataFrame({"rule_id": ["COMM_SPAM"], "subject_ids": [["u1"]],
...                          "evidence_ids": [["m1"]], "group_id": [None]})
>>> ev = evaluate(findings, labels)
>>> ev.scenarios.filter(pl.col("scenario") == "spam")["recall"].item()
1.0
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from graphkit.errors import InputNotFoundError

__all__ = [
    "SCENARIO_RULES",
    "Evaluation",
    "evaluate",
    "evaluate_run",
    "roc_auc",
]

#: Scenario -> the rule ids expected to catch it (the evaluation's explicit mapping).
SCENARIO_RULES: dict[str, tuple[str, ...]] = {
    "shill_ring": ("SHILL_PURCHASE", "FEEDBACK_MANIPULATION"),
    "camouflage": ("SHILL_PURCHASE", "FEEDBACK_MANIPULATION"),
    "feedback_trading": ("FEEDBACK_MANIPULATION",),
    "dsr_manipulation": ("FEEDBACK_MANIPULATION",),
    "feedback_extortion": ("FEEDBACK_EXTORTION",),
    "case_after_refund": ("BPP_CASE_AFTER_REFUND",),
    "retaliation_case": ("BPP_RETALIATION",),
    "false_claims": ("BPP_FALSE_CLAIMS",),
    "unpaid_serial": ("UNPAID_ITEMS",),
    "spam": ("COMM_SPAM",),
    "coupon_multi_account": ("COUPON_ABUSE",),
    "coupon_self_dealing": ("COUPON_ABUSE",),
}


@dataclass(frozen=True)
class Evaluation:
    """Scores of a scan against ground truth.

    Attributes
    ----------
    scenarios
        One row per scenario: counts, precision, recall, F1 (accounts and entities),
        ring recovery and ROC-AUC.
    rules
        One row per rule id: precision, recall, F1 of its subjects against the accounts
        of the scenarios mapped to it.
    groups
        One row per planted group: its size, best Jaccard and the best-matching set.
    auc
        ROC-AUC of ``risk_score``, every labelled account against the unlabelled ones
        (``None`` without account scores).
    """

    scenarios: pl.DataFrame
    rules: pl.DataFrame
    groups: pl.DataFrame
    auc: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (JSON-ready)."""
        return {
            "scenario_rules": {k: list(v) for k, v in SCENARIO_RULES.items()},
            "auc": self.auc,
            "scenarios": self.scenarios.to_dicts(),
            "rules": self.rules.to_dicts(),
            "groups": self.groups.to_dicts(),
        }

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """Return the evaluation as JSON text and write it to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def format_table(self) -> str:
        """Format as a fixed-width text table: one line per scenario, then per rule."""

        def f(x: float | None) -> str:
            return "    -" if x is None else f"{x:5.2f}"

        head = (
            f"{'scenario':22s} {'true':>5s} {'pred':>5s} {'prec':>5s} {'rec':>5s} {'f1':>5s}"
            f" {'e.prec':>6s} {'e.rec':>5s} {'groups':>6s} {'jacc':>5s} {'auc':>5s}"
        )
        lines = [head, "-" * len(head)]
        for r in self.scenarios.iter_rows(named=True):
            lines.append(
                f"{r['scenario']:22s} {r['true_accounts']:5d} {r['predicted_accounts']:5d} "
                f"{f(r['precision'])} {f(r['recall'])} {f(r['f1'])} "
                f" {f(r['entity_precision'])} {f(r['entity_recall'])} {r['groups']:6d} "
                f"{f(r['mean_best_jaccard'])} {f(r['auc'])}"
            )
        lines.append("")
        lines.append(f"{'rule':22s} {'true':>5s} {'pred':>5s} {'prec':>5s} {'rec':>5s} {'f1':>5s}")
        for r in self.rules.iter_rows(named=True):
            lines.append(
                f"{r['rule_id']:22s} {r['true_accounts']:5d} {r['predicted_accounts']:5d} "
                f"{f(r['precision'])} {f(r['recall'])} {f(r['f1'])}"
            )
        lines.append("")
        lines.append(f"ROC-AUC of risk_score (all labelled vs unlabelled accounts): {f(self.auc)}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- helpers
def _prf(tp: int, n_pred: int, n_pred_ok: int, n_true: int) -> tuple[Any, Any, Any]:
    precision = n_pred_ok / n_pred if n_pred else None
    recall = tp / n_true if n_true else None
    if precision and recall:
        f1 = 2 * precision * recall / (precision + recall)
    else:
        f1 = 0.0 if n_true else None
    return precision, recall, f1


def roc_auc(scores: pl.Series, positive: pl.Series) -> float | None:
    """ROC-AUC by the rank-sum (Mann-Whitney) formula, ties counted half.

    Parameters
    ----------
    scores
        Score per item (higher = more likely positive).
    positive
        Boolean per item.

    Returns
    -------
    float or None
        ``None`` when there are no positives or no negatives.

    Examples
    --------
    >>> roc_auc(pl.Series([0.1, 0.9, 0.5]), pl.Series([False, True, False]))
    1.0
    >>> roc_auc(pl.Series([0.5, 0.5]), pl.Series([True, False]))
    0.5
    """
    frame = pl.DataFrame({"s": scores.cast(pl.Float64), "p": positive.cast(pl.Boolean)})
    n_pos = int(frame["p"].sum())
    n_neg = frame.height - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    rank_sum = frame.select(pl.col("s").rank("average").filter(pl.col("p")).sum()).item()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _compatible(scenario_rules: dict[str, tuple[str, ...]]) -> dict[str, set[str]]:
    out = {}
    for s, rules in scenario_rules.items():
        out[s] = {t for t, r in scenario_rules.items() if set(r) & set(rules)}
    return out


def _exploded(findings: pl.DataFrame, column: str, alias: str) -> pl.DataFrame:
    """Explode a list column into (finding index, rule_id, group_id, one id) rows."""
    return (
        findings.select(
            pl.int_range(pl.len()).alias("finding"), "rule_id", "group_id", pl.col(column)
        )
        .explode(column)
        .drop_nulls(column)
        .rename({column: alias})
    )


def _evidence(findings: pl.DataFrame) -> pl.DataFrame:
    """Return (finding, rule_id, kind, entity_id) of the evidence; kind null when unknown."""
    if "evidence" in findings.columns:
        ev = (
            findings.select(pl.int_range(pl.len()).alias("finding"), "rule_id", "evidence")
            .explode("evidence")
            .drop_nulls("evidence")
            .unnest("evidence")
            .rename({"id": "entity_id"})
            .select("finding", "rule_id", "kind", "entity_id")
        )
        if ev.height:
            return ev
    return _exploded(findings, "evidence_ids", "entity_id").select(
        "finding", "rule_id", pl.lit(None, dtype=pl.String).alias("kind"), "entity_id"
    )


def _candidate_sets(findings: pl.DataFrame, groups: pl.DataFrame | None) -> pl.DataFrame:
    """Return detected account sets as (cand, account_id), each candidate a distinct id."""
    subj = _exploded(findings, "subject_ids", "account_id")
    per_finding = subj.select(
        pl.concat_str([pl.lit("finding:"), pl.col("finding").cast(pl.String)]).alias("cand"),
        "account_id",
    )
    per_group = subj.drop_nulls("group_id").select(
        pl.concat_str([pl.lit("group:"), pl.col("group_id")]).alias("cand"), "account_id"
    )
    parts = [per_finding, per_group]
    if groups is not None and groups.height:
        g = groups.select(
            pl.concat_str([pl.lit("groups:"), pl.col("group_id")]).alias("cand"),
            pl.concat_list(
                pl.col("member_ids").fill_null([]),
                pl.col("seller_ids").fill_null([]) if "seller_ids" in groups.columns else [],
            ).alias("account_id"),
        ).explode("account_id")
        parts.append(g.drop_nulls("account_id"))
    return pl.concat(parts).unique()


def _ring_recovery(labels_acc: pl.DataFrame, cands: pl.DataFrame) -> pl.DataFrame:
    planted = labels_acc.drop_nulls("group_id").select("scenario", "group_id", "entity_id").unique()
    size = planted.group_by("scenario", "group_id").agg(pl.len().alias("size"))
    csize = cands.group_by("cand").agg(pl.len().alias("csize"))
    inter = (
        planted.join(cands, left_on="entity_id", right_on="account_id")
        .group_by("scenario", "group_id", "cand")
        .agg(pl.len().alias("inter"))
        .join(size, on=["scenario", "group_id"])
        .join(csize, on="cand")
        .with_columns(
            (pl.col("inter") / (pl.col("size") + pl.col("csize") - pl.col("inter"))).alias("j")
        )
        .sort(["scenario", "group_id", "j", "cand"], descending=[False, False, True, False])
        .unique(["scenario", "group_id"], keep="first", maintain_order=True)
        .select("scenario", "group_id", pl.col("j").alias("best_jaccard"), "cand")
    )
    return (
        size.join(inter, on=["scenario", "group_id"], how="left")
        .with_columns(pl.col("best_jaccard").fill_null(0.0))
        .rename({"cand": "best_match"})
        .sort("scenario", "group_id")
    )


# ---------------------------------------------------------------------------- main API
def evaluate(
    findings: pl.DataFrame,
    labels: pl.DataFrame,
    *,
    account_scores: pl.DataFrame | None = None,
    groups: pl.DataFrame | None = None,
    scenario_rules: dict[str, tuple[str, ...]] | None = None,
) -> Evaluation:
    """Score findings (and account scores, groups) against simulator labels.

    Parameters
    ----------
    findings
        A findings table (needs ``rule_id``, ``subject_ids``, ``evidence_ids``,
        ``group_id``; uses the typed ``evidence`` column when present).
    labels
        The simulator's labels table.
    account_scores
        ``account_id``, ``risk_score`` per account (for ROC-AUC).
    groups
        Detected groups (``group_id``, ``member_ids``, ``seller_ids``) for ring recovery.
    scenario_rules
        Scenario -> expected rule ids (default :data:`SCENARIO_RULES`).

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> labels = pl.DataFrame({"entity_kind": ["account", "account"],
    ...     "entity_id": ["u1", "u2"], "scenario": ["unpaid_serial"] * 2,
    ...     "group_id": ["g1", "g2"]})
    >>> findings = pl.DataFrame({"rule_id": ["UNPAID_ITEMS"] * 2,
    ...     "subject_ids": [["u1"], ["u9"]], "evidence_ids": [[], []], "group_id": [None, None]})
    >>> row = evaluate(findings, labels).scenarios.filter(pl.col("scenario") == "unpaid_serial")
    >>> row["precision"].item(), row["recall"].item()
    (0.5, 0.5)
    """
    rules_map = SCENARIO_RULES if scenario_rules is None else scenario_rules
    compat = _compatible(rules_map)
    findings = findings.with_columns(
        pl.col("group_id").cast(pl.String)
        if "group_id" in findings.columns
        else pl.lit(None).cast(pl.String).alias("group_id")
    )
    subjects = _exploded(findings, "subject_ids", "account_id")
    evidence = _evidence(findings)
    acc_labels = labels.filter(pl.col("entity_kind") == "account")
    ent_labels = labels.filter(pl.col("entity_kind") != "account")
    recovery = _ring_recovery(acc_labels, _candidate_sets(findings, groups))

    scores = None
    if account_scores is not None:
        everyone = pl.concat(
            [account_scores.select("account_id"), acc_labels.select(account_id="entity_id")]
        ).unique()
        scores = everyone.join(
            account_scores.select("account_id", "risk_score"), on="account_id", how="left"
        ).with_columns(pl.col("risk_score").fill_null(0.0))
    labelled_any = acc_labels["entity_id"].unique()

    rows = []
    for s in rules_map:  # a dozen scenarios: loop over groups, not rows
        rules = list(rules_map[s])
        true = acc_labels.filter(pl.col("scenario") == s)["entity_id"].unique()
        ok = acc_labels.filter(pl.col("scenario").is_in(list(compat[s])))["entity_id"].unique()
        pred = subjects.filter(pl.col("rule_id").is_in(rules))["account_id"].unique()
        tp = int(pred.is_in(true.implode()).sum())
        pred_ok = int(pred.is_in(ok.implode()).sum())
        p, r, f1 = _prf(tp, pred.len(), pred_ok, true.len())

        s_ent = ent_labels.filter(pl.col("scenario") == s)
        kinds = s_ent["entity_kind"].unique().to_list()
        e_true = s_ent["entity_id"].unique()
        e_ok = ent_labels.filter(
            pl.col("scenario").is_in(list(compat[s])) & pl.col("entity_kind").is_in(kinds)
        )["entity_id"].unique()
        e_pred = evidence.filter(
            pl.col("rule_id").is_in(rules)
            & (pl.col("kind").is_null() | pl.col("kind").is_in(kinds))
        )["entity_id"].unique()
        e_tp = int(e_pred.is_in(e_true.implode()).sum())
        ep, er, ef1 = _prf(
            e_tp, e_pred.len(), int(e_pred.is_in(e_ok.implode()).sum()), e_true.len()
        )

        rec = recovery.filter(pl.col("scenario") == s)
        auc = None
        if scores is not None:
            sub = scores.filter(
                pl.col("account_id").is_in(true.implode())
                | ~pl.col("account_id").is_in(labelled_any.implode())
            )
            auc = roc_auc(sub["risk_score"], sub["account_id"].is_in(true.implode()))
        rows.append(
            {
                "scenario": s,
                "rules": ",".join(rules),
                "true_accounts": true.len(),
                "predicted_accounts": pred.len(),
                "true_positives": tp,
                "precision": p,
                "recall": r,
                "f1": f1,
                "true_entities": e_true.len(),
                "predicted_entities": e_pred.len(),
                "entity_true_positives": e_tp,
                "entity_precision": ep,
                "entity_recall": er,
                "entity_f1": ef1,
                "groups": rec.height,
                "mean_best_jaccard": rec["best_jaccard"].mean() if rec.height else None,
                "groups_recovered": int((rec["best_jaccard"] >= 0.5).sum()),
                "auc": auc,
            }
        )
    scenarios = pl.DataFrame(rows, schema_overrides=_SCENARIO_SCHEMA)

    rule_rows = []
    all_rules = sorted({r for rs in rules_map.values() for r in rs} | set(findings["rule_id"]))
    for rule in all_rules:
        scen = [s for s, rs in rules_map.items() if rule in rs]
        true = acc_labels.filter(pl.col("scenario").is_in(scen))["entity_id"].unique()
        pred = subjects.filter(pl.col("rule_id") == rule)["account_id"].unique()
        tp = int(pred.is_in(true.implode()).sum())
        p, r, f1 = _prf(tp, pred.len(), tp, true.len())
        rule_rows.append(
            {
                "rule_id": rule,
                "scenarios": ",".join(scen),
                "findings": int((findings["rule_id"] == rule).sum()),
                "true_accounts": true.len(),
                "predicted_accounts": pred.len(),
                "true_positives": tp,
                "precision": p,
                "recall": r,
                "f1": f1,
            }
        )
    rules_df = pl.DataFrame(rule_rows, schema_overrides=_RULE_SCHEMA)

    auc_all = None
    if scores is not None:
        auc_all = roc_auc(scores["risk_score"], scores["account_id"].is_in(labelled_any.implode()))
    return Evaluation(scenarios=scenarios, rules=rules_df, groups=recovery, auc=auc_all)


_F = pl.Float64
_SCENARIO_SCHEMA = {
    k: _F
    for k in (
        "precision",
        "recall",
        "f1",
        "entity_precision",
        "entity_recall",
        "entity_f1",
        "mean_best_jaccard",
        "auc",
    )
}
_RULE_SCHEMA = {k: _F for k in ("precision", "recall", "f1")}


def _read_table(path: Path) -> pl.DataFrame:
    if path.suffix == ".csv":
        return pl.read_csv(path)
    if path.suffix == ".ndjson":
        return pl.read_ndjson(path)
    return pl.read_parquet(path)


def _find(folder: Path, stem: str) -> Path | None:
    for ext in ("parquet", "ndjson", "csv"):
        p = folder / f"{stem}.{ext}"
        if p.exists():
            return p
    return None


def evaluate_run(
    run_dir: str | os.PathLike[str], labels: str | os.PathLike[str] | pl.DataFrame
) -> Evaluation:
    """Evaluate a scan run folder against labels (a file, a dataset folder or a frame).

    Parameters
    ----------
    run_dir
        Folder written by ``graphkit scan`` (``findings.parquet``, ``account_scores.parquet``,
        optionally ``groups.parquet``).
    labels
        ``labels.parquet`` (or .csv/.ndjson), a simulated dataset folder holding it, or the
        labels DataFrame.

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> ev = evaluate_run("runs/sample", "data/sample/labels.parquet")  # doctest: +SKIP
    >>> print(ev.format_table())  # doctest: +SKIP
    """
    run = Path(run_dir)
    findings_path = _find(run, "findings") if run.is_dir() else None
    if findings_path is None:
        raise InputNotFoundError(
            f"no findings.parquet in {run}; expected a folder written by `graphkit scan`"
        )
    if isinstance(labels, pl.DataFrame):
        lab = labels
    else:
        lp = Path(labels)
        if lp.is_dir():
            found = _find(lp, "labels")
            if found is None:
                raise InputNotFoundError(
                    f"no labels file in {lp}; expected labels.parquet written by graphkit simulate"
                )
            lp = found
        if not lp.exists():
            raise InputNotFoundError(f"labels file {lp} does not exist")
        lab = _read_table(lp)
    scores_path = _find(run, "account_scores")
    groups_path = _find(run, "groups")
    return evaluate(
        pl.read_parquet(findings_path)
        if findings_path.suffix == ".parquet"
        else _read_table(findings_path),
        lab,
        account_scores=pl.read_parquet(scores_path) if scores_path else None,
        groups=pl.read_parquet(groups_path) if groups_path else None,
    )
