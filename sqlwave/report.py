"""`sqlwave report`: one self-contained HTML page of charts for a WaveSpec.

Everything is inline (CSS, SVG); the page loads nothing and runs no script, so it opens the same
from a laptop, an artifact store or an air-gapped cluster. Sections degrade to a sentence when
the WaveSpec lacks their data (no miss-ratio curve, no tuner scores).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlwave.errors import InputError
from sqlwave.report_svg import escape, hbars, line_chart, strip
from sqlwave.units import human_bytes
from sqlwave.wavespec import FORMAT, check_outputs, read_json, write_text_atomic

CSS = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 780px; color: #0f172a; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
.sub, .note { color: #64748b; font-size: 13px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; }
.card { background: #f1f5f9; border-radius: 8px; padding: 8px 12px; min-width: 120px; }
.card b { display: block; font-size: 18px; } .card span { color: #64748b; font-size: 12px; }
table { border-collapse: collapse; font-size: 13px; }
td, th { padding: 3px 10px; text-align: right; }
th { color: #475569; border-bottom: 1px solid #cbd5e1; }
"""


def load_json(path: str, what: str) -> dict[str, Any]:
    doc = read_json(path, what, "give a file sqlwave wrote")
    if not isinstance(doc, dict):
        raise InputError(f"{path!r} is not a {what} (expected a JSON object)")
    return doc


def write_report(
    wavespec: str,
    out: str,
    title: str | None = None,
    mrc: str | None = None,
    evaluation: str | None = None,
) -> None:
    """Render the WaveSpec at `wavespec` (plus optional `sqlwave mrc` and `evaluate-layout`
    JSON files) to the HTML file `out`."""
    check_outputs({"--out": out}, [p for p in (wavespec, mrc, evaluation) if p])
    spec = load_json(wavespec, "WaveSpec")
    if "format" not in spec or "waves" not in spec:
        raise InputError(
            f"{wavespec!r} is not a WaveSpec (no format/waves); write one with `sqlwave export`"
        )
    if spec["format"] != FORMAT:
        raise InputError(f"{wavespec!r} has format {str(spec['format'])[:60]!r}; this sqlwave "
                         f"reads {FORMAT!r}: write it again with this version's `sqlwave export`")
    extra_mrc = load_json(mrc, "miss-ratio curve") if mrc else None
    if extra_mrc is not None and not _is_curve(extra_mrc):
        raise InputError(f"{mrc!r} is not a miss-ratio curve (no method, unit and points); "
                         "write one with `sqlwave mrc --out`")
    extra_eval = load_json(evaluation, "evaluate-layout result") if evaluation else None
    if extra_eval is not None and not isinstance(extra_eval.get("strategies"), dict):
        raise InputError(f"{evaluation!r} is not an evaluate-layout result (no strategies); "
                         "write one with `sqlwave evaluate-layout > layouts.json`")
    try:
        html = render_report(spec, title, extra_mrc, extra_eval)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
        # Inputs are files a person may have edited; a field of the wrong type must not crash.
        raise InputError(f"cannot render the report: a field of the inputs is missing or has "
                         f"the wrong type ({type(e).__name__}: {e}); regenerate them with "
                         "sqlwave") from e
    write_text_atomic(out, html)


def _is_curve(doc: dict[str, Any]) -> bool:
    points = doc.get("points")
    return ("method" in doc and "unit" in doc and isinstance(points, list) and bool(points)
            and all(isinstance(p, dict) and "size" in p and "miss_ratio" in p for p in points))


def _int(value: Any, field: str, lo: int = -(2**63), hi: int = 2**63 - 1) -> int:
    """A whole number read from an input field. Every number a page shows goes through here or
    `_share`, so an edited file cannot put text (or markup) where a number belongs."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{field} must be a number, got {str(value)[:40]!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{field} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{field} must be between {lo} and {hi}, got {value!r}")
    return int(value)


def _share(value: Any, field: str) -> float:
    """A finite number (a share, a ratio, a mean) read from an input field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{field} must be a finite number, got {str(value)[:40]!r}")
    return float(value)


