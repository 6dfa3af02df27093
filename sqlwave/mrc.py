"""Miss-ratio curves of an LRU cache from an access log: exact, SHARDS-sampled, or AET-modelled.

`exact` computes every access's LRU stack distance with DuckDB DISTINCT window aggregates
(`macros/stack_distance.sql`); `shards` does the same on hash-sampled keys and rescales
(Waldspurger et al., FAST'15, with the SHARDS-adj correction), and measures the small sizes that
a key sample cannot resolve on time windows instead (`sqlwave/mrc_head.py`); `aet` models the
curve from a fine reuse-time histogram (Hu et al., ATC'16), one sort of the log and no
per-access state.
"""

from __future__ import annotations

from typing import Any

import duckdb

from sqlwave.checks import as_integer, check_bits, fraction
from sqlwave.engine import connect, fetch_dicts
from sqlwave.errors import InputError, ParameterError, did_you_mean
from sqlwave.log import LOG_VIEW, bind_log
from sqlwave.macros import helper, render
from sqlwave.mrc_aet import ReuseBin, aet_points, working_set
from sqlwave.mrc_curve import curve_points, knees, size_grid, splice
from sqlwave.mrc_head import head_points, windows

METHODS = ("exact", "shards", "aet")
UNITS = ("objects", "bytes")
DEFAULT_RATE = 0.01
MODULUS = 1 << 24
# A key is sampled when its hash mod MODULUS falls under round(rate * MODULUS); below this rate
# that rounding moves the rate by more than 1.3 %, and every distance is scaled by it.
MIN_RATE = 1e-6
SAMPLE = "sqlwave_mrc_sample"
AET_MEMORY_LIMIT = "320MB"
CHUNK_MIN = 1 << 18


def miss_ratio_curve(logs: Any, method: str = "aet", unit: str = "objects", key_col: str = "key",
                     size_col: str | None = None, request_col: str | None = None,
                     rate: float | None = None, prefix: bool = False,
                     sizes: list[int] | None = None,
                     engine: dict[str, Any] | None = None,
                     order_col: str | None = None,
                     align_bits: int | None = None) -> dict[str, Any]:
    """The LRU miss-ratio curve of an access log, as the `sqlwave mrc` JSON document.

    `prefix` (exact only, needs `request_col`) gives the prefix hit curve of KV-block requests:
    a request hits only the longest prefix of its blocks found in the cache. `order_col` (a
    timestamp, say) orders the accesses when the files are not in access order. `align_bits`
    (bytes only) rounds every size up to 2^align_bits, as a pack order with that alignment
    stores it, so the curve's sizes are the WaveSpec's wave offsets.

    >>> import pyarrow as pa
    >>> log = pa.table({"key": [1, 2, 1, 3, 1, 2] * 20})
    >>> curve = miss_ratio_curve(log, method="exact")
    >>> curve["method"], curve["unit"], [p["miss_ratio"] for p in curve["points"]]
    ('exact', 'objects', [1.0, 0.35, 0.025])
    """
    _check(method, unit, rate, prefix, request_col, size_col)
    if sizes is not None:
        sizes = check_sizes(sizes)
    if align_bits is not None:
        check_bits("align_bits", align_bits)
        if unit != "bytes":
            raise ParameterError("an alignment (--align-bits) rounds object sizes: it goes with "
                                 "--unit bytes")
    engine = dict(engine or {})
    if method == "aet" and not engine.get("memory_limit"):
        # The reuse-time sort is AET's only big operator; bounded, it spills instead of growing
        # (a 10M-access log then peaks near 450 MB in all, at a small cost in time).
        engine["memory_limit"] = AET_MEMORY_LIMIT
    con = connect(**engine)
    con.execute("SET enable_progress_bar = false")
    bind_log(con, logs, key_col, size_col, request_col, order_col)
    return curve_of(con, method, unit, rate=rate, prefix=prefix, sizes=sizes,
                    align=2 ** int(align_bits or 0))


