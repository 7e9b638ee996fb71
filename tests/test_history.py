"""Run history: matching by members, the SQLite store, exit codes, a planted ring that grew."""

from __future__ import annotations

import sqlite3

import polars as pl
import pytest
from test_report_case import RING, build_case, case_findings, case_groups

from graphkit.cli import main
from graphkit.report import RunStore, diff_runs, load_run, match_sets, record_and_diff
from graphkit.report.history import EXIT_CLEAN, EXIT_NEW_CRITICAL
from graphkit.report.run import write_run
from graphkit.report.store import history_for


def sets(rows):
    return pl.DataFrame(
        [{"id": i, "key": k, "members": m} for i, k, m in rows],
        schema={"id": pl.String, "key": pl.String, "members": pl.List(pl.String)},
    )


def status(df):
    return {(r["id"], r["previous_id"]): r["status"] for r in df.iter_rows(named=True)}


def test_match_sets_every_status():
    prev = sets(
        [
            ("P1", "ring", ["a", "b", "c"]),
            ("P2", "ring", ["d", "e", "f", "g"]),
            ("P3", "ring", ["h", "i"]),
            ("P4", "ring", ["x", "y"]),
            ("P5", "ring", ["k", "l", "m"]),
        ]
    )
    curr = sets(
        [
            ("C1", "ring", ["a", "b", "c", "z"]),  # grown
            ("C2", "ring", ["d", "e", "f"]),  # shrunk
            ("C3", "ring", ["h", "j"]),  # changed: same size, one swapped
            ("C5", "ring", ["m", "l", "k"]),  # unchanged, other id
            ("C6", "ring", ["q", "r"]),  # new
        ]
    )
    got = status(match_sets(prev, curr))
    assert got == {
        ("C1", "P1"): "grown",
        ("C2", "P2"): "shrunk",
        ("C3", "P3"): "changed",
        ("C5", "P5"): "unchanged",
        ("C6", None): "new",
        (None, "P4"): "gone",
    }
    grown = match_sets(prev, curr).filter(pl.col("status") == "grown").row(0, named=True)
    assert grown["added_ids"] == ["z"]
    assert grown["removed_ids"] == []
    assert grown["n_previous"] == 3
    assert grown["n"] == 4


def test_overlap_below_threshold_does_not_match():
    prev = sets([("P", "ring", ["a", "b", "c", "d"])])
    near = sets([("C", "ring", ["a", "x", "y", "z"])])  # 1 of 4 shared < 0.5
    assert status(match_sets(prev, near)) == {("C", None): "new", (None, "P"): "gone"}
    at = sets([("C", "ring", ["a", "b", "y", "z"])])  # 2 of 4 shared = 0.5
    assert status(match_sets(prev, at)) == {("C", "P"): "changed"}


def test_ring_that_tripled_still_matches():
    prev = sets([("P", "ring", ["a", "b", "c"])])
    curr = sets([("C", "ring", ["a", "b", "c", "d", "e", "f", "g", "h", "i"])])
    assert status(match_sets(prev, curr)) == {("C", "P"): "grown"}


def test_sets_match_only_within_a_key():
    prev = sets([("P", "ring", ["a", "b"])])
    curr = sets([("C", "identity", ["a", "b"])])
    assert status(match_sets(prev, curr)) == {("C", None): "new", (None, "P"): "gone"}


def test_split_matches_one_side_only():
    prev = sets([("P", "ring", ["a", "b", "c", "d"])])
    curr = sets([("C1", "ring", ["a", "b", "c"]), ("C2", "ring", ["c", "d"])])
    got = status(match_sets(prev, curr))
    assert got == {("C1", "P"): "shrunk", ("C2", None): "new"}
    # deterministic whatever the row order
    assert status(match_sets(prev, curr.reverse())) == got


def _runs(tmp_path):
    c = build_case(tmp_path)
    run1 = load_run(c.run_dir)
    grown = case_groups(members=[*RING, "s1", "r4"], group_id="G-ring-2")
    f2 = case_findings().with_columns(
        finding_id=pl.Series(["SHILL_PURCHASE-cccccccccccc", "UNPAID_ITEMS-bbbbbbbbbbbb"]),
        subject_ids=pl.Series([["r1", "r2", "r3", "r4", "s1"], ["h4"]]),
        group_id=pl.Series(["G-ring-2", None]),
    )
    run2_dir = write_run(tmp_path / "run2", findings=f2, groups=grown, meta=dict(run1.meta))
    return run1, load_run(run2_dir)


def test_diff_runs_reports_grown_ring_and_exit_codes(tmp_path):
    run1, run2 = _runs(tmp_path)
    first = diff_runs(None, run1)
    assert first.counts("groups") == {"new": 1}
    assert first.exit_code == EXIT_NEW_CRITICAL  # the critical shill finding is new
    d = diff_runs(run1, run2)
    g = d.groups.row(0, named=True)
    assert (g["status"], g["id"], g["previous_id"]) == ("grown", "G-ring-2", "G-ring-1")
    assert g["added_ids"] == ["r4"]
    assert d.counts("findings") == {"grown": 1, "unchanged": 1}
    assert d.exit_code == EXIT_CLEAN  # grown, but it was already critical
    assert "joined: r4" in d.summary()


