"""The Leiden child process: igraph's Leiden on arrays read from stdin (a script).

Run by :func:`graphkit.detect.leiden_child.leiden_in_child` as
``sys.executable -P <this file>``: it imports numpy and igraph only (not the
``graphkit`` package, whose import pulls polars), reads one job from stdin and writes
the membership to stdout. :func:`run_leiden` is the call itself, used by the
in-process path too, so both give the same membership bit for bit (same graph from
the same arrays, same arguments, a fresh ``random.Random(seed)``).

Wire format (native byte order: the child is this machine's Python): one JSON header
line (``n``, ``m``, ``index``, ``node_weights``, ``resolution``, ``n_iterations``,
``seed``), then the raw bytes of ``src`` and ``dst`` (``index`` dtype: int32 when the
vertex ids fit), ``w`` (float64) and, when present, the node weights (float64, one per
vertex). The child answers with ``n`` community numbers (int32; int64 from 2**31
vertices) and exits 0.

Examples
--------
>>> import numpy as np
>>> from graphkit.detect.leiden_worker import run_leiden
>>> run_leiden(4, np.array([0, 2]), np.array([1, 3]), np.ones(2), None,
...            resolution=1.0, n_iterations=2, seed=0).tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

import json
import random
import sys
from typing import IO, Any

import numpy as np

__all__ = ["read_exact", "run_leiden", "serve"]


def run_leiden(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    w: np.ndarray,
    node_weights: np.ndarray | None,
    *,
    resolution: float,
    n_iterations: int,
    seed: int,
    igraph: Any = None,
) -> np.ndarray:
    """Run igraph's Leiden (modularity) on the undirected graph of the edge arrays.

    Parameters
    ----------
    n
        Number of vertices (ids ``0..n-1``).
    src, dst
        Endpoint arrays; edge ``i`` joins ``src[i]`` and ``dst[i]``.
    w
        Edge weights (float64), aligned with ``src``.
    node_weights
        Optional node weights (float64, one per vertex), or None for the strengths.
    resolution, n_iterations
        As igraph's ``community_leiden`` (``normalize_resolution=True``, beta 0.01).
    seed
        igraph's random generator is ``random.Random(seed)`` for the call, and
        Python's ``random`` module again afterwards (its state restored).
    igraph
        The igraph module (default: ``import igraph``); the child passes the one it
        imported without matplotlib.

    Returns
    -------
    np.ndarray
        igraph's community number (int64) per vertex, not relabelled.

    Examples
    --------
    >>> import numpy as np
    >>> run_leiden(4, np.array([0, 2]), np.array([1, 3]), np.ones(2), None,
    ...            resolution=1.0, n_iterations=2, seed=0).tolist()
    [0, 0, 1, 1]
    """
    if igraph is None:
        import igraph
    # the same graph as ``graph.build.igraph_from_arrays(n, src, dst, directed=False)``
    g = igraph.GraphBase(int(n), [], False)
    if len(src):
        g.add_edges(np.column_stack([np.asarray(src), np.asarray(dst)]).astype(np.int64))
    old_state = random.getstate()
    igraph.set_random_number_generator(random.Random(seed))
    try:
        # igraph's C entry point, as ``g.community_leiden(objective_function="modularity")``
        # calls it (same arguments, same result) without wrapping the membership in a
        # VertexClustering (a Python pass over every vertex: ~1 CPU s at 10M orders)
        membership, _quality = igraph.GraphBase.community_leiden(
            g,
            edge_weights=np.asarray(w, dtype=np.float64).tolist(),
            node_weights=None if node_weights is None else node_weights.tolist(),
            node_in_weights=None,
            resolution=resolution,
            normalize_resolution=True,
            beta=0.01,
            initial_membership=None,
            n_iterations=n_iterations,
        )
    finally:
        igraph.set_random_number_generator(random)
        random.setstate(old_state)
    return np.asarray(membership, dtype=np.int64)


def read_exact(stream: IO[bytes], buf: memoryview) -> int:
    """Fill ``buf`` from ``stream`` (blocking reads, GIL released); bytes read."""
    got = 0
    while got < len(buf):
        k = stream.readinto(buf[got:])  # type: ignore[attr-defined]
        if not k:
            break
        got += k
    return got


def serve(stdin: IO[bytes], stdout: IO[bytes], igraph: Any) -> None:
    """Read a job from ``stdin``, run it, write the membership to ``stdout`` (the child)."""
    header = json.loads(stdin.readline())
    n, m = int(header["n"]), int(header["m"])
    index = np.dtype(header["index"])

    def take(count: int, dtype: np.dtype) -> np.ndarray:
        a = np.empty(count, dtype=dtype)
        if read_exact(stdin, memoryview(a).cast("B")) != a.nbytes:
            raise EOFError("the parent sent fewer bytes than its header announced")
        return a

    src, dst = take(m, index), take(m, index)
    w = take(m, np.dtype(np.float64))
    nw = take(n, np.dtype(np.float64)) if header["node_weights"] else None
    memb = run_leiden(
        n,
        src,
        dst,
        w,
        nw,
        resolution=header["resolution"],
        n_iterations=header["n_iterations"],
        seed=header["seed"],
        igraph=igraph,
    )
    del src, dst, w, nw
    stdout.write(memoryview(memb.astype(np.int32 if n < 2**31 else np.int64)).cast("B"))
    stdout.flush()


def _main() -> None:
    # igraph imports matplotlib.pyplot when it is installed (~0.5 CPU s, ~35 MB):
    # the child draws nothing, so igraph gets its "not installed" placeholder
    sys.modules.setdefault("matplotlib", None)  # type: ignore[arg-type]
    import igraph

    serve(sys.stdin.buffer, sys.stdout.buffer, igraph)


if __name__ == "__main__":
    _main()
