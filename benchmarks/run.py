"""The benchmark suite: every stage of graphkit at marketplace sizes, quality and peers.

For each size (orders of the seeded simulator, e.g. ``100k,1M,10M``) the suite
simulates the marketplace once (cached in ``benchmarks/_work/sim_<n>_s<seed>/``
and reused while the simulator's code is unchanged; its cost is recorded but
is not part of the scan), then runs every stage in its own child process and
records, per stage, the child's wall seconds, CPU seconds (user + system, all
threads: contention on the shared machine inflates them far less than wall
time), its own peak RSS (``wait4``) and the load average before/after:

============== ==============================================================
stage          what is timed inside the child (setup, e.g. reading the
               previous stage's artifacts, is timed separately)
============== ==============================================================
validate       ``load_dataset`` (read + validate every table, strict)
graph          buyer–seller graph (polars) and identity graph
leiden         Leiden on the suspicion-weighted graph (graphkit's settings)
fraudar        FRAUDAR dense blocks (graphkit's settings)
lockstep       lockstep (CopyCatch) groups
identity       identity clusters (linked accounts)
detect_groups  ``detect_groups`` end to end, with the time of each detector
               and of group scoring inside it
ratings        ``rating_signals`` (given the detected groups)
policies       every policy check (each timed), given detection + ratings
scan           ``graphkit scan DATASET --out RUN`` end to end (the target)
report         ``write_report`` of that run
quality        ``graphkit.evaluate`` of that run against the planted labels
community_*    the same community step (graph, weights, resolution) with
               igraph Leiden and with networkx Louvain (5-minute timeout;
               larger sizes are skipped once a size did not finish)
profile        (opt-in) cProfile of the scan: the functions that cost most
============== ==============================================================

Once per invocation, ``fraudar_injection`` runs the FRAUDAR injection protocol
of ``bench_fraudar.py`` (Hooi et al. 2016) on ``--fraudar-edges`` edges.

Results are merged into ``--out`` (default ``benchmarks/results/run.json``; a
size measured again replaces its previous entry) and the marked sections
``run-summary`` (top of RESULTS.md: targets vs measured), ``run-stages``,
``run-quality``, ``run-peers`` and ``run-profile`` of ``benchmarks/RESULTS.md``
are rewritten from that JSON. Nothing is typed by hand.

Usage::

    python benchmarks/run.py --sizes 100k,1M,10M --wait-quiet 2.5
    python benchmarks/run.py --sizes 20k --stages validate,graph,scan --out /tmp/r.json \
        --results-md /tmp/RESULTS.md
    python benchmarks/run.py --render          # rewrite RESULTS.md sections from the JSON

Targets (issue 9): full scan of 10M orders <= 60 s wall and <= 6 GiB peak RSS;
1M orders <= 8 s; time(10M) / time(1M) <= 12.
"""

from __future__ import annotations

import argparse
import copyreg
import hashlib
import json
import os
import pickle
import shlex
import shutil
import sys
import time
import types
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# the stage children run this script; graphkit is imported from this checkout even when
# it is not installed (or installed from another folder)
sys.path.insert(1, str(HERE.parent))

from _common import (  # noqa: E402
    REPO,
    cpu_seconds,
    git_state,
    machine_info,
    measure_child,
    now_utc,
    update_section,
    wait_until_quiet,
    write_json,
)

__all__ = ["STAGES", "main", "parse_size", "render_sections"]

#: Per-size stages, in the order they run.
STAGES: tuple[str, ...] = (
    "validate",
    "graph",
    "leiden",
    "fraudar",
    "lockstep",
    "identity",
    "detect_groups",
    "ratings",
    "policies",
    "scan",
    "report",
    "quality",
    "community_igraph",
    "community_networkx",
)
#: Opt-in per-size stages (not in the default list).
OPTIONAL_STAGES: tuple[str, ...] = ("profile",)
#: Once-per-invocation stages.
GLOBAL_STAGES: tuple[str, ...] = ("fraudar_injection",)

TARGETS = {
    "scan_wall_s": {1_000_000: 8.0, 10_000_000: 60.0},
    "scan_peak_gib": {10_000_000: 6.0},
    "ratio_10m_1m": 12.0,
}
SCAN_OK_CODES = (0, 3)  # graphkit scan: 3 = new critical findings (a success)

DEFAULT_OUT = HERE / "results" / "run.json"
DEFAULT_MD = HERE / "RESULTS.md"
DEFAULT_WORK = HERE / "_work"


# =========================================================================== helpers
def parse_size(text: str) -> int:
    """Parse ``100k``, ``1M``, ``10M`` or ``250000`` into a number of orders.

    Examples
    --------
    >>> parse_size("1M"), parse_size("20k"), parse_size("1500")
    (1000000, 20000, 1500)
    """
    t = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    num = t[:-1] if mult > 1 else t
    value = float(num) * mult
    if value <= 0 or value != int(value):
        raise ValueError(f"size {text!r}: expected a positive number of orders (100k, 1M, 250000)")
    return int(value)


