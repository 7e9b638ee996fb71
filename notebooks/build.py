"""Write the investigator notebooks (without outputs) from the cells below.

The notebooks are generated so they stay small, reviewable and free of
outputs; CI executes them (``tests/test_notebooks.py``). Edit the cells here,
then run::

    python notebooks/build.py

Each notebook runs top to bottom on ``data/sample`` from the repository root
or from ``notebooks/`` and writes only under ``runs/notebooks/`` (or
``$GRAPHKIT_NOTEBOOK_OUT``).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import polars as pl

import graphkit
from graphkit.notebook import find_sample, output_dir
from graphkit.scan import scan

pl.Config.set_tbl_rows(12)
pl.Config.set_fmt_str_lengths(80)"""


def md(text: str) -> nbformat.NotebookNode:
    """Return a markdown cell."""
    return new_markdown_cell(text.strip())


def code(text: str) -> nbformat.NotebookNode:
    """Return a code cell."""
    return new_code_cell(text.strip())


QUICKSTART = [
    md("""
# 01 · Quickstart: load, scan, read the findings

graphkit turns a marketplace's orders, feedback, messages, cases and coupons into findings:
one row per suspected policy violation, with a score, a recommended action, the evidence
ids and the *signals* (named numbers against thresholds) that explain it.

This notebook uses the bundled, simulated sample in `data/sample` (20k orders).
"""),
    code(SETUP),
    md("""
## Load the sample

`load_dataset` validates every table against the data contract (all problems at once)
and returns a `Dataset` of lazy polars frames. Its rich display summarises the tables.
"""),
    code("""
ds = graphkit.load_dataset(find_sample())
ds"""),
    md("""
## Scan

`scan` runs every policy check once, with one seed: the same input and seed give the same
findings, byte for byte. The result shows findings per policy and severity, the policies
that could not be evaluated (and why), and the strongest findings.
"""),
    code("""
result = scan(ds, seed=0)
result"""),
    code("result.summary()"),
    md("""
## Look at one finding

`result.finding(id, dataset=ds)` gives a readable view: the explanation, every signal with
its value and threshold, the subjects, the evidence and the drawn subgraph (buyers blue
circles, sellers orange squares, evidence orders red).
"""),
    code("""
top = result.findings.sort(["score", "finding_id"], descending=[True, False])
top.select("finding_id", "rule_id", "severity", "score", "recommended_action").head(10)"""),
    code("""
view = result.finding(top["finding_id"][0], dataset=ds)
view"""),
    md("In a terminal (or a log), the same view prints as plain text:"),
    code("print(repr(view))"),
    md("""
## Who is most at risk?

Every account gets a `risk_score` (0..1) combining its findings and detection signals.
"""),
    code("""
result.account_scores.sort(["risk_score", "account_id"], descending=[True, False]).head(10)"""),
    md("""
## Write the run folder

The run folder holds the output contract's tables, `run.json` (parameters, seed, input
hashes) and the self-contained `report.html`. Notebooks write under `runs/notebooks/`
(gitignored), never into `data/`.
"""),
    code("""
run_dir = result.write(output_dir("01-quickstart") / "run", dataset=ds)
sorted(p.name for p in run_dir.iterdir())"""),
]


