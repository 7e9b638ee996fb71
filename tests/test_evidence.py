"""Evidence bags: contents with known answers, BagIt validity, tamper detection, pseudonyms."""

from __future__ import annotations

import json

import bagit
import networkx as nx
import polars as pl
import pytest
from test_report_case import RING, RING_ORDERS, build_case, case_groups

from graphkit.cli import main
from graphkit.report import DatasetMismatchError, EvidenceError, export_case, verify_case
from graphkit.report.run import load_run, write_run


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return build_case(tmp_path_factory.mktemp("evidence"))


@pytest.fixture(scope="module")
def bag(case, tmp_path_factory):
    out = tmp_path_factory.mktemp("bags") / "ring"
    return export_case(case.run_dir, dataset=case.dataset, group_id="G-ring-1", out=out)


def test_bag_is_valid_bagit_with_sha256(bag):
    b = bagit.Bag(str(bag.path))
    b.validate()  # raises when invalid
    assert b.algorithms == ["sha256"]
    assert (bag.path / "tagmanifest-sha256.txt").is_file()
    assert verify_case(bag.path).ok


def test_bag_holds_the_fixed_files(bag):
    data = bag.path / "data"
    got = sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file())
    expected = {
        "case.json",
        "case.html",
        "findings.csv",
        "findings.parquet",
        "graph/subgraph.graphml",
        "graph/subgraph.gexf",
        "graph/subgraph.png",
        "graph/timeline.png",
    }
    tables = ["orders", "feedback", "messages", "disputes", "coupons", "accounts", "identifiers"]
    expected |= {f"evidence/{t}.{ext}" for t in tables for ext in ("csv", "parquet")}
    assert set(got) == expected
    assert list(bag.files) == sorted(expected)


def test_evidence_rows_are_the_ring(bag):
    ev = bag.path / "data" / "evidence"
    assert pl.read_parquet(ev / "orders.parquet")["order_id"].to_list() == RING_ORDERS
    assert pl.read_parquet(ev / "feedback.parquet")["feedback_id"].to_list() == [
        f"fr{i}" for i in range(1, 10)
    ]
    assert pl.read_parquet(ev / "messages.parquet")["message_id"].to_list() == ["m1", "m2", "m3"]
    assert pl.read_parquet(ev / "disputes.parquet").height == 0  # the case is on an honest order
    assert pl.read_parquet(ev / "coupons.parquet")["coupon_id"].to_list() == ["c1"]
    assert pl.read_parquet(ev / "accounts.parquet")["account_id"].to_list() == [*RING, "s1"]


