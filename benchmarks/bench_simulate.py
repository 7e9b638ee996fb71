"""Speed and memory of ``graphkit.simulate``: simulate N orders and write them as parquet.

Each size runs in a fresh child process so its peak resident memory (``ru_maxrss``)
is its own. Writes one JSON per run to ``benchmarks/results/`` and prints a summary.
Targets (issue 3): 10M orders in <= 120 s and <= 8 GiB on 2 cores.

Usage::

    python benchmarks/bench_simulate.py --sizes 1000000 10000000 --seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from graphkit.simulate import simulate
n, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
m = simulate(n, seed=seed)
t1 = time.perf_counter()
m.write(out)
t2 = time.perf_counter()
rows = {k: v.height for k, v in m.tables.items()}
rows["labels"] = m.labels.height
print(json.dumps({"simulate_seconds": round(t1 - t0, 2), "write_seconds": round(t2 - t1, 2),
                  "stages": m.timings, "rows": rows,
                  "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                        / 2**20, 3)}))
"""


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_one(n: int, seed: int, workdir: Path) -> dict:
    out = workdir / f"sim_{n}"
    load_before = _load()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), str(seed), str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    size = sum(p.stat().st_size for p in out.iterdir())
    shutil.rmtree(out, ignore_errors=True)
    return {
        "n_orders": n,
        "seed": seed,
        "wall_seconds_total": round(wall, 2),
        **result,
        "cpu_seconds": round(cpu, 2),  # user + system time of this run's child process
        "output_mib": round(size / 2**20, 1),
        "load_before": load_before,
        "load_after": _load(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--outdir", default="benchmarks/results")
    args = ap.parse_args()
    from graphkit import __version__

    machine = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }
    Path(args.outdir).mkdir(parents=True, exist_ok=True)
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_sim_") as tmp:
        for n in args.sizes:
            r = run_one(n, args.seed, Path(tmp))
            doc = {
                "benchmark": "bench_simulate",
                "graphkit_version": __version__,
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": " ".join([Path(sys.executable).name, *sys.argv]),
                "machine": machine,
                "result": r,
            }
            path = Path(args.outdir) / f"simulate_{n}.json"
            path.write_text(json.dumps(doc, indent=2) + "\n")
            busy = "yes" if max(r["load_before"][0], r["load_after"][0]) > 2.5 else "no"
            stages = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
            rows.append(
                f"| {doc['date'][:16].replace('T', ' ')} UTC | {n:,d} | {r['rows']['feedback']:,d} "
                f"| {r['simulate_seconds']:.1f} ({stages}) | {r['write_seconds']:.1f} "
                f"| {r['cpu_seconds']:.1f} | {r['peak_rss_gib']:.2f} "
                f"| {r['output_mib']:.0f} | {r['load_before'][0]:.1f} -> {r['load_after'][0]:.1f} "
                f"({busy}) | `{doc['command']}` |"
            )
            print(
                f"{n:>11,d} orders: simulate {r['simulate_seconds']:.1f} s "
                f"+ write {r['write_seconds']:.1f} s, peak RSS {r['peak_rss_gib']:.2f} GiB, "
                f"load {r['load_before']} -> {r['load_after']}  ({path})"
            )

    print("\nRESULTS.md rows (date | orders | feedback | simulate s (stages) | write s | CPU s |")
    print("peak RSS GiB | output MiB | load 1-min before -> after (busy?) | command):")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