SHILL = [
    md("""
# 02 · From a suspicious seller to its shill ring

Shill purchases are bought "with the sole intent to help increase the seller's ranking",
by family, friends, employees or online connections. The trail: one seller whose buyers
look alike, the ring of accounts around it, the identifiers tying them together, the
timeline, the ratings they left, and an evidence bag an investigator can hand over.
"""),
    code(
        SETUP
        + """
from graphkit.graph.build import build_identity_graph
from graphkit.report import case_rows, export_case, verify_case
from graphkit.report.cases import evidence_order_ids
from graphkit.report.plots import rating_distribution_plot, timeline_plot"""
    ),
    code("""
ds = graphkit.load_dataset(find_sample())
result = scan(ds, seed=0)
accounts = ds.table("accounts").collect()
result.summary().filter(pl.col("rule_id") == "SHILL_PURCHASE")"""),
    md("""
## 1. The suspicious seller

Take the strongest `SHILL_PURCHASE` finding. Its subjects are the seller and the buyers
whose purchases carry shill evidence (concentrated on this store, new accounts, small
amounts, top ratings, identity links).
"""),
    code("""
shill = result.findings.filter(pl.col("rule_id") == "SHILL_PURCHASE").sort(
    ["score", "finding_id"], descending=[True, False]
)
case = result.finding(shill["finding_id"][0], dataset=ds)
seller = (
    accounts.filter(
        pl.col("account_id").is_in(list(case.subject_ids)) & (pl.col("kind") == "seller")
    )["account_id"]
    .sort()
    .item(0)
)
print("seller:", seller)
case"""),
    md("""
## 2. The ring

Group detection (dense blocks, lockstep buying, identity clusters, shill rings) may have
found groups holding this seller. Open a detected shill ring first, else the group the
finding cites, else the strongest; the group view lists its members, its sellers and every
finding about it. Without any group, the finding's subjects are the ring.
"""),
    code("""
holding = (
    result.groups.filter(
        pl.col("seller_ids").list.contains(seller) | pl.col("member_ids").list.contains(seller)
    )
    .with_columns(
        preference=pl.when(pl.col("kind") == "shill_ring")
        .then(0)
        .when(pl.col("group_id") == (case.group_id or ""))
        .then(1)
        .otherwise(2)
    )
    .sort(["preference", "score", "group_id"], descending=[False, True, False])
)
holding.select("group_id", "kind", "score", members=pl.col("member_ids").list.len())"""),
    code("""
ring = result.group(holding["group_id"][0], dataset=ds) if holding.height else case
ring_ids = sorted(
    set(getattr(ring, "member_ids", ())) | set(getattr(ring, "seller_ids", ()))
    | set(case.subject_ids)
)
print(f"{len(ring_ids)} accounts in the ring")
ring"""),
    md("""
### Explore it interactively

Drag to pan, scroll to zoom, hover for details, click an account to select it
(`view.selected` then holds its id). The widget's JavaScript ships inside graphkit:
it works offline. Without a running kernel, use the static picture below.
"""),
    code("""
view = ring.widget(height=380)
view"""),
    code("ring.plot();"),
    md("""
## 3. Identity links

Accounts sharing a device, payment instrument, address or phone are likely one person or
household. Values shared by very many accounts (carrier NAT, warehouses) are capped as hubs.
"""),
    code("""
links = build_identity_graph(ds).links
ring_links = links.filter(
    pl.col("account_a").is_in(ring_ids) & pl.col("account_b").is_in(ring_ids)
).sort("weight", "account_a", "account_b", descending=[True, False, False])
ring_links"""),
    code("""
ds.table("identifiers").filter(pl.col("account_id").is_in(ring_ids)).group_by(
    "kind", "value"
).agg(accounts=pl.col("account_id").unique().sort(), n=pl.col("account_id").n_unique()).filter(
    pl.col("n") > 1
).sort("n", "kind", "value", descending=[True, False, False]).collect()"""),
    md("""
## 4. Timeline

Rings are built fast: new accounts, a burst of cheap orders and five-star feedback.
"""),
    code("""
evidence = [{"kind": k, "id": i} for k, i in case.evidence]
rows = case_rows(ds.tables, account_ids=ring_ids, evidence=evidence)
print({name: frame.height for name, frame in rows.items()})
timeline_plot(rows, title=f"Ring around {seller}: events per bucket").plot();"""),
    md("""
## 5. Ratings the seller received

The same plot functions serve the HTML report and this notebook: the seller's star and
DSR distribution against every other seller's.
"""),
    code("""
rating_distribution_plot(ds.feedback, ds.orders, seller_ids=[seller]).plot();"""),
    code("""
ev_orders = sorted(evidence_order_ids(rows, evidence))
rows["feedback"].filter(pl.col("order_id").is_in(ev_orders)).select(
    "feedback_id", "author_id", "target_id", "rating", "created_at"
).sort("created_at", "feedback_id").head(10)"""),
    md("""
## 6. Evidence export

Write the run folder, then export the case as a BagIt bag (every selected row, the
finding, the policy text, the subgraph as GraphML/GEXF, checksums) and verify it.
"""),
    code("""
out = output_dir("02-shill-ring-investigation")
run_dir = result.write(out / "run", dataset=ds)
bag = export_case(run_dir, dataset=ds, finding_id=case.finding_id, out=out / "bag")
check = verify_case(bag.path)
print(f"{bag.case_kind} {bag.case_id}: bag verified = {check.ok}, {check.files} files")
list(bag.files)"""),
    md("""
## 7. Against the ground truth

The sample is simulated, so we can check: which planted scenario do these accounts belong to?
"""),
    code("""
labels = pl.read_parquet(find_sample() / "labels.parquet")
labels.filter((pl.col("entity_kind") == "account") & pl.col("entity_id").is_in(ring_ids)).group_by(
    "scenario", "group_id"
).agg(accounts=pl.len()).sort("accounts", "scenario", descending=[True, False])"""),
]


