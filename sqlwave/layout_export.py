"""The export's pack order when it needs more than usage: `--order auto`, co-access strategies,
and `--previous` (keep the last layout unless the new one is clearly better)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from sqlwave.checks import as_integer
from sqlwave.engine import fetch_dicts
from sqlwave.errors import InputError, ParameterError, did_you_mean
from sqlwave.layout import (
    LayoutParams,
    learn,
    pack,
    prepare_log,
    score,
    split,
    tune,
    window_view,
)
from sqlwave.session import PACK, Session
from sqlwave.strategies import LAYOUT_STRATEGIES
from sqlwave.wavespec import FORMAT, read_json, read_parquet

PREV = "sqlwave_layout_prev"


def export_pack(session: Session, opts: Any, align_bits: int,
                wave_bytes: list[int] | None = None) -> tuple[str, dict[str, Any]]:
    """The pack-order table for an export whose order needs more than usage (or keeps a
    previous layout), and the WaveSpec's `layout` section. Plain usage orders are packed by
    sqlwave/export.py itself, without importing this module. `wave_bytes`: budgets chosen for
    this export (--wave-bytes auto), for the hotness waves, instead of opts.wave_bytes."""
    if opts.order != "auto" and opts.order not in LAYOUT_STRATEGIES:
        raise ParameterError(
            f"unknown pack order {opts.order!r}; choose auto or one of "
            f"{', '.join(LAYOUT_STRATEGIES)}." + did_you_mean(opts.order, LAYOUT_STRATEGIES)
        )
    params = _params(session, opts, align_bits, wave_bytes)
    # Read and checked before any work: a previous layout this export cannot keep fails fast.
    prev = load_previous(opts.previous, session.log.key_type, params.align) if opts.previous else None
    log = prepare_log(session, remap=False, window=params.window)
    info: dict[str, Any] = {"order": opts.order}
    strategy = opts.order
    if opts.order == "auto":
        tuned = tune(session, log, params)
        strategy, info["tuner"] = tuned["chosen"], tuned
        if "page_bits" in tuned:
            # The tuner chose the page size too: extents are counted at it from here on.
            opts.page_bits = params.page_bits = tuned["page_bits"]
    features, _ = learn(session, log, "full", params)
    pack(session, features, strategy, params, PACK)
    info["strategy"] = strategy
    if prev is not None:
        info["previous"] = previous = keep_previous(session, log, strategy, params, opts, prev)
        if previous["kept"] and previous["strategy"]:
            # The layout in force is the previous one (new keys after it): name its strategy.
            info["strategy"] = previous["strategy"]
    return PACK, info


def _params(session: Session, opts: Any, align_bits: int,
            wave_bytes: list[int] | None) -> LayoutParams:
    budgets = wave_bytes or (opts.wave_bytes if isinstance(opts.wave_bytes, list) else None)
    chars = opts.prefix_len or 4
    if session.log.key_type == "bytes":
        chars *= 2
    params = LayoutParams(
        page_bits=opts.page_bits,
        align_bits=align_bits,
        wave_bytes=budgets,
        cohort_mode="delimiter" if opts.delimiter is not None else "prefix",
        prefix_len=chars,
        delimiter=opts.delimiter or "/",
        depth=opts.depth,
        window=opts.request_window,
        page_bits_options=tuple(opts.page_bits_options or ()),
        io_cost_bytes=opts.io_cost_bytes,
    )
    params.check()
    return params


def keep_previous(
    session: Session, log: str, strategy: str, params: LayoutParams, opts: Any,
    prev: dict[str, Any],
) -> dict[str, Any]:
    """Score the previous layout (load_previous) against the new one on the last part of the
    log (the new one learned on the part before it); switch only when the new one has fewer
    extents per request by more than the threshold. Replaces the PACK table with the kept
    layout otherwise."""
    session.con.register(PREV, prev["table"])
    lo, cut, hi, _, _ = split(session, log, 1 - params.holdout)
    fit = window_view(session, log, "sqlwave_layout_prev_fit", lo, cut)
    held = window_view(session, log, "sqlwave_layout_prev_held", cut, hi)
    features, bounds = learn(session, fit, "prev", params)
    new_fit = pack(session, features, strategy, params, "sqlwave_layout_prev_new")
    kept_fit = keep(session, new_fit, params, prev["end"], "sqlwave_layout_prev_kept")
    new_score = score(session, new_fit, held, params, bounds[0])["extents_mean"]
    old_score = score(session, kept_fit, held, params, bounds[0])["extents_mean"]
    kept_full = keep(session, PACK, params, prev["end"], "sqlwave_layout_prev_kept_full")
    moved = _moved(session, PACK)
    # Switching that moves no byte of the previous layout (it shares no key with this log, or
    # the new layout leaves them where they were) loses nothing, where keeping would push keys
    # past the old buffer's end; when the two layouts are one, the old one is kept.
    free = moved == 0 and _differ(session, PACK, kept_full)
    switch = free or _better(new_score, old_score, opts.previous_threshold)
    if not switch:
        session.con.execute(f"CREATE OR REPLACE TEMP TABLE {PACK} AS SELECT * FROM {kept_full}")
    return {
        "path": str(opts.previous),
        "strategy": prev["strategy"],
        "keys": prev["keys"],
        "complete": prev["complete"],
        "threshold": opts.previous_threshold,
        "previous_extents_per_request": old_score,
        "new_extents_per_request": new_score,
        "kept": not switch,
        "bytes_moved": moved if switch else _moved(session, kept_full),
        "bytes_moved_if_switched": moved,
    }


def _better(new: float | None, old: float | None, threshold: float) -> bool:
    """>>> _better(1.0, 2.0, 0.05), _better(1.98, 2.0, 0.05), _better(None, 2.0, 0.05)
    (True, False, False)
    """
    if new is None:
        return False
    if old is None:
        return True
    return new < old * (1 - threshold)


def keep(session: Session, new: str, params: LayoutParams, prev_end: int, table: str) -> str:
    session.create(table, "layout_keep", new=new, prev=PREV, align=str(params.align),
                   prev_end=str(int(prev_end)))
    return table


def _differ(session: Session, a: str, b: str) -> bool:
    """Whether two pack orders of the same keys place any key at another offset."""
    row = fetch_dicts(session.con, f"SELECT CAST(count(*) AS BIGINT) AS n FROM {a} AS x JOIN {b} "
                                   "AS y ON y.key = x.key WHERE x.byte_offset <> y.byte_offset")[0]
    return bool(row["n"])


def _moved(session: Session, layout: str) -> int:
    """Aligned bytes of the previous layout's keys that `layout` places elsewhere (keys new to
    this log are loaded either way: they are not moves)."""
    row = fetch_dicts(session.con, f"SELECT CAST(COALESCE(sum(n.aligned_size), 0) AS BIGINT) AS m "
                                   f"FROM {layout} AS n JOIN {PREV} AS p ON p.key = n.key "
                                   "WHERE n.byte_offset <> p.prev_offset")[0]
    return int(row["m"])


def load_previous(path: str, key_type: str, align: int) -> dict[str, Any]:
    """The previous layout's offsets: from its pack-order sidecar when there is one, else from
    the keys the WaveSpec inlines (a warning says when that is not all of them), and where its
    buffer ended (new keys go after that, never into a slot an unlisted key may hold)."""
    fix = "pass a file written by `sqlwave export`"
    spec = read_json(path, "the previous WaveSpec", fix)
    if isinstance(spec, dict) and spec.get("format") != FORMAT:
        raise InputError(f"the previous WaveSpec {path!r} has format "
                         f"{str(spec.get('format'))[:60]!r}, not {FORMAT!r}; {fix}")
    section = spec.get("pack_order") if isinstance(spec, dict) else None
    if not isinstance(section, dict) or not _well_formed(spec, section):
        raise InputError(f"the previous WaveSpec {path!r} has no well-formed pack order; {fix}")
    if spec.get("source", {}).get("key_type", key_type) != key_type:
        raise InputError(
            f"the previous WaveSpec has {spec['source']['key_type']} keys, this log has "
            f"{key_type} keys; they cannot share a layout"
        )
    old_align = section["align_bytes"]
    if old_align != align:
        # Kept offsets would break the new alignment, and every key would move anyway.
        hint = (f"give --align-bits {old_align.bit_length() - 1} to keep it"
                if old_align & (old_align - 1) == 0 else "it cannot be kept")
        raise ParameterError(f"the previous layout is aligned to {old_align} bytes, this export "
                             f"to {align}; {hint}, or drop --previous")
    rows, complete = _previous_rows(path, spec, section)
    _check_rows(path, rows, key_type, align)
    # Where the previous buffer ends: its last wave's end covers every key, listed or not.
    rows_end = max((int(r["byte_offset"]) + int(r["aligned_size"]) for r in rows), default=0)
    waves_end = max((int(w["end_offset"]) for w in spec.get("waves", [])), default=0)
    if complete and rows and waves_end > rows_end:
        # Every key is listed, so the last wave ends where the last object does.
        raise InputError(f"the previous WaveSpec {path!r} is not a layout sqlwave wrote: its "
                         "waves end past its last object; pass a file written by `sqlwave export`")
    if not complete:
        print(
            f"Warning: the previous WaveSpec inlines {len(rows)} of {section.get('keys')} keys and "
            "its own sidecar is not there; the others are placed as new keys, after the previous "
            "buffer's end (export with --pack-order-out to keep them all)",
            file=sys.stderr,
        )
    import pyarrow as pa  # only with --previous: plain exports never load pyarrow

    kind = pa.int64() if key_type == "integer" else pa.string()
    table = pa.table(
        {
            "key": pa.array([r["key"] for r in rows], kind),
            "prev_offset": pa.array([r["byte_offset"] for r in rows], pa.int64()),
            "prev_aligned": pa.array([r["aligned_size"] for r in rows], pa.int64()),
        }
    )
    return {
        "table": table,
        "strategy": section.get("strategy"),
        "end": max(rows_end, waves_end),
        "keys": len(rows),
        "complete": complete,
    }


def _check_rows(path: str, rows: list[dict[str, Any]], key_type: str, align: int) -> None:
    """A layout sqlwave could have written: keys of this log's kind, each once, at aligned
    offsets, no two objects overlapping. A hand-edited file must give an error, not a layout
    with a key twice or two objects in one place."""
    def refuse(what: str) -> NoReturn:
        raise InputError(f"the previous WaveSpec {path!r} is not a layout sqlwave wrote: {what}; "
                         "pass a file written by `sqlwave export`")

    seen: set[Any] = set()
    spans = []
    for r in rows:
        key, offset, size = r["key"], as_integer(r["byte_offset"]), as_integer(r["aligned_size"])
        if key_type == "integer":
            key = as_integer(key)
            if key is None or not -(2**63) <= key < 2**63:
                refuse(f"key {str(r['key'])[:40]!r} is not an integer key")
        elif not isinstance(key, str):
            refuse(f"key {str(key)[:40]!r} is not text")
        if key in seen:
            refuse(f"key {str(key)[:40]!r} is listed twice")
        seen.add(key)
        if offset is None or size is None or offset < 0 or size < 0 or offset + size > 2**62:
            refuse(f"key {str(key)[:40]!r} has offset {r['byte_offset']!r} and size "
                   f"{r['aligned_size']!r}")
        if offset % align or size % align:
            refuse(f"key {str(key)[:40]!r} is not aligned to {align} bytes")
        spans.append((offset, offset + size, key))
    spans.sort(key=lambda span: (span[0], span[1]))
    for (_, end, a), (start, _, b) in zip(spans, spans[1:], strict=False):
        if start < end:
            refuse(f"keys {str(a)[:40]!r} and {str(b)[:40]!r} overlap")


def _well_formed(spec: dict[str, Any], section: dict[str, Any]) -> bool:
    """The fields a kept layout is built from, with their types (a hand-edited file must give an
    error, not a wrong layout or a traceback)."""
    entry_ok = all(isinstance(e, dict) and "key" in e and _whole(e.get("byte_offset"))
                   and _whole(e.get("aligned_size")) and _whole(e.get("rank"))
                   for e in section.get("inline", []) or [])
    waves = spec.get("waves", [])
    waves_ok = isinstance(waves, list) and all(
        isinstance(w, dict) and all(_whole(w.get(c)) for c in WAVE_FIELDS) for w in waves)
    return (isinstance(section.get("inline", []), list) and entry_ok and waves_ok
            and isinstance(section.get("sidecar"), (str, type(None)))
            and _whole(section.get("keys")) and _whole(section.get("align_bytes"))
            and section["align_bytes"] > 0 and isinstance(spec.get("source", {}), dict))


def _whole(value: Any) -> bool:
    """A count, offset or size as sqlwave writes them: a whole number from 0 to 2^62."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2**62


