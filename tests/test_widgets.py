"""GraphView: payload with known answers, model state, shipped JS/CSS, text never run as HTML."""

from __future__ import annotations

import base64
import fnmatch
import importlib.resources
import json
import re
import subprocess
import sys
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from graphkit.report.plots import subgraph_plot
from graphkit.widgets import graph_payload, layout_positions

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
IMG = '"><img src=x onerror="document.title=\'PWNED\'">'
SCRIPT = "<script>document.title='PWNED'</script>"


def _plot(buyer: str = "b1"):
    orders = pl.DataFrame(
        {
            "order_id": ["o1", "o2", "o3", "o4"],
            "buyer_id": [buyer, "b2", buyer, "b3"],
            "seller_id": ["s1", "s1", "s1", "s2"],
            "amount": [5.0, 7.0, 1.5, 3.0],
        }
    )
    return subgraph_plot(
        orders, account_ids=[buyer, "b2", "s1"], evidence_ids=["o1", "o4"], title=SCRIPT
    )


# --- payload -----------------------------------------------------------------------------------


def test_payload_known_answer():
    nodes, edges = graph_payload(_plot())
    assert [(n["id"], n["kind"], n["member"]) for n in nodes] == [
        ("b1", "buyer", True),
        ("b2", "buyer", True),
        ("b3", "buyer", False),  # counterparty of evidence order o4
        ("s1", "seller", True),
        ("s2", "seller", False),
    ]
    by_id = {n["id"]: n for n in nodes}
    assert by_id["b1"]["orders"] == 2
    assert by_id["b1"]["amount"] == 6.5
    assert by_id["s1"]["orders"] == 3
    assert by_id["s1"]["amount"] == 13.5
    assert [(e["source"], e["target"], e["orders"], e["evidence"]) for e in edges] == [
        (0, 3, 2, True),  # b1 -> s1: o1 (evidence) and o3
        (1, 3, 1, False),  # b2 -> s1: no evidence (near miss)
        (2, 4, 1, True),  # b3 -> s2: o4
    ]
    for n in nodes:
        assert 0.0 <= n["x"] <= 1.0
        assert 0.0 <= n["y"] <= 1.0


def test_payload_is_deterministic_and_json_plain():
    a = graph_payload(_plot())
    b = graph_payload(_plot())
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    # plain Python values only (JSON round-trips exactly)
    assert json.loads(json.dumps(a)) == [list(x) for x in a]


def test_payload_layout_plot_keeps_static_positions():
    p = _plot()
    nodes, _ = graph_payload(p, layout="plot")
    xs = dict(zip(p.nodes["account_id"], p.nodes["x"], strict=True))
    order = sorted(xs, key=xs.get)
    assert sorted(nodes, key=lambda n: n["x"])[0]["id"] == order[0]
    with pytest.raises(ValueError, match="layout must be one of"):
        graph_payload(p, layout="spring")  # type: ignore[arg-type]


def test_layout_positions_scaling():
    start = np.array([[0.0, 0.0], [4.0, 0.0], [4.0, 2.0]])
    pos = layout_positions(3, np.array([[0, 1], [1, 2]]), start, layout="plot")
    assert pos.tolist() == [[0.0, 0.25], [1.0, 0.25], [1.0, 0.75]]  # aspect kept, centred
    assert layout_positions(1, np.zeros((0, 2)), np.array([[3.0, 3.0]])).tolist() == [[0.5, 0.5]]
    assert layout_positions(0, np.zeros((0, 2)), np.zeros((0, 2))).shape == (0, 2)


def test_empty_subgraph_gives_empty_payload():
    empty = pl.DataFrame(
        schema={"order_id": pl.String, "buyer_id": pl.String, "seller_id": pl.String}
    )
    nodes, edges = graph_payload(subgraph_plot(empty, account_ids=[]))
    assert nodes == []
    assert edges == []


# --- the widget --------------------------------------------------------------------------------


def test_graphview_model_state():
    from graphkit.widgets import GraphView

    view = GraphView.from_subgraph(_plot(buyer=IMG), height=300)
    state = view.get_state()
    assert state["height"] == 300
    assert state["title"] == SCRIPT  # data, not markup: the JS sets it with textContent
    assert state["selected"] is None
    assert next(n["id"] for n in state["nodes"]) == IMG  # ids travel unchanged
    assert len(state["edges"]) == 3
    assert sum(e["evidence"] for e in state["edges"]) == 2
    assert repr(view) == "<GraphView: 5 accounts, 3 buyer-seller pairs (2 with evidence)>"
    view.selected = "s1"
    assert view.get_state()["selected"] == "s1"


