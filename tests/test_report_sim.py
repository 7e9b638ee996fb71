"""The report on a simulated marketplace with planted rings: every drawn group is evidence."""

from __future__ import annotations

import base64
import re
import xml.dom.minidom

import polars as pl
import pytest

from graphkit.report import load_run, render_report


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory):
    from graphkit.io import dataset_from_frames
    from graphkit.scan import scan
    from graphkit.simulate import SimulationConfig, simulate

    m = simulate(20_000, seed=3, config=SimulationConfig().with_scenario("shill_ring", count=2))
    ds = dataset_from_frames(m.tables)
    out = scan(ds, seed=0).write(tmp_path_factory.mktemp("sim") / "run", report=False)
    return ds, out, m.labels


def _panels(html: str) -> dict[str, bytes]:
    found = re.findall(
        r'alt="subgraph and timeline of ([^"]+)" src="data:image/svg\+xml;base64,([^"]+)"', html
    )
    return {gid: base64.b64decode(uri) for gid, uri in found}


def test_every_drawn_group_has_a_panel_with_its_members(sim_run):
    ds, run_dir, _ = sim_run
    run = load_run(run_dir)
    html = render_report(run, dataset=ds)
    assert render_report(run, dataset=ds) == html  # same input, same bytes
    top = run.groups.sort(["score", "group_id"], descending=[True, False]).head(8)
    panels = _panels(html)
    assert sorted(panels) == sorted(top["group_id"].to_list())
    for g in top.iter_rows(named=True):
        svg = panels[g["group_id"]]
        xml.dom.minidom.parseString(svg)
        members = set(g["member_ids"]) | set(g["seller_ids"] or [])
        # a marker per member (circles buyers, squares sellers; + background and legend keys)
        assert len(re.findall(rb"<circle|<rect", svg)) >= len(members) + 1
        if len(members) <= 30:  # small cases are labelled: every member is named
            labels = {
                t.decode() for t in re.findall(rb'text-anchor="middle" [^>]*>([^<]+)</text>', svg)
            }
            assert {m if len(m) <= 14 else m[:13] + "…" for m in members} <= labels


def test_planted_ring_panel_shows_its_evidence_orders_in_red(sim_run):
    ds, run_dir, labels = sim_run
    run = load_run(run_dir)
    ring = set(
        labels.filter((pl.col("scenario") == "shill_ring") & (pl.col("entity_kind") == "account"))[
            "entity_id"
        ].to_list()
    )
    html = render_report(run, dataset=ds, top_groups=len(run.groups))
    panels = _panels(html)
    hit = [
        g["group_id"]
        for g in run.groups.iter_rows(named=True)
        if len(ring & set(g["member_ids"])) >= 3
        and run.findings.filter(pl.col("group_id") == g["group_id"])["evidence_ids"]
        .list.len()
        .sum()
    ]
    assert hit, "the planted rings were not found: nothing to check"
    for gid in hit:
        assert b'stroke="#d62728"' in panels[gid]  # evidence edges drawn in red
