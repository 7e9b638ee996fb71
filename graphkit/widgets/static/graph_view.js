// graphkit GraphView: an offline, dependency-free view of a case's buyer-seller subgraph.
//
// Shipped inside the graphkit package and loaded by anywidget: no CDN, no bundler.
// Draws SVG from the synced `nodes` / `edges` lists (positions in [0, 1], computed in
// Python by igraph). Drag to pan, wheel to zoom, hover for details, click to select.
// Every piece of text from the data goes through `textContent` (never innerHTML), so
// an account id such as "<img src=x onerror=...>" is shown, not run.

const SVG_NS = "http://www.w3.org/2000/svg";
const W = 1000;
const H = 600;
const PAD = 36;

function el(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    node.setAttribute(key, String(value));
  }
  return node;
}

function div(className, text) {
  const node = document.createElement("div");
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function money(value) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(2) : "-";
}

function short(text, limit) {
  const s = String(text);
  return s.length <= limit ? s : s.slice(0, limit - 1) + "\u2026";
}

function render({ model, el: host }) {
  const root = div("gk-graphview");
  const bar = div("gk-bar");
  const title = document.createElement("span");
  title.className = "gk-title";
  const reset = document.createElement("button");
  reset.type = "button";
  reset.className = "gk-reset";
  reset.textContent = "reset view";
  const legend = div("gk-legend");
  for (const [cls, label] of [
    ["gk-key-buyer", "buyer"],
    ["gk-key-seller", "seller"],
    ["gk-key-evidence", "evidence orders"],
  ]) {
    const item = document.createElement("span");
    item.className = "gk-key " + cls;
    item.textContent = label;
    legend.appendChild(item);
  }
  bar.append(title, reset, legend);

  const canvas = el("svg", {
    class: "gk-svg",
    viewBox: `0 0 ${W} ${H}`,
    preserveAspectRatio: "xMidYMid meet",
    role: "img",
  });
  const background = el("rect", { class: "gk-bg", x: 0, y: 0, width: W, height: H });
  const viewport = el("g", { class: "gk-viewport" });
  const edgeLayer = el("g", { class: "gk-edges" });
  const nodeLayer = el("g", { class: "gk-nodes" });
  const labelLayer = el("g", { class: "gk-labels" });
  viewport.append(edgeLayer, nodeLayer, labelLayer);
  canvas.append(background, viewport);
  const tip = div("gk-tip");
  tip.hidden = true;
  root.append(bar, canvas, tip);
  host.appendChild(root);

  let view = { x: 0, y: 0, k: 1 };
  let drag = null;
  let nodeEls = [];
  let edgeEls = [];

  function applyView() {
    viewport.setAttribute("transform", `translate(${view.x} ${view.y}) scale(${view.k})`);
  }

  function toSvg(ev) {
    const matrix = canvas.getScreenCTM();
    if (!matrix) return { x: 0, y: 0 };
    const pt = canvas.createSVGPoint();
    pt.x = ev.clientX;
    pt.y = ev.clientY;
    return pt.matrixTransform(matrix.inverse());
  }

  function showTip(ev, lines) {
    tip.replaceChildren(...lines.filter((l) => l).map((l) => div("", l)));
    const box = root.getBoundingClientRect();
    tip.style.left = `${ev.clientX - box.left + 12}px`;
    tip.style.top = `${ev.clientY - box.top + 12}px`;
    tip.hidden = false;
  }

  function hideTip() {
    tip.hidden = true;
  }

  function highlight() {
    const selected = model.get("selected");
    const nodes = model.get("nodes") || [];
    const chosen = nodes.findIndex((n) => n.id === selected);
    nodeEls.forEach((node, i) => node.classList.toggle("gk-selected", i === chosen));
    edgeEls.forEach(({ line, edge }) =>
      line.classList.toggle(
        "gk-incident",
        chosen >= 0 && (edge.source === chosen || edge.target === chosen),
      ),
    );
  }

  function draw() {
    const nodes = model.get("nodes") || [];
    const edges = model.get("edges") || [];
    const dropped = model.get("dropped_nodes") || 0;
    const text = model.get("title") || "";
    title.textContent = dropped ? `${text} (+${dropped} counterparties not drawn)` : text;
    canvas.style.height = `${model.get("height") || 420}px`;
    edgeLayer.replaceChildren();
    nodeLayer.replaceChildren();
    labelLayer.replaceChildren();
    const px = (n) => PAD + Number(n.x) * (W - 2 * PAD);
    const py = (n) => PAD + Number(n.y) * (H - 2 * PAD);

    edgeEls = [];
    const ordered = edges.map((e, i) => [e, i]);
    ordered.sort((a, b) => (a[0].evidence ? 1 : 0) - (b[0].evidence ? 1 : 0) || a[1] - b[1]);
    for (const [edge] of ordered) {
      const a = nodes[edge.source];
      const b = nodes[edge.target];
      if (!a || !b) continue;
      const width = (edge.evidence ? 2 : 1) + Math.min(Number(edge.orders) || 1, 10) * 0.3;
      const line = el("line", {
        class: edge.evidence ? "gk-edge gk-evidence" : "gk-edge",
        x1: px(a),
        y1: py(a),
        x2: px(b),
        y2: py(b),
        "stroke-width": width.toFixed(2),
      });
      line.addEventListener("pointerenter", (ev) =>
        showTip(ev, [
          `${a.id} \u2192 ${b.id}`,
          `${edge.orders} order(s), amount ${money(edge.amount)}`,
          edge.evidence ? "cited as evidence" : "",
        ]),
      );
      line.addEventListener("pointerleave", hideTip);
      edgeLayer.appendChild(line);
      edgeEls.push({ line, edge });
    }

    nodeEls = nodes.map((node, i) => {
      const r = node.member ? 9 : 6;
      const cls = `gk-node gk-${node.kind === "seller" ? "seller" : "buyer"} ${
        node.member ? "gk-member" : "gk-counterparty"
      }`;
      const shape =
        node.kind === "seller"
          ? el("rect", { class: cls, x: px(node) - r, y: py(node) - r, width: 2 * r, height: 2 * r })
          : el("circle", { class: cls, cx: px(node), cy: py(node), r });
      shape.dataset.index = String(i);
      shape.addEventListener("pointerenter", (ev) =>
        showTip(ev, [
          `${node.kind}${node.member ? "" : " (counterparty)"}`,
          node.id,
          `${node.orders} order(s) drawn, amount ${money(node.amount)}`,
        ]),
      );
      shape.addEventListener("pointerleave", hideTip);
      shape.addEventListener("click", (ev) => {
        ev.stopPropagation();
        model.set("selected", model.get("selected") === node.id ? null : node.id);
        model.save_changes();
      });
      nodeLayer.appendChild(shape);
      return shape;
    });

    if (nodes.length <= 40) {
      for (const node of nodes) {
        const label = el("text", { class: "gk-label", x: px(node), y: py(node) - 12 });
        label.textContent = short(node.id, 16);
        labelLayer.appendChild(label);
      }
    }
    applyView();
    highlight();
  }

  canvas.addEventListener("pointerdown", (ev) => {
    if (ev.target !== background && ev.target !== canvas) return;
    drag = toSvg(ev);
    canvas.classList.add("gk-dragging");
    if (canvas.setPointerCapture && ev.pointerId !== undefined) {
      try {
        canvas.setPointerCapture(ev.pointerId);
      } catch (_err) {
        // synthetic events have no active pointer to capture
      }
    }
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const p = toSvg(ev);
    view = { ...view, x: view.x + p.x - drag.x, y: view.y + p.y - drag.y };
    drag = p;
    applyView();
  });
  const endDrag = () => {
    drag = null;
    canvas.classList.remove("gk-dragging");
  };
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointerleave", endDrag);
  canvas.addEventListener(
    "wheel",
    (ev) => {
      ev.preventDefault();
      const p = toSvg(ev);
      const k = Math.min(20, Math.max(0.2, view.k * Math.exp(-ev.deltaY * 0.0015)));
      const f = k / view.k;
      view = { x: p.x - (p.x - view.x) * f, y: p.y - (p.y - view.y) * f, k };
      applyView();
    },
    { passive: false },
  );
  background.addEventListener("click", () => {
    if (model.get("selected") !== null) {
      model.set("selected", null);
      model.save_changes();
    }
  });
  reset.addEventListener("click", () => {
    view = { x: 0, y: 0, k: 1 };
    applyView();
  });

  const redraw = () => draw();
  const events = ["change:nodes", "change:edges", "change:title", "change:height"];
  for (const name of events) model.on(name, redraw);
  model.on("change:selected", highlight);
  draw();

  return () => {
    for (const name of events) model.off(name, redraw);
    model.off("change:selected", highlight);
  };
}

export default { render };
