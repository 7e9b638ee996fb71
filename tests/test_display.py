"""Rich (HTML) and plain-text displays: valid markup, untrusted text escaped, known content."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from graphkit.dataset import Dataset
from graphkit.errors import InputNotFoundError
from graphkit.findings import FINDINGS_SCHEMA, GROUPS_SCHEMA, empty_findings, empty_groups
from graphkit.notebook import (
    FindingView,
    GroupView,
    case_subgraph,
    find_sample,
    finding,
    group,
    output_dir,
    repo_root,
    scan_html,
    scan_text,
)
from graphkit.notebook.render import ids_html, ids_text, num, plain
from graphkit.report.plots import subgraph_plot
from graphkit.scan import ScanResult

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
ANSI = "\x1b[2J\x1b[31mred\rover"
VOID = {"img", "br", "hr", "meta", "input", "link", "col", "wbr"}


class _Checker(HTMLParser):
    """Collects tags and attributes; records any imbalance."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> (open: {self.stack})")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> _Checker:
    p = _Checker()
    p.feed(html)
    p.close()
    assert not p.errors, p.errors
    assert not p.stack, f"unclosed tags: {p.stack}"
    return p


def assert_safe(html: str, *, images: int = 0) -> _Checker:
    """Balanced, no script, no event-handler attribute, only our own images."""
    p = parse(html)
    assert "script" not in p.tags
    assert not [a for a, _ in p.attrs if a.startswith("on")]
    imgs = [t for t in p.tags if t == "img"]
    assert len(imgs) == images
    for name, value in p.attrs:
        if name == "src":
            assert value is not None
            assert value.startswith("data:image/png;base64,")
    return p


def _signal(name, value, threshold=None, contribution=None, detail=None):
    return {
        "name": name,
        "value": value,
        "threshold": threshold,
        "contribution": contribution,
        "detail": detail,
    }


def _findings(explanation: str = SCRIPT) -> pl.DataFrame:
    t = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [
        {
            "finding_id": "SHILL_PURCHASE-aaa",
            "rule_id": "SHILL_PURCHASE",
            "policy": IMG,
            "severity": "critical",
            "score": 0.9663,
            "group_id": "G-ring-1",
            "subject_ids": ["s1", IMG, "b2"],
            "evidence_ids": ["o1", "o2"],
            "recommended_action": "suspend",
            "explanation": explanation,
            "signals": [
                _signal("suspicious_buyers", 6.0, 3.0, 0.97, SCRIPT),
                _signal("ring_share", 0.1667, 0.05),
            ],
            "evidence": [{"kind": "order", "id": "o1"}, {"kind": "order", "id": "o2"}],
            "section": "Shill Purchases",
            "first_seen": t,
            "last_seen": t,
        },
        {
            "finding_id": "UNPAID_ITEMS-bbb",
            "rule_id": "UNPAID_ITEMS",
            "policy": "Unpaid items",
            "severity": "low",
            "score": 0.2,
            "group_id": None,
            "subject_ids": ["b3"],
            "evidence_ids": ["o3"],
            "recommended_action": "warning",
            "explanation": "2 unpaid items",
            "signals": [],
            "evidence": [{"kind": "order", "id": "o3"}],
            "section": "Policy on Unpaid Items",
            "first_seen": None,
            "last_seen": None,
        },
    ]
    return pl.DataFrame(rows, schema=FINDINGS_SCHEMA)


def _groups() -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "group_id": "G-ring-1",
                "kind": SCRIPT,
                "member_ids": ["b1", IMG],
                "seller_ids": ["s1"],
                "score": 0.8,
                "signals": [_signal("density", 0.9, 0.5, 0.4, IMG)],
            },
            {
                "group_id": "G-ring-2",
                "kind": "ring",
                "member_ids": ["b9"],
                "seller_ids": ["s9"],
                "score": 0.3,
                "signals": [],
            },
        ],
        schema=GROUPS_SCHEMA,
    )


