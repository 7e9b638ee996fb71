"""Reading and writing datasets: readers, lenient mode, as_of, atomic writers."""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from graphkit.contract import TABLES, canonical_schema
from graphkit.errors import ConfigError, DataContractError, InputNotFoundError
from graphkit.io import (
    REJECTS_SCHEMA,
    atomic_dir,
    atomic_write,
    dataset_from_frames,
    file_sha256,
    load_dataset,
    spreadsheet_safe,
    validate_dataset,
    write_csv_safe,
    write_dataset,
)


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_every_format_reads_to_canonical_dtypes(tiny, tmp_path: Path, fmt: str) -> None:
    tiny["orders"] = tiny["orders"].with_columns(pl.lit("x").alias("channel"))  # extra column
    ds = load_dataset(write_dataset(tiny, tmp_path / "ds", format=fmt))
    assert set(ds.tables) == set(tiny)
    for name, lf in ds.tables.items():
        schema = lf.collect_schema()
        for column, dtype in canonical_schema(name).items():
            assert schema[column] == dtype, (name, column)
        assert not [c for c in schema if c.startswith("__")]
    assert ds.orders.collect()["channel"].to_list() == ["x"] * 4
    assert ds.row_counts() == {k: v.height for k, v in tiny.items()}
    assert [f.table for f in ds.files] == sorted(tiny)
    for f in ds.files:
        assert f.sha256 == file_sha256(f.path)
        assert f.format == fmt
        assert f.rows == tiny[f.table].height


def test_parquet_is_scanned_lazily(tiny, tmp_path: Path, monkeypatch) -> None:
    # above graphkit.io.EAGER_MAX_BYTES (small datasets are read once: test_io_eager.py)
    monkeypatch.setattr("graphkit.io.EAGER_MAX_BYTES", 0)
    ds = load_dataset(write_dataset(tiny, tmp_path / "ds", format="parquet"))
    assert "parquet" in ds.orders.explain().lower()


def test_as_of_defaults_to_latest_timestamp_and_can_be_set(tiny) -> None:
    # the last event (the refund and the case's closing); coupon validity terms do not count
    assert dataset_from_frames(tiny).as_of == datetime(2026, 3, 15, 10, tzinfo=UTC)
    ds = dataset_from_frames(tiny, as_of="2026-04-01T00:00:00Z")
    assert ds.as_of == datetime(2026, 4, 1, tzinfo=UTC)
    ds = dataset_from_frames(tiny, as_of=datetime(2026, 4, 2))  # naive = UTC
    assert ds.as_of == datetime(2026, 4, 2, tzinfo=UTC)
    with pytest.raises(ConfigError, match="as_of must be an ISO 8601"):
        dataset_from_frames(tiny, as_of="next tuesday")


def test_missing_folder_is_input_not_found(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="does not exist") as err:
        load_dataset(tmp_path / "nope")
    assert isinstance(err.value, FileNotFoundError)


def test_unknown_in_memory_table_is_refused(tiny) -> None:
    tiny["sellers"] = tiny["accounts"]
    with pytest.raises(ValueError, match="unknown table"):
        dataset_from_frames(tiny)


def test_error_message_lists_every_problem_and_what_to_do(tiny) -> None:
    tiny["orders"] = tiny["orders"].with_columns(pl.Series("amount", [-1.0, 2.0, -3.0, 4.0]))
    tiny["feedback"] = tiny["feedback"].with_columns(pl.Series("rating", [9, 4, 1], pl.Int8))
    with pytest.raises(DataContractError) as err:
        dataset_from_frames(tiny)
    text = str(err.value)
    assert "2 problem(s) found" in text
    assert "orders.amount: negative or below minimum (2 row(s)); e.g. row 1 amount=-1.0" in text
    assert "feedback.rating: rating out of 1..5 (1 row(s)); e.g. row 1 rating=9" in text
    assert "lenient" in text
    assert err.value.problems.columns == ["file", "table", "column", "rule", "rows", "examples"]


# --------------------------------------------------------------------------- lenient mode
def test_lenient_drops_bad_rows_and_their_dependents(tiny) -> None:
    tiny["orders"] = tiny["orders"].with_columns(pl.Series("amount", [-1.0, 12.5, 99.0, 0.0]))
    ds = dataset_from_frames(tiny, lenient=True)
    rejects = ds.rejects
    assert rejects is not None
    assert rejects.schema == pl.Schema(REJECTS_SCHEMA)
    assert rejects.rows() == [
        ("feedback", 1, "f1", "order_id: dangling reference to orders.order_id"),
        ("feedback", 2, "f2", "order_id: dangling reference to orders.order_id"),
        ("orders", 1, "o1", "amount: negative or below minimum"),
    ]
    counts = ds.row_counts()
    kept = {"orders": 3, "feedback": 1}
    for name, df in tiny.items():
        dropped = rejects.filter(pl.col("table") == name).height
        assert counts[name] + dropped == df.height  # nothing lost
        assert counts[name] == kept.get(name, df.height)
    assert ds.orders.collect()["order_id"].to_list() == ["o2", "o3", "o4"]


def test_lenient_cascades_from_accounts_to_feedback(tiny) -> None:
    tiny["accounts"] = tiny["accounts"].with_columns(
        pl.Series("kind", ["seller", "seller", "admin", "buyer", "buyer"])
    )
    ds = dataset_from_frames(tiny, lenient=True)
    got = ds.rejects.select("table", "key").rows()  # type: ignore[union-attr]
    # b1 goes; its identifiers, orders o1/o4 go; o1's feedback and o1's coupon use go with them
    assert got == [
        ("accounts", "b1"),
        ("feedback", "f1"),
        ("feedback", "f2"),
        ("identifiers", None),
        ("orders", "o1"),
        ("orders", "o4"),
    ]
    assert ds.rejects.filter(pl.col("table") == "accounts")["reasons"].item() == (  # type: ignore[union-attr]
        "kind: not one of buyer, seller"
    )


