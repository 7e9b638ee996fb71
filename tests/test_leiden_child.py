"""Leiden in a child process: the same membership as in-process, failures, cleanup."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from graphkit.detect import communities, leiden_child
from graphkit.detect.communities import leiden_membership, start_leiden_membership
from graphkit.detect.leiden_child import LeidenChild, LeidenChildError, leiden_in_child
from graphkit.detect.leiden_worker import run_leiden, serve
from graphkit.errors import GraphkitError
from graphkit.graph.build import MarketGraph, market_graph_from_frames


def _random_market(seed: int, n_buyers: int = 300, n_sellers: int = 40) -> MarketGraph:
    """Random buyer-seller pairs, plus three planted rings so Leiden has structure."""
    rng = np.random.default_rng(seed)
    pairs = {
        (int(b), int(s))
        for b, s in zip(
            rng.integers(0, n_buyers, 900), rng.integers(0, n_sellers, 900), strict=True
        )
    }
    for r in range(3):
        pairs |= {(r * 10 + i, r) for i in range(10)}
    b, s = np.array(sorted(pairs)).T
    v = pl.DataFrame(
        {
            "vid": np.arange(n_buyers + n_sellers),
            "account_id": [f"b{i:04d}" for i in range(n_buyers)]
            + [f"s{i:03d}" for i in range(n_sellers)],
            "kind": ["buyer"] * n_buyers + ["seller"] * n_sellers,
        }
    )
    e = pl.DataFrame(
        {
            "buyer_vid": b,
            "seller_vid": s + n_buyers,
            "buyer_id": [f"b{i:04d}" for i in b],
            "seller_id": [f"s{i:03d}" for i in s],
            "n_orders": rng.integers(1, 5, len(b)),
        }
    )
    return market_graph_from_frames(v, e)


@pytest.fixture(scope="module")
def market() -> MarketGraph:
    return _random_market(0)


@pytest.fixture
def spawns(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record every child the parent starts (so a test knows the child path ran)."""
    calls: list[list[str]] = []
    real = leiden_child._child_command

    def command() -> list[str]:
        calls.append(real())
        return calls[-1]

    monkeypatch.setattr(leiden_child, "_child_command", command)
    return calls


def test_child_membership_is_the_in_process_one(
    market: MarketGraph, spawns: list[list[str]]
) -> None:
    """Unweighted (n_orders) and float-weighted, two seeds that give different partitions
    in-process: the child gives each exactly, so the seed and weights reach it."""
    rng = np.random.default_rng(1)
    w = rng.random(market.edges.height) * 3
    results = {}
    for weights in (None, w):
        for seed in (0, 5):
            kw = {"weights": weights, "resolution": 1.3, "seed": seed}
            here = leiden_membership(market, in_child=False, **kw)
            assert len(set(here)) > 3
            child = leiden_membership(market, in_child=True, **kw)
            assert child.dtype == here.dtype == np.int64
            assert np.array_equal(child, here)
            results[weights is None, seed] = here
    assert len(spawns) == 4
    # the seed and the weights matter on this graph, so equality above is no accident
    assert not np.array_equal(results[True, 0], results[True, 5])
    assert not np.array_equal(results[True, 0], results[False, 0])


def test_child_membership_with_edge_mask_and_node_weights(
    market: MarketGraph, spawns: list[list[str]]
) -> None:
    """The subgraph path (node weights, stubs, rescaled resolution) and until-stable."""
    rng = np.random.default_rng(2)
    mask = rng.random(market.edges.height) < 0.5
    w = rng.random(market.edges.height) + 0.5
    for n_iterations in (2, -1):
        kw = {"weights": w, "seed": 3, "edge_mask": mask, "n_iterations": n_iterations}
        here = leiden_membership(market, in_child=False, **kw)
        assert np.array_equal(leiden_membership(market, in_child=True, **kw), here)
    assert len(spawns) == 2


def test_run_leiden_in_child_other_graph_sizes(spawns: list[list[str]]) -> None:
    """No edges, and a graph whose isolated last vertex makes n > max vid + 1."""
    empty = leiden_in_child(
        3, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), None,
        resolution=1.0, n_iterations=2, seed=0,
    )  # fmt: skip
    assert empty.tolist() == [0, 1, 2]
    src, dst = np.array([0, 1, 2, 4]), np.array([1, 2, 0, 5])
    kw = {"resolution": 0.5, "n_iterations": 2, "seed": 9}
    assert np.array_equal(
        leiden_in_child(7, src, dst, np.ones(4), None, **kw),
        run_leiden(7, src, dst, np.ones(4), None, **kw),
    )
    assert len(spawns) == 2


