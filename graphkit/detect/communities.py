"""Community detection on the buyer–seller graph (igraph's Leiden).

Leiden (Traag, van Eck & Waltman, 2019) optimises modularity on the
undirected buyer–seller graph. (igraph 1.0's *directed* Leiden, which on a
buyer -> seller graph would be Barber's bipartite modularity, returned
partitions of lower modularity than the obvious one on hand-built bicliques,
e.g. leaving a bridging buyer alone, so the undirected objective is used.)
Edge weights (e.g. suspicion-weighted order counts) make a ring of accounts
that trade heavily among themselves stand out from the organic clusters of
popular stores.

Randomness comes only from ``seed``: igraph's random generator is set to
``random.Random(seed)`` for the call and restored afterwards, so the same seed
gives the same partition, and community numbers are relabelled by their
smallest vertex id (stable across runs).

Examples
--------
>>> from graphkit.detect.communities import leiden_communities
>>> comm = leiden_communities(mg, seed=0)  # doctest: +SKIP
>>> comm.columns  # doctest: +SKIP
['account_id', 'community', 'community_size']
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from graphkit.detect.leiden_child import LeidenChild
    from graphkit.graph.build import MarketGraph

__all__ = [
    "CHILD_MIN_EDGES",
    "COMMUNITY_SCHEMA",
    "LeidenJob",
    "leiden_communities",
    "leiden_membership",
    "start_leiden_membership",
]

#: From this many edges in igraph's graph, :func:`leiden_membership` runs the Leiden
#: call in a child process (:func:`graphkit.detect.leiden_child.leiden_in_child`), so
#: the calling thread waits with the GIL released and the scan's second thread works.
#: The child costs ~0.25 CPU s and ~40 MB more than the call (start-up: numpy and igraph
#: without matplotlib; the arrays through a pipe): it pays once the call takes several
#: times that. Measured on the busy 2-core machine (call = leiden_membership's CPU s):
#: simulate(200k, seed=1), Leiden graph of 67k edges: 0.09 in-process vs 0.30-0.38 in
#: the child; sim_1000000_s0, 215k edges: 0.49 vs 0.65-0.80 (+0.07 in the parent);
#: sim_10000000_s0, 1.89M edges (576k vertices): 10.8 in-process vs 1.3 in the parent +
#: 10.0 in the child (peak RSS 462 MB). From 215k to 1.89M edges the call grows as
#: ~m^1.35, so at 500k edges it takes ~1.5 CPU s, ~6x the child's overhead.
CHILD_MIN_EDGES = 500_000

#: Output of :func:`leiden_communities`: one row per vertex with at least one edge.
COMMUNITY_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "community": pl.Int64(),
    "community_size": pl.Int64(),
}


def leiden_membership(
    mg: MarketGraph,
    *,
    weights: np.ndarray | None = None,
    resolution: float = 1.0,
    n_iterations: int = 2,
    seed: int = 0,
    edge_mask: np.ndarray | None = None,
    in_child: bool | None = None,
) -> np.ndarray:
    """Leiden community of every vertex (array indexed by ``vid``), relabelled stably.

    Parameters
    ----------
    mg
        The buyer–seller graph.
    weights
        Optional edge weights aligned with ``mg.edges`` (default: ``n_orders``).
    resolution
        Modularity resolution (default 1.0; higher gives smaller communities).
    n_iterations
        Leiden iterations; negative runs until stable (default 2: as good as
        until-stable on a 1M-order market, 12x less CPU).
    seed
        Seed of igraph's random generator for this call.
    edge_mask
        Optional boolean array aligned with ``mg.edges``, normally the edges
        *induced* by a set of vertices (e.g. the candidate subgraph of
        :func:`graphkit.detect.rings.ring_candidate_edges`). Leiden then
        optimises the modularity of the *whole* graph with every vertex outside
        the subgraph held as a community of its own: igraph sees only the
        subgraph, but each vertex keeps its whole-graph strength as its node
        weight and the resolution is rescaled to the whole graph's total weight,
        so every merge is judged as on the whole graph (same null model), at
        the cost of the subgraph only. A subgraph vertex's edges to the outside
        are summed onto one stub vertex of its own (node weight = that sum), so
        a store's ordinary customers still pull it as one block, as they would
        on the whole graph; stubs are dropped from the result.
    in_child
        Run igraph's call in a child process (True), in this one (False), or in a
        child from :data:`CHILD_MIN_EDGES` edges in igraph's graph on (None, the
        default). The membership is the same either way, bit for bit.

    Returns
    -------
    np.ndarray
        Community number per vertex, ``0..k-1`` in order of smallest member vid.

    Examples
    --------
    >>> leiden_membership(mg, seed=1)[:3]  # doctest: +SKIP
    array([0, 0, 1])
    """
    with start_leiden_membership(
        mg,
        weights=weights,
        resolution=resolution,
        n_iterations=n_iterations,
        seed=seed,
        edge_mask=edge_mask,
        in_child=in_child,
    ) as job:
        return job.result()


class LeidenJob:
    """A :func:`leiden_membership` under way: :meth:`result` gives the membership.

    Made by :func:`start_leiden_membership`. With the call in a child process the
    caller may work while it runs; in-process the call is already done. Use it as a
    context manager: leaving it kills a child whose result was not collected.
    """

    def __init__(
        self,
        pending: LeidenChild | np.ndarray,
        n: int,
        touched: np.ndarray | None,
    ) -> None:
        self._pending = pending
        self._n = n
        self._touched = touched

    @property
    def in_child(self) -> bool:
        """Whether igraph's call runs in a child process."""
        return not isinstance(self._pending, np.ndarray)

    def result(self) -> np.ndarray:
        """Return the membership of :func:`leiden_membership` (a child: waited for)."""
        raw = self._pending if isinstance(self._pending, np.ndarray) else self._pending.result()
        touched = self._touched
        if touched is not None:
            raw = raw[: int(touched.sum())]  # the stubs are no accounts
            # untouched vertices: one community each, numbered after Leiden's
            sub = raw
            raw = np.arange(self._n, dtype=np.int64) + (int(sub.max()) + 1 if len(sub) else 0)
            raw[touched] = sub
        return _relabel_by_first_vertex(raw)

    def close(self) -> None:
        """Kill and reap the child if its result was not collected."""
        if not isinstance(self._pending, np.ndarray):
            self._pending.close()

    def __enter__(self) -> LeidenJob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_leiden_membership(
    mg: MarketGraph,
    *,
    weights: np.ndarray | None = None,
    resolution: float = 1.0,
    n_iterations: int = 2,
    seed: int = 0,
    edge_mask: np.ndarray | None = None,
    in_child: bool | None = None,
) -> LeidenJob:
    """Start :func:`leiden_membership`; collect it with :meth:`LeidenJob.result`.

    In a child process (``in_child``, or from :data:`CHILD_MIN_EDGES` edges) this
    returns once the child is started, so the caller can do other work meanwhile;
    in-process it returns once the call is done.

    Parameters
    ----------
    mg, weights, resolution, n_iterations, seed, edge_mask, in_child
        See :func:`leiden_membership`.

    Returns
    -------
    LeidenJob
        Use it as a context manager (a child not collected is killed on the way out).

    Examples
    --------
    >>> with start_leiden_membership(mg, seed=1) as job:  # doctest: +SKIP
    ...     other_work()
    ...     memb = job.result()
    """
    from graphkit.detect.leiden_child import LeidenChild
    from graphkit.detect.leiden_worker import run_leiden

    n = mg.vertices.height
    src = mg.edges["buyer_vid"].to_numpy()
    dst = mg.edges["seller_vid"].to_numpy()
    w = mg.edges["n_orders"].to_numpy().astype(np.float64) if weights is None else weights
    w = np.asarray(w, dtype=np.float64)
    touched = None
    node_weights = None
    if edge_mask is not None:
        mask = np.asarray(edge_mask, dtype=bool)
        strength = np.bincount(src, w, n) + np.bincount(dst, w, n)
        touched = np.zeros(n, dtype=bool)
        touched[src[mask]] = True
        touched[dst[mask]] = True
        # each touched vertex's edges to the outside, summed into one stub vertex of its
        # own: its ordinary customers (or stores) still pull it as one block
        out_src = ~mask & touched[src]
        out_dst = ~mask & touched[dst]
        stub_w = np.bincount(src[out_src], w[out_src], n) + np.bincount(dst[out_dst], w[out_dst], n)
        # igraph sees the touched vertices (in vid order), then the stubs
        local = np.cumsum(touched) - 1
        n_touched = int(touched.sum())
        has_stub = touched & (stub_w > 0)
        owners = np.flatnonzero(has_stub)
        stubs = n_touched + np.arange(len(owners))
        src = np.concatenate([local[src[mask]], local[owners]])
        dst = np.concatenate([local[dst[mask]], stubs])
        w = np.concatenate([w[mask], stub_w[owners]])
        n_graph = n_touched + len(owners)
        # modularity's null model of the whole graph: node weight = whole-graph strength
        # (a stub: its edge), and igraph divides the resolution by the node weights' sum
        nw = np.concatenate([strength[touched], stub_w[owners]])
        resolution *= float(nw.sum()) / max(float(strength.sum()), 1e-300)
        node_weights = nw
    else:
        n_graph = n
    # the undirected graph straight from the edge arrays: the same vertices and edges,
    # in the same order, as ``mg.graph.as_undirected(mode="each")``, without building
    # the attributed igraph object (Python lists of every account id) and copying it
    if in_child is None:
        # (no interpreter to start when Python is embedded: sys.executable is empty)
        in_child = len(src) >= CHILD_MIN_EDGES and bool(sys.executable)
    call = LeidenChild if in_child else run_leiden
    pending = call(
        n_graph,
        src,
        dst,
        w,
        node_weights,
        resolution=resolution,
        n_iterations=n_iterations,
        seed=seed,
    )
    return LeidenJob(pending, n, touched)


