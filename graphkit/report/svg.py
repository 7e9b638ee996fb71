"""A minimal SVG canvas for the report's figures: no matplotlib, same bytes every time.

The HTML report draws about ten small figures (subgraphs, timelines, bars). Through
matplotlib they cost more than the rest of the report together (its import, tick and
text layout, rasterising, PNG encoding). This module writes the same kinds of marks
(lines, polylines, circles, squares, rectangles, text) straight into an SVG document,
plus the two axis helpers the plots need: "nice" numeric ticks and calendar date ticks.

Coordinates are pixels (origin top left), written with one decimal, so the same
figure gives the same bytes. Every text is XML-escaped: ids from the data (``<script>``,
``$x^{$``) are shown as typed. The report embeds each document as a
``data:image/svg+xml`` image, where an SVG cannot run anything.

Examples
--------
>>> c = Canvas(100, 40)
>>> c.text(5, 20, "<b>", size=10)
>>> b"&lt;b&gt;" in c.to_bytes()
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "FONT",
    "Box",
    "Canvas",
    "axes",
    "date_ticks",
    "nice_ticks",
]

#: Font stack of every text (the viewer's sans-serif).
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


#: Characters XML 1.0 does not allow (C0 controls but tab/newline/CR), shown as U+FFFD.
_CONTROL = {c: "\ufffd" for c in range(32) if c not in (9, 10, 13)}


def _n(v: float) -> str:
    """Format a coordinate with one decimal (no ``-0.0``)."""
    s = f"{v:.1f}"
    return "0.0" if s == "-0.0" else s


@dataclass(frozen=True)
class Box:
    """A rectangle in pixels: left ``x``, top ``y``, width ``w``, height ``h``.

    Examples
    --------
    >>> Box(0, 0, 100, 50).inset(10, 5, 10, 5)
    Box(x=10, y=5, w=80, h=40)
    """

    x: float
    y: float
    w: float
    h: float

    def inset(self, left: float, top: float, right: float, bottom: float) -> Box:
        """Return the box shrunk by the given margins (never below one pixel)."""
        return Box(
            self.x + left,
            self.y + top,
            max(self.w - left - right, 1.0),
            max(self.h - top - bottom, 1.0),
        )

    def sx(self, v: float, lo: float, hi: float) -> float:
        """Map data ``v`` in ``[lo, hi]`` to a pixel x inside the box."""
        return self.x + (v - lo) / ((hi - lo) or 1.0) * self.w

    def sy(self, v: float, lo: float, hi: float) -> float:
        """Map data ``v`` in ``[lo, hi]`` to a pixel y inside the box (up is larger)."""
        return self.y + self.h - (v - lo) / ((hi - lo) or 1.0) * self.h


class Canvas:
    """An SVG document being drawn; :meth:`to_bytes` returns it.

    Parameters
    ----------
    width, height
        Size in pixels.

    Examples
    --------
    >>> c = Canvas(20, 10)
    >>> c.line(0, 0, 20, 10, stroke="#000")
    >>> c.to_bytes().startswith(b"<svg")
    True
    """

    def __init__(self, width: float, height: float) -> None:
        self.width, self.height = width, height
        self._parts: list[str] = []

    def line(
        self, x1: float, y1: float, x2: float, y2: float, *, stroke: str, width: float = 1.0
    ) -> None:
        """Draw a straight line."""
        self._parts.append(
            f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
            f'stroke="{stroke}" stroke-width="{_n(width)}"/>'
        )

    def segments(
        self,
        segs: Sequence[tuple[float, float, float, float]],
        *,
        stroke: str,
        width: float,
        opacity: float = 1.0,
    ) -> None:
        """Draw many straight segments of one style as a single path."""
        if not segs:
            return
        d = "".join(f"M{_n(a)} {_n(b)}L{_n(c)} {_n(e)}" for a, b, c, e in segs)
        self._parts.append(
            f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="{_n(width)}" '
            f'stroke-opacity="{opacity:g}" stroke-linecap="round"/>'
        )

    def polyline(
        self,
        points: Sequence[tuple[float, float]],
        *,
        stroke: str,
        width: float = 1.0,
        marker: float = 0.0,
    ) -> None:
        """Draw a polyline; ``marker`` > 0 adds a dot of that radius at each point."""
        if not points:
            return
        pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
        self._parts.append(
            f'<polyline points="{pts}" fill="none" stroke="{stroke}" '
            f'stroke-width="{_n(width)}" stroke-linejoin="round"/>'
        )
        if marker > 0:
            self.markers(points, shape="circle", size=marker, fill=stroke)

    def markers(
        self,
        points: Sequence[tuple[float, float]],
        *,
        shape: str,
        size: float,
        fill: str,
        edge: str | None = None,
        opacity: float = 1.0,
    ) -> None:
        """Draw a circle (``size`` = radius) or square (``size`` = half side) per point."""
        if not points:
            return
        style = f'fill="{fill}" fill-opacity="{opacity:g}"'
        if edge is not None:
            style += f' stroke="{edge}" stroke-width="0.8"'
        if shape == "square":
            side = _n(2 * size)
            marks = "".join(
                f'<rect x="{_n(x - size)}" y="{_n(y - size)}" width="{side}" height="{side}"/>'
                for x, y in points
            )
        else:
            marks = "".join(
                f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(size)}"/>' for x, y in points
            )
        self._parts.append(f"<g {style}>{marks}</g>")

    def rects(self, rects: Sequence[tuple[float, float, float, float]], *, fill: str) -> None:
        """Draw filled rectangles ``(x, y, w, h)`` of one colour."""
        if not rects:
            return
        marks = "".join(
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}"/>'
            for x, y, w, h in rects
        )
        self._parts.append(f'<g fill="{fill}">{marks}</g>')

    def text(
        self,
        x: float,
        y: float,
        s: str,
        *,
        size: float = 10.0,
        anchor: str = "start",
        color: str = "#1b1b1b",
        weight: str = "normal",
        rotate: bool = False,
    ) -> None:
        """Write text (escaped) with its baseline at ``y``; ``rotate`` turns it 90° left."""
        rot = f' transform="rotate(-90 {_n(x)} {_n(y)})"' if rotate else ""
        bold = ' font-weight="bold"' if weight == "bold" else ""
        self._parts.append(
            f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" text-anchor="{anchor}" '
            f'fill="{color}"{bold}{rot}>{escape(s.translate(_CONTROL))}</text>'
        )

    def legend(
        self,
        x: float,
        y: float,
        entries: Sequence[tuple[str, str, str]],
        *,
        size: float = 9.0,
        columns: int = 1,
        column_width: float = 120.0,
    ) -> None:
        """Draw legend entries ``(label, kind, colour)`` from ``(x, y)`` downwards.

        ``kind`` is ``line``, ``circle``, ``circle-edge``, ``square``, ``square-edge``,
        ``dot`` (faint marker) or ``bar``.
        """
        step = size * 1.35
        for i, (label, kind, color) in enumerate(entries):
            col, row = i % columns, i // columns
            lx, ly = x + col * column_width, y + row * step
            mid = ly - size * 0.35
            if kind == "line":
                self.line(lx, mid, lx + 14, mid, stroke=color, width=2.0)
            elif kind == "bar":
                self.rects([(lx + 2, mid - 4, 10, 8)], fill=color)
            else:
                shape = "square" if kind.startswith("square") else "circle"
                edge = "#000" if kind.endswith("-edge") else None
                self.markers(
                    [(lx + 7, mid)],
                    shape=shape,
                    size=3.5,
                    fill=color,
                    edge=edge,
                    opacity=0.45 if kind == "dot" or edge is None else 1.0,
                )
            self.text(lx + 18, ly, label, size=size)

    def to_bytes(self) -> bytes:
        """Return the SVG document (UTF-8)."""
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(self.width)}" '
            f'height="{_n(self.height)}" viewBox="0 0 {_n(self.width)} {_n(self.height)}" '
            f"font-family={quoteattr(FONT)}>"
            f'<rect width="100%" height="100%" fill="#fff"/>'
        )
        return (head + "".join(self._parts) + "</svg>").encode("utf-8")


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Return about ``n`` round tick values covering ``[lo, hi]`` (steps 1, 2, 2.5 or 5 x 10^k).

    Examples
    --------
    >>> nice_ticks(0, 9)
    [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    >>> nice_ticks(0, 0.62, 4)
    [0.0, 0.2, 0.4, 0.6, 0.8]
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * mag >= raw)
    first = math.floor(lo / step + 1e-9)
    last = math.ceil(hi / step - 1e-9)
    return [round(k * step, 12) for k in range(first, last + 1)]


def _month_add(d: datetime, months: int) -> datetime:
    m = d.month - 1 + months
    return d.replace(
        year=d.year + m // 12, month=m % 12 + 1, day=1, hour=0, minute=0, second=0, microsecond=0
    )


def date_ticks(lo: datetime, hi: datetime, n: int = 5) -> list[tuple[datetime, str]]:
    """Return at most ``n`` calendar ticks (midnights UTC, month or year starts) in ``[lo, hi]``.

    Labels: ``"04 Mar"`` for day steps (the year is shown once, on the first tick),
    ``"Mar 2026"`` for month steps, ``"2026"`` for year steps.

    Examples
    --------
    >>> t = date_ticks(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC))
    >>> [label for _, label in t]
    ['01 Mar 2026', '02 Mar', '03 Mar', '04 Mar', '05 Mar']
    """
    lo, hi = lo.astimezone(UTC), hi.astimezone(UTC)
    span_days = max((hi - lo).total_seconds() / 86400.0, 1e-9)
    start_day = lo.replace(hour=0, minute=0, second=0, microsecond=0)
    if start_day < lo:
        start_day += timedelta(days=1)
    for days in (1, 2, 7, 14):
        if span_days / days <= n - 1:
            ticks, d = [], start_day
            while d <= hi:
                ticks.append(d)
                d += timedelta(days=days)
            return [
                (t, t.strftime("%d %b %Y") if i == 0 else t.strftime("%d %b"))
                for i, t in enumerate(ticks)
            ]
    for months, fmt in ((1, "%b %Y"), (2, "%b %Y"), (3, "%b %Y"), (6, "%b %Y"), (12, "%Y")):
        if span_days / (30.44 * months) <= n - 1:
            m = _month_add(lo, 0)
            if m < lo:
                m = _month_add(m, 1)
            while (m.month - 1) % months:
                m = _month_add(m, 1)
            ticks = []
            while m <= hi:
                ticks.append(m)
                m = _month_add(m, months)
            return [(t, t.strftime(fmt)) for t in ticks]
    years = max(1, math.ceil(span_days / 365.25 / max(n - 1, 1)))
    y = lo.year + (1 if datetime(lo.year, 1, 1, tzinfo=UTC) < lo else 0)
    out = []
    while datetime(y, 1, 1, tzinfo=UTC) <= hi:
        out.append((datetime(y, 1, 1, tzinfo=UTC), str(y)))
        y += years
    return out


def axes(
    canvas: Canvas,
    area: Box,
    *,
    x_ticks: Sequence[tuple[float, str]] = (),
    y_ticks: Sequence[tuple[float, str]] = (),
    y_label: str = "",
    size: float = 8.0,
) -> None:
    """Draw an axes frame with tick marks and labels (tick positions in pixels).

    Examples
    --------
    >>> c = Canvas(100, 60)
    >>> axes(c, Box(20, 5, 70, 40), x_ticks=[(20, "a")], y_ticks=[(45, "0")], y_label="n")
    >>> c.to_bytes().count(b"<text")
    3
    """
    frame = "#555"
    x0, y0, x1, y1 = area.x, area.y, area.x + area.w, area.y + area.h
    canvas.segments(
        [(x0, y0, x1, y0), (x1, y0, x1, y1), (x1, y1, x0, y1), (x0, y1, x0, y0)],
        stroke=frame,
        width=0.8,
    )
    canvas.segments([(x, y1, x, y1 + 3) for x, _ in x_ticks], stroke=frame, width=0.8)
    canvas.segments([(x0 - 3, y, x0, y) for y, _ in y_ticks], stroke=frame, width=0.8)
    for x, label in x_ticks:
        canvas.text(x, y1 + 3 + size, label, size=size, anchor="middle")
    for y, label in y_ticks:
        canvas.text(x0 - 5, y + size * 0.35, label, size=size, anchor="end")
    if y_label:
        canvas.text(
            area.x - 30, area.y + area.h / 2, y_label, size=size, anchor="middle", rotate=True
        )
