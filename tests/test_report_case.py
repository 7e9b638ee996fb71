"""A hand-built case shared by the report, evidence, history and plot tests.

A shill ring (buyers r1, r2, r3 around seller s1) next to honest trade
(buyers h1..h4 with sellers s1 and s2), messages carrying script injection
and a spreadsheet formula, and two findings with known evidence. The dataset
is written to disk and loaded, so the run records real input SHA-256s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

import graphkit
from graphkit.dataset import Dataset
from graphkit.findings import EVIDENCE, FINDINGS_SCHEMA, GROUPS_SCHEMA, SIGNAL
from graphkit.io import write_dataset
from graphkit.report.run import write_run

SCRIPT = "<script>document.title='PWNED'</script>"
IMG = "<img src=x onerror=\"document.title='PWNED'\">"
FORMULA = '=HYPERLINK("http://evil.example/x","click")'
RING = ["r1", "r2", "r3"]
RING_ORDERS = [f"or{i}" for i in range(1, 10)]


def t(day: int, hour: int = 10) -> str:
    return f"2026-03-{day:02d}T{hour:02d}:00:00Z"


def case_tables() -> dict[str, pl.DataFrame]:
    ring_buyers = [RING[i % 3] for i in range(9)]
    orders = pl.DataFrame(
        {
            "order_id": [*RING_ORDERS, "oh1", "oh2", "oh3", "oh4", "oh5"],
            "buyer_id": [*ring_buyers, "h1", "h2", "h3", "h4", "h1"],
            "seller_id": ["s1"] * 9 + ["s1", "s2", "s2", "s2", "s2"],
            "amount": [1.0] * 9 + [20.0, 35.0, 12.0, 50.0, 8.0],
            "created_at": [t(2 + i // 3, 9 + i) for i in range(9)] + [t(3), t(4), t(5), t(6), t(7)],
            "paid_at": [t(2 + i // 3, 10 + i) for i in range(9)] + [t(3), t(4), t(5), None, t(7)],
            "coupon_id": ["c1", None, None, None, None, None, None, None, None] + [None] * 5,
        }
    )
    n_ring = 9
    feedback = pl.DataFrame(
        {
            "feedback_id": [f"fr{i}" for i in range(1, 10)] + ["fh1", "fh2", "fh3", "fh5"],
            "order_id": [*RING_ORDERS, "oh1", "oh2", "oh3", "oh5"],
            "author_id": [*ring_buyers, "h1", "h2", "h3", "h1"],
            "target_id": ["s1"] * n_ring + ["s1", "s2", "s2", "s2"],
            "rating": [5] * n_ring + [2, 4, 3, 5],
            "dsr_item_as_described": [5] * n_ring + [2, 4, 3, 4],
            "dsr_communication": [5] * n_ring + [1, 5, 4, 4],
            "dsr_shipping_speed": [5] * n_ring + [3, 4, 2, 5],
            "created_at": [t(12, 9 + i) for i in range(9)] + [t(13), t(14), t(15), t(16)],
            "text": ["great"] * n_ring + ["slow", "ok", "meh", "fine"],
        }
    )
    messages = pl.DataFrame(
        {
            "message_id": ["m1", "m2", "m3", "m4"],
            "sender_id": ["r1", "r2", "r3", "h2"],
            "recipient_id": ["s1", "s1", "s1", "s2"],
            "order_id": ["or1", "or2", None, "oh2"],
            "sent_at": [t(2, 8), t(2, 9), t(3), t(4)],
            "text": [SCRIPT, IMG, FORMULA, "where is my parcel?"],
        }
    )
    accounts = pl.DataFrame(
        {
            "account_id": ["s1", "s2", *RING, "h1", "h2", "h3", "h4"],
            "kind": ["seller", "seller"] + ["buyer"] * 7,
            "created_at": [t(1)] * 9,
        }
    )
    disputes = pl.DataFrame(
        {
            "case_id": ["k1"],
            "order_id": ["oh1"],
            "opened_by": ["h1"],
            "opened_at": [t(9)],
            "reason": ["not_as_described"],
            "outcome": ["open"],
        }
    )
    coupons = pl.DataFrame(
        {
            "coupon_id": ["c1"],
            "issuer_id": ["s1"],
            "kind": ["store"],
            "value": [1.0],
            "min_spend": [0.0],
            "per_buyer_limit": [1],
            "valid_from": [t(1)],
            "valid_to": [t(28)],
        }
    )
    identifiers = pl.DataFrame({"account_id": RING, "kind": ["device"] * 3, "value": ["dev-x"] * 3})
    return {
        "accounts": accounts,
        "identifiers": identifiers,
        "orders": orders,
        "feedback": feedback,
        "messages": messages,
        "disputes": disputes,
        "coupons": coupons,
    }


def _signal(name: str, value: float, threshold: float | None, detail: str) -> dict:
    return {
        "name": name,
        "value": value,
        "threshold": threshold,
        "contribution": 0.5,
        "detail": detail,
    }


def case_findings() -> pl.DataFrame:
    ring_ev = [{"kind": "order", "id": o} for o in RING_ORDERS[:6]] + [
        {"kind": "feedback", "id": "fr9"},
        {"kind": "message", "id": "m1"},
        {"kind": "message", "id": "m2"},
    ]
    rows = [
        {
            "finding_id": "SHILL_PURCHASE-aaaaaaaaaaaa",
            "rule_id": "SHILL_PURCHASE",
            "policy": "Shill Purchases",
            "severity": "critical",
            "score": 0.95,
            "group_id": "G-ring-1",
            "subject_ids": ["r1", "r2", "r3", "s1"],
            "evidence_ids": [e["id"] for e in ring_ev],
            "recommended_action": "suspend",
            "explanation": "3 buyers on device dev-x bought 9 times from s1 <i>within</i> 3 days",
            "signals": [_signal("shared_device", 3.0, 2.0, "r1, r2, r3 share dev-x")],
            "evidence": ring_ev,
            "section": "Shill Purchases",
            "first_seen": None,
            "last_seen": None,
        },
        {
            "finding_id": "UNPAID_ITEMS-bbbbbbbbbbbb",
            "rule_id": "UNPAID_ITEMS",
            "policy": "Policy on Unpaid Items",
            "severity": "low",
            "score": 0.3,
            "group_id": None,
            "subject_ids": ["h4"],
            "evidence_ids": ["oh4"],
            "recommended_action": "review",
            "explanation": "1 unpaid order",
            "signals": [_signal("n_unpaid", 1.0, 1.0, "")],
            "evidence": [{"kind": "order", "id": "oh4"}],
            "section": "Unpaid Items",
            "first_seen": None,
            "last_seen": None,
        },
    ]
    df = pl.DataFrame(
        rows, schema={**FINDINGS_SCHEMA, "signals": pl.List(SIGNAL), "evidence": pl.List(EVIDENCE)}
    )
    return df.with_columns(
        first_seen=pl.datetime(2026, 3, 2, time_zone="UTC"),
        last_seen=pl.datetime(2026, 3, 12, time_zone="UTC"),
    )


def case_groups(members: list[str] | None = None, group_id: str = "G-ring-1") -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "group_id": group_id,
                "kind": "ring",
                "member_ids": members or [*RING, "s1"],
                "seller_ids": ["s1"],
                "score": 0.93,
                "signals": [_signal("density", 0.9, 0.5, "9 orders among 4 accounts")],
            }
        ],
        schema=GROUPS_SCHEMA,
    )


@dataclass
class Case:
    dataset: Dataset
    data_dir: Path
    run_dir: Path


def build_case(tmp: Path, *, tables: dict[str, pl.DataFrame] | None = None) -> Case:
    data_dir = write_dataset(tables or case_tables(), tmp / "data")
    ds = graphkit.load_dataset(data_dir)
    meta = {
        "version": graphkit.__version__,
        "as_of": ds.as_of.isoformat(),
        "seed": 7,
        "source": str(data_dir),
        "inputs": [
            {"table": f.table, "path": f.path, "sha256": f.sha256, "rows": f.rows} for f in ds.files
        ],
        "row_counts": ds.row_counts(),
        "parameters": {"rules": {"SHILL_PURCHASE": {"min_orders": 3}}},
        "not_evaluated": {"COMM_SPAM": "not evaluated (no spam model)"},
        "timings": {"inputs": 0.01},
    }
    run_dir = write_run(tmp / "run", findings=case_findings(), groups=case_groups(), meta=meta)
    return Case(ds, data_dir, run_dir)