def size_label(n: int) -> str:
    """Return ``1M`` / ``100k`` / ``1500`` for a number of orders."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def simulator_fingerprint() -> str:
    """SHA-256 over the simulator's source (a cached dataset is reused only while it matches)."""
    h = hashlib.sha256()
    for p in sorted((REPO / "graphkit" / "simulate").rglob("*.py")):
        h.update(p.relative_to(REPO).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _fmt(x: Any, nd: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


# =========================================================================== child side
class _Clock:
    """Wall and CPU seconds (this process, all threads, reaped children) of a block."""

    def __enter__(self) -> _Clock:
        self.w0, self.c0 = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = round(time.perf_counter() - self.w0, 4)
        self.cpu = round(cpu_seconds() - self.c0, 4)


def _peak_gib() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)


def _mappingproxy(d: dict[str, Any]) -> Any:
    return types.MappingProxyType(d)


# frozen parameter objects hold read-only mappings; pickle them as their dict
copyreg.pickle(types.MappingProxyType, lambda m: (_mappingproxy, (dict(m),)))


def code_fingerprint() -> str:
    """SHA-256 over graphkit's source: a stage artifact is reused only while it matches.

    Artifacts (graphs, detection, rating signals) made by older code would otherwise be
    handed to later stages silently (e.g. the policy checks timed on a stale detection).
    """
    h = hashlib.sha256()
    for p in sorted((REPO / "graphkit").rglob("*.py")):
        h.update(p.relative_to(REPO).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _save(work: Path, name: str, obj: Any) -> None:
    tmp = work / f".{name}.pkl.tmp"
    with open(tmp, "wb") as fh:
        pickle.dump((code_fingerprint(), obj), fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, work / f"{name}.pkl")


#: Artifacts a stage hands to later stages, written after its timed block.
_PENDING: list[tuple[Path, str, Any]] = []


def _defer_save(work: Path, name: str, obj: Any) -> None:
    _PENDING.append((work, name, obj))


def _load(work: Path, name: str) -> Any | None:
    p = work / f"{name}.pkl"
    if not p.exists():
        return None
    try:
        with open(p, "rb") as fh:
            saved = pickle.load(fh)
    except Exception:  # an artifact of older code that no longer unpickles
        return None
    if not (isinstance(saved, tuple) and len(saved) == 2 and saved[0] == code_fingerprint()):
        return None  # made by other code (or an older format): recompute
    return saved[1]


def _dataset(data: Path, work: Path) -> Any:
    """The dataset without re-validating (the ``validate`` stage validated it).

    Tables are lazy parquet scans (the simulator writes the contract's dtypes);
    ``as_of`` is the one ``load_dataset`` found, cached by the first stage that
    needed it.
    """
    from datetime import datetime

    import polars as pl

    from graphkit.dataset import Dataset

    as_of_file = work / "as_of.txt"
    if not as_of_file.exists():
        from graphkit.io import load_dataset

        as_of_file.write_text(load_dataset(data).as_of.isoformat())
    tables = {
        p.stem: pl.scan_parquet(p)
        for p in sorted(data.glob("*.parquet"))
        if p.stem != "labels" and not p.stem.startswith("_")
    }
    return Dataset(tables=tables, as_of=datetime.fromisoformat(as_of_file.read_text()))


def _graphs(ds: Any, work: Path) -> tuple[Any, Any]:
    """The market and identity graphs: the ``graph`` stage's artifacts, built when absent."""
    from graphkit.detect import DetectParams
    from graphkit.graph.build import MarketGraph, build_identity_graph, build_market_graph

    saved = _load(work, "graphs")
    if saved is None:
        mg = build_market_graph(ds)
        idg = build_identity_graph(ds, max_accounts_per_value=DetectParams().max_accounts_per_value)
        saved = (mg.vertices, mg.edges, idg)
        _save(work, "graphs", saved)
    vertices, edges, idg = saved
    return MarketGraph(vertices=vertices, edges=edges), idg


def _suspicion(mg: Any, idg: Any) -> Any:
    import polars as pl

    from graphkit.detect import DetectParams
    from graphkit.detect.rings import edge_suspicion

    p = DetectParams()
    strong = idg.links.filter(pl.col("weight") >= p.identity_min_weight)
    return edge_suspicion(mg, strong, params=p)


def _detection(ds: Any, work: Path, seed: int) -> Any:
    det = _load(work, "detection")
    if det is None:
        from graphkit.detect import detect_groups

        det = detect_groups(ds, seed=seed)
        _save(work, "detection", det)
    return det


def _ratings(ds: Any, work: Path, det: Any) -> Any:
    rs = _load(work, "ratings")
    if rs is None:
        rs = _rating_signals(ds, det)
        _save(work, "ratings", rs)
    return rs


def _rating_signals(ds: Any, det: Any, matches: Any = None) -> Any:
    """``rating_signals`` as the scan calls it, with every lazy part collected.

    ``matches``: the market graph's ``buyer_feedback`` (a scan's rating base reads it
    instead of joining feedback to orders; the graph is detection's, built before).
    """
    import polars as pl

    from graphkit.detect.ratings import rating_base, rating_signals

    base = rating_base(ds, matches=matches)
    rs = rating_signals(ds, group_members=det.members, identity_links=det.identity.links, base=base)
    for name in ("sellers", "raters", "feedback", "trading_pairs"):
        value = getattr(rs, name, None)
        if isinstance(value, pl.LazyFrame):
            object.__setattr__(rs, name, value.collect())
    return rs


def _instrument(targets: list[tuple[Any, str, str]]) -> dict[str, dict[str, float]]:
    """Wrap module functions with timers; return ``{label: {wall_s, cpu_s, calls}}``."""
    acc: dict[str, dict[str, float]] = {}

    def wrap(fn: Any, label: str) -> Any:
        def timed(*a: Any, **k: Any) -> Any:
            w0, c0 = time.perf_counter(), cpu_seconds()
            try:
                return fn(*a, **k)
            finally:
                rec = acc.setdefault(label, {"wall_s": 0.0, "cpu_s": 0.0, "calls": 0})
                rec["wall_s"] = round(rec["wall_s"] + time.perf_counter() - w0, 4)
                rec["cpu_s"] = round(rec["cpu_s"] + cpu_seconds() - c0, 4)
                rec["calls"] += 1

        return timed

    for module, attr, label in targets:
        setattr(module, attr, wrap(getattr(module, attr), label))
    return acc


def child(stage: str, data: Path, work: Path, seed: int, extra: dict[str, Any]) -> dict[str, Any]:
    """Run one stage in this (child) process; return its timings and facts."""
    out: dict[str, Any] = {"stage": stage}
    setup = _Clock()
    with setup:
        if stage not in ("validate", "fraudar_injection"):
            ds = _dataset(data, work)
            if stage in ("leiden", "fraudar", "identity", "community_igraph", "community_networkx"):
                mg, idg = _graphs(ds, work)
                if stage != "identity":
                    susp = _suspicion(mg, idg)
            if stage in ("ratings", "policies"):
                det = _detection(ds, work, seed)
            if stage == "ratings":  # built by detection in a scan (the "graph" stage)
                from graphkit.graph.build import build_market_graph

                matches = build_market_graph(ds).buyer_feedback
            if stage == "policies":
                rs = _ratings(ds, work, det)
    out["setup_s"], out["setup_cpu_s"] = setup.wall, setup.cpu
    clock = _Clock()
    with clock:
        if stage == "validate":
            out.update(_stage_validate(data, work))
        elif stage == "graph":
            out.update(_stage_graph(ds, work))
        elif stage == "leiden":
            out.update(_stage_leiden(mg, susp, seed))
        elif stage == "fraudar":
            out.update(_stage_fraudar(mg, susp))
        elif stage == "lockstep":
            out.update(_stage_lockstep(ds, seed))
        elif stage == "identity":
            out.update(_stage_identity(idg))
        elif stage == "detect_groups":
            out.update(_stage_detect(ds, work, seed))
        elif stage == "ratings":
            rs = _rating_signals(ds, det, matches)
            _defer_save(work, "ratings", rs)
            out["sellers"] = rs.sellers.height
            out["raters"] = rs.raters.height
        elif stage == "policies":
            out.update(_stage_policies(ds, det, rs, seed))
        elif stage == "report":
            out.update(_stage_report(ds, work))
        elif stage == "quality":
            out.update(_stage_quality(data, work))
        elif stage == "community_igraph":
            out.update(_stage_community_igraph(mg, susp, work, seed))
        elif stage == "community_networkx":
            out.update(_stage_community_networkx(mg, susp, work, seed))
        elif stage == "fraudar_injection":
            import bench_fraudar

            rows = bench_fraudar.run(int(extra["edges"]), seed, float(extra.get("eps", 0.05)))
            out["rows"] = rows
        else:
            raise ValueError(f"unknown stage {stage!r}")
    out["stage_s"], out["stage_cpu_s"] = clock.wall, clock.cpu
    out["child_peak_rss_gib"] = _peak_gib()
    with _Clock() as saving:  # the artifacts for later stages: not part of the stage
        while _PENDING:
            _save(*_PENDING.pop())
    out["save_s"] = saving.wall
    return out


def _stage_validate(data: Path, work: Path) -> dict[str, Any]:
    from graphkit.io import load_dataset

    ds = load_dataset(data)
    (work / "as_of.txt").write_text(ds.as_of.isoformat())
    return {"as_of": ds.as_of.isoformat(), "row_counts": ds.row_counts()}


def _stage_graph(ds: Any, work: Path) -> dict[str, Any]:
    from graphkit.detect import DetectParams
    from graphkit.graph.build import build_identity_graph, build_market_graph

    parts = {}
    with _Clock() as c:
        mg = build_market_graph(ds)
    parts["market_graph"] = {"wall_s": c.wall, "cpu_s": c.cpu}
    with _Clock() as c:
        idg = build_identity_graph(ds, max_accounts_per_value=DetectParams().max_accounts_per_value)
    parts["identity_graph"] = {"wall_s": c.wall, "cpu_s": c.cpu}
    _defer_save(work, "graphs", (mg.vertices, mg.edges, idg))
    return {
        "parts": parts,
        "vertices": mg.vertices.height,
        "edges": mg.edges.height,
        "identity_links": idg.links.height,
        "identity_hubs": idg.hubs.height,
    }


def _stage_leiden(mg: Any, susp: Any, seed: int) -> dict[str, Any]:
    from graphkit.detect import DetectParams
    from graphkit.detect.communities import leiden_membership

    p = DetectParams()
    memb = leiden_membership(
        mg,
        weights=susp["weight"].to_numpy(),
        resolution=p.leiden_resolution,
        n_iterations=p.leiden_iterations,
        seed=seed,
    )
    return {"communities": int(memb.max()) + 1 if len(memb) else 0}


def _stage_fraudar(mg: Any, susp: Any) -> dict[str, Any]:
    from graphkit.detect import DetectParams
    from graphkit.detect.dense import dense_blocks

    p = DetectParams()
    blocks = dense_blocks(
        mg,
        n_blocks=p.dense_n_blocks,
        edge_weight=susp["suspicion"].to_numpy(),
        eps=p.dense_eps,
        min_buyers=p.min_group_buyers,
    )
    return {"blocks": blocks["block"].n_unique(), "members": blocks.height}


def _stage_lockstep(ds: Any, seed: int) -> dict[str, Any]:
    from datetime import timedelta

    from graphkit.detect import DetectParams
    from graphkit.detect.lockstep import lockstep_groups

    p = DetectParams()
    lock = lockstep_groups(
        ds.orders.select("buyer_id", "seller_id", "created_at"),
        window=timedelta(days=p.lockstep_window_days),
        min_shared_windows=p.lockstep_min_shared,
        max_bucket_buyers=p.lockstep_max_bucket,
        min_buyers=p.min_group_buyers,
        seed=seed,
    )
    return {"groups": lock["group"].n_unique(), "members": lock.height}


def _stage_identity(idg: Any) -> dict[str, Any]:
    from graphkit.detect import DetectParams
    from graphkit.detect.identity import linked_account_clusters

    p = DetectParams()
    cl = linked_account_clusters(idg, min_weight=p.identity_min_weight, max_size=p.linked_max_size)
    return {"clusters": cl["cluster_id"].n_unique(), "members": cl.height}


def _stage_detect(ds: Any, work: Path, seed: int) -> dict[str, Any]:
    import graphkit.detect.communities as communities
    import graphkit.detect.dense as dense
    import graphkit.detect.identity as identity
    import graphkit.detect.lockstep as lockstep
    import graphkit.detect.rings as rings
    import graphkit.graph.build as build

    acc = _instrument(
        [
            (build, "build_market_graph", "market_graph"),
            (build, "build_identity_graph", "identity_graph"),
            (rings, "edge_suspicion", "edge_suspicion"),
            (rings, "ring_candidate_edges", "candidate_subgraph"),
            # detect_groups starts Leiden (in a child process above CHILD_MIN_EDGES), runs
            # FRAUDAR and lockstep, then collects it: the child's CPU counts at the collect
            (communities, "start_leiden_membership", "leiden_start"),
            (communities.LeidenJob, "result", "leiden_result"),
            (rings, "_ring_members", "ring_members"),
            (dense, "dense_blocks", "fraudar"),
            (lockstep, "lockstep_groups", "lockstep"),
            (identity, "linked_account_clusters", "identity_clusters"),
            (rings, "score_groups", "group_scoring"),
            (rings, "_score_linked", "group_scoring_linked"),
            (rings, "_with_corroboration", "corroboration"),
            (rings, "_account_signals", "account_signals"),
        ]
    )
    det = rings.detect_groups(ds, seed=seed)
    _defer_save(work, "detection", det)
    kinds = det.groups.group_by("kind").len().sort("kind").rows()
    return {"parts": acc, "groups": {k: int(n) for k, n in kinds}}


def _stage_policies(ds: Any, det: Any, rs: Any, seed: int) -> dict[str, Any]:
    from graphkit.config import ScanConfig
    from graphkit.policy import ScanContext, checks, finalize_findings

    cfg = ScanConfig()
    ctx = ScanContext(ds, cfg, seed=seed)
    ctx.__dict__["groups"] = det  # the detection and ratings stages' results
    ctx.__dict__["ratings"] = rs
    # the market graph SHILL_PURCHASE reads: in a scan detection builds it (the "graph"
    # stage measures it), so it is built here before the checks are timed
    _ = ctx.market_graph
    parts: dict[str, dict[str, float]] = {}
    for check in checks():
        with _Clock() as c:
            if check.not_evaluated_reason(ds) is None and check.rule_id not in cfg.disabled:
                draft = check(ctx, ctx.params(check.rule_id))
                found = finalize_findings(draft, check.text(cfg.policy_text)).height
            else:
                found = -1
        parts[check.rule_id] = {
            "wall_s": c.wall,
            "cpu_s": c.cpu,
            "findings": found,
            "peak_rss_gib_after": _peak_gib(),
        }
    return {"parts": parts}


def _stage_report(ds: Any, work: Path) -> dict[str, Any]:
    from graphkit.report import write_report

    run = work / "scan_run"
    if not (run / "findings.parquet").exists():
        raise RuntimeError(f"no scan run in {run}: run the scan stage first")
    path = write_report(run, dataset=ds)
    return {"report_mib": round(path.stat().st_size / 2**20, 3)}


def _stage_quality(data: Path, work: Path) -> dict[str, Any]:
    from graphkit.evaluate import evaluate_run

    run = work / "scan_run"
    if not (run / "findings.parquet").exists():
        raise RuntimeError(f"no scan run in {run}: run the scan stage first")
    ev = evaluate_run(run, data)
    return {"auc": ev.auc, "scenarios": ev.scenarios.to_dicts(), "rules": ev.rules.to_dicts()}


def _community_graph(mg: Any, susp: Any) -> tuple[Any, Any]:
    import numpy as np

    w = np.asarray(susp["weight"].to_numpy(), dtype=np.float64)
    from graphkit.graph.build import igraph_from_arrays

    b, s = mg.edges["buyer_vid"].to_numpy(), mg.edges["seller_vid"].to_numpy()
    return igraph_from_arrays(mg.vertices.height, b, s, directed=False), w


def _stage_community_igraph(mg: Any, susp: Any, work: Path, seed: int) -> dict[str, Any]:
    import numpy as np

    from graphkit.detect import DetectParams
    from graphkit.detect.communities import leiden_membership

    p = DetectParams()
    with _Clock() as c:
        memb = leiden_membership(
            mg,
            weights=susp["weight"].to_numpy(),
            resolution=p.leiden_resolution,
            n_iterations=p.leiden_iterations,
            seed=seed,
        )
    g, w = _community_graph(mg, susp)
    np.save(work / "membership_igraph.npy", memb)
    return {
        "algorithm": f"igraph Leiden (modularity, resolution {p.leiden_resolution}, "
        f"{p.leiden_iterations} iterations)",
        "algo_s": c.wall,
        "algo_cpu_s": c.cpu,
        "vertices": g.vcount(),
        "edges": g.ecount(),
        "communities": len(np.unique(memb)),
        "modularity": round(
            g.modularity(memb.tolist(), weights=w, resolution=p.leiden_resolution), 5
        ),
    }


def _stage_community_networkx(mg: Any, susp: Any, work: Path, seed: int) -> dict[str, Any]:
    import networkx as nx
    import numpy as np

    from graphkit.detect import DetectParams

    p = DetectParams()
    b = mg.edges["buyer_vid"].to_numpy()
    s = mg.edges["seller_vid"].to_numpy()
    w = np.asarray(susp["weight"].to_numpy(), dtype=np.float64)
    with _Clock() as conv:
        G = nx.Graph()
        G.add_nodes_from(range(mg.vertices.height))
        G.add_weighted_edges_from(zip(b.tolist(), s.tolist(), w.tolist(), strict=True))
    with _Clock() as c:
        comms = nx.community.louvain_communities(
            G, weight="weight", resolution=p.leiden_resolution, seed=seed
        )
    memb = np.empty(mg.vertices.height, dtype=np.int64)
    for i, members in enumerate(comms):  # one step per community, to score with igraph
        memb[np.fromiter(members, dtype=np.int64, count=len(members))] = i
    g, _ = _community_graph(mg, susp)
    out: dict[str, Any] = {
        "algorithm": f"networkx louvain_communities (resolution {p.leiden_resolution})",
        "convert_s": conv.wall,
        "algo_s": c.wall,
        "algo_cpu_s": c.cpu,
        "vertices": g.vcount(),
        "edges": g.ecount(),
        "communities": len(comms),
        "modularity": round(
            g.modularity(memb.tolist(), weights=w, resolution=p.leiden_resolution), 5
        ),
    }
    ig = work / "membership_igraph.npy"
    if ig.exists():
        import igraph

        other = np.load(ig)
        out["nmi_vs_igraph"] = round(
            igraph.compare_communities(memb.tolist(), other.tolist(), method="nmi"), 4
        )
    return out


def _child_main(argv: list[str]) -> None:
    stage, data, work, seed, extra = argv[0], Path(argv[1]), Path(argv[2]), int(argv[3]), argv[4]
    work.mkdir(parents=True, exist_ok=True)
    res = child(stage, data, work, seed, json.loads(extra))
    print(json.dumps(res, default=str))


# =========================================================================== parent side
def ensure_dataset(n: int, seed: int, work_root: Path, timeout_s: float) -> dict[str, Any]:
    """Return the simulated dataset folder of ``n`` orders, simulating it (measured) if needed."""
    folder = work_root / f"sim_{n}_s{seed}"
    meta_path = work_root / f"sim_{n}_s{seed}.json"  # next to the folder: not a table
    fp = simulator_fingerprint()
    if (folder / "orders.parquet").exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("fingerprint") == fp:
            return {"path": str(folder), "reused": True, **meta}
    if folder.exists():
        shutil.rmtree(folder)
    code = (
        "import sys; from graphkit.simulate import simulate; "
        "simulate(int(sys.argv[1]), seed=int(sys.argv[2])).write(sys.argv[3])"
    )
    cmd = [sys.executable, "-c", code, str(n), str(seed), str(folder)]
    r = measure_child(cmd, timeout_s=timeout_s, cwd=REPO)
    if r.returncode != 0:
        raise RuntimeError(f"simulation of {n} orders failed: {r.stderr[-2000:]}")
    meta = {
        "fingerprint": fp,
        "n_orders": n,
        "seed": seed,
        "simulated_at": now_utc(),
        "simulate_wall_s": r.wall_s,
        "simulate_cpu_s": r.cpu_s,
        "simulate_peak_rss_gib": r.peak_rss_gib,
        "load_before": r.load_before,
        "load_after": r.load_after,
    }
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return {"path": str(folder), "reused": False, **meta}


def run_stage(
    stage: str,
    data: Path,
    work: Path,
    seed: int,
    *,
    timeout_s: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run one stage in a fresh child process; return the child's and the stage's numbers."""
    if stage == "scan":
        run_dir = work / "scan_run"
        cmd = [sys.executable, "-m", "graphkit", "scan", str(data), "--out", str(run_dir)]
        cmd += ["--quiet", "--seed", str(seed)]
    elif stage == "profile":
        prof = work / "scan.prof"
        cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "graphkit", "scan"]
        cmd += [str(data), "--out", str(work / "profile_run"), "--quiet", "--seed", str(seed)]
    else:
        cmd = [sys.executable, str(Path(__file__).resolve()), "_child", stage, str(data), str(work)]
        cmd += [str(seed), json.dumps(extra or {})]
    r = measure_child(cmd, timeout_s=timeout_s, cwd=REPO)
    row: dict[str, Any] = {
        "stage": stage,
        "date": now_utc(),
        "git_head": git_state()["head"],
        "wall_s": r.wall_s,
        "cpu_s": r.cpu_s,
        "peak_rss_gib": r.peak_rss_gib,
        "load_before": r.load_before,
        "load_after": r.load_after,
        "returncode": r.returncode,
    }
    ok = r.returncode in (SCAN_OK_CODES if stage in ("scan", "profile") else (0,))
    if r.timed_out:
        row.update(finished=False, error=f"not finished in {timeout_s:.0f} s (killed)")
        return row
    if not ok:
        row.update(finished=False, error=(r.stderr or r.stdout)[-1500:])
        return row
    row["finished"] = True
    if stage == "scan":
        meta = json.loads((work / "scan_run" / "run.json").read_text())
        row.update(
            stage_s=r.wall_s,
            stage_cpu_s=r.cpu_s,
            command=shlex.join(["graphkit", *cmd[3:]]),
            scan_timings=meta.get("timings", {}),
            findings=meta.get("findings", {}),
            row_counts=meta.get("row_counts", {}),
        )
    elif stage == "profile":
        row.update(stage_s=r.wall_s, stage_cpu_s=r.cpu_s, top=_profile_top(work / "scan.prof"))
    else:
        # the parent's measurements win over any same-named key of the child's report
        row.update({k: v for k, v in (r.last_json() or {}).items() if k not in row})
    return row


def _profile_top(path: Path, n: int = 25) -> list[dict[str, Any]]:
    """The functions with the most cumulative and own time in a cProfile file."""
    import pstats

    st = pstats.Stats(str(path))
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rel = file
        if "/graphkit/" in file:
            rel = "graphkit/" + file.split("/graphkit/", 1)[1]
        elif "site-packages/" in file:
            rel = file.split("site-packages/", 1)[1]
        rows.append(
            {"function": f"{rel}:{line}({func})", "calls": nc, "own_s": tt, "cumulative_s": ct}
        )
    own = sorted(rows, key=lambda r: -r["own_s"])[:n]
    cum = sorted(
        (r for r in rows if r["function"].startswith("graphkit/")),
        key=lambda r: -r["cumulative_s"],
    )[:n]
    rnd = [
        {**r, "own_s": round(r["own_s"], 3), "cumulative_s": round(r["cumulative_s"], 3)}
        for r in own
    ]
    rcm = [
        {**r, "own_s": round(r["own_s"], 3), "cumulative_s": round(r["cumulative_s"], 3)}
        for r in cum
    ]
    return [{"by": "own", "rows": rnd}, {"by": "cumulative (graphkit)", "rows": rcm}]


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_size(
    n: int,
    stages: list[str],
    args: argparse.Namespace,
    work_root: Path,
    skip_networkx: str | None,
) -> dict[str, Any]:
    """Measure every selected stage at one size; return its JSON entry."""
    quiet = None
    if args.wait_quiet:
        quiet = wait_until_quiet(args.wait_quiet, max_wait_s=args.wait_max, log=_log)
    started = now_utc()
    data = ensure_dataset(n, args.seed, work_root, args.timeout)
    _log(f"{size_label(n)}: dataset {data['path']} ({'reused' if data['reused'] else 'simulated'})")
    work = work_root / f"run_{n}_s{args.seed}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    rows = []
    for stage in stages:
        if stage == "community_networkx" and skip_networkx:
            rows.append(
                {
                    "stage": stage,
                    "finished": False,
                    "skipped": True,
                    "error": skip_networkx,
                }
            )
            continue
        timeout = args.networkx_timeout if stage == "community_networkx" else args.timeout
        row = run_stage(stage, Path(data["path"]), work, args.seed, timeout_s=timeout)
        rows.append(row)
        if row["finished"]:
            _log(
                f"{size_label(n)} {stage:<18} stage {_fmt(row.get('stage_s'))} s "
                f"(CPU {_fmt(row.get('stage_cpu_s'))}); child {row['wall_s']:.2f} s wall, "
                f"{row['cpu_s']:.2f} s CPU, peak {row['peak_rss_gib']:.3f} GiB; "
                f"load {row['load_before'][0]} -> {row['load_after'][0]}"
            )
        else:
            _log(f"{size_label(n)} {stage:<18} FAILED: {row.get('error', '')[-300:]}")
    return {
        "n_orders": n,
        "label": size_label(n),
        "seed": args.seed,
        "started": started,
        "finished": now_utc(),
        "commands": [args.command],
        "wait_quiet": quiet,
        "dataset": data,
        "machine": machine_info(),
        "stages": rows,
    }


def _networkx_skip(entry: dict[str, Any], sizes: list[int], timeout_s: float) -> str | None:
    """Why networkx is not run at the next size (``None``: run it).

    It did not finish at this size, or its time here, scaled linearly in the
    number of orders (a lower bound for Louvain), exceeds the timeout at the next.
    """
    row = _stage_row(entry, "community_networkx")
    n = entry["n_orders"]
    if row is None:
        return None
    if not row.get("finished"):
        return f"skipped: did not finish within {timeout_s:.0f} s at {size_label(n)} orders"
    nxt = sorted(m for m in sizes if m > n)
    if nxt and row["algo_s"] * nxt[0] / n > timeout_s:
        est = row["algo_s"] * nxt[0] / n
        return (
            f"skipped: {row['algo_s']:.0f} s at {size_label(n)} orders scales (linearly, a lower "
            f"bound) to {est:.0f} s at {size_label(nxt[0])}, over the {timeout_s:.0f} s timeout"
        )
    return None


def merge_entry(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Merge a new measurement of a size into the previous one.

    The stages measured again replace their old rows; the others are kept (each
    row carries its own date, load and git HEAD). The previous rows are dropped
    when the dataset changed (another simulator version or seed).

    Examples
    --------
    >>> old = {"dataset": {"fingerprint": "a"}, "commands": ["x"],
    ...        "stages": [{"stage": "graph"}, {"stage": "scan", "v": 1}]}
    >>> new = {"dataset": {"fingerprint": "a"}, "commands": ["y"],
    ...        "stages": [{"stage": "scan", "v": 2}]}
    >>> [r.get("v") for r in merge_entry(old, new)["stages"]], merge_entry(old, new)["commands"]
    ([None, 2], ['x', 'y'])
    """
    if old is None or old.get("dataset", {}).get("fingerprint") != new["dataset"].get(
        "fingerprint"
    ):
        return new
    fresh = {r["stage"] for r in new["stages"]}
    kept = [r for r in old["stages"] if r["stage"] not in fresh]
    order = {s: i for i, s in enumerate([*STAGES, *OPTIONAL_STAGES])}
    rows = sorted([*kept, *new["stages"]], key=lambda r: order.get(r["stage"], 99))
    commands = [c for c in old.get("commands", []) if c not in new["commands"]]
    return {
        **new,
        "started": old.get("started", new.get("started")),
        "stages": rows,
        "commands": [*commands, *new["commands"]],
    }


# =========================================================================== rendering
def _busy(load_before: list[float] | None, load_after: list[float] | None, cpus: int) -> str:
    if not load_before or not load_after:
        return "-"
    worst = max(load_before[0], load_after[0])
    tag = "busy" if worst > cpus + 0.5 else "quiet"
    return f"{load_before[0]:.1f} -> {load_after[0]:.1f} ({tag})"


def _stage_row(entry: dict[str, Any], stage: str) -> dict[str, Any] | None:
    return next((r for r in entry["stages"] if r["stage"] == stage), None)


def _sizes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(doc.get("sizes", {}).values(), key=lambda e: e["n_orders"])


def render_summary(doc: dict[str, Any]) -> str:
    """The top-of-RESULTS.md section: targets vs measured per size."""
    lines = [
        "## Summary (issue 9): targets vs measured, end-to-end `graphkit scan`",
        "",
        "Written by `python benchmarks/run.py` from `benchmarks/results/run.json` (never typed).",
        "Each size: the seeded simulator's marketplace (seed 0); `graphkit scan DATASET --out RUN`",
        "(read + validate, detection, every policy check, findings, report.html) in a fresh child",
        "process; wall and CPU seconds (user + system, all threads) and the child's own peak RSS.",
        "",
        "| orders | scan wall s | scan CPU s | peak RSS GiB | wall target | met? "
        "| load 1-min before -> after | date (UTC) | git HEAD |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    scans: dict[int, dict[str, Any]] = {}
    for e in _sizes(doc):
        r = _stage_row(e, "scan")
        if r is None:
            continue
        n = e["n_orders"]
        cpus = e["machine"].get("cpus") or 2
        tw = TARGETS["scan_wall_s"].get(n)
        tm = TARGETS["scan_peak_gib"].get(n)
        if not r.get("finished"):
            lines.append(
                f"| {n:,} | {r.get('error', 'failed')[:80]} | | | | no | | {e['started']} | |"
            )
            continue
        scans[n] = r
        met = []
        if tw is not None:
            met.append("yes" if r["wall_s"] <= tw else "**no**")
        if tm is not None:
            met.append(f"RSS {'yes' if r['peak_rss_gib'] <= tm else '**no**'}")
        target = " / ".join(
            x for x in (f"<= {tw:g} s" if tw else "", f"<= {tm:g} GiB" if tm else "") if x
        )
        lines.append(
            f"| {n:,} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_rss_gib']:.3f} | "
            f"{target or '-'} | {', '.join(met) or '-'} | "
            f"{_busy(r.get('load_before'), r.get('load_after'), cpus)} | "
            f"{r.get('date', e['started'])} | "
            f"{r.get('git_head', e['machine']['git']['head'])[:10]} |"
        )
    if 1_000_000 in scans and 10_000_000 in scans:
        a, b = scans[1_000_000], scans[10_000_000]
        rw, rc = b["wall_s"] / a["wall_s"], b["cpu_s"] / a["cpu_s"]
        ok = "yes" if rw <= TARGETS["ratio_10m_1m"] else "**no**"
        lines += [
            "",
            f"time(10M) / time(1M): **{rw:.1f}** wall ({rc:.1f} CPU); target <= "
            f"{TARGETS['ratio_10m_1m']:g}: {ok}.",
        ]
    machines = {
        (e["machine"]["cpu_model"], e["machine"]["cpus"], e["machine"]["mem_total_gib"])
        for e in _sizes(doc)
    }
    for cpu, cores, mem in sorted(machines, key=str):
        lines.append("")
        lines.append(f"Machine: {cpu}, {cores} cores, {mem} GiB RAM.")
    e0 = _sizes(doc)[-1] if doc.get("sizes") else None
    if e0 is not None:
        m = e0["machine"]
        pk = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
        lines.append(f"{m['os']}, Python {m['python']}; {pk}.")
    cmds = sorted({c for e in _sizes(doc) for c in e["commands"]})
    lines.append("Commands: " + "; ".join(f"`{c}`" for c in cmds) + ".")
    busy = [
        e["label"]
        for e in _sizes(doc)
        if (r := _stage_row(e, "scan"))
        and r.get("load_before")
        and max(r["load_before"][0], r["load_after"][0]) > (e["machine"].get("cpus") or 2) + 0.5
    ]
    if busy:
        lines += [
            "",
            f"**Busy machine** for {', '.join(busy)}: the 1-minute load was above the core count "
            "(other engineers' tests and benchmarks shared the 2 cores), so wall times are "
            "inflated and do not show a wall target met or missed; the CPU column is what the "
            "scan costs (contention inflates it far less). Re-run on a quiet machine to confirm.",
        ]
    lines += ["", *render_breakdown(doc)]
    lines.append("Stage by stage, quality and peers: the sections below.")
    return "\n".join(lines)


def breakdown(entry: dict[str, Any]) -> dict[str, float]:
    """CPU seconds of the parts of a scan, from the isolated stages of one size.

    Parts: validation, each step of ``detect_groups`` (timed inside it), rating
    signals, each policy check, the report. Their sum is compared with the
    end-to-end scan's CPU seconds (the rest: imports, writing, scores).
    """
    out: dict[str, float] = {}
    row = {r["stage"]: r for r in entry["stages"] if r.get("finished")}
    if "validate" in row:
        out["ingest + validate"] = row["validate"]["stage_cpu_s"]
    if "detect_groups" in row:
        parts = row["detect_groups"].get("parts", {})
        cpu = {k: v["cpu_s"] for k, v in parts.items()}
        named = {
            "detect: market graph": cpu.get("market_graph", 0.0),
            "detect: identity graph": cpu.get("identity_graph", 0.0),
            # Leiden in a child process (its CPU counted once reaped) or in this one
            "detect: Leiden": cpu.get("leiden_start", 0.0) + cpu.get("leiden_result", 0.0),
            "detect: ring test after Leiden": cpu.get("ring_members", 0.0),
            "detect: FRAUDAR": cpu.get("fraudar", 0.0),
            "detect: lockstep": cpu.get("lockstep", 0.0),
            "detect: identity clusters": cpu.get("identity_clusters", 0.0),
            "detect: edge suspicion + candidate subgraph": cpu.get("edge_suspicion", 0.0)
            + cpu.get("candidate_subgraph", 0.0),
            "detect: group scoring": sum(
                cpu.get(k, 0.0)
                for k in (
                    "group_scoring",
                    "group_scoring_linked",
                    "corroboration",
                    "account_signals",
                )
            ),
        }
        named["detect: rest"] = row["detect_groups"]["stage_cpu_s"] - sum(named.values())
        out.update(named)
    if "ratings" in row:
        out["rating signals"] = row["ratings"]["stage_cpu_s"]
    if "policies" in row:
        for rid, v in row["policies"].get("parts", {}).items():
            out[f"check {rid}"] = v["cpu_s"]
    if "report" in row:
        out["report"] = row["report"]["stage_cpu_s"]
    return {k: round(v, 2) for k, v in out.items()}


#: What limits the scan at scale and what would fix it (prose only: every number is in the
#: generated tables above and below it; the evidence is the breakdown and the profile).
LIMITS_NOTE = """\
**What limits it** (the breakdown above, the stage table below and the 10M scan's own stage
timings in `benchmarks/results/run.json`): the end-to-end scan is CPU-bound. Its CPU seconds
divided by the 2 cores is the floor for its wall time, and the scan now runs close to it. The
wall path at 10M: load + validate (both cores; the reference joins on string keys are most of
it); then group detection in the main thread (market graph, identity graph, edge suspicion,
the candidate subgraph; igraph's Leiden then runs in a child process, so the GIL stays free,
while FRAUDAR and lockstep run in the main thread), while the second thread runs the checks
that need no detection result, the detection-free parts of the other checks (their
`prefetch`: SHILL_PURCHASE's pair base, COUPON_ABUSE's redemptions), the rating base and
FEEDBACK_MANIPULATION's co-rated store pairs; the two threads finish about together; then a
short serial tail: rating signals, the rest of SHILL_PURCHASE, FEEDBACK_MANIPULATION and
COUPON_ABUSE, scores, write and report. About a fifth of the CPU is system time: page faults
as polars' allocator returns freed pages to the kernel and takes them again. graphkit has the
allocator return freed pages at once rather than a second later (`graphkit._allocator`, unless
`_RJEM_MALLOC_CONF` is set): the same time, a lower peak (the allocator sections below measure
it, and an operator setting that keeps pages longer: faster, more memory). Peak RSS is the
largest single process's (`wait4`): the Leiden child runs while the parent is below its own
peak (the child's own peak is not measured by a script here).

What would take it further, in order of expected gain: (1) encode account and order ids once
at ingest into dense integer codes kept in the `Dataset`: validation's reference joins (the
largest single part), the market graph's joins of the orders into the accounts, the rating
base's feedback-orders join, SHILL_PURCHASE's pair base and the identity graph each hash the
same strings again; (2) fewer fresh allocations on the 10M path (the system time); (3) Leiden's
single-threaded C call, which the main thread waits for at the end of detection at 10M.

Done in issue 9 (same outputs byte for byte unless stated; numbers in the commit messages and
the sections below): Leiden and FRAUDAR on the ring-candidate subgraph; the ring test after
Leiden, group scoring and the linked-cluster counts as array work on members' edges only;
account ids mapped to vertices by binary search of 64-bit hashes (`MarketGraph.vid_of`); the
rating base joins feedback to orders once and counts on dense integer ids, with group / link
flags set by integer membership and refund lookups on hashes confirmed exactly; per-seller
rating counts that need no detection result moved into the rating base; validation skips the
regex screen of id columns that reference a clean key and the duplicate-key count of
unreferenced keys that strictly increase; the report draws SVG (no matplotlib or networkx
import in `graphkit scan`) and the command line imports igraph without pyplot; the signal-free
checks, the checks' prefetches and the rating base run beside detection up to
`OVERLAP_MAX_ORDERS` (10M), reading tables into memory only up to `IN_MEMORY_MAX_ORDERS` (3M)
and lazily, column-projected, above (peak RSS stays under 6 GiB); igraph's Leiden call in a
child process above `CHILD_MIN_EDGES`; FEEDBACK_EXTORTION and COMM_SPAM screen messages on
64-bit hashes of the (sender, recipient) pair against the orders' pairs, read the orders once
and score each distinct text once; BPP_RETALIATION and BPP_FALSE_CLAIMS share one pass over the
cases. Tried and not kept: the streaming engine and `is_in` membership for validation's
reference rules (no gain, or a hash collision could hide a dangling id), hash or sort-merge
joins for the rating base (not cheaper at 10M), warming matplotlib in a thread (GIL),
SHILL_PURCHASE's prefetch after the rating base (its transient met detection's end: over the
6 GiB budget), lockstep in a third thread beside FRAUDAR (no gain, more memory), transparent
huge pages for polars' allocator (more system time).
Reproducibility: float results inside polars (parallel group-by sums, `x ** y`, division by
a literal) can differ in the last bit between two runs on the same input, depending on
chunking; so the policy scores built from a power are rounded to 6 places (as the finding
score is), every signal number of a finding to `SIGNAL_DECIMALS` (9) places, and the groups
table's scores and signal numbers likewise, so findings and groups are byte-identical run to
run.
"""


def render_breakdown(doc: dict[str, Any]) -> list[str]:
    """Where the scan's CPU goes, per size (a table; parts measured in isolated stages)."""
    sizes = [e for e in _sizes(doc) if breakdown(e)]
    if not sizes:
        return []
    parts: dict[str, list[float | None]] = {}
    tables = [breakdown(e) for e in sizes]
    for i, b in enumerate(tables):
        for k, v in b.items():
            parts.setdefault(k, [None] * len(sizes))[i] = v
    big = max(range(len(sizes)), key=lambda i: sizes[i]["n_orders"])
    order = sorted(parts, key=lambda k: -(parts[k][big] or 0.0))
    lines = [
        "Where the scan's CPU goes (CPU seconds of each part, measured in the isolated stages",
        "below; sorted by the largest size; the end-to-end scan's own CPU for comparison):",
        "",
        "| part | " + " | ".join(f"{e['label']} CPU s" for e in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for k in order:
        lines.append(f"| {k} | " + " | ".join(_fmt(v) for v in parts[k]) + " |")
    lines.append(
        "| **sum of the parts** | "
        + " | ".join(_fmt(round(sum(b.values()), 2)) for b in tables)
        + " |"
    )
    scan = []
    for e in sizes:
        r = _stage_row(e, "scan")
        scan.append(_fmt(r["cpu_s"]) if r and r.get("finished") else "-")
    lines += ["| **end-to-end scan (child CPU)** | " + " | ".join(scan) + " |", ""]
    return [*lines, LIMITS_NOTE]


_STAGE_TITLES = {
    "validate": "ingest + validate (`load_dataset`)",
    "graph": "graph build (market graph + identity graph)",
    "leiden": "Leiden communities",
    "fraudar": "FRAUDAR dense blocks",
    "lockstep": "lockstep groups",
    "identity": "identity clusters",
    "detect_groups": "`detect_groups` (all detectors + group scoring)",
    "ratings": "rating signals",
    "policies": "all policy checks",
    "scan": "**end-to-end `graphkit scan`**",
    "report": "report (`write_report`)",
    "quality": "quality (`evaluate_run`)",
    "community_igraph": "igraph Leiden (peer comparison)",
    "community_networkx": "networkx Louvain (peer comparison)",
    "profile": "scan under cProfile",
}


def _cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return "-"
    if not r.get("finished"):
        return (
            "skipped"
            if r.get("skipped")
            else "not finished"
            if "not finished" in str(r.get("error"))
            else "failed"
        )
    return f"{_fmt(r.get('stage_s'))} / {_fmt(r.get('stage_cpu_s'))} / {r['peak_rss_gib']:.2f}"


def render_stages(doc: dict[str, Any]) -> str:
    """Every stage at every size: stage wall / CPU seconds, child peak RSS."""
    sizes = _sizes(doc)
    head = "| stage | " + " | ".join(f"{e['label']} orders" for e in sizes) + " |"
    lines = [
        "## Benchmark suite (issue 9): every stage at every size",
        "",
        "Cell: **stage wall s / stage CPU s / child peak RSS GiB**. Each stage ran in its own",
        "child process; the stage's time excludes the child's imports and its setup (reading the",
        "dataset lazily and the previous stage's pickled results), the peak RSS includes them.",
        "Sub-steps (inside the same child, or inside `detect_groups`) are indented; policy",
        "checks ran one after another in one child (the first pays for collecting shared tables).",
        "",
        head,
        "|---|" + "---|" * len(sizes),
    ]
    for stage in [*STAGES, *OPTIONAL_STAGES]:
        if not any(_stage_row(e, stage) for e in sizes):
            continue
        lines.append(
            f"| {_STAGE_TITLES.get(stage, stage)} | "
            + " | ".join(_cell(_stage_row(e, stage)) for e in sizes)
            + " |"
        )
        subs: list[str] = []
        for e in sizes:
            r = _stage_row(e, stage) or {}
            for k in r.get("parts") or {}:
                if k not in subs:
                    subs.append(k)
        for k in subs:
            cells = []
            for e in sizes:
                part = ((_stage_row(e, stage) or {}).get("parts") or {}).get(k)
                cells.append(
                    "-" if part is None else f"{_fmt(part['wall_s'])} / {_fmt(part['cpu_s'])}"
                )
            lines.append(f"| &nbsp;&nbsp;{k} | " + " | ".join(cells) + " |")
        if stage == "scan":
            keys: list[str] = []
            for e in sizes:
                for k in (_stage_row(e, stage) or {}).get("scan_timings") or {}:
                    if not k.startswith("detail") and k not in keys:
                        keys.append(k)
            for k in keys:
                cells = [
                    _fmt(((_stage_row(e, stage) or {}).get("scan_timings") or {}).get(k))
                    for e in sizes
                ]
                lines.append(
                    f"| &nbsp;&nbsp;scan: {k} (wall s, run.json) | " + " | ".join(cells) + " |"
                )
    lines.append("")
    sim = []
    for e in sizes:
        d = e["dataset"]
        sim.append(
            f"{e['label']}: {_fmt(d.get('simulate_wall_s'))} s wall, "
            f"{_fmt(d.get('simulate_cpu_s'))} s CPU, "
            f"{_fmt(d.get('simulate_peak_rss_gib'), 3)} GiB peak "
            f"({'cached, simulated ' + str(d.get('simulated_at')) if d.get('reused') else 'now'})"
        )
    lines.append("Simulation (not part of the scan): " + "; ".join(sim) + ".")
    for e in sizes:
        loads = [r["load_before"][0] for r in e["stages"] if r.get("load_before")] + [
            r["load_after"][0] for r in e["stages"] if r.get("load_after")
        ]
        rng = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-"
        dirty = e["machine"]["git"]["dirty"]
        lines.append(
            f"- {e['label']}: {e['started']} -> {e['finished']}, 1-min load during stages {rng}, "
            f"git {e['machine']['git']['head'][:10]}"
            + (f" + {len(dirty)} uncommitted file(s) in the shared tree" if dirty else "")
            + "; "
            + "; ".join(f"`{c}`" for c in e["commands"])
        )
    return "\n".join(lines)


def render_quality(doc: dict[str, Any]) -> str:
    """Per-scenario precision / recall / F1 of the scan at each size."""
    sizes = [e for e in _sizes(doc) if (r := _stage_row(e, "quality")) and r.get("finished")]
    lines = ["## Benchmark suite (issue 9): detection quality per scenario and size", ""]
    if not sizes:
        return "\n".join([*lines, "No quality run yet."])
    lines += [
        "Accounts of each planted scenario (simulator labels, never shown to the scan) against",
        "the subjects of the findings of the rules mapped to it (`graphkit.evaluate`).",
        "Cell: **precision / recall / F1** (`-`: undefined, e.g. nothing predicted);",
        "`n` = planted accounts.",
        "",
        "| scenario | " + " | ".join(f"{e['label']}: P / R / F1 (n)" for e in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    scen: list[str] = []
    by: dict[tuple[str, str], dict[str, Any]] = {}
    for e in sizes:
        for r in _stage_row(e, "quality")["scenarios"]:  # type: ignore[index]
            if r["scenario"] not in scen:
                scen.append(r["scenario"])
            by[(e["label"], r["scenario"])] = r
    for s in sorted(scen):
        cells = []
        for e in sizes:
            r = by.get((e["label"], s))
            if r is None:
                cells.append("-")
                continue
            cells.append(
                f"{_fmt(r.get('precision'))} / {_fmt(r.get('recall'))} / {_fmt(r.get('f1'))} "
                f"({r.get('true_accounts', '-')})"
            )
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    aucs = " | ".join(_fmt(_stage_row(e, "quality").get("auc"), 3) for e in sizes)  # type: ignore[union-attr]
    lines.append(f"| ROC-AUC of risk_score | {aucs} |")
    return "\n".join(lines)


def render_peers(doc: dict[str, Any]) -> str:
    """networkx Louvain vs igraph Leiden; the FRAUDAR injection protocol."""
    lines = ["## Benchmark suite (issue 9): peers", ""]
    sizes = _sizes(doc)
    rows = []
    for e in sizes:
        for st in ("community_igraph", "community_networkx"):
            r = _stage_row(e, st)
            if r is None:
                continue
            if not r.get("finished"):
                rows.append(f"| {e['label']} | {st} | {r.get('error', 'failed')[:240]} | | | | | |")
                continue
            conv = f" (+ {r['convert_s']:.2f} s to build the nx graph)" if "convert_s" in r else ""
            rows.append(
                f"| {e['label']} | {r['algorithm']} | {r['algo_s']:.2f}{conv} | "
                f"{r['algo_cpu_s']:.2f} | "
                f"{r['peak_rss_gib']:.2f} | {r['communities']:,} | {r['modularity']} | "
                f"{r.get('nmi_vs_igraph', '-')} |"
            )
    if rows:
        lines += [
            "Community step of `detect_groups` (its suspicion-weighted buyer–seller graph,",
            "resolution and seed) with igraph Leiden as graphkit runs it and with",
            "`networkx.community.louvain_communities`; modularity of both partitions computed by",
            "igraph with the same weights and resolution; NMI = agreement with igraph's partition.",
            "networkx runs under a timeout (`--networkx-timeout`, 300 s by default).",
            "",
            "| orders | algorithm | wall s | CPU s | child peak RSS GiB | communities | modularity "
            "| NMI vs Leiden |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    fr = doc.get("fraudar_injection")
    if fr and fr.get("finished"):
        lines += [
            "FRAUDAR injection protocol (Hooi et al., KDD 2016; `bench_fraudar.run`, "
            f"{fr['edges']:,} background edges, 200x200 injected block + camouflage), run by "
            f"`{fr['command']}` on {fr['started']} "
            f"(load {_busy(fr['load_before'], fr['load_after'], 2)}):",
            "",
            "| camouflage | density | signal | F1 first block | F1 best of 3 (rank) | buyer F1 | "
            "edges/s wall | edges/s CPU |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in fr["rows"]:
            lines.append(
                f"| {r['camouflage']} | {r['density']:.2f} | {r['signal']} | "
                f"{r['f1_first_block']:.3f} | {r['f1_best_block']:.3f} ({r['best_block_rank']}) | "
                f"{r['f1_buyers_best']:.3f} | {r['edges_per_s']:,} | "
                f"{r.get('edges_per_cpu_s', 0):,} |"
            )
    elif fr:
        lines.append(f"FRAUDAR injection: {fr.get('error', 'failed')[:200]}")
    return "\n".join(lines)


def render_profile(doc: dict[str, Any]) -> str:
    """cProfile of the scan: where the time goes."""
    lines = ["## Benchmark suite (issue 9): profile of the scan", ""]
    found = False
    for e in _sizes(doc):
        r = _stage_row(e, "profile")
        if not r or not r.get("finished"):
            continue
        found = True
        lines.append(
            f"`{e['label']}` orders, cProfile of `graphkit scan` ({r['wall_s']:.1f} s wall under "
            f"the profiler, load {_busy(r['load_before'], r['load_after'], 2)}); top graphkit "
            "functions by cumulative time (polars/igraph work is attributed to the graphkit "
            "function that called it):"
        )
        lines += ["", "| function | calls | cumulative s | own s |", "|---|---|---|---|"]
        for part in r["top"]:
            if part["by"].startswith("cumulative"):
                for x in part["rows"][:20]:
                    lines.append(
                        f"| `{x['function']}` | {x['calls']:,} | {x['cumulative_s']:.2f} | "
                        f"{x['own_s']:.2f} |"
                    )
        lines.append("")
    if not found:
        lines.append("No profile yet (`--stages profile`).")
    notes = doc.get("profile_notes")
    if notes:
        lines += ["", notes]
    return "\n".join(lines)


def render_sections(doc: dict[str, Any], md: Path) -> None:
    """Rewrite the suite's marked sections of RESULTS.md from the JSON document."""
    update_section(md, "run-summary", render_summary(doc), position="top")
    update_section(md, "run-stages", render_stages(doc))
    update_section(md, "run-quality", render_quality(doc))
    update_section(md, "run-peers", render_peers(doc))
    if any(_stage_row(e, "profile") for e in _sizes(doc)):
        update_section(md, "run-profile", render_profile(doc))


# =========================================================================== main
def _parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100k,1M,10M", help="orders per size: 100k,1M,10M")
    ap.add_argument(
        "--stages",
        default=",".join([*STAGES, *GLOBAL_STAGES]),
        help=f"comma list of {', '.join([*STAGES, *OPTIONAL_STAGES, *GLOBAL_STAGES])}",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default=str(DEFAULT_WORK), help="scratch (datasets, run folders)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="results JSON (merged per size)")
    ap.add_argument("--results-md", default=str(DEFAULT_MD), help="'' to leave RESULTS.md alone")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per-stage timeout (s)")
    ap.add_argument("--networkx-timeout", type=float, default=300.0)
    ap.add_argument("--fraudar-edges", type=int, default=1_000_000)
    ap.add_argument("--wait-quiet", type=float, default=0.0, help="wait for 1-min load below this")
    ap.add_argument("--wait-max", type=float, default=900.0, help="longest wait per size (s)")
    ap.add_argument("--render", action="store_true", help="only rewrite RESULTS.md from --out")
    args = ap.parse_args(argv)
    args.command = "python benchmarks/run.py " + shlex.join(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the suite (see the module docstring); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_child":
        _child_main(argv[1:])
        return 0
    args = _parse_args(argv)
    out = Path(args.out)
    doc: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    doc.setdefault("benchmark", "suite")
    doc.setdefault("sizes", {})
    if not args.render:
        stages = [s.strip() for s in args.stages.split(",") if s.strip()]
        unknown = sorted(set(stages) - {*STAGES, *OPTIONAL_STAGES, *GLOBAL_STAGES})
        if unknown:
            raise SystemExit(f"unknown stage(s): {', '.join(unknown)}")
        per_size = [s for s in [*STAGES, *OPTIONAL_STAGES] if s in stages]
        sizes = sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()})
        work_root = Path(args.work)
        work_root.mkdir(parents=True, exist_ok=True)
        skip_nx: str | None = None
        for prev in _sizes(doc):  # earlier invocations: the largest smaller size decides
            if sizes and prev["n_orders"] < sizes[0]:
                skip_nx = _networkx_skip(prev, sizes, args.networkx_timeout)
        for n in sizes if per_size else []:
            entry = merge_entry(
                doc["sizes"].get(size_label(n)), run_size(n, per_size, args, work_root, skip_nx)
            )
            doc["sizes"][entry["label"]] = entry
            skip_nx = skip_nx or _networkx_skip(entry, sizes, args.networkx_timeout)
            doc["updated"] = now_utc()
            write_json(out, doc)
            if args.results_md:
                render_sections(doc, Path(args.results_md))
        if "fraudar_injection" in stages:
            _log(f"FRAUDAR injection protocol on {args.fraudar_edges:,} edges")
            started = now_utc()
            row = run_stage(
                "fraudar_injection",
                Path("."),
                work_root / "fraudar",
                args.seed,
                timeout_s=args.timeout,
                extra={"edges": args.fraudar_edges},
            )
            row.update(edges=args.fraudar_edges, command=args.command, started=started)
            row["git"] = git_state()
            doc["fraudar_injection"] = row
            _log(f"FRAUDAR injection: {row['wall_s']:.1f} s, finished={row['finished']}")
        doc["updated"] = now_utc()
        write_json(out, doc)
        _log(f"written: {out}")
    if args.results_md:
        render_sections(doc, Path(args.results_md))
        _log(f"updated: {args.results_md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
