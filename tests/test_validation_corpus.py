"""The bad-input corpus: one malformed dataset per case, each built from the valid tiny
marketplace with exactly one corruption (a cell, a column, a table or the bytes of a file).

Every case asserts the exact ``(table, column, rule)`` reported (and, for row rules, the
1-based data row in the examples), that ``load_dataset`` raises one ``DataContractError``
(a ``ValueError``), and that ``graphkit validate DIR --json`` exits 2, lists the problem and
prints no traceback. Near misses (valid oddities: BOM, a 1 MB text cell, ``../`` in ids,
offsets and naive times, header-only optional tables, ...) must validate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from conftest import tiny_frames

from graphkit.cli import main
from graphkit.errors import DataContractError
from graphkit.io import load_dataset, validate_dataset, write_dataset

Frames = dict[str, pl.DataFrame]


# --------------------------------------------------------------------------- helpers
def set_cell(frames: Frames, table: str, column: str, row: int, value: object) -> Frames:
    """Set one cell (0-based ``row``); a text value turns the column into text first."""
    df = frames[table]
    col = df[column]
    if isinstance(value, str) and col.dtype != pl.String:
        col = col.cast(pl.String)
    values = col.to_list()
    values[row] = value
    frames[table] = df.with_columns(pl.Series(column, values, dtype=col.dtype))
    return frames


def cell(table: str, column: str, row: int, value: object) -> Callable[[Frames], Frames]:
    return lambda f: set_cell(f, table, column, row, value)


def drop_table(table: str) -> Callable[[Frames], Frames]:
    def go(f: Frames) -> Frames:
        del f[table]
        return f

    return go


def drop_column(table: str, column: str) -> Callable[[Frames], Frames]:
    def go(f: Frames) -> Frames:
        f[table] = f[table].drop(column)
        return f

    return go


def rewrite(name: str, fn: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def go(folder: Path) -> None:
        path = folder / name
        path.write_bytes(fn(path.read_bytes()))

    return go


@dataclass(frozen=True)
class Case:
    """One malformed dataset and the problem it must be reported with."""

    id: str
    table: str
    column: str
    rule: str
    frames: Callable[[Frames], Frames] | None = None
    files: Callable[[Path], None] | None = None
    row: int | None = None  # 1-based data row that must appear in the examples
    fmt: str = "csv"


def _many(*fns: Callable[[Frames], Frames]) -> Callable[[Frames], Frames]:
    def go(f: Frames) -> Frames:
        for fn in fns:
            f = fn(f)
        return f

    return go


def _csv_header_only(f: bytes) -> bytes:
    return f.splitlines(keepends=True)[0]


def _dup_header(f: bytes) -> bytes:
    lines = f.splitlines(keepends=True)
    lines[0] = lines[0].replace(b"item_id", b"amount")
    return b"".join(lines)


def _write_parquet(name: str, fn: Callable[[pl.DataFrame], pl.DataFrame]) -> Callable[[Path], None]:
    def go(folder: Path) -> None:
        fn(tiny_frames()[name]).write_parquet(folder / f"{name}.parquet")

    return go


CASES = [
    # --- tables and columns
    Case("missing-orders-table", "orders", "", "missing table", frames=drop_table("orders")),
    Case("missing-feedback-table", "feedback", "", "missing table", frames=drop_table("feedback")),
    Case(
        "missing-column",
        "orders",
        "amount",
        "missing required column",
        frames=drop_column("orders", "amount"),
    ),
    Case(
        "missing-column-feedback",
        "feedback",
        "rating",
        "missing required column",
        frames=drop_column("feedback", "rating"),
    ),
    # --- types
    Case(
        "wrong-type-amount",
        "orders",
        "amount",
        "wrong type",
        cell("orders", "amount", 1, "abc"),
        row=2,
    ),
    Case(
        "wrong-type-rating",
        "feedback",
        "rating",
        "wrong type",
        cell("feedback", "rating", 2, "five"),
        row=3,
    ),
    Case(
        "fractional-rating",
        "feedback",
        "rating",
        "wrong type",
        cell("feedback", "rating", 0, "4.5"),
        row=1,
    ),
    Case(
        "non-finite-amount",
        "orders",
        "amount",
        "not a finite number",
        cell("orders", "amount", 3, "inf"),
        row=4,
    ),
    Case(
        "unparseable-timestamp",
        "orders",
        "created_at",
        "unparseable timestamp",
        cell("orders", "created_at", 2, "yesterday"),
        row=3,
    ),
    Case(
        "epoch-timestamp",
        "feedback",
        "created_at",
        "unparseable timestamp",
        cell("feedback", "created_at", 1, "1772618400"),
        row=2,
    ),
    Case(
        "mixed-timestamp-formats",
        "messages",
        "sent_at",
        "unparseable timestamp",
        _many(
            cell("messages", "sent_at", 0, "2026-03-04 10:00:00+02:00"),  # fine: offset
            cell("messages", "sent_at", 1, "05/03/2026 10:00"),  # day/month order unknowable
        ),
        row=2,
    ),
    # --- ids
    Case(
        "null-id",
        "orders",
        "order_id",
        "null or empty id",
        cell("orders", "order_id", 3, None),
        row=4,
    ),
    Case(
        "blank-id",
        "feedback",
        "feedback_id",
        "null or empty id",
        cell("feedback", "feedback_id", 1, "   "),
        row=2,
    ),
    Case(
        "id-with-newline",
        "feedback",
        "feedback_id",
        "id contains control characters (newline, tab, NUL, ...)",
        cell("feedback", "feedback_id", 2, "f\n3"),
        row=3,
    ),
    Case(
        "duplicate-order-id",
        "orders",
        "order_id",
        "duplicate key",
        cell("orders", "order_id", 3, "o3"),
        row=3,
    ),
    Case(
        "duplicate-account-id",
        "accounts",
        "account_id",
        "duplicate key",
        cell("accounts", "account_id", 4, "b2"),
        row=4,
    ),
    # --- references
    Case(
        "dangling-order-buyer",
        "orders",
        "buyer_id",
        "dangling reference to accounts.account_id",
        cell("orders", "buyer_id", 2, "nobody"),
        row=3,
    ),
    Case(
        "dangling-feedback-order",
        "feedback",
        "order_id",
        "dangling reference to orders.order_id",
        cell("feedback", "order_id", 2, "o99"),
        row=3,
    ),
    Case(
        "dangling-message-sender",
        "messages",
        "sender_id",
        "dangling reference to accounts.account_id",
        cell("messages", "sender_id", 1, "ghost"),
        row=2,
    ),
    Case(
        "dangling-refund-order",
        "refunds",
        "order_id",
        "dangling reference to orders.order_id",
        cell("refunds", "order_id", 0, "o42"),
        row=1,
    ),
    Case(
        "dangling-coupon",
        "orders",
        "coupon_id",
        "dangling reference to coupons.coupon_id",
        cell("orders", "coupon_id", 0, "c404"),
        row=1,
    ),
    Case(
        "buyer-is-a-seller",
        "orders",
        "buyer_id",
        "buyer_id is not a buyer account",
        cell("orders", "buyer_id", 1, "s2"),
        row=2,
    ),
    # --- values and cross-column rules
    Case(
        "rating-out-of-range",
        "feedback",
        "rating",
        "rating out of 1..5",
        cell("feedback", "rating", 1, 6),
        row=2,
    ),
    Case(
        "dsr-zero",
        "feedback",
        "dsr_communication",
        "rating out of 1..5",
        cell("feedback", "dsr_communication", 0, 0),
        row=1,
    ),
    Case(
        "negative-amount",
        "orders",
        "amount",
        "negative or below minimum",
        cell("orders", "amount", 2, -0.01),
        row=3,
    ),
    Case(
        "zero-refund",
        "refunds",
        "amount",
        "not strictly positive",
        cell("refunds", "amount", 0, 0.0),
        row=1,
    ),
    Case(
        "per-buyer-limit-zero",
        "coupons",
        "per_buyer_limit",
        "negative or below minimum",
        cell("coupons", "per_buyer_limit", 0, 0),
        row=1,
    ),
    Case(
        "unknown-account-kind",
        "accounts",
        "kind",
        "not one of buyer, seller",
        cell("accounts", "kind", 2, "robot"),
        row=3,
    ),
    Case(
        "paid-before-created",
        "orders",
        "paid_at",
        "paid_at before created_at",
        cell("orders", "paid_at", 1, "2026-03-02T09:59:59Z"),
        row=2,
    ),
    Case(
        "buyer-equals-seller",
        "orders",
        "seller_id",
        "buyer_id equals seller_id",
        _many(cell("accounts", "kind", 0, "buyer"), cell("orders", "seller_id", 0, "b1")),
        row=1,
    ),
    Case(
        "author-not-a-party",
        "feedback",
        "author_id",
        "author/target not the parties of the order",
        cell("feedback", "author_id", 2, "b3"),
        row=3,
    ),
    Case(
        "feedback-before-order",
        "feedback",
        "created_at",
        "feedback before its order",
        cell("feedback", "created_at", 0, "2026-03-01T00:00:00Z"),
        row=1,
    ),
    Case(
        "two-feedbacks-same-author",
        "feedback",
        "author_id",
        "duplicate feedback for (order_id, author_id)",
        _many(cell("feedback", "author_id", 1, "b1"), cell("feedback", "target_id", 1, "s1")),
        row=1,
    ),
    Case(
        "coupon-validity-inverted",
        "coupons",
        "valid_to",
        "valid_from after valid_to",
        cell("coupons", "valid_to", 0, "2026-02-01T00:00:00Z"),
        row=1,
    ),
    Case(
        "case-not-opened-by-buyer",
        "disputes",
        "opened_by",
        "case not opened by the order's buyer",
        cell("disputes", "opened_by", 0, "s1"),
        row=1,
    ),
    Case(
        "message-to-self",
        "messages",
        "recipient_id",
        "recipient_id equals sender_id",
        cell("messages", "recipient_id", 0, "b2"),
        row=1,
    ),
    # --- files and bytes
    Case(
        "two-files-one-table",
        "orders",
        "",
        "more than one file for the table",
        files=lambda d: tiny_frames()["orders"].write_ndjson(d / "orders.ndjson"),
    ),
    Case("empty-file", "orders", "", "empty file", files=rewrite("orders.csv", lambda b: b"")),
    Case("header-only", "orders", "", "no rows", files=rewrite("orders.csv", _csv_header_only)),
    Case(
        "header-only-feedback",
        "feedback",
        "",
        "no rows",
        files=rewrite("feedback.csv", _csv_header_only),
    ),
    Case(
        "wrong-delimiter",
        "orders",
        "",
        "wrong delimiter (expected ',')",
        files=rewrite("orders.csv", lambda b: b.replace(b",", b";")),
    ),
    Case(
        "non-utf8-bytes",
        "feedback",
        "",
        "not valid UTF-8 text (re-encode the file as UTF-8)",
        files=rewrite("feedback.csv", lambda b: b.replace(b"great", b"gr\xe9at")),
    ),
    Case(
        "duplicate-column-names",
        "orders",
        "amount",
        "duplicate column name",
        files=rewrite("orders.csv", _dup_header),
    ),
    # --- NDJSON and Parquet variants
    Case(
        "ndjson-wrong-type",
        "orders",
        "amount",
        "wrong type",
        files=rewrite("orders.ndjson", lambda b: b.replace(b'"amount":12.5', b'"amount":"abc"')),
        fmt="ndjson",
        row=2,
    ),
    Case(
        "ndjson-empty-file",
        "feedback",
        "",
        "empty file",
        files=rewrite("feedback.ndjson", lambda b: b"\n"),
        fmt="ndjson",
    ),
    Case(
        "ndjson-not-json",
        "orders",
        "",
        "unreadable file",
        files=rewrite("orders.ndjson", lambda b: b + b"{not json\n"),
        fmt="ndjson",
    ),
    Case(
        "parquet-amount-as-text",
        "orders",
        "amount",
        "wrong type",
        files=_write_parquet(
            "orders",
            lambda df: df.with_columns(pl.col("amount").cast(pl.String).replace("99.0", "abc")),
        ),
        fmt="parquet",
        row=3,
    ),
    Case(
        "parquet-nested-column",
        "orders",
        "amount",
        "wrong type",
        files=_write_parquet(
            "orders", lambda df: df.with_columns(pl.concat_list(pl.col("amount")).alias("amount"))
        ),
        fmt="parquet",
        row=1,
    ),
    Case(
        "parquet-epoch-integers",
        "orders",
        "created_at",
        "unparseable timestamp",
        files=_write_parquet(
            "orders", lambda df: df.with_columns(pl.lit(1772618400).alias("created_at"))
        ),
        fmt="parquet",
        row=1,
    ),
    Case(
        "parquet-garbage",
        "orders",
        "",
        "unreadable file",
        files=rewrite("orders.parquet", lambda b: b"PAR1 not really"),
        fmt="parquet",
    ),
]


def build(case: Case, root: Path) -> Path:
    frames = tiny_frames()
    if case.frames is not None:
        frames = case.frames(frames)
    folder = write_dataset(frames, root / case.id, format=case.fmt)
    if case.files is not None:
        case.files(folder)
    return folder


def _matches(row: dict[str, object], case: Case) -> bool:
    rule = str(row["rule"])
    same_rule = rule.startswith(case.rule) if case.rule == "unreadable file" else rule == case.rule
    return row["table"] == case.table and row["column"] == case.column and same_rule


# --------------------------------------------------------------------------- the corpus
def test_corpus_is_large_and_distinct() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({(c.table, c.column, c.rule, c.fmt) for c in CASES}) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_case_is_reported_exactly(case: Case, tmp_path: Path) -> None:
    folder = build(case, tmp_path)
    report = validate_dataset(folder)
    assert not report.ok
    hits = [r for r in report.problems.to_dicts() if _matches(r, case)]
    assert hits, report.problems.select("table", "column", "rule").rows()
    if case.row is not None:
        assert any(e.startswith(f"row {case.row} ") for e in hits[0]["examples"]), hits[0]
        assert hits[0]["rows"] >= 1
    with pytest.raises(DataContractError) as err:
        load_dataset(folder)
    assert isinstance(err.value, ValueError)
    assert err.value.problems.equals(report.problems)
    assert case.rule in str(err.value)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_case_via_cli(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = build(case, tmp_path)
    code = main(["validate", str(folder), "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in out + err
    doc = json.loads(out)
    assert doc["valid"] is False
    assert doc["accepted"] is False
    assert any(_matches(p, case) for p in doc["problems"])


def test_only_the_corrupted_problem_is_reported(tmp_path: Path) -> None:
    """A single corruption yields exactly one problem: nothing else is invented."""
    case = next(c for c in CASES if c.id == "negative-amount")
    report = validate_dataset(build(case, tmp_path))
    assert report.problems.select("table", "column", "rule", "rows", "examples").rows() == [
        ("orders", "amount", "negative or below minimum", 1, ["row 3 amount=-0.01"])
    ]


def test_every_problem_is_collected_at_once(tmp_path: Path) -> None:
    frames = tiny_frames()
    for fn in (c.frames for c in CASES if c.id in ("negative-amount", "rating-out-of-range")):
        frames = fn(frames)  # type: ignore[misc]
    folder = write_dataset(frames, tmp_path / "ds", format="csv")
    (folder / "coupons.ndjson").write_text("{}\n")
    rules = set(validate_dataset(folder).problems.select("table", "rule").rows())
    assert rules == {
        ("orders", "negative or below minimum"),
        ("feedback", "rating out of 1..5"),
        ("coupons", "more than one file for the table"),
    }


# --------------------------------------------------------------------------- near misses
def _valid(folder: Path) -> None:
    report = validate_dataset(folder)
    assert report.ok, report.problems.rows()
    assert report.problems.height == 0


def test_bom_is_accepted(tmp_path: Path) -> None:
    folder = write_dataset(tiny_frames(), tmp_path / "ds", format="csv")
    rewrite("orders.csv", lambda b: b"\xef\xbb\xbf" + b)(folder)
    _valid(folder)
    ds = load_dataset(folder)
    assert ds.orders.collect_schema().names()[0] == "order_id"


def test_megabyte_text_cell_validates_fast(tmp_path: Path) -> None:
    big = "ä" * 600_000  # 1.2 MB of UTF-8
    frames = set_cell(tiny_frames(), "feedback", "text", 0, big)
    folder = write_dataset(frames, tmp_path / "ds", format="csv")
    t0 = time.perf_counter()
    ds = load_dataset(folder)
    assert time.perf_counter() - t0 < 5
    assert ds.feedback.select(pl.col("text").str.len_chars().max()).collect().item() == 600_000


def test_path_like_ids_are_opaque_and_create_no_paths(tmp_path: Path, monkeypatch) -> None:
    evil = "../../etc/passwd"
    frames = set_cell(tiny_frames(), "feedback", "feedback_id", 0, evil)
    folder = write_dataset(frames, tmp_path / "ds", format="csv")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    ds = load_dataset(folder)
    assert evil in ds.feedback.collect()["feedback_id"].to_list()
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_offsets_and_naive_times_are_utc(tmp_path: Path) -> None:
    frames = tiny_frames()
    frames = set_cell(frames, "orders", "created_at", 0, "2026-03-02T12:00:00+02:00")
    frames = set_cell(frames, "orders", "paid_at", 0, "2026-03-02 10:00:00")
    frames = set_cell(frames, "orders", "created_at", 1, "2026-03-03")
    folder = write_dataset(frames, tmp_path / "ds", format="csv")
    orders = load_dataset(folder).orders.collect()
    assert orders["created_at"].dt.to_string("%Y-%m-%dT%H:%M:%S%z").to_list()[:2] == [
        "2026-03-02T10:00:00+0000",
        "2026-03-03T00:00:00+0000",
    ]
    assert str(orders["paid_at"][0]) == "2026-03-02 10:00:00+00:00"


def test_header_only_optional_table_is_valid_and_empty(tmp_path: Path) -> None:
    folder = write_dataset(tiny_frames(), tmp_path / "ds", format="csv")
    rewrite("messages.csv", _csv_header_only)(folder)
    ds = load_dataset(folder)
    assert ds.row_counts()["messages"] == 0


def test_unknown_table_file_is_a_warning_not_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_dataset(tiny_frames(), tmp_path / "ds", format="csv")
    (folder / "sellers_extra.csv").write_text("a\n1\n")
    report = validate_dataset(folder)
    assert report.ok
    assert report.warnings == (
        "ignored sellers_extra.csv: 'sellers_extra' is not a table of the data contract",
    )
    with pytest.warns(UserWarning, match="sellers_extra"):
        load_dataset(folder)
    assert main(["validate", str(folder), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is True
    assert doc["warnings"] == list(report.warnings)


def test_integer_ids_in_parquet_are_decimal_text(tmp_path: Path) -> None:
    frames = tiny_frames()
    frames["orders"] = frames["orders"].with_columns(pl.Series("order_id", [1, 2, 3, 4]))
    frames["feedback"] = frames["feedback"].with_columns(pl.Series("order_id", [1, 1, 2]))
    frames["messages"] = frames["messages"].with_columns(pl.Series("order_id", ["2", None]))
    frames["disputes"] = frames["disputes"].with_columns(pl.Series("order_id", ["2"]))
    frames["refunds"] = frames["refunds"].with_columns(pl.Series("order_id", [2.0]))
    folder = write_dataset(frames, tmp_path / "ds", format="parquet")
    ds = load_dataset(folder)
    assert ds.orders.collect()["order_id"].to_list() == ["1", "2", "3", "4"]
    assert ds.get("refunds").collect()["order_id"].to_list() == ["2"]  # type: ignore[union-attr]


def test_naive_parquet_datetimes_are_utc(tmp_path: Path) -> None:
    frames = tiny_frames()
    frames["orders"] = frames["orders"].with_columns(
        pl.col("created_at").str.to_datetime("%Y-%m-%dT%H:%M:%SZ"),  # naive
        pl.col("paid_at")
        .str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
        .dt.convert_time_zone("Asia/Tokyo"),
    )
    folder = write_dataset(frames, tmp_path / "ds", format="parquet")
    orders = load_dataset(folder).orders.collect()
    assert orders.schema["created_at"] == pl.Datetime("us", "UTC")
    assert orders.schema["paid_at"] == pl.Datetime("us", "UTC")
    assert str(orders["created_at"][0]) == "2026-03-02 10:00:00+00:00"
    assert str(orders["paid_at"][0]) == "2026-03-02 10:00:00+00:00"
