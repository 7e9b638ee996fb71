"""Lockstep (CopyCatch-style) groups: same sellers, same windows; near misses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from graphkit.detect.lockstep import lockstep_groups, lockstep_pairs

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _orders(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    """(buyer, seller, hours after T0)."""
    return pl.DataFrame(
        {
            "buyer_id": [r[0] for r in rows],
            "seller_id": [r[1] for r in rows],
            "created_at": [T0 + timedelta(hours=r[2]) for r in rows],
        }
    )


def _ring(buyers: list[str], spread_hours: float) -> list[tuple[str, str, float]]:
    rows = []
    for i, b in enumerate(buyers):
        rows.append((b, "X", i * spread_hours))  # campaign 1 at seller X
        rows.append((b, "Y", 24 * 20 + i * spread_hours))  # campaign 2 at Y, 20 days later
    return rows


def test_ring_in_lockstep_is_one_group() -> None:
    rows = _ring(["r1", "r2", "r3", "r4"], spread_hours=3)
    rows += [("h1", "X", 24 * 50), ("h1", "Z", 24 * 51), ("h2", "Y", 24 * 90)]
    out = lockstep_groups(_orders(rows))
    assert out.filter(pl.col("role") == "buyer")["account_id"].to_list() == ["r1", "r2", "r3", "r4"]
    assert out.filter(pl.col("role") == "seller")["account_id"].to_list() == ["X", "Y"]
    row = out.row(0, named=True)
    assert (row["group"], row["group_n_buyers"], row["group_n_sellers"]) == (0, 4, 2)
    assert (row["group_n_pairs"], row["group_max_shared"]) == (6, 2)


def test_same_sellers_different_weeks_is_not_lockstep() -> None:
    """Near miss: the same buyers and sellers, but each buyer a week apart."""
    rows = _ring(["r1", "r2", "r3", "r4"], spread_hours=24 * 7)
    assert lockstep_groups(_orders(rows)).is_empty()


def test_one_shared_window_is_not_enough() -> None:
    """Near miss: buyers meeting once at one seller (a sale) are not a group."""
    rows = [(f"b{i}", "X", i) for i in range(6)]
    assert lockstep_groups(_orders(rows)).is_empty()
    assert not lockstep_groups(_orders(rows), min_shared_windows=1).is_empty()


def test_window_boundary_does_not_split_a_campaign() -> None:
    # 3-day buckets from the epoch: find a boundary and put orders 1 hour on each side
    boundary = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
        days=3 * ((T0 - datetime(1970, 1, 1, tzinfo=UTC)).days // 3 + 1)
    )
    h = (boundary - T0) / timedelta(hours=1)
    rows = [
        ("a", "X", h - 1),
        ("b", "X", h + 1),
        ("a", "Y", h + 200),
        ("b", "Y", h + 201),
        ("c", "X", h - 0.5),
        ("c", "Y", h + 200.5),
    ]
    pairs, _ = lockstep_pairs(_orders(rows))
    assert pairs.select("buyer_a", "buyer_b").rows() == [("a", "b"), ("a", "c"), ("b", "c")]
    assert pairs["n_windows"].to_list() == [2, 2, 2]


def test_busy_buckets_are_skipped_and_counted() -> None:
    rows = _ring([f"b{i:02d}" for i in range(60)], spread_hours=0.5)
    pairs, skipped = lockstep_pairs(_orders(rows), max_bucket_buyers=50)
    assert pairs.is_empty()
    assert skipped >= 2
    big = lockstep_groups(_orders(rows), max_bucket_buyers=100, max_group_buyers=200)
    assert big["group_n_buyers"].unique().to_list() == [60]


def test_deterministic() -> None:
    rows = _ring(["r1", "r2", "r3"], 1) + _ring(["q1", "q2", "q3"], 1)
    rows = [(b, s + ("2" if b.startswith("q") else ""), t) for b, s, t in rows]
    a = lockstep_groups(_orders(rows), seed=3)
    assert a.equals(lockstep_groups(_orders(rows[::-1]), seed=3))
    assert a["group"].unique().sort().to_list() == [0, 1]


def _coded(rows: list[tuple[str, str, float]]) -> tuple[pl.DataFrame, pl.Series]:
    """The same orders as integer codes into the sorted account ids (a market graph's vids)."""
    orders = _orders(rows)
    ids = pl.concat([orders["buyer_id"], orders["seller_id"]]).unique().sort()
    vid = {a: i for i, a in enumerate(ids.to_list())}
    coded = orders.select(
        pl.col("buyer_id").replace_strict(vid, return_dtype=pl.Int32).alias("buyer_vid"),
        pl.col("seller_id").replace_strict(vid, return_dtype=pl.Int32).alias("seller_vid"),
        "created_at",
    )
    return coded, ids


def test_integer_coded_orders_give_the_same_groups() -> None:
    rows = _ring(["r1", "r2", "r3", "r4"], 3) + _ring(["q1", "q2", "q3"], 1)
    rows = [(b, s + ("2" if b.startswith("q") else ""), t) for b, s, t in rows]
    rows += [("h1", "X", 24 * 50), ("h1", "Z", 24 * 51), ("r1", "Z", 24 * 51.5)]
    coded, ids = _coded(rows)
    by_code = lockstep_groups(coded, account_ids=ids)
    assert by_code.equals(lockstep_groups(_orders(rows)))
    assert by_code["group"].n_unique() == 2
    # a near miss stays one: same sellers a week apart
    coded, ids = _coded(_ring(["r1", "r2", "r3", "r4"], spread_hours=24 * 7))
    assert lockstep_groups(coded, account_ids=ids).is_empty()


def test_pairs_within_runs_of_sorted_bucket_keys() -> None:
    """Every pair of rows sharing a key, once, earlier row first; singletons pair with no one."""
    from graphkit.detect.lockstep import _pairs_within_runs
    from graphkit.detect.sorted_runs import run_lengths

    key = np.array([4, 4, 4, 7, 9, 9])
    src, dst = _pairs_within_runs(key)
    assert list(zip(src.tolist(), dst.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2), (4, 5)]
    assert run_lengths(key).tolist() == [3, 3, 3, 1, 2, 2]
    empty = _pairs_within_runs(np.zeros(0, dtype=np.int64))
    assert [e.size for e in empty] == [0, 0]
    assert run_lengths(np.array([5])).tolist() == [1]


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_repeated_at_least_matches_counting(k: int) -> None:
    """The values seen k times or more: the same as counting every value (random keys)."""
    from graphkit.detect.lockstep import _repeated_at_least

    rng = np.random.default_rng(k)
    keys = np.sort(rng.integers(0, 300, size=1000))
    values, counts = np.unique(keys, return_counts=True)
    assert _repeated_at_least(keys, k).tolist() == values[counts >= k].tolist()
    # fewer rows than k, and nothing repeated enough: empty
    assert _repeated_at_least(np.array([7, 7]), 3).tolist() == []
    assert _repeated_at_least(np.array([1, 2, 3]), 2).tolist() == []


def test_pair_counts_with_a_buyer_count_not_a_power_of_two() -> None:
    """Buyer codes in the keys' low bits: a code at the top of the range is split back exactly."""
    from graphkit.detect.lockstep import _pairs_coded

    day = 86_400_000_000
    # buyers 4 and 6 (of n_b = 7, 3 bits) share two windows at seller 2; buyer 5 one of them
    coded = pl.DataFrame(
        {
            "b": [4, 6, 4, 6, 5, 3],
            "s": [2, 2, 2, 2, 2, 1],
            "t": [10 * day, 10 * day + 5, 40 * day, 40 * day + 9, 40 * day + 1, 40 * day],
        }
    )
    pairs, busy = _pairs_coded(
        coded, 7, window_us=3 * day, min_shared_windows=2, max_bucket_buyers=50
    )
    assert busy == 0
    assert pairs.rows() == [(4 * 7 + 6, 2, 1)]
