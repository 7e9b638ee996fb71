"""The scan's overlap of signal-free checks with detection, and the thread-safe context."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

import graphkit
from graphkit.dataset import Dataset
from graphkit.io import dataset_from_frames
from graphkit.policy import ScanContext, checks
from graphkit.policy.registry import register, unregister
from graphkit.scan import ScanResult, scan

# the module (``graphkit.scan`` the attribute is the function)
scan_module = importlib.import_module("graphkit.scan")


@pytest.fixture(scope="module")
def market_ds() -> Dataset:
    market = graphkit.simulate(4_000, seed=3)
    return dataset_from_frames(market.tables)


@pytest.fixture(scope="module")
def serial(market_ds: Dataset) -> ScanResult:
    return scan(market_ds, seed=0, overlap=False)


def _same(a: ScanResult, b: ScanResult) -> None:
    assert a.findings.equals(b.findings)
    assert a.account_scores.equals(b.account_scores)
    assert a.groups.equals(b.groups)
    assert a.not_evaluated == b.not_evaluated


def test_overlap_gives_the_serial_output(market_ds: Dataset, serial: ScanResult) -> None:
    overlapped = scan(market_ds, seed=0, overlap=True)
    assert serial.findings.height > 0  # the comparison is not between two empty tables
    assert set(serial.findings["rule_id"].unique()) >= {"UNPAID_ITEMS", "COMM_SPAM"}
    _same(serial, overlapped)


def test_overlap_runs_exactly_the_signal_free_checks(
    market_ds: Dataset, serial: ScanResult
) -> None:
    overlapped = scan(market_ds, seed=0)
    early = overlapped.run_info["overlap"]
    assert early == [c.rule_id for c in checks() if not c.signals]
    assert {"UNPAID_ITEMS", "COMM_SPAM", "FEEDBACK_EXTORTION"} <= set(early)
    assert not {"SHILL_PURCHASE", "FEEDBACK_MANIPULATION", "COUPON_ABUSE"} & set(early)
    assert serial.run_info["overlap"] == []
    # the checks that need detection have their detection-free part computed beside it
    prefetched = {k for k in overlapped.run_info["timings"] if k.startswith("prefetch ")}
    assert prefetched == {f"prefetch {c.rule_id}" for c in checks() if c.prefetch}
    assert "prefetch SHILL_PURCHASE" in prefetched
    assert not any(k.startswith("prefetch ") for k in serial.run_info["timings"])
    # one progress stage per check either way
    stages = {k for k in overlapped.run_info["timings"] if k.startswith("check ")}
    assert stages == {f"check {c.rule_id}" for c in checks()}


def test_overlapped_checks_run_in_another_thread_during_detection(
    tiny: dict[str, pl.DataFrame],
) -> None:
    seen: dict[str, object] = {}

    @register(rule_id="TEST_THREAD", tables=("orders",), builtin=False)
    def check_thread(ctx: ScanContext, params: object) -> pl.DataFrame:
        seen["thread"] = threading.current_thread().name
        return ctx.frame("orders").head(0).select(pl.lit("x").alias("unused"))

    try:
        with pytest.raises(Exception):  # noqa: B017, PT011 (any error: the draft is invalid)
            scan(dataset_from_frames(tiny), seed=0)
    finally:
        unregister("TEST_THREAD")
    assert seen["thread"] == "graphkit-checks"


def test_prefetch_runs_during_detection_and_its_errors_surface_in_the_check(
    tiny: dict[str, pl.DataFrame],
) -> None:
    seen: dict[str, object] = {}

    def prefetch(ctx: ScanContext, params: object) -> None:
        seen["prefetch_thread"] = threading.current_thread().name
        ctx.shared("TEST_PREFETCH base", lambda: 41)

    @register(rule_id="TEST_PREFETCH", tables=("orders",), signals=("groups",),
              prefetch=prefetch, builtin=False)  # fmt: skip
    def check_prefetch(ctx: ScanContext, params: object) -> pl.DataFrame:
        seen["base"] = ctx.shared("TEST_PREFETCH base", lambda: 0)
        raise RuntimeError("stop here")  # the draft does not matter

    ds = dataset_from_frames(tiny)
    try:
        with pytest.raises(RuntimeError, match="stop here"):
            scan(ds, seed=0)
        assert seen == {"prefetch_thread": "graphkit-checks", "base": 41}
        seen.clear()
        with pytest.raises(RuntimeError, match="stop here"):
            scan(ds, seed=0, overlap=False)  # serial: no prefetch, the check computes
        assert seen == {"base": 0}
    finally:
        unregister("TEST_PREFETCH")

    def failing(ctx: ScanContext, params: object) -> None:
        raise RuntimeError("prefetch failed")

    @register(rule_id="TEST_PREFETCH", tables=("orders",), signals=("groups",),
              prefetch=failing, builtin=False)  # fmt: skip
    def check_again(ctx: ScanContext, params: object) -> pl.DataFrame:
        raise RuntimeError("the check's own error")

    try:  # a failed prefetch is not the scan's error: the check runs (and raises its own)
        with pytest.raises(RuntimeError, match="the check's own error"):
            scan(ds, seed=0)
    finally:
        unregister("TEST_PREFETCH")


def test_an_error_in_an_overlapped_check_reaches_the_caller(
    tiny: dict[str, pl.DataFrame],
) -> None:
    @register(rule_id="TEST_BOOM", tables=("orders",), builtin=False)
    def check_boom(ctx: ScanContext, params: object) -> pl.DataFrame:
        raise RuntimeError("boom in the checks thread")

    try:
        with pytest.raises(RuntimeError, match="boom in the checks thread"):
            scan(dataset_from_frames(tiny), seed=0)
    finally:
        unregister("TEST_BOOM")


def _ctx() -> ScanContext:
    orders = pl.LazyFrame({"order_id": ["o1", "o2"], "amount": [1.0, 2.0], "text": ["a", "b"]})
    return ScanContext(Dataset({"orders": orders}, as_of=datetime(2026, 1, 1, tzinfo=UTC)))


def test_frame_projection_reads_only_the_columns_asked_for() -> None:
    ctx = _ctx()
    assert ctx.frame("orders", columns=["amount", "order_id"]).columns == ["amount", "order_id"]
    assert ctx.frame("orders", columns=["amount"])["amount"].to_list() == [1.0, 2.0]
    assert "orders" not in ctx._frames  # the whole table was never collected
    whole = ctx.frame("orders")
    assert whole.columns == ["order_id", "amount", "text"]
    assert ctx.frame("orders", columns=["text"])["text"].to_list() == ["a", "b"]


def test_shared_computes_once_when_threads_ask_together() -> None:
    ctx = _ctx()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.05)
        return len(calls)

    out: list[int] = []
    threads = [threading.Thread(target=lambda: out.append(ctx.shared("k", slow))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert out == [1, 1, 1, 1]


def test_import_graphkit_does_not_load_the_simulator() -> None:
    code = (
        "import sys, graphkit\n"
        "assert 'graphkit.simulate' not in sys.modules\n"
        "import graphkit.simulate.config\n"
        "assert callable(graphkit.simulate), graphkit.simulate\n"
        "assert graphkit.SimulationConfig.__name__ == 'SimulationConfig'\n"
        "from graphkit import SimulatedMarketplace, simulate\n"
        "assert simulate is graphkit.simulate\n"
    )
    root = Path(graphkit.__file__).parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=60)


def test_overlap_by_default_only_up_to_the_size_limit(
    tiny: dict[str, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = dataset_from_frames(tiny)
    assert scan(ds, seed=0).run_info["overlap"]  # tiny: overlapped
    monkeypatch.setattr(scan_module, "OVERLAP_MAX_ORDERS", ds.row_counts()["orders"] - 1)
    assert scan(ds, seed=0).run_info["overlap"] == []
    assert scan(ds, seed=0, overlap=True).run_info["overlap"]


def test_cli_serial_and_overlap_flags(tiny: dict[str, pl.DataFrame], tmp_path: Path) -> None:
    from graphkit.cli import main
    from graphkit.io import write_dataset

    write_dataset(tiny, tmp_path / "ds")
    runs = {}
    for flag in ("--serial", "--overlap"):
        out = tmp_path / flag.strip("-")
        assert (
            main(["scan", str(tmp_path / "ds"), "--out", str(out), "--quiet", "--no-report", flag])
            == 0
        )
        runs[flag] = json.loads((out / "run.json").read_text())["overlap"]
        assert (out / "findings.parquet").read_bytes() == (
            (tmp_path / "serial" / "findings.parquet").read_bytes()
        )
    assert runs["--serial"] == []
    assert "UNPAID_ITEMS" in runs["--overlap"]


def test_rating_base_is_computed_in_the_checks_thread(
    market_ds: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graphkit.detect as detect
    import graphkit.detect.ratings as ratings

    threads: list[str] = []
    done = threading.Event()
    real, real_detect = ratings.rating_base, detect.detect_groups

    def spy(*args: object, **kwargs: object) -> object:
        threads.append(threading.current_thread().name)
        out = real(*args, **kwargs)
        done.set()
        return out

    def slow_detect(*args: object, **kwargs: object) -> object:
        done.wait(30)  # detection as long as the checks, as at 1M orders
        return real_detect(*args, **kwargs)

    monkeypatch.setattr(ratings, "rating_base", spy)
    monkeypatch.setattr(detect, "detect_groups", slow_detect)
    result = scan(market_ds, seed=0)
    assert threads == ["graphkit-checks"]  # once, during detection
    assert "rating base" in result.run_info["timings"]


def test_checks_reading_the_rating_signals_declare_them(
    market_ds: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(self: ScanContext) -> object:
        raise ImportError("no ratings here")

    monkeypatch.setattr(ScanContext, "ratings", property(unavailable))
    result = scan(market_ds, seed=0)
    reason = "not evaluated (rating signals unavailable (no ratings here))"
    assert result.not_evaluated["SHILL_PURCHASE"] == reason
    assert result.not_evaluated["FEEDBACK_MANIPULATION"] == reason
    assert "UNPAID_ITEMS" not in result.not_evaluated  # needs no rating signal


def test_rating_base_is_let_go_once_the_rating_signals_are_done(market_ds: Dataset) -> None:
    ctx = ScanContext(market_ds)
    base = ctx.rating_base(prefetch=True)
    assert base is not None
    assert base.flags.height > 0
    assert ctx.rating_base() is base  # computed once
    assert ctx.ratings.feedback.height == base.flags.height
    assert "rating_base" not in ctx._shared  # not held for the rest of the scan
    assert ctx.rating_base(prefetch=True) is None  # a late prefetch computes nothing
    assert "rating_base" not in ctx._shared


def test_overlap_above_the_in_memory_size_reads_lazily_with_the_serial_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graphkit.io as gio
    from graphkit.io import load_dataset, write_dataset

    write_dataset(graphkit.simulate(4_000, seed=3).tables, tmp_path / "ds")
    monkeypatch.setattr(gio, "EAGER_MAX_BYTES", 0)  # tables stay queries over the files
    ds = load_dataset(tmp_path / "ds")
    serial = scan(ds, seed=0, overlap=False)

    def refuse(self: Dataset) -> Dataset:
        raise AssertionError("read into memory above IN_MEMORY_MAX_ORDERS")

    monkeypatch.setattr(scan_module, "IN_MEMORY_MAX_ORDERS", ds.row_counts()["orders"] - 1)
    monkeypatch.setattr(Dataset, "in_memory", refuse)
    overlapped = scan(ds, seed=0)  # default: overlapped (under OVERLAP_MAX_ORDERS), lazy
    assert overlapped.run_info["overlap"]
    assert {"UNPAID_ITEMS", "COMM_SPAM", "BPP_FALSE_CLAIMS"} <= {
        r for r in overlapped.findings["rule_id"].unique()
    }
    _same(serial, overlapped)


def test_overlapped_checks_run_smallest_memory_first(market_ds: Dataset) -> None:
    order: list[str] = []

    def progress(stage: str, seconds: float) -> None:
        if threading.current_thread().name == "graphkit-checks" and stage.startswith("check "):
            order.append(stage.removeprefix("check "))

    scan(market_ds, seed=0, overlap=True, progress=progress)
    ranked = sorted(scan_module._EARLY_ORDER, key=scan_module._EARLY_ORDER.__getitem__)
    assert order == ranked
    assert order[0] == "UNPAID_ITEMS"
    assert order[-1] == "COMM_SPAM"
