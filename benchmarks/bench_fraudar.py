"""FRAUDAR injection benchmark (Hooi et al., KDD 2016, section 5 protocol).

Background: ``--edges`` distinct buyer–seller edges (default 1M) among 500k
buyers and 50k sellers: buyer degrees from a power law ``P(k) ~ k^-2.5``
(k <= 1000), sellers by Zipf popularity (rank^-1), pairs deduplicated. This
background has an organic dense core (heavy buyers x popular stores).
Injected: a 200x200 block (new buyers x new sellers) at density 0.10 / 0.05 /
0.03 / 0.02; each fraud buyer adds as many camouflage edges as it has fraud
edges, to uniformly random sellers ("random") or to sellers drawn in
proportion to their degree ("biased").

Reported per case: F1 of the first block and of the best of the first 3 blocks
against the 400 planted accounts (buyers and sellers; its rank), buyer-only F1,
and edges/s (edges peeled per second of wall time, weights + peeling, after the
arrays exist).

``structure``: :func:`fraudar_peel` on the graph alone, 3 blocks.
``structure+time``: every order gets a time (organic: uniform over a year; a
fraud buyer's orders, block and camouflage: one 3-day campaign) and
:func:`fraudar_peel_windows` peels each 3-day window (two offsets), whole-graph
column weights; the 3 densest window-blocks are compared.

Run: ``python benchmarks/bench_fraudar.py --out benchmarks/results/fraudar.json``;
markdown rows: ``python benchmarks/bench_fraudar.py --render benchmarks/results/fraudar.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime

import numpy as np

from graphkit.detect.dense import fraudar_peel, fraudar_peel_windows

N_BUYERS, N_SELLERS, BLOCK = 500_000, 50_000, 200
N_BLOCKS = 3


def _zipf_choice(rng: np.random.Generator, n: int, alpha: float, size: int) -> np.ndarray:
    p = (np.arange(n) + 1.0) ** -alpha
    cdf = np.cumsum(p / p.sum())
    idx = np.searchsorted(cdf, rng.random(size))
    return rng.permutation(n)[np.minimum(idx, n - 1)]


def background(rng: np.random.Generator, n_edges: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct buyer–seller edges (about ``n_edges`` after deduplication).

    Buyer degrees follow a discrete power law ``P(k) ~ k^-2.5`` (k = 1..1000, the
    shape of e-commerce purchase counts), sellers are picked by Zipf popularity
    (rank^-1), so the background has its own heavy buyers and popular stores.
    """
    k = np.arange(1, 1001, dtype=np.float64)
    pk = k**-2.5
    deg = rng.choice(k.astype(np.int64), size=N_BUYERS, p=pk / pk.sum())
    deg = np.maximum(1, (deg * (n_edges * 1.1 / deg.sum())).round().astype(np.int64))
    b = np.repeat(np.arange(N_BUYERS), deg)
    s = _zipf_choice(rng, N_SELLERS, 1.0, len(b))
    key = rng.permutation(np.unique(b.astype(np.int64) * N_SELLERS + s))[:n_edges]
    return key // N_SELLERS, key % N_SELLERS


