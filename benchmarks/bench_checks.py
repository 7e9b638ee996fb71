"""CPU of the signal-free policy checks, each called alone, as ``graphkit scan`` reads the data.

The checks that read no detection result (UNPAID_ITEMS, BPP_*, FEEDBACK_EXTORTION,
COMM_SPAM) run in the scan's second thread, in :data:`graphkit.scan._EARLY_ORDER`. This
script loads a dataset like the scan does (``load_dataset``; tables in memory up to
``scan.IN_MEMORY_MAX_ORDERS`` orders, lazy above), then runs those checks in that order
on one :class:`~graphkit.policy.ScanContext` (so the BPP checks share what they share in
a scan), ``--repeat`` times with a fresh context each time, and records per check the
process CPU seconds (user + system, all threads), wall seconds and minor page faults of
each run. The load average before and after is recorded: CPU seconds, not wall, are the
measure on a busy machine.

To compare code versions, run the script with ``PYTHONPATH`` pointing at an export of
the other version (``git archive <commit> graphkit | tar -x -C DIR``): the JSON records
which ``graphkit`` was imported.

Usage::

    python benchmarks/bench_checks.py DATASET --repeat 3 --out benchmarks/results/checks_X.json
    python benchmarks/bench_checks.py --render BEFORE.json AFTER.json   # markdown table
    python benchmarks/bench_checks.py --render B1.json A1.json B2.json A2.json --update-results

``--update-results`` (re)writes this benchmark's section of ``benchmarks/RESULTS.md``
from the given before/after pairs.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, git_state, load_average, machine_info, now_utc, update_section, write_json

ORDER = (
    "UNPAID_ITEMS",
    "BPP_FALSE_CLAIMS",
    "BPP_RETALIATION",
    "BPP_CASE_AFTER_REFUND",
    "FEEDBACK_EXTORTION",
    "COMM_SPAM",
)


def measure(dataset: str, repeat: int) -> dict[str, Any]:
    """Run the checks ``repeat`` times on ``dataset``; return the JSON document."""
    import importlib

    import igraph  # noqa: F401  (imported by detection in a scan: not the checks' cost)

    import graphkit
    from graphkit.config import ScanConfig
    from graphkit.io import load_dataset
    from graphkit.policy import ScanContext, get_check

    scan_mod = importlib.import_module("graphkit.scan")  # the module, not the function
    load_before = load_average()
    ds = load_dataset(dataset)
    n_orders = ds.row_counts().get("orders", 0)
    in_memory = n_orders <= scan_mod.IN_MEMORY_MAX_ORDERS
    if in_memory:
        ds = ds.in_memory()
    runs: dict[str, list[dict[str, float]]] = {rid: [] for rid in ORDER}
    rows: dict[str, int] = {}
    for _ in range(repeat):
        ctx = ScanContext(ds, ScanConfig())
        for rid in ORDER:
            check = get_check(rid)
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            c0, w0 = time.process_time(), time.perf_counter()
            out = check(ctx, ctx.params(rid))
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            runs[rid].append(
                {
                    "cpu_s": round(cpu, 3),
                    "wall_s": round(wall, 3),
                    "sys_s": round(r1.ru_stime - r0.ru_stime, 3),
                    "minflt": r1.ru_minflt - r0.ru_minflt,
                }
            )
            rows[rid] = out.height
    return {
        "benchmark": "bench_checks",
        "when": now_utc(),
        "dataset": str(Path(dataset).resolve()),
        "orders": n_orders,
        "in_memory": in_memory,
        "repeat": repeat,
        "graphkit_file": graphkit.__file__,
        "git": git_state(),
        "machine": machine_info(),
        "load_before": load_before,
        "load_after": load_average(),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3),
        "checks": {
            rid: {
                "rows": rows[rid],
                "min_cpu_s": min(r["cpu_s"] for r in runs[rid]),
                "min_wall_s": min(r["wall_s"] for r in runs[rid]),
                "runs": runs[rid],
            }
            for rid in ORDER
        },
    }


def render(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Return a markdown table of ``before -> after`` (min over the runs of each)."""
    lines = [
        f"Dataset `{Path(after['dataset']).name}` ({after['orders']:,} orders, tables "
        f"{'in memory' if after['in_memory'] else 'lazy'}), min of {after['repeat']} runs "
        f"each. Before: `{before['graphkit_file']}` ({before['when']}, load "
        f"{before['load_before']} -> {before['load_after']}); after: "
        f"`{after['graphkit_file']}` at {after['git']['head'][:7]} ({after['when']}, load "
        f"{after['load_before']} -> {after['load_after']}).",
        "",
        "| check | rows | CPU s before | CPU s after | wall s before | wall s after "
        "| page faults before | after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    tot = [0.0, 0.0, 0.0, 0.0]
    for rid in ORDER:
        b, a = before["checks"][rid], after["checks"][rid]
        fb = min(r["minflt"] for r in b["runs"])
        fa = min(r["minflt"] for r in a["runs"])
        tot = [
            tot[0] + b["min_cpu_s"],
            tot[1] + a["min_cpu_s"],
            tot[2] + b["min_wall_s"],
            tot[3] + a["min_wall_s"],
        ]
        lines.append(
            f"| {rid} | {a['rows']} | {b['min_cpu_s']:.2f} | {a['min_cpu_s']:.2f} | "
            f"{b['min_wall_s']:.2f} | {a['min_wall_s']:.2f} | {fb:,} | {fa:,} |"
        )
    lines.append(
        f"| **total** | | **{tot[0]:.2f}** | **{tot[1]:.2f}** | {tot[2]:.2f} | {tot[3]:.2f} | | |"
    )
    return "\n".join(lines) + "\n"


def _section(tables: list[str], files: list[str]) -> str:
    """The RESULTS.md section: heading, method, one table per before/after pair."""
    names = " ".join(Path(f).name for f in files)
    head = [
        "## Signal-free checks, each alone (sprint 4, text): CPU before -> after",
        "",
        "Generated by `python benchmarks/bench_checks.py --render "
        + names
        + " --update-results` from the JSON in `benchmarks/results/`; measured with "
        "`python3 -P benchmarks/bench_checks.py DATASET --repeat N --out JSON` (before: "
        "`PYTHONPATH` = a `git archive` export of cf24b12). The checks run in the scan's "
        "second-thread order on one context, data read as `graphkit scan` reads it (1M: "
        "tables in memory; 10M: lazy Parquet); CPU = process user + system seconds of "
        "each check (polars threads included), min over the runs. The machine was shared "
        "(load averages in each line): compare CPU, not wall. At 10M the 'before' "
        "BPP_RETALIATION includes its own pass over the feedback; 'after' it reuses the "
        "one BPP_FALSE_CLAIMS made (same total work per scan, counted once).",
        "",
    ]
    return "\n".join(head) + "\n" + "\n".join(tables)


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", nargs="?")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", help="result JSON")
    ap.add_argument("--render", nargs="+", metavar="JSON", help="BEFORE AFTER pairs")
    ap.add_argument("--update-results", action="store_true", help="write RESULTS.md section")
    args = ap.parse_args(argv)
    if args.render:
        if len(args.render) % 2:
            ap.error("--render takes BEFORE AFTER pairs")
        docs = [json.loads(Path(p).read_text()) for p in args.render]
        tables = [render(docs[i], docs[i + 1]) for i in range(0, len(docs), 2)]
        if args.update_results:
            body = _section(tables, args.render)
            update_section(REPO / "benchmarks" / "RESULTS.md", "bench_checks", body)
        print("\n".join(tables), end="")
        return 0
    if not args.dataset or not args.out:
        ap.error("DATASET and --out are required (or --render BEFORE AFTER)")
    doc = measure(args.dataset, args.repeat)
    write_json(args.out, doc)
    for rid, c in doc["checks"].items():
        print(f"{rid:24s} rows {c['rows']:5d}  min CPU {c['min_cpu_s']:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