WAVE_FIELDS = ("keys", "bytes", "hits", "first_rank", "last_rank", "start_offset", "end_offset")


def _previous_rows(path: str, spec: dict[str, Any],
                   section: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The sidecar's rows when it is found and belongs to this WaveSpec, else the inline ones.

    The sidecar is named relative to the WaveSpec's folder (older WaveSpecs: to the folder the
    export ran in; failing both, the WaveSpec's folder and the file name). One that is not the
    WaveSpec's own (a later export of the same name overwrote it) is passed over with a warning:
    the inline keys are then all that is known, which is safe."""
    sidecar = section.get("sidecar")
    inline = list(section.get("inline", []))
    if sidecar:
        # Named relative to the folder the WaveSpec was written to: the real one when `path`
        # is a link to it (latest.json -> runs/day0/ws.json), then the link's own.
        here, real = Path(path).parent, Path(os.path.realpath(path)).parent
        wrong: list[str] = []
        names = [real / sidecar, here / sidecar, Path(sidecar), real / Path(sidecar).name,
                 here / Path(sidecar).name]
        for candidate in dict.fromkeys(names):
            if not candidate.is_file():
                continue
            try:
                rows = read_parquet(candidate, "the previous pack order", "",
                                    SIDECAR_COLUMNS).to_pylist()
            except InputError as e:
                wrong.append(f"{str(candidate)!r} ({str(e).rstrip('; ')})")
                continue
            reason = _mismatch(rows, spec, section, inline)
            if reason is None:
                return rows, True
            wrong.append(f"{str(candidate)!r} ({reason})")
        if wrong:
            print(f"Warning: passed over {' and '.join(wrong)}: not the pack order the previous "
                  "WaveSpec's export wrote", file=sys.stderr)
    return inline, not section.get("truncated", False)


SIDECAR_COLUMNS = ["rank", "key", "byte_offset", "aligned_size", "hits"]


def _mismatch(rows: list[dict[str, Any]], spec: dict[str, Any], section: dict[str, Any],
              inline: list[dict[str, Any]]) -> str | None:
    """Why a sidecar's rows are not this WaveSpec's pack order (None when they are): its row
    count, its head against the inline entries, and each wave's totals against its rows."""
    if len(rows) != section["keys"]:
        return f"{len(rows)} rows for {section['keys']} keys"
    if not all(_whole(r[c]) for r in rows for c in ("rank", "byte_offset", "aligned_size", "hits")):
        return "a NULL or negative number"
    for entry, row in zip(inline, rows, strict=False):
        if any(entry[c] != row[c] for c in ("rank", "key", "byte_offset", "aligned_size")):
            return f"rank {entry['rank']} differs"
    for wave in spec.get("waves", []):
        part = rows[wave["first_rank"] - 1:wave["last_rank"]]
        totals = (len(part), sum(r["aligned_size"] for r in part), sum(r["hits"] for r in part),
                  min((r["byte_offset"] for r in part), default=None),
                  max((r["byte_offset"] + r["aligned_size"] for r in part), default=None))
        if totals != tuple(wave[c] for c in ("keys", "bytes", "hits", "start_offset",
                                            "end_offset")):
            return f"wave {wave.get('wave')} differs"
    return None