def _result(findings=None, groups=None) -> ScanResult:
    return ScanResult(
        findings if findings is not None else _findings(),
        pl.DataFrame(),
        groups if groups is not None else _groups(),
        {
            "as_of": "2026-03-01T00:00:00+00:00",
            "seed": 7,
            "version": "0.1.0",
            "rules": ["SHILL_PURCHASE", "UNPAID_ITEMS", "COMM_SPAM"],
        },
        {"COMM_SPAM": f"not evaluated (no messages table) {SCRIPT}"},
    )


@pytest.fixture
def tiny_ds(tiny):
    from graphkit.io import dataset_from_frames

    return dataset_from_frames(tiny)


def _orders() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "order_id": ["o1", "o2", "o3", "o4"],
            "buyer_id": [IMG, "b2", "b3", IMG],
            "seller_id": ["s1", "s1", "s2", "s1"],
            "amount": [5.0, 7.0, 9.0, 1.0],
        }
    )


# --- finding -----------------------------------------------------------------------------------


def test_finding_html_is_valid_and_escapes_untrusted_text():
    view = finding(_result(), "SHILL_PURCHASE-aaa")
    html = view._repr_html_()
    p = assert_safe(html, images=0)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # explanation and signal detail
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html  # policy title, subject id
    text = "".join(p.text)
    assert SCRIPT in text
    assert IMG in text
    assert "0.966" in text
    assert "suspend" in text
    assert "suspicious_buyers" in text


def test_finding_view_holds_plain_values():
    view = finding(_result(), "SHILL_PURCHASE-aaa")
    assert isinstance(view, FindingView)
    assert view.subject_ids == ("s1", IMG, "b2")
    assert view.evidence == (("order", "o1"), ("order", "o2"))
    assert [s.name for s in view.signals] == ["suspicious_buyers", "ring_share"]
    assert view.signals[0].threshold == 3.0
    assert view.subgraph is None
    with pytest.raises(ValueError, match="dataset="):
        view.plot()


def test_unknown_finding_and_group_raise_keyerror_naming_known_ids():
    with pytest.raises(KeyError, match="SHILL_PURCHASE-aaa"):
        finding(_result(), "NOPE-1")
    with pytest.raises(KeyError, match="G-ring-1"):
        group(_result(), "G-nope")


def test_finding_text_repr_is_terminal_safe_and_readable():
    view = finding(_result(findings=_findings(explanation=ANSI)), "SHILL_PURCHASE-aaa")
    text = repr(view)
    assert "\x1b" not in text
    assert "\r" not in text
    assert "\ufffd[2J" in text  # replaced, not silently dropped
    first = text.splitlines()[0]
    assert first.startswith("<Finding SHILL_PURCHASE-aaa:")
    assert "[critical, score 0.966] -> suspend>" in first
    assert "suspicious_buyers = 6 (threshold 3) -> +0.97" in text
    assert "subjects (3): s1, " in text


# --- group -------------------------------------------------------------------------------------


def test_group_view_collects_the_findings_citing_it():
    g = group(_result(), "G-ring-1")
    assert isinstance(g, GroupView)
    assert [f.finding_id for f in g.findings] == ["SHILL_PURCHASE-aaa"]
    assert group(_result(), "G-ring-2").findings == ()  # near miss: nothing cites it
    text = repr(g)
    assert "<Group G-ring-1:" in text
    assert "2 members, 1 sellers" in text
    assert "SHILL_PURCHASE-aaa [critical, 0.966]" in text


def test_group_view_collects_findings_whose_subjects_are_all_inside():
    f = _findings().with_columns(group_id=pl.lit(None, dtype=pl.String))
    f = f.with_columns(
        subject_ids=pl.Series([["s9", "b9"], ["b9", "b3"]], dtype=pl.List(pl.String))
    )
    g = group(_result(findings=f), "G-ring-2")  # members b9, sellers s9
    assert [x.finding_id for x in g.findings] == ["SHILL_PURCHASE-aaa"]  # b3 is outside: no
    assert group(_result(findings=f), "G-ring-1").findings == ()


