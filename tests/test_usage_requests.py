"""Distinct requests per key: the hash-grouped fast path equals the plain pairing, collisions
fall back to it, and exports that never read them skip them without changing the WaveSpec."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

import sqlwave.session as session_mod
from sqlwave.engine import connect
from sqlwave.export import build_wave_spec
from sqlwave.export_options import ExportOptions
from sqlwave.log import bind_log
from sqlwave.macros import render
from sqlwave.session import Session


def _log(rows: int = 5000) -> pa.Table:
    """Keys repeat within and across requests; some keys and requests are NULL."""
    con = duckdb.connect()
    return con.sql(f"""
        SELECT CASE WHEN i % 97 = 0 THEN NULL ELSE 'm.l.' || (i * 7919 % 61) || '.w' END AS key,
               CAST(1 + i % 5 AS BIGINT) AS size,
               CASE WHEN i % 89 = 0 THEN NULL ELSE i // 9 END AS request_id
        FROM range({rows}) t(i)
    """).to_arrow_table()


def _usage(log: pa.Table, count_requests: bool = True) -> list[tuple[object, ...]]:
    con = connect()
    session = Session(con, bind_log(con, log, "key", "size", "request_id"), count_requests)
    return con.execute(f"SELECT * FROM {session.usage()} ORDER BY key NULLS LAST").fetchall()


def _plain_requests(log: pa.Table) -> dict[object, int]:
    con = duckdb.connect()
    con.register("log", log)
    rows = con.execute("SELECT key, count(DISTINCT request_id) FROM log GROUP BY key").fetchall()
    return {k: int(n) for k, n in rows}


def test_hash_grouped_requests_match_plain_count() -> None:
    log = _log()
    got = {row[0]: row[6] for row in _usage(log)}
    assert got == _plain_requests(log)
    assert max(got.values()) > 1


def test_colliding_group_falls_back_to_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    log = _log()
    fast = _usage(log)
    # Key length collides for most keys: the check must catch it and redo the exact count.
    colliding = "CAST(length(key) AS UBIGINT)"
    con = duckdb.connect()
    con.register("log", log)
    wrong = con.execute(render("usage", src="(SELECT key, size, request_id AS request, 0 AS pos "
                               "FROM log)", key="key", size="size", pos="pos", request="request",
                               request_group=colliding) + " ORDER BY key NULLS LAST").fetchall()
    assert [r[6] for r in wrong] != [r[6] for r in fast]  # so the fallback is really needed
    monkeypatch.setattr(session_mod, "REQUEST_GROUP", colliding)
    assert _usage(log) == fast


def test_skipping_requests_keeps_everything_else() -> None:
    log = _log()
    with_requests, without = _usage(log), _usage(log, count_requests=False)
    assert [r[:6] + r[7:] for r in with_requests] == [r[:6] + r[7:] for r in without]
    assert {r[6] for r in without} == {0}


def test_export_identical_with_or_without_request_column() -> None:
    log = _log()
    specs = []
    for request_col in ("request_id", None):
        opts = ExportOptions(size_col="size", request_col=request_col, delimiter=".", depth=2)
        spec, _ = build_wave_spec(log, opts)
        spec["parameters"].pop("request_col")
        specs.append(spec)
    assert specs[0] == specs[1]