DSR = [
    md("""
# 03 · DSR manipulation: a seller's rating inflation, explained

Detailed seller ratings (DSRs: item as described, communication, shipping speed) drive a
store's ranking. Manipulated ratings come from accounts tied to the seller, repeat raters,
brand-new accounts, feedback left before delivery was possible, or ratings "paid for" by a
refund. This notebook takes the most suspicious seller and shows how much of its rating
rests on such feedback.
"""),
    code(
        SETUP
        + """
from graphkit.detect.ratings import rating_signals
from graphkit.graph.build import build_identity_graph
from graphkit.report.plots import rating_distribution_plot, timeline_plot"""
    ),
    code("""
ds = graphkit.load_dataset(find_sample())
result = scan(ds, seed=0)
manip = result.findings.filter(pl.col("rule_id") == "FEEDBACK_MANIPULATION").sort(
    ["score", "finding_id"], descending=[True, False]
)
manip.select("finding_id", "severity", "score", "subject_ids").head(5)"""),
    md("""
## The finding

The explanation names every signal with its numbers: shares against the population and the
threshold, and the inflation (what the ratings would be without the unreliable ones).
"""),
    code("""
finding = result.finding(manip["finding_id"][0])
accounts = ds.table("accounts").collect()
seller = (
    accounts.filter(
        pl.col("account_id").is_in(list(finding.subject_ids)) & (pl.col("kind") == "seller")
    )["account_id"]
    .sort()
    .item(0)
)
print("seller:", seller)
finding"""),
    md("""
## Shown vs reliable ratings

`rating_signals` scores every buyer-to-seller rating for reliability and recomputes each
seller's means without the unreliable ones. The gap is the inflation.
"""),
    code("""
signals = rating_signals(ds, identity_links=build_identity_graph(ds).links)
row = signals.sellers.filter(pl.col("seller_id") == seller)
measures = ["rating", "dsr_item_as_described", "dsr_communication", "dsr_shipping_speed"]
inflation = pl.DataFrame(
    {
        "measure": measures,
        "shown": [row[f"{m}_mean"].item() for m in measures],
        "reliable_only": [row[f"{m}_mean_reliable"].item() for m in measures],
        "inflation": [row[f"{m}_inflation"].item() for m in measures],
    }
)
inflation"""),
    code("""
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 2.8))
x = list(range(len(measures)))
ax.bar([i - 0.2 for i in x], inflation["shown"], width=0.4, label="shown", color="#d62728")
ax.bar([i + 0.2 for i in x], inflation["reliable_only"], width=0.4,
       label="without unreliable ratings", color="#9a9a9a")
ax.set_xticks(x, [m.replace("dsr_", "DSR ").replace("_", " ") for m in measures], fontsize=7)
ax.set_ylim(1, 5)
ax.set_ylabel("mean stars")
ax.set_title(f"{seller}: rating inflation", loc="left", fontsize=9)
ax.legend(fontsize=7, frameon=False);"""),
    md("""
## Where the stars come from

The seller's star and DSR distribution against every other seller (the report's plot).
"""),
    code("rating_distribution_plot(ds.feedback, ds.orders, seller_ids=[seller]).plot();"),
    md("""
## The suspicious ratings, one by one

Each rating carries the flags that made it unreliable (`reasons`).
"""),
    code("""
fb = signals.feedback.filter(pl.col("target_id") == seller)
fb.group_by("suspicious").agg(n=pl.len(), mean_rating=pl.col("rating").mean()).sort(
    "suspicious"
)"""),
    code("""
fb.filter(pl.col("suspicious")).explode("reasons").group_by("reasons").agg(n=pl.len()).sort(
    "n", "reasons", descending=[True, False]
)"""),
    code("""
fb.filter(pl.col("suspicious")).select(
    "feedback_id", "author_id", "rating", "dsr_item_as_described", "reliability", "reasons",
    "created_at",
).sort("created_at", "feedback_id").head(10)"""),
    md("""
## When

Feedback over time, suspicious ratings apart: manipulation often comes in bursts.
"""),
    code("""
susp = fb.filter(pl.col("suspicious"))
timeline_plot(
    {"feedback": susp, "orders": ds.orders.filter(pl.col("seller_id") == seller)},
    title=f"{seller}: its orders and its suspicious feedback",
).plot();"""),
    md("## Against the ground truth (the sample is simulated)"),
    code("""
labels = pl.read_parquet(find_sample() / "labels.parquet")
labels.filter(pl.col("entity_id") == seller)"""),
]


