"""Lockstep detection in the CopyCatch family (Beutel et al., WWW 2013), vectorised.

CopyCatch looks for groups of users who acted on the same set of pages within
the same short time windows. Here: groups of buyers who bought from the same
sellers in the same windows, repeatedly.

1. Each order falls in a (seller, window) bucket; two bucketings offset by half
   a window, so two orders a minute apart across a boundary still meet.
2. Buckets with more than ``max_bucket_buyers`` buyers are skipped (a sale day
   at a popular store would otherwise make every pair of its buyers co-occur,
   and the self-join would grow quadratically); the count skipped is returned.
3. A polars self-join on the buckets yields buyer pairs; a pair is *in
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
    lf = orders.lazy().select("buyer_id", "seller_id", "created_at")
    window_us = int(window / timedelta(microseconds=1))
    # dense integer codes, so that the self-join and the pair counts run on integers:
    # buyers numbered in id order (code order = id order, for ``buyer_a < buyer_b``)
    buyers = lf.select(pl.col("buyer_id").unique()).sort("buyer_id").with_row_index("b")
    sellers = lf.select(pl.col("seller_id").unique()).with_row_index("s")
    buyers_df, sellers_df = pl.collect_all([buyers, sellers])
    coded = (
        lf.join(buyers_df.lazy(), on="buyer_id")
        .join(sellers_df.lazy(), on="seller_id")
        .select(
            pl.col("b").cast(pl.Int64),  # Int64: the pair key b * n_buyers overflows 32 bits
            "s",
            pl.col("created_at").dt.epoch("us").alias("t"),
        )
    )
    coded_df = coded.collect()
    n_b = max(buyers_df.height, 1)
    per_offset = []
    n_busy = 0
    for offset in (0, window_us // 2):
        # each offset's usable buckets are materialised once: the self-join reads them twice
        keys = coded_df.lazy().select(
            "b", "s", ((pl.col("t") + offset) // window_us).alias("bucket")
        )
        keys = keys.unique()
        sizes = keys.group_by("s", "bucket").agg(pl.len().alias("n"))
        busy = sizes.filter(pl.col("n") > max_bucket_buyers).select(pl.len())
        ok = sizes.filter(pl.col("n").is_between(2, max_bucket_buyers)).select("s", "bucket")
        keys = keys.join(ok, on=["s", "bucket"], how="inner")
        # a buyer in fewer usable buckets than min_shared_windows pairs with no one here
        keys = keys.filter(pl.len().over("b") >= min_shared_windows)
        keys_df, busy_df = pl.collect_all([keys, busy])
        n_busy += int(busy_df.item())
        # one integer pair key a * n_buyers + b (order of the key = order of (a, b))
        per_offset.append(
            keys_df.lazy()
            .join(keys_df.lazy(), on=["s", "bucket"], suffix="_b")
            .filter(pl.col("b") < pl.col("b_b"))
            .select((pl.col("b") * n_b + pl.col("b_b")).alias("pair"), "s")
            .group_by("pair")
            .agg(
                pl.len().cast(pl.Int64).alias("n_windows"),
                pl.col("s").n_unique().cast(pl.Int64).alias("n_sellers"),
            )
        )
    coded_pairs = (
        pl.concat(per_offset)
        .group_by("pair")
        .agg(pl.col("n_windows").max(), pl.col("n_sellers").max())
        .filter(pl.col("n_windows") >= min_shared_windows)
        .sort("pair")
        .collect()
    )
    names = buyers_df["buyer_id"]
    out = coded_pairs.select(
        names.gather(coded_pairs["pair"] // n_b).alias("buyer_a"),
        names.gather(coded_pairs["pair"] % n_b).alias("buyer_b"),
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
) -> pl.DataFrame:
    """Find groups of buyers who bought from the same sellers within the same short windows.

    Parameters
    ----------
    orders
        Orders with ``buyer_id``, ``seller_id``, ``created_at``.
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

    Returns
    -------
    pl.DataFrame
        :data:`LOCKSTEP_SCHEMA`, one row per (group, member); groups numbered
        0.. in order of their smallest buyer id; sorted by group, role, account.

    Examples
    --------
    >>> lockstep_groups(ds.orders, min_buyers=3)  # doctest: +SKIP
    """
    pairs, _ = lockstep_pairs(
        orders,
        window=window,
        min_shared_windows=min_shared_windows,
        max_bucket_buyers=max_bucket_buyers,
    )
    if pairs.is_empty():
        return pl.DataFrame(schema=LOCKSTEP_SCHEMA)
    from graphkit.graph.build import igraph_from_arrays

    names = pl.concat([pairs["buyer_a"], pairs["buyer_b"]]).unique().sort()
    index = pl.DataFrame({"buyer_id": names, "i": np.arange(len(names), dtype=np.int64)})
    src = pairs.join(index, left_on="buyer_a", right_on="buyer_id", how="left")["i"].to_numpy()
    dst = pairs.join(index, left_on="buyer_b", right_on="buyer_id", how="left")["i"].to_numpy()
    g = igraph_from_arrays(len(names), src, dst, directed=False)
    membership = np.asarray(g.connected_components().membership, dtype=np.int64)
    membership = _split_large(
        membership, src, dst, pairs["n_windows"].to_numpy(), max_group_buyers, seed
    )
    buyers = pl.DataFrame({"account_id": names, "comp": membership})
    sizes = buyers.group_by("comp").agg(
        pl.len().cast(pl.Int64).alias("group_n_buyers"), pl.col("account_id").min().alias("first")
    )
    sizes = sizes.filter(pl.col("group_n_buyers") >= min_buyers).sort("first")
    sizes = sizes.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("group"))
    buyers = buyers.join(sizes.select("comp", "group", "group_n_buyers"), on="comp", how="inner")
    if buyers.is_empty():
        return pl.DataFrame(schema=LOCKSTEP_SCHEMA)
    pair_stats = (
        pairs.join(buyers.select(pl.col("account_id").alias("buyer_a"), "group"), on="buyer_a")
        .join(
            buyers.select(pl.col("account_id").alias("buyer_b"), pl.col("group").alias("g2")),
            on="buyer_b",
        )
        .filter(pl.col("group") == pl.col("g2"))
        .group_by("group")
        .agg(
            pl.len().cast(pl.Int64).alias("group_n_pairs"),
            pl.col("n_windows").max().alias("group_max_shared"),
        )
    )
    # the group members' orders only (a join on the small member table), then distinct
    # buyers per (group, seller): no distinct pass over every order's string pair
    sellers = (
        orders.lazy()
        .select("buyer_id", "seller_id")
        .join(
            buyers.lazy().select(pl.col("account_id").alias("buyer_id"), "group", "group_n_buyers"),
            on="buyer_id",
            how="inner",
        )
        .group_by("group", "seller_id")
        .agg(pl.col("buyer_id").n_unique().alias("n"), pl.col("group_n_buyers").first())
        .filter(pl.col("n") >= pl.max_horizontal(2, pl.col("group_n_buyers") * min_seller_share))
        .select("group", pl.col("seller_id").alias("account_id"))
        .collect()
    )
    n_sellers = sellers.group_by("group").agg(pl.len().cast(pl.Int64).alias("group_n_sellers"))
    members = pl.concat(
        [
            buyers.select("group", "account_id", pl.lit("buyer").alias("role")),
            sellers.with_columns(pl.lit("seller").alias("role")),
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
        .cast(LOCKSTEP_SCHEMA)
        .sort(  # type: ignore[arg-type]
            "group", "role", "account_id"
        )
    )
