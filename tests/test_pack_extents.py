"""pack_extents (one pass over a packed layout) finds the same extents, and the same count per
wave, as extents.sql over the same objects, in both its portable and its DuckDB form."""

from __future__ import annotations

import duckdb
import pytest

from sqlwave.macros import helper, render
from sqlwave.strategies import PACK_STRATEGIES


def _layout(con: duckdb.DuckDBPyConnection, keys: int, seed: int, align: int,
            boundaries: list[int]) -> None:
    # Sizes from 0 to a few pages, so with align > page size the layout has holes (many
    # extents), and zero-size objects share an offset with the next one.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE usage AS
        SELECT 'k' || i AS key, CAST(1 + hash(i, {seed}) % 50 AS BIGINT) AS hits,
               CAST(hash(i, {seed} + 1) % 9000 AS BIGINT) * (hash(i, {seed} + 2) % 4) AS size,
               0 AS bytes, 0 AS first_pos, 0 AS last_pos,
               CAST('0x' || substr(md5('k' || i), 1, 15) AS BIGINT) AS h60
        FROM range({keys}) AS t(i)
    """)
    con.execute("UPDATE usage SET bytes = hits * size")
    pack = render("pack_order", src="usage", strategy="'hot'", strategies=PACK_STRATEGIES,
                  align=str(align))
    con.execute(f"CREATE OR REPLACE TEMP TABLE pack AS {pack}")
    waves = render("waves", src="pack", boundaries=[str(b) for b in boundaries])
    con.execute(f"CREATE OR REPLACE TEMP TABLE waves AS {waves}")


def _from_pieces(con: duckdb.DuckDBPyConnection, page: int, ordered: bool) -> tuple[list, list]:
    pieces = render("pack_extents", src="waves", page_size=str(page), ordered=ordered)
    con.execute(f"CREATE OR REPLACE TEMP TABLE pieces AS {pieces}")
    extents = con.execute(helper("extent_totals", "pieces", [])).fetchall()  # as Session does
    per_wave = con.execute("SELECT wave, count(*) FROM pieces GROUP BY wave ORDER BY wave")
    return [tuple(int(v) for v in r) for r in extents], per_wave.fetchall()


def _generic(con: duckdb.DuckDBPyConnection, page: int) -> tuple[list, list]:
    # A packed object of size 0 has no bytes in the file: it covers no page.
    objects = "(SELECT byte_offset AS address, size, hits, bytes, wave FROM waves WHERE size > 0)"
    whole = render("extents", src=objects, page_size=str(page), partition=[])
    extents = [tuple(int(v) for v in r) for r in con.execute(whole).fetchall()]
    split = render("extents", src=objects, page_size=str(page), partition=["wave"])
    per_wave = con.execute(f"SELECT wave, count(*) FROM ({split}) GROUP BY wave ORDER BY wave")
    return extents, per_wave.fetchall()


@pytest.mark.parametrize("align, page", [(4096, 4096), (65536, 4096), (1, 512), (16, 4096)])
@pytest.mark.parametrize("threads", [1, 4])
def test_pack_extents_equal_extents(align: int, page: int, threads: int) -> None:
    con = duckdb.connect(config={"threads": threads})
    _layout(con, 20_000, seed=align + threads, align=align,
            boundaries=[2**20, 2**26, 2**27 + 12345])
    expected = _generic(con, page)
    assert len(expected[0]) >= 1 and len(expected[1]) >= 2
    if align > page:
        assert len(expected[0]) > 100  # holes between objects: many extents
    assert _from_pieces(con, page, ordered=False) == expected
    assert _from_pieces(con, page, ordered=True) == expected


def test_pack_extents_of_an_empty_layout() -> None:
    con = duckdb.connect()
    _layout(con, 0, seed=1, align=4096, boundaries=[4096])
    assert _from_pieces(con, 4096, ordered=True) == ([], [])


def _reference(objects: list[tuple[int, int, int]], page: int) -> list[tuple[int, ...]]:
    """Extents of (address, size, hits) objects, merged in Python."""
    spans = sorted(((a // page, (a + max(s, 1) - 1) // page, h, s) for a, s, h in objects))
    out: list[list[int]] = []
    for first, last, hits, size in spans:
        if out and first <= out[-1][2] + 1:
            e = out[-1]
            e[2] = max(e[2], last)
            e[4] += 1
            e[5] += hits
            e[6] += hits * size
        else:
            out.append([len(out), first, last, 0, 1, hits, hits * size])
    return [(e[0], e[1], e[2], e[2] - e[1] + 1, *e[4:]) for e in out]


@pytest.mark.parametrize("threads", [1, 2, 4, 8])
def test_extents_do_not_depend_on_the_order_of_tied_objects(threads: int) -> None:
    # Zero-size objects share an offset with the next object, after a hole: objects alike in
    # every ORDER BY column. Two windows once ordered them differently (DuckDB 1.5, 4 threads)
    # and moved them into the extent before the hole.
    objects = []
    for i in range(3000):
        base = i * 65536
        objects += [(base, 0, 7)] * 5 + [(base, 4096 * (1 + i % 3), 3), (base + 4096 * 5, 10, 1)]
    con = duckdb.connect(config={"threads": threads})
    con.execute("""
        CREATE TABLE objects AS
        SELECT i * 65536 AS address, 0 AS size, 7 AS hits FROM range(3000) AS t(i), range(5)
        UNION ALL SELECT i * 65536, 4096 * (1 + i % 3), 3 FROM range(3000) AS t(i)
        UNION ALL SELECT i * 65536 + 4096 * 5, 10, 1 FROM range(3000) AS t(i)
    """)
    sql = render("extents", src="(SELECT address, size, hits, hits * size AS bytes FROM objects)",
                 page_size="4096", partition=[])
    expected = _reference(objects, 4096)
    for _ in range(5):
        assert [tuple(int(v) for v in r) for r in con.execute(sql).fetchall()] == expected