def test_graphview_ships_its_own_javascript():
    from graphkit.widgets import STATIC, GraphView

    js = (STATIC / "graph_view.js").read_text(encoding="utf-8")
    state = GraphView(nodes=[]).get_state()
    assert state["_esm"] == js  # the packaged file, inlined: no URL to fetch
    assert "graph_view.css" not in state["_css"]
    assert ".gk-graphview" in state["_css"]


def test_static_files_are_package_data():
    files = importlib.resources.files("graphkit.widgets").joinpath("static")
    names = {p.name for p in files.iterdir()}
    assert {"graph_view.js", "graph_view.css"} <= names
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["graphkit"]
    for name in ("widgets/static/graph_view.js", "widgets/static/graph_view.css"):
        assert any(fnmatch.fnmatch(name, pat) for pat in patterns), name
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("anywidget") for d in deps)


def _code(js: str) -> str:
    """The JavaScript without comments (block comments and whole-line ``//`` comments)."""
    js = re.sub(r"/\*.*?\*/", "", js, flags=re.S)
    return re.sub(r"^\s*//.*$", "", js, flags=re.M)


def test_javascript_never_parses_data_as_html_and_needs_no_network():
    from graphkit.widgets import STATIC

    code = _code((STATIC / "graph_view.js").read_text(encoding="utf-8"))
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert banned not in code, banned
    assert "new Function" not in code
    assert re.findall(r"https?://[^\"']+", code) == ["http://www.w3.org/2000/svg"]
    assert not re.search(r"^\s*import\s", code, flags=re.M)  # no dependency to fetch
    assert "textContent" in code
    css = (STATIC / "graph_view.css").read_text(encoding="utf-8")
    assert "url(" not in css
    assert "@import" not in css