def test_group_html_with_drawn_subgraph_escapes_and_embeds_one_png():
    sub = subgraph_plot(_orders(), account_ids=["s1", IMG, "b2"], evidence_ids=["o1"])
    g = GroupView.from_row(_groups().row(0, named=True), subgraph=sub)
    html = g._repr_html_()
    p = assert_safe(html, images=1)
    alts = [v for a, v in p.attrs if a == "alt"]
    assert alts == ["subgraph of G-ring-1"]
    assert "&lt;script&gt;" in html
    assert "onerror=alert(1)&gt;" in html
    assert html == g._repr_html_()  # same picture, same bytes


def test_group_plot_draws_the_subgraph():
    import matplotlib.pyplot as plt

    sub = subgraph_plot(_orders(), account_ids=["s1", IMG, "b2"], evidence_ids=["o1"])
    g = GroupView.from_row(_groups().row(0, named=True), subgraph=sub)
    ax = g.plot()
    try:
        assert len(ax.lines) >= 2  # two buyer-seller edges drawn (+ legend proxies)
    finally:
        plt.close(ax.figure)


# --- scan result -------------------------------------------------------------------------------


def test_scan_result_html_is_valid_escaped_and_complete():
    r = _result()
    html = r._repr_html_()
    p = assert_safe(html)
    text = "".join(p.text)
    assert "2 findings, 2 groups" in text
    assert "not evaluated (no messages table)" in text  # the reason is shown...
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # ...escaped
    assert "SHILL_PURCHASE-aaa" in text
    assert "UNPAID_ITEMS-bbb" in text
    assert "G-ring-1" in text


def test_scan_html_caps_long_tables():
    many = pl.concat([_findings()] * 20).with_columns(
        finding_id=pl.format("F-{}", pl.int_range(pl.len()).cast(pl.String).str.zfill(3))
    )
    html = scan_html(_result(findings=many), max_rows=5)
    assert_safe(html)
    assert "35 more findings" in html
    assert "F-000" in html
    assert "F-039" not in html


def test_scan_result_text_repr():
    text = repr(_result())
    lines = text.splitlines()
    assert lines[0] == (
        "<ScanResult: 2 findings, 2 groups; as_of 2026-03-01T00:00:00+00:00, seed 7>"
    )
    assert any(line.split()[:3] == ["SHILL_PURCHASE", "1", "1"] for line in lines)
    assert any("COMM_SPAM" in line and "not evaluated" in line for line in lines)
    assert "\x1b" not in scan_text(_result(findings=_findings(explanation=ANSI)))


def test_empty_result_renders():
    r = ScanResult(empty_findings(), pl.DataFrame(), empty_groups(), {})
    html = r._repr_html_()
    assert_safe(html)
    assert "no findings" in html
    assert "no groups detected" in html
    assert repr(r).startswith("<ScanResult: 0 findings, 0 groups")


# --- dataset -----------------------------------------------------------------------------------


def test_dataset_html_escapes_its_source_path():
    orders = pl.LazyFrame({"order_id": ["o1"], "created_at": [datetime(2026, 1, 1, tzinfo=UTC)]})
    ds = Dataset({"orders": orders}, as_of=datetime(2026, 1, 2, tzinfo=UTC), source=Path(IMG))
    html = ds._repr_html_()
    assert_safe(html)
    assert "onerror=alert(1)&gt;" in html
    assert "orders" in html


# --- helpers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "-"), (3.0, "3"), (0.123456, "0.123"), (1234567, "1,234,567"), (True, "True")],
)
def test_num(value, expected):
    assert num(value) == expected


