"""Lockstep detection in the CopyCatch family (Beutel et al., WWW 2013), vectorised.

CopyCatch looks for groups of users who acted on the same set of pages within
the same short time windows. Here: groups of buyers who bought from the same
sellers in the same windows, repeatedly.

1. Each order falls in a (seller, window) bucket; two bucketings offset by half
   a window, so two orders a minute apart across a boundary still meet.
2. Buckets with more than ``max_bucket_buyers`` buyers are skipped (a sale day
   at a popular store would otherwise make every pair of its buyers co-occur,
   and the pairs would grow quadratically); the count skipped is returned.
3. The distinct (bucket, buyer) codes, sorted, list each bucket's buyers; every
   two buyers of a bucket make a pair (array arithmetic, no join); a pair is *in
   lockstep* when it shares at least ``min_shared_windows`` distinct buckets
   (the larger count of the two bucketings, so nothing is counted twice).
4. Groups are the connected components of the lockstep pairs (igraph); a
   component larger than ``max_group_buyers`` is split with seeded Leiden.
5. A group's sellers are those at least ``min_seller_share`` of its buyers
   bought from.

Examples
--------
>>> from graphkit.detect.lockstep import lockstep_groups
>>> groups = lockstep_groups(ds.orders, min_shared_windows=2)  # doctest: +SKIP
>>> groups.columns[:3]  # doctest: +SKIP
['group', 'account_id', 'role']
"""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import polars as pl

from graphkit.detect.sorted_runs import run_lengths, run_starts

__all__ = ["LOCKSTEP_SCHEMA", "lockstep_groups", "lockstep_pairs"]

#: Output of :func:`lockstep_groups`: one row per (group, member).
LOCKSTEP_SCHEMA: dict[str, pl.DataType] = {
    "group": pl.Int64(),
    "account_id": pl.String(),
    "role": pl.String(),
    "group_n_buyers": pl.Int64(),
    "group_n_sellers": pl.Int64(),
    "group_n_pairs": pl.Int64(),
    "group_max_shared": pl.Int64(),
}

_PAIRS_SCHEMA: dict[str, pl.DataType] = {
    "buyer_a": pl.String(),
    "buyer_b": pl.String(),
    "n_windows": pl.Int64(),
    "n_sellers": pl.Int64(),
}


def _code_orders(
    orders: pl.LazyFrame | pl.DataFrame,
) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    """Integer codes of string orders: (``b``, ``s``, ``t``), buyer names, seller names.

    Buyers are numbered in id order (code order = id order, for ``buyer_a < buyer_b``).
    """
    lf = orders.lazy().select("buyer_id", "seller_id", "created_at")
    buyers = lf.select(pl.col("buyer_id").unique()).sort("buyer_id").with_row_index("b")
    sellers = lf.select(pl.col("seller_id").unique()).sort("seller_id").with_row_index("s")
    buyers_df, sellers_df = pl.collect_all([buyers, sellers])
    coded = (
        lf.join(buyers_df.lazy(), on="buyer_id")
        .join(sellers_df.lazy(), on="seller_id")
        .select(
            pl.col("b").cast(pl.Int64),
            pl.col("s").cast(pl.Int64),
            pl.col("created_at").dt.epoch("us").alias("t"),
        )
        .collect()
    )
    return coded, buyers_df["buyer_id"], sellers_df["seller_id"]


def _coded_input(
    orders: pl.LazyFrame | pl.DataFrame, account_ids: pl.Series | None
) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    if account_ids is None:
        return _code_orders(orders)
    coded = (
        orders.lazy()
        .select(
            pl.col("buyer_vid").cast(pl.Int64).alias("b"),
            pl.col("seller_vid").cast(pl.Int64).alias("s"),
            pl.col("created_at").dt.epoch("us").alias("t"),
        )
        .collect()
    )
    return coded, account_ids, account_ids


