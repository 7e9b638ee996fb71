"""Detection quality of ``graphkit scan`` on simulated marketplaces: precision/recall per scenario.

For every (size, seed) the simulator plants the scenarios with labels; the scan
runs at default settings (labels are never shown to it); ``graphkit.evaluate``
scores its findings per scenario. Writes one JSON with every row and prints
the tables; the numbers in RESULTS.md are copied from that JSON.

Usage::

    python benchmarks/bench_quality.py --sizes 20000 100000 --seeds 0 1 \
        --out benchmarks/results/quality.json
    # the markdown table of one or more result files, written into RESULTS.md
    python benchmarks/bench_quality.py --render benchmarks/results/quality.json \
        --update-results
    # before/after table of the rating scenarios (runs matched by size and seed)
    python benchmarks/bench_quality.py --render AFTER.json --compare BEFORE.json
    # score finished `graphkit scan` run folders (e.g. the 10M set, scanned under the
    # shared lock) against their dataset's labels instead of simulating
    python benchmarks/bench_quality.py --runs RUN_DIR:DATASET_DIR --out q10m.json
    # like for like across code versions: dump one version's detection results once, then
    # re-run SHILL_PURCHASE and FEEDBACK_MANIPULATION of any version on them (the other
    # rules' findings are taken from RUN_DIR); run big sets under the shared lock
    python benchmarks/bench_quality.py --dump-detection DATASET_DIR DUMP_DIR
    python benchmarks/bench_quality.py --replay DUMP_DIR RUN_DIR --out replay.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from graphkit import __version__
from graphkit.evaluate import evaluate
from graphkit.io import dataset_from_frames
from graphkit.scan import scan
from graphkit.simulate import simulate


def false_positives(findings: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """Subjects of findings that carry no label at all, per rule (for the write-up)."""
    labelled = labels.filter(pl.col("entity_kind") == "account").select("entity_id").unique()
    return (
        findings.select("rule_id", "finding_id", "subject_ids", "explanation")
        .explode("subject_ids")
        .join(labelled, left_on="subject_ids", right_on="entity_id", how="anti")
        .sort("rule_id", "finding_id")
    )


def run_one(n_orders: int, seed: int) -> dict:
    t0 = time.perf_counter()
    sim = simulate(n_orders, seed=seed)
    t_sim = time.perf_counter() - t0
    ds = dataset_from_frames(sim.tables)
    t0 = time.perf_counter()
    result = scan(ds, seed=seed)
    t_scan = time.perf_counter() - t0
    ev = evaluate(
        result.findings, sim.labels, account_scores=result.account_scores, groups=result.groups
    )
    fps = false_positives(result.findings, sim.labels)
    return {
        "n_orders": n_orders,
        "seed": seed,
        "simulate_seconds": round(t_sim, 2),
        "scan_seconds": round(t_scan, 2),
        "auc": ev.auc,
        "scenarios": ev.scenarios.to_dicts(),
        "rules": ev.rules.to_dicts(),
        "not_evaluated": result.not_evaluated,
        "unlabelled_subjects": fps.group_by("rule_id").len().sort("rule_id").to_dicts(),
        "unlabelled_examples": fps.head(40).to_dicts(),
        "table": ev.format_table(),
    }


def run_existing(run_dir: Path, dataset: Path) -> dict:
    """Score a finished scan folder against ``dataset/labels.parquet``.

    Same fields as :func:`run_one`; the size and seed are read from the run's ``run.json``
    (and the dataset's ``.json`` written by the suite), the commit of the code that scanned
    from ``RUN_DIR/COMMIT`` when present (written by whoever ran the scan on an export).
    """
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    findings = pl.read_parquet(run_dir / "findings.parquet")
    scores = pl.read_parquet(run_dir / "account_scores.parquet")
    groups = pl.read_parquet(run_dir / "groups.parquet")
    labels = pl.read_parquet(dataset / "labels.parquet")
    ev = evaluate(findings, labels, account_scores=scores, groups=groups)
    fps = false_positives(findings, labels)
    sim = dataset.with_suffix(".json")  # written next to the benchmark suite's datasets
    seed = json.loads(sim.read_text(encoding="utf-8"))["seed"] if sim.exists() else None
    return {
        "n_orders": int(info["row_counts"]["orders"]),
        "seed": seed if seed is not None else info["seed"],
        "run_dir": str(run_dir),
        "scan_code_commit": (
            (run_dir / "COMMIT").read_text(encoding="utf-8").strip()
            if (run_dir / "COMMIT").exists()
            else None
        ),
        "dataset": str(dataset),
        "scan_seconds": round(sum(v for k, v in info["timings"].items() if "detail" not in k), 2),
        "auc": ev.auc,
        "scenarios": ev.scenarios.to_dicts(),
        "rules": ev.rules.to_dicts(),
        "not_evaluated": info["not_evaluated"],
        "unlabelled_subjects": fps.group_by("rule_id").len().sort("rule_id").to_dicts(),
        "unlabelled_examples": fps.head(40).to_dicts(),
        "table": ev.format_table(),
    }


REPLAYED = ("SHILL_PURCHASE", "FEEDBACK_MANIPULATION")


def dump_detection(dataset: Path, out: Path) -> None:
    """Write the detection results the two replayed checks read (groups, identity links,
    rating signals) of the imported code for ``dataset`` to ``out``."""
    from graphkit.io import load_dataset
    from graphkit.policy.context import ScanContext

    ds = load_dataset(dataset)
    if ds.row_counts().get("orders", 0) <= 3_000_000:
        ds = ds.in_memory()
    ctx = ScanContext(ds, seed=0)
    out.mkdir(parents=True, exist_ok=True)
    ctx.ring_members.write_parquet(out / "ring_members.parquet")
    ctx.group_table.write_parquet(out / "group_table.parquet")
    ctx.identity_links.write_parquet(out / "identity_links.parquet")
    ctx.ratings.trading_pairs.write_parquet(out / "trading_pairs.parquet")
    ctx.ratings.sellers.write_parquet(out / "sellers.parquet")
    ctx.ratings.feedback.write_parquet(out / "rfeedback.parquet")
    (out / "dataset").write_text(str(dataset.resolve()), encoding="utf-8")


class _Replay:
    """A stand-in for ``ScanContext`` serving dumped detection results (:func:`dump_detection`)."""

    def __init__(self, dump: Path) -> None:
        from types import SimpleNamespace

        from graphkit.io import load_dataset

        self.ds = load_dataset(Path((dump / "dataset").read_text(encoding="utf-8"))).in_memory()
        self._frames: dict[str, pl.DataFrame] = {}
        self.ring_members = pl.read_parquet(dump / "ring_members.parquet")
        self.group_table = pl.read_parquet(dump / "group_table.parquet")
        self.identity_links = pl.read_parquet(dump / "identity_links.parquet")
        self.ratings = SimpleNamespace(
            trading_pairs=pl.read_parquet(dump / "trading_pairs.parquet"),
            sellers=pl.read_parquet(dump / "sellers.parquet"),
            feedback=pl.read_parquet(dump / "rfeedback.parquet"),
        )

    def has_groups(self) -> bool:
        return True

    def frame(self, name: str, columns: list[str] | None = None) -> pl.DataFrame:
        if name not in self._frames:
            self._frames[name] = self.ds.table(name).collect()
        f = self._frames[name]
        return f if columns is None else f.select(columns)


def replay(dump: Path, run_dir: Path) -> dict:
    """Re-run the two rating rules on dumped detection results and score them with the other
    rules' findings of ``run_dir`` (same fields as :func:`run_one`)."""
    from graphkit.config import ScanConfig
    from graphkit.policy.registry import checks, finalize_findings

    ctx = _Replay(dump)
    cfg = ScanConfig()
    parts = [
        finalize_findings(c(ctx, cfg.params(c.rule_id)), c.text(cfg.policy_text))  # type: ignore[arg-type]
        for c in checks()
        if c.rule_id in REPLAYED
    ]
    ref = pl.read_parquet(run_dir / "findings.parquet")
    other = ref.filter(~pl.col("rule_id").is_in(REPLAYED))
    findings = pl.concat([other, *[p.select(other.columns) for p in parts]]).sort("finding_id")
    labels = pl.read_parquet(
        Path((dump / "dataset").read_text(encoding="utf-8")) / "labels.parquet"
    )
    ev = evaluate(findings, labels)
    fps = false_positives(findings, labels)
    return {
        "n_orders": ctx.frame("orders").height,
        "seed": 0,
        "replay_of": str(dump),
        "other_rules_from": str(run_dir),
        "auc": ev.auc,
        "scenarios": ev.scenarios.to_dicts(),
        "rules": ev.rules.to_dicts(),
        "unlabelled_subjects": fps.group_by("rule_id").len().sort("rule_id").to_dicts(),
        "unlabelled_examples": fps.head(40).to_dicts(),
        "table": ev.format_table(),
    }


def git_state() -> dict:
    """HEAD commit, the tracked files modified in the (shared) working tree, and which code ran.

    ``graphkit_path`` is where ``graphkit`` was imported from: the working tree, or an export
    of a commit (``git archive C graphkit | tar -x -C DIR; git rev-parse C > DIR/COMMIT`` and
    ``PYTHONPATH=DIR``) when other engineers' uncommitted edits must stay out of the
    measurement; ``code_commit`` is then the commit named in ``DIR/COMMIT``.
    """
    import graphkit

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], capture_output=True, text=True).stdout.strip()

    path = Path(graphkit.__file__).parent.resolve()
    marker = path.parent / "COMMIT"  # written next to an export: the commit it was made from
    return {
        "head": git("rev-parse", "HEAD"),
        "modified": git("diff", "--name-only").split(),
        "graphkit_path": str(path),
        "code_commit": marker.read_text(encoding="utf-8").strip() if marker.exists() else None,
    }


