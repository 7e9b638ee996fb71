"""Plot objects: the numbers they hold (known answers) and that they draw."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl
import pytest
from test_report_case import RING, case_tables

from graphkit.report.plots import (
    figure_png,
    figure_svg,
    findings_trend_plot,
    rating_distribution_plot,
    subgraph_plot,
    timeline_plot,
)


@pytest.fixture(scope="module")
def tables():
    t = case_tables()
    time_cols = {
        "orders": "created_at",
        "feedback": "created_at",
        "messages": "sent_at",
        "disputes": "opened_at",
    }
    return {
        name: df.with_columns(pl.col(c).str.to_datetime(time_zone="UTC"))
        if (c := time_cols.get(name))
        else df
        for name, df in t.items()
    }


def test_subgraph_edges_kinds_and_evidence(tables):
    p = subgraph_plot(
        tables["orders"], account_ids=[*RING, "s1"], evidence_ids=["or1", "or2"], seed=1
    )
    assert p.edges.select("buyer_id", "seller_id", "n_orders", "evidence").rows() == [
        ("r1", "s1", 3, True),
        ("r2", "s1", 3, True),
        ("r3", "s1", 3, False),
    ]
    assert dict(p.nodes.select("account_id", "kind").rows()) == {
        "r1": "buyer",
        "r2": "buyer",
        "r3": "buyer",
        "s1": "seller",
    }
    assert p.nodes["member"].all()
    # h1 -> s1 is not among members and not evidence: not drawn
    assert "h1" not in p.nodes["account_id"].to_list()


def test_subgraph_evidence_edge_brings_its_counterparty(tables):
    p = subgraph_plot(tables["orders"], account_ids=["s2"], evidence_ids=["oh4"])
    assert p.edges.select("buyer_id", "seller_id").rows() == [("h4", "s2")]
    assert dict(p.nodes.select("account_id", "member").rows()) == {"h4": False, "s2": True}


def test_subgraph_drops_weakest_counterparties_beyond_max_nodes(tables):
    p = subgraph_plot(
        tables["orders"],
        account_ids=["s2"],
        evidence_ids=["oh2", "oh3", "oh4", "oh5"],
        max_nodes=2,
    )
    # s2 (member) and 4 counterparties with one order each: ties broken by id
    assert p.dropped_nodes == 3
    assert p.nodes["account_id"].to_list() == ["h1", "s2"]
    assert p.edges.select("buyer_id", "seller_id").rows() == [("h1", "s2")]


def test_subgraph_layout_is_seeded(tables):
    a = subgraph_plot(tables["orders"], account_ids=[*RING, "s1"], seed=3)
    b = subgraph_plot(tables["orders"], account_ids=[*RING, "s1"], seed=3)
    assert a.nodes.equals(b.nodes)


@pytest.mark.parametrize("trial", range(6))
def test_spring_positions_are_networkx_spring_layout(trial):
    import networkx as nx
    import numpy as np

    from graphkit.report.plots import spring_positions

    rng = np.random.default_rng(trial)
    n = int(rng.integers(2, 120))
    i, j = rng.integers(0, n, 3 * n), rng.integers(0, n, 3 * n)
    i, j = i[i != j], j[i != j]  # repeated pairs, both directions: the last weight counts
    w = rng.integers(1, 12, len(i)).astype(float)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_weighted_edges_from(zip(i.tolist(), j.tolist(), w.tolist(), strict=True))
    ref = nx.spring_layout(g, seed=trial)
    assert np.array_equal(spring_positions(n, i, j, w, seed=trial), [ref[v] for v in range(n)])


def test_spring_positions_small_graphs():
    import numpy as np

    from graphkit.report.plots import spring_positions

    assert spring_positions(1, np.array([], int), np.array([], int), np.array([])).tolist() == [
        [0.0, 0.0]
    ]
    two = spring_positions(2, np.array([0]), np.array([1]), np.array([1.0]), seed=0)
    assert np.allclose(two.sum(axis=0), 0.0)  # centred
    assert np.abs(two).max() == 1.0  # scaled to [-1, 1]


def test_rating_distribution_known_shares(tables):
    p = rating_distribution_plot(tables["feedback"], tables["orders"], seller_ids=["s1"])
    r = p.counts.filter(pl.col("measure") == "rating")
    imp = dict(r.filter(pl.col("cohort") == "implicated").select("value", "n").rows())
    pop = dict(r.filter(pl.col("cohort") == "population").select("value", "n").rows())
    assert imp == {1: 0, 2: 1, 3: 0, 4: 0, 5: 9}  # 9 ring 5-stars + h1's 2 on s1
    assert pop == {1: 0, 2: 0, 3: 1, 4: 1, 5: 1}  # s2
    share5 = r.filter((pl.col("cohort") == "implicated") & (pl.col("value") == 5))["share"]
    assert share5.item() == pytest.approx(0.9)


def test_rating_distribution_ignores_feedback_left_by_sellers(tables):
    fb = pl.concat(
        [
            tables["feedback"],
            tables["feedback"]
            .head(1)
            .with_columns(
                feedback_id=pl.lit("fs"),
                author_id=pl.lit("s1"),
                target_id=pl.lit("r1"),
                rating=pl.lit(1, dtype=tables["feedback"]["rating"].dtype),
            ),
        ]
    )
    p = rating_distribution_plot(fb, tables["orders"], seller_ids=["s1"])
    r = p.counts.filter((pl.col("measure") == "rating") & (pl.col("value") == 1))
    assert r["n"].sum() == 0


def test_timeline_counts_per_day_and_auto_bucket(tables):
    p = timeline_plot({"orders": tables["orders"], "messages": tables["messages"]})
    assert p.every == "1d"
    orders = p.counts.filter(pl.col("kind") == "orders")
    assert orders["n"].sum() == tables["orders"].height
    assert orders.filter(pl.col("bucket") == datetime(2026, 3, 2, tzinfo=UTC))["n"].item() == 3
    long = pl.DataFrame(
        {"created_at": [datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 9, 1, tzinfo=UTC)]}
    )
    assert timeline_plot({"orders": long}).every == "1w"


def test_trend_counts_by_rule_and_week():
    f = pl.DataFrame(
        {
            "rule_id": ["A", "A", "B", "A"],
            "first_seen": [
                datetime(2026, 3, 2, tzinfo=UTC),
                datetime(2026, 3, 4, tzinfo=UTC),
                datetime(2026, 3, 4, tzinfo=UTC),
                None,
            ],
        }
    )
    assert findings_trend_plot(f).counts.select("rule_id", "n").rows() == [("A", 2), ("B", 1)]


def test_plots_draw_and_png_is_reproducible(tables):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weird = tables["orders"].with_columns(buyer_id=pl.lit("$x^{$"))  # would break mathtext
    plots = [
        subgraph_plot(weird, account_ids=["$x^{$", "s1", "s2"]),
        rating_distribution_plot(tables["feedback"], tables["orders"], seller_ids=["s1"]),
        timeline_plot(tables),
        findings_trend_plot(
            pl.DataFrame(schema={"rule_id": pl.String, "first_seen": pl.Datetime("us", "UTC")})
        ),
    ]
    for p in plots:
        ax = p.plot()
        assert ax.has_data() or ax.texts
        plt.close(ax.figure)
        png = figure_png(p)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert figure_png(p) == png


# --- SVG figures (the report's) ----------------------------------------------------------------


def _svg(*plots, **kw) -> str:
    import xml.dom.minidom

    doc = figure_svg(*plots, **kw)
    xml.dom.minidom.parseString(doc)  # well-formed
    assert figure_svg(*plots, **kw) == doc  # same plots, same bytes
    return doc.decode("utf-8")


def test_svg_subgraph_draws_every_node_and_edge_with_ids_as_text(tables):
    weird = tables["orders"].with_columns(
        buyer_id=pl.when(pl.col("buyer_id") == "r1").then(pl.lit("<b>$x^{$")).otherwise("buyer_id")
    )
    p = subgraph_plot(
        weird, account_ids=["<b>$x^{$", "r2", "r3", "s1"], evidence_ids=["or1", "or2"], seed=1
    )
    svg = _svg(p, size=(6.0, 3.0))
    assert "&lt;b&gt;$x^{$</text>" in svg  # escaped, no math parsing
    assert "<b>" not in svg
    # 3 member buyers (circles), 1 member seller (square); one path per edge style
    assert svg.count("<circle") == 3 + 1  # + the legend's buyer key
    assert svg.count("<rect") == 1 + 1 + 1  # background, seller, legend square
    red = re.findall(r'<path d="([^"]+)" fill="none" stroke="#d62728"', svg)
    grey = re.findall(r'<path d="([^"]+)" fill="none" stroke="#9a9a9a"', svg)
    assert sum(d.count("M") for d in red) == 2  # or1 (r1) and or2 (r2) are evidence
    assert sum(d.count("M") for d in grey) == 1  # r3 -> s1


def test_svg_distribution_bars_have_the_shares(tables):
    p = rating_distribution_plot(tables["feedback"], tables["orders"], seller_ids=["s1"])
    svg = _svg(p, size=(7.5, 3.0))
    n_bars = p.counts.height  # every (cohort, measure, value), zero-height bars included
    assert svg.count("<rect") == 1 + 2 + n_bars  # background, 2 legend keys, bars
    # s1 received 10 buyer feedback (9 from the ring, 1 from h1); s2 received 3
    assert ">implicated (n=10 feedback)</text>" in svg
    assert ">population (n=3 feedback)</text>" in svg
    assert ">DSR communication</text>" in svg


def test_svg_timeline_and_trend_label_dates_and_totals(tables):
    tl = timeline_plot(tables)
    svg = _svg(tl, size=(6.0, 2.6))
    n_orders = tables["orders"].height
    assert f">orders ({n_orders:,})</text>" in svg
    assert svg.count("<polyline") == tl.counts["kind"].n_unique()
    assert "Mar 2026" in svg
    empty = findings_trend_plot(
        pl.DataFrame(schema={"rule_id": pl.String, "first_seen": pl.Datetime("us", "UTC")})
    )
    assert ">no dated findings</text>" in _svg(empty)


def test_nice_and_date_ticks_known_answers():
    from datetime import timedelta

    from graphkit.report.svg import date_ticks, nice_ticks

    assert nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 37, 4) == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert nice_ticks(0, 0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]  # degenerate range
    start = datetime(2026, 1, 30, 12, tzinfo=UTC)
    days = date_ticks(start, start + timedelta(days=3))
    assert [label for _, label in days] == ["31 Jan 2026", "01 Feb", "02 Feb"]
    months = date_ticks(start, start + timedelta(days=100))
    assert [label for _, label in months] == ["Feb 2026", "Mar 2026", "Apr 2026", "May 2026"]
    assert all((t.day, t.hour, t.minute) == (1, 0, 0) for t, _ in months)  # month starts
    assert all(t.hour == 0 and t.minute == 0 for t, _ in days)  # midnights
    years = date_ticks(start, start + timedelta(days=365 * 6))
    assert all(t.month == 1 and t.day == 1 for t, _ in years)
    assert all(start <= t <= start + timedelta(days=365 * 6) for t, _ in years)
    assert 2 <= len(years) <= 5
