"""Inline SVG charts for `sqlwave report`: plain strings, no scripts, no external resources."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from html import escape as _escape

ACCENT = "#2563eb"
MUTED = "#94a3b8"
HIGHLIGHT = "#f97316"
WAVE_COLOURS = ("#dbeafe", "#fef3c7", "#dcfce7", "#fce7f3", "#e0e7ff", "#f1f5f9")
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


# HTML cannot hold control characters (NUL is dropped, others are parse errors) and a lone
# surrogate cannot be written as UTF-8; keys may contain both, so they are shown as escapes.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def escape(value: object) -> str:
    r"""`value` as text for HTML: escaped, control characters and lone surrogates as \x/\u escapes.

    >>> escape('<a b="c">\x00\udc80')
    '&lt;a b=&quot;c&quot;&gt;\\x00\\udc80'
    """
    s = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return _escape(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s))


def svg(width: int, height: int, body: str, chart: str, label: str) -> str:
    """An <svg> element; `data-chart` names it for tests and readers of the HTML."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'data-chart="{chart}" {FONT}>{body}</svg>'
    )


def text(x: float, y: float, content: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{escape(content)}</text>'


def hbars(
    rows: Sequence[tuple[str, float, bool]],
    chart: str,
    label: str,
    fmt: Callable[[float], str],
    log: bool = False,
    width: int = 720,
) -> str:
    """Horizontal bars, one per (label, value, highlighted) row; log scale for wide ranges."""
    if not rows:
        return ""
    bar_h, gap, left, right = 18, 6, 190, 90
    height = len(rows) * (bar_h + gap) + 10
    scale = _scale([v for _, v, _ in rows], width - left - right, log)
    parts = []
    for i, (name, value, hot) in enumerate(rows):
        y = 5 + i * (bar_h + gap)
        w = max(1.0, scale(value))
        colour = HIGHLIGHT if hot else ACCENT
        parts.append(text(left - 8, y + 13, _clip(name, 28), "end"))
        parts.append(
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" '
            f'fill="{colour}"><title>{escape(name)}: {escape(fmt(value))}</title></rect>'
        )
        parts.append(text(left + w + 6, y + 13, fmt(value), extra='fill="#334155"'))
    return svg(width, height, "".join(parts), chart, label)


def _scale(values: Sequence[float], span: float, log: bool) -> Callable[[float], float]:
    top = max([v for v in values if v > 0] or [1.0])
    if log:
        low = min([v for v in values if v > 0] or [1.0]) / 2
        return lambda v: (
            span * (math.log(max(v, low) / low) / math.log(top / low)) if top > low else span
        )
    return lambda v: span * max(v, 0.0) / top


def _clip(name: str, n: int) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


def line_chart(
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    marks: Sequence[tuple[float, str]],
    chart: str,
    label: str,
    x_fmt: Callable[[float], str],
    width: int = 720,
    height: int = 300,
) -> str:
    """y in [0, 1] against x (log scale when x spans more than two decades); `marks` are
    labelled vertical lines (wave boundaries)."""
    xs = [x for _, pts in series for x, _ in pts if x > 0] + [m for m, _ in marks if m > 0]
    if not xs:
        return ""
    left, right, top, bottom = 56, 36, 16, 58
    lo, hi = min(xs), max(xs)
    log = hi / lo > 100
    pw, ph = width - left - right, height - top - bottom

    def px(x: float) -> float:
        if hi == lo:
            return left + pw / 2
        if log:
            return left + pw * math.log(max(x, lo) / lo) / math.log(hi / lo)
        return left + pw * (x - lo) / (hi - lo)

    def py(y: float) -> float:
        return top + ph * (1 - min(max(y, 0.0), 1.0))

    parts = [_axes(left, top, pw, ph, lo, hi, px, py, x_fmt)]
    for i, (m, name) in enumerate(marks):
        x = px(m)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" '
            f'stroke="{HIGHLIGHT}" stroke-dasharray="4 3"/>'
        )
        parts.append(text(x + 3, top + 12 + 14 * (i % 3), name, extra=f'fill="{HIGHLIGHT}"'))
    colours = (ACCENT, "#16a34a", "#9333ea", MUTED)
    legend_x = float(left)
    for i, (name, pts) in enumerate(series):
        shown = [(px(x), py(y)) for x, y in pts if x > 0]
        colour = colours[i % len(colours)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in shown)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2">'
            f"<title>{escape(name)}</title></polyline>"
        )
        if len(shown) <= 4:  # too few points for a line to show: mark each one
            parts += [
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>' for x, y in shown
            ]
        parts.append(
            f'<rect x="{legend_x:.1f}" y="{height - 15}" width="12" height="4" fill="{colour}"/>'
        )
        parts.append(text(legend_x + 16, height - 9, name, extra=f'fill="{colour}"'))
        legend_x += 30 + 6.5 * len(name)
    return svg(width, height, "".join(parts), chart, label)


def _axes(
    left: int,
    top: int,
    pw: int,
    ph: int,
    lo: float,
    hi: float,
    px: Callable[[float], float],
    py: Callable[[float], float],
    x_fmt: Callable[[float], str],
) -> str:
    parts = [
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#f8fafc" stroke="#cbd5e1"/>'
    ]
    for y in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{left}" y1="{py(y):.1f}" x2="{left + pw}" y2="{py(y):.1f}" '
            'stroke="#e2e8f0"/>'
        )
        parts.append(text(left - 6, py(y) + 4, f"{y:.2f}", "end", 'fill="#64748b"'))
    for i in range(5):
        x = lo + (hi - lo) * i / 4 if hi / max(lo, 1e-300) <= 100 else lo * (hi / lo) ** (i / 4)
        parts.append(text(px(x), top + ph + 16, x_fmt(x), "middle", 'fill="#64748b"'))
    return "".join(parts)


def strip(
    spans: Sequence[tuple[float, float, float, str]],
    bands: Sequence[tuple[float, float, str]],
    chart: str,
    label: str,
    width: int = 720,
    height: int = 90,
) -> str:
    """An address line: coloured `bands` (start, end, name) under `spans` (start, end, weight
    in [0, 1], tooltip), e.g. waves under extents."""
    ends = [e for _, e, _, _ in spans] + [e for _, e, _ in bands]
    starts = [s for s, _, _, _ in spans] + [s for s, _, _ in bands]
    if not ends:
        return ""
    lo, hi = min(starts), max(ends)
    span = (hi - lo) or 1.0
    left, pw = 10, width - 20

    def px(x: float) -> float:
        return left + pw * (x - lo) / span

    parts = []
    for i, (s, e, name) in enumerate(bands):
        parts.append(
            f'<rect x="{px(s):.1f}" y="8" width="{max(1.0, px(e) - px(s)):.1f}" '
            f'height="{height - 30}" fill="{WAVE_COLOURS[i % len(WAVE_COLOURS)]}">'
            f"<title>{escape(name)}</title></rect>"
        )
        parts.append(text(px(s) + 3, height - 8, name, extra='fill="#475569"'))
    for s, e, w, tip in spans:
        opacity = 0.25 + 0.75 * min(max(w, 0.0), 1.0)
        parts.append(
            f'<rect x="{px(s):.1f}" y="18" width="{max(1.0, px(e) - px(s)):.2f}" '
            f'height="{height - 50}" fill="{ACCENT}" fill-opacity="{opacity:.2f}">'
            f"<title>{escape(tip)}</title></rect>"
        )
    return svg(width, height, "".join(parts), chart, label)
