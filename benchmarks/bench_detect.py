"""Time and peak memory of graph building and of each detector, plus Leiden vs networkx Louvain.

Each stage runs in a fresh child process (so peak RSS is that stage's, not the
sum of everything before it); wall and CPU seconds (``*_cpu_s``: user + system
time of the child, all threads) are both reported, because the 2-core machine
is shared and wall time inflates with its load: the child loads the dataset lazily from parquet,
builds the buyer–seller graph (timed as ``build_s``), then runs the stage
(timed as ``stage_s``) and reports its peak RSS (``ru_maxrss``; it includes the
graph build, which every detector needs).

Stage ``all`` runs every stage below except ``detect_groups`` in one process,
building the graph once (used at 10M orders; peak RSS is then cumulative).
Stages: ``market_graph`` (build only), ``igraph`` (the igraph object from the
edge arrays), ``identity_graph``, ``leiden`` (igraph Leiden, default
resolution 5), ``dense_blocks`` (FRAUDAR, 5 blocks), ``lockstep``,
``detect_groups`` (everything, scoring included).

Louvain comparison: on the first N orders of a dataset, the same undirected
buyer–seller graph (unit weights) goes to ``networkx.community.louvain_communities``
(seed 0) and to igraph's ``community_leiden`` (modularity, resolution 1; 2
iterations as graphkit runs it, and until stable); time and modularity of each,
on the accounts with at least one order. networkx runs under a 300 s
timeout; sizes that do not finish are reported as such.

Run::

    python benchmarks/bench_detect.py --data benchmarks/_work/scan_1000000_s0 \
        --data benchmarks/_work/validate_10000000_6000000_s0 \
        --louvain-data benchmarks/_work/scan_1000000_s0 --louvain-sizes 100000,300000,1000000 \
        --out benchmarks/results/detect.json

Before/after a change (each side a ``git archive`` export on ``PYTHONPATH``, so that
uncommitted edits in the shared tree cannot reach the runs), then the RESULTS.md section::

    PYTHONPATH=<export> python <export>/benchmarks/bench_detect.py --data ... \
        --stages detect_groups --out before.json      # and after.json
    python benchmarks/bench_detect.py --update-results before.json after.json \
        "<before commit>" "<after commit>" [<section name, default bench_detect_issue9>]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_seconds

STAGES = (
    "market_graph",
    "igraph",
    "identity_graph",
    "leiden",
    "dense_blocks",
    "lockstep",
    "detect_groups",
)


def _dataset(folder: str, n_orders: int | None = None):
    from graphkit.dataset import Dataset

    tables = {}
    for p in sorted(Path(folder).glob("*.parquet")):
        if p.stem in ("labels",) or p.stem.startswith("_"):
            continue
        tables[p.stem] = pl.scan_parquet(p)
    if n_orders is not None:
        tables["orders"] = tables["orders"].head(n_orders)
    as_of = tables["orders"].select(pl.col("created_at").max()).collect().item()
    return Dataset(tables=tables, as_of=as_of)


def _peak_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)


class _Timer:
    """Wall and CPU seconds (this process, all threads, reaped children) of a block."""

    def __enter__(self) -> _Timer:
        self.w0, self.c0 = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = round(time.perf_counter() - self.w0, 2)
        self.cpu = round(cpu_seconds() - self.c0, 2)


def child_stage(folder: str, stage: str) -> dict[str, object]:
    from datetime import timedelta

    from graphkit.detect import detect_groups
    from graphkit.detect.communities import leiden_membership
    from graphkit.detect.dense import dense_blocks
    from graphkit.detect.lockstep import lockstep_groups
    from graphkit.graph import build_identity_graph, build_market_graph

    ds = _dataset(folder)
    out: dict[str, object] = {"stage": stage}
    if stage == "detect_groups":
        parts = _instrument_parts()
        with _Timer() as tm:
            det = detect_groups(ds, seed=0)
        out["stage_s"], out["stage_cpu_s"] = tm.wall, tm.cpu
        out["parts_cpu_s"] = {k: round(v, 2) for k, v in parts.items()}
        out["groups"] = det.groups.group_by("kind").len().sort("kind").rows()
        out["peak_rss_gib"] = _peak_gib()
        labels = Path(folder) / "labels.parquet"
        if labels.exists():
            out["quality"] = _ring_quality(det.groups, pl.read_parquet(labels))
        return out
    if stage == "identity_graph":
        with _Timer() as tm:
            idg = build_identity_graph(ds)
        out["stage_s"], out["stage_cpu_s"] = tm.wall, tm.cpu
        out["links"] = idg.links.height
        out["hubs"] = idg.hubs.height
        out["has_identifiers"] = ds.has("identifiers")
        out["peak_rss_gib"] = _peak_gib()
        return out
    with _Timer() as tm:
        mg = build_market_graph(ds)
    out["build_s"], out["build_cpu_s"] = tm.wall, tm.cpu
    out["vertices"] = mg.vertices.height
    out["edges"] = mg.edges.height
    if stage == "leiden":
        with _Timer() as tm:
            _ = mg.graph
        out["igraph_s"], out["igraph_cpu_s"] = tm.wall, tm.cpu
    with _Timer() as tm:
        if stage == "igraph":
            _ = mg.graph
        elif stage == "leiden":
            memb = leiden_membership(mg, resolution=5.0, seed=0)
            out["communities"] = int(memb.max()) + 1
        elif stage == "dense_blocks":
            out["blocks"] = dense_blocks(mg, n_blocks=5)["block"].n_unique()
        elif stage == "lockstep":
            lock = lockstep_groups(
                ds.orders.select("buyer_id", "seller_id", "created_at"), window=timedelta(days=3)
            )
            out["groups"] = lock["group"].n_unique()
    out["stage_s"], out["stage_cpu_s"] = tm.wall, tm.cpu
    out["peak_rss_gib"] = _peak_gib()
    return out


#: detect_groups' sub-steps timed by ``_instrument_parts`` (module, function, label).
PARTS = (
    ("graphkit.graph.build", "build_market_graph", "market_graph"),
    ("graphkit.graph.build", "build_identity_graph", "identity_graph"),
    ("graphkit.detect.rings", "edge_suspicion", "edge_suspicion"),
    ("graphkit.detect.rings", "ring_candidate_edges", "candidate_subgraph"),
    ("graphkit.detect.communities", "leiden_membership", "leiden"),
    # detect_groups starts Leiden (in a child process above CHILD_MIN_EDGES), runs FRAUDAR
    # and lockstep, then collects it: the wait counts the child's CPU once it is reaped
    ("graphkit.detect.communities", "start_leiden_membership", "leiden start"),
    ("graphkit.detect.communities", "LeidenJob.result", "leiden result (child CPU incl.)"),
    ("graphkit.detect.rings", "_ring_candidates", "ring_candidates (incl. leiden)"),
    ("graphkit.detect.dense", "dense_blocks", "fraudar"),
    ("graphkit.detect.lockstep", "lockstep_groups", "lockstep"),
    ("graphkit.detect.identity", "linked_account_clusters", "identity_clusters"),
    ("graphkit.detect.rings", "score_groups", "group_scoring"),
    ("graphkit.detect.rings", "_score_linked", "linked_scoring"),
    ("graphkit.detect.rings", "_with_corroboration", "corroboration"),
    ("graphkit.detect.rings", "_account_signals", "account_signals"),
)


def _instrument_parts() -> dict[str, float]:
    """Wrap detect_groups' sub-steps with CPU timers (user + system of this process).

    The wrapped functions are looked up by module attribute at call time, so the
    wrappers see every call; nested parts (Leiden inside ring_candidates) count in both.
    """
    import functools
    import importlib

    acc: dict[str, float] = {}
    for mod_name, fn_name, label in PARTS:
        owner = importlib.import_module(mod_name)
        *path, fn_name = fn_name.split(".")  # "Class.method": wrap the method on its class
        for attr in path:
            owner = getattr(owner, attr, None)
        fn = getattr(owner, fn_name, None)
        if fn is None:
            continue

        def wrapped(*a, __fn=fn, __label=label, **k):
            c0 = cpu_seconds()
            try:
                return __fn(*a, **k)
            finally:
                acc[__label] = acc.get(__label, 0.0) + cpu_seconds() - c0

        setattr(owner, fn_name, functools.wraps(fn)(wrapped))
    return acc


def _ring_quality(groups: pl.DataFrame, labels: pl.DataFrame) -> dict[str, object]:
    """Per planted shill ring: best Jaccard with a reported group (by kind); and the share of
    planted-scenario accounts in every buyer–seller group scoring >= 0.5."""
    acc = labels.filter(pl.col("entity_kind") == "account")
    rings = (
        acc.filter(pl.col("scenario") == "shill_ring")
        .group_by("group_id")
        .agg(pl.col("entity_id"))
        .sort("group_id")
    )
    per_ring = []
    for truth in rings["entity_id"].to_list():  # a few planted rings
        t = set(truth)
        best: dict[str, float] = {}
        for kind, members in zip(groups["kind"], groups["member_ids"].to_list(), strict=True):
            j = len(t & set(members)) / len(t | set(members))
            best[kind] = round(max(best.get(kind, 0.0), j), 3)
        per_ring.append({"size": len(t), "best_jaccard": best})
    labelled = acc["entity_id"].unique()
    strong = groups.filter((pl.col("score") >= 0.5) & (pl.col("kind") != "linked_accounts"))
    shares = strong.select(
        pl.col("member_ids").list.eval(pl.element().is_in(labelled.implode())).list.mean()
    ).to_series()
    return {
        "n_planted_rings": rings.height,
        "rings": per_ring,
        "strong_groups": strong.height,
        "strong_groups_mostly_planted": int((shares >= 0.5).sum()),
    }


def child_all(folder: str) -> dict[str, object]:
    """Every stage in one process (build once): for the largest size, where rebuilding the
    graph per stage costs more than the stages. Peak RSS after each stage is cumulative."""
    from datetime import timedelta

    from graphkit.detect.communities import leiden_membership
    from graphkit.detect.dense import dense_blocks
    from graphkit.detect.lockstep import lockstep_groups
    from graphkit.graph import build_identity_graph, build_market_graph

    ds = _dataset(folder)
    out: dict[str, object] = {"stage": "all_in_one_process"}
    steps: list[dict[str, object]] = []

    def step(name: str, fn: object) -> object:
        with _Timer() as tm:
            res = fn()  # type: ignore[operator]
        steps.append(
            {"step": name, "wall_s": tm.wall, "cpu_s": tm.cpu, "peak_rss_gib": _peak_gib()}
        )
        return res

    mg = step("market_graph", lambda: build_market_graph(ds))
    out["vertices"], out["edges"] = mg.vertices.height, mg.edges.height  # type: ignore[attr-defined]
    step("igraph", lambda: mg.graph)  # type: ignore[attr-defined]
    idg = step("identity_graph", lambda: build_identity_graph(ds))
    out["links"] = idg.links.height  # type: ignore[attr-defined]
    memb = step("leiden", lambda: leiden_membership(mg, resolution=5.0, seed=0))  # type: ignore[arg-type]
    out["communities"] = int(memb.max()) + 1  # type: ignore[attr-defined]
    step("dense_blocks", lambda: dense_blocks(mg, n_blocks=5))  # type: ignore[arg-type]
    step(
        "lockstep",
        lambda: lockstep_groups(
            ds.orders.select("buyer_id", "seller_id", "created_at"), window=timedelta(days=3)
        ),
    )
    out["steps"] = steps
    out["peak_rss_gib"] = _peak_gib()
    return out


def child_louvain(folder: str, n_orders: int, which: str) -> dict[str, object]:
    """``which``: ``networkx`` (louvain_communities, seed 0), ``igraph_leiden`` (2
    iterations, graphkit's default) or ``igraph_leiden_stable`` (until stable)."""
    iters = -1 if which == "igraph_leiden_stable" else 2
    import numpy as np

    from graphkit.graph import build_market_graph

    mg = build_market_graph(_dataset(folder, n_orders))
    b = mg.edges["buyer_vid"].to_numpy()
    s = mg.edges["seller_vid"].to_numpy()
    g = mg.graph.as_undirected(mode="each")
    # accounts without an order in the first N orders are left out (they would be
    # singleton communities for both algorithms)
    active = np.flatnonzero(np.asarray(g.degree()) > 0)
    g = g.induced_subgraph(active.tolist())
    remap = np.full(mg.vertices.height, -1, dtype=np.int64)
    remap[active] = np.arange(len(active))
    b, s = remap[b], remap[s]
    out: dict[str, object] = {
        "which": which,
        "orders": n_orders,
        "edges": len(b),
        "vertices": g.vcount(),
    }
    if which == "networkx":
        import networkx as nx

        with _Timer() as tm:
            G = nx.Graph()
            G.add_nodes_from(range(g.vcount()))
            G.add_edges_from(zip(b.tolist(), s.tolist(), strict=True))
        out["convert_s"] = tm.wall
        with _Timer() as tm:
            comms = nx.community.louvain_communities(G, seed=0)
        memb = np.empty(g.vcount(), dtype=np.int64)
        for i, c in enumerate(comms):  # loop over communities, to score with igraph
            memb[list(c)] = i
    else:
        import random

        import igraph

        igraph.set_random_number_generator(random.Random(0))
        with _Timer() as tm:
            memb = np.asarray(
                g.community_leiden(objective_function="modularity", n_iterations=iters).membership
            )
    out["seconds"], out["cpu_s"] = tm.wall, tm.cpu
    out["communities"] = len(np.unique(memb))
    out["modularity"] = round(g.modularity(memb.tolist()), 4)
    out["peak_rss_gib"] = _peak_gib()
    return out


def _run_child(args: list[str], timeout: float | None = None) -> dict[str, object]:
    cmd = [sys.executable, __file__, *args]
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"args": args, "timeout_s": timeout, "finished": False}
    if res.returncode != 0:
        return {"args": args, "error": res.stderr[-2000:], "finished": False}
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["wall_s"] = round(time.perf_counter() - t0, 2)
    out["finished"] = True
    return out


