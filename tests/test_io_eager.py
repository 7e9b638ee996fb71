"""Small Parquet datasets are read once, at the door; large ones stay lazy."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

import graphkit.io as gio
from graphkit.errors import DataContractError


def test_small_parquet_dataset_is_read_once(tiny: dict[str, pl.DataFrame], tmp_path: Path) -> None:
    gio.write_dataset(tiny, tmp_path / "ds")
    ds = gio.load_dataset(tmp_path / "ds")
    shutil.rmtree(tmp_path / "ds")  # validated from memory: the files are needed no more
    assert ds.orders.collect().height == tiny["orders"].height
    assert ds.files  # hashes still recorded


def test_above_the_limit_the_dataset_stays_lazy(
    tiny: dict[str, pl.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gio, "EAGER_MAX_BYTES", 0)
    gio.write_dataset(tiny, tmp_path / "ds")
    ds = gio.load_dataset(tmp_path / "ds")
    shutil.rmtree(tmp_path / "ds")
    with pytest.raises((OSError, pl.exceptions.PolarsError)):
        ds.orders.collect()


@pytest.mark.parametrize("limit", [0, 1 << 30])
def test_eager_and_lazy_report_the_same_problems(
    tiny: dict[str, pl.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    bad = dict(tiny)
    bad["orders"] = tiny["orders"].with_columns(pl.lit(-1.0).alias("amount"))
    gio.write_dataset(bad, tmp_path / "ds")
    monkeypatch.setattr(gio, "EAGER_MAX_BYTES", limit)
    with pytest.raises(DataContractError) as err:
        gio.load_dataset(tmp_path / "ds")
    problems = err.value.problems
    assert problems.filter(pl.col("rule") == "negative or below minimum")["rows"].to_list() == [
        tiny["orders"].height
    ]


def test_corrupt_parquet_is_reported_not_raised(
    tiny: dict[str, pl.DataFrame], tmp_path: Path
) -> None:
    gio.write_dataset(tiny, tmp_path / "ds")
    path = tmp_path / "ds" / "refunds.parquet"
    data = path.read_bytes()
    path.write_bytes(data[:8] + b"\x00" * (len(data) - 16) + data[-8:])
    report = gio.validate_dataset(tmp_path / "ds")
    assert report.dataset is None
    assert report.problems.filter(pl.col("table") == "refunds").height >= 1
