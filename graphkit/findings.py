"""The output tables of a scan: findings, account scores and groups.

The schemas here are the output contract of ``shared/data-contract.md``,
extended (never contradicted) with the columns an investigator needs to defend
a finding: the signals with their numbers, the typed evidence, the policy
section, the parameters, seed and version that produced it.

Examples
--------
>>> from graphkit.findings import empty_findings, finding_ids
>>> empty_findings().columns[:4]
['finding_id', 'rule_id', 'policy', 'severity']
>>> finding_ids("UNPAID_ITEMS", [["b1"]], [["o1", "o2"]])
['UNPAID_ITEMS-348fa410df59']
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import polars as pl

__all__ = [
    "ACCOUNT_SCORES_SCHEMA",
    "ACTIONS",
    "EVIDENCE_KINDS",
    "FINDINGS_SCHEMA",
    "GROUPS_SCHEMA",
    "SEVERITIES",
    "SIGNAL",
    "empty_account_scores",
    "empty_findings",
    "empty_groups",
    "finding_ids",
    "group_ids",
]

SEVERITIES = ("low", "medium", "high", "critical")
ACTIONS = ("review", "warning", "restrict_buying", "suspend", "terminate")
EVIDENCE_KINDS = (
    "order",
    "feedback",
    "message",
    "case",
    "refund",
    "coupon",
    "account",
    "identifier",
)

#: One named signal: its measured value, the threshold it is judged against
#: (null when it only contributes), its contribution to the score, and a plain-text detail.
SIGNAL = pl.Struct(
    {
        "name": pl.String,
        "value": pl.Float64,
        "threshold": pl.Float64,
        "contribution": pl.Float64,
        "detail": pl.String,
    }
)

EVIDENCE = pl.Struct({"kind": pl.String, "id": pl.String})

FINDINGS_SCHEMA: dict[str, pl.DataType] = {
    # the contract's columns, in the contract's order
    "finding_id": pl.String(),
    "rule_id": pl.String(),
    "policy": pl.String(),
    "severity": pl.String(),
    "score": pl.Float64(),
    "group_id": pl.String(),
    "subject_ids": pl.List(pl.String),
    "evidence_ids": pl.List(pl.String),
    "recommended_action": pl.String(),
    "explanation": pl.String(),
    # extensions
    "signals": pl.List(SIGNAL),
    "evidence": pl.List(EVIDENCE),
    "section": pl.String(),
    "first_seen": pl.Datetime("us", "UTC"),
    "last_seen": pl.Datetime("us", "UTC"),
}

ACCOUNT_SCORES_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "risk_score": pl.Float64(),
    "rule_ids": pl.List(pl.String),
    "group_id": pl.String(),
}

GROUPS_SCHEMA: dict[str, pl.DataType] = {
    "group_id": pl.String(),
    "kind": pl.String(),
    "member_ids": pl.List(pl.String),
    "seller_ids": pl.List(pl.String),
    "score": pl.Float64(),
    "signals": pl.List(SIGNAL),
}


def empty_findings() -> pl.DataFrame:
    """Return an empty findings table with the output schema."""
    return pl.DataFrame(schema=FINDINGS_SCHEMA)


def empty_account_scores() -> pl.DataFrame:
    """Return an empty account-scores table with the output schema."""
    return pl.DataFrame(schema=ACCOUNT_SCORES_SCHEMA)


def empty_groups() -> pl.DataFrame:
    """Return an empty groups table with the output schema."""
    return pl.DataFrame(schema=GROUPS_SCHEMA)


def _digest(prefix: str, *parts: Sequence[str]) -> str:
    h = hashlib.sha256(prefix.encode())
    for part in parts:
        for item in sorted(part):
            h.update(b"\x1f" + item.encode())
        h.update(b"\x1e")
    return h.hexdigest()[:12]


def finding_ids(
    rule_id: str, subject_ids: Sequence[Sequence[str]], evidence_ids: Sequence[Sequence[str]]
) -> list[str]:
    """Deterministic finding ids: the rule id plus a hash of sorted subjects and evidence.

    The same finding gets the same id in every run on the same input, whatever
    the order in which it was found.

    Examples
    --------
    >>> finding_ids("COMM_SPAM", [["a"]], [["m1"]]) == finding_ids("COMM_SPAM", [["a"]], [["m1"]])
    True
    """
    return [
        f"{rule_id}-{_digest(rule_id, s, e)}"
        for s, e in zip(subject_ids, evidence_ids, strict=True)
    ]


def group_ids(kind: str, member_ids: Sequence[Sequence[str]]) -> list[str]:
    """Deterministic group ids from the group kind and its sorted members.

    Examples
    --------
    >>> group_ids("ring", [["b", "a"]]) == group_ids("ring", [["a", "b"]])
    True
    """
    return [f"G-{kind}-{_digest(kind, m)}" for m in member_ids]