def _short(commit: str | None) -> str:
    """A commit id shortened to 10 characters; other notes (e.g. 'X + uncommitted edits') whole.

    Examples
    --------
    >>> _short("0123456789" * 4), _short(None), _short("abc + edits")
    ('0123456789', 'unknown', 'abc + edits')
    """
    if not commit:
        return "unknown"
    return commit[:10] if len(commit) == 40 else commit


def _pr(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def render(paths: list[Path]) -> str:
    """Markdown table (precision / recall per scenario and run) of result files.

    Examples
    --------
    >>> render([])
    ''
    """
    docs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    runs = [(doc, r) for doc in docs for r in doc["runs"]]
    if not runs:
        return ""

    def name(r: dict) -> str:
        n = r["n_orders"]
        size = f"{n // 1000}k" if n < 1_000_000 else f"{n / 1e6:g}M"
        return f"{size} s{r['seed']}"

    lines = [
        "| scenario | " + " | ".join(f"{name(r)} P / R" for _, r in runs) + " |",
        "|---" * (len(runs) + 1) + "|",
    ]
    for i, sc in enumerate(runs[0][1]["scenarios"]):
        cells = []
        for _, r in runs:
            row = r["scenarios"][i]
            cells.append(f"{_pr(row['precision'])} / {_pr(row['recall'])}")
        lines.append(f"| {sc['scenario']} | " + " | ".join(cells) + " |")
    lines.append("| ROC-AUC of risk_score | " + " | ".join(_pr(r["auc"]) for _, r in runs) + " |")
    unl = []
    for _, r in runs:
        parts = [f"{u['rule_id']} {u['len']}" for u in r["unlabelled_subjects"]]
        unl.append(", ".join(parts) or "none")
    lines.append("| subjects with no label at all | " + " | ".join(unl) + " |")
    lines.append("")
    for doc in docs:
        m = doc["machine"]
        load = ", ".join(f"{x:.1f}" for x in m["load_avg_at_end"])
        git = doc["git_at_start"]
        path = git.get("graphkit_path")
        tree = Path(__file__).resolve().parents[1] / "graphkit"
        if path is None or Path(path) == tree:
            code = f"HEAD `{git['head'][:10]}` (working tree)"
        else:
            commit = git.get("code_commit") or "unknown"
            label = commit[:10] if len(commit) == 40 else commit
            code = (
                f"code of `{label}` exported to `{path}` (uncommitted edits of the shared "
                "tree not included)"
            )
        scanned = [
            f"`{r['run_dir']}` scanned by `{_short(r.get('scan_code_commit'))}`"
            for r in doc["runs"]
            if "run_dir" in r
        ]
        if scanned:  # --runs: the scan's code matters, not this script's
            code = "scoring " + ", ".join(scanned)
        lines.append(
            f"- `{doc['command']}`: {doc['date']}, {code}, "
            f"{m['platform']}, Python {m['python']}, {m['cpus']} cores, load average at the "
            f"end {load}."
        )
    return "\n".join(lines) + "\n"


def pooled(paths: list[Path]) -> str:
    """Markdown table: per scenario, precision and recall pooled over every run of the files.

    Recall pooled = planted accounts found / planted accounts, summed over the runs; precision
    pooled = correct predicted accounts / predicted accounts (each run's precision times its
    predicted accounts), summed likewise. Also the worst run and the runs below 0.9 / 0.95:
    small markets plant a handful of accounts per scenario, where one miss moves a run's
    recall by a third or a half. A second table pools per market size.

    Examples
    --------
    >>> pooled([])
    ''
    """
    runs = [r for p in paths for r in json.loads(Path(p).read_text(encoding="utf-8"))["runs"]]
    if not runs:
        return ""
    agg: dict[str, dict[str, Any]] = {}
    by_size: dict[tuple[str, int], dict[str, Any]] = {}

    def add(acc: dict[str, Any], row: dict[str, Any]) -> None:
        acc["t"] += row["true_accounts"]
        acc["tp"] += row["true_positives"]
        acc["runs"] += 1
        if row["precision"] is not None:
            acc["pred"] += row["predicted_accounts"]
            acc["ok"] += row["precision"] * row["predicted_accounts"]

    def fresh() -> dict[str, Any]:
        return {"t": 0, "tp": 0, "pred": 0.0, "ok": 0.0, "runs": 0, "worst": []}

    for r in runs:
        size = r["n_orders"]
        name = f"{size // 1000}k" if size < 1_000_000 else f"{size / 1e6:g}M"
        for row in r["scenarios"]:
            a = agg.setdefault(row["scenario"], fresh())
            add(a, row)
            add(by_size.setdefault((row["scenario"], size), fresh()), row)
            for key in ("precision", "recall"):
                if row[key] is not None:
                    a["worst"].append((row[key], key[0].upper(), f"{name} s{r['seed']}",
                                       row["true_accounts"]))  # fmt: skip
    lines = [
        f"Pooled over {len(runs)} runs. Cell counts: runs with P or R below 0.90 / below 0.95;"
        " worst cell: value, P or R, run, planted accounts n.",
        "",
        "| scenario | planted accounts | pooled P | pooled R | runs < 0.90 | runs < 0.95 "
        "| worst cell |",
        "|---|---|---|---|---|---|---|",
    ]
    for sc, a in agg.items():
        low = {th: len({w[2] for w in a["worst"] if w[0] < th}) for th in (0.9, 0.95)}
        worst = min(a["worst"], default=None)
        cell = "-" if worst is None else f"{worst[0]:.2f} {worst[1]} ({worst[2]}, n={worst[3]})"
        p = a["ok"] / a["pred"] if a["pred"] else None
        r = a["tp"] / a["t"] if a["t"] else None
        lines.append(
            f"| {sc} | {a['t']} | {_pr(p)} | {_pr(r)} | {low[0.9]} | {low[0.95]} | {cell} |"
        )
    sizes = sorted({size for _, size in by_size})
    names = [f"{n // 1000}k" if n < 1_000_000 else f"{n / 1e6:g}M" for n in sizes]
    runs_per = [len({r["seed"] for r in runs if r["n_orders"] == n}) for n in sizes]
    lines += [
        "",
        "Pooled per market size (runs per size: "
        + ", ".join(f"{n} {k}" for n, k in zip(names, runs_per, strict=True))
        + "):",
        "",
        "| scenario | " + " | ".join(f"{n} P / R" for n in names) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for sc in agg:
        cells = []
        for size in sizes:
            b = by_size.get((sc, size))
            p = b["ok"] / b["pred"] if b and b["pred"] else None
            r = b["tp"] / b["t"] if b and b["t"] else None
            cells.append(f"{_pr(p)} / {_pr(r)}")
        lines.append(f"| {sc} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


RATING_SCENARIOS = ("shill_ring", "camouflage", "feedback_trading", "dsr_manipulation")


def compare(before: list[Path], after: list[Path]) -> str:
    """Markdown before/after table of the rating scenarios for runs present in both.

    Per run (size, seed): precision of shill_ring/camouflage and of
    feedback_trading/dsr_manipulation (each pair shares one precision), the
    recalls that moved, and whether any other scenario moved.

    Examples
    --------
    >>> compare([], [])
    ''
    """

    def runs(paths: list[Path]) -> dict[tuple[int, int], dict]:
        docs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
        return {(r["n_orders"], r["seed"]): r for d in docs for r in d["runs"]}

    b, a = runs(before), runs(after)
    keys = [k for k in a if k in b]
    if not keys:
        return ""
    lines = [
        "| run | P shill/camouflage | P feedback_trading/dsr | recalls that moved | "
        "other scenarios |",
        "|---|---|---|---|---|",
    ]
    for k in keys:
        sb = {s["scenario"]: s for s in b[k]["scenarios"]}
        sa = {s["scenario"]: s for s in a[k]["scenarios"]}

        def p(name: str, sb: dict = sb, sa: dict = sa) -> str:
            return f"{_pr(sb[name]['precision'])} -> {_pr(sa[name]['precision'])}"

        moved = [
            f"{n} {_pr(sb[n]['recall'])} -> {_pr(sa[n]['recall'])}"
            for n in RATING_SCENARIOS
            if _pr(sb[n]["recall"]) != _pr(sa[n]["recall"])
        ]
        others = [
            n
            for n in sa
            if n not in RATING_SCENARIOS
            and (_pr(sb[n]["precision"]), _pr(sb[n]["recall"]))
            != (_pr(sa[n]["precision"]), _pr(sa[n]["recall"]))
        ]
        n, seed = k
        size = f"{n // 1000}k" if n < 1_000_000 else f"{n / 1e6:g}M"
        lines.append(
            f"| {size} s{seed} | {p('shill_ring')} | {p('feedback_trading')} | "
            f"{', '.join(moved) or 'none'} | {', '.join(others) or 'unchanged'} |"
        )
    # every scenario's precision and recall, unrounded: which went down
    down = [
        f"{s['scenario']} {m[0].upper()} {sb[m]:.3f} -> {s[m]:.3f} ({k[0] // 1000}k s{k[1]})"
        for k in keys
        for s in a[k]["scenarios"]
        for sb in [next(x for x in b[k]["scenarios"] if x["scenario"] == s["scenario"])]
        for m in ("precision", "recall")
        if s[m] is not None and sb[m] is not None and s[m] < sb[m]
    ]
    n_cells = sum(2 * len(a[k]["scenarios"]) for k in keys)
    lines += [
        "",
        f"Precision or recall lower after than before, any scenario, unrounded ({n_cells} "
        f"cells): {'; '.join(down) or 'none'}.",
    ]
    lines.append("")
    for label, paths in (("before", before), ("after", after)):
        for path in paths:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            git = doc["git_at_start"]
            code = git.get("code_commit") or git["head"][:10]
            scanned = [_short(r.get("scan_code_commit")) for r in doc["runs"] if "run_dir" in r]
            if scanned:  # --runs: the code that scanned
                code = ", ".join(scanned)
            lines.append(f"- {label}: `{doc['command']}` (code `{code}`)")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--out", default="benchmarks/results/quality.json")
    ap.add_argument(
        "--runs",
        nargs="+",
        metavar="RUN_DIR:DATASET",
        help="score these finished scan folders against their datasets' labels (no simulation)",
    )
    ap.add_argument("--render", nargs="+", metavar="JSON", help="print the table of result files")
    ap.add_argument(
        "--compare",
        nargs="+",
        metavar="JSON",
        help="with --render (the 'after' files): before/after table against these 'before' files",
    )
    ap.add_argument(
        "--dump-detection",
        nargs=2,
        metavar=("DATASET", "DUMP_DIR"),
        help="write the detection results the rating rules read, for --replay",
    )
    ap.add_argument(
        "--replay",
        nargs=2,
        metavar=("DUMP_DIR", "RUN_DIR"),
        help="re-run SHILL_PURCHASE / FEEDBACK_MANIPULATION on a dump; other rules from RUN_DIR",
    )
    ap.add_argument(
        "--pooled",
        action="store_true",
        help="with --render: per scenario P / R pooled over every run of the files",
    )
    ap.add_argument("--section", default="bench_quality", help="RESULTS.md section name")
    ap.add_argument("--update-results", action="store_true", help="also write RESULTS.md")
    args = ap.parse_args()
    if args.render:
        if args.compare:
            table = compare([Path(p) for p in args.compare], [Path(p) for p in args.render])
        elif args.pooled:
            docs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in args.render]
            codes: set[str] = set()
            for d in docs:
                scanned = [r for r in d["runs"] if "run_dir" in r]
                if scanned:  # --runs files: the code that scanned, not this script's
                    codes |= {_short(r.get("scan_code_commit")) for r in scanned}
                else:
                    codes.add(_short(d["git_at_start"].get("code_commit")))
            table = (
                "## Detection quality pooled over development and held-out runs (issue 6)\n\n"
                f"Runs of the files below (simulated, scanned and scored by the code of "
                f"{', '.join(f'`{c}`' for c in sorted(codes))}).\n\n"
            ) + pooled([Path(p) for p in args.render])
            table += (
                "\n- `python benchmarks/bench_quality.py --render "
                + " ".join(args.render)
                + " --pooled`\n"
            )
        else:
            table = render([Path(p) for p in args.render])
        print(table)
        if args.update_results:
            from _common import update_section

            update_section(Path(__file__).parent / "RESULTS.md", args.section, table)
        return
    if args.dump_detection:
        dump_detection(Path(args.dump_detection[0]), Path(args.dump_detection[1]))
        return
    git_before = git_state()
    runs = []
    if args.replay:
        r = replay(Path(args.replay[0]), Path(args.replay[1]))
        print(r["table"])
        runs.append(r)
    if args.runs:
        for spec in args.runs:
            run_dir, dataset = spec.split(":", 1)
            r = run_existing(Path(run_dir), Path(dataset))
            print(f"\n=== {run_dir} (n_orders={r['n_orders']} seed={r['seed']}) ===")
            print(r["table"])
            runs.append(r)
    for n in [] if args.runs or args.replay else args.sizes:
        for seed in args.seeds:
            r = run_one(n, seed)
            print(f"\n=== n_orders={n} seed={seed} (scan {r['scan_seconds']} s) ===")
            print(r["table"])
            runs.append(r)
    doc = {
        "benchmark": "bench_quality",
        "graphkit_version": __version__,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_at_end": os.getloadavg(),
        },
        "command": "python benchmarks/bench_quality.py "
        + (
            " ".join(["--runs", *args.runs])
            if args.runs
            else " ".join(["--replay", *args.replay])
            if args.replay
            else " ".join(["--sizes", *map(str, args.sizes), "--seeds", *map(str, args.seeds)])
        )
        + f" --out {args.out}",
        "git_at_start": git_before,
        "runs": runs,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\nwritten: {out}")


if __name__ == "__main__":
    main()
