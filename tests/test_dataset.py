from pathlib import Path

import polars as pl
import pytest

from graphkit.dataset import Dataset
from graphkit.io import dataset_from_frames


def test_accessors_and_counts(tiny):
    ds = dataset_from_frames(tiny)
    assert ds.has("coupons")
    assert not ds.has("labels")
    assert ds.get("labels") is None
    assert ds.row_counts()["orders"] == 4
    with pytest.raises(KeyError, match="present: accounts"):
        ds.table("nope")


def test_summary_spans(tiny):
    summary = dataset_from_frames(tiny).summary()
    orders = summary.filter(pl.col("table") == "orders").row(0, named=True)
    assert orders["rows"] == 4
    assert orders["time_column"] == "created_at"
    assert orders["first"].day == 2
    assert orders["last"].day == 5


def test_html_repr_escapes_untrusted_source_path(tiny):
    ds = dataset_from_frames(tiny)
    hostile = Dataset(tables=ds.tables, as_of=ds.as_of, source=Path("<script>alert(1)</script>"))
    html = hostile._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "orders" in repr(hostile)