def test_csv_cells_are_neutralised(bag):
    text = (bag.path / "data" / "evidence" / "messages.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK(" in text
    assert ",=HYPERLINK(" not in text


def test_graph_reads_back_with_same_nodes_and_edges(bag):
    g1 = nx.read_graphml(bag.path / "data" / "graph" / "subgraph.graphml")
    g2 = nx.read_gexf(bag.path / "data" / "graph" / "subgraph.gexf")
    nodes = {*RING, "s1"}
    edges = {(r, "s1") for r in RING}
    for g in (g1, g2):
        assert set(g.nodes) == nodes
        assert set(g.edges) == edges
        assert g.is_directed()
    assert {g1.edges[e]["n_orders"] for e in edges} == {3}
    assert all(g1.edges[e]["evidence"] for e in edges)
    assert g1.nodes["s1"]["kind"] == "seller"
    assert g1.nodes["r1"]["kind"] == "buyer"


def test_case_json_records_origin_and_quotes_policy(bag, case):
    doc = json.loads((bag.path / "data" / "case.json").read_text(encoding="utf-8"))
    assert doc["case"] == {"kind": "group", "id": "G-ring-1"}
    assert doc["run"]["input_sha256"] == {f.table: f.sha256 for f in case.dataset.files}
    assert doc["run"]["parameters"]["rules"]["SHILL_PURCHASE"]["min_orders"] == 3
    assert doc["graphkit_version"]
    (f,) = doc["findings"]
    assert f["finding_id"] == "SHILL_PURCHASE-aaaaaaaaaaaa"
    assert f["signals"][0]["name"] == "shared_device"
    assert doc["policies"]["SHILL_PURCHASE"]["text"]  # quoted from the registry
    assert doc["pseudonymised"] is False


def test_case_html_escapes_messages(bag):
    page = (bag.path / "data" / "case.html").read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "http://" not in page.replace("http://evil.example", "")


def test_one_changed_byte_fails_verify(case, tmp_path):
    out = tmp_path / "bag"
    export_case(case.run_dir, dataset=case.dataset, group_id="G-ring-1", out=out)
    assert main(["verify", str(out)]) == 0
    target = out / "data" / "evidence" / "orders.csv"
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    target.write_bytes(bytes(raw))
    result = verify_case(out)
    assert not result.ok
    assert any("orders.csv" in p for p in result.problems)
    assert main(["verify", str(out)]) == 4


def test_changed_bag_info_fails_verify(case, tmp_path):
    out = tmp_path / "bag"
    export_case(case.run_dir, dataset=case.dataset, finding_id="UNPAID_ITEMS-bbbbbbbbbbbb", out=out)
    info = out / "bag-info.txt"
    info.write_text(info.read_text().replace("UNPAID", "UNPAJD"))
    assert not verify_case(out).ok


def test_finding_export_selects_its_evidence(case, tmp_path):
    res = export_case(
        case.run_dir,
        dataset=case.dataset,
        finding_id="UNPAID_ITEMS-bbbbbbbbbbbb",
        out=tmp_path / "b",
    )
    ev = res.path / "data" / "evidence"
    assert pl.read_parquet(ev / "orders.parquet")["order_id"].to_list() == ["oh4"]
    assert pl.read_parquet(ev / "accounts.parquet")["account_id"].to_list() == ["h4", "s2"]
    assert pl.read_parquet(ev / "messages.parquet").height == 0


def test_export_is_reproducible(case, bag, tmp_path):
    again = export_case(case.run_dir, dataset=case.dataset, group_id="G-ring-1", out=tmp_path / "b")
    name = "manifest-sha256.txt"
    assert (again.path / name).read_bytes() == (bag.path / name).read_bytes()


def test_pseudonymised_bag_hides_account_ids(case, tmp_path):
    key = "s3cret-key-for-tests"
    res = export_case(
        case.run_dir,
        dataset=case.dataset,
        group_id="G-ring-1",
        out=tmp_path / "p",
        pseudonymise_ids=True,
        key=key,
    )
    assert res.generated_key is None
    data = res.path / "data"
    orders = pl.read_parquet(data / "evidence" / "orders.parquet")
    assert orders["buyer_id"].str.starts_with("acct-").all()
    assert orders["seller_id"].str.starts_with("acct-").all()
    ids = pl.read_parquet(data / "evidence" / "identifiers.parquet")
    assert ids["value"].str.starts_with("ident-").all()
    doc = json.loads((data / "case.json").read_text(encoding="utf-8"))
    assert all(s.startswith("acct-") for s in doc["findings"][0]["subject_ids"])
    assert all(s.startswith("acct-") for s in doc["group"]["member_ids"])
    assert "r1, r2, r3" not in json.dumps(doc)  # ids inside signal details replaced too
    g = nx.read_graphml(data / "graph" / "subgraph.graphml")
    assert all(n.startswith("acct-") for n in g.nodes)
    blob = b"".join(p.read_bytes() for p in res.path.rglob("*") if p.is_file())
    assert key.encode() not in blob
    for raw in (b'"r1"', b",r1,", b",s1,"):
        assert raw not in blob
    # same key, same pseudonyms; another key, others
    again = export_case(
        case.run_dir,
        dataset=case.dataset,
        group_id="G-ring-1",
        out=tmp_path / "q",
        pseudonymise_ids=True,
        key=key,
    )
    other = export_case(
        case.run_dir,
        dataset=case.dataset,
        group_id="G-ring-1",
        out=tmp_path / "r",
        pseudonymise_ids=True,
    )
    o_again = pl.read_parquet(again.path / "data" / "evidence" / "orders.parquet")
    o_other = pl.read_parquet(other.path / "data" / "evidence" / "orders.parquet")
    assert o_again["buyer_id"].to_list() == orders["buyer_id"].to_list()
    assert o_other["buyer_id"].to_list() != orders["buyer_id"].to_list()
    assert other.generated_key is not None
    assert len(other.generated_key) == 64
    assert verify_case(other.path).ok


def test_ids_never_become_paths(case, tmp_path):
    run = load_run(case.run_dir)
    evil = "../../escape"
    run_dir = write_run(
        tmp_path / "run",
        findings=run.findings.with_columns(group_id=pl.lit(evil)),
        groups=case_groups(group_id=evil),
        meta=dict(run.meta),
    )
    res = export_case(run_dir, dataset=case.dataset, group_id=evil, out=tmp_path / "bag")
    assert not (tmp_path / "escape").exists()
    assert all(tmp_path / "bag" in p.parents for p in (tmp_path / "bag").rglob("*"))
    assert verify_case(res.path).ok


def test_unknown_case_and_altered_dataset_are_refused(case, tmp_path):
    with pytest.raises(EvidenceError, match="no group"):
        export_case(case.run_dir, dataset=case.dataset, group_id="G-nope", out=tmp_path / "x")
    with pytest.raises(EvidenceError, match="exactly one"):
        export_case(case.run_dir, dataset=case.dataset, out=tmp_path / "x")
    other = build_case(tmp_path / "other")
    orders = other.data_dir / "orders.parquet"
    pl.read_parquet(orders).with_columns(amount=pl.col("amount") * 2).write_parquet(orders)
    import graphkit

    altered = graphkit.load_dataset(other.data_dir)
    with pytest.raises(DatasetMismatchError):
        export_case(other.run_dir, dataset=altered, group_id="G-ring-1", out=tmp_path / "y")
    assert (
        main(["export", str(other.run_dir), "--group", "G-ring-1", "--out", str(tmp_path / "z")])
        == 2
    )
    assert not (tmp_path / "z").exists()


def test_cli_export_with_generated_key(case, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GRAPHKIT_PSEUDONYM_KEY", raising=False)
    out = tmp_path / "cli"
    assert (
        main(
            [
                "export",
                str(case.run_dir),
                "--group",
                "G-ring-1",
                "--out",
                str(out),
                "--pseudonymise",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    key = err.strip().splitlines()[-1]
    assert len(key) == 64
    blob = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert key.encode() not in blob
    assert main(["verify", str(out)]) == 0


def test_missing_or_extra_file_fails_verify(case, tmp_path):
    out = tmp_path / "bag"
    export_case(case.run_dir, dataset=case.dataset, group_id="G-ring-1", out=out)
    (out / "data" / "graph" / "timeline.png").unlink()
    assert not verify_case(out).ok
    export_case(case.run_dir, dataset=case.dataset, group_id="G-ring-1", out=out)
    assert verify_case(out).ok  # re-export replaced the folder whole
    (out / "data" / "evidence" / "extra.csv").write_text("order_id\no999\n")
    result = verify_case(out)
    assert not result.ok
    assert any("extra.csv" in p for p in result.problems)


def test_minimal_dataset_report_and_export(tmp_path):
    from test_report_case import case_tables

    from graphkit.report import render_report

    tables = {k: v for k, v in case_tables().items() if k in ("orders", "feedback")}
    c = build_case(tmp_path, tables=tables)
    page = render_report(c.run_dir, dataset=c.dataset)
    assert "G-ring-1" in page
    res = export_case(c.run_dir, dataset=c.dataset, group_id="G-ring-1", out=tmp_path / "bag")
    evidence = sorted(p.name for p in (res.path / "data" / "evidence").iterdir())
    assert evidence == ["feedback.csv", "feedback.parquet", "orders.csv", "orders.parquet"]
    assert verify_case(res.path).ok