def _check(method: str, unit: str, rate: float | None, prefix: bool, request_col: str | None,
           size_col: str | None) -> None:
    if method not in METHODS:
        raise ParameterError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}."
                             + did_you_mean(method, METHODS))
    if unit not in UNITS:
        raise ParameterError(f"unknown unit {unit!r}; choose objects or bytes")
    if unit == "bytes" and size_col is None:
        raise ParameterError("--unit bytes needs object sizes: pass --size COLUMN")
    if rate is not None and method != "shards":
        raise ParameterError(f"a sample rate (--rate) goes with --method shards only, not {method}")
    if rate is not None:
        fraction("the SHARDS sample rate (--rate)", rate, 0, 1, low_open=True)
        if rate < MIN_RATE:
            raise ParameterError(f"the SHARDS sample rate (--rate) must be at least {MIN_RATE:g} "
                                 f"(keys are sampled by a 24-bit hash), got {rate!r}")
    if prefix and (method != "exact" or request_col is None):
        raise ParameterError("the prefix hit curve needs --method exact and --request-col")


def check_sizes(sizes: Any) -> list[int]:
    """Cache sizes to evaluate at: ascending whole numbers of at least 1, each once (the curve's
    points are paired with them in that order).

    >>> check_sizes([3, 1])
    Traceback (most recent call last):
    ...
    sqlwave.errors.ParameterError: sizes must be ascending whole numbers of at least 1, each once; got [3, 1]
    """
    values = [as_integer(v) for v in sizes] if isinstance(sizes, (list, tuple)) else [None]
    whole = [v for v in values if v is not None]
    if not whole or len(whole) < len(values) or whole != sorted(set(whole)) or whole[0] < 1:
        raise ParameterError("sizes must be ascending whole numbers of at least 1, each once; "
                             f"got {str(sizes)[:80]}")
    return whole


def curve_of(con: duckdb.DuckDBPyConnection, method: str, unit: str, *, rate: float | None = None,
             prefix: bool = False, sizes: list[int] | None = None, align: int = 1,
             ) -> dict[str, Any]:
    """The curve over the log already bound on `con` as `sqlwave_log`; with `align` > 1, sizes
    are rounded up to it (as a pack order stores them)."""
    src, totals = _accesses(con, align)
    if method == "aet":
        sql = render("mrc_reuse", src=src, rows=totals["accesses"])
        bins = [ReuseBin(**row) for row in fetch_dicts(con, sql)]
        grid = sizes or size_grid(working_set(bins, unit))
        points, sample_rate, head = aet_points(bins, unit, grid), None, None
    else:
        sample_rate = (rate or DEFAULT_RATE) if method == "shards" else 1.0
        points, head = _stack_points(con, src, totals, unit, sample_rate, prefix, sizes)
    doc: dict[str, Any] = {"method": method, "unit": unit,
                           "curve": "prefix_hits" if prefix else "lru", "sample_rate": sample_rate}
    if align > 1:
        doc["align"] = align
    if head is not None:
        doc["head"] = head
    return {**doc, "accesses": totals["accesses"],
            "working_set": points[-1]["size"] if not sizes else None, "points": points}