def test_threshold_picks_the_path(
    market: MarketGraph, spawns: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below CHILD_MIN_EDGES in-process (no child), from it on in a child."""
    assert market.edges.height < communities.CHILD_MIN_EDGES
    leiden_membership(market, seed=0)
    assert spawns == []
    monkeypatch.setattr(communities, "CHILD_MIN_EDGES", market.edges.height)
    leiden_membership(market, seed=0)
    assert len(spawns) == 1
    # with a mask, the count is of the subgraph's edges (plus stubs), not the graph's
    mask = np.zeros(market.edges.height, dtype=bool)
    mask[:10] = True
    leiden_membership(market, seed=0, edge_mask=mask)
    assert len(spawns) == 1


def test_worker_serves_a_job_in_process() -> None:
    """The wire format round-trips through the worker's serve() (no process)."""
    src, dst, w = np.array([0, 1, 3, 4]), np.array([1, 2, 4, 5]), np.ones(4)
    nw = np.arange(1.0, 7.0)
    kw = {"resolution": 1.0, "n_iterations": 2, "seed": 4}
    header, arrays = leiden_child._encode(6, src, dst, w, nw, **kw)
    assert arrays[0].dtype == np.int32  # ids travel as int32
    job = io.BytesIO(header + b"".join(a.tobytes() for a in arrays))
    out = io.BytesIO()
    serve(job, out, pytest.importorskip("igraph"))
    got = np.frombuffer(out.getvalue(), dtype=np.int32)
    assert got.tolist() == run_leiden(6, src, dst, w, nw, **kw).tolist()
    short = io.BytesIO(header + arrays[0].tobytes())
    with pytest.raises(EOFError, match="fewer bytes"):
        serve(short, io.BytesIO(), pytest.importorskip("igraph"))


def test_worker_imports_neither_graphkit_nor_matplotlib() -> None:
    """The child costs ~0.25 CPU s: importing graphkit (polars) or igraph's matplotlib
    would add ~0.5 s each."""
    header, arrays = leiden_child._encode(
        4, np.array([0, 2]), np.array([1, 3]), np.ones(2), None,
        resolution=1.0, n_iterations=2, seed=0,
    )  # fmt: skip
    worker = leiden_child._child_command()[-1]
    probe = (
        "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__'); "
        "print(sorted({m.split('.')[0] for m, v in sys.modules.items() if v is not None} "
        "& {'graphkit', 'matplotlib', 'polars'}), file=sys.stderr)"
    )
    res = subprocess.run(
        [sys.executable, "-P", "-c", probe, worker],
        input=header + b"".join(a.tobytes() for a in arrays),
        capture_output=True,
        check=True,
    )
    assert np.frombuffer(res.stdout, dtype=np.int32).tolist() == [0, 0, 1, 1]
    assert res.stderr.decode().strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import sys; sys.stderr.write('boom: no igraph'); sys.exit(3)", "status 3"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "status -9"),
        ("import sys; sys.stdin.buffer.read()", "after 0 of 16 result bytes"),
    ],
    ids=["exit-3", "killed", "short-answer"],
)
def test_child_failure_raises_with_its_stderr(
    market: MarketGraph, monkeypatch: pytest.MonkeyPatch, code: str, message: str
) -> None:
    monkeypatch.setattr(leiden_child, "_child_command", lambda: [sys.executable, "-c", code])
    with pytest.raises(LeidenChildError, match=message) as err:
        leiden_in_child(
            4, np.array([0, 2]), np.array([1, 3]), np.ones(2), None,
            resolution=1.0, n_iterations=2, seed=0,
        )  # fmt: skip
    assert isinstance(err.value, GraphkitError)
    assert isinstance(err.value, RuntimeError)
    if "boom" in code:
        assert "boom: no igraph" in str(err.value)
    else:
        assert "(nothing on stderr)" in str(err.value)


def test_interrupt_kills_and_reaps_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """A KeyboardInterrupt while waiting leaves no child behind."""
    started: list[subprocess.Popen[bytes]] = []

    class Recording(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *a: object, **k: object) -> None:
            super().__init__(*a, **k)  # type: ignore[arg-type]
            started.append(self)

    def interrupted(*_: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(leiden_child.subprocess, "Popen", Recording)
    monkeypatch.setattr(leiden_child, "read_exact", interrupted)
    monkeypatch.setattr(
        leiden_child,
        "_child_command",
        lambda: [sys.executable, "-c", "import time; time.sleep(60)"],
    )
    with pytest.raises(KeyboardInterrupt):
        leiden_in_child(
            4, np.array([0, 2]), np.array([1, 3]), np.ones(2), None,
            resolution=1.0, n_iterations=2, seed=0,
        )  # fmt: skip
    (proc,) = started
    assert proc.returncode == -9  # killed and reaped (wait() set the status)
    assert proc.stdin.closed  # type: ignore[union-attr]
    assert proc.stdout.closed  # type: ignore[union-attr]


def test_started_jobs_run_while_the_caller_works(
    market: MarketGraph, spawns: list[list[str]]
) -> None:
    """Two child jobs at once, collected in reverse order: each gives its in-process
    membership; an in-process job is done when started."""
    kw = {"resolution": 1.3, "n_iterations": 2}
    with (
        start_leiden_membership(market, seed=0, in_child=True, **kw) as a,
        start_leiden_membership(market, seed=5, in_child=True, **kw) as b,
    ):
        assert a.in_child
        assert b.in_child
        assert len(spawns) == 2
        here_b = leiden_membership(market, seed=5, in_child=False, **kw)  # meanwhile
        assert np.array_equal(b.result(), here_b)
        assert np.array_equal(a.result(), leiden_membership(market, seed=0, **kw))
    with start_leiden_membership(market, seed=5, in_child=False, **kw) as c:
        assert not c.in_child
        assert np.array_equal(c.result(), here_b)
    assert len(spawns) == 2


def test_leaving_an_uncollected_job_kills_its_child(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen[bytes]] = []

    class Recording(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *a: object, **k: object) -> None:
            super().__init__(*a, **k)  # type: ignore[arg-type]
            started.append(self)

    monkeypatch.setattr(leiden_child.subprocess, "Popen", Recording)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr(leiden_child, "_child_command", lambda: sleeper)
    # a job larger than the pipe's buffer: the writer thread is blocked when it is killed
    n = 200_000
    src = np.arange(n - 1)
    with LeidenChild(n, src, src + 1, np.ones(n - 1), None, resolution=1.0, n_iterations=2, seed=0):
        pass
    (proc,) = started
    assert proc.returncode == -9
    assert proc.stdout.closed  # type: ignore[union-attr]
