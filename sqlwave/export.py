"""export_wave_spec: an access log in, a WaveSpec dict out."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Any

from sqlwave import __version__
from sqlwave.engine import connect, fetch_dicts
from sqlwave.errors import InputError, ParameterError
from sqlwave.export_options import ExportOptions
from sqlwave.log import BoundLog, bind_log
from sqlwave.progress import Progress
from sqlwave.reuse import ReuseHistogram
from sqlwave.session import Session
from sqlwave.strategies import PACK_STRATEGIES, uses_positions
from sqlwave.wavespec import FORMAT, fingerprint, key_value

DEFAULT_DELIMITERS = ("/", ".", ":", "|")


def export_wave_spec(logs: Any, key_col: str = "key", size_col: str | None = None,
                     **options: Any) -> dict[str, Any]:
    """Analyse an access log and return a WaveSpec (a JSON-ready dict).

    `logs` is a Parquet path, glob, folder or list of them, a `pyarrow.Table` or a DuckDB
    relation. Options are the fields of `ExportOptions`.

    >>> import pyarrow as pa
    >>> log = pa.table({"key": ["a.x", "a.y", "a.x", "b.z"], "size": [10, 20, 10, 5]})
    >>> spec = export_wave_spec(log, "key", "size", delimiter=".", depth=1)
    >>> spec["format"], spec["metrics"]["rows"], spec["cohorts"][0]["cohort"]
    ('sqlwave.wavespec/1', 4, 'a')
    """
    spec, _ = build_wave_spec(logs, ExportOptions(key_col=key_col, size_col=size_col, **options))
    return spec


def build_wave_spec(logs: Any, opts: ExportOptions, *, pack_order_out: str | None = None,
                    progress: Progress | None = None) -> tuple[dict[str, Any], Session]:
    """The export itself; also returns the session so callers can write the sidecar."""
    opts.check()
    con = connect(**opts.engine)
    log = bind_log(con, logs, opts.key_col, opts.size_col, opts.request_col, opts.order_col)
    return build_on(con, log, opts, pack_order_out=pack_order_out, progress=progress)


def build_on(con: Any, log: BoundLog, opts: ExportOptions, *, pack_order_out: str | None = None,
             progress: Progress | None = None) -> tuple[dict[str, Any], Session]:
    """The export over an already bound log, on a DuckDB connection or any connection that
    offers the same calls (sqlwave.warehouse.EngineConnection: Spark, PostgreSQL)."""
    opts.check()
    if opts.key_scale != 1 and log.key_type != "integer":
        # Said, not ignored: the scale turns block numbers into byte addresses, nothing else.
        raise ParameterError(f"--key-scale multiplies integer keys (block numbers into byte "
                             f"addresses), but column {opts.key_col!r} holds {log.key_type} keys; "
                             "drop --key-scale (key_scale= in Python)")
    progress = progress or Progress(enabled=False)
    # Nothing in the WaveSpec reads usage.requests (the costliest part of a 10M-row scan); a
    # section that does must turn this back on. Positions only for orders that sort by them.
    positions = uses_positions(opts.order) or opts.previous is not None
    session = Session(con, log, count_requests=False, positions=positions, footer_sizes=True)
    with progress.stage("scanning the log", con):
        session.usage()
    metrics = _checked_metrics(session, opts)
    align_bits = opts.page_bits if opts.align_bits is None else opts.align_bits
    if opts.align_bits is None and opts.page_bits_options:
        # One alignment for every page size the tuner tries: the smallest, so each can share it.
        align_bits = min(opts.page_bits_options)
    # Started now, it runs beside the sections below (sqlwave/reuse.py).
    reuse = _start_reuse(session, opts, metrics["rows"] - metrics["null_keys"],
                         metrics["null_keys"] > 0)
    try:
        cohorts, pack, layout, budgets, wave_rows, extents = _sections(session, opts, align_bits,
                                                                       progress)
    except BaseException:
        reuse.cancel()
        raise
    with progress.stage("reuse times", reuse.busy_connection or con):
        metrics["reuse_time_histogram"] = reuse.result()
    if opts.capacity:
        # The export's own pack order is already hot-first unless a layout replaced it.
        hot = pack if opts.order == "hot" and layout is None else None
        metrics["hot_hit_share_at_capacity"] = _hot_share(session, align_bits, opts.capacity, hot)
    spec: dict[str, Any] = {
        "format": FORMAT,
        "generator": {"name": "sqlwave", "version": __version__},
        "source": _source(log),
        "parameters": _parameters(opts, align_bits, budgets, metrics),
        "metrics": metrics,
        "cohorts": cohorts,
        "pack_order": _pack_section(session, pack, opts, align_bits, pack_order_out),
        "waves": wave_rows,
        "extents": extents,
    }
    if layout is not None:
        spec["pack_order"]["strategy"] = layout["strategy"]
        spec["layout"] = layout
    _warn_overlapping_addresses(log, metrics, extents)
    return spec, session


def _warn_overlapping_addresses(log: BoundLog, metrics: dict[str, Any],
                                extents: dict[str, Any]) -> None:
    """Objects that do not overlap fit in the pages they cover; integer keys whose objects hold
    far more bytes than that are block numbers read as byte addresses (--key-scale missing)."""
    covered = extents["pages"] << extents["page_bits"]
    if log.key_type == "integer" and log.has_size and metrics["unique_bytes"] > 2 * covered:
        print(f"Warning: the objects hold {metrics['unique_bytes'] / max(covered, 1):.0f}x the "
              "bytes of the pages their addresses cover, so most of them overlap; if the keys "
              "are block numbers, give --key-scale (bytes per key unit)", file=sys.stderr)


def _sections(session: Session, opts: ExportOptions, align_bits: int,
              progress: Progress) -> tuple[Any, ...]:
    """Cohorts, pack order, waves and extents."""
    con = session.con
    with progress.stage("cohorts", con):
        cohorts = _cohorts(session, opts)
    with progress.stage("pack order and waves", con):
        # Budgets at the curve's knees come first: the layout's hotness waves use them too.
        auto = _budgets(session, opts, align_bits) if opts.wave_bytes_auto else None
        if opts.order in PACK_STRATEGIES and opts.previous is None:
            pack, layout = session.pack(opts.order, align_bits), None
        else:  # the layout code (and its imports) only when a layout is tuned or kept
            from sqlwave.layout_export import export_pack

            pack, layout = export_pack(session, opts, align_bits, auto[0] if auto else None)
        budgets, expected = auto or _budgets(session, opts, align_bits, pack)
        waves = session.waves(pack, budgets)
        wave_rows = session.wave_summary(waves)
    with progress.stage("extents", con):
        table, per_wave = session.wave_extents(waves, opts.page_bits, opts.key_scale)
        extents = _extent_section(session, table, opts)
    for w in wave_rows:
        w["extents"] = per_wave.get(w["wave"], 0)
        if w["wave"] < len(expected):
            w["expected_hit_ratio"] = expected[w["wave"]]
    return cohorts, pack, layout, budgets, wave_rows, extents


def _checked_metrics(session: Session, opts: ExportOptions) -> dict[str, Any]:
    metrics = session.metrics(opts.capacity)
    if metrics["rows"] == 0:
        raise InputError("the log is empty (0 rows); nothing to export")
    if metrics["rows"] == metrics["null_keys"]:
        raise InputError(f"every row has a NULL key in column {opts.key_col!r}; check --key "
                         "(key_col= in Python)")
    if metrics["null_keys"]:
        found = f"{metrics['null_keys']} of {metrics['rows']} rows have a NULL key"
        if opts.null_keys == "error":
            raise InputError(f"{found} (--null-keys error); drop or fill them, or pass "
                             "--null-keys report (null_keys='report' in Python) to count them "
                             "and leave them out")
        print(f"Warning: {found}; they are counted in metrics.null_keys and left out of cohorts, "
              "pack order and extents", file=sys.stderr)
    session.check_sizes()
    return metrics


def _cohorts(session: Session, opts: ExportOptions) -> list[dict[str, Any]]:
    delimiter, prefix_len = opts.delimiter, opts.prefix_len
    if delimiter is None and prefix_len is None:
        delimiter = _guess_delimiter(session)
        if delimiter is None:
            prefix_len = 4
        opts.delimiter, opts.prefix_len = delimiter, prefix_len
    # Plain rows, not Arrow: an export over Parquet then never loads pyarrow.
    return fetch_dicts(session.con, session.cohorts_sql(
        prefix_len=prefix_len, delimiter=delimiter, depth=opts.depth, rank_by=opts.rank_by,
        top_k=opts.top_k))


def _guess_delimiter(session: Session, keys: str | None = None) -> str | None:
    """The separator that most keys contain, for text keys; None for integers and bytes.
    `keys`: a relation of the keys to look at (default: every key of the log)."""
    if session.log.key_type != "string":
        return None
    cols = ", ".join(
        f"CAST(sum(CASE WHEN strpos(key, '{d}') > 0 THEN 1 ELSE 0 END) AS BIGINT) AS d{i}"
        for i, d in enumerate(DEFAULT_DELIMITERS)
    )
    row = fetch_dicts(session.con, f"SELECT {cols} FROM {keys or session.usage()} "
                                   "WHERE key IS NOT NULL")[0]
    counts = [int(row[f"d{i}"] or 0) for i in range(len(DEFAULT_DELIMITERS))]
    best = max(range(len(counts)), key=lambda i: (counts[i], -i))
    return DEFAULT_DELIMITERS[best] if counts[best] > 0 else None


def _budgets(session: Session, opts: ExportOptions, align_bits: int,
             pack: str | None = None) -> tuple[list[int], list[float]]:
    """Wave budgets, and the LRU hit ratio expected at each boundary when they come from the MRC.
    The defaults are shares of the packed bytes, so they need the `pack` table."""
    if opts.wave_bytes_auto:
        from sqlwave.mrc import auto_wave_bytes

        return auto_wave_bytes(session, align=2**align_bits)
    if opts.wave_bytes is not None:
        return opts.wave_bytes, []
    assert pack is not None
    total = fetch_dicts(session.con, "SELECT CAST(COALESCE(sum(aligned_size), 0) AS BIGINT) "
                                     f"AS t FROM {pack}")[0]["t"]
    return default_wave_bytes(int(total)), []


def default_wave_bytes(total: int) -> list[int]:
    """Without budgets: a first wave of 5 % of the packed bytes, a second up to 25 %.

    >>> default_wave_bytes(1000)
    [50, 200]
    """
    first = max(1, total // 20)
    return [first, max(1, total // 4 - first)]


def auto_sample_rate(accesses: int) -> float:
    """Exact up to 2M accesses; above, a key sample of rate 200K / accesses (at least 1 %),
    stratified by hits (sqlwave/reuse.py): on 10M accesses the histogram pass then reads about
    a twentieth of the accesses, at a total-variation distance of about 0.01 from exact.

    >>> auto_sample_rate(1000), auto_sample_rate(10_000_000), auto_sample_rate(10**9)
    (1.0, 0.02, 0.01)
    """
    if accesses <= 2_000_000:
        return 1.0
    return max(0.01, round(200_000 / accesses, 3))


def _start_reuse(session: Session, opts: ExportOptions, accesses: int,
                 null_keys: bool) -> ReuseHistogram:
    rate = opts.reuse_sample if opts.reuse_sample is not None else auto_sample_rate(accesses)
    return ReuseHistogram(session.con, session.usage(), rate, session.log.views,
                          session.h60_unique(), null_keys)


def _hot_share(session: Session, align_bits: int, capacity: int, pack: str | None) -> float | None:
    pack = pack or session.pack("hot", align_bits, table="sqlwave_pack_hot")
    waves = session.waves(pack, [capacity], table="sqlwave_waves_hot")
    first = [w for w in session.wave_summary(waves) if w["wave"] == 0]
    return float(first[0]["hit_share"]) if first else 0.0


def _source(log: Any) -> dict[str, Any]:
    src = log.source
    return {
        "kind": src.kind,
        "files": [{"path": f, "rows": r, "bytes": b}
                  for f, r, b in zip(src.files, src.file_rows, src.file_bytes, strict=False)],
        "rows": sum(src.file_rows),
        "fingerprint": fingerprint(src.files),
        "key_type": log.key_type,
        "columns": src.columns,
    }


def _parameters(opts: ExportOptions, align_bits: int, budgets: list[int],
                metrics: dict[str, Any]) -> dict[str, Any]:
    params = asdict(opts)
    params.pop("engine")
    params.pop("max_inline")
    params["align_bits"] = align_bits
    params["wave_bytes"] = budgets
    params["cohort_mode"] = "delimiter" if opts.delimiter is not None else "prefix"
    params["reuse_sample"] = metrics["reuse_time_histogram"]["sample_rate"]
    return params


def _pack_section(session: Session, pack: str, opts: ExportOptions, align_bits: int,
                  sidecar: str | None) -> dict[str, Any]:
    head = fetch_dicts(
        session.con,
        f"SELECT rank, key, size, aligned_size, byte_offset, hits, bytes FROM {pack} "
        f"ORDER BY rank ASC LIMIT {opts.max_inline}",
    )
    stats = fetch_dicts(session.con, f"SELECT CAST(count(*) AS BIGINT) AS n, "
                        f"CAST(COALESCE(sum(aligned_size), 0) AS BIGINT) AS b, "
                        f"CAST(COALESCE(max(byte_offset + aligned_size), 0) AS BIGINT) AS e "
                        f"FROM {pack}")[0]
    for entry in head:
        entry["key"] = key_value(entry["key"], session.log.key_type)
    return {
        "strategy": opts.order,
        "align_bytes": 2**align_bits,
        "keys": int(stats["n"]),
        "total_bytes": int(stats["b"]),
        # What a loader allocates: a kept --previous layout leaves the slots of departed keys.
        "buffer_bytes": int(stats["e"]),
        "inline": head,
        "truncated": int(stats["n"]) > len(head),
        "sidecar": sidecar,
    }


def _extent_section(session: Session, table: str, opts: ExportOptions) -> dict[str, Any]:
    stats = fetch_dicts(session.con, f"SELECT CAST(count(*) AS BIGINT) AS n, "
                        f"CAST(COALESCE(sum(pages), 0) AS BIGINT) AS p FROM {table}")[0]
    top = fetch_dicts(session.con, f"SELECT * FROM {table} ORDER BY hits DESC, first_page ASC "
                      f"LIMIT {opts.max_inline}")
    return {
        "page_bits": opts.page_bits,
        "address": "key" if session.log.key_type == "integer" else "pack_offset",
        "key_scale": opts.key_scale,
        "count": int(stats["n"]),
        "pages": int(stats["p"]),
        "inline": top,
        "truncated": int(stats["n"]) > len(top),
    }
