"""Dataset.in_memory: every table read once, the dataset otherwise unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from graphkit.io import load_dataset, write_dataset


def test_in_memory_reads_each_file_once_and_keeps_everything(
    tiny: dict[str, pl.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("graphkit.io.EAGER_MAX_BYTES", 0)  # a lazy (file-backed) dataset
    write_dataset(tiny, tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    mem = ds.in_memory()
    shutil.rmtree(tmp_path / "ds")  # the in-memory dataset needs its files no more
    assert mem.as_of == ds.as_of
    assert mem.files == ds.files
    assert mem.source == ds.source
    assert sorted(mem.tables) == sorted(ds.tables)
    for name, df in mem.collect().items():
        expected = tiny[name]
        assert df.height == expected.height
        assert df.schema == mem.table(name).collect_schema()
        assert df.select(expected.columns[0]).to_series().to_list() == (
            expected.select(expected.columns[0]).to_series().cast(pl.String).to_list()
        )


def test_the_lazy_dataset_reads_its_files(
    tiny: dict[str, pl.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("graphkit.io.EAGER_MAX_BYTES", 0)  # else small files are read at once
    write_dataset(tiny, tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    shutil.rmtree(tmp_path / "ds")
    # the near miss: without in_memory the files are still needed
    with pytest.raises((OSError, pl.exceptions.PolarsError)):
        ds.orders.collect()