def _accesses(con: duckdb.DuckDBPyConnection, align: int = 1) -> tuple[str, dict[str, int]]:
    """The non-NULL accesses with a dense `pos`, and their totals; fails on bad sizes."""
    log, sized = LOG_VIEW, "size"
    if align > 1:
        sized = helper("align_up", "size", str(align))
        log = f"(SELECT key, {sized} AS size, request, pos FROM {LOG_VIEW})"
    # Checked on the sizes as given: aligning would turn a small negative size into 0.
    row = fetch_dicts(con, f"SELECT CAST(count(*) AS BIGINT) AS rows, CAST(count(key) AS BIGINT) "
                      "AS accesses, CAST(COALESCE(sum(CASE WHEN key IS NOT NULL THEN "
                      f"{sized} END), 0) AS BIGINT) AS bytes, CAST(count(key) - count(CASE WHEN "
                      "key IS NOT NULL THEN size END) AS BIGINT) AS null_sizes, CAST(count(CASE "
                      "WHEN key IS NOT NULL AND size < 0 THEN 1 END) AS BIGINT) AS negative "
                      f"FROM {LOG_VIEW}")[0]
    if row["rows"] == 0:
        raise InputError("the log is empty (0 rows); nothing to measure")
    if row["accesses"] == 0:
        raise InputError("the log has no accesses with a non-NULL key; check --key")
    if row["null_sizes"]:
        raise InputError(f"{row['null_sizes']} rows have a NULL size; fill them or leave out "
                         "the size column (--size)")
    if row["negative"]:
        raise InputError(f"{row['negative']} rows have a negative size; sizes are byte counts "
                         "and must be >= 0")
    if row["rows"] == row["accesses"]:
        return f"(SELECT key, size, request, pos FROM {log})", row
    # NULL keys are not accesses: renumber so reuse times and frames count real accesses only.
    return (f"(SELECT key, size, request, CAST(row_number() OVER (ORDER BY pos ASC) - 1 AS BIGINT) "
            f"AS pos FROM {log} WHERE key IS NOT NULL)"), row


def _stack_points(con: duckdb.DuckDBPyConnection, src: str, totals: dict[str, int], unit: str,
                  rate: float, prefix: bool, sizes: list[int] | None,
                  ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    log = src
    if rate < 1:
        # SHARDS spatial sampling: every access of a key whose hash falls under the rate. The
        # sample is small; storing it makes this the only full scan of the log (the head's
        # time windows read a few row groups).
        threshold = max(1, round(rate * MODULUS))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {SAMPLE} AS SELECT * FROM {src} "
                    f"WHERE hash(key) % {MODULUS} < {threshold}")
        src = SAMPLE
    seen = _sample_totals(con, src)
    if seen["n"] == 0:
        raise InputError(f"the key sample at rate {rate} holds no access; raise --rate")
    grid = sizes or size_grid((seen["w_bytes"] if unit == "bytes" else seen["keys"]) / rate)
    column = "byte_distance" if unit == "bytes" else "distance"
    # Streamed, never stored: the DISTINCT window already holds most of the memory.
    plan = _byte_plan(seen) if unit == "bytes" else {}
    sql = render("stack_distance", src=src, dense=rate >= 1, bytes=unit == "bytes", **plan)
    distances = f"({sql})"
    if prefix:
        hist_src = "(" + render("mrc_prefix", src=distances, unit_col=column) + ")"
    else:
        hist_src = f"(SELECT {column} AS distance, size FROM {distances})"
    # SHARDS: a sampled distance k stands for k / R, so size c takes sampled distances <= c R.
    scaled = [repr(g * rate) for g in grid]
    rows = fetch_dicts(con, render("mrc_hits", src=hist_src, grid=scaled))
    # SHARDS-adj: the sample should hold rate x accesses; the shortfall (or excess) is put on
    # the smallest distance, where it counts as hits at every size.
    expected, expected_bytes = totals["accesses"] * rate, totals["bytes"] * rate
    hits = [r["hits"] + expected - seen["n"] for r in rows]
    hit_bytes = [r["hit_bytes"] + expected_bytes - seen["b"] for r in rows]
    points = curve_points(grid, hits, hit_bytes, expected, expected_bytes)
    if rate >= 1 or prefix:
        return points, None
    # Small sizes the key sample cannot resolve are measured on time windows instead.
    head, info = head_points(con, log, windows(totals["accesses"], rate), unit, grid)
    return splice(head, points), info