def render_report(
    spec: dict[str, Any],
    title: str | None = None,
    mrc: dict[str, Any] | None = None,
    evaluation: dict[str, Any] | None = None,
) -> str:
    """The whole HTML page as a string.

    >>> html = render_report({"format": "sqlwave.wavespec/1", "waves": [], "cohorts": []})
    >>> html.startswith("<!DOCTYPE html>") and "<script" not in html
    True
    """
    files = [f.get("path", "") for f in spec.get("source", {}).get("files", [])]
    name = title or (Path(files[0]).name if files else "access log")
    body = [
        f"<h1>sqlwave report: {escape(name)}</h1>",
        f'<p class="sub">{escape(spec.get("format", ""))}, generated by sqlwave '
        f"{escape(str(spec.get('generator', {}).get('version', '?')))}</p>",
        _cards(spec),
        _cohorts(spec),
        _curve(spec, mrc),
        _extent_map(spec),
        _layouts(spec, evaluation),
        _waves_table(spec),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(name)} · sqlwave</title><style>{CSS}</style></head><body>"
        + "\n".join(b for b in body if b)
        + "</body></html>\n"
    )


def _cards(spec: dict[str, Any]) -> str:
    m = spec.get("metrics", {})
    items = [
        ("accesses", f"{_int(m.get('rows', 0), 'metrics.rows'):,}"),
        ("keys", f"{_int(m.get('distinct_keys', 0), 'metrics.distinct_keys'):,}"),
        ("working set", human_bytes(_int(m.get("unique_bytes") or 0, "metrics.unique_bytes"))),
        ("reuse ratio", f"{_share(m.get('reuse_ratio') or 0, 'metrics.reuse_ratio'):.1%}"),
        ("pack order", str(spec.get("pack_order", {}).get("strategy", "?"))),
        ("waves", str(len(spec.get("waves", [])))),
    ]
    cells = "".join(f'<div class="card"><b>{escape(v)}</b><span>{k}</span></div>' for k, v in items)
    return f'<div class="cards">{cells}</div>'


def _cohorts(spec: dict[str, Any]) -> str:
    rows = [
        (str(c["cohort"]), _share(c.get("hit_share") or 0, "cohorts[].hit_share"), i == 0)
        for i, c in enumerate(spec.get("cohorts", [])[:20])
    ]
    if not rows:
        return '<h2>Top cohorts</h2><p class="note">No cohorts in this WaveSpec.</p>'
    chart = hbars(rows, "cohorts", "share of accesses per prefix cohort", lambda v: f"{v:.1%}")
    return f'<h2>Top cohorts</h2><p class="note">Share of accesses per prefix cohort.</p>{chart}'


def _curve(spec: dict[str, Any], curve: dict[str, Any] | None) -> str:
    waves = spec.get("waves", [])
    if not curve and not waves:
        return '<h2>Miss-ratio curve</h2><p class="note">No curve and no waves to draw.</p>'
    align = _int(spec.get("pack_order", {}).get("align_bytes") or 1, "pack_order.align_bytes",
                 1, 2**62)
    notes = []
    if curve:
        unit = curve.get("unit", "objects")
        pts = _trim_flat_start([(_share(p["size"], "points[].size"),
                                 _share(p["miss_ratio"], "points[].miss_ratio"))
                                for p in curve["points"]])
        what = ("Miss ratio of a KV prefix cache (1 - prefix hit ratio)"
                if curve.get("curve") == "prefix_hits" else "LRU miss ratio")
        series = [(f"{curve.get('method', '?')} ({unit})", pts)]
        notes.append(f"{what} against cache size, method <b>{escape(curve.get('method'))}</b>.")
        if curve.get("curve") == "prefix_hits":
            notes.append("A request hits only the longest cached prefix of its blocks, so this "
                         "is not the plain LRU curve the wave boundaries' expectations come from.")
        curve_align = _int(curve.get("align", 1), "the curve's align", 1, 2**62)
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
    waves = spec.get("waves", [])
    total = sum(_int(w.get("hits") or 0, "waves[].hits") for w in waves)
    if total <= 0:
        return []
    ends: dict[int, int] = {}
    hits = 0
    for w in waves:
        hits += _int(w.get("hits") or 0, "waves[].hits")
        ends[_int(w.get("end_offset") or 0, "waves[].end_offset")] = hits
    hits = 0
    head = spec.get("pack_order", {}).get("inline", [])
    for e in sorted(head, key=lambda e: _int(e["byte_offset"], "pack_order.inline[].byte_offset")):
        hits += _int(e.get("hits") or 0, "pack_order.inline[].hits")
        end = _int(e["byte_offset"], "pack_order.inline[].byte_offset") + _int(
            e["aligned_size"], "pack_order.inline[].aligned_size")
        ends.setdefault(end, hits)
    return [(float(x), 1 - h / total) for x, h in sorted(ends.items())]