def test_import_graphkit_stays_light():
    code = (
        "import sys, graphkit, graphkit.notebook, graphkit.widgets;"
        "print(sorted(m for m in ('matplotlib', 'anywidget', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- in a real browser -------------------------------------------------------------------------

_HARNESS = """<!doctype html><html><head><title>clean</title></head><body><div id="host"></div>
<script type="module">
const state = %(state)s;
const handlers = {};
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; (handlers["change:" + k] || []).forEach((f) => f()); },
  save_changes: () => {},
  on: (ev, f) => { (handlers[ev] = handlers[ev] || []).push(f); },
  off: () => {},
};
const mod = await import("data:text/javascript;base64,%(js)s");
const host = document.getElementById("host");
mod.default.render({ model, el: host });
%(extra)s
const node = host.querySelector('[data-index="0"]');
node.dispatchEvent(new PointerEvent("pointerenter", { clientX: 20, clientY: 20 }));
node.dispatchEvent(new MouseEvent("click", { bubbles: true }));
document.body.dataset.selected = String(state.selected);
document.body.dataset.class0 = node.getAttribute("class");
document.body.dataset.class1 = host.querySelector('[data-index="1"]').getAttribute("class");
document.body.dataset.shapes = host.querySelectorAll("circle").length + "," +
  host.querySelectorAll("rect.gk-node").length + "," + host.querySelectorAll("line").length +
  "," + host.querySelectorAll("line.gk-evidence").length;
document.body.dataset.tip = host.querySelector(".gk-tip").textContent;
const svg = host.querySelector("svg.gk-svg");
const viewport = host.querySelector("g.gk-viewport");
const box = svg.getBoundingClientRect();
svg.dispatchEvent(new WheelEvent("wheel", { deltaY: -400, clientX: box.x + box.width / 2,
  clientY: box.y + box.height / 2, bubbles: true, cancelable: true }));
document.body.dataset.zoomed = viewport.getAttribute("transform");
const bg = host.querySelector("rect.gk-bg");
bg.dispatchEvent(new PointerEvent("pointerdown", { clientX: box.x + 10, clientY: box.y + 10,
  bubbles: true }));
svg.dispatchEvent(new PointerEvent("pointermove", { clientX: box.x + 60, clientY: box.y + 10,
  bubbles: true }));
svg.dispatchEvent(new PointerEvent("pointerup", { bubbles: true }));
document.body.dataset.panned = viewport.getAttribute("transform");
host.querySelector("button.gk-reset").click();
document.body.dataset.reset = viewport.getAttribute("transform");
bg.dispatchEvent(new MouseEvent("click", { bubbles: true }));
document.body.dataset.deselected = String(state.selected);
</script></body></html>"""


def _run_chromium(page: Path, tmp: Path) -> str:
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
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=True).stdout


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_widget_renders_in_chromium_and_never_runs_data(tmp_path):
    from graphkit.widgets import STATIC, GraphView

    state = GraphView.from_subgraph(_plot(buyer=IMG)).get_state()
    state = {k: state[k] for k in ("nodes", "edges", "title", "height", "selected")}
    state["dropped_nodes"] = 0
    js = base64.b64encode((STATIC / "graph_view.js").read_bytes()).decode()

    def page(name: str, extra: str = "") -> Path:
        path = tmp_path / name
        state_js = json.dumps(state).replace("<", "\\u003c")  # no "</script>" inside the page
        text = _HARNESS % {"state": state_js, "js": js, "extra": extra}
        path.write_text(text, encoding="utf-8")
        return path

    # control: the same id written as HTML does run, so the probe can see it
    control = _run_chromium(
        page("control.html", "host.insertAdjacentHTML('beforeend', state.nodes[0].id);"), tmp_path
    )
    assert "<title>PWNED</title>" in control

    dom = _run_chromium(page("widget.html"), tmp_path)
    assert "<title>clean</title>" in dom
    assert "PWNED</title>" not in dom
    probe = _Dom()
    probe.feed(dom)
    body = probe.body
    assert body["data-shapes"] == "3,2,3,2"  # 3 buyers, 2 sellers, 3 pairs of which 2 evidence
    # node 0 is the crafted buyer: hovered (tooltip shows its id as text) and clicked (selected)
    assert body["data-selected"] == IMG
    assert body["data-tip"] == f"buyer{IMG}2 order(s) drawn, amount 6.50"
    assert "img" not in probe.tags
    assert "script" not in probe.host_tags
    assert probe.title_text == SCRIPT  # the title is shown as text
    assert "gk-selected" in body["data-class0"].split()
    assert "gk-selected" not in body["data-class1"].split()  # near miss: not clicked
    # wheel zooms in around the pointer, dragging the background pans, reset restores
    zoom = re.fullmatch(r"translate\((\S+) (\S+)\) scale\((\S+)\)", body["data-zoomed"])
    assert zoom is not None
    assert float(zoom.group(3)) > 1.5
    pan = re.fullmatch(r"translate\((\S+) (\S+)\) scale\((\S+)\)", body["data-panned"])
    assert pan is not None
    assert float(pan.group(1)) > float(zoom.group(1))  # moved right with the pointer
    assert pan.group(2) == zoom.group(2)
    assert pan.group(3) == zoom.group(3)
    assert body["data-reset"] == "translate(0 0) scale(1)"
    assert body["data-deselected"] == "null"  # a click on the background clears the selection
    assert not [i for i, c in probe.classes_of_index.items() if "gk-selected" in c.split()]


class _Dom(HTMLParser):
    """What the test needs from Chromium's dumped DOM."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.body: dict[str, str] = {}
        self.tags: list[str] = []
        self.host_tags: list[str] = []
        self.classes_of_index: dict[str, str] = {}
        self.title_text = ""
        self._in_title = False
        self._in_host = False

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        if tag == "script":
            self._in_host = False  # the harness script follows the host element
        if tag == "body":
            self.body = a
        if a.get("id") == "host":
            self._in_host = True
        if self._in_host:
            self.host_tags.append(tag)
        if "data-index" in a:
            self.classes_of_index[a["data-index"]] = a.get("class", "")
        self._in_title = "gk-title" in a.get("class", "")

    def handle_endtag(self, tag):
        if tag == "span":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title_text += data


def test_display_bundle_has_widget_and_static_fallback():
    from graphkit.widgets import GraphView

    view = GraphView.from_subgraph(_plot())
    data, _ = view._repr_mimebundle_()
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == view.model_id
    assert base64.b64decode(data["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert data["text/plain"].startswith("<GraphView: 5 accounts")
    # near misses: no picture without a subgraph, or when asked not to
    bare = GraphView(nodes=[])._repr_mimebundle_()
    bare_data = bare[0] if isinstance(bare, tuple) else bare
    assert "image/png" not in bare_data
    off = GraphView.from_subgraph(_plot(), static_fallback=False)._repr_mimebundle_()
    assert "image/png" not in (off[0] if isinstance(off, tuple) else off)
