"""Screens never hide a broken row: bad ids in reference columns, checked against an oracle.

The oracle is :func:`graphkit.validation.row_reasons`, which evaluates every rule exactly on
every row (no screen). A column that references a clean key has no regex screen of its own
(its bad ids are dangling references too); these cases must report the same problems as the
oracle, with the same row counts.
"""

from __future__ import annotations

import polars as pl
import pytest
from conftest import tiny_frames

from graphkit.contract import TABLES
from graphkit.validation import find_problems, normalise, row_reasons

_PARTY = "author/target not the parties of the order"

#: (table, column, row) of every column that references another table's key.
REFERENCE_CELLS = [
    ("identifiers", "account_id", 1),
    ("orders", "buyer_id", 2),
    ("orders", "seller_id", 0),
    ("orders", "coupon_id", 1),
    ("feedback", "order_id", 2),
    ("feedback", "author_id", 0),  # author and target must be the order's (clean) parties
    ("feedback", "target_id", 1),
    ("messages", "sender_id", 0),
    ("messages", "recipient_id", 1),
    ("messages", "order_id", 1),
    ("disputes", "order_id", 0),
    ("refunds", "order_id", 0),
]
BAD_IDS = ["", "   ", "b1\n", "s1\t", "o2\x00", "\x7f", None, "\u00a0"]


def _set(frames: dict[str, pl.DataFrame], table: str, column: str, row: int, value: object):
    values = frames[table][column].to_list()
    values[row] = value
    frames[table] = frames[table].with_columns(pl.Series(column, values, dtype=pl.String))
    return frames


def _problems(frames: dict[str, pl.DataFrame]) -> set[tuple[str, str, str, int]]:
    tables = {k: normalise(k, v.lazy()) for k, v in frames.items()}
    found = find_problems(tables)
    return {(t, c, r, n) for t, c, r, n in found.select("table", "column", "rule", "rows").rows()}


def _oracle(frames: dict[str, pl.DataFrame], table: str) -> set[tuple[str, str, str, int]]:
    tables = {k: normalise(k, v.lazy()) for k, v in frames.items()}
    reasons = row_reasons(table, tables, unique_keys=frozenset(tables)).collect()
    counts = (
        reasons.select(pl.col("reasons").explode()).drop_nulls().group_by("reasons").len().rows()
    )
    return {(table, *reason.split(": ", 1), n) for reason, n in counts}


@pytest.mark.parametrize("value", BAD_IDS, ids=repr)
@pytest.mark.parametrize(("table", "column", "row"), REFERENCE_CELLS)
def test_bad_reference_id_reported_like_the_oracle(table, column, row, value):
    frames = _set(tiny_frames(), table, column, row, value)
    got = {p for p in _problems(frames) if p[0] == table}
    expected = _oracle(frames, table)
    assert got == expected
    nullable = TABLES[table].column(column).nullable
    assert bool(got) != (value is None and nullable), "a bad id breaks a rule; null may not"


@pytest.mark.parametrize("value", ["", "   ", "b1\n"], ids=repr)
def test_reference_to_an_unclean_key_still_screens_the_child(value):
    # the same bad id in the parent key and the child: the child's value matches a key,
    # so only the child's own (regex) screen can find it
    frames = _set(tiny_frames(), "accounts", "account_id", 2, value)  # was b1
    frames = _set(frames, "orders", "buyer_id", 0, value)  # was b1
    got = _problems(frames)
    assert {p for p in got if p[0] == "orders"} == _oracle(frames, "orders")
    assert any(p[0] == "orders" and p[1] == "buyer_id" for p in got)


@pytest.mark.parametrize("value", ["", "  ", "b1\n"], ids=repr)
def test_feedback_party_equal_to_an_unclean_order_party_is_still_screened(value):
    # the order's buyer id is bad and the feedback's author equals it: the parties rule
    # holds, so only the author's own (regex) screen can find it
    frames = _set(tiny_frames(), "orders", "buyer_id", 0, value)  # o1 was b1
    frames = _set(frames, "feedback", "author_id", 0, value)  # f1: o1's buyer
    got = _problems(frames)
    assert {p for p in got if p[0] == "feedback"} == _oracle(frames, "feedback")
    assert any(p[:2] == ("feedback", "author_id") and p[2] != _PARTY for p in got)


def test_valid_tiny_marketplace_has_no_problem():
    assert _problems(tiny_frames()) == set()


@pytest.mark.parametrize(
    ("order_ids", "author_ids", "duplicates"),
    [
        (["o1", "o1", "o2"], ["b1", "s1", "b2"], 0),  # the valid tiny feedback
        (["o1", "o1", "o2"], ["b1", "b1", "b2"], 2),  # the same buyer twice on o1
        (["o1", "o1", "o2"], [None, None, "b2"], 2),  # null authors pair up too
        (["o1", "b1", "o2"], ["b1", "o1", "b2"], 0),  # swapped values are different pairs
        (["o1", "o2", "o2"], ["b1", "s1", "b1"], 0),  # same author, other order
    ],
)
def test_duplicate_feedback_pair_screen(order_ids, author_ids, duplicates):
    frames = tiny_frames()
    frames["feedback"] = frames["feedback"].with_columns(
        pl.Series("order_id", order_ids), pl.Series("author_id", author_ids, dtype=pl.String)
    )
    rule = "duplicate feedback for (order_id, author_id)"
    got = {p for p in _problems(frames) if p[2] == rule}
    assert got == ({("feedback", "author_id", rule, duplicates)} if duplicates else set())
    assert {p for p in _oracle(frames, "feedback") if p[2] == rule} == got


def test_examples_of_a_reference_rule_are_the_first_rows_in_input_order():
    # reference joins do not keep the row order: examples must still be the first rows
    frames = tiny_frames()
    n = 60_000  # large enough for polars to return join rows out of input order
    frames["feedback"] = pl.concat([frames["feedback"]] * (n // 3 + 1)).head(n)
    frames["feedback"] = frames["feedback"].with_columns(
        pl.format("f{}", pl.int_range(pl.len())).alias("feedback_id"),
        pl.when(pl.int_range(pl.len()) % 3 == 1)
        .then(pl.format("gone{}", pl.int_range(pl.len())))
        .otherwise(pl.col("order_id"))
        .alias("order_id"),
    )
    tables = {k: normalise(k, v.lazy()) for k, v in frames.items()}
    found = find_problems(tables).filter(pl.col("rule").str.starts_with("dangling"))
    assert found["rows"].to_list() == [n // 3]
    assert [e.split()[1] for e in found["examples"][0]] == ["2", "5", "8", "11", "14"]
