"""The plan's Python API: each function runs one macro over a log and returns an Arrow table."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sqlwave.checks import check_bits, check_cohorts, check_key_scale, text
from sqlwave.engine import connect
from sqlwave.errors import InputError, ParameterError
from sqlwave.log import bind_log
from sqlwave.session import Session

REQUIRED_USAGE_COLUMNS = ("key", "hits", "bytes", "size", "first_pos", "last_pos", "h60")


def _session(logs: Any, key_col: str, size_col: str | None,
             request_col: str | None = None) -> Session:
    con = connect()
    return Session(con, bind_log(con, logs, key_col, size_col, request_col))


def compute_usage(logs: Any, key_col: str = "key", size_col: str | None = None,
                  request_col: str | None = None) -> pa.Table:
    """One row per key: hits, bytes, size, first/last access position, requests, hash60.

    >>> import pyarrow as pa
    >>> u = compute_usage(pa.table({"key": ["a", "b", "a"], "size": [4, 8, 4]}), "key", "size")
    >>> u.sort_by("key").select(["key", "hits", "bytes", "first_pos", "last_pos"]).to_pylist()[0]
    {'key': 'a', 'hits': 2, 'bytes': 8, 'first_pos': 0, 'last_pos': 2}
    """
    session = _session(logs, key_col, size_col, request_col)
    session.check_sizes()
    return session.run_table(f"SELECT * FROM {session.usage()} WHERE key IS NOT NULL ORDER BY h60, key")


def build_prefix_cohorts(logs: Any, key_col: str = "key", size_col: str | None = None, *,
                         prefix_len: int | None = None, delimiter: str | None = None,
                         depth: int = 3, top_k: int = 20, rank_by: str = "hits") -> pa.Table:
    """Top-k prefix cohorts: by the first `prefix_len` characters, or up to the `depth`-th
    `delimiter`.

    >>> import pyarrow as pa
    >>> log = pa.table({"key": ["m.l.1.w", "m.l.1.b", "m.l.1.w", "m.l.2.w", "m.l.2.b", "x"]})
    >>> build_prefix_cohorts(log, "key", delimiter=".", depth=3).column("cohort").to_pylist()
    ['m.l.1', 'm.l.2', 'x']
    """
    if prefix_len is None and delimiter is None:
        raise ParameterError("give prefix_len (characters) or delimiter (with depth)")
    check_cohorts(prefix_len, delimiter, depth, top_k, rank_by)
    session = _session(logs, key_col, size_col)
    session.check_sizes()
    return session.cohorts(prefix_len=prefix_len, delimiter=delimiter, depth=depth,
                           rank_by=rank_by, top_k=top_k)


def coalesce_kv_extents(logs: Any, key_col: str = "key", page_bits: int = 12,
                        size_col: str | None = None, key_scale: int = 1) -> pa.Table:
    """Runs of consecutive pages touched by integer keys (addresses or block ids).

    >>> import pyarrow as pa
    >>> log = pa.table({"block": [0, 1, 2, 7, 8, 1]})
    >>> coalesce_kv_extents(log, "block", page_bits=0).select(["first_page", "last_page", "hits"]).to_pylist()
    [{'first_page': 0, 'last_page': 2, 'hits': 4}, {'first_page': 7, 'last_page': 8, 'hits': 2}]
    """
    check_bits("page_bits", page_bits)
    check_key_scale(key_scale)
    session = _session(logs, key_col, size_col)
    session.check_sizes()
    if session.log.key_type != "integer":
        raise InputError(f"column {key_col!r} is not an integer address column; for other keys, "
                         "extents follow the pack order (use export_wave_spec)")
    objects = (f"(SELECT key * {int(key_scale)} AS address, size, hits, bytes "
               f"FROM {session.usage()} WHERE key IS NOT NULL)")
    return session.extents(objects, page_bits, [])


def suggest_pack_order_from_usage(usage: pa.Table, strategy: str = "hot",
                                  align_bits: int = 12) -> pa.Table:
    """Pack order with page-aligned byte offsets from a usage table (see `compute_usage`).

    >>> import pyarrow as pa
    >>> u = compute_usage(pa.table({"key": ["a", "b", "b"], "size": [100, 5000, 5000]}), "key", "size")
    >>> suggest_pack_order_from_usage(u).select(["rank", "key", "byte_offset"]).to_pylist()
    [{'rank': 1, 'key': 'b', 'byte_offset': 0}, {'rank': 2, 'key': 'a', 'byte_offset': 8192}]
    """
    text("strategy", strategy)
    check_bits("align_bits", align_bits)
    session = Session.over_usage(connect(), _checked_usage(usage))
    session.check_sizes()
    _check_usage_rows(session)
    table = session.pack(strategy, align_bits)
    return session.run_table(f"SELECT * FROM {table} ORDER BY rank")


def _checked_usage(usage: Any) -> pa.Table:
    """A usage table's columns: all there, and whole numbers where they count or measure."""
    if not isinstance(usage, pa.Table):
        raise InputError(f"usage must be a pyarrow.Table (from compute_usage()), not a "
                         f"{type(usage).__name__}")
    missing = [c for c in REQUIRED_USAGE_COLUMNS if c not in usage.column_names]
    if missing:
        raise InputError(f"usage table lacks columns {', '.join(missing)}; build it with compute_usage()")
    if len(set(usage.column_names)) < len(usage.column_names):
        raise InputError("usage table has a column name twice; build it with compute_usage()")
    # A float size packed 10.5 bytes into a 10-byte slot: the next object overlapped it.
    wrong = [f"{c} ({usage.schema.field(c).type})" for c in REQUIRED_USAGE_COLUMNS[1:]
             if not pa.types.is_integer(usage.schema.field(c).type)]
    if wrong:
        raise InputError(f"usage columns must be integers: {', '.join(wrong)}; build the table "
                         "with compute_usage(), or cast those columns")
    return usage


def _check_usage_rows(session: Session) -> None:
    """One row per key, with counts >= 0: a key listed twice was packed twice."""
    repeated, nulls, negative = session.con.execute(  # type: ignore[misc]
        f"SELECT count(*) - count(DISTINCT key), count(*) - count(key), "
        f"count(*) FILTER (WHERE hits < 0 OR bytes < 0) FROM {session.usage()}").fetchone()
    if repeated:
        raise InputError(f"usage table lists {repeated} key(s) more than once; it needs one row "
                         "per key (sum hits and bytes per key, or build it with compute_usage())")
    if nulls:
        raise InputError(f"usage table has {nulls} row(s) with a NULL key; drop them")
    if negative:
        raise InputError(f"usage table has {negative} row(s) with negative hits or bytes")

