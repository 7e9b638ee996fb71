from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from graphkit.cli import main
from graphkit.config import ScanConfig
from graphkit.findings import ACCOUNT_SCORES_SCHEMA, FINDINGS_SCHEMA, GROUPS_SCHEMA
from graphkit.io import dataset_from_frames, load_dataset, write_dataset
from graphkit.scan import ScanResult, account_scores, scan

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _tables() -> dict[str, pl.DataFrame]:
    """A micro-marketplace: one serial non-payer (with a formula-like id), honest buyers."""
    buyers = ["=evil", "b_ok1", "b_ok2", "b_idle"]
    sellers = ["s1", "s2"]
    accounts = pl.DataFrame(
        {
            "account_id": buyers + sellers,
            "kind": ["buyer"] * 4 + ["seller"] * 2,
            "created_at": [T0 - timedelta(days=100)] * 6,
        }
    )
    rows = []
    for i in range(4):  # =evil: 4 unpaid orders in 40 days
        rows.append((f"u{i}", "=evil", "s1", i * 10, None))
    for i in range(6):
        rows.append((f"k{i}", "b_ok1" if i % 2 else "b_ok2", sellers[i % 2], i * 5, i * 5 + 1))
    orders = pl.DataFrame(
        {
            "order_id": [r[0] for r in rows],
            "buyer_id": [r[1] for r in rows],
            "seller_id": [r[2] for r in rows],
            "amount": [20.0] * len(rows),
            "created_at": [T0 + timedelta(days=r[3]) for r in rows],
            "paid_at": [None if r[4] is None else T0 + timedelta(days=r[4]) for r in rows],
        },
        schema_overrides={"paid_at": pl.Datetime("us", "UTC")},
    )
    paid = orders.filter(pl.col("paid_at").is_not_null())
    feedback = paid.select(
        feedback_id=pl.lit("f_") + pl.col("order_id"),
        order_id="order_id",
        author_id="buyer_id",
        target_id="seller_id",
        rating=pl.lit(5),
        dsr_item_as_described=pl.lit(5),
        dsr_communication=pl.lit(4),
        dsr_shipping_speed=pl.lit(5),
        created_at=pl.col("paid_at") + pl.duration(days=7),
    )
    return {"accounts": accounts, "orders": orders, "feedback": feedback}


AS_OF = T0 + timedelta(days=120)


@pytest.fixture(scope="module")
def result() -> ScanResult:
    return scan(dataset_from_frames(_tables(), as_of=AS_OF), seed=0)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ds") / "micro"
    write_dataset(_tables(), d)
    return d


def test_output_tables_match_the_contract(result: ScanResult) -> None:
    assert result.findings.schema == pl.Schema(FINDINGS_SCHEMA)
    assert result.account_scores.schema == pl.Schema(ACCOUNT_SCORES_SCHEMA)
    assert result.groups.schema == pl.Schema(GROUPS_SCHEMA)


def test_unpaid_serial_is_found_and_scored(result: ScanResult) -> None:
    unpaid = result.findings.filter(rule_id="UNPAID_ITEMS")
    assert unpaid["subject_ids"].to_list() == [["=evil"]]
    assert unpaid["recommended_action"].to_list() == ["restrict_buying"]
    scores = dict(result.account_scores.select("account_id", "risk_score").iter_rows())
    assert scores["=evil"] > 0.5
    assert scores["=evil"] > max(scores[a] for a in ("b_ok1", "b_ok2", "b_idle"))


def test_every_account_gets_a_score(result: ScanResult) -> None:
    ids = result.account_scores["account_id"].to_list()
    assert ids == sorted(["=evil", "b_ok1", "b_ok2", "b_idle", "s1", "s2"])
    assert result.account_scores.filter(account_id="=evil")["rule_ids"].to_list() == [
        ["UNPAID_ITEMS"]
    ]
    assert result.account_scores.filter(account_id="b_idle")["rule_ids"].to_list() == [[]]


def test_missing_tables_are_not_evaluated_never_clean(result: ScanResult) -> None:
    from graphkit.policy import checks

    for check in checks():
        needs_missing = any(t not in _tables() for t in check.tables)
        if needs_missing:
            assert result.not_evaluated[check.rule_id].startswith("not evaluated (no ")
            assert result.findings.filter(rule_id=check.rule_id).height == 0
    summary = result.summary()
    assert set(summary["rule_id"]) == {c.rule_id for c in checks()}
    assert summary.filter(rule_id="UNPAID_ITEMS")["status"].item() == "evaluated"


def test_disabled_rule_is_not_evaluated() -> None:
    cfg = ScanConfig.from_mapping({"scan": {"disabled": ["UNPAID_ITEMS"]}})
    r = scan(dataset_from_frames(_tables(), as_of=AS_OF), config=cfg)
    assert r.not_evaluated["UNPAID_ITEMS"] == "not evaluated (disabled by config)"
    assert r.findings.filter(rule_id="UNPAID_ITEMS").height == 0


