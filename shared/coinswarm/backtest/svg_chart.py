"""Small SVG line and bar charts for the HTML report: no JavaScript library, nothing fetched.

Contract: `line_chart(...)` and `bar_chart(...)` return one `<svg>` element as text, sized by its
viewBox so it scales to the page's width; a series longer than `MAX_POINTS` is thinned to each
bucket's first, lowest, highest and last points, so its extremes stay visible. Labels are escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape

MAX_POINTS = 1_500
W, H = 1000, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 15, 28, 26


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    xs: Sequence[int]  # epoch seconds
    ys: Sequence[float]
    fill: bool = False  # shade between the line and zero (a drawdown)


@dataclass(frozen=True)
class Marker:
    x: int
    y: float
    shape: str  # "up" or "down"
    color: str
    title: str


@dataclass(frozen=True)
class Legend:
    items: list[tuple[str, str]] = field(default_factory=list)  # (label, color)


def thin(xs: Sequence[int], ys: Sequence[float], limit: int = MAX_POINTS) -> list[tuple[int, float]]:
    """At most about `limit` points; each bucket keeps its first, lowest, highest and last point."""
    n = len(xs)
    if n <= limit:
        return list(zip(xs, ys, strict=True))
    size = math.ceil(n / (limit / 4))
    out: list[tuple[int, float]] = []
    for start in range(0, n, size):
        idx = range(start, min(n, start + size))
        lo = min(idx, key=lambda i: ys[i])
        hi = max(idx, key=lambda i: ys[i])
        for i in sorted({idx[0], lo, hi, idx[-1]}):
            out.append((xs[i], ys[i]))
    return out


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _fmt(v: float) -> str:
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e4:
        return f"{v / 1e3:.4g}k"
    if a >= 100:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def _date(ts: int, span_s: int) -> str:
    d = datetime.fromtimestamp(ts, UTC)
    return d.strftime("%Y-%m-%d") if span_s > 3 * 86_400 else d.strftime("%m-%d %H:%M")


def _frame(title: str, lo: float, hi: float, sy: Callable[[float], float], unit: str) -> list[str]:
    """The opening of a chart: the <svg> element, its title, and the horizontal grid with its labels."""
    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<text x="{LEFT}" y="17" class="title">{escape(title)}</text>',
    ]
    for t in _nice_ticks(lo, hi):
        y = sy(t)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="ylab">{escape(_fmt(t) + unit)}</text>')
    return parts


def line_chart(title: str, series: Sequence[Series], markers: Sequence[Marker] = (), unit: str = "") -> str:
    pts = [thin(s.xs, s.ys) for s in series]
    all_x = [x for p in pts for x, _ in p] + [m.x for m in markers]
    all_y = [y for p in pts for _, y in p] + [m.y for m in markers]
    if any(s.fill for s in series):
        all_y.append(0.0)
    x0, x1 = min(all_x), max(all_x)
    y0, y1 = min(all_y), max(all_y)
    pad = (y1 - y0) * 0.05 or abs(y1) * 0.05 or 1.0
    y0, y1 = y0 - pad, y1 + pad
    span_x = max(1, x1 - x0)

    def sx(x: float) -> float:
        return LEFT + (x - x0) / span_x * (W - LEFT - RIGHT)

    def sy(y: float) -> float:
        return TOP + (y1 - y) / (y1 - y0) * (H - TOP - BOTTOM)

    parts = _frame(title, y0, y1, sy, unit)
    for i in range(6):
        x = x0 + span_x * i / 5
        anchor = "start" if i == 0 else "end" if i == 5 else "middle"
        parts.append(
            f'<text x="{sx(x):.1f}" y="{H - 7}" class="xlab" text-anchor="{anchor}">{_date(int(x), span_x)}</text>'
        )
    for s, p in zip(series, pts, strict=True):
        if not p:
            continue
        d = "M" + " L".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in p)
        if s.fill:
            area = f"{d} L{sx(p[-1][0]):.1f},{sy(0):.1f} L{sx(p[0][0]):.1f},{sy(0):.1f} Z"
            parts.append(f'<path d="{area}" fill="{s.color}" fill-opacity="0.25" stroke="none"/>')
        parts.append(f'<path class="series" d="{d}" fill="none" stroke="{s.color}" stroke-width="1.3"/>')
    for m in markers:
        x, y = sx(m.x), sy(m.y)
        tri = (
            f"{x:.1f},{y - 1:.1f} {x - 4:.1f},{y + 6:.1f} {x + 4:.1f},{y + 6:.1f}"
            if m.shape == "up"
            else f"{x:.1f},{y + 1:.1f} {x - 4:.1f},{y - 6:.1f} {x + 4:.1f},{y - 6:.1f}"
        )
        parts.append(
            f'<polygon class="marker" points="{tri}" fill="{m.color}"><title>{escape(m.title)}</title></polygon>'
        )
    lx = W - RIGHT
    for s in reversed(series):
        label = escape(s.label)
        parts.append(f'<text x="{lx}" y="17" class="legend" text-anchor="end" fill="{s.color}">{label}</text>')
        lx -= 9 * len(s.label) + 20
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], unit: str = "%") -> str:
    """Bars up (green) and down (red) from zero, one per label."""
    if not values:
        return line_chart(title, [Series("none", "#999", [0, 1], [0.0, 0.0])])
    hi, lo = max(0.0, *values), min(0.0, *values)
    pad = (hi - lo) * 0.08 or 1.0
    hi, lo = hi + pad, lo - pad
    n = len(values)
    bw = (W - LEFT - RIGHT) / n

    def sy(y: float) -> float:
        return TOP + (hi - y) / (hi - lo) * (H - TOP - BOTTOM)

    parts = _frame(title, lo, hi, sy, unit)
    every = max(1, math.ceil(n / 12))
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + i * bw
        width = min(bw * 0.8, 48.0)
        top, bottom = sy(max(v, 0.0)), sy(min(v, 0.0))
        color = "#2e7d32" if v >= 0 else "#c62828"
        parts.append(
            f'<rect class="bar" x="{x + (bw - width) / 2:.1f}" y="{top:.1f}" width="{width:.1f}" '
            f'height="{max(0.5, bottom - top):.1f}" fill="{color}">'
            f"<title>{escape(label)}: {v:+.2f}{unit}</title></rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bw / 2:.1f}" y="{H - 7}" class="xlab" text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
