"""The DuckDB pack order (one sort, rows numbered OVER (), no key text in the tie-break when
hash60 is unique) gives the same rows as the portable macro."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from sqlwave import compute_usage, suggest_pack_order_from_usage
from sqlwave.macros import render
from sqlwave.strategies import PACK_STRATEGIES


def _usage(con: duckdb.DuckDBPyConnection, keys: int, seed: int) -> None:
    # Few distinct (hits, bytes, positions) values, so most keys tie on every strategy column.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE u AS
        SELECT 'k' || i AS key, CAST(1 + hash(i, {seed}) % 4 AS BIGINT) AS hits,
               CAST(100 * (1 + hash(i, {seed} + 1) % 3) AS BIGINT) AS bytes,
               CAST(50 + hash(i, {seed} + 2) % 3000 AS BIGINT) AS size,
               CAST(hash(i, {seed} + 3) % 5 AS BIGINT) AS first_pos,
               CAST(hash(i, {seed} + 4) % 5 AS BIGINT) AS last_pos,
               CAST('0x' || substr(md5('k' || i), 1, 15) AS BIGINT) AS h60
        FROM range({keys}) AS t(i)
        UNION ALL SELECT NULL, 3, 300, 10, 0, 0, 0
    """)


def _pack(con: duckdb.DuckDBPyConnection, strategy: str, **fast: bool) -> list[tuple]:
    sql = render("pack_order", src="u", strategy=f"'{strategy}'", strategies=PACK_STRATEGIES,
                 align="4096", **fast)
    return con.execute(f"SELECT * FROM ({sql}) ORDER BY rank").fetchall()


@pytest.mark.parametrize("strategy", list(PACK_STRATEGIES))
@pytest.mark.parametrize("threads", [1, 4])
def test_ordered_pack_equals_portable(strategy: str, threads: int) -> None:
    con = duckdb.connect(config={"threads": threads})
    _usage(con, 50_000, seed=threads)
    portable = _pack(con, strategy)
    assert len(portable) == 50_000
    assert _pack(con, strategy, ordered=True) == portable
    assert _pack(con, strategy, ordered=True, tie_key=False) == portable


def test_shared_hash60_falls_back_to_the_key() -> None:
    # Four keys alike in everything but the text, two pairs sharing a hash60: the order inside a
    # pair must come from the key, not from the order the rows arrive in.
    rows = {"key": ["b", "a", "d", "c"], "hits": [1] * 4, "bytes": [8] * 4, "size": [8] * 4,
            "first_pos": [0] * 4, "last_pos": [0] * 4, "requests": [1] * 4,
            "size_nulls": [0] * 4, "size_min": [8] * 4, "h60": [7, 7, 5, 5]}
    usage = pa.table(rows)
    reversed_usage = usage.take([3, 2, 1, 0])
    for table in (usage, reversed_usage):
        order = suggest_pack_order_from_usage(table, align_bits=0).column("key").to_pylist()
        assert order == ["c", "d", "a", "b"]


def test_unique_hash60_pack_matches_the_macro_default() -> None:
    log = pa.table({"key": [f"m.{i % 97}.{i % 13}" for i in range(3000)],
                    "size": [64 + i % 97 for i in range(3000)]})
    usage = compute_usage(log, "key", "size")
    fast = suggest_pack_order_from_usage(usage, "hot", align_bits=6).to_pylist()
    con = duckdb.connect()
    con.register("u", usage)
    sql = render("pack_order", src="u", strategy="'hot'", strategies=PACK_STRATEGIES, align="64")
    names = [d[0] for d in con.execute(sql).description]
    assert fast == [dict(zip(names, r, strict=True)) for r in con.execute(sql).fetchall()]


@pytest.mark.parametrize(("h60", "unique"), [([5, 9, 7, 1], True), ([5, 9, 5, 1], False),
                                             ([3, 3, 3, 3], False)])
def test_hash60_uniqueness_is_checked_exactly(h60: list[int], unique: bool) -> None:
    from sqlwave.engine import connect
    from sqlwave.session import Session

    usage = pa.table({"key": ["a", "b", "c", "d"], "hits": [1] * 4, "bytes": [8] * 4,
                      "size": [8] * 4, "first_pos": [0] * 4, "last_pos": [0] * 4,
                      "requests": [1] * 4, "size_nulls": [0] * 4, "size_min": [8] * 4, "h60": h60})
    assert Session.over_usage(connect(), usage).h60_unique() is unique