def test_escalation_to_critical_is_new_critical(tmp_path):
    run1, _ = _runs(tmp_path)
    esc = run1.findings.with_columns(
        severity=pl.when(pl.col("rule_id") == "UNPAID_ITEMS")
        .then(pl.lit("critical"))
        .otherwise("severity")
    )
    run2 = load_run(
        write_run(tmp_path / "esc", findings=esc, groups=run1.groups, meta=dict(run1.meta))
    )
    d = diff_runs(run1, run2)
    assert d.new_critical["id"].to_list() == ["UNPAID_ITEMS-bbbbbbbbbbbb"]
    assert d.exit_code == EXIT_NEW_CRITICAL


def test_store_round_trip_equals_in_memory_diff(tmp_path):
    run1, run2 = _runs(tmp_path)
    db = tmp_path / "h.sqlite"
    assert record_and_diff(db, run1).previous is None
    stored = record_and_diff(db, run2)
    direct = diff_runs(run1, run2)
    cols = ["id", "previous_id", "status", "n", "n_previous", "added_ids"]
    assert stored.groups.select(cols).equals(direct.groups.select(cols))
    assert stored.findings.select(cols).equals(direct.findings.select(cols))
    # re-recording a folder keeps its place
    again = record_and_diff(db, run2)
    assert again.previous == stored.previous
    with RunStore(db) as s:
        assert s.runs()["run_id"].to_list() == [1, 2]
    # investigators can ask the store which runs flagged an account
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT run_id FROM group_members WHERE account_id = 'r4' ORDER BY run_id"
    ).fetchall()
    con.close()
    assert rows == [(2,)]
    # history_for reads without writing
    assert history_for(db, run2).counts("groups") == {"grown": 1}


def test_cli_history_exit_codes_log_and_report(tmp_path):
    run1, run2 = _runs(tmp_path)
    db, log = tmp_path / "h.sqlite", tmp_path / "graphkit.log"
    assert main(["history", str(run1.path), "--store", str(db), "--log", str(log)]) == 3
    assert main(["history", str(run2.path), "--store", str(db), "--log", str(log), "--report"]) == 0
    text = log.read_text()
    assert "exit 3" in text
    assert "exit 0" in text
    assert "grown group ring G-ring-2" in text
    page = (run2.path / "report.html").read_text(encoding="utf-8")
    assert 'id="history"' in page
    assert "grown" in page.split('id="history"')[1]
    assert main(["history", "--store", str(db)]) == 0
    # graphkit report reads the history without recording anything
    (run2.path / "report.html").unlink()
    assert main(["report", str(run2.path), "--history", str(db), "--no-dataset"]) == 0
    assert 'id="history"' in (run2.path / "report.html").read_text(encoding="utf-8")
    with RunStore(db) as s:
        assert s.runs().height == 2
    assert main(["history", str(tmp_path / "nope"), "--store", str(db)]) == 2


@pytest.fixture(scope="module")
def simulated_runs(tmp_path_factory):
    """Two consecutive scans of a simulated marketplace; two ring buyers join before the second."""
    from graphkit.io import dataset_from_frames
    from graphkit.scan import scan
    from graphkit.simulate import SimulationConfig, simulate

    m = simulate(3000, seed=3, config=SimulationConfig().with_scenario("shill_ring", count=1))
    ring = m.labels.filter(
        (pl.col("scenario") == "shill_ring") & (pl.col("entity_kind") == "account")
    )["entity_id"]
    orders = m.tables["orders"]
    ring_buyers = (
        orders.filter(pl.col("buyer_id").is_in(ring.implode()))
        .group_by("buyer_id")
        .len()
        .sort("len", "buyer_id")["buyer_id"]
    )
    late = ring_buyers.head(2)  # recruited late: no activity before the first run
    before = dict(m.tables)
    before["orders"] = orders.filter(~pl.col("buyer_id").is_in(late.implode()))
    kept = before["orders"]["order_id"].implode()
    for t in ("feedback", "disputes", "refunds"):
        if t in before:
            before[t] = before[t].filter(pl.col("order_id").is_in(kept))
    if "messages" in before:
        before["messages"] = before["messages"].filter(
            pl.col("order_id").is_null() | pl.col("order_id").is_in(kept)
        )
    root = tmp_path_factory.mktemp("sim")
    runs = []
    for name, tables in (("monday", before), ("tuesday", m.tables)):
        result = scan(dataset_from_frames(tables), seed=0)
        runs.append(load_run(result.write(root / name, report=False)))
    return runs, set(late.to_list()), set(ring.to_list())


def test_history_on_simulated_runs_reports_the_planted_ring_grew(simulated_runs, tmp_path):
    (monday, tuesday), late, ring = simulated_runs
    record_and_diff(tmp_path / "h.sqlite", monday)
    d = record_and_diff(tmp_path / "h.sqlite", tuesday)
    changed = pl.concat(
        [d.groups.select("status", "added_ids", "n"), d.findings.select("status", "added_ids", "n")]
    )
    grown = changed.filter(pl.col("status") == "grown")
    assert grown.height >= 1
    # the planted ring is what grew, and the late recruits are who joined
    joined = [set(a) for a in grown["added_ids"].to_list()]
    assert any(late <= a and a <= ring for a in joined), (late, joined)
