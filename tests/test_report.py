"""The HTML report: self-contained, escaped, complete, reproducible."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
from test_report_case import IMG, SCRIPT, build_case, case_tables

from graphkit.cli import main
from graphkit.report import DatasetMismatchError, load_run, render_report, write_report
from graphkit.report.run import write_run

CHROMIUM = Path("/usr/bin/chromium")
RESOURCE_ATTRS = {"src", "href", "srcset", "action", "poster", "data", "background", "formaction"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_style = tag == "style"
        self.attrs += [(tag, k, v or "") for k, v in attrs]

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data


def _parse(html: str) -> _Collector:
    c = _Collector()
    c.feed(html)
    return c


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return build_case(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def html(case):
    return render_report(case.run_dir, dataset=case.dataset)


def test_report_loads_nothing_from_outside(html):
    page = _parse(html)
    for tag, key, value in page.attrs:
        if key in RESOURCE_ATTRS:
            assert value.startswith("data:") or value.startswith("#"), (tag, key, value[:60])
    assert not {"script", "link", "iframe", "object", "embed", "base"} & set(page.tags)
    assert "url(" not in page.style
    assert "@import" not in page.style
    csp = [v for t, k, v in page.attrs if t == "meta" and k == "content" and "default-src" in v]
    assert csp == [
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'"
    ]


def test_report_has_no_http_reference_at_all_when_data_has_none(tmp_path):
    tables = case_tables()
    tables["messages"] = tables["messages"].with_columns(
        text=pl.col("text").str.replace_all("http", "hxxp")
    )
    c = build_case(tmp_path, tables=tables)
    page = render_report(c.run_dir, dataset=c.dataset)
    assert re.search(r"https?:", page, re.IGNORECASE) is None
    assert page.count("data:image/svg+xml;base64,") == 3  # trend, group panel, ratings


def test_untrusted_text_is_escaped(html):
    assert SCRIPT not in html
    assert IMG not in html
    assert "&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=" in html
    page = _parse(html)
    assert not [a for a in page.attrs if a[1].startswith("on")]
    assert "img" not in [t for t, k, v in page.attrs if k == "src" and v == "x"]
    # graphkit's own explanation text is escaped too
    assert "<i>within</i>" not in html
    assert "&lt;i&gt;within&lt;/i&gt;" in html


def test_report_content(html, case):
    run = load_run(case.run_dir)
    assert "SHILL_PURCHASE-aaaaaaaaaaaa" in html
    assert "UNPAID_ITEMS-bbbbbbbbbbbb" in html
    assert "G-ring-1" in html
    # not evaluated policies are listed with their reason
    section = html.split('id="not-evaluated"')[1].split("<h2")[0]
    assert "COMM_SPAM" in section
    assert "no spam model" in section
    # policy text quoted from the registry
    assert "Buying items only to raise" in html or "Shill" in html
    # input hashes shown
    for f in case.dataset.files:
        assert f.sha256 in html
    assert run.findings.height == 2


def test_summary_counts_per_policy(html):
    rows = re.findall(r"<tr><td class=\"mono\">SHILL_PURCHASE</td>(.*?)</tr>", html, re.S)
    cells = re.findall(r'<td class="num">(\d+)</td>', rows[0])
    # low, medium, high, critical, total, accounts
    assert cells == ["0", "0", "0", "1", "1", "4"]


def test_findings_table_is_capped_with_a_note(case):
    page = render_report(case.run_dir, dataset=case.dataset, max_rows=1)
    assert "SHILL_PURCHASE-aaaaaaaaaaaa" in page.split('id="findings"')[1]
    assert "UNPAID_ITEMS-bbbbbbbbbbbb" not in page.split('id="findings"')[1]
    assert "1 more findings are not shown" in page


def test_group_ratings_add_a_plot_to_the_group_panel(case, html):
    import base64

    def panel_width(page: str) -> int:
        uri = page.split('alt="subgraph and timeline of G-ring-1" src="')[1].split('"')[0]
        svg = base64.b64decode(uri.removeprefix("data:image/svg+xml;base64,"))
        return round(float(re.search(rb'<svg[^>]* width="([0-9.]+)"', svg).group(1)))

    page = render_report(case.run_dir, dataset=case.dataset, group_ratings=True)
    n = html.count("data:image/svg+xml;base64,")
    assert n == 3
    assert page.count("data:image/svg+xml;base64,") == n
    assert panel_width(html) == 880  # 11 in at 80 dpi: subgraph + timeline
    assert panel_width(page) == 1200  # 15 in: + the group's ratings


def test_report_without_dataset_says_so(case):
    page = render_report(case.run_dir)
    assert "dataset was not available" in page
    assert page.count("data:image/svg+xml") == 1  # the trend only
    assert "data:image/png" not in page


def test_report_is_reproducible(case, html):
    assert render_report(case.run_dir, dataset=case.dataset) == html


def test_altered_dataset_is_refused(tmp_path):
    c = build_case(tmp_path)
    tables = case_tables()
    tables["orders"] = tables["orders"].with_columns(amount=pl.col("amount") + 1)
    from graphkit.io import load_dataset, write_dataset

    other = load_dataset(write_dataset(tables, tmp_path / "other"))
    with pytest.raises(DatasetMismatchError, match="orders"):
        render_report(c.run_dir, dataset=other)


def test_write_report_and_cli(tmp_path):
    c = build_case(tmp_path)
    path = write_report(c.run_dir, dataset=c.dataset)
    assert path == c.run_dir / "report.html"
    first = path.read_text(encoding="utf-8")
    path.unlink()
    assert main(["report", str(c.run_dir)]) == 0  # dataset found through run.json
    assert path.read_text(encoding="utf-8") == first
    assert main(["report", str(tmp_path / "nope")]) == 2


def _chromium_dom(page: Path, tmp: Path) -> str:
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp / 'profile'}",
        "--virtual-time-budget=3000",
        "--dump-dom",
        page.as_uri(),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=True)
    return out.stdout


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_injected_markup_does_not_run_in_chromium(tmp_path, html):
    # control: the same payloads, unescaped, do run, so the probe can see a script running
    control = tmp_path / "control.html"
    control.write_text(f"<html><head><title>clean</title></head><body>{SCRIPT}</body></html>")
    control_img = tmp_path / "control_img.html"
    control_img.write_text(f"<html><head><title>clean</title></head><body>{IMG}</body></html>")
    assert "<title>PWNED</title>" in _chromium_dom(control, tmp_path)
    assert "<title>PWNED</title>" in _chromium_dom(control_img, tmp_path)

    report = tmp_path / "report.html"
    report.write_text(html, encoding="utf-8")
    dom = _chromium_dom(report, tmp_path)
    assert "PWNED</title>" not in dom
    assert "<title>graphkit report: run</title>" in dom
    assert "&lt;script&gt;document.title='PWNED'&lt;/script&gt;" in dom  # shown as text
    assert "<script" not in dom
    parsed = _parse(dom)
    assert not [a for a in parsed.attrs if a[1].startswith("on")]


@pytest.mark.slow
def test_chromium_renders_a_screenshot(tmp_path, html):
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    report = tmp_path / "report.html"
    report.write_text(html, encoding="utf-8")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'p'}",
            "--window-size=1200,2000",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=90,
        check=True,
    )
    assert shot.stat().st_size > 10_000


def test_every_scan_writes_the_report(tmp_path):
    c = build_case(tmp_path)
    out = tmp_path / "scan-run"
    assert main(["scan", str(c.data_dir), "--out", str(out), "--quiet"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<title>graphkit report: scan-run</title>" in page  # the final name, not the temp one
    assert SCRIPT not in page
    assert re.search(r"(src|href)=\"https?:", page) is None


def test_report_figures_are_svg_with_the_data_escaped_inside(html):
    import base64
    import xml.dom.minidom

    uris = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert len(uris) == 3
    docs = [base64.b64decode(u) for u in uris]
    for doc in docs:
        xml.dom.minidom.parseString(doc)  # well-formed: every text escaped
        assert b"<script" not in doc
    panel = next(d for d in docs if b"orders among members" in d)
    for member in ("r1", "r2", "r3", "s1"):
        assert f">{member}</text>".encode() in panel


def test_rendering_the_report_imports_neither_matplotlib_nor_networkx(case):
    code = (
        "import sys, graphkit\n"
        "from graphkit.report import render_report\n"
        f"ds = graphkit.load_dataset({str(case.data_dir)!r})\n"
        f"html = render_report({str(case.run_dir)!r}, dataset=ds)\n"
        "assert html.count('data:image/svg+xml') == 3\n"
        "print(sorted(m for m in ('matplotlib', 'networkx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_heavy_imports_load_late():
    code = (
        "import sys, graphkit, graphkit.report; "
        "heavy = ('matplotlib', 'jinja2', 'bagit', 'networkx'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_empty_run_renders(tmp_path, case):
    from graphkit.findings import empty_findings, empty_groups

    run_dir = write_run(
        tmp_path / "empty",
        findings=empty_findings(),
        groups=empty_groups(),
        meta=dict(load_run(case.run_dir).meta),
    )
    page = render_report(run_dir, dataset=case.dataset)
    assert "No groups were detected." in page
    assert "No findings." in page
    assert "data:image/" not in page  # nothing to draw, nothing implicated


def test_long_subject_lists_are_capped(tmp_path, case):
    run = load_run(case.run_dir)
    many = [f"x{i}" for i in range(7)]
    findings = run.findings.with_columns(
        subject_ids=pl.when(pl.col("rule_id") == "UNPAID_ITEMS")
        .then(pl.lit(many))
        .otherwise("subject_ids")
    )
    run_dir = write_run(tmp_path / "r", findings=findings, groups=run.groups, meta=dict(run.meta))
    table = render_report(run_dir).split('id="findings"')[1]
    assert "x0, x1, x2, x3, x4 … (+2 more)" in table
    assert "x5" not in table
