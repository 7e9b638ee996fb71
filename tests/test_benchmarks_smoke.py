"""Smoke version of the benchmark suite (``benchmarks/run.py``) and tests of its helpers.

The full suite (100k, 1M, 10M orders) is not part of the default test run; this runs
its 100k smoke version (issue 9): the end-to-end scan and the cheap stages (ingest +
validate, graph build, Leiden, the policy checks, the report, quality) at 100k orders,
and the detector stages that cost most per order (FRAUDAR, lockstep, ``detect_groups``,
rating signals) at 10k, into one results JSON and one RESULTS.md. About 20 s on a busy
2-core machine.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
#: size label -> stages run at that size (the expensive detectors at the small size)
SMOKE = {
    "10k": ("fraudar", "lockstep", "detect_groups", "ratings"),
    "100k": ("validate", "graph", "leiden", "policies", "scan", "report", "quality"),
}
N_ORDERS = {"10k": 10_000, "100k": 100_000}


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    sys.path.insert(0, str(BENCH))
    try:
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod  # dataclasses look their module up
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(BENCH))
    return mod


@pytest.fixture(scope="module")
def common():
    return _module("_common")


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """Run the smoke suite once (10k, then 100k) into a temporary folder."""
    tmp = tmp_path_factory.mktemp("bench")
    md = tmp / "RESULTS.md"
    md.write_text("# Benchmark results\n\nIntro line.\n\n## Someone else's section\n\nkeep me\n")
    out = tmp / "run.json"
    for size, stages in SMOKE.items():
        cmd = [sys.executable, str(BENCH / "run.py"), "--sizes", size]
        cmd += ["--stages", ",".join(stages), "--work", str(tmp / "work"), "--out", str(out)]
        cmd += ["--results-md", str(md), "--timeout", "120"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), md.read_text()


def _stages(doc, size):
    return {r["stage"]: r for r in doc["sizes"][size]["stages"]}


# ------------------------------------------------------------------ the smoke suite
@pytest.mark.parametrize("size", list(SMOKE))
def test_every_stage_reports_time_and_rss(suite, size):
    doc, _ = suite
    entry = doc["sizes"][size]
    assert entry["n_orders"] == N_ORDERS[size]
    assert [r["stage"] for r in entry["stages"]] == list(SMOKE[size])
    for r in entry["stages"]:
        assert r["finished"], r.get("error")
        assert r["wall_s"] > 0, r
        assert r["cpu_s"] > 0, r
        assert 0.02 < r["peak_rss_gib"] < 4, r  # a python + polars child, measured per child
        assert 0 < r["stage_s"] <= r["wall_s"] + 1e-6, r
        assert r["stage_cpu_s"] > 0, r
        assert len(r["load_before"]) == 3
        assert len(r["load_after"]) == 3
        assert len(r["git_head"]) == 40


@pytest.mark.parametrize("size", list(SMOKE))
def test_machine_and_dataset_recorded(suite, size):
    doc, _ = suite
    entry = doc["sizes"][size]
    m = entry["machine"]
    assert m["cpus"] >= 1
    assert m["mem_total_gib"] > 0
    assert m["packages"]["polars"]
    assert m["packages"]["igraph"]
    assert len(m["git"]["head"]) == 40
    assert entry["dataset"]["n_orders"] == N_ORDERS[size]
    assert entry["dataset"]["simulate_wall_s"] > 0
    assert entry["commands"][0].startswith(f"python benchmarks/run.py --sizes {size} ")


def test_scan_and_quality_content(suite):
    doc, _ = suite
    rows = _stages(doc, "100k")
    scan = rows["scan"]
    assert scan["row_counts"]["orders"] == 100_000
    assert "detect groups" in scan["scan_timings"]
    assert rows["validate"]["row_counts"]["orders"] == 100_000
    assert rows["graph"]["edges"] > 0
    assert set(rows["graph"]["parts"]) == {"market_graph", "identity_graph"}
    # every policy check ran and was timed
    parts = rows["policies"]["parts"]
    assert {"COMM_SPAM", "FEEDBACK_EXTORTION", "UNPAID_ITEMS", "BPP_FALSE_CLAIMS"} <= set(parts)
    assert all(v["cpu_s"] >= 0 for v in parts.values())
    scenarios = {r["scenario"]: r for r in rows["quality"]["scenarios"]}
    assert {"shill_ring", "spam", "feedback_extortion", "unpaid_serial"} <= set(scenarios)
    assert all(r["true_accounts"] > 0 for r in scenarios.values())
    assert 0.5 < rows["quality"]["auc"] <= 1.0
    small = _stages(doc, "10k")
    assert small["detect_groups"]["stage_cpu_s"] > 0
    assert small["ratings"]["sellers"] > 0


def test_results_md_sections_written_others_kept(suite):
    _, md = suite
    assert md.startswith("# Benchmark results\n\nIntro line.\n\n<!-- BEGIN run-summary -->")
    assert "## Someone else's section\n\nkeep me\n" in md
    for name in ("run-summary", "run-stages", "run-quality", "run-peers"):
        assert md.count(f"<!-- BEGIN {name} -->") == 1
        assert md.count(f"<!-- END {name} -->") == 1
    assert "| 100,000 |" in md  # the summary row of the scan
    assert "| stage | 10k orders | 100k orders |" in md  # both sizes in one stage table
    assert "shill_ring" in md


# ------------------------------------------------------------------ helpers
def test_replace_section_replaces_only_its_block(common):
    text = "# T\n\nintro\n\n<!-- BEGIN a -->\nold\n<!-- END a -->\n\n## other\nx\n"
    new = common.replace_section(text, "a", "new\n")
    assert new == "# T\n\nintro\n\n<!-- BEGIN a -->\nnew\n<!-- END a -->\n\n## other\nx\n"
    assert common.replace_section(new, "a", "new\n") == new  # idempotent


def test_replace_section_adds_at_top_or_end(common):
    text = "# T\n\nintro\n\n## other\n"
    top = common.replace_section(text, "s", "S", position="top")
    assert top == "# T\n\nintro\n\n<!-- BEGIN s -->\nS\n<!-- END s -->\n\n## other\n"
    end = common.replace_section(text, "s", "S")
    assert end.endswith("## other\n\n<!-- BEGIN s -->\nS\n<!-- END s -->\n")


def test_replace_section_rejects_unbalanced_markers(common):
    with pytest.raises(ValueError, match="unbalanced"):
        common.replace_section("<!-- BEGIN a -->\nx\n", "a", "y")


def test_measure_child_reports_each_childs_own_peak() -> None:
    """A big child then a small one: the small one's peak is its own, not the maximum so far.

    Both are measured from a fresh, small launcher process: Linux counts the forked copy of
    the measuring process in a child's peak, and this pytest process may hold a lot by now.
    """
    launcher = f"""