def _relabel_by_first_vertex(raw: np.ndarray) -> np.ndarray:
    """Renumber communities ``0..k-1`` in order of their smallest vid (stable numbering).

    ``raw``: non-negative community labels per vid. O(n) without sorting (``np.unique``
    sorted the 3M labels of the 10M-order market: 0.15-0.3 CPU s, this 0.05).
    """
    n = len(raw)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    vid = np.arange(n, dtype=np.int64)
    first = np.full(int(raw.max()) + 1, n, dtype=np.int64)
    np.minimum.at(first, raw, vid)  # each label's smallest vid
    head = first[raw]
    # a community's new number: how many communities start before its smallest vid
    return (np.cumsum(head == vid) - 1)[head]


def leiden_communities(
    mg: MarketGraph,
    *,
    weights: np.ndarray | None = None,
    resolution: float = 1.0,
    n_iterations: int = 2,
    seed: int = 0,
) -> pl.DataFrame:
    """Leiden communities of the buyer–seller graph as a table.

    Parameters
    ----------
    mg, weights, resolution, n_iterations, seed
        See :func:`leiden_membership`.

    Returns
    -------
    pl.DataFrame
        :data:`COMMUNITY_SCHEMA` for every vertex with at least one edge
        (isolated accounts form no community), sorted by community, account.

    Examples
    --------
    >>> leiden_communities(mg, resolution=1.0, seed=0)  # doctest: +SKIP
    """
    membership = leiden_membership(
        mg, weights=weights, resolution=resolution, n_iterations=n_iterations, seed=seed
    )
    deg = np.bincount(
        np.concatenate([mg.edges["buyer_vid"].to_numpy(), mg.edges["seller_vid"].to_numpy()]),
        minlength=mg.vertices.height,
    )
    out = pl.DataFrame(
        {"account_id": mg.vertices["account_id"], "community": membership, "deg": deg}
    ).filter(pl.col("deg") > 0)
    out = out.with_columns(
        pl.len().over("community").cast(pl.Int64).alias("community_size")
    ).select(list(COMMUNITY_SCHEMA))
    return out.sort("community", "account_id")