def test_write_is_complete_and_byte_identical(dataset_dir: Path, tmp_path: Path) -> None:
    ds = load_dataset(dataset_dir, as_of=AS_OF)
    a = scan(ds, seed=3).write(tmp_path / "a", report=False)
    b = scan(ds, seed=3).write(tmp_path / "b", report=False)
    for name in ("findings.parquet", "account_scores.parquet", "groups.parquet", "findings.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    meta = json.loads((a / "run.json").read_text())
    assert meta["seed"] == 3
    assert meta["as_of"] == AS_OF.isoformat()
    assert meta["source"] == str(dataset_dir)
    assert {i["table"] for i in meta["inputs"]} == {"accounts", "orders", "feedback"}
    assert all(len(i["sha256"]) == 64 for i in meta["inputs"])
    assert meta["row_counts"]["orders"] == 10
    assert "check UNPAID_ITEMS" in meta["timings"]
    assert set(meta["cpu_timings"]) == {k for k in meta["timings"] if not k.startswith("detail ")}
    assert all(v >= 0 for v in meta["cpu_timings"].values())
    assert meta["findings"] == {"UNPAID_ITEMS": 1}
    assert set(meta["parameters"]["rules"]) >= {"UNPAID_ITEMS"}


def test_csv_neutralises_formulas(result: ScanResult, tmp_path: Path) -> None:
    out = result.write(tmp_path / "run", report=False)
    csv = pl.read_csv(out / "findings.csv")
    cell = csv.filter(pl.col("rule_id") == "UNPAID_ITEMS")["subject_ids"].item()
    assert cell == "'=evil"
    assert csv.filter(pl.col("rule_id") == "UNPAID_ITEMS")["evidence_ids"].item() == (
        "u0; u1; u2; u3"
    )


def test_write_failure_leaves_no_half_written_run(
    result: ScanResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    result.write(out, report=False)
    before = sorted(p.name for p in out.iterdir())

    def boom(self: pl.DataFrame, *a: object, **k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", boom)
    with pytest.raises(OSError, match="disk full"):
        result.write(out, report=False)
    assert sorted(p.name for p in out.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_account_scores_combine_findings_and_priors() -> None:
    ds = dataset_from_frames(_tables(), as_of=AS_OF)
    findings = result_findings = scan(ds).findings  # one UNPAID finding on =evil
    s = findings.filter(rule_id="UNPAID_ITEMS")["score"].item()
    priors = pl.DataFrame({"account_id": ["=evil", "s2"], "prior": [0.5, 0.3]})
    out = account_scores(ds, result_findings, priors=priors)
    got = dict(out.select("account_id", "risk_score").iter_rows())
    assert got["=evil"] == pytest.approx(1 - (1 - 0.5) * (1 - s), abs=1e-6)
    assert got["s2"] == pytest.approx(0.3)
    assert got["b_idle"] == 0.0


def test_cli_scan_success_and_summary(
    dataset_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "scan",
            str(dataset_dir),
            "--out",
            str(tmp_path / "run"),
            "--as-of",
            AS_OF.isoformat(),
            "--seed",
            "1",
            "--no-report",
        ]
    )
    assert code == 0
    cap = capsys.readouterr()
    assert "UNPAID_ITEMS" in cap.out
    assert "check UNPAID_ITEMS" in cap.err
    assert (tmp_path / "run" / "findings.parquet").is_file()
    assert json.loads((tmp_path / "run" / "run.json").read_text())["seed"] == 1


def test_cli_scan_bad_input_exits_2(dataset_dir: Path, tmp_path: Path) -> None:
    assert main(["scan", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]) == 2
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[rules.NOPE]\nx = 1\n")
    assert main(["scan", str(dataset_dir), "--out", str(tmp_path / "r"), "--config", str(cfg)]) == 2
    assert not (tmp_path / "r").exists()


def test_cli_scan_writes_the_report(dataset_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["scan", str(dataset_dir), "--out", str(out), "--quiet"]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "UNPAID_ITEMS" in html
    assert "<script src=" not in html  # self-contained


def test_cli_scan_lenient_keeps_going_and_writes_rejects(tmp_path: Path) -> None:
    tables = _tables()
    bad = tables["orders"].head(1).with_columns(order_id=pl.lit("bad"), amount=pl.lit(-5.0))
    tables["orders"] = pl.concat([tables["orders"], bad])
    d = tmp_path / "ds"
    write_dataset(tables, d)
    assert main(["scan", str(d), "--out", str(tmp_path / "strict"), "--no-report"]) == 2
    assert not (tmp_path / "strict").exists()
    out = tmp_path / "lenient"
    code = main(["scan", str(d), "--out", str(out), "--no-report", "--lenient", "--quiet"])
    assert code == 0
    rejects = pl.read_csv(out / "rejects.csv")
    assert rejects.height >= 1
    assert json.loads((out / "run.json").read_text())["rejected_rows"] == rejects.height


def test_group_numbers_one_bit_apart_give_identical_groups_tables() -> None:
    # polars' parallel float sums can differ in the last bit between two runs; the groups
    # table must still be byte-identical (rounded as the findings' signals are)
    from types import SimpleNamespace

    from graphkit.scan import _groups

    a, b = 273064 / 86400.0, 273064 * (1 / 86400.0)
    assert a != b

    def ctx(x: float) -> SimpleNamespace:
        sig = {"name": "n", "value": x, "threshold": x, "contribution": x, "detail": None}
        row = {
            "group_id": ["g"],
            "kind": ["shill_ring"],
            "member_ids": [["a"]],
            "seller_ids": [["s"]],
            "score": [x],
            "signals": [[sig]],
        }
        return SimpleNamespace(group_table=pl.DataFrame(row, schema=GROUPS_SCHEMA))

    first, second = _groups(ctx(a)), _groups(ctx(b))
    assert first.equals(second)
    assert first.schema == GROUPS_SCHEMA
