"""The contract declaration matches the shared data contract and is self-consistent."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from graphkit.contract import LABELS, TABLES, TIME, canonical_schema

DOC = Path(__file__).resolve().parents[1].parent / "shared" / "data-contract.md"
DOC_TYPES = {"str": "str", "datetime": "datetime", "float": "float", "int": "int"}


def _doc_tables() -> dict[str, dict[str, str]]:
    """``{table: {column: type}}`` from the markdown tables of the shared contract."""
    tables: dict[str, dict[str, str]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## (\w+)", line)
        if heading:
            current = heading.group(1) if heading.group(1) in TABLES else None
            if current:
                tables[current] = {}
            continue
        row = re.match(r"^\| ([a-z_, ]+) \| (\w+) \|", line)
        if current and row and row.group(1) != "column":
            for name in row.group(1).split(","):
                tables[current][name.strip()] = row.group(2)
    return tables


@pytest.mark.skipif(not DOC.exists(), reason="shared/data-contract.md is not beside the repo")
def test_declaration_matches_the_shared_contract() -> None:
    doc = _doc_tables()
    assert set(doc) == set(TABLES)
    for name, columns in doc.items():
        declared = {c.name: c for c in TABLES[name].columns}
        assert list(columns) == list(declared), name
        for column, kind in columns.items():
            col = declared[column]
            expected = {"str": ("id", "str"), "int": ("int", "rating")}.get(kind, (kind,))
            assert col.kind in expected, (name, column, kind, col.kind)


def test_required_tables_and_keys() -> None:
    assert [n for n, t in TABLES.items() if t.required] == ["orders", "feedback"]
    for name, table in TABLES.items():
        if table.key is not None:
            key = table.column(table.key)
            assert key.unique, name
            assert key.kind == "id", name
            assert not key.nullable, name


def test_references_point_at_declared_keys() -> None:
    for table in TABLES.values():
        for col in table.columns:
            if col.ref is not None:
                parent = TABLES[col.ref[0]]
                assert parent.key == col.ref[1], (table.name, col.name)


def test_canonical_dtypes() -> None:
    orders = canonical_schema("orders")
    assert orders["order_id"] == pl.String
    assert orders["created_at"] == TIME == pl.Datetime("us", "UTC")
    assert orders["amount"] == pl.Float64
    assert canonical_schema("feedback")["rating"] == pl.Int8
    assert canonical_schema("coupons")["per_buyer_limit"] == pl.Int64
    assert list(canonical_schema("labels")) == [c.name for c in LABELS.columns]


def test_column_lookup_names_the_missing_column() -> None:
    with pytest.raises(KeyError, match="nope"):
        TABLES["orders"].column("nope")
