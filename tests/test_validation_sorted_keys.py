"""Key uniqueness: strictly increasing keys skip the hash count, and nothing is missed.

A key no table references is first checked for strictly increasing values (exact: then no
two are equal); only when they do not increase is the distinct-hash count run, and only when
that fires, the exact duplicate rule. Every case is checked against the oracle
(:func:`graphkit.validation.row_reasons`, every rule on every row, no screen).
"""

from __future__ import annotations

import polars as pl
import pytest
from conftest import tiny_frames

from graphkit.validation import _not_increasing, find_problems, normalise, row_reasons

#: Keyed tables that no table references (their keys get the increasing-values prescreen).
UNREFERENCED = {"feedback": "feedback_id", "messages": "message_id", "disputes": "case_id"}


@pytest.mark.parametrize(
    ("values", "fires"),
    [
        (["a", "b", "c"], False),
        (["a", None, "b", None, "c"], False),  # nulls are not keys
        ([None, None], False),
        ([], False),
        (["a"], False),
        (["a", "a", "b"], True),  # equal neighbours
        (["b", "a", "c"], True),  # unsorted (unique, but the hash count must decide)
        (["a", None, "a"], True),  # equal across a null
        (["c", "b", "a"], True),
    ],
)
def test_not_increasing(values, fires):
    s = pl.Series("k", values, dtype=pl.String)
    assert pl.select(_not_increasing(pl.lit(s))).item() is fires


def _with_keys(table: str, keys: list[str | None]) -> dict[str, pl.DataFrame]:
    frames = tiny_frames()
    df = frames[table]
    n = len(keys)
    frames[table] = pl.concat([df] * (n // df.height + 1)).head(n)
    frames[table] = frames[table].with_columns(pl.Series(UNREFERENCED[table], keys, pl.String))
    return frames


def _rule_rows(frames: dict[str, pl.DataFrame], table: str) -> tuple[set, set]:
    tables = {k: normalise(k, v.lazy()) for k, v in frames.items()}
    got = find_problems(tables).filter(pl.col("table") == table)
    found = {(c, r, n) for c, r, n in got.select("column", "rule", "rows").rows()}
    reasons = row_reasons(table, tables, unique_keys=frozenset(tables)).collect()
    counts = reasons.select(pl.col("reasons").explode()).drop_nulls().group_by("reasons").len()
    oracle = {(*reason.split(": ", 1), n) for reason, n in counts.rows()}
    return found, oracle


KEYS = [
    (["k1", "k2", "k3", "k4"], 0),  # increasing: the hash count is skipped
    (["k3", "k1", "k4", "k2"], 0),  # unsorted and unique: the hash count clears it
    (["k1", "k1", "k2", "k3"], 2),  # adjacent duplicate
    (["k3", "k1", "k2", "k1"], 2),  # duplicate apart, unsorted
    (["k1", "k2", "k3", "k1"], 2),  # increasing, then back to the first key
    (["k2", None, "k1", None], 0),  # two null keys: null ids, not duplicates
]


@pytest.mark.parametrize("table", sorted(UNREFERENCED))
@pytest.mark.parametrize(("keys", "duplicates"), KEYS)
def test_duplicate_keys_reported_like_the_oracle(table, keys, duplicates):
    found, oracle = _rule_rows(_with_keys(table, keys), table)
    key = UNREFERENCED[table]
    dup = {p for p in found if p[1] == "duplicate key"}
    assert dup == ({(key, "duplicate key", duplicates)} if duplicates else set())
    assert {p for p in found if p[0] == key} == {p for p in oracle if p[0] == key}


def _queries(monkeypatch: pytest.MonkeyPatch, frames: dict[str, pl.DataFrame]) -> list[str]:
    """Plans of every query validation runs on ``frames`` (as text)."""
    seen: list[str] = []
    collect_all = pl.collect_all

    def spy(lfs, **kw):
        lfs = list(lfs)
        seen.extend(lf.explain(optimized=False) for lf in lfs)
        return collect_all(lfs, **kw)

    monkeypatch.setattr(pl, "collect_all", spy)
    tables = {k: normalise(k, v.lazy()) for k, v in frames.items()}
    assert find_problems(tables).height == 0
    return seen


def test_increasing_keys_skip_the_hash_count(monkeypatch):
    seen = _queries(monkeypatch, _with_keys("feedback", ["f1", "f2", "f3"]))
    counts = [q for q in seen if 'col("feedback_id").hash' in q and "n_unique" in q]
    assert counts == []
    # a referenced key (orders) keeps its hash count: its hashes must be known distinct
    assert any('col("order_id").hash' in q and "n_unique" in q for q in seen)


def test_unsorted_keys_get_the_hash_count(monkeypatch):
    seen = _queries(monkeypatch, _with_keys("feedback", ["f3", "f1", "f2"]))
    counts = [q for q in seen if 'col("feedback_id").hash' in q and "n_unique" in q]
    assert len(counts) == 1
