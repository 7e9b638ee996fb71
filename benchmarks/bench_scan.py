"""Benchmark: end-to-end ``graphkit scan`` time and peak memory on simulated marketplaces.

For each size, a simulated dataset (``graphkit.simulate``, seeded) is written
once to ``benchmarks/_work/scan_<n>_s<seed>/`` (gitignored; reused when
present). Then ``graphkit scan`` runs in a fresh child process per repeat
(load + validate + detection + every check + write), and the wall time and the
child's peak RSS (``ru_maxrss``) are recorded, with the per-stage timings of
the run's ``run.json``. Writes one JSON file with the machine, the load
average before/after, the exact command and every number.

With ``--code LABEL=DIR`` (repeatable) each repeat runs every given code version in
turn, interleaved (``PYTHONPATH=DIR``: a ``graphkit`` package exported there, e.g.
``git archive C graphkit | tar -x -C DIR``; ``DIR/COMMIT`` names its commit when
present), so that versions compared on this shared machine see the same conditions.

Usage::

    python benchmarks/bench_scan.py --sizes 1000000 10000000 --repeat 1
    python benchmarks/bench_scan.py --sizes 10000000 --repeat 3 --report \
        --code before=/tmp/gk_before --code after=/tmp/gk_after
    # the markdown table of one or more result files, written into RESULTS.md
    python benchmarks/bench_scan.py --render benchmarks/results/scan_1000000.json --update-results

Targets (issue 6): <= 8 s at 1M orders, <= 60 s at 10M orders, <= 6 GiB peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import measure_child  # noqa: E402

WORK = HERE / "_work"
RESULTS = HERE / "results"
TARGETS = {1_000_000: 8.0, 10_000_000: 60.0}
TARGET_PEAK_GIB = 6.0


def dataset(n_orders: int, seed: int) -> tuple[Path, float | None]:
    """Simulate (once) and return the dataset folder and the simulation time (None if cached)."""
    out = WORK / f"scan_{n_orders}_s{seed}"
    if (out / "orders.parquet").exists():
        return out, None
    code = (
        "import sys; from graphkit.simulate import simulate; "
        f"simulate({n_orders}, seed={seed}).write(sys.argv[1])"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(out)], check=True)
    return out, round(time.perf_counter() - t0, 2)


def run_scan(data: Path, run_dir: Path, *, report: bool, code: Path | None = None) -> dict:
    """Run ``graphkit scan`` in a child process; return wall time, peak RSS and stage timings.

    ``code``: a folder holding the ``graphkit`` package to run (first on ``PYTHONPATH``).
    """
    cmd = [sys.executable, "-m", "graphkit", "scan", str(data), "--out", str(run_dir), "--quiet"]
    if not report:
        cmd.append("--no-report")
    env = None
    if code is not None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]),
        }
        cmd.insert(1, "-P")  # not the current folder's graphkit
    # the child's own usage (os.wait4): RUSAGE_CHILDREN's ru_maxrss is the largest child's
    # so far, which hid every peak below an earlier run's
    r = measure_child(cmd, env=env, cwd=str(code) if code is not None else None)
    if r.returncode != 0:
        raise RuntimeError(f"scan failed ({r.returncode}): {r.stderr[-2000:]}")
    meta = json.loads((run_dir / "run.json").read_text())
    return {
        "command": shlex.join(cmd),
        "wall_seconds": round(r.wall_s, 2),
        # user + system CPU of the child (all threads): what the scan costs, load or not
        "cpu_seconds": round(r.cpu_s, 2),
        "peak_rss_gib": round(r.peak_rss_gib, 3),
        # the scan and its child processes (the Leiden worker) together, sampled
        "tree_peak_rss_gib": r.tree_peak_rss_gib,
        "row_counts": meta["row_counts"],
        "findings": meta["findings"],
        "stage_seconds": meta["timings"],
        # CPU seconds per stage (whole process, every thread), when the scan records them
        "stage_cpu_seconds": meta.get("cpu_timings", {}),
    }


def render(paths: list[Path], *, top: int = 8) -> str:
    """Markdown table of result files: one row per run, with its largest stages.

    Examples
    --------
    >>> render([])
    ''
    """
    docs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    if not docs:
        return ""
    lines = [
        "| orders | wall s | CPU s | peak RSS GiB | with child processes GiB | target "
        "| load before / after (1 min) | largest stages: wall s (CPU s when recorded) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for doc in docs:
        m = doc["machine"]
        load = f"{m['load_avg_before'][0]:.1f} / {m['load_avg_after'][0]:.1f}"
        for r in doc["runs"]:
            stages = {
                k: v
                for k, v in r["stage_seconds"].items()
                if not k.startswith("detail ") and k not in ("inputs",)
            }
            cpu = r.get("stage_cpu_seconds") or {}
            big = sorted(stages.items(), key=lambda kv: -kv[1])[:top]
            target = (
                "-"
                if r.get("target_seconds") is None
                else f"{r['target_seconds']:g} s / {r['target_peak_gib']:g} GiB"
            )
            code = r.get("code_label")
            if code is not None:
                code = (
                    f" ({code}"
                    + (f" `{r['code_commit'][:7]}`" if r.get("code_commit") else "")
                    + ")"
                )
            lines.append(
                f"| {r['n_orders']:,}{code or ''} | {r['wall_seconds']:.1f} "
                f"| {r['cpu_seconds']:.1f} "
                f"| {r['peak_rss_gib']} | {r.get('tree_peak_rss_gib') or '-'} | {target} "
                f"| {load} | "
                + ", ".join(
                    f"{k} {v:.1f}" + (f" ({cpu[k]:.1f} CPU)" if k in cpu else "") for k, v in big
                )
                + " |"
            )
    lines.append("")
    for doc in docs:
        m = doc["machine"]
        lines.append(
            f"- `{doc['command']}`: {doc['date']}, {m['platform']}, Python {m['python']}, "
            f"{m['cpus']} cores."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--report", action="store_true", help="also render report.html")
    ap.add_argument("--out", default=None, help="result JSON (default results/scan_<sizes>.json)")
    ap.add_argument("--render", nargs="+", metavar="JSON", help="print the table of result files")
    ap.add_argument("--section", default="bench_scan", help="RESULTS.md section name")
    ap.add_argument("--update-results", action="store_true", help="also write RESULTS.md")
    ap.add_argument(
        "--code",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="run the graphkit package exported in DIR (repeatable: interleaved per repeat)",
    )
    args = ap.parse_args()
    if args.render:
        table = render([Path(p) for p in args.render])
        print(table)
        if args.update_results:
            sys.path.insert(0, str(HERE))
            from _common import update_section

            update_section(HERE / "RESULTS.md", args.section, table)
        return
    load_before = os.getloadavg()
    runs = []
    codes: list[tuple[str | None, Path | None]] = [(None, None)]
    if args.code:
        codes = []
        for spec in args.code:
            label, sep, folder = spec.partition("=")
            if not sep or not (Path(folder) / "graphkit" / "__init__.py").is_file():
                ap.error(f"--code {spec!r}: expected LABEL=DIR with DIR/graphkit/__init__.py")
            codes.append((label, Path(folder).resolve()))
    for n in args.sizes:
        data, t_sim = dataset(n, args.seed)
        for rep in range(args.repeat):
            for label, code in codes:
                r = run_scan(data, WORK / f"run_scan_{n}", report=args.report, code=code)
                r.update(
                    n_orders=n,
                    repeat=rep,
                    simulate_seconds=t_sim,
                    target_seconds=TARGETS.get(n),
                    target_peak_gib=TARGET_PEAK_GIB,
                )
                if label is not None:
                    commit = code / "COMMIT" if code is not None else None
                    r.update(
                        code_label=label,
                        code_commit=commit.read_text().strip()
                        if commit and commit.is_file()
                        else None,
                    )
                print(
                    f"{'' if label is None else label + ' '}"
                    f"n_orders={n:>10,} repeat={rep}: {r['wall_seconds']:7.2f} s wall, "
                    f"{r['cpu_seconds']:7.2f} s CPU, peak {r['peak_rss_gib']} GiB "
                    f"(with child processes {r.get('tree_peak_rss_gib')} GiB)"
                )
                runs.append(r)
    doc = {
        "benchmark": "bench_scan",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_before": load_before,
            "load_avg_after": os.getloadavg(),
        },
        "command": "python benchmarks/bench_scan.py " + shlex.join(sys.argv[1:]),
        "runs": runs,
    }
    out = Path(args.out) if args.out else RESULTS / f"scan_{'_'.join(map(str, args.sizes))}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
