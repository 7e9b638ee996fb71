"""networkx round trips, subgraphs, GraphML / GEXF files that networkx reads back."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import polars as pl
import pytest

from graphkit.graph import MarketGraph, build_market_graph
from graphkit.graph.convert import (
    GEXF_FALLBACK_DATE,
    from_networkx,
    subgraph,
    to_networkx,
    write_gexf,
    write_graphml,
)
from graphkit.io import dataset_from_frames


@pytest.fixture
def mg(tiny: dict[str, pl.DataFrame]) -> MarketGraph:
    return build_market_graph(dataset_from_frames(tiny))


def test_networkx_round_trip_is_exact(mg: MarketGraph) -> None:
    G = to_networkx(mg)
    assert isinstance(G, nx.DiGraph)
    assert sorted(G.nodes) == ["b1", "b2", "b3", "s1", "s2"]
    assert G.nodes["s1"]["kind"] == "seller"
    assert G.edges["b2", "s1"]["n_cases"] == 1
    back = from_networkx(G)
    assert back.vertices.equals(mg.vertices)
    assert back.edges.equals(mg.edges)


def test_subgraph_is_induced_with_dense_ids(mg: MarketGraph) -> None:
    sub = subgraph(mg, ["s1", "b2", "b1", "unknown"])
    assert sub.vertices["account_id"].to_list() == ["b1", "b2", "s1"]
    assert sub.vertices["vid"].to_list() == [0, 1, 2]
    assert sub.edges.select("buyer_id", "seller_id").rows() == [("b1", "s1"), ("b2", "s1")]
    assert sub.graph.get_edgelist() == [(0, 2), (1, 2)]
    assert to_networkx(mg, vertices=["b1", "s2"]).number_of_edges() == 1


def test_igraph_input_uses_account_names(mg: MarketGraph) -> None:
    G = to_networkx(mg.graph)
    assert set(G.edges) == {("b1", "s1"), ("b1", "s2"), ("b2", "s1"), ("b3", "s2")}
    assert G.nodes["b3"]["kind"] == "buyer"
    assert set(to_networkx(mg.graph, vertices=["b3", "s2"]).edges) == {("b3", "s2")}


def test_max_edges_guard(mg: MarketGraph) -> None:
    with pytest.raises(ValueError, match="subgraph"):
        to_networkx(mg, max_edges=3)


@pytest.mark.parametrize(
    ("writer", "reader"), [(write_graphml, nx.read_graphml), (write_gexf, nx.read_gexf)]
)
def test_files_read_back(mg: MarketGraph, tmp_path: Path, writer, reader) -> None:
    path = tmp_path / "out" / "g.file"
    writer(mg, path)
    H = reader(path)
    assert sorted(H.nodes) == ["b1", "b2", "b3", "s1", "s2"]
    assert H.nodes["s2"]["kind"] == "seller"
    edge = H.edges["b1", "s1"]
    assert edge["n_orders"] == 1
    assert edge["amount"] == 10.0
    assert edge["n_top_ratings"] == 1
    assert edge["first_at"].startswith("2026-03-02T10:00:00")
    assert [p.name for p in path.parent.iterdir()] == ["g.file"]  # no temp file left


def test_write_failure_leaves_no_file(tmp_path: Path) -> None:
    G = nx.DiGraph()
    G.add_edge("a", "b", bad=object())  # stored as its str, still writable
    write_graphml(G, tmp_path / "ok.graphml")
    assert nx.read_graphml(tmp_path / "ok.graphml").number_of_edges() == 1


def test_gexf_is_deterministic_and_dated_from_the_graph(mg: MarketGraph, tmp_path: Path) -> None:
    a, b = tmp_path / "a.gexf", tmp_path / "b.gexf"
    write_gexf(mg, a)
    write_gexf(mg, b)
    assert a.read_bytes() == b.read_bytes()
    latest = mg.edges["last_at"].max().date().isoformat()
    assert f'lastmodifieddate="{latest}"' in a.read_text()
    write_gexf(mg, b, date="2026-03-31")
    assert 'lastmodifieddate="2026-03-31"' in b.read_text()
    assert nx.read_gexf(b).number_of_edges() == 4


def test_gexf_without_times_uses_the_fixed_date(tmp_path: Path) -> None:
    G = nx.Graph()
    G.add_edge("a", "b", w=1)
    write_gexf(G, tmp_path / "g.gexf")
    assert f'lastmodifieddate="{GEXF_FALLBACK_DATE}"' in (tmp_path / "g.gexf").read_text()
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        write_gexf(G, tmp_path / "g.gexf", date="31/03/2026")