def render(path: str) -> str:
    """Markdown rows of a results JSON (pasted into RESULTS.md, never typed)."""
    with open(path) as fh:
        res = json.load(fh)
    out = (
        [
            "| data | stage | vertices / edges | build wall s (CPU s) | stage wall s (CPU s) | "
            "peak RSS GiB | notes |",
            "|---|---|---|---|---|---|---|",
        ]
        if res["stages"]
        else []
    )
    for r in res["stages"]:
        if not r.get("finished"):
            out.append(f"| {Path(r['data']).name} | {r['args'][2]} | | | | | failed |")
            continue
        if r["stage"] == "all_in_one_process":
            size = f"{r['vertices']:,} / {r['edges']:,}"
            for st in r["steps"]:
                out.append(
                    f"| {Path(r['data']).name} | {st['step']} (one process) | {size} | - | "
                    f"{st['wall_s']} ({st['cpu_s']}) | {st['peak_rss_gib']} (cumulative) | |"
                )
            continue
        build = f"{r['build_s']} ({r['build_cpu_s']})" if "build_s" in r else "-"
        size = f"{r['vertices']:,} / {r['edges']:,}" if "edges" in r else "-"
        notes = {
            k: r[k]
            for k in (
                "igraph_s",
                "communities",
                "blocks",
                "groups",
                "links",
                "hubs",
                "has_identifiers",
            )
            if k in r
        }
        out.append(
            f"| {Path(r['data']).name} | {r['stage']} | {size} | {build} | "
            f"{r['stage_s']} ({r['stage_cpu_s']}) | {r['peak_rss_gib']} | {notes} |"
        )
    for r in res["stages"]:
        if "parts_cpu_s" in r:
            parts = ", ".join(f"{k} {v}" for k, v in r["parts_cpu_s"].items())
            out.append(
                f"\nCPU s per part ({Path(r['data']).name}, nested parts counted in both): {parts}."
            )
    for r in res["stages"]:
        if "quality" in r:
            q = r["quality"]
            best = [max(x["best_jaccard"].values(), default=0.0) for x in q["rings"]]
            if len(best) > 12:
                srt = sorted(best)
                best_txt = (
                    f"{sum(b >= 0.8 for b in best)} with Jaccard >= 0.8, median "
                    f"{srt[len(srt) // 2]}, lowest {srt[:5]}"
                )
            else:
                best_txt = f"best Jaccard per ring {best}"
            out.append(
                f"\nRing recovery ({Path(r['data']).name}): {q['n_planted_rings']} planted "
                f"shill rings, {best_txt}; {q['strong_groups_mostly_planted']} "
                f"of {q['strong_groups']} buyer–seller groups scoring >= 0.5 are mostly "
                "planted-scenario accounts."
            )
    if res["louvain"]:
        out += [
            "",
            "| orders | edges | algorithm | wall s (CPU s) | communities | modularity "
            "| peak RSS GiB |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in res["louvain"]:
            if not r.get("finished"):
                why = f"not finished in {r['timeout_s']} s" if "timeout_s" in r else "failed"
                out.append(f"| {r['args'][2]} | | {r['args'][3]} | {why} | | | |")
                continue
            out.append(
                f"| {r['orders']:,} | {r['edges']:,} | {r['which']} | {r['seconds']} "
                f"({r['cpu_s']}) | {r['communities']:,} | {r['modularity']} | {r['peak_rss_gib']} |"
            )
    out.append(
        f"\nStarted {res['started']}; load average before {res['loadavg_before']}, after "
        f"{res['loadavg_after']}; command `{res['command']}`."
    )
    return "\n".join(out)


def render_compare(before: str, after: str) -> str:
    """One markdown row per dataset: the detect_groups stage of two results JSONs."""
    rows = [
        "| data | CPU s before -> after | wall s before -> after (load before) | peak RSS GiB "
        "| groups before | groups after | rings Jaccard >= 0.8 | groups >= 0.5 mostly planted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    with open(before) as fh:
        b_res = json.load(fh)
    with open(after) as fh:
        a_res = json.load(fh)
    b_rows = {r["data"]: r for r in b_res["stages"] if r.get("stage") == "detect_groups"}
    for a in a_res["stages"]:
        b = b_rows.get(a["data"])
        if a.get("stage") != "detect_groups" or b is None:
            continue

        def rings(r: dict) -> str:
            best = [max(x["best_jaccard"].values(), default=0.0) for x in r["quality"]["rings"]]
            return f"{sum(x >= 0.8 for x in best)}/{len(best)}"

        def strong(r: dict) -> str:
            q = r["quality"]
            return f"{q['strong_groups_mostly_planted']} of {q['strong_groups']}"

        rows.append(
            f"| {Path(a['data']).name} | {b['stage_cpu_s']} -> {a['stage_cpu_s']} "
            f"| {b['stage_s']} ({b_res['loadavg_before'][0]}) -> {a['stage_s']} "
            f"({a_res['loadavg_before'][0]}) | {b['peak_rss_gib']} -> {a['peak_rss_gib']} "
            f"| {b['groups']} | {a['groups']} | {rings(b)} -> {rings(a)} "
            f"| {strong(b)} -> {strong(a)} |"
        )
    return "\n".join(rows)


def update_results(
    before: str,
    after: str,
    *,
    labels: tuple[str, str] = ("before", "after"),
    section: str = "bench_detect_issue9",
    md: str | None = None,
) -> str:
    """Write the before/after comparison of two results JSONs into RESULTS.md.

    The text between ``<!-- BEGIN <section> -->`` and ``<!-- END <section> -->`` is
    replaced (the markers are appended at the end of the file when absent): the
    :func:`render_compare` table, the CPU seconds per part of each run, and each run's
    start time, load average before and after, machine and command, all read from the
    JSONs (nothing typed); ``labels`` name the code each run used (e.g. the exported
    commit). Returns the section's text.
    """
    with open(before) as fh:
        b_res = json.load(fh)
    with open(after) as fh:
        a_res = json.load(fh)
    lines = [render_compare(before, after), ""]
    named = ((f"before ({labels[0]})", b_res), (f"after ({labels[1]})", a_res))
    for label, res in named:
        for r in res["stages"]:
            if "parts_cpu_s" in r:
                parts = ", ".join(f"{k} {v}" for k, v in r["parts_cpu_s"].items())
                lines.append(
                    f"- {label}, {Path(r['data']).name}: CPU s per part (nested parts counted "
                    f"in both): {parts}."
                )
    lines.append("")
    for label, res in named:
        load_b, load_a = res["loadavg_before"], res["loadavg_after"]
        busy = "busy" if max(load_b[0], load_a[0]) > 3 else "quiet"
        lines.append(
            f"- {label}: started {res['started']} on {res['machine']['platform']}, "
            f"{res['machine']['cpus']} cores, Python {res['machine']['python']}; load average "
            f"before {load_b}, after {load_a} (**{busy}**: 1-minute load "
            f"{'above' if busy == 'busy' else 'at or below'} 3 on 2 cores); command "
            f"`{res['command']}`."
        )
    text = "\n".join(lines)
    path = Path(md) if md else Path(__file__).with_name("RESULTS.md")
    doc = path.read_text()
    begin, end = f"<!-- BEGIN {section} -->", f"<!-- END {section} -->"
    if begin in doc and end in doc:
        head, rest = doc.split(begin, 1)
        doc = head + begin + "\n" + text + "\n" + end + rest.split(end, 1)[1]
    else:
        doc = doc.rstrip("\n") + f"\n\n{begin}\n{text}\n{end}\n"
    path.write_text(doc)
    return text


def main() -> None:
    if len(sys.argv) in (4, 6, 7) and sys.argv[1] == "--update-results":
        labels = (sys.argv[4], sys.argv[5]) if len(sys.argv) >= 6 else ("before", "after")
        section = sys.argv[6] if len(sys.argv) == 7 else "bench_detect_issue9"
        print(update_results(sys.argv[2], sys.argv[3], labels=labels, section=section))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--render":
        print(render(sys.argv[2]))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--render-compare":
        print(render_compare(sys.argv[2], sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        stage = sys.argv[3]
        res = child_all(sys.argv[2]) if stage == "all" else child_stage(sys.argv[2], stage)
        print(json.dumps(res))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_louvain":
        print(json.dumps(child_louvain(sys.argv[2], int(sys.argv[3]), sys.argv[4])))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", default=[])
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--louvain-data")
    ap.add_argument("--louvain-sizes", default="")
    ap.add_argument("--louvain-timeout", type=float, default=300.0)
    ap.add_argument("--out", default="benchmarks/results/detect.json")
    args = ap.parse_args()
    report: dict[str, object] = {
        "benchmark": "detect",
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        "stages": [],
        "louvain": [],
    }
    for folder in args.data:
        for stage in args.stages.split(","):
            row = {"data": folder, **_run_child(["_child", folder, stage])}
            print(json.dumps(row), flush=True)
            report["stages"].append(row)  # type: ignore[union-attr]
    if args.louvain_data:
        for n in [int(x) for x in args.louvain_sizes.split(",") if x]:
            for which in ("igraph_leiden", "igraph_leiden_stable", "networkx"):
                timeout = args.louvain_timeout if which == "networkx" else None
                row = {
                    "data": args.louvain_data,
                    **_run_child(["_louvain", args.louvain_data, str(n), which], timeout),
                }
                print(json.dumps(row), flush=True)
                report["louvain"].append(row)  # type: ignore[union-attr]
    report["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