def _byte_plan(seen: dict[str, int]) -> dict[str, Any]:
    """How `stack_distance` encodes and partitions the byte DISTINCT window for this log.

    Values are key id (a row number <= rows) * shift + key size, with shift the first power of
    two above the bytes of all keys, so a frame's sum mod shift is exact. They fit a BIGINT
    while (rows + 1) * shift <= 2^63; the DISTINCT window's sort and states are then smaller
    and cheaper than with HUGEINT, which stays the fallback.

    >>> _byte_plan({"n": 1000, "keys": 10, "w_bytes": 5000})
    {'shift': 8192, 'wide': False, 'chunk': None, 'rows': 1000}
    >>> _byte_plan({"n": 10, "keys": 10, "w_bytes": 2 ** 60})["wide"]
    True
    """
    shift = 1 << seen["w_bytes"].bit_length()
    return {"shift": shift, "wide": (seen["n"] + 1) * shift > 1 << 63,
            "chunk": _chunk(seen["n"], seen["keys"]), "rows": seen["n"]}


def _chunk(rows: int, keys: int) -> int | None:
    """Rows per chunk of the byte window (see macros/stack_distance.sql), or None for one window.

    Each chunk after the first is led by the LRU stack at its start, and building those stacks
    passes every key seen so far once per chunk, so chunks are sized from the key count: half
    of it, at least CHUNK_MIN rows. On 10M-access Zipf logs of 0.1M, 0.9M and 2.9M keys that
    was within 5 % of the fastest of keys / 4, / 2 and / 1 (keys / 1 peaked up to 0.8 GB higher)
    and, against one window, took them from 4.7 GB to 1.9, 2.5 and 3.6 GB and from 25-36 s to
    18-27 s. A log of two chunks or fewer stays one window.

    >>> _chunk(10_000_000, 900_000), _chunk(500_000, 100_000)
    (450000, None)
    """
    chunk = max(CHUNK_MIN, keys // 2)
    return chunk if rows > 2 * chunk else None


def _sample_totals(con: duckdb.DuckDBPyConnection, src: str) -> dict[str, int]:
    """Accesses, bytes, keys and the keys' bytes (size at first access) of the (sampled) log."""
    return fetch_dicts(con, "SELECT CAST(COALESCE(sum(n), 0) AS BIGINT) AS n, "
                       "CAST(COALESCE(sum(b), 0) AS BIGINT) AS b, "
                       "CAST(count(*) AS BIGINT) AS keys, "
                       "CAST(COALESCE(sum(z), 0) AS BIGINT) AS w_bytes FROM (SELECT count(*) AS n, "
                       f"sum(size) AS b, arg_min(size, pos) AS z FROM {src} GROUP BY key)")[0]


def auto_wave_bytes(session_or_con: Any, method: str = "aet", max_waves: int = 3,
                    align: int = 1) -> tuple[list[int], list[float]]:
    """Wave budgets at the knees of the byte miss-ratio curve, and the LRU hit ratio expected
    when the cache holds everything up to each boundary.

    Takes a `Session` or a connection with the log bound as `sqlwave_log` (with sizes); `align`
    rounds sizes up as the pack order does, so budgets and pack offsets are the same bytes.

    >>> import pyarrow as pa
    >>> from sqlwave.engine import connect
    >>> con = connect()
    >>> _ = bind_log(con, pa.table({"key": [1, 2, 1, 2, 3, 4, 5, 6] * 10, "size": [8] * 80}),
    ...              "key", "size")
    >>> auto_wave_bytes(con, method="exact")
    ([48], [0.925])
    """
    con = getattr(session_or_con, "con", session_or_con)
    points = curve_of(con, method, "bytes", align=align)["points"]
    boundaries = knees(points, max_knees=max_waves)
    if not boundaries:
        floor = points[-1]["miss_ratio"]
        boundaries = [next(p["size"] for p in points if p["miss_ratio"] <= floor + 0.01)]
    miss = {p["size"]: p["miss_ratio"] for p in points}
    budgets = [b - a for a, b in zip([0, *boundaries], boundaries, strict=False)]
    return budgets, [round(1.0 - miss[b], 9) for b in boundaries]
