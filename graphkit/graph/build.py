"""Build the graphs of a marketplace: the buyer–seller graph and the identity graph.

Both are built in polars (aggregations and joins, no Python loop over rows)
and handed to igraph as integer arrays, with account ids mapped once to dense
vertex ids.

* :func:`build_market_graph`: the bipartite buyer -> seller graph, one edge
  per (buyer, seller) pair with the pair's orders, money, ratings, DSRs,
  refunds and cases aggregated on it.
* :func:`build_identity_graph`: accounts linked through shared identifiers
  (device, ip, address, payment, phone, email). A value shared by more than
  ``max_accounts_per_value`` accounts (a carrier NAT address, a warehouse) is a
  *hub*: it links nobody and is reported in ``.hubs``. Below the cap, a value
  shared by ``n`` accounts contributes ``kind_weight / log2(n)`` to the link
  weight of each pair, so a payment card shared by 2 accounts (1.0) weighs far
  more than an IP shared by 40 (0.3 / 5.3 = 0.06).

Examples
--------
>>> from graphkit.graph.build import build_market_graph
>>> mg = build_market_graph(ds)  # doctest: +SKIP
>>> mg.graph.vcount(), mg.edges.height  # doctest: +SKIP
(5, 4)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from graphkit.contract import DSR_COLUMNS, TIME

if TYPE_CHECKING:
    import igraph

    from graphkit.dataset import Dataset

__all__ = [
    "DEFAULT_KIND_WEIGHTS",
    "EDGE_SCHEMA",
    "LINKS_SCHEMA",
    "VERTEX_SCHEMA",
    "IdentityGraph",
    "MarketGraph",
    "build_identity_graph",
    "build_market_graph",
    "igraph_from_arrays",
    "market_graph_from_frames",
]

#: Vertices of the buyer–seller graph: ``vid`` is the igraph vertex id.
VERTEX_SCHEMA: dict[str, pl.DataType] = {
    "vid": pl.Int64(),
    "account_id": pl.String(),
    "kind": pl.String(),
    "created_at": TIME,
}

_DSR_SUMS = [f"{c}_sum" for c in DSR_COLUMNS]
_DSR_COUNTS = [f"{c}_n" for c in DSR_COLUMNS]

#: One row per (buyer, seller) pair; row ``i`` is igraph edge ``i``.
EDGE_SCHEMA: dict[str, pl.DataType] = {
    "buyer_vid": pl.Int64(),
    "seller_vid": pl.Int64(),
    "buyer_id": pl.String(),
    "seller_id": pl.String(),
    "n_orders": pl.Int64(),
    "n_paid": pl.Int64(),
    "n_cancelled": pl.Int64(),
    "amount": pl.Float64(),
    "first_at": TIME,
    "last_at": TIME,
    "n_feedback": pl.Int64(),
    "rating_sum": pl.Int64(),
    "n_top_ratings": pl.Int64(),
    "n_positive_ratings": pl.Int64(),
    "n_low_ratings": pl.Int64(),
    **{c: pl.Int64() for pair in zip(_DSR_SUMS, _DSR_COUNTS, strict=True) for c in pair},
    "n_seller_feedback": pl.Int64(),
    "n_refunds": pl.Int64(),
    "refund_amount": pl.Float64(),
    "n_cases": pl.Int64(),
}

#: Identity links: one row per linked pair of accounts, ``account_a < account_b``.
LINKS_SCHEMA: dict[str, pl.DataType] = {
    "account_a": pl.String(),
    "account_b": pl.String(),
    "kinds": pl.List(pl.String),
    "n_shared": pl.Int64(),
    "weight": pl.Float64(),
}

#: How much one shared value of each identifier kind says that two accounts are one
#: person or household (before the ``1/log2(n)`` sharing discount). Payment cards,
#: emails and phones are personal; devices nearly so; addresses are shared by households
#: and ips by whole NATs.
DEFAULT_KIND_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "payment": 1.0,
        "email": 1.0,
        "phone": 0.9,
        "device": 0.8,
        "address": 0.5,
        "ip": 0.3,
    }
)


def igraph_from_arrays(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    *,
    directed: bool = True,
) -> igraph.Graph:
    """Build an igraph graph with ``n`` vertices from endpoint arrays.

    Parameters
    ----------
    n
        Number of vertices (ids ``0..n-1``).
    src, dst
        Integer arrays of equal length; edge ``i`` joins ``src[i]`` and ``dst[i]``.
    directed
        Whether the graph is directed.

    Returns
    -------
    igraph.Graph
        Edge ``i`` of the graph is ``(src[i], dst[i])``.

    Examples
    --------
    >>> import numpy as np
    >>> g = igraph_from_arrays(3, np.array([0, 1]), np.array([1, 2]))
    >>> g.get_edgelist()
    [(0, 1), (1, 2)]
    """
    import igraph

    g = igraph.Graph(n=int(n), directed=directed)
    if len(src):
        g.add_edges(np.column_stack([np.asarray(src), np.asarray(dst)]).astype(np.int64))
    return g


@dataclass(frozen=True)
class MarketGraph:
    """The bipartite buyer -> seller graph of a marketplace.

    Parameters
    ----------
    vertices
        ``vid`` (dense 0..n-1, in ``account_id`` order), ``account_id``, ``kind``
        (``buyer``/``seller``) and ``created_at`` (null without an accounts table).
    edges
        One row per (buyer, seller) pair, sorted by ``(buyer_vid, seller_vid)``;
        row ``i`` is edge ``i`` of :attr:`graph`. Columns: see :data:`EDGE_SCHEMA`.
    orders
        Optional integer-coded orders: ``buyer_vid``, ``seller_vid`` (Int32),
        ``created_at``, ``amount`` and ``coupon`` (a coupon was redeemed), one row
        per order, sorted by ``(buyer_vid, seller_vid)`` and within a pair in
        order-table order, so edge ``i``'s orders are the ``n_orders`` rows after
        those of edges ``0..i-1`` (set by :func:`build_market_graph`, so that
        per-order detectors such as lockstep, and the pair statistics of the
        shill check, need not re-read and re-hash the id strings); ``None`` when
        the graph was assembled from frames.
    buyer_feedback
        Optional: the feedback written by its order's buyer, as row positions in the
        tables read: ``_row`` (in ``feedback``, ascending) and ``_order_row`` (its order
        in ``orders``), both UInt32 (set by :func:`build_market_graph`: the rating
        signals' join of feedback to orders, without matching the id strings again).

    Notes
    -----
    :attr:`graph` is built on first use (igraph construction is the slowest step
    at 10M edges, and the array-based detectors never need it).
    """

    vertices: pl.DataFrame
    edges: pl.DataFrame
    orders: pl.DataFrame | None = None
    buyer_feedback: pl.DataFrame | None = None

    @cached_property
    def graph(self) -> igraph.Graph:
        """The igraph graph: directed buyer -> seller, vertex attrs ``name``, ``kind``, ``type``.

        ``type`` is ``True`` for sellers (igraph's bipartite convention); edge
        attributes ``n_orders`` and ``amount`` are set.
        """
        g = igraph_from_arrays(
            self.vertices.height,
            self.edges["buyer_vid"].to_numpy(),
            self.edges["seller_vid"].to_numpy(),
        )
        g.vs["name"] = self.vertices["account_id"].to_list()
        g.vs["kind"] = self.vertices["kind"].to_list()
        g.vs["type"] = (self.vertices["kind"] == "seller").to_list()
        g.es["n_orders"] = self.edges["n_orders"].to_list()
        g.es["amount"] = self.edges["amount"].to_list()
        return g

    @property
    def n_buyers(self) -> int:
        """Number of buyer vertices."""
        return int((self.vertices["kind"] == "buyer").sum())

    @property
    def n_sellers(self) -> int:
        """Number of seller vertices."""
        return int((self.vertices["kind"] == "seller").sum())

    @cached_property
    def _id_index(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Vertex id hashes, sorted, and the row of each; None on a 64-bit hash collision."""
        h = self.vertices["account_id"].hash(seed=0)
        # polars' (multi-threaded) sort; ties are a collision, for which None is returned
        order = h.arg_sort().to_numpy().astype(np.intp)
        hs = h.to_numpy()[order]
        if len(hs) > 1 and bool((hs[1:] == hs[:-1]).any()):
            return None
        return hs, order

    def vid_of(self, account_ids: pl.Series) -> pl.Series:
        """Vertex id of each account id, in the given order; null when not a vertex.

        The result of a left join on the vertex table, without building a hash table of
        every account id per call: the ids' 64-bit hashes are binary-searched in the
        vertices' sorted hashes (built once per graph) and each hit is confirmed by
        comparing the strings, so it is exact (a hash collision between two vertex ids
        falls back to the join).

        Examples
        --------
        >>> mg.vid_of(pl.Series(["s2", "nobody"])).to_list()  # doctest: +SKIP
        [4, None]
        """
        ids = account_ids.cast(pl.String)
        index = self._id_index
        if index is None or not len(index[0]) or not len(ids):
            return (
                ids.alias("account_id")
                .to_frame()
                .join(
                    self.vertices.select("account_id", "vid"),
                    on="account_id",
                    how="left",
                    maintain_order="left",
                )["vid"]
                .cast(pl.Int64)
            )
        hs, rows = index
        q = ids.hash(seed=0).to_numpy()
        # searched in sorted order (numpy's binary search is several times faster on sorted
        # queries; graphkit.detect.sorted_runs.search_sorted, not imported: graph comes first)
        order = np.argsort(q, kind="stable")
        pos = np.empty(len(q), dtype=np.intp)
        pos[order] = np.searchsorted(hs, q[order])
        pos = pos.clip(max=len(hs) - 1)
        row = rows[pos]
        same = (self.vertices["account_id"].gather(row) == ids).fill_null(False).to_numpy()
        found = (hs[pos] == q) & same
        vid = self.vertices["vid"].gather(row).cast(pl.Int64).alias("vid")
        return vid.scatter(np.flatnonzero(~found), None)

    def vids(self, account_ids: list[str] | pl.Series) -> np.ndarray:
        """Vertex ids of ``account_ids`` (in the given order); unknown ids raise ``KeyError``."""
        ids = pl.DataFrame({"account_id": pl.Series(account_ids, dtype=pl.String)})
        out = ids.join(self.vertices.select("account_id", "vid"), on="account_id", how="left")
        missing = out.filter(pl.col("vid").is_null())["account_id"]
        if missing.len():
            raise KeyError(f"accounts not in the graph: {', '.join(missing.head(5).to_list())}")
        return out["vid"].to_numpy()


def _vertices(ds: Dataset, orders: pl.LazyFrame) -> pl.LazyFrame:
    # distinct ids per role first: the role flag is then a group-by over ~2x the
    # accounts, not over two rows per order
    roles = pl.concat(
        [
            orders.select(
                pl.col("buyer_id").unique().alias("account_id"), pl.lit(False).alias("sells")
            ),
            orders.select(
                pl.col("seller_id").unique().alias("account_id"), pl.lit(True).alias("sells")
            ),
        ]
    )
    inferred = roles.group_by("account_id").agg(pl.col("sells").any())
    accounts = ds.get("accounts")
    if accounts is None:
        return inferred.select(
            "account_id",
            pl.when(pl.col("sells"))
            .then(pl.lit("seller"))
            .otherwise(pl.lit("buyer"))
            .alias("kind"),
            pl.lit(None, dtype=TIME).alias("created_at"),
        )
    acc = accounts.select("account_id", "kind", pl.col("created_at").cast(TIME))
    return acc.join(inferred, on="account_id", how="full", coalesce=True).select(
        "account_id",
        pl.coalesce(
            "kind",
            pl.when(pl.col("sells")).then(pl.lit("seller")).otherwise(pl.lit("buyer")),
        ).alias("kind"),
        "created_at",
    )


def _unique_hashes(hashes: pl.Series) -> bool:
    """Whether the 64-bit hashes of the distinct ids are distinct (no collision)."""
    # n_unique, not is_duplicated: 0.35 vs ~2.4 CPU s on 10M hashes
    return hashes.n_unique() == hashes.len()


def _repeated(values: pl.Series) -> pl.Series:
    """Return the distinct values that occur more than once in ``values`` (sorted)."""
    s = values.sort()
    return s.filter(s == s.shift(1)).unique(maintain_order=True)


def _lookup(keys: pl.Series, table: pl.DataFrame) -> np.ndarray | None:
    """Look up ``table``'s ``vid`` (unique ``key``) for each key; None if one is missing.

    An unordered join (order-keeping joins cost 2-3x more at 10M rows) scattered back
    into key order by row number.
    """
    j = (
        keys.alias("key")
        .to_frame()
        .with_row_index("__row")
        .join(table, on="key", how="inner")
        .select("__row", "vid")
    )
    if j.height != keys.len():
        return None
    out = np.empty(keys.len(), dtype=np.int64)
    out[j["__row"].to_numpy()] = j["vid"].to_numpy()
    return out


def _code_accounts(ds: Dataset, o: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """Return the vertex table and each order's buyer and seller vertex id.

    With an ``accounts`` table whose ids have distinct hashes and that holds every
    order's accounts (as validation guarantees), the vertices are that table and the
    orders' id hashes are looked up in it. Otherwise the vertices are built from the
    orders' id strings (roles inferred) and joined on the hashes when distinct, else on
    the strings.
    """
    accounts = ds.get("accounts")
    if accounts is not None:
        vertices = (
            accounts.select("account_id", "kind", pl.col("created_at").cast(TIME))
            .sort("account_id")
            .with_row_index("vid")
            .with_columns(pl.col("vid").cast(pl.Int64))
            .collect()
        )
        h = vertices["account_id"].hash()
        if vertices["kind"].null_count() == 0 and _unique_hashes(h):
            table = pl.DataFrame({"key": h, "vid": vertices["vid"]})
            bv = _lookup(o["__bh"], table)
            sv = None
            if bv is not None:
                # the orders' sellers first among the stores: a table a hundredth the size,
                # probed from cache (10M orders: 0.6-0.8 -> 0.2 CPU s); every account when a
                # seller id is not a store's
                sv = _lookup(o["__sh"], table.filter(vertices["kind"] == "seller"))
                if sv is None:
                    sv = _lookup(o["__sh"], table)
            if bv is not None and sv is not None:
                return vertices, bv, sv
    ids = ds.orders.select("buyer_id", "seller_id").collect()
    vertices = (
        _vertices(ds, ids.lazy())
        .sort("account_id")
        .with_row_index("vid")
        .with_columns(pl.col("vid").cast(pl.Int64))
        .collect()
    )
    h = vertices["account_id"].hash()
    if _unique_hashes(h):  # each order's id is a vertex: its hash names that vertex only
        table = pl.DataFrame({"key": h, "vid": vertices["vid"]})
        bkeys, skeys = o["__bh"], o["__sh"]
    else:  # a 64-bit collision: join the strings
        table = vertices.select(pl.col("account_id").alias("key"), "vid")
        bkeys, skeys = ids["buyer_id"], ids["seller_id"]
    bv, sv = _lookup(bkeys, table), _lookup(skeys, table)
    assert bv is not None
    assert sv is not None
    return vertices, bv, sv


def _edge_sums(
    edge: np.ndarray, m: int, values: dict[str, pl.Series], *, integer: bool
) -> dict[str, pl.Series]:
    """Sum each value column per edge; ``edge[i]`` is the edge index of row ``i``.

    ``np.bincount`` adds each edge's rows in the order given (the same bits every
    run); integer columns are exact (float64 holds integers up to 2**53).
    """
    out = {}
    for name, col in values.items():
        sums = np.bincount(edge, weights=col.fill_null(0).to_numpy(), minlength=m)
        out[name] = pl.Series(name, sums.astype(np.int64) if integer else sums)
    return out


def _edge_counts(
    edge: np.ndarray,
    m: int,
    frame: pl.DataFrame,
    terms: Mapping[str, pl.Expr] | None = None,
    bounds: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, pl.Series]:
    """Sum small non-negative integer terms per edge, several terms per ``np.bincount``.

    ``terms`` are integer expressions over ``frame`` (default: each column of ``frame``);
    ``edge[i]`` is the edge of row ``i``. A term whose largest value is ``c`` sums to at
    most ``c * r`` on an edge (``r``: the most rows on one edge), so it fits in
    ``(c * r).bit_length()`` bits; terms are packed side by side into weights of at most
    52 bits and one bincount sums them all, exactly (float64 holds integers below 2**53
    and a field cannot carry into the next). Nulls count 0; a term with a negative value
    gets a bincount of its own. The bounds and the packed weights are each one polars
    pass over ``frame`` (the terms are never materialised one column each). ``bounds``
    may give, per term, a ``(low, high)`` known to contain its values (nulls as 0): those
    terms are not measured (looser bounds only widen the fields; the sums are the same).

    Examples
    --------
    >>> t = pl.DataFrame({"a": [1, 1, 0], "b": [5, None, 4]})
    >>> {k: v.to_list() for k, v in _edge_counts(np.array([0, 1, 0]), 2, t).items()}
    {'a': [1, 1], 'b': [9, 0]}
    """
    if terms is None:
        terms = {c: pl.col(c) for c in frame.columns}
    vals = {name: e.fill_null(0).cast(pl.Int64) for name, e in terms.items()}
    r = int(np.bincount(edge, minlength=1).max()) if len(edge) else 0
    known = dict(bounds or {})
    measure = [name for name in vals if name not in known]
    if measure:
        row = frame.select(
            *[vals[name].min().alias(f"lo{i}") for i, name in enumerate(measure)],
            *[vals[name].max().alias(f"hi{i}") for i, name in enumerate(measure)],
        ).row(0)
        known |= {name: (row[i], row[len(measure) + i]) for i, name in enumerate(measure)}
    batches: list[list[tuple[str, int]]] = []
    used = 0
    for name in vals:
        lo, hi = known[name][0] or 0, known[name][1] or 0
        width = max(1, (hi * r).bit_length()) if lo >= 0 else 53
        if not batches or used + width > 52:
            batches.append([])
            used = 0
        batches[-1].append((name, width))
        used += width
    words = []
    for batch in batches:
        shift, word = 0, None
        for name, width in batch:
            term = vals[name] * (1 << shift) if shift else vals[name]
            word = term if word is None else word + term
            shift += width
        words.append(word)
    packed = frame.select(*[w.alias(f"w{j}") for j, w in enumerate(words)])
    out: dict[str, pl.Series] = {}
    for j, batch in enumerate(batches):
        word = np.bincount(edge, weights=packed[f"w{j}"].to_numpy(), minlength=m).astype(np.int64)
        if len(batch) == 1:  # nothing packed (or a negative term)
            out[batch[0][0]] = pl.Series(batch[0][0], word)
            continue
        # the fields of a packed (non-negative) word: a shift and a mask each, in numpy (the
        # same as // and % by powers of two, which cost polars an int64 division per value)
        shift = 0
        for name, width in batch:
            field = np.right_shift(word, shift) if shift else word.copy()
            np.bitwise_and(field, (1 << width) - 1, out=field)
            out[name] = pl.Series(name, field)
            shift += width
    return {name: out[name] for name in vals}


def _pair_feedback(
    ds: Dataset, keyed: pl.LazyFrame, key: str, m: int
) -> tuple[dict[str, pl.Series], pl.DataFrame]:
    """Per-edge feedback sums, and the rows of the feedback its order's buyer wrote.

    ``keyed``: one row per order: its key, its row, its edge and its buyer's and seller's
    id hashes. The second result is :attr:`MarketGraph.buyer_feedback`.
    """
    fb = (
        ds.feedback.select(
            pl.col("order_id").hash().alias("__oh") if key == "__oh" else pl.col("order_id"),
            pl.col("author_id").hash().alias("__ah"),
            "rating",
            *DSR_COLUMNS,
        )
        .with_row_index("__frow")
        .join(keyed, on=key, how="inner")
    )
    # author hash against the order's two parties (distinct hashes: checked by the caller)
    by_buyer = pl.col("__ah") == pl.col("__bh")
    rating = pl.col("rating").cast(pl.Int64)
    # the joined rows, narrow (who wrote it, the small integer ratings); the per-row terms
    # (null where the buyer did not write it) are packed and summed per edge from them
    rows = fb.select(
        "__edge",
        by_buyer.alias("__by_buyer"),
        (pl.col("__ah") == pl.col("__sh")).alias("__by_seller"),
        "rating",
        *DSR_COLUMNS,
        "__frow",
        "__row",
    ).collect()
    buyer_feedback = (
        rows.lazy()
        .filter("__by_buyer")
        .select(_row="__frow", _order_row="__row")
        .sort("_row")
        .collect()
    )
    rows = rows.drop("__frow", "__row")
    by_buyer = pl.col("__by_buyer")
    rating = pl.col("rating").cast(pl.Int64)
    terms = {
        "n_feedback": by_buyer.cast(pl.Int64),
        "rating_sum": pl.when(by_buyer).then(rating),
        "n_top_ratings": (by_buyer & (rating == 5)).cast(pl.Int64),
        "n_positive_ratings": (by_buyer & (rating >= 4)).cast(pl.Int64),
        "n_low_ratings": (by_buyer & (rating <= 2)).cast(pl.Int64),
        **{
            name: e
            for c in DSR_COLUMNS
            for name, e in (
                (f"{c}_sum", pl.when(by_buyer).then(pl.col(c).cast(pl.Int64))),
                (f"{c}_n", (by_buyer & pl.col(c).is_not_null()).cast(pl.Int64)),
            )
        },
        "n_seller_feedback": pl.col("__by_seller").cast(pl.Int64),
    }
    # the terms' bounds from the few raw columns (a flag is 0 or 1; a score where the buyer
    # wrote it, else 0, lies between 0 and the column's extremes): not 32 aggregations of
    # the terms themselves
    scores = ("rating", *DSR_COLUMNS)
    raw = rows.select(
        *[pl.col(c).min().cast(pl.Int64).alias(f"lo_{c}") for c in scores],
        *[pl.col(c).max().cast(pl.Int64).alias(f"hi_{c}") for c in scores],
    ).row(0, named=True)
    span = {c: (min(0, raw[f"lo_{c}"] or 0), max(0, raw[f"hi_{c}"] or 0)) for c in scores}
    flag = (0, 1)
    bounds = {name: flag for name in terms} | {
        "rating_sum": span["rating"],
        **{f"{c}_sum": span[c] for c in DSR_COLUMNS},
    }
    return _edge_counts(rows["__edge"].to_numpy(), m, rows, terms, bounds), buyer_feedback


def _pair_refunds_cases(ds: Dataset, keyed: pl.LazyFrame, key: str, m: int) -> dict[str, pl.Series]:
    out: dict[str, pl.Series] = {}
    keyed = keyed.select(key, "__edge")
    okey = pl.col("order_id").hash().alias("__oh") if key == "__oh" else pl.col("order_id")
    refunds = ds.get("refunds")
    if refunds is not None:
        # in refund-table order: each edge adds its refund amounts in that order
        r = (
            refunds.select(okey, "amount")
            .with_row_index("__row")
            .join(keyed, on=key, how="inner")
            .sort("__row")
            .collect()
        )
        edge = r["__edge"].to_numpy()
        ones = pl.Series(np.ones(r.height))
        out |= _edge_sums(edge, m, {"n_refunds": ones}, integer=True)
        out |= _edge_sums(edge, m, {"refund_amount": r["amount"]}, integer=False)
    disputes = ds.get("disputes")
    if disputes is not None:
        d = disputes.select(okey).join(keyed, on=key, how="inner").select("__edge").collect()
        ones = pl.Series(np.ones(d.height))
        out |= _edge_sums(d["__edge"].to_numpy(), m, {"n_cases": ones}, integer=True)
    return out


def build_market_graph(ds: Dataset) -> MarketGraph:
    """Build the buyer -> seller graph of a dataset.

    Vertices are every account of the ``accounts`` table plus every account
    found in ``orders`` (sorted by ``account_id``, so ids are stable). Without an
    ``accounts`` table an account's ``kind`` is inferred from its orders (seller
    if it ever sold). Edges aggregate every order of a (buyer, seller) pair with
    the buyer's feedback on it (rating sum, top = 5, positive >= 4 and low <= 2 counts, DSR sums
    and counts), the seller's feedback count, refunds and cases (zero when the
    optional table is absent).

    The id strings are read once and hashed (64-bit); every lookup joins
    integers. With an ``accounts`` table the vertices are that table and the
    orders' account hashes are looked up in it; otherwise (or when an order's
    account is missing from it) the vertices are the orders' distinct ids. Hash
    lookups are exact because they are used only when the distinct ids' hashes
    are distinct (checked; the strings are joined otherwise) and every looked-up
    id is in the table (validation guarantees it for ``order_id``). Every order
    then carries one integer pair key ``buyer_vid * n_vertices + seller_vid`` and
    its edge index; feedback, refunds and cases are per-row terms added onto
    their edge.

    Parameters
    ----------
    ds
        A validated dataset.

    Returns
    -------
    MarketGraph
        Vertices, edges and the (lazily built) igraph graph.

    Examples
    --------
    >>> mg = build_market_graph(ds)  # doctest: +SKIP
    >>> mg.edges.select("buyer_id", "seller_id", "n_orders").row(0)  # doctest: +SKIP
    ('b1', 's1', 1)
    """
    orders = ds.orders
    names = orders.collect_schema().names()
    has_cancelled = "cancelled_at" in names
    # the id strings are read once and hashed; the numbers ride along
    o = orders.select(
        pl.col("order_id").hash().alias("__oh"),
        pl.col("buyer_id").hash().alias("__bh"),
        pl.col("seller_id").hash().alias("__sh"),
        "amount",
        "created_at",
        pl.col("paid_at").is_not_null().alias("__paid"),
        (pl.col("cancelled_at").is_not_null() if has_cancelled else pl.lit(False)).alias(
            "__cancelled"
        ),
        (pl.col("coupon_id").is_not_null() if "coupon_id" in names else pl.lit(False)).alias(
            "__coupon"
        ),
    ).collect()
    vertices, buyer_vid, seller_vid = _code_accounts(ds, o)
    n = max(vertices.height, 1)
    # order ids -> orders on their hashes when those are distinct (else on the strings)
    if _unique_hashes(o["__oh"]):
        okey, order_key = "__oh", o["__oh"]
    else:
        okey, order_key = "order_id", orders.select("order_id").collect().to_series()
    coded = (
        o.with_columns(order_key.alias(okey))
        .with_columns(pl.Series("pair", buyer_vid * n + seller_vid))
        .with_row_index("__row")
    )
    del o, buyer_vid, seller_vid
    # the numbers only, stably sorted on the pair key: each pair's orders are one
    # contiguous slice in order-table order, so its float sums are the same bits every
    # run (a hash group-by adds them in a thread-dependent order)
    nums = (
        coded.lazy()
        .select("pair", "__row", "amount", "created_at", "__paid", "__cancelled", "__coupon")
        .sort("pair", maintain_order=True)
        .collect()
    )
    # nums is sorted on the pair key, so the edges come out in (buyer_vid, seller_vid) order
    pairs = (
        nums.lazy()
        .group_by("pair", maintain_order=True)
        .agg(
            pl.len().cast(pl.Int64).alias("n_orders"),
            pl.col("__paid").sum().cast(pl.Int64).alias("n_paid"),
            pl.col("__cancelled").sum().cast(pl.Int64).alias("n_cancelled"),
            pl.col("amount").sum().alias("amount"),
            pl.col("created_at").min().alias("first_at"),
            pl.col("created_at").max().alias("last_at"),
        )
        .collect()
    )
    m = pairs.height
    # each order's edge index: the rank of its pair among the sorted distinct pairs
    sorted_pair = nums["pair"].to_numpy()
    edge_sorted = np.zeros(len(sorted_pair), dtype=np.int64)
    if len(sorted_pair) > 1:
        np.cumsum(sorted_pair[1:] != sorted_pair[:-1], out=edge_sorted[1:])
    edge = np.empty_like(edge_sorted)
    edge[nums["__row"].to_numpy()] = edge_sorted
    del edge_sorted, sorted_pair
    keyed = coded.lazy().select(okey, "__row", "__bh", "__sh").with_columns(__edge=pl.Series(edge))
    # feedback, refunds and cases: per-row terms added onto their edge (no group-by, no
    # joins of the edge table, no sort)
    extras, buyer_feedback = _pair_feedback(ds, keyed, okey, m)
    extras |= _pair_refunds_cases(ds, keyed, okey, m)
    del coded, keyed, edge
    ids = vertices["account_id"]
    vid_type = pl.Int32 if n < 2**31 else pl.Int64
    edges = pairs.with_columns(
        (pl.col("pair") // n).alias("buyer_vid"),
        (pl.col("pair") % n).alias("seller_vid"),
        *extras.values(),
    ).drop("pair")
    coded_orders = nums.select(
        (pl.col("pair") // n).cast(vid_type).alias("buyer_vid"),
        (pl.col("pair") % n).cast(vid_type).alias("seller_vid"),
        "created_at",
        "amount",
        pl.col("__coupon").alias("coupon"),
    )
    del nums
    edges = edges.with_columns(
        ids.gather(edges["buyer_vid"]).alias("buyer_id"),
        ids.gather(edges["seller_vid"]).alias("seller_id"),
    )
    # both frames are already in sort order: conformed (absent tables' columns filled with
    # 0), not re-sorted
    return MarketGraph(
        vertices=_conform(vertices, VERTEX_SCHEMA),
        edges=_conform(edges, EDGE_SCHEMA),
        orders=coded_orders,
        buyer_feedback=buyer_feedback,
    )


def market_graph_from_frames(vertices: pl.DataFrame, edges: pl.DataFrame) -> MarketGraph:
    """Assemble a :class:`MarketGraph` from vertex and edge frames, filling absent columns.

    Missing count columns become 0, missing amounts 0.0, missing times null;
    columns are cast to :data:`VERTEX_SCHEMA` / :data:`EDGE_SCHEMA` and put in
    their order (extra columns are kept at the end). Edges are sorted by
    ``(buyer_vid, seller_vid)``.

    Examples
    --------
    >>> import polars as pl
    >>> v = pl.DataFrame({"vid": [0, 1], "account_id": ["b", "s"], "kind": ["buyer", "seller"]})
    >>> e = pl.DataFrame({"buyer_vid": [0], "seller_vid": [1], "buyer_id": ["b"],
    ...                   "seller_id": ["s"], "n_orders": [2]})
    >>> market_graph_from_frames(v, e).edges["n_feedback"].to_list()
    [0]
    """
    vertices = _conform(vertices, VERTEX_SCHEMA).sort("vid")
    edges = _conform(edges, EDGE_SCHEMA).sort("buyer_vid", "seller_vid")
    return MarketGraph(vertices=vertices, edges=edges)


def _conform(df: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    cols = []
    for name, dtype in schema.items():
        if name in df.columns:
            col = pl.col(name).cast(dtype)
            if dtype.is_numeric():
                col = col.fill_null(0)
            cols.append(col)
        elif dtype.is_numeric():
            cols.append(pl.lit(0, dtype=dtype).alias(name))
        else:
            cols.append(pl.lit(None, dtype=dtype).alias(name))
    extra = [c for c in df.columns if c not in schema]
    return df.select(*cols, *extra)


@dataclass(frozen=True)
class IdentityGraph:
    """Accounts linked through shared identifiers.

    Parameters
    ----------
    links
        ``account_a < account_b``, ``kinds`` (sorted identifier kinds they share),
        ``n_shared`` (shared values), ``weight`` (sum over shared values of
        ``kind_weight / log2(n_accounts sharing the value)``); sorted by the pair.
    hubs
        The values skipped as hubs: ``kind``, ``value``, ``n_accounts``, sorted by
        ``n_accounts`` descending.
    max_accounts_per_value
        The hub cap used.
    kind_weights
        The per-kind weights used.
    """

    links: pl.DataFrame
    hubs: pl.DataFrame
    max_accounts_per_value: int = 20
    kind_weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_KIND_WEIGHTS)

    def between(
        self, pairs: pl.DataFrame, a: str = "account_a", b: str = "account_b"
    ) -> pl.DataFrame:
        """Look up the links of account pairs given in either order.

        Parameters
        ----------
        pairs
            A frame with account-id columns ``a`` and ``b``.
        a, b
            Their names.

        Returns
        -------
        pl.DataFrame
            ``pairs`` with ``kinds``, ``n_shared`` and ``weight`` added (null when
            not linked).

        Examples
        --------
        >>> idg.between(pl.DataFrame({"account_a": ["b2"], "account_b": ["b1"]}))  # doctest: +SKIP
        """
        lo = pl.min_horizontal(pl.col(a), pl.col(b)).alias("__a")
        hi = pl.max_horizontal(pl.col(a), pl.col(b)).alias("__b")
        keyed = pairs.with_columns(lo, hi)
        links = self.links.rename({"account_a": "__a", "account_b": "__b"})
        return keyed.join(links, on=["__a", "__b"], how="left").drop("__a", "__b")


def build_identity_graph(
    ds: Dataset,
    *,
    max_accounts_per_value: int = 20,
    kind_weights: Mapping[str, float] | None = None,
) -> IdentityGraph:
    """Link accounts that share identifier values, capping hubs.

    Parameters
    ----------
    ds
        A validated dataset; without an ``identifiers`` table the graph is empty.
    max_accounts_per_value
        A value shared by more accounts than this is a hub (a carrier NAT, an
        office, a parcel locker): it links nobody and is listed in ``.hubs``.
        Default 20: larger than any household or small office, far below a NAT.
    kind_weights
        Weight of one shared value per identifier kind before the ``1/log2(n)``
        sharing discount; default :data:`DEFAULT_KIND_WEIGHTS`. Kinds not listed
        weigh 0.5.

    Returns
    -------
    IdentityGraph

    Examples
    --------
    >>> idg = build_identity_graph(ds)  # doctest: +SKIP
    >>> idg.links.row(0)  # doctest: +SKIP
    ('b1', 'b2', ['device'], 1, 0.8)
    """
    weights = dict(DEFAULT_KIND_WEIGHTS if kind_weights is None else kind_weights)
    ident = ds.get("identifiers")
    if ident is None:
        return IdentityGraph(
            links=pl.DataFrame(schema=LINKS_SCHEMA),
            hubs=pl.DataFrame(
                schema={"kind": pl.String, "value": pl.String, "n_accounts": pl.Int64}
            ),
            max_accounts_per_value=max_accounts_per_value,
            kind_weights=MappingProxyType(weights),
        )
    ids = ident.select("account_id", "kind", "value")
    if max_accounts_per_value >= 1:
        # most values sit on one row: they link nobody and are no hub. A 64-bit hash
        # screen drops them before the exact string grouping below (equal values have
        # equal hashes, so no shared value is lost; 10M orders: 31 -> 7 CPU s)
        # (the hashes sitting on more than one row: found on the sorted hashes, which
        # costs a quarter of a hash-based is_duplicated over 18.9M rows)
        ids = ids.with_columns(pl.col("value").hash().alias("__h")).collect()
        ids = ids.lazy().filter(pl.col("__h").is_in(_repeated(ids["__h"]).implode())).drop("__h")
    # materialised once: the counts, the hubs and the member join all read it
    ids = ids.unique().collect().lazy()
    counts = ids.group_by("kind", "value").agg(pl.len().cast(pl.Int64).alias("n_accounts"))
    hubs = counts.filter(pl.col("n_accounts") > max_accounts_per_value).sort(
        ["n_accounts", "kind", "value"], descending=[True, False, False]
    )
    kw = pl.DataFrame(
        {"kind": list(weights), "kind_weight": [float(v) for v in weights.values()]}
    ).lazy()
    shared = (
        counts.filter(pl.col("n_accounts").is_between(2, max_accounts_per_value))
        .join(kw, on="kind", how="left")
        .with_columns(
            (
                pl.col("kind_weight").fill_null(0.5) / pl.col("n_accounts").cast(pl.Float64).log(2)
            ).alias("w")
        )
    )
    members = ids.join(shared.select("kind", "value", "w"), on=["kind", "value"], how="inner")
    links = (
        members.join(
            members.select("kind", "value", pl.col("account_id").alias("account_b")),
            on=["kind", "value"],
        )
        .filter(pl.col("account_id") < pl.col("account_b"))
        .rename({"account_id": "account_a"})
        .group_by("account_a", "account_b")
        .agg(
            pl.col("kind").unique().sort().alias("kinds"),
            pl.len().cast(pl.Int64).alias("n_shared"),
            pl.col("w").sum().alias("weight"),
        )
        .sort("account_a", "account_b")
    )
    links_df, hubs_df = pl.collect_all([links, hubs])
    return IdentityGraph(
        links=links_df.select(list(LINKS_SCHEMA)).cast(LINKS_SCHEMA),  # type: ignore[arg-type]
        hubs=hubs_df,
        max_accounts_per_value=max_accounts_per_value,
        kind_weights=MappingProxyType(weights),
    )
