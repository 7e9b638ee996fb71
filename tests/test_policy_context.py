"""ScanContext: ring-sized groups as collusion evidence."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from graphkit.config import ScanConfig
from graphkit.dataset import Dataset
from graphkit.errors import ConfigError
from graphkit.policy.context import MAX_RING_SELLERS, ScanContext


def _ctx(n_sellers_wide: int, **kwargs: object) -> ScanContext:
    ds = Dataset(
        {"orders": pl.LazyFrame({"order_id": ["o1"]})}, as_of=datetime(2026, 1, 1, tzinfo=UTC)
    )
    ctx = ScanContext(ds, **kwargs)  # type: ignore[arg-type]
    wide = [f"s{i}" for i in range(n_sellers_wide)]
    # detection results injected: a 1-store ring and a group spanning many stores
    ctx.__dict__["group_table"] = pl.DataFrame(
        {"group_id": ["g-ring", "g-wide"], "seller_ids": [["s_ring"], wide]}
    )
    ctx.__dict__["group_members"] = pl.DataFrame(
        {
            "group_id": ["g-ring", "g-ring", "g-wide", "g-wide"],
            "account_id": ["b1", "s_ring", "b2", "s0"],
        }
    )
    return ctx


def test_groups_spanning_many_stores_are_not_ring_evidence() -> None:
    ctx = _ctx(MAX_RING_SELLERS + 1)
    assert ctx.ring_members["group_id"].unique().to_list() == ["g-ring"]
    assert ctx.group_members.height == 4  # the group itself is kept for the output


def test_a_group_at_the_limit_is_still_a_ring() -> None:
    ctx = _ctx(MAX_RING_SELLERS)
    assert sorted(ctx.ring_members["group_id"].unique().to_list()) == ["g-ring", "g-wide"]


def test_ring_seller_limit_from_config() -> None:
    cfg = ScanConfig.from_mapping({"scan": {"max_ring_sellers": 2}})
    assert _ctx(3, config=cfg).ring_members["group_id"].unique().to_list() == ["g-ring"]
    assert _ctx(2, config=cfg).ring_members.height == 4
    assert cfg.to_dict()["max_ring_sellers"] == 2
    assert ScanConfig().to_dict()["max_ring_sellers"] == MAX_RING_SELLERS
    with pytest.raises(ConfigError, match="max_ring_sellers must be a positive integer"):
        ScanConfig.from_mapping({"scan": {"max_ring_sellers": 0}})


def _parquet_ctx(tmp_path: Path) -> tuple[ScanContext, Path]:
    path = tmp_path / "orders.parquet"
    pl.DataFrame({"order_id": ["o1", "o2"], "amount": [2.0, 3.0]}).write_parquet(path)
    ds = Dataset({"orders": pl.scan_parquet(path)}, as_of=datetime(2026, 1, 1, tzinfo=UTC))
    return ScanContext(ds), path


def test_lazy_reads_only_what_the_plan_uses_and_holds_nothing(tmp_path: Path) -> None:
    ctx, _ = _parquet_ctx(tmp_path)
    plan = ctx.lazy("orders").select("amount")
    assert "PROJECT 1/2 COLUMNS" in plan.explain()  # the file's other column is not read
    assert plan.collect()["amount"].to_list() == [2.0, 3.0]
    assert ctx._frames == {}  # nothing collected is kept for the rest of the scan


def test_lazy_uses_the_table_a_check_collected_already(tmp_path: Path) -> None:
    ctx, path = _parquet_ctx(tmp_path)
    whole = ctx.frame("orders")
    path.unlink()  # reading the file again would now fail
    assert ctx.lazy("orders").collect().equals(whole)
