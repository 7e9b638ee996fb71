"""Benchmark: validate a large Parquet dataset (default 10M orders, 6M feedback).

Generates a synthetic *valid* dataset (vectorised numpy/polars, seeded) into
``benchmarks/_work/`` (gitignored; reused when it already has the requested
size), then validates it in a fresh child process, once per repeat, measuring
wall time and the child's peak RSS (``ru_maxrss``). Writes one JSON file with
the machine, the load average before/after, the exact command and every number.

Usage::

    python benchmarks/bench_validate.py                       # 10M orders / 6M feedback
    python benchmarks/bench_validate.py --orders 1000000 --feedback 600000 --repeat 1

Targets (issue 2): <= 15 s and <= 4 GiB peak RSS on 2 cores.
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
TARGET_PEAK_GIB = 4.0


# --------------------------------------------------------------------------- data generation
def generate(out: Path, n_orders: int, n_feedback: int, seed: int = 0) -> dict[str, int]:
    """Write a valid synthetic dataset (accounts, coupons, orders, feedback, messages,
    disputes, refunds) as Parquet into ``out``; return rows per table."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    n_sellers = max(10, n_orders // 200)
    n_buyers = max(10, n_orders // 5)
    n_coupons = max(1, n_orders // 1000)
    day = 86_400_000_000  # microseconds
    base = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    tz = pl.Datetime("us", "UTC")

    def ids(prefix: str, values: np.ndarray) -> pl.Series:
        return pl.Series(values).cast(pl.String).str.replace(r"^", prefix)

    accounts = pl.DataFrame(
        {
            "account_id": pl.concat(
                [ids("s", np.arange(n_sellers)), ids("b", np.arange(n_buyers))]
            ),
            "kind": np.repeat(["seller", "buyer"], [n_sellers, n_buyers]),
            "created_at": pl.Series(
                base - rng.integers(0, 365 * day, n_sellers + n_buyers), dtype=pl.Int64
            ).cast(tz),
            "country": rng.choice(["ES", "FR", "CN", "US", "BR"], n_sellers + n_buyers),
        }
    )
    coupons = pl.DataFrame(
        {
            "coupon_id": ids("c", np.arange(n_coupons)),
            "issuer_id": ids("s", rng.integers(0, n_sellers, n_coupons)),
            "kind": np.full(n_coupons, "store"),
            "value": rng.integers(1, 20, n_coupons).astype(np.float64),
            "min_spend": rng.integers(0, 50, n_coupons).astype(np.float64),
            "per_buyer_limit": rng.integers(1, 3, n_coupons),
            "valid_from": pl.Series(np.full(n_coupons, base - day), dtype=pl.Int64).cast(tz),
            "valid_to": pl.Series(np.full(n_coupons, base + 400 * day), dtype=pl.Int64).cast(tz),
        }
    )
    created = base + rng.integers(0, 180 * day, n_orders)
    paid = created + rng.integers(0, 5 * day, n_orders)
    unpaid = rng.random(n_orders) < 0.1
    with_coupon = rng.random(n_orders) < 0.05
    buyer = rng.integers(0, n_buyers, n_orders)
    seller = rng.integers(0, n_sellers, n_orders)
    orders = pl.DataFrame(
        {
            "order_id": ids("o", np.arange(n_orders)),
            "buyer_id": ids("b", buyer),
            "seller_id": ids("s", seller),
            "item_id": ids("i", rng.integers(0, n_orders // 10 + 1, n_orders)),
            "amount": np.round(rng.gamma(2.0, 15.0, n_orders), 2),
            "created_at": pl.Series(created, dtype=pl.Int64).cast(tz),
            "paid_at": pl.Series(np.where(unpaid, 0, paid), dtype=pl.Int64).cast(tz),
            "cancelled_at": pl.Series([None] * n_orders, dtype=tz),
            "coupon_id": ids("c", rng.integers(0, n_coupons, n_orders)),
            "discount": np.where(with_coupon, 1.0, np.nan),
        }
    ).with_columns(
        pl.when(pl.Series(unpaid)).then(None).otherwise(pl.col("paid_at")).alias("paid_at"),
        pl.when(pl.Series(with_coupon)).then(pl.col("coupon_id")).alias("coupon_id"),
        pl.col("discount").fill_nan(None),
    )
    # feedback: buyers rate the first n_buy orders, sellers rate the first n_sell orders
    n_buy = min(n_orders, int(n_feedback * 0.8))
    n_sell = min(n_orders, n_feedback - n_buy)
    which = np.concatenate([np.arange(n_buy), np.arange(n_sell)])
    by_buyer = np.arange(n_buy + n_sell) < n_buy
    b_ids, s_ids = ids("b", buyer[which]), ids("s", seller[which])
    dsr = [
        pl.Series(np.where(by_buyer, rng.integers(1, 6, which.size), 0)).cast(pl.Int8)
        for _ in range(3)
    ]
    feedback = pl.DataFrame(
        {
            "feedback_id": ids("f", np.arange(which.size)),
            "order_id": ids("o", which),
            "author_id": pl.select(pl.when(pl.Series(by_buyer)).then(b_ids).otherwise(s_ids))
            .to_series()
            .alias("author_id"),
            "target_id": pl.select(pl.when(pl.Series(by_buyer)).then(s_ids).otherwise(b_ids))
            .to_series()
            .alias("target_id"),
            "rating": rng.choice([1, 2, 3, 4, 5], which.size, p=[0.04, 0.02, 0.04, 0.1, 0.8]),
            "dsr_item_as_described": dsr[0],
            "dsr_communication": dsr[1],
            "dsr_shipping_speed": dsr[2],
            "created_at": pl.Series(
                created[which] + rng.integers(day, 30 * day, which.size), dtype=pl.Int64
            ).cast(tz),
            "text": rng.choice(["great seller", "ok", "", "arrived late"], which.size),
        }
    ).with_columns(
        pl.col("rating").cast(pl.Int8),
        *[pl.col(c).replace(0, None) for c in ("dsr_item_as_described", "dsr_communication")],
        pl.col("dsr_shipping_speed").replace(0, None),
    )
    n_msg = n_orders // 10
    mo = rng.integers(0, n_orders, n_msg)
    messages = pl.DataFrame(
        {
            "message_id": ids("m", np.arange(n_msg)),
            "sender_id": ids("b", buyer[mo]),
            "recipient_id": ids("s", seller[mo]),
            "order_id": ids("o", mo),
            "sent_at": pl.Series(created[mo] + day, dtype=pl.Int64).cast(tz),
            "text": rng.choice(["where is it?", "thanks", "<b>hi</b>"], n_msg),
        }
    )
    n_case = n_orders // 100
    co = rng.choice(n_orders, n_case, replace=False)
    disputes = pl.DataFrame(
        {
            "case_id": ids("k", np.arange(n_case)),
            "order_id": ids("o", co),
            "opened_by": ids("b", buyer[co]),
            "opened_at": pl.Series(created[co] + 10 * day, dtype=pl.Int64).cast(tz),
            "reason": rng.choice(["not_received", "not_as_described", "other"], n_case),
            "outcome": rng.choice(["open", "refund_buyer", "rejected"], n_case),
            "closed_at": pl.Series(created[co] + 20 * day, dtype=pl.Int64).cast(tz),
        }
    )
    refunds = pl.DataFrame(
        {
            "refund_id": ids("r", np.arange(n_case)),
            "order_id": ids("o", co),
            "refunded_at": pl.Series(created[co] + 15 * day, dtype=pl.Int64).cast(tz),
            "amount": np.round(rng.uniform(1, 50, n_case), 2),
            "via": rng.choice(["seller", "case", "platform"], n_case),
        }
    )
    tables = {
        "accounts": accounts,
        "coupons": coupons,
        "orders": orders,
        "feedback": feedback,
        "messages": messages,
        "disputes": disputes,
        "refunds": refunds,
    }
    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.write_parquet(tmp / f"{name}.parquet", compression="zstd", statistics=True)
    counts = {k: v.height for k, v in tables.items()}
    (tmp / "_sizes.json").write_text(json.dumps(counts))
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return counts


def corrupt(src: Path, out: Path, k: int, seed: int = 0) -> dict[str, int]:
    """Copy dataset ``src`` to ``out`` with ``k`` broken rows of each of three kinds.

    ``k`` orders get a negative amount, ``k`` feedback a rating of 9 and ``k`` other
    feedback an order id that does not exist; other tables are linked unchanged.
    """
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed + 1)
    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for path in src.glob("*.parquet"):
        if path.stem not in ("orders", "feedback"):
            os.link(path, tmp / path.name)
    orders = pl.read_parquet(src / "orders.parquet")
    bad = pl.Series(np.isin(np.arange(orders.height), rng.choice(orders.height, k, False)))
    orders = orders.with_columns(
        pl.when(bad).then(-1.0).otherwise(pl.col("amount")).alias("amount")
    )
    orders.write_parquet(tmp / "orders.parquet", compression="zstd", statistics=True)
    del orders
    feedback = pl.read_parquet(src / "feedback.parquet")
    rows = rng.choice(feedback.height, 2 * k, False)
    rating = pl.Series(np.isin(np.arange(feedback.height), rows[:k]))
    dangling = pl.Series(np.isin(np.arange(feedback.height), rows[k:]))
    feedback = feedback.with_columns(
        pl.when(rating).then(pl.lit(9, pl.Int8)).otherwise(pl.col("rating")).alias("rating"),
        pl.when(dangling)
        .then(pl.lit("missing-") + pl.col("order_id"))
        .otherwise(pl.col("order_id"))
        .alias("order_id"),
    )
    feedback.write_parquet(tmp / "feedback.parquet", compression="zstd", statistics=True)
    (tmp / "_sizes.json").write_text((src / "_sizes.json").read_text())
    tmp.rename(out)
    return {"orders": k, "feedback": 2 * k}


# --------------------------------------------------------------------------- measurement
def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _query_label(lf: object, out: object) -> str:
    """Name a validation query: its first input (file or in-memory table) and its outputs."""
    import re

    plan = lf.explain(optimized=False)  # type: ignore[attr-defined]
    files = re.findall(r"(\w+)\.parquet", plan)
    frames = re.findall(r'DF \["([^"]+)"', plan)
    source = files[0] if files else (f"memory[{frames[0]}, ...]" if frames else "?")
    cols = list(out.columns)  # type: ignore[attr-defined]
    kind = "own rules" if "__latest" in cols else "cache" if not cols[0][1:].isdigit() else "refs"
    return f"{source}: {kind} ({len(cols)} outputs)"


def _profile_queries() -> list[dict]:
    """Make validation run its queries one at a time, each timed (wall, CPU of the process).

    Serial, so the sum of CPU is comparable with a normal run while the wall times are not.
    """
    import polars as pl

    calls: list[dict] = []

    def each(frames: list, **kw: object) -> list:
        outs = []
        for lf in frames:
            t, c = time.perf_counter(), _cpu()
            outs.append(lf.collect(**({"engine": kw["engine"]} if "engine" in kw else {})))
            calls.append(
                {
                    "query": _query_label(lf, outs[-1]),
                    "wall_seconds": round(time.perf_counter() - t, 3),
                    "cpu_seconds": round(_cpu() - c, 3),
                }
            )
        return outs

    pl.collect_all = each  # this child process only: graphkit's modules call pl.collect_all
    return calls


def child(folder: str, lenient: bool = False, profile: bool = False) -> None:
    """Run in a fresh process: validate ``folder`` and print timings and peak RSS as JSON."""
    t0 = time.perf_counter()
    import graphkit  # import time is reported separately
    from graphkit.io import validate_dataset

    queries = _profile_queries() if profile else None

    t_import = time.perf_counter() - t0
    code_path = str(Path(graphkit.__file__).resolve().parent)
    rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t1 = time.perf_counter()
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    report = validate_dataset(folder, lenient=lenient)
    t_validate = time.perf_counter() - t1
    u2 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (u2.ru_utime - u1.ru_utime) + (u2.ru_stime - u1.ru_stime)
    peak_kib = u2.ru_maxrss
    print(
        json.dumps(
            {
                "ok": report.ok,
                "graphkit_path": code_path,
                "problems": report.problems.height,
                "rejected_rows": None if report.rejects is None else report.rejects.height,
                "row_counts": dict(report.row_counts),
                "import_seconds": round(t_import, 3),
                "validate_seconds": round(t_validate, 3),
                # CPU seconds summed over threads: robust to other load on the machine;
                # on an idle 2-core machine wall time is roughly cpu / 2 .. cpu
                "validate_cpu_seconds": round(cpu, 3),
                "peak_rss_gib": round(peak_kib / 2**20, 3),
                "rss_after_import_gib": round(rss_import / 2**20, 3),
                **({"queries": queries} if queries is not None else {}),
            }
        )
    )


def machine() -> dict[str, object]:
    """Describe the machine: CPU model, cores, memory, Python and polars versions."""
    import polars as pl

    cpu = ""
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        mem_kib = int(fh.readline().split()[1])
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    """Generate (if needed) and validate the benchmark dataset; write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--feedback", type=int, default=6_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="validation runs (fresh process)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="result JSON (default benchmarks/results/...)")
    parser.add_argument(
        "--update-results",
        action="store_true",
        help="rewrite this benchmark's section of benchmarks/RESULTS.md from the result JSON",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="only rewrite the RESULTS.md section from the existing result JSON files",
    )
    parser.add_argument(
        "--corrupt",
        type=int,
        default=0,
        metavar="K",
        help="validate a copy with K negative amounts, K bad ratings, K dangling feedback",
    )
    parser.add_argument("--lenient", action="store_true", help="validate in lenient mode")
    parser.add_argument(
        "--dataset",
        type=Path,
        help="validate this existing dataset folder (e.g. benchmarks/_work/sim_1000000_s0)"
        " instead of the generated one",
    )
    parser.add_argument(
        "--code",
        type=Path,
        help="folder holding the graphkit package to measure (put first on the child's"
        " PYTHONPATH, e.g. a `git archive` export of a commit); default: the installed one",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run validation's queries one at a time and record each one's wall and CPU"
        " (serial: compare CPU, not wall, with normal runs)",
    )
    parser.add_argument("--label", default="", help="name of the code measured (before, after)")
    parser.add_argument("--child", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, lenient=args.lenient, profile=args.profile)
        return 0
    if args.render_only:
        update_results()
        return 0

    folder = args.dataset or WORK / f"validate_{args.orders}_{args.feedback}_s{args.seed}"
    sizes = folder / "_sizes.json"
    t_gen = None
    if args.dataset is not None:
        if args.corrupt:
            parser.error("--corrupt works on the generated dataset only")
    elif not sizes.exists():
        print(f"generating {folder} ...", file=sys.stderr)
        t0 = time.perf_counter()
        # in a child so that the generator's memory is not mixed with anything measured
        sizes_args = f"{args.orders}, {args.feedback}, {args.seed}"
        code = (
            f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_validate as b; "
            f"from pathlib import Path; b.generate(Path({str(folder)!r}), {sizes_args})"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
        t_gen = round(time.perf_counter() - t0, 1)
    if args.corrupt:
        clean = folder
        folder = WORK / f"{clean.name}_corrupt{args.corrupt}"
        if not folder.exists():
            print(f"corrupting a copy into {folder} ...", file=sys.stderr)
            # in a child: Linux keeps a process's peak RSS across fork + exec, so heavy work
            # in this process would show up in the measured children's ru_maxrss
            code = (
                f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_validate as b; "
                f"from pathlib import Path; b.corrupt(Path({str(clean)!r}), Path({str(folder)!r}),"
                f" {args.corrupt}, {args.seed})"
            )
            subprocess.run([sys.executable, "-c", code], check=True)
    disk_mib = sum(p.stat().st_size for p in folder.glob("*.parquet") if p.stem != "labels") / 2**20
    child_args = [
        "--child",
        str(folder),
        *(["--lenient"] if args.lenient else []),
        *(["--profile"] if args.profile else []),
    ]

    env = dict(os.environ)
    if args.code is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(args.code.resolve()), *filter(None, [env.get("PYTHONPATH")])]
        )
    load_before = os.getloadavg()
    runs = []
    for i in range(args.repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), *child_args],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        wall = time.perf_counter() - t0
        run = json.loads(proc.stdout.strip().splitlines()[-1])
        run["process_wall_seconds"] = round(wall, 3)
        runs.append(run)
        print(f"run {i + 1}: {json.dumps(run)}", file=sys.stderr)
    load_after = os.getloadavg()

    best = min(r["validate_seconds"] for r in runs)
    peak = max(r["peak_rss_gib"] for r in runs)
    result = {
        "benchmark": "validate",
        "date": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "command": "python "
        + shlex.join(["benchmarks/bench_validate.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "label": args.label,
        "dataset": {
            "folder": str(folder.resolve().relative_to(HERE.parent)),
            "rows": runs[0]["row_counts"] if args.dataset else json.loads(sizes.read_text()),
            "parquet_mib": round(disk_mib, 1),
            "generate_seconds": t_gen,
        },
        "mode": "lenient" if args.lenient else "strict",
        "corrupt_rows_per_kind": args.corrupt,
        "runs": runs,
        "validate_seconds_min": best,
        "validate_seconds_median": sorted(r["validate_seconds"] for r in runs)[len(runs) // 2],
        "peak_rss_gib_max": peak,
        "targets": {"seconds": TARGET_SECONDS, "peak_rss_gib": TARGET_PEAK_GIB},
        "meets_targets": best <= TARGET_SECONDS and peak <= TARGET_PEAK_GIB,
        "all_valid": all(r["ok"] for r in runs),
    }
    suffix = (f"_corrupt{args.corrupt}" if args.corrupt else "") + (
        "_lenient" if args.lenient else ""
    )
    if args.dataset is not None:
        suffix += (f"_{args.label}" if args.label else "") + ("_profile" if args.profile else "")
        default = RESULTS / f"validate_{args.dataset.name}{suffix}.json"
    else:
        default = RESULTS / f"validate_{args.orders}_{args.feedback}{suffix}.json"
    out = args.out or default
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if args.update_results:
        update_results(result)
    expected_ok = args.lenient or not args.corrupt
    return 0 if all(r["ok"] == expected_ok for r in runs) else 1


def _busy(result: dict) -> bool:
    before, after = result["load_average_before"][0], result["load_average_after"][0]
    return max(before, after) > result["machine"]["nproc"]


def _row(result: dict) -> str:
    runs = result["runs"]
    k = result.get("corrupt_rows_per_kind", 0)
    mode = result.get("mode", "strict")
    what = f"{mode}, valid" if not k else f"{mode}, {k:,} bad rows of each of 3 kinds"
    outcome = "accepted" if runs[0]["ok"] else f"refused ({runs[0]['problems']} problems)"
    if runs[0].get("rejected_rows"):
        outcome += f", {runs[0]['rejected_rows']:,} rows rejected"
    walls = ", ".join(f"{r['validate_seconds']:.1f}" for r in runs)
    cpus = ", ".join(f"{r['validate_cpu_seconds']:.1f}" for r in runs)
    before, after = result["load_average_before"][0], result["load_average_after"][0]
    date = result["date"].replace("T", " ").replace("+00:00", " UTC")
    return (
        f"| {date} | {what} | {outcome} | {walls} | {cpus} | {result['peak_rss_gib_max']:.2f} |"
        f" {before} -> {after} ({'yes' if _busy(result) else 'no'}) | `{result['command']}` |"
    )


def _on_dataset(result: dict) -> bool:
    """Whether ``result`` validated an existing dataset (``--dataset``), not the generated one."""
    return "label" in result and not Path(result["dataset"]["folder"]).name.startswith("validate_")


def _dataset_row(result: dict) -> str:
    runs = result["runs"]
    walls = ", ".join(f"{r['validate_seconds']:.2f}" for r in runs)
    cpus = ", ".join(f"{r['validate_cpu_seconds']:.2f}" for r in runs)
    before, after = result["load_average_before"][0], result["load_average_after"][0]
    date = result["date"].replace("T", " ").replace("+00:00", " UTC")
    outcome = "accepted" if runs[0]["ok"] else f"refused ({runs[0]['problems']} problems)"
    if "queries" in runs[0]:
        outcome += ", profiled (queries one at a time)"
    return (
        f"| {date} | {Path(result['dataset']['folder']).name} | {result['label'] or '-'}"
        f" (`{runs[0].get('graphkit_path', '?')}`) | {outcome} | {walls} | {cpus} |"
        f" {result['peak_rss_gib_max']:.2f} | {before} -> {after}"
        f" ({'yes' if _busy(result) else 'no'}) | `{result['command']}` |"
    )


def render_datasets(results: list[dict]) -> list[str]:
    """Lines of the before/after table of ``--dataset`` runs (the simulated scan datasets)."""
    if not results:
        return []
    results = sorted(results, key=lambda r: (r["dataset"]["folder"], r["date"]))
    lines = [
        "",
        "### Issue 9: `validate_dataset` on the simulated scan datasets, before -> after",
        "",
        "The same script with `--dataset DIR --code EXPORT --label NAME`: the child process",
        "imports graphkit from `EXPORT` (a `git archive` export of the commit measured), so",
        "before and after run the same way, back to back (10M under `flock /tmp/gk-big.lock`).",
        "CPU is user + system of the child over `validate_dataset` (read, validate, SHA-256).",
        "",
        "| date | dataset | code | outcome | wall s (repeats) | CPU s (repeats) | peak RSS GiB |"
        " load 1-min before -> after (busy?) | command |",
        "|---|---|---|---|---|---|---|---|---|",
        *[_dataset_row(r) for r in results],
        "",
    ]
    profiles = [r for r in results if "queries" in r["runs"][0]]
    results = [r for r in results if "queries" not in r["runs"][0]]
    for r in profiles:
        run = r["runs"][0]
        total = sum(q["cpu_seconds"] for q in run["queries"])
        lines += [
            f"Profile of {Path(r['dataset']['folder']).name}, code {r['label'] or '-'}"
            f" ({r['date']}, `{r['command']}`): queries run one at a time, each query's CPU s"
            f" (sum {total:.2f} of {run['validate_cpu_seconds']:.2f} for the whole"
            " validation; queries under 0.05 s left out):",
            "",
            "| query (first input: outputs) | CPU s | wall s |",
            "|---|---|---|",
            *[
                f"| {q['query']} | {q['cpu_seconds']:.2f} | {q['wall_seconds']:.2f} |"
                for q in run["queries"]
                if q["cpu_seconds"] >= 0.05
            ],
            "",
        ]
    by: dict[str, dict[str, dict]] = {}
    for r in results:
        by.setdefault(Path(r["dataset"]["folder"]).name, {})[r["label"]] = r
    for name, labels in by.items():
        if {"before", "after"} <= set(labels):
            b, a = labels["before"], labels["after"]
            cpu_b = min(x["validate_cpu_seconds"] for x in b["runs"])
            cpu_a = min(x["validate_cpu_seconds"] for x in a["runs"])
            wall_b, wall_a = b["validate_seconds_min"], a["validate_seconds_min"]
            lines.append(
                f"- {name} (last before and after runs): CPU {cpu_b:.2f} -> {cpu_a:.2f} s (best"
                f" of {len(b['runs'])} and {len(a['runs'])} runs), wall {wall_b:.2f}"
                f" -> {wall_a:.2f} s, peak RSS {b['peak_rss_gib_max']:.2f} ->"
                f" {a['peak_rss_gib_max']:.2f} GiB"
                + (" (machine busy: wall times inflated)" if _busy(a) or _busy(b) else "")
            )
    return lines


def render(results: list[dict]) -> str:
    """Render the RESULTS.md section from result JSONs (every number comes from them)."""
    on_datasets = [r for r in results if _on_dataset(r)]
    results = [r for r in results if not _on_dataset(r)]
    main_ = next(
        (
            r
            for r in results
            if r.get("mode", "strict") == "strict" and not r.get("corrupt_rows_per_kind")
        ),
        results[0],
    )
    m, d, runs, t = main_["machine"], main_["dataset"], main_["runs"], main_["targets"]
    peak, best = main_["peak_rss_gib_max"], main_["validate_seconds_min"]
    cpu_min = min(r["validate_cpu_seconds"] for r in runs)
    mem_verdict = "met" if peak <= t["peak_rss_gib"] else "**missed**"
    if best <= t["seconds"]:
        wall_verdict = "met"
    elif _busy(main_):
        wall_verdict = "not shown: the machine was busy, so the wall times are inflated"
    else:
        wall_verdict = "**missed**"
    lines = [
        "## Validation (issue 2): `validate_dataset` on 10M orders / 6M feedback (Parquet)",
        "",
        f"Target: <= {t['seconds']:g} s and <= {t['peak_rss_gib']:g} GiB peak on 2 cores. Script:",
        "`benchmarks/bench_validate.py` (generates a seeded, valid synthetic dataset with",
        "numpy/polars into `benchmarks/_work/`, optionally a copy with planted bad rows",
        "(`--corrupt K`), then validates it in a fresh child process per repeat; peak RSS is the",
        "child's `ru_maxrss`, CPU its user + system time, all threads; writes",
        "`benchmarks/results/validate_*.json`; this section is rendered from those files by",
        "`--update-results` / `--render-only`, not typed).",
        f"Machine: {m['platform']}, {m['cpu']}, {m['nproc']} cores, {m['memory_gib']} GiB,",
        f"Python {m['python']}, polars {m['polars']}.",
        f"Dataset: {', '.join(f'{k} {v:,}' for k, v in d['rows'].items())} rows;",
        f"{d['parquet_mib']} MiB of zstd Parquet. Every rule of the contract is checked.",
        "",
        "| date | mode | outcome | wall s (repeats) | CPU s (repeats) | peak RSS GiB |"
        " load 1-min before -> after (busy?) | command |",
        "|---|---|---|---|---|---|---|---|",
        *[_row(r) for r in results],
        "",
        f"Valid dataset, strict mode: peak memory {peak:.2f} GiB, target {mem_verdict}; wall time"
        f" (best {best:.1f} s), target {wall_verdict}.",
        f"It costs {cpu_min:.1f} CPU seconds (all threads); on an idle 2-core machine the wall",
        "time lies between half that (both cores busy throughout) and all of it (one core):",
        "an inference from the CPU time, not a measurement.",
    ]
    if _busy(main_):
        lines.append(
            "Re-run the command on an idle machine to measure the wall time against the target."
        )
    lines += render_datasets(on_datasets)
    return "\n".join(lines) + "\n"


def update_results(result: dict | None = None) -> None:
    """Rewrite this benchmark's marked section of ``benchmarks/RESULTS.md``."""
    from _common import update_section

    del result  # every result file is rendered, the new one included
    results = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("validate_*.json"))]
    update_section(HERE / "RESULTS.md", "bench_validate", render(results))


if __name__ == "__main__":
    sys.exit(main())