SWEEP = [
    md("""
# 04 · Policy sweep: tuning a threshold on simulated data

Every policy check declares its thresholds with a default and the reason for it. On a
simulated marketplace with planted violations we can see what a threshold does: here,
`SHILL_PURCHASE.min_points` (how many independent pieces of shill evidence a buyer–seller
pair needs), swept while precision and recall move.
"""),
    code(
        SETUP
        + """
from graphkit.config import ScanConfig, thresholds_table
from graphkit.evaluate import evaluate
from graphkit.io import dataset_from_frames
from graphkit.simulate import simulate"""
    ),
    md("## Every policy and its thresholds"),
    code("""
thresholds = thresholds_table()
print(thresholds["rule_id"].n_unique(), "policies,", thresholds.height, "thresholds")
thresholds.filter(pl.col("rule_id") == "SHILL_PURCHASE")"""),
    md("""
## A simulated marketplace

30k orders with organic behaviour and planted violations; the simulator also writes the
ground truth (`labels`), which detection never reads.
"""),
    code("""
market = simulate(30_000, seed=7)
sim = dataset_from_frames(market.tables)
market.labels.filter(pl.col("entity_kind") == "account").group_by("scenario").agg(
    accounts=pl.len()
).sort("scenario")"""),
    md("## All policies at their defaults"),
    code("""
result = scan(sim, seed=0)
quality = evaluate(
    result.findings, market.labels, account_scores=result.account_scores, groups=result.groups
)
quality.rules"""),
    md("""
## Sweep one threshold

Only `SHILL_PURCHASE` runs (the other checks are disabled), once per value.
"""),
    code("""
rule, name = "SHILL_PURCHASE", "min_points"
default = ScanConfig().params(rule)[name]
others = tuple(r for r in result.run_info["rules"] if r != rule)
rows = []
for value in range(1, 8):  # a handful of scans, not a loop over data
    cfg = ScanConfig(rules={rule: {name: value}}, disabled=others)
    swept = scan(sim, config=cfg, seed=0)
    r = evaluate(swept.findings, market.labels).rules.filter(pl.col("rule_id") == rule)
    rows.append({name: value, **r.select("findings", "predicted_accounts", "precision",
                                         "recall", "f1").row(0, named=True)})
sweep = pl.DataFrame(rows)
sweep"""),
    code("""
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 3))
for metric, color in (("precision", "#1f77b4"), ("recall", "#ff7f0e"), ("f1", "#2ca02c")):
    ax.plot(sweep[name], sweep[metric].fill_null(float("nan")), marker="o", label=metric,
            color=color)
ax.axvline(default, color="#9a9a9a", linestyle="--", label=f"default ({default})")
ax.set_xlabel(f"{rule}.{name}")
ax.set_ylim(0, 1.05)
ax.set_title("Precision and recall against planted shill rings (accounts)", loc="left",
             fontsize=9)
ax.legend(fontsize=7, frameon=False);"""),
    md("""
Lower thresholds catch every ring buyer but drown investigators in honest repeat customers;
higher ones keep only the clearest rings. To change the threshold for a real run, put it in a
config file:

```toml
[rules.SHILL_PURCHASE]
min_points = 3
```

and pass it with `graphkit scan DATA --config scan.toml` (or `ScanConfig.from_toml`).
"""),
]


NOTEBOOKS = {
    "01-quickstart.ipynb": QUICKSTART,
    "02-shill-ring-investigation.ipynb": SHILL,
    "03-dsr-manipulation.ipynb": DSR,
    "04-policy-sweep.ipynb": SWEEP,
}


def build(folder: Path = HERE) -> list[Path]:
    """Write every notebook into ``folder`` (without outputs); return their paths."""
    paths = []
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(
            cells=cells,
            metadata={
                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                "language_info": {"name": "python"},
            },
        )
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{name.split('-')[0]}-{i:02d}"  # stable ids: no diff noise on rebuild
        nbformat.validate(nb)
        path = folder / name
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in build():
        print(p)