def inject(
    rng: np.random.Generator,
    b: np.ndarray,
    s: np.ndarray,
    density: float,
    camouflage: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add a BLOCK x BLOCK block of new accounts plus camouflage; return (b, s, is_fraud_edge)."""
    fb, fs = np.nonzero(rng.random((BLOCK, BLOCK)) < density)
    fb, fs = fb + N_BUYERS, fs + N_SELLERS
    n_camo = len(fb)
    cam_b = fb.copy()  # each fraud edge's buyer gets one camouflage edge
    if camouflage == "random":
        cam_s = rng.integers(0, N_SELLERS, n_camo)
    else:
        deg = np.bincount(s, minlength=N_SELLERS).astype(np.float64)
        cdf = np.cumsum(deg / deg.sum())
        cam_s = np.minimum(np.searchsorted(cdf, rng.random(n_camo)), N_SELLERS - 1)
    bb = np.concatenate([b, fb, cam_b])
    ss = np.concatenate([s, fs, cam_s])
    fraud = np.concatenate([np.zeros(len(b), bool), np.ones(len(fb), bool), np.zeros(n_camo, bool)])
    key = bb * (N_SELLERS + BLOCK) + ss
    _, first = np.unique(key, return_index=True)
    first.sort()
    return bb[first], ss[first], fraud[first]


def f1(found: np.ndarray, truth: np.ndarray) -> float:
    tp = len(np.intersect1d(found, truth))
    if tp == 0:
        return 0.0
    p, r = tp / len(found), tp / len(truth)
    return 2 * p * r / (p + r)


def order_times(rng: np.random.Generator, buyer: np.ndarray) -> np.ndarray:
    """Order time (days) per edge: organic orders uniform over a year; a fraud buyer
    places all its orders (block and camouflage) within one 3-day campaign."""
    t = rng.uniform(0, 365, len(buyer))
    fraud_buyer = buyer >= N_BUYERS
    t[fraud_buyer] = 100 + rng.uniform(0, 3, int(fraud_buyer.sum()))
    return t


def run(n_edges: int, seed: int, eps: float) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    b0, s0 = background(rng, n_edges)
    truth_b = np.arange(N_BUYERS, N_BUYERS + BLOCK)
    truth_s = np.arange(N_SELLERS, N_SELLERS + BLOCK)
    rows: list[dict[str, object]] = []
    for camouflage in ("random", "biased"):
        for density in (0.10, 0.05, 0.03, 0.02):
            b, s, fraud = inject(rng, b0, s0, density, camouflage)
            times = order_times(rng, b)
            for signal in ("structure", "structure+time"):
                t0, c0 = time.perf_counter(), time.process_time()
                if signal == "structure":
                    blocks = fraudar_peel(
                        b,
                        s,
                        n_buyers=N_BUYERS + BLOCK,
                        n_sellers=N_SELLERS + BLOCK,
                        eps=eps,
                        n_blocks=N_BLOCKS,
                    )
                    n_peels = len(blocks)
                else:
                    found = fraudar_peel_windows(
                        b,
                        s,
                        times,
                        n_buyers=N_BUYERS + BLOCK,
                        n_sellers=N_SELLERS + BLOCK,
                        window=3.0,
                        eps=eps,
                    )
                    blocks = [blk for _, blk in found[:N_BLOCKS]]
                    n_peels = 1  # every edge is peeled twice (two window offsets) in total
                dt = time.perf_counter() - t0
                cpu = time.process_time() - c0
                truth = np.concatenate([truth_b, truth_s + 10**9])
                scores = [f1(np.concatenate([x.buyers, x.sellers + 10**9]), truth) for x in blocks]
                best = int(np.argmax(scores))
                blk = blocks[best]
                rows.append(
                    {
                        "camouflage": camouflage,
                        "density": density,
                        "signal": signal,
                        "n_edges": len(b),
                        "n_fraud_edges": int(fraud.sum()),
                        "f1_first_block": round(scores[0], 4),
                        "f1_best_block": round(scores[best], 4),
                        "best_block_rank": best + 1,
                        "f1_buyers_best": round(f1(blk.buyers, truth_b), 4),
                        "best_block_size": [len(blk.buyers), len(blk.sellers)],
                        "seconds_all_blocks": round(dt, 3),
                        "edges_per_s": int(len(b) * n_peels / dt),
                        "edges_per_cpu_s": int(len(b) * n_peels / cpu),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    return rows


def render(path: str) -> str:
    """Markdown rows of a results JSON (pasted into RESULTS.md, never typed)."""
    with open(path) as fh:
        res = json.load(fh)
    lines = [
        "| camouflage | density | signal | F1 first block | F1 best of 3 (rank) | "
        "buyer F1 (best) | block size (best) | edges/s wall | edges/s CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['camouflage']} | {r['density']:.2f} | {r['signal']} | "
            f"{r['f1_first_block']:.3f} | {r['f1_best_block']:.3f} ({r['best_block_rank']}) | "
            f"{r['f1_buyers_best']:.3f} | {r['best_block_size'][0]}x{r['best_block_size'][1]} | "
            f"{r['edges_per_s']:,} | {r.get('edges_per_cpu_s', 0):,} |"
        )
    lines.append(
        f"\nStarted {res['started']}; load average before {res['loadavg_before']}, "
        f"after {res['loadavg_after']}; command `{res['command']}`."
    )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--render":
        print(render(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eps", type=float, default=0.05)
    ap.add_argument("--out", default="benchmarks/results/fraudar.json")
    args = ap.parse_args()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    load_before = os.getloadavg()
    rows = run(args.edges, args.seed, args.eps)
    out = {
        "benchmark": "fraudar_injection",
        "command": f"python benchmarks/bench_fraudar.py --edges {args.edges} --seed {args.seed} "
        f"--eps {args.eps}",
        "started": started,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "rows": rows,
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
