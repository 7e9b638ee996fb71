"""Benchmark: ``graphkit scan`` under polars' default allocator settings and under others.

polars allocates through its own jemalloc, configured by the ``_RJEM_MALLOC_CONF``
environment variable when polars is imported: polars 2.1 sets
``dirty_decay_ms:500,muzzy_decay_ms:1000`` and appends the variable's own value, which
therefore overrides those (``POLARS_THP=1`` appends ``thp:always,metadata_thp:always``).
How long jemalloc keeps freed pages before handing them back to the kernel trades
system CPU (page faults when memory is taken again) against peak RSS. This script runs
``graphkit scan`` on one dataset in fresh child processes, alternating the
configurations given, and records wall and CPU seconds (user and system apart) and
each child's own peak RSS. graphkit itself sets nothing: the settings are the operator's choice.

Usage::

    python benchmarks/bench_allocator.py --dataset benchmarks/_work/sim_10000000_s0 \\
        --conf "" --conf "dirty_decay_ms:5000,muzzy_decay_ms:5000" --repeat 2 --update-results
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    REPO,
    git_state,
    load_average,
    machine_info,
    measure_child,
    now_utc,
    update_section,
    write_json,
)

RESULTS = HERE / "results"
SECTION = "bench_allocator"


def run(dataset: Path, confs: list[str], repeat: int, out_dir: Path) -> list[dict[str, Any]]:
    """Scan ``dataset`` ``repeat`` times per configuration, configurations alternating."""
    rows = []
    for i in range(repeat):
        for conf in confs:
            env = dict(os.environ)
            env.pop("_RJEM_MALLOC_CONF", None)
            if conf:
                env["_RJEM_MALLOC_CONF"] = conf
            cmd = [sys.executable, "-m", "graphkit", "scan", str(dataset)]
            cmd += ["--out", str(out_dir / "run"), "--quiet"]
            r = measure_child(cmd, env=env, cwd=out_dir)
            if r.returncode != 0:
                raise RuntimeError(f"scan failed: {r.stderr[-2000:]}")
            rows.append(
                {
                    "conf": conf or "(none set)",
                    "repeat": i,
                    "wall_s": round(r.wall_s, 2),
                    "cpu_s": round(r.cpu_s, 2),
                    "user_s": round(r.user_s, 2),
                    "sys_s": round(r.sys_s, 2),
                    "peak_rss_gib": round(r.peak_rss_gib, 3),
                    "load_before": r.load_before,
                    "load_after": r.load_after,
                }
            )
            print(rows[-1], flush=True)
    return rows


def _graphkit_conf() -> str | None:
    """What graphkit sets when ``_RJEM_MALLOC_CONF`` is unset (``None``: nothing)."""
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    code = "import os, graphkit; print(os.environ.get('_RJEM_MALLOC_CONF', ''))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    # polars' own defaults come first; what graphkit added follows them
    return out.removeprefix("dirty_decay_ms:500,muzzy_decay_ms:1000").strip(",") or None


def render(doc: dict[str, Any]) -> str:
    """The section's markdown: one row per run."""
    m = doc["machine"]
    lines = [
        "## Allocator settings (issue 9): `graphkit scan` with polars' jemalloc configured",
        "",
        f"Written by `{doc['command']}` ({doc['date']}, git {doc['git']['head'][:10]}; "
        f"{m.get('cpu_model')}, {m.get('cpus')} cores). Dataset `{doc['dataset']}`. "
        "`_RJEM_MALLOC_CONF` set for the child only (polars appends it to its own "
        "`dirty_decay_ms:500,muzzy_decay_ms:1000`). "
        + (
            f"When none is set, graphkit sets `{doc['graphkit_conf']}` at import "
            "(`graphkit._allocator`): `(none set)` rows run with it."
            if doc.get("graphkit_conf")
            else "graphkit set nothing itself then: `(none set)` rows are polars' defaults."
        ),
        "",
        "| `_RJEM_MALLOC_CONF` | run | wall s | CPU s (user + sys) | peak RSS GiB "
        "| load 1-min before -> after |",
        "|---|---|---|---|---|---|",
    ]
    for r in doc["runs"]:
        lines.append(
            f"| `{r['conf']}` | {r['repeat'] + 1} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} "
            f"({r['user_s']:.2f} + {r['sys_s']:.2f}) | {r['peak_rss_gib']:.3f} "
            f"| {r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--conf", action="append", default=[], help="'' for polars' default")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/graphkit_bench_allocator"))
    ap.add_argument("--out", type=Path, help="results JSON (default: results/allocator_<dataset>)")
    ap.add_argument("--update-results", action="store_true")
    ap.add_argument("--render", type=Path, help="only write RESULTS.md from this results JSON")
    ap.add_argument("--section", default=SECTION, help="RESULTS.md section name")
    args = ap.parse_args()
    if args.render:
        update_section(
            HERE / "RESULTS.md", args.section, render(json.loads(args.render.read_text()))
        )
        return
    args.work.mkdir(parents=True, exist_ok=True)
    confs = args.conf or [""]
    doc = {
        "benchmark": SECTION,
        "date": now_utc(),
        "command": "python benchmarks/bench_allocator.py " + shlex.join(sys.argv[1:]),
        "dataset": str(args.dataset),
        "machine": machine_info(),
        "git": git_state(REPO),
        "load_start": load_average(),
        "graphkit_conf": _graphkit_conf(),
        "runs": run(args.dataset.resolve(), confs, args.repeat, args.work),
    }
    path = write_json(args.out or RESULTS / f"allocator_{args.dataset.name}.json", doc)
    print(f"written: {path}")
    if args.update_results:
        update_section(HERE / "RESULTS.md", args.section, render(doc))


if __name__ == "__main__":
    main()