def _expected_points(waves: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """With --wave-bytes auto each wave records the LRU hit ratio expected at its end."""
    return [
        (float(_int(w["end_offset"], "waves[].end_offset")),
         1 - _share(w["expected_hit_ratio"], "waves[].expected_hit_ratio"))
        for w in waves
        if w.get("expected_hit_ratio") is not None
    ]


def _wave_marks(waves: list[dict[str, Any]], unit: str) -> list[tuple[float, str]]:
    """A line at the end of each wave but the last, named by the waves on either side (a wave
    no object fits in is left out of the WaveSpec, so the next one is not always number + 1)."""
    marks, keys = [], 0
    for w, after in zip(waves, waves[1:], strict=False):
        keys += _int(w.get("keys") or 0, "waves[].keys")
        at = float(_int(w.get("end_offset") or 0, "waves[].end_offset")) if unit == "bytes" \
            else float(keys)
        marks.append((at, f"wave {_int(w['wave'], 'waves[].wave')} | "
                          f"{_int(after['wave'], 'waves[].wave')}"))
    return marks


def _extent_map(spec: dict[str, Any]) -> str:
    ext = spec.get("extents", {})
    rows = ext.get("inline", [])
    count = _int(ext.get("count", len(rows)), "extents.count", 0)
    page = 2 ** _int(ext.get("page_bits", 12), "extents.page_bits", 0, 62)
    runs = f'{count:,} contiguous run{"" if count == 1 else "s"} of {human_bytes(page)} pages'
    parts = ["<h2>Extent map</h2>"]
    if rows:
        hits = [_int(r.get("hits") or 0, "extents.inline[].hits") for r in rows]
        top = max(hits) or 1
        spans = []
        for r, h in zip(rows, hits, strict=True):
            first = _int(r["first_page"], "extents.inline[].first_page")
            last = _int(r["last_page"], "extents.inline[].last_page")
            objects = _int(r.get("objects") or 0, "extents.inline[].objects")
            spans.append((float(first), float(last) + 1, math.log1p(h) / math.log1p(top),
                           f"pages {first}-{last}: {objects:,} objects, {h:,} hits"))
        shown = f"the {len(rows):,} hottest" if ext.get("truncated") else f"all {len(rows):,}"
        parts.append(
            f'<p class="note">{runs} over {escape(ext.get("address"))} addresses; {shown} '
            "drawn, darker = more hits.</p>"
        )
        parts.append(strip(spans, [], "extents", "extents over the address space"))
    elif count:
        parts.append(f'<p class="note">{runs}; none is inlined in this WaveSpec (export with '
                     "<code>--max-inline</code> above 0 to draw them).</p>")
    else:
        parts.append('<p class="note">No extents in this WaveSpec.</p>')
    parts.append(_pack_map(spec))
    return "".join(parts)


def _pack_map(spec: dict[str, Any]) -> str:
    """The head of the pack order at its byte offsets, over the load waves it falls in."""
    head = spec.get("pack_order", {}).get("inline", [])
    if not head:
        return ""
    field = "pack_order.inline[]."
    spans, top, end = [], 1, 0
    entries = []
    for e in head:
        offset = _int(e["byte_offset"], field + "byte_offset", 0)
        size = _int(e["aligned_size"], field + "aligned_size", 0)
        hits = _int(e.get("hits") or 0, field + "hits")
        entries.append((offset, size, hits, _int(e["rank"], field + "rank"), e["key"]))
        top, end = max(top, hits), max(end, offset + size)
    for offset, size, hits, rank, key in entries:
        spans.append((float(offset), float(offset + size), math.log1p(hits) / math.log1p(top),
                      f"#{rank} {key}: {hits:,} hits"))
    bands = []
    for w in spec.get("waves", []):
        start = _int(w["start_offset"], "waves[].start_offset")
        if start < end:
            stop = min(_int(w["end_offset"], "waves[].end_offset"), end)
            bands.append((float(start), float(stop), f"wave {_int(w['wave'], 'waves[].wave')}"))
    note = (
        f"The first {len(head):,} keys of the pack order at their byte offsets "
        f"(0 to {human_bytes(end)}), darker = more hits, over the load waves."
    )
    return f'<p class="note">{note}</p>' + strip(spans, bands, "pack-map", "pack order map")


def _layouts(spec: dict[str, Any], evaluation: dict[str, Any] | None) -> str:
    layout = spec.get("layout") or {}
    parts = ["<h2>Layout comparison</h2>"]
    if evaluation and evaluation.get("strategies"):
        chosen = evaluation.get("chosen")
        scores = {
            n: {
                "extents_mean": s["test_extents_per_request_mean"],
                "hot_hit_ratio": s["test_hot_hit_ratio"],
            }
            for n, s in evaluation["strategies"].items()
        }
        # The means are over the test requests that touch a key the training window saw.
        scored = evaluation.get("requests_test_scored", evaluation.get("requests_test"))
        parts.append(
            f'<p class="note">Judged on the test window ({_int(scored, "requests_test_scored"):,} '
            "requests the layouts never saw).</p>"
        )
        parts.append(_score_charts(scores, chosen))
    elif layout.get("tuner"):
        tuner = layout["tuner"]
        fit = _int(tuner.get("fit_accesses"), "layout.tuner.fit_accesses")
        held = _int(tuner.get("holdout_accesses"), "layout.tuner.holdout_accesses")
        if tuner.get("method") == "in-sample":
            how = f"in-sample: learned and scored on all {fit:,} accesses"
        else:
            how = f"{escape(tuner.get('method'))}: learned on {fit:,} accesses, scored on the next {held:,}"
        parts.append(
            f'<p class="note">Tuner scores ({how}); chosen: <b>'
            f"{escape(tuner.get('chosen'))}</b>.</p>"
        )
        parts.append(_score_charts(tuner["candidates"], tuner.get("chosen")))
    else:
        parts.append(
            '<p class="note">Exported with a fixed order; export with '
            "<code>--order auto</code> (or pass <code>--evaluation</code>) to compare "
            "layouts.</p>"
        )
    if layout.get("previous"):
        parts.append(_previous(layout["previous"]))
    return "".join(parts)


def _score_charts(scores: dict[str, dict[str, Any]], chosen: Any) -> str:
    if all(s["extents_mean"] is None for s in scores.values()):
        return '<p class="note">No request was scored, so there is nothing to compare.</p>'
    ext = [(str(n), _share(s["extents_mean"] or 0, "extents_mean"), n == chosen)
           for n, s in scores.items()]
    hot = [(str(n), _share(s["hot_hit_ratio"] or 0, "hot_hit_ratio"), n == chosen)
           for n, s in scores.items()]
    return (
        "<p>Extents per request (fewer is better; log scale)</p>"
        + hbars(ext, "layouts", "extents per request by layout", lambda v: f"{v:.2f}", log=True)
        + "<p>Hot-set hit ratio of the first wave (higher is better)</p>"
        + hbars(hot, "hot-hit", "hot-set hit ratio by layout", lambda v: f"{v:.1%}")
    )


def _previous(prev: dict[str, Any]) -> str:
    verdict = "kept" if prev.get("kept") else "replaced"
    field = "layout.previous."
    scores = [prev.get(f"{which}_extents_per_request") for which in ("previous", "new")]
    if None in scores:  # no held-out request to score them on
        compared = "no held-out request scored the two layouts"
    else:
        old, new = (_share(v, field + "extents_per_request") for v in scores)
        compared = f"{old:g} vs {new:g} extents per request"
    threshold = _share(prev.get("threshold"), field + "threshold")
    moved = _int(prev.get("bytes_moved_if_switched") or 0, field + "bytes_moved_if_switched")
    return (
        f'<p class="note">Previous layout ({escape(prev.get("strategy"))}) <b>{verdict}</b>: '
        f"{compared} (threshold {threshold:g}); switching would move {human_bytes(moved)}.</p>"
    )


def _waves_table(spec: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_int(w['wave'], 'waves[].wave')}</td>"
        f"<td>{_int(w.get('keys') or 0, 'waves[].keys'):,}</td>"
        f"<td>{human_bytes(_int(w.get('bytes') or 0, 'waves[].bytes'))}</td>"
        f"<td>{_share(w.get('hit_share') or 0, 'waves[].hit_share'):.1%}</td>"
        f"<td>{_int(w.get('extents') or 0, 'waves[].extents'):,}</td></tr>"
        for w in spec.get("waves", [])
    )
    if not rows:
        return ""
    return (
        "<h2>Waves</h2><table><tr><th>wave</th><th>keys</th><th>bytes</th><th>hit share</th>"
        f"<th>extents</th></tr>{rows}</table>"
    )