def test_lenient_cascades_from_a_seller_to_its_coupon_and_everything_else(tiny) -> None:
    tiny["accounts"] = tiny["accounts"].with_columns(
        pl.Series("created_at", ["yesterday"] + ["2026-03-01T10:00:00Z"] * 4)
    )
    ds = dataset_from_frames(tiny, lenient=True)
    rejects = ds.rejects
    assert rejects is not None
    assert rejects.filter(pl.col("table") == "coupons").rows() == [
        ("coupons", 1, "c1", "issuer_id: issuer is neither a seller nor 'platform'")
    ]
    assert rejects.filter(pl.col("table") == "accounts")["key"].to_list() == ["s1"]
    assert sorted(rejects.filter(pl.col("table") == "orders")["key"].to_list()) == ["o1", "o2"]
    counts = ds.row_counts()
    for name, df in tiny.items():
        assert counts[name] + rejects.filter(pl.col("table") == name).height == df.height


def test_lenient_cannot_fix_a_missing_column(tiny) -> None:
    tiny["orders"] = tiny["orders"].drop("amount")
    with pytest.raises(DataContractError, match="missing required column"):
        dataset_from_frames(tiny, lenient=True)


def test_lenient_on_a_valid_dataset_rejects_nothing(tiny, tmp_path: Path) -> None:
    report = validate_dataset(write_dataset(tiny, tmp_path / "ds", format="csv"), lenient=True)
    assert report.ok
    assert report.rejects is None


def test_strict_report_keeps_the_row_counts(tiny, tmp_path: Path) -> None:
    tiny["feedback"] = tiny["feedback"].with_columns(pl.Series("rating", [0, 4, 1], pl.Int8))
    report = validate_dataset(write_dataset(tiny, tmp_path / "ds", format="csv"))
    assert not report.ok
    assert report.dataset is None
    assert report.row_counts["feedback"] == 3


# --------------------------------------------------------------------------- writers
@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_write_dataset_is_byte_reproducible(tiny, tmp_path: Path, fmt: str) -> None:
    a = write_dataset(tiny, tmp_path / "a", format=fmt)
    b = write_dataset(tiny, tmp_path / "b", format=fmt)
    for name in tiny:
        assert file_sha256(a / f"{name}.{fmt}") == file_sha256(b / f"{name}.{fmt}")


def test_write_dataset_refuses_bad_names_and_formats(tiny, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        write_dataset(tiny, tmp_path / "x", format="xlsx")
    with pytest.raises(ValueError, match="lowercase words"):
        write_dataset({"../orders": tiny["orders"]}, tmp_path / "y")
    assert not (tmp_path / "y").exists()
    assert not (tmp_path / "orders.parquet").exists()


def test_atomic_dir_leaves_target_untouched_on_error(tmp_path: Path) -> None:
    target = tmp_path / "run"
    target.mkdir()
    (target / "old.txt").write_text("old")

    def half_written() -> None:
        with atomic_dir(target) as tmp:
            (tmp / "new.txt").write_text("half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        half_written()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_atomic_write_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "x.json"

    def half_written() -> None:
        with atomic_write(target) as tmp:
            tmp.write_text("{")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        half_written()
    assert list(tmp_path.iterdir()) == []


def test_write_csv_safe_neutralises_formulas(tmp_path: Path) -> None:
    df = pl.DataFrame({"t": ["=1+1", "+x", "-2", "@SUM", "ok"], "ids": [["a", "b"]] * 5})
    path = write_csv_safe(df, tmp_path / "x.csv")
    back = pl.read_csv(path, infer_schema=False)
    assert back["t"].to_list() == ["'=1+1", "'+x", "'-2", "'@SUM", "ok"]
    assert back["ids"].to_list() == ["a; b"] * 5
    assert spreadsheet_safe(pl.DataFrame({"n": [-1]}))["n"].to_list() == [-1]


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    data = bytes(range(256)) * 9000
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()


def test_labels_beside_tables_are_not_a_warning(tiny, tmp_path: Path) -> None:
    folder = write_dataset(tiny, tmp_path / "ds", format="csv")
    pl.DataFrame({"entity_kind": ["account"], "entity_id": ["b1"], "scenario": ["spam"]}).write_csv(
        folder / "labels.csv"
    )
    report = validate_dataset(folder)
    assert report.ok
    assert report.warnings == ()
    assert "labels" not in report.dataset.tables  # type: ignore[union-attr]
    assert set(report.dataset.tables) <= set(TABLES)  # type: ignore[union-attr]


def test_as_of_ignores_coupon_validity_terms(tiny) -> None:
    # a coupon valid until next year is a term, not an event: as_of stays the last event
    tiny["coupons"] = tiny["coupons"].with_columns(pl.lit("2027-12-31T00:00:00Z").alias("valid_to"))
    ds = dataset_from_frames(tiny)
    assert ds.as_of.isoformat() == "2026-03-15T10:00:00+00:00"  # the refund, the last event


def test_atomic_outputs_get_the_usual_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "run") as tmp, atomic_write(tmp / "f.txt") as f:
            f.write_text("x")
        assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o755
        assert stat.S_IMODE((tmp_path / "run" / "f.txt").stat().st_mode) == 0o644
    finally:
        os.umask(mask)
