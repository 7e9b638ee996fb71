"""Benchmark the rating signals: speed/memory at scale, and detection quality on simulated data.

``speed``: runs :func:`graphkit.detect.ratings.rating_signals` on a Parquet
dataset (default: the 10M orders / 6M feedback dataset of
``bench_validate.py`` in ``benchmarks/_work/``, generated with its seeded
generator when missing) in a fresh child process per repeat, with a synthetic
table of identity links (random buyer-seller and buyer-buyer pairs) so that
the link and trading joins do real work. Measures wall time and the child's
peak RSS. The dataset is read with ``scan_parquet`` (no validation: that is
``bench_validate``'s job), so the time includes reading the columns used.

``quality``: simulates marketplaces (``graphkit.simulate``), builds the
identity links with ``graphkit.graph.build.build_identity_graph``, runs the
rating signals, and scores them against the labels: per scenario
(``shill_ring``, ``camouflage``, ``feedback_trading``, ``dsr_manipulation``)
the recall of the planted sellers at ``manipulation_score >= 0.5`` (the
FEEDBACK_MANIPULATION policy's default) and of the planted buyer -> seller
feedback marked ``suspicious``; their precision; and the false-positive rate on
honest fast-growing sellers (unlabelled stores registered inside the data, or
whose ratings in the last 60 days are at least twice those of the 60 days
before, with at least 20 ratings).

``stages``: the two stages a scan runs, ``rating_base`` and ``rating_signals`` given
the detected groups, on a simulated dataset (``benchmarks/_work/sim_*``), loaded and
validated as the scan loads it (in memory up to the scan's overlap size), for one or
more code versions (``--code LABEL=DIR``: ``PYTHONPATH`` of an export of a commit),
alternating versions run by run, each run in a fresh process started outside the
repository (so that ``DIR`` is what is imported). Detection runs once (first version)
and its members, links and group scores are cached (``--detect-cache``). Each run
reports wall and CPU seconds (user + system, all threads) of both stages, the peak RSS,
and a SHA-256 of the four output tables, so that versions are shown to give the same
output.

Usage::

    python benchmarks/bench_ratings.py speed --repeat 2
    python benchmarks/bench_ratings.py quality --orders 1000000 --seeds 0 1
    python benchmarks/bench_ratings.py stages --dataset benchmarks/_work/sim_1000000_s0 \
        --code before=/tmp/before --code after=/tmp/after --repeat 3
    python benchmarks/bench_ratings.py report   # rewrites this script's section of RESULTS.md

Each writes a JSON into ``benchmarks/results/`` with the machine, the load
average before and after, the exact command and every number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
RESULTS = HERE / "results"
TARGET_SECONDS = 15.0
RATING_SCENARIOS = ("shill_ring", "camouflage", "feedback_trading", "dsr_manipulation")


def _machine() -> dict:
    import polars as pl

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "platform": platform.platform(),
    }


def _write(name: str, payload: dict, out: str | None) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"wrote {path}")
    return path


def _code_version() -> str:
    """The commit the measured code is at (``-dirty`` when ``graphkit/`` has uncommitted edits).

    When ``graphkit`` is imported from an export of a commit (``PYTHONPATH=DIR`` with
    ``DIR/COMMIT`` naming it, see ``bench_quality.py``), that commit.
    """
    import graphkit

    marker = Path(graphkit.__file__).resolve().parent.parent / "COMMIT"
    if marker.exists() and marker.parent != HERE.parent:
        return marker.read_text(encoding="utf-8").strip()[:10] + " (export)"
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        clean = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", "graphkit"], cwd=HERE.parent, check=False
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("" if clean.returncode == 0 else "-dirty")


# --------------------------------------------------------------------------------------- speed
def _dataset_dir(n_orders: int, n_feedback: int) -> Path:
    folder = WORK / f"validate_{n_orders}_{n_feedback}_s0"
    if not (folder / "feedback.parquet").exists():
        sys.path.insert(0, str(HERE))
        from bench_validate import generate  # the shared seeded generator

        folder.mkdir(parents=True, exist_ok=True)
        generate(folder, n_orders, n_feedback, seed=0)
    return folder


def _child(folder: str, n_links: int) -> None:
    """Run once in this (child) process and print a JSON line with the numbers."""
    import numpy as np
    import polars as pl

    from graphkit.dataset import Dataset
    from graphkit.detect.ratings import rating_signals

    t_import = time.perf_counter()
    tables = {
        p.stem: pl.scan_parquet(p)
        for p in sorted(Path(folder).glob("*.parquet"))
        if not p.stem.startswith("_")
    }
    as_of = tables["feedback"].select(pl.col("created_at").max()).collect().item()
    ds = Dataset(tables=tables, as_of=as_of)
    rng = np.random.default_rng(0)
    sellers = tables["orders"].select("seller_id").unique().sort("seller_id").collect()["seller_id"]
    buyers = tables["orders"].select("buyer_id").unique().sort("buyer_id").collect()["buyer_id"]
    half = n_links // 2
    links = pl.DataFrame(
        {
            "account_a": pl.concat(
                [
                    buyers.gather(rng.integers(0, len(buyers), half)),
                    buyers.gather(rng.integers(0, len(buyers), n_links - half)),
                ]
            ),
            "account_b": pl.concat(
                [
                    sellers.gather(rng.integers(0, len(sellers), half)),
                    buyers.gather(rng.integers(0, len(buyers), n_links - half)),
                ]
            ),
        }
    ).filter(pl.col("account_a") != pl.col("account_b"))
    prep = time.perf_counter() - t_import
    t0, ru0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    sig = rating_signals(ds, identity_links=links)
    seconds = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        json.dumps(
            {
                "rating_signals_seconds": round(seconds, 3),
                "rating_signals_cpu_seconds": round(cpu, 3),
                "prep_seconds": round(prep, 3),
                "peak_rss_gib": round(peak, 3),
                "rows": {
                    "sellers": sig.sellers.height,
                    "raters": sig.raters.height,
                    "feedback": sig.feedback.height,
                    "trading_pairs": sig.trading_pairs.height,
                    "links": links.height,
                },
                "sellers_score_ge_0_5": int((sig.sellers["manipulation_score"] >= 0.5).sum()),
            }
        )
    )


def speed(args: argparse.Namespace) -> None:
    folder = _dataset_dir(args.orders, args.feedback)
    sizes = (
        json.loads((folder / "_sizes.json").read_text())
        if (folder / "_sizes.json").exists()
        else {}
    )
    load_before = os.getloadavg()
    runs = []
    for _ in range(args.repeat):
        cmd = [sys.executable, __file__, "_child", str(folder), str(args.links)]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if res.returncode != 0:
            print(res.stderr, file=sys.stderr)
            raise SystemExit(res.returncode)
        run = json.loads(res.stdout.strip().splitlines()[-1])
        run["process_wall_seconds"] = round(wall, 3)
        run["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        runs.append(run)
        print(run)
    secs = sorted(r["rating_signals_seconds"] for r in runs)
    payload = {
        "benchmark": "ratings_speed",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "code": _code_version(),
        "machine": _machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "dataset": {"folder": str(folder.relative_to(HERE.parent)), "sizes": sizes},
        "runs": runs,
        "rating_signals_seconds_min": secs[0],
        "rating_signals_seconds_median": secs[len(secs) // 2],
        "peak_rss_gib_max": max(r["peak_rss_gib"] for r in runs),
        "target_seconds": TARGET_SECONDS,
        "meets_target": secs[0] <= TARGET_SECONDS,
    }
    _write(f"ratings_speed_{args.orders}_{args.feedback}", payload, args.out)


# -------------------------------------------------------------------------------------- stages
def _stages_child(folder: str, cache: str) -> None:
    """Time rating_base and rating_signals once in this (child) process; print a JSON line."""
    import hashlib
    import io

    import polars as pl

    import graphkit
    from graphkit.io import load_dataset

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    w0, c0 = time.perf_counter(), cpu()
    ds = load_dataset(folder)
    try:
        from graphkit.scan import OVERLAP_MAX_ORDERS as limit
    except ImportError:  # pragma: no cover - older code
        limit = 3_000_000
    if ds.row_counts().get("orders", 0) <= limit:
        ds = ds.in_memory()  # as the scan does at this size
    load = (time.perf_counter() - w0, cpu() - c0)
    rss_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    det = Path(cache)
    if not (det / "groups.parquet").exists():
        from graphkit.policy.context import ScanContext

        ctx = ScanContext(ds)
        det.mkdir(parents=True, exist_ok=True)
        ctx.ring_members.write_parquet(det / "members.parquet")
        ctx.identity_links.write_parquet(det / "links.parquet")
        ctx.group_table.select("group_id", "score").write_parquet(det / "groups.parquet")
        del ctx
    members = pl.read_parquet(det / "members.parquet")
    links = pl.read_parquet(det / "links.parquet")
    groups = pl.read_parquet(det / "groups.parquet")
    from graphkit.detect.ratings import rating_base, rating_signals

    w0, c0 = time.perf_counter(), cpu()
    base = rating_base(ds)
    w1, c1 = time.perf_counter(), cpu()
    sig = rating_signals(ds, group_members=members, identity_links=links, groups=groups, base=base)
    w2, c2 = time.perf_counter(), cpu()
    digest = hashlib.sha256()
    for name in ("sellers", "raters", "feedback", "trading_pairs"):
        buf = io.BytesIO()
        getattr(sig, name).rechunk().write_parquet(buf)  # the bytes a run folder would hold
        digest.update(buf.getvalue())
    print(
        json.dumps(
            {
                "graphkit": str(Path(graphkit.__file__).resolve().parent),
                "code": _code_version(),
                "load_seconds": round(load[0], 3),
                "load_cpu_seconds": round(load[1], 3),
                "rating_base_seconds": round(w1 - w0, 3),
                "rating_base_cpu_seconds": round(c1 - c0, 3),
                "rating_signals_seconds": round(w2 - w1, 3),
                "rating_signals_cpu_seconds": round(c2 - c1, 3),
                "total_seconds": round(w2 - w0, 3),
                "total_cpu_seconds": round(c2 - c0, 3),
                "peak_rss_gib": round(
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3
                ),
                "peak_rss_after_load_gib": round(rss_load, 3),
                "rows": {"feedback": sig.feedback.height, "sellers": sig.sellers.height},
                "outputs_sha256": digest.hexdigest(),
            }
        )
    )


def _marker(path: str) -> str | None:
    """The ``COMMIT`` file of a code export (what it was exported from), if any."""
    marker = Path(path) / "COMMIT"
    return marker.read_text(encoding="utf-8").strip() if marker.exists() else None


def stages(args: argparse.Namespace) -> None:
    folder = Path(args.dataset).resolve()
    codes = [c.split("=", 1) for c in args.code] or [["working tree", str(HERE.parent)]]
    cache = Path(args.detect_cache or f"/tmp/graphkit-bench-ratings/{folder.name}")
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {label: [] for label, _ in codes}
    for _ in range(args.repeat):
        for label, path in codes:
            env = dict(os.environ, PYTHONPATH=str(Path(path).resolve()))
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "_stages",
                str(folder),
                str(cache),
            ]
            t0 = time.perf_counter()
            # started in / (not in the repository), so that PYTHONPATH decides what is imported
            res = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd="/", env=env)
            if res.returncode != 0:
                print(res.stderr, file=sys.stderr)
                raise SystemExit(res.returncode)
            run = json.loads(res.stdout.strip().splitlines()[-1])
            run["process_wall_seconds"] = round(time.perf_counter() - t0, 3)
            run["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
            runs[label].append(run)
            print(label, run)

    def summary(rs: list[dict]) -> dict:
        out = {}
        for key in ("rating_base", "rating_signals", "total"):
            for unit in ("seconds", "cpu_seconds"):
                vals = sorted(r[f"{key}_{unit}"] for r in rs)
                out[f"{key}_{unit}_min"] = vals[0]
                out[f"{key}_{unit}_median"] = vals[len(vals) // 2]
        out["peak_rss_gib_max"] = max(r["peak_rss_gib"] for r in rs)
        return out

    digests = {r["outputs_sha256"] for rs in runs.values() for r in rs}
    payload = {
        "benchmark": "ratings_stages",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "machine": _machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "dataset": str(
            folder.relative_to(HERE.parent) if folder.is_relative_to(HERE.parent) else folder
        ),
        "codes": {
            label: {"path": path, "code": runs[label][0]["code"], "commit_file": _marker(path)}
            for label, path in codes
        },
        "runs": runs,
        "summary": {label: summary(rs) for label, rs in runs.items()},
        "outputs_identical": len(digests) == 1,
    }
    _write(f"ratings_stages_{folder.name}", payload, args.out)


# ------------------------------------------------------------------------------------- quality
def _fast_growing(sig_sellers, labelled, accounts, fb, start):  # type: ignore[no-untyped-def]
    import polars as pl

    end = fb["created_at"].max()
    last = fb.filter(pl.col("created_at") > end - pl.duration(days=60))
    prev = fb.filter(
        (pl.col("created_at") <= end - pl.duration(days=60))
        & (pl.col("created_at") > end - pl.duration(days=120))
    )
    growth = (
        last.group_by("target_id")
        .len("n_last")
        .join(prev.group_by("target_id").len("n_prev"), on="target_id", how="left")
        .filter(pl.col("n_last") >= 2 * pl.col("n_prev").fill_null(0))
        .select(pl.col("target_id").alias("seller_id"))
    )
    new = accounts.filter(pl.col("created_at") > start).select(
        pl.col("account_id").alias("seller_id")
    )
    return (
        sig_sellers.join(pl.concat([growth, new]).unique(), on="seller_id", how="semi")
        .join(labelled, left_on="seller_id", right_on="entity_id", how="anti")
        .filter(pl.col("n_ratings") >= 20)
    )


def quality_one(
    n_orders: int, seed: int, min_score: float, group_min_score: float | None = None
) -> dict:
    import polars as pl

    from graphkit.detect.ratings import RatingParams, rating_signals
    from graphkit.graph.build import build_identity_graph
    from graphkit.io import dataset_from_frames
    from graphkit.simulate import simulate

    t0 = time.perf_counter()
    m = simulate(n_orders, seed=seed)
    ds = dataset_from_frames(m.tables)
    groups = group_min_score is not None
    members = table = None
    params = RatingParams()
    if groups:  # as the scan does: detected groups, and the identity links of that detection
        from graphkit.detect import detect_groups

        det = detect_groups(ds, seed=seed)
        members, links, table = det.members, det.identity.links, det.groups
        members = members.collect() if isinstance(members, pl.LazyFrame) else members
        links = links.collect() if isinstance(links, pl.LazyFrame) else links
        table = table.collect() if isinstance(table, pl.LazyFrame) else table
        params = RatingParams(group_min_score=group_min_score)
    else:
        links = build_identity_graph(ds).links
    t1 = time.perf_counter()
    sig = rating_signals(
        ds, identity_links=links, group_members=members, groups=table, params=params
    )
    t2 = time.perf_counter()
    labels = m.labels
    acct = labels.filter(pl.col("entity_kind") == "account").select("entity_id", "scenario")
    fbl = labels.filter(pl.col("entity_kind") == "feedback").select("entity_id", "scenario")
    sellers = sig.sellers.join(acct, left_on="seller_id", right_on="entity_id", how="left")
    flagged = sellers.filter(pl.col("manipulation_score") >= min_score)
    fb = sig.feedback.join(fbl, left_on="feedback_id", right_on="entity_id", how="left")
    sus = fb.filter(pl.col("suspicious"))
    out: dict = {
        "n_orders": n_orders,
        "seed": seed,
        "group_members": groups,
        "group_min_score": group_min_score,
        "scenarios": {},
    }
    for sc in RATING_SCENARIOS:
        planted = sellers.filter(pl.col("scenario") == sc)
        pfb = fb.filter(pl.col("scenario") == sc)
        out["scenarios"][sc] = {
            "sellers_planted": planted.height,
            "sellers_flagged": int((planted["manipulation_score"] >= min_score).sum()),
            "seller_recall": (
                round(float((planted["manipulation_score"] >= min_score).mean()), 3)
                if planted.height
                else None
            ),
            "feedback_planted": pfb.height,
            "feedback_suspicious": int(pfb["suspicious"].sum()),
            "feedback_recall": round(float(pfb["suspicious"].mean()), 3) if pfb.height else None,
        }
    rating_sc = pl.col("scenario").is_in(list(RATING_SCENARIOS))
    out["sellers_flagged"] = flagged.height
    out["seller_precision_rating_scenarios"] = (
        round(float(flagged.select(rating_sc.fill_null(False).mean()).item()), 3)
        if flagged.height
        else None
    )
    out["seller_precision_any_label"] = (
        round(float(flagged["scenario"].is_not_null().mean()), 3) if flagged.height else None
    )
    out["honest_sellers"] = int(sellers["scenario"].is_null().sum())
    out["honest_sellers_flagged"] = int(
        (sellers["scenario"].is_null() & (sellers["manipulation_score"] >= min_score)).sum()
    )
    out["feedback_suspicious"] = sus.height
    out["feedback_precision_any_label"] = (
        round(float(sus["scenario"].is_not_null().mean()), 4) if sus.height else None
    )
    out["feedback_precision_rating_scenarios"] = (
        round(float(sus.select(rating_sc.fill_null(False).mean()).item()), 3)
        if sus.height
        else None
    )
    start = m.tables["orders"]["created_at"].min()
    growing = _fast_growing(
        sig.sellers,
        acct.select("entity_id").unique(),
        m.tables["accounts"].filter(pl.col("kind") == "seller"),
        sig.feedback,
        start,
    )
    out["fast_growing_honest_sellers"] = growing.height
    out["fast_growing_flagged"] = int((growing["manipulation_score"] >= min_score).sum())
    out["fast_growing_fp_rate"] = (
        round(float((growing["manipulation_score"] >= min_score).mean()), 4)
        if growing.height
        else None
    )
    out["fast_growing_any_signal_rate"] = (
        round(float((growing["manipulation_score"] > 0).mean()), 4) if growing.height else None
    )
    out["seconds"] = {
        "simulate_validate_links" + ("_groups" if groups else ""): round(t1 - t0, 2),
        "rating_signals": round(t2 - t1, 2),
    }
    return out


def quality(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()
    runs = []
    for seed in args.seeds:
        r = quality_one(
            args.orders, seed, args.min_score, args.group_min_score if args.groups else None
        )
        print(json.dumps(r, indent=1))
        runs.append(r)
    totals: dict = {}
    for sc in RATING_SCENARIOS:
        planted = sum(r["scenarios"][sc]["sellers_planted"] for r in runs)
        got = sum(r["scenarios"][sc]["sellers_flagged"] for r in runs)
        fp = sum(r["scenarios"][sc]["feedback_planted"] for r in runs)
        fs = sum(r["scenarios"][sc]["feedback_suspicious"] for r in runs)
        totals[sc] = {
            "seller_recall": round(got / planted, 3) if planted else None,
            "sellers": f"{got}/{planted}",
            "feedback_recall": round(fs / fp, 3) if fp else None,
            "feedback": f"{fs}/{fp}",
        }
    g = sum(r["fast_growing_honest_sellers"] for r in runs)
    gf = sum(r["fast_growing_flagged"] for r in runs)
    fl = sum(r["sellers_flagged"] for r in runs)
    hf = sum(r["honest_sellers_flagged"] for r in runs)
    payload = {
        "benchmark": "ratings_quality",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "machine": _machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "min_score": args.min_score,
        "group_members": args.groups,
        "group_min_score": args.group_min_score if args.groups else None,
        # which groups count since commit 96d8aae (detect.rating_trading.ring_group_members)
        "groups_rule": "ring_group_members" if args.groups else None,
        "code": _code_version(),
        "runs": runs,
        "totals": {
            "scenarios": totals,
            "sellers_flagged": fl,
            "honest_sellers_flagged": hf,
            "seller_precision_any_label": round(1 - hf / fl, 3) if fl else None,
            "fast_growing_honest_sellers": g,
            "fast_growing_flagged": gf,
            "fast_growing_fp_rate": round(gf / g, 4) if g else None,
        },
    }
    print(json.dumps(payload["totals"], indent=1))
    from graphkit.detect.ratings import RatingParams

    suffix = ""
    if args.groups:
        score = args.group_min_score
        suffix = "_groups" + ("" if score == RatingParams().group_min_score else f"_min{score:g}")
    _write(f"ratings_quality_{args.orders}{suffix}", payload, args.out)


# -------------------------------------------------------------------------------------- report
BEGIN, END = "<!-- bench_ratings:begin -->", "<!-- bench_ratings:end -->"


def _groups_cell(r: dict) -> str:
    if not r.get("group_members"):
        return "no"
    cell = f"score >= {r.get('group_min_score', 0):g}"
    if r.get("groups_rule") == "ring_group_members":
        cell += " + weaker groups around their stores + perfect-DSR multi-store groups"
    return cell


def _busy(load: list[float]) -> str:
    return "yes" if max(load) > 2.0 else "no"


def report(args: argparse.Namespace) -> None:
    """Rewrite the rating-signals section of RESULTS.md from the JSON results (never typed)."""
    speed_runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("ratings_speed_*.json"))]
    quality_runs = [
        json.loads(p.read_text()) for p in sorted(RESULTS.glob("ratings_quality_*.json"))
    ]
    lines = [
        BEGIN,
        "## Rating signals (issue 5): `rating_signals` speed at 10M orders, detection quality",
        "",
        "Script: `benchmarks/bench_ratings.py` (writes `benchmarks/results/ratings_*.json`; this",
        "section is rewritten from those files by `python benchmarks/bench_ratings.py report`).",
        "",
        "### Speed and memory",
        "",
        "Target: all rating signals <= 15 s on 2 cores at 10M orders / 6M feedback. Dataset: the",
        "seeded synthetic 10M-order dataset of `bench_validate.py` (4.8M buyer -> seller ratings,",
        "1.2M seller -> buyer, 50k sellers, 2M buyers; uniform random, so few signals fire) read",
        "with `scan_parquet`, plus 200k random identity links; each repeat in a fresh process.",
        "Wall and CPU (user + system, all threads) of the `rating_signals` call; peak RSS of the",
        "child process (includes reading the tables).",
        "",
        "| date | code | machine | orders / feedback | wall s (repeats) | CPU s (repeats) "
        "| peak RSS GiB | load 1-min before -> after (busy?) | command |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in speed_runs:
        m = r["machine"]
        sizes = r["dataset"].get("sizes") or {}
        lines.append(
            f"| {r['date'][:16].replace('T', ' ')} UTC | {r.get('code', 'not recorded')} "
            f"| {m['cpu']}, {m['nproc']} cores, "
            f"{m['memory_gib']} GiB, polars {m['polars']} "
            f"| {sizes.get('orders', '?'):,} / {sizes.get('feedback', '?'):,} "
            f"| {', '.join(str(x['rating_signals_seconds']) for x in r['runs'])} "
            f"| {', '.join(str(x.get('rating_signals_cpu_seconds', '?')) for x in r['runs'])} "
            f"| {r['peak_rss_gib_max']} "
            f"| {r['load_average_before'][0]} -> {r['load_average_after'][0]} "
            f"({_busy(r['load_average_before'] + r['load_average_after'])}) "
            f"| `{r['command']}` |"
        )
    lines += [
        "",
        "When busy (load far above the 2 cores: other engineers' tests and benchmarks running),",
        "the wall time is inflated several-fold and says nothing about the 15 s target; the CPU",
        "column is the work done. On an idle 2-core machine the wall time would be between",
        "CPU / 2 and CPU (parts are single-threaded numpy): an inference, not a measurement.",
        'Rows whose code is "not recorded" were measured before the script recorded the',
        "commit (the first rating-signals code, before the speed work of commits 3b6de11..).",
    ]
    timed = [r for r in speed_runs if r.get("code")]
    if timed:
        last = max(timed, key=lambda r: r["date"])
        cpu = min(x["rating_signals_cpu_seconds"] for x in last["runs"])
        quiet = max(last["load_average_before"][0], last["load_average_after"][0]) < 2.5
        lines += [
            "",
            f"Latest ({last['code']}): {cpu:g} CPU s at best, so at least {cpu / 2:.1f} s wall on",
            "2 idle cores and at most about the CPU time; the 15 s wall target is "
            + (
                "measured directly in the wall column (quiet machine)."
                if quiet
                else "not verified here (the machine was never quiet while this was measured)."
            ),
            "The speed work kept every output identical (checked on `data/sample`,",
            "`simulate(200_000, seed=1)` with and without detected groups, and",
            "`simulate(1_000_000, seed=0)`): fired-signal lists built in long form instead of",
            "`concat_list` of structs, reason lists from per-row flag bit codes, reliable counts",
            "with masks, bursts over one sorted integer (seller, day) key, unordered joins plus",
            "one row-index sort, flags joined on their key columns only or looked up by `is_in`.",
        ]
    stage_runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("ratings_stages_*.json"))]
    if stage_runs:
        lines += [
            "",
            "### Scan stages `rating_base` + `rating_signals`, code versions paired (issue 9)",
            "",
            "`python benchmarks/bench_ratings.py stages`: the two rating stages of a scan on a",
            "simulated dataset loaded as the scan loads it, given the scan's detection results",
            "(computed once, cached), for each code version (an export of a commit) in turn,",
            "each run in a fresh process. CPU = user + system seconds of all threads; numbers",
            "per run, in run order (versions alternate). Outputs: the SHA-256 of the four",
            "output tables was the same for every run of every version (yes/no).",
            "",
            "| date | dataset | version (commit) | rating_base wall / CPU s | rating_signals "
            "wall / CPU s | both CPU s | peak RSS GiB | load 1-min before -> after (busy?) "
            "| outputs identical | command |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in stage_runs:
            load = r["load_average_before"] + r["load_average_after"]
            for label, runs in r["runs"].items():
                code = r["codes"][label].get("commit_file") or r["codes"][label]["code"]
                lines.append(
                    f"| {r['date'][:16].replace('T', ' ')} UTC | {r['dataset']} "
                    f"| {label} ({code}) "
                    f"| {', '.join(str(x['rating_base_seconds']) for x in runs)} / "
                    f"{', '.join(str(x['rating_base_cpu_seconds']) for x in runs)} "
                    f"| {', '.join(str(x['rating_signals_seconds']) for x in runs)} / "
                    f"{', '.join(str(x['rating_signals_cpu_seconds']) for x in runs)} "
                    f"| {', '.join(str(x['total_cpu_seconds']) for x in runs)} "
                    f"| {r['summary'][label]['peak_rss_gib_max']} "
                    f"| {r['load_average_before'][0]} -> {r['load_average_after'][0]} "
                    f"({_busy(load)}) "
                    f"| {'yes' if r['outputs_identical'] else 'no'} | `{r['command']}` |"
                )
        for r in stage_runs:
            labels = list(r["summary"])
            if len(labels) < 2:
                continue
            a, b = r["summary"][labels[0]], r["summary"][labels[-1]]
            parts = [
                f"{what} {a[f'{key}_{unit}_median']} -> {b[f'{key}_{unit}_median']}"
                for key, what in (
                    ("rating_base", "rating_base"),
                    ("rating_signals", "rating_signals"),
                    ("total", "both"),
                )
                for unit in ("cpu_seconds",)
            ]
            walls = [
                f"{what} {a[f'{key}_seconds_median']} -> {b[f'{key}_seconds_median']}"
                for key, what in (("rating_signals", "rating_signals"), ("total", "both"))
            ]
            lines += [
                "",
                f"{r['dataset']}, {labels[0]} -> {labels[-1]} (medians of "
                f"{len(r['runs'][labels[0]])} run(s)): CPU s {'; '.join(parts)}; "
                f"wall s {'; '.join(walls)}.",
            ]
        lines += [
            "",
            "Runs on more than 3M orders were serialised through the machine's shared lock",
            "(`flock /tmp/gk-big.lock <command>`), so no other big run shared the memory.",
            "Busy (load above 2 on the 2 cores: other engineers' runs) inflates wall time, and",
            "CPU time too (shared caches, hyper-threads): compare versions within a row pair,",
            "measured minutes apart under similar load, not across dates.",
        ]
    lines += [
        "",
        "### Detection quality on simulated marketplaces",
        "",
        "`graphkit.simulate` plants the scenarios with labels; identity links come from",
        "`graph.build.build_identity_graph`, and no detected groups are passed (group signals",
        "not computed), unless the groups column says otherwise: then `detect_groups(ds)`'s",
        "members, groups and identity links are passed (`--groups`), and only members of",
        "groups scoring at least `group_min_score` count (`score >= 0` = every detected",
        "candidate group, `--group-min-score 0`); since commit 96d8aae also members of weaker",
        "groups around a store that such a group holds, and of weaker groups of >= 2 stores",
        "whose buyers rate them with >= 75% perfect DSR triples",
        "(`detect.rating_trading.ring_group_members`; the groups column says which rule a row",
        "used). A seller counts as",
        "flagged at `manipulation_score >= min_score` (0.5, the",
        "FEEDBACK_MANIPULATION default); a rating as flagged when `suspicious`. Honest",
        "fast-growing sellers: unlabelled stores registered inside the data, or whose ratings in",
        "the last 60 days are at least twice those of the 60 days before, with >= 20 ratings.",
        "",
        "| date | orders x seeds | groups | scenario | sellers flagged / planted "
        "| planted ratings suspicious | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in quality_runs:
        n = r["runs"][0]["n_orders"] if r["runs"] else 0
        seeds = ", ".join(str(x["seed"]) for x in r["runs"])
        for sc, t in r["totals"]["scenarios"].items():
            lines.append(
                f"| {r['date'][:16].replace('T', ' ')} UTC | {n:,} x seeds {seeds} "
                f"| {_groups_cell(r)} | {sc} "
                f"| {t['sellers']} ({t['seller_recall']}) | {t['feedback']} "
                f"({t['feedback_recall']}) | `{r['command']}` |"
            )
    lines += [
        "",
        "| date | groups | sellers flagged | of them unlabelled (precision) | honest fast-growing"
        " sellers flagged (FP rate) | suspicious ratings without a label / all suspicious "
        "| load (busy?) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in quality_runs:
        t = r["totals"]
        sus = sum(x["feedback_suspicious"] for x in r["runs"])
        honest_sus = (
            sum(
                round(x["feedback_suspicious"] * (1 - (x["feedback_precision_any_label"] or 0)))
                for x in r["runs"]
            )
            if all("feedback_precision_any_label" in x for x in r["runs"])
            else "?"
        )
        lines.append(
            f"| {r['date'][:16].replace('T', ' ')} UTC "
            f"| {_groups_cell(r)} | {t['sellers_flagged']} "
            f"| {t['honest_sellers_flagged']} ({t['seller_precision_any_label']}) "
            f"| {t['fast_growing_flagged']} / {t['fast_growing_honest_sellers']} "
            f"({t['fast_growing_fp_rate']}) | {honest_sus} / {sus} "
            f"| {r['load_average_before'][0]} -> {r['load_average_after'][0]} "
            f"({_busy(r['load_average_before'] + r['load_average_after'])}) |"
        )
    lines += [
        "",
        "Detected groups: `detect_groups` reports every candidate group with its score. Counting",
        "the members of every candidate (`score >= 0`) lifts recall but flags many honest",
        "stores (a store and its regular buyers form weak candidate groups); counting only groups",
        "scoring at least `RatingParams.group_min_score` (`rating_signals(..., groups=...)`)",
        "keeps most of the recall gain without those false positives (rows above). Counting also",
        "the weaker groups around a store a ring-scored group holds, and the weak multi-store",
        "groups rated with perfect DSRs (the trading circles detection scores 0.47-0.49), keeps",
        "the precision and recovers the rest (groups rule `ring_group_members`, the scan's",
        "default since commit 96d8aae). The rows differ in code as well as in the groups rule:",
        "the 11:57 row ran on an export of commit a9bee48 (its JSON: `code`), after this round's",
        "group-detection changes; the 10:32 / 10:44 rows on the code of that morning.",
        END,
    ]
    section = "\n".join(lines) + "\n"
    path = HERE / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
    print(section)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _child(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_stages":
        _stages_child(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("speed", help="time and memory at scale")
    s.add_argument("--orders", type=int, default=10_000_000)
    s.add_argument("--feedback", type=int, default=6_000_000)
    s.add_argument("--links", type=int, default=200_000)
    s.add_argument("--repeat", type=int, default=2)
    s.add_argument("--out")
    q = sub.add_parser("quality", help="precision / recall on simulated marketplaces")
    q.add_argument("--orders", type=int, default=1_000_000)
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    q.add_argument("--min-score", type=float, default=0.5)
    q.add_argument(
        "--groups",
        action="store_true",
        help="pass detect_groups(ds) members, groups and identity links, as the scan does",
    )
    q.add_argument(
        "--group-min-score",
        type=float,
        default=0.5,
        help="with --groups: RatingParams.group_min_score (0 counts every detected group)",
    )
    q.add_argument("--out")
    st = sub.add_parser("stages", help="rating_base + rating_signals, code versions paired")
    st.add_argument("--dataset", required=True, help="a dataset folder (benchmarks/_work/sim_*)")
    st.add_argument(
        "--code",
        action="append",
        default=[],
        help="LABEL=DIR: PYTHONPATH of a code version (an export of a commit); repeatable",
    )
    st.add_argument("--repeat", type=int, default=3)
    st.add_argument("--detect-cache", help="folder of the cached detection results")
    st.add_argument("--out")
    sub.add_parser("report", help="rewrite this script's section of RESULTS.md from the JSON")
    args = ap.parse_args()
    {"speed": speed, "quality": quality, "stages": stages, "report": report}[args.mode](args)


if __name__ == "__main__":
    main()