def _pairs_within_runs(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return row pairs ``(i, j)``, ``i < j``, of every run of equal values in the sorted ``key``.

    Row ``i`` pairs with the ``end - i - 1`` rows after it in its run; built with
    ``np.repeat`` and one ``arange`` (no loop, no join).

    Examples
    --------
    >>> _pairs_within_runs(np.array([4, 4, 4, 7, 9, 9]))
    (array([0, 0, 1, 4]), array([1, 2, 2, 5]))
    """
    m = len(key)
    if m == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    start = np.flatnonzero(run_starts(key))
    end = np.repeat(np.append(start[1:], m), np.diff(np.append(start, m)))
    later = end - np.arange(m) - 1
    src = np.repeat(np.arange(m), later)
    # pair k of row i (k from first[i]) is row i + 1 + (k - first[i]) = k - (first[i] - i - 1):
    # one repeat of a per-row offset instead of repeating first and adding src back
    first = np.cumsum(later) - later
    dst = np.arange(len(src)) - np.repeat(first - np.arange(m) - 1, later)
    return src, dst


def _repeated_at_least(sorted_keys: np.ndarray, k: int) -> np.ndarray:
    """Return the distinct values occurring at least ``k`` times in ``sorted_keys`` (sorted).

    A value occurs ``k`` times or more when some row equals the row ``k - 1`` after it: one
    comparison of the array with itself shifted, no run lengths of every distinct value.

    Examples
    --------
    >>> _repeated_at_least(np.array([1, 1, 2, 3, 3, 3]), 2).tolist()
    [1, 3]
    >>> _repeated_at_least(np.array([1, 1, 2, 3, 3, 3]), 3).tolist()
    [3]
    """
    if k <= 1:
        hit = sorted_keys
    elif len(sorted_keys) < k:
        hit = sorted_keys[:0]
    else:
        hit = sorted_keys[k - 1 :][sorted_keys[k - 1 :] == sorted_keys[: len(sorted_keys) - k + 1]]
    return hit[run_starts(hit)]


def _pairs_coded(
    coded: pl.DataFrame,
    n_b: int,
    *,
    window_us: int,
    min_shared_windows: int,
    max_bucket_buyers: int,
) -> tuple[pl.DataFrame, int]:
    """Lockstep pairs of integer-coded orders (``b``, ``s``, ``t`` in us).

    Returns ``pair`` (``a * n_b + b`` with ``a < b``), ``n_windows``, ``n_sellers``
    sorted by ``pair``, and the number of buckets skipped as too busy.
    """
    empty = pl.DataFrame(schema={"pair": pl.Int64, "n_windows": pl.Int64, "n_sellers": pl.Int64})
    if coded.is_empty():
        return empty, 0
    half = window_us // 2
    # (offset, seller, bucket) as one Int64 key; buckets count from the epoch as before
    base = int(coded["t"].min()) // window_us
    span = (int(coded["t"].max()) + half) // window_us - base + 1
    n_s = int(coded["s"].max()) + 1
    per_off = n_s * span
    n_keys = 2 * per_off
    # one Int64 per distinct (offset, seller, bucket, buyer): key << bits | b, so that the
    # sorted distinct values are the buckets' buyer lists, bucket after bucket, buyers in
    # code order (sort-based: a hash unique / window count over 20M rows costs ~4x more);
    # the buyer in the low bits: split by a shift and a mask (an int64 division and a
    # modulo over 20M values cost ~1 CPU s at 10M orders)
    bits = max(n_b - 1, 1).bit_length()
    if n_keys << bits >= 2**62:  # pragma: no cover - beyond any real market
        raise ValueError("lockstep: too many (buyer, seller, window) combinations for Int64 keys")
    v = (
        pl.concat(
            [
                coded.lazy().select(
                    (
                        (
                            off_i * per_off
                            + pl.col("s") * span
                            + ((pl.col("t") + off) // window_us - base)
                        )
                        * (1 << bits)
                        + pl.col("b")
                    ).alias("v")
                )
                for off_i, off in enumerate((0, half))
            ]
        )
        .sort("v")
        .collect()["v"]
        .to_numpy()
    )
    v = v[run_starts(v)]
    key, buyer = v >> bits, v & ((1 << bits) - 1)
    del v
    # buyers per bucket: run lengths of the sorted keys
    n = run_lengths(key)
    busy = int(np.count_nonzero((n > max_bucket_buyers) & run_starts(key)))
    keep = (n >= 2) & (n <= max_bucket_buyers)
    key, buyer = key[keep], buyer[keep]
    # a buyer in fewer usable buckets of an offset than min_shared_windows pairs with no one
    # (the offset of key: key // per_off, 0 or 1, is key >= per_off)
    bo = buyer * 2 + (key >= per_off)
    keep = np.bincount(bo, minlength=2 * n_b)[bo] >= min_shared_windows
    key, buyer = key[keep], buyer[keep]
    del bo, keep
    # one row per (pair, offset, shared bucket): every later buyer of the same bucket
    src, dst = _pairs_within_runs(key)
    # pair key a * n_b + b (a < b: buyers are sorted within a bucket) orders like (a, b)
    pk = (buyer[src] * n_b + buyer[dst]) * 2 + (key[src] >= per_off)
    # count first on the sorted keys (most pairs share one bucket; a sort costs less than a
    # hash group-by over tens of millions of rows), distinct sellers for the survivors only
    spk = pl.Series(pk).sort().to_numpy()
    survivors = _repeated_at_least(spk, min_shared_windows)
    del spk
    keep = pl.Series(pk).is_in(pl.Series(survivors).implode()).to_numpy()
    shared = pl.DataFrame({"pk": pk[keep], "s": key[src[keep]] % per_off // span}).lazy()
    del src, dst, pk, keep
    counts = shared.group_by("pk").agg(
        pl.len().cast(pl.Int64).alias("n_windows"),
        pl.col("s").n_unique().cast(pl.Int64).alias("n_sellers"),
    )
    # per offset, then the larger of the two (nothing counted twice)
    pairs = (
        counts.group_by((pl.col("pk") // 2).alias("pair"))
        .agg(pl.col("n_windows").max(), pl.col("n_sellers").max())
        .sort("pair")
        .collect()
    )
    return pairs.select(list(empty.columns)), busy


def lockstep_pairs(
    orders: pl.LazyFrame | pl.DataFrame,
    *,
    window: timedelta = timedelta(days=3),
    min_shared_windows: int = 2,
    max_bucket_buyers: int = 50,
) -> tuple[pl.DataFrame, int]:
    """Buyer pairs that bought from the same sellers in the same time windows.

    Parameters
    ----------
    orders
        Orders with ``buyer_id``, ``seller_id``, ``created_at`` (every order of
        the sellers considered: a function of whole seller partitions).
    window
        Bucket width (default 3 days: a coordinated campaign, not a season).
    min_shared_windows
        Distinct (seller, window) buckets a pair must share (default 2: once is
        a coincidence at any store, twice at the same small windows is not).
    max_bucket_buyers
        Buckets with more buyers are skipped (default 50: beyond that the
        bucket is a sale event, and pairs grow as its square).

    Returns
    -------
    (pl.DataFrame, int)
        Pairs ``buyer_a < buyer_b`` with ``n_windows`` and ``n_sellers``, sorted;
        and the number of buckets skipped as too busy.

    Examples
    --------
    >>> pairs, skipped = lockstep_pairs(ds.orders)  # doctest: +SKIP
    """
    coded, names, _ = _code_orders(orders)
    n_b = max(names.len(), 1)
    pairs, n_busy = _pairs_coded(
        coded,
        n_b,
        window_us=int(window / timedelta(microseconds=1)),
        min_shared_windows=min_shared_windows,
        max_bucket_buyers=max_bucket_buyers,
    )
    out = pairs.select(
        names.gather(pairs["pair"] // n_b).alias("buyer_a"),
        names.gather(pairs["pair"] % n_b).alias("buyer_b"),
        "n_windows",
        "n_sellers",
    )
    return out.select(list(_PAIRS_SCHEMA)), n_busy


def _split_large(
    membership: np.ndarray, src: np.ndarray, dst: np.ndarray, w: np.ndarray, cap: int, seed: int
) -> np.ndarray:
    """Split components larger than ``cap`` with seeded Leiden (a handful of components)."""
    import igraph

    from graphkit.graph.build import igraph_from_arrays

    sizes = np.bincount(membership)
    big = np.flatnonzero(sizes > cap)
    if not len(big):
        return membership
    out = membership.copy()
    next_id = int(membership.max()) + 1
    old_rng = random.getstate()
    try:
        for comp in big:  # loop over a few large components, not over edges
            nodes = np.flatnonzero(membership == comp)
            local = np.full(len(membership), -1, dtype=np.int64)
            local[nodes] = np.arange(len(nodes))
            sel = (local[src] >= 0) & (local[dst] >= 0)
            g = igraph_from_arrays(len(nodes), local[src[sel]], local[dst[sel]], directed=False)
            igraph.set_random_number_generator(random.Random(seed))
            part = np.asarray(
                g.community_leiden(
                    objective_function="modularity", weights=w[sel].tolist(), n_iterations=-1
                ).membership
            )
            out[nodes] = next_id + part
            next_id += int(part.max()) + 1
    finally:
        igraph.set_random_number_generator(random)
        random.setstate(old_rng)
    return out


def lockstep_groups(
    orders: pl.LazyFrame | pl.DataFrame,
    *,
    window: timedelta = timedelta(days=3),
    min_shared_windows: int = 2,
    max_bucket_buyers: int = 50,
    min_buyers: int = 3,
    max_group_buyers: int = 200,
    min_seller_share: float = 0.5,
    seed: int = 0,
    account_ids: pl.Series | None = None,
) -> pl.DataFrame:
    """Find groups of buyers who bought from the same sellers within the same short windows.

    Parameters
    ----------
    orders
        Orders with ``buyer_id``, ``seller_id``, ``created_at``; or, with
        ``account_ids``, integer codes ``buyer_vid``, ``seller_vid`` and
        ``created_at`` (e.g. :attr:`graphkit.graph.MarketGraph.orders`).
    window, min_shared_windows, max_bucket_buyers
        See :func:`lockstep_pairs`.
    min_buyers
        Smallest group reported (default 3: a pair can be two friends).
    max_group_buyers
        Components larger than this are split with Leiden (default 200: rings
        are tens of accounts; bigger components are chains of coincidences).
    min_seller_share
        A seller belongs to the group when at least this share of the group's
        buyers bought from it (default 0.5, CopyCatch's
        "most of the group hit most of the pages").
    seed
        Seed of the Leiden split (only used for components above the cap).
    account_ids
        The account id of every code (``account_ids[vid]``), codes numbered in
        account-id order (as a market graph's vertices): the orders are then
        already integer-coded and no string is hashed. Default ``None``: string ids.

    Returns
    -------
    pl.DataFrame
        :data:`LOCKSTEP_SCHEMA`, one row per (group, member); groups numbered
        0.. in order of their smallest buyer id; sorted by group, role, account.

    Examples
    --------
    >>> lockstep_groups(ds.orders, min_buyers=3)  # doctest: +SKIP
    >>> lockstep_groups(mg.orders, account_ids=mg.vertices["account_id"])  # doctest: +SKIP
    """
    coded, buyer_names, seller_names = _coded_input(orders, account_ids)
    n_b = max(buyer_names.len(), 1)
    pairs, _ = _pairs_coded(
        coded,
        n_b,
        window_us=int(window / timedelta(microseconds=1)),
        min_shared_windows=min_shared_windows,
        max_bucket_buyers=max_bucket_buyers,
    )
    if pairs.is_empty():
        return pl.DataFrame(schema=LOCKSTEP_SCHEMA)
    from graphkit.graph.build import igraph_from_arrays

    a = (pairs["pair"] // n_b).to_numpy()
    b = (pairs["pair"] % n_b).to_numpy()
    # codes are in id order, so sorted codes = sorted ids
    nodes = np.unique(np.concatenate([a, b]))
    src, dst = np.searchsorted(nodes, a), np.searchsorted(nodes, b)
    g = igraph_from_arrays(len(nodes), src, dst, directed=False)
    membership = np.asarray(g.connected_components().membership, dtype=np.int64)
    membership = _split_large(
        membership, src, dst, pairs["n_windows"].to_numpy(), max_group_buyers, seed
    )
    buyers = pl.DataFrame({"b": nodes, "comp": membership})
    sizes = buyers.group_by("comp").agg(
        pl.len().cast(pl.Int64).alias("group_n_buyers"), pl.col("b").min().alias("first")
    )
    sizes = sizes.filter(pl.col("group_n_buyers") >= min_buyers).sort("first")
    sizes = sizes.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("group"))
    buyers = buyers.join(sizes.select("comp", "group", "group_n_buyers"), on="comp", how="inner")
    if buyers.is_empty():
        return pl.DataFrame(schema=LOCKSTEP_SCHEMA)
    pair_stats = (
        pl.DataFrame({"a": a, "b": b, "n_windows": pairs["n_windows"]})
        .join(buyers.select(pl.col("b").alias("a"), "group"), on="a")
        .join(buyers.select("b", pl.col("group").alias("g2")), on="b")
        .filter(pl.col("group") == pl.col("g2"))
        .group_by("group")
        .agg(
            pl.len().cast(pl.Int64).alias("group_n_pairs"),
            pl.col("n_windows").max().alias("group_max_shared"),
        )
    )
    # the group members' orders only (an integer join on the small member table), then
    # distinct buyers per (group, seller)
    sellers = (
        coded.lazy()
        .select("b", "s")
        .join(buyers.lazy().select("b", "group", "group_n_buyers"), on="b", how="inner")
        .group_by("group", "s")
        .agg(pl.col("b").n_unique().alias("n"), pl.col("group_n_buyers").first())
        .filter(pl.col("n") >= pl.max_horizontal(2, pl.col("group_n_buyers") * min_seller_share))
        .select("group", "s")
        .collect()
    )
    n_sellers = sellers.group_by("group").agg(pl.len().cast(pl.Int64).alias("group_n_sellers"))
    members = pl.concat(
        [
            buyers.select(
                "group",
                buyer_names.gather(buyers["b"]).alias("account_id"),
                pl.lit("buyer").alias("role"),
            ),
            sellers.select(
                "group",
                seller_names.gather(sellers["s"]).alias("account_id"),
                pl.lit("seller").alias("role"),
            ),
        ]
    )
    out = (
        members.join(sizes.select("group", "group_n_buyers"), on="group")
        .join(n_sellers, on="group", how="left")
        .join(pair_stats, on="group", how="left")
        .with_columns(pl.col("group_n_sellers").fill_null(0))
    )
    return (
        out.select(list(LOCKSTEP_SCHEMA))
        .cast(LOCKSTEP_SCHEMA)  # type: ignore[arg-type]
        .sort("group", "role", "account_id")
    )