def test_ids_are_capped_and_escaped():
    assert ids_text(["a", "b", "c"], limit=3) == "a, b, c"  # near miss: exactly the limit
    assert ids_text(["a", "b", "c"], limit=2) == "a, b (+1 more)"
    assert ids_text([]) == "none"
    html = ids_html([SCRIPT, "x", "y"], limit=2)
    assert "+1 more" in html
    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert plain("a\tb\nc") == "a b c"


def test_case_subgraph_marks_evidence_orders(tiny_ds):
    sub = case_subgraph(
        tiny_ds, account_ids=["b1", "b2", "s1"], evidence=[{"kind": "order", "id": "o1"}]
    )
    edges = sub.edges.select("buyer_id", "seller_id", "evidence").rows()
    assert edges == [("b1", "s1", True), ("b2", "s1", False)]
    assert sub.nodes.filter(pl.col("kind") == "seller")["account_id"].to_list() == ["s1"]


def test_finding_with_dataset_holds_its_subgraph(tiny_ds):
    f = _findings().with_columns(subject_ids=pl.lit(["b1", "s1"], dtype=pl.List(pl.String)))
    view = finding(_result(findings=f), "SHILL_PURCHASE-aaa", dataset=tiny_ds)
    assert view.subgraph is not None
    nodes = view.subgraph.nodes.select("account_id", "member").rows()
    assert nodes == [("b1", True), ("b2", False), ("s1", True)]  # b2: counterparty of o2
    edges = view.subgraph.edges.select("buyer_id", "seller_id", "evidence").rows()
    assert edges == [("b1", "s1", True), ("b2", "s1", True)]  # o4 (b1 -> s2) is not cited
    assert_safe(view._repr_html_(), images=1)


# --- paths -------------------------------------------------------------------------------------


def test_find_sample_searches_upwards(tmp_path, monkeypatch):
    monkeypatch.delenv("GRAPHKIT_SAMPLE", raising=False)
    (tmp_path / "data" / "sample").mkdir(parents=True)
    (tmp_path / "data" / "sample" / "orders.parquet").write_bytes(b"")
    sub = tmp_path / "notebooks"
    sub.mkdir()
    assert find_sample(sub) == tmp_path / "data" / "sample"
    assert repo_root(tmp_path) == tmp_path
    with pytest.raises(InputNotFoundError, match="GRAPHKIT_SAMPLE"):
        find_sample(tmp_path.parent)  # near miss: the folder above has no sample


def test_output_dir_honours_env_and_refuses_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHKIT_NOTEBOOK_OUT", str(tmp_path / "out"))
    out = output_dir("02-x")
    assert out == tmp_path / "out" / "02-x"
    assert out.is_dir()
    for bad in ("", "../data", "a/b", ".."):
        with pytest.raises(ValueError, match="plain folder name"):
            output_dir(bad)


def test_output_dir_defaults_to_gitignored_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("GRAPHKIT_NOTEBOOK_OUT", raising=False)
    (tmp_path / "data" / "sample").mkdir(parents=True)
    (tmp_path / "data" / "sample" / "orders.parquet").write_bytes(b"")
    out = output_dir("01-quickstart", tmp_path)
    assert out == tmp_path / "runs" / "notebooks" / "01-quickstart"


def test_text_repr_wraps_long_explanations_and_details():
    long = "Seller s1: " + "9 of 25 top ratings from accounts linked to the seller; " * 6
    f = _findings(explanation=long).with_columns(
        signals=pl.lit(
            [_signal("linked_accounts", 0.36, 0.1, 0.8, long)],
            dtype=pl.List(pl.Struct(dict(FINDINGS_SCHEMA["signals"].inner))),
        )
    )
    text = repr(finding(_result(findings=f), "SHILL_PURCHASE-aaa"))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "  explanation:" in lines
    assert any(
        line.startswith("    linked_accounts = 0.36 (threshold 0.1) -> +0.8: ") for line in lines
    )
    assert any(line.startswith("        ") for line in lines)  # hanging indent of a detail
    # nothing lost in the wrapping
    assert " ".join(text.split()).count("9 of 25 top ratings") == 12
