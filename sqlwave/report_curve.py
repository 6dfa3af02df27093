"""The miss-ratio chart of `sqlwave report`: a `sqlwave mrc` curve, or without one the miss
ratio of caching the pack order's first N bytes, under the wave boundaries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlwave.report_fields import finite, whole
from sqlwave.report_svg import escape, line_chart
from sqlwave.units import human_bytes


def curve_section(spec: dict[str, Any], curve: dict[str, Any] | None) -> str:
    waves = spec.get("waves", [])
    if not curve and not waves:
        return '<h2>Miss-ratio curve</h2><p class="note">No curve and no waves to draw.</p>'
    align = whole(spec.get("pack_order", {}).get("align_bytes") or 1, "pack_order.align_bytes",
                  1, 2**62)
    notes = []
    if curve:
        unit = curve.get("unit", "objects")
        pts = _trim_flat_start([(finite(p["size"], "points[].size"),
                                 finite(p["miss_ratio"], "points[].miss_ratio"))
                                for p in curve["points"]])
        what = ("Miss ratio of a KV prefix cache (1 - prefix hit ratio)"
                if curve.get("curve") == "prefix_hits" else "LRU miss ratio")
        series = [(f"{curve.get('method', '?')} ({unit})", pts)]
        notes.append(f"{what} against cache size, method <b>{escape(curve.get('method'))}</b>.")
        if curve.get("curve") == "prefix_hits":
            notes.append("A request hits only the longest cached prefix of its blocks, so this "
                         "is not the plain LRU curve the wave boundaries' expectations come from.")
        curve_align = whole(curve.get("align", 1), "the curve's align", 1, 2**62)
        if unit == "bytes" and waves and curve_align != align:
            sizes = "as logged" if curve_align == 1 else f"rounded up to {human_bytes(curve_align)}"
            notes.append(
                f"The curve counts object sizes {sizes}; the wave boundaries are pack offsets, "
                f"where each object takes its size rounded up to {human_bytes(align)}: the two "
                "scales differ wherever objects are not whole multiples of both. <code>sqlwave "
                f"mrc --unit bytes --align-bits {align.bit_length() - 1}</code> writes a curve on "
                "the pack's scale."
            )
    else:
        unit = "bytes"
        series = [("pack-order prefix", _static_curve(spec))]
        notes.append(
            "This WaveSpec has no miss-ratio curve (give one with <code>--mrc</code>, written by "
            "<code>sqlwave mrc</code>); shown instead: the share of accesses missed by a cache "
            "holding the first N bytes of the pack order."
        )
    if unit == "bytes" and (not curve or curve.get("curve") != "prefix_hits"):
        expected = _expected_points(waves)
        if expected:
            series.append(("LRU miss ratio expected at the wave boundaries", expected))
    marks = _wave_marks(waves, unit)
    chart = line_chart(series, marks, "mrc", "miss ratio against cache size", _axis_format(unit))
    if not chart:
        notes.append("Nothing to draw: no cache size above 0.")
    return (f'<h2>Miss-ratio curve and wave boundaries</h2><p class="note">{" ".join(notes)}</p>'
            f"{chart}")


def _trim_flat_start(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drop the run of sizes too small to hit anything, keeping the last one as the start.

    >>> _trim_flat_start([(1, 1.0), (2, 1.0), (4, 0.9), (8, 0.5)])
    [(2, 1.0), (4, 0.9), (8, 0.5)]
    """
    first = next((i for i, (_, y) in enumerate(points) if y < 0.995), 0)
    return points[max(0, first - 1) :]


def _axis_format(unit: str) -> Callable[[float], str]:
    if unit == "bytes":
        return lambda v: human_bytes(int(v))
    return lambda v: f"{v:,.0f}"


def _static_curve(spec: dict[str, Any]) -> list[tuple[float, float]]:
    """Miss ratio of a cache holding the pack order up to each inlined key's end and each wave's
    end: measured points only (a cache of 0 bytes, which misses everything, has no place on a
    log axis).

    >>> _static_curve({"waves": [{"hits": 3, "end_offset": 8}, {"hits": 1, "end_offset": 12}],
    ...                "pack_order": {"inline": [{"byte_offset": 0, "aligned_size": 4,
    ...                                           "hits": 2}]}})
    [(4.0, 0.5), (8.0, 0.25), (12.0, 0.0)]
    """
    waves = [(whole(w.get("end_offset") or 0, "waves[].end_offset"),
              whole(w.get("hits") or 0, "waves[].hits")) for w in spec.get("waves", [])]
    field = "pack_order.inline[]."
    head = [(whole(e["byte_offset"], field + "byte_offset"),
             whole(e["aligned_size"], field + "aligned_size"),
             whole(e.get("hits") or 0, field + "hits"))
            for e in spec.get("pack_order", {}).get("inline", [])]
    total = sum(h for _, h in waves)
    if total <= 0:
        return []
    ends: dict[int, int] = {}
    hits = 0
    for end, h in waves:
        hits += h
        ends[end] = hits
    hits = 0
    for offset, size, h in sorted(head, key=lambda e: e[0]):
        hits += h
        ends.setdefault(offset + size, hits)
    return [(float(x), 1 - h / total) for x, h in sorted(ends.items())]


def _expected_points(waves: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """With --wave-bytes auto each wave records the LRU hit ratio expected at its end."""
    return [
        (float(whole(w["end_offset"], "waves[].end_offset")),
         1 - finite(w["expected_hit_ratio"], "waves[].expected_hit_ratio"))
        for w in waves
        if w.get("expected_hit_ratio") is not None
    ]


def _wave_marks(waves: list[dict[str, Any]], unit: str) -> list[tuple[float, str]]:
    """A line at the end of each wave but the last, named by the waves on either side (a wave
    no object fits in is left out of the WaveSpec, so the next one is not always number + 1)."""
    marks, keys = [], 0
    for w, after in zip(waves, waves[1:], strict=False):
        keys += whole(w.get("keys") or 0, "waves[].keys")
        at = float(whole(w.get("end_offset") or 0, "waves[].end_offset")) if unit == "bytes" \
            else float(keys)
        marks.append((at, f"wave {whole(w['wave'], 'waves[].wave')} | "
                          f"{whole(after['wave'], 'waves[].wave')}"))
    return marks