import json, sys
sys.path.insert(0, {str(BENCH)!r})
import _common
big = _common.measure_child(
    [sys.executable, "-c", "b = bytearray(600 * 2**20); b[::4096] = b'x' * len(b[::4096])"]
)
small = _common.measure_child([sys.executable, "-c", "pass"])
print(json.dumps([big.returncode, big.peak_rss_gib, small.returncode, small.peak_rss_gib]))
"""
    out = subprocess.run([sys.executable, "-c", launcher], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    big_rc, big_peak, small_rc, small_peak = json.loads(out.stdout.strip().splitlines()[-1])
    assert big_rc == 0
    assert small_rc == 0
    assert big_peak > 0.57
    assert small_peak < big_peak - 0.3


def test_measure_child_counts_grandchildren_in_the_tree_peak(common) -> None:
    """A child that holds 50 MiB and starts a grandchild holding 300 MiB: the tree peak holds
    both at once."""
    grandchild = "import time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
    grandchild += "time.sleep(1.0)"
    child = (
        "import subprocess, sys; a = bytearray(50 * 2**20); a[::4096] = b'x' * len(a[::4096]); "
        f"subprocess.run([sys.executable, '-c', {grandchild!r}], check=True)"
    )
    r = common.measure_child([sys.executable, "-c", child])
    assert r.returncode == 0, r.stderr
    assert r.tree_peak_rss_gib is not None
    assert r.tree_peak_rss_gib > 0.32  # 350 MiB and two interpreters
    # wait4's peak is the largest single process (here the grandchild), not their sum
    assert r.tree_peak_rss_gib > r.peak_rss_gib + 0.04


def test_measure_child_timeout_kills(common):
    r = common.measure_child([sys.executable, "-c", "import time; time.sleep(30)"], timeout_s=0.5)
    assert r.timed_out
    assert r.returncode is None
    assert r.wall_s < 10


def test_measure_child_cpu_seconds(common):
    r = common.measure_child([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"])
    assert r.cpu_s >= 0.05
    assert r.cpu_s <= r.wall_s * 2 + 0.1  # 2 cores at most


def test_parse_size():
    run = _module("run")
    assert run.parse_size("100k") == 100_000
    assert run.parse_size("10M") == 10_000_000
    assert run.parse_size("2500") == 2_500
    with pytest.raises(ValueError, match="positive number"):
        run.parse_size("0")
    assert run.size_label(10_000_000) == "10M"
    assert run.size_label(20_000) == "20k"


def test_allocator_benchmark_sets_the_variable_for_the_child_only(tmp_path):
    alloc = _module("bench_allocator")
    sample = BENCH.parent / "data" / "sample"
    import os

    before = os.environ.get("_RJEM_MALLOC_CONF")  # polars sets its own default at import
    rows = alloc.run(sample, ["", "dirty_decay_ms:1000"], 1, tmp_path)
    assert os.environ.get("_RJEM_MALLOC_CONF") == before
    assert [r["conf"] for r in rows] == ["(none set)", "dirty_decay_ms:1000"]
    for r in rows:
        assert r["wall_s"] > 0
        assert r["peak_rss_gib"] > 0
        assert abs(r["user_s"] + r["sys_s"] - r["cpu_s"]) < 0.02
    doc = {
        "command": "c",
        "date": "d",
        "git": {"head": "0" * 40},
        "machine": {"cpu_model": "x", "cpus": 2},
        "dataset": "s",
        "runs": rows,
    }
    table = alloc.render(doc)
    assert "| `dirty_decay_ms:1000` | 1 |" in table
    assert "graphkit set nothing itself then" in table  # no graphkit_conf recorded
    assert "graphkit sets `muzzy_decay_ms:0`" in alloc.render(
        {**doc, "graphkit_conf": "muzzy_decay_ms:0"}
    )
    assert (tmp_path / "run" / "findings.parquet").exists()
