"""The DuckDB shell file: current with the macros, and the real CLI agrees with the Python engine."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sqlwave import build_prefix_cohorts, coalesce_kv_extents, export_wave_spec
from sqlwave.example import example_log_path
from sqlwave.shell import SHELL_FILE, shell_sql

ROOT = Path(__file__).resolve().parent.parent


def test_shell_file_is_current():
    on_disk = (ROOT / SHELL_FILE).read_text(encoding="utf-8")
    assert on_disk == shell_sql(), (
        f"{SHELL_FILE} is out of date with macros/; regenerate it: python -m sqlwave.shell --write"
    )


def duckdb_cli() -> str:
    exe = Path(sys.executable).parent / "duckdb"
    found = str(exe) if exe.exists() else shutil.which("duckdb")
    if not found:
        pytest.fail("the DuckDB CLI is missing: pip install duckdb-cli (part of the dev extra)")
    return found


def cli_rows(query: str) -> list[dict[str, str]]:
    proc = subprocess.run(
        [duckdb_cli(), "-csv", "-cmd", f".read {SHELL_FILE}", "-c", query],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return list(csv.DictReader(io.StringIO(proc.stdout)))


LOG = str(example_log_path())


def test_cli_cohorts_match_python():
    shell = cli_rows(f"FROM sqlwave_cohorts_by_delimiter('{LOG}', delimiter := '.', depth := 3, top_k := 10)")
    python = build_prefix_cohorts(LOG, "key", "size", delimiter=".", depth=3, top_k=10).to_pylist()
    assert [(r["rank"], r["cohort"], r["hits"], r["bytes"]) for r in shell] == [
        (str(p["rank"]), p["cohort"], str(p["hits"]), str(p["bytes"])) for p in python
    ]


def test_cli_prefix_cohorts_match_python():
    shell = cli_rows(f"FROM sqlwave_cohorts('{LOG}', prefix_len := 6, top_k := 5)")
    python = build_prefix_cohorts(LOG, "key", "size", prefix_len=6, top_k=5).to_pylist()
    assert [r["cohort"] for r in shell] == [p["cohort"] for p in python]
    assert [int(r["keys"]) for r in shell] == [p["keys"] for p in python]


def test_cli_pack_order_and_waves_match_export():
    spec = export_wave_spec(LOG, "key", "size", wave_bytes=[2**30, 2**32], max_inline=50)
    shell = cli_rows(f"FROM sqlwave_pack_order('{LOG}') ORDER BY rank LIMIT 50")
    assert [(r["key"], int(r["byte_offset"])) for r in shell] == [
        (e["key"], e["byte_offset"]) for e in spec["pack_order"]["inline"]
    ]
    waves = cli_rows(f"FROM sqlwave_waves('{LOG}', w0 := {2**30}, w1 := {2**32})")
    assert [(int(w["wave"]), int(w["keys"]), int(w["bytes"])) for w in waves] == [
        (w["wave"], w["keys"], w["bytes"]) for w in spec["waves"]
    ]


def test_shell_waves_keep_each_budget_as_the_export_does():
    import duckdb
    import pyarrow as pa

    # Six keys of 3 bytes, 10..5 hits: wave 0 (5 bytes) holds one, so wave 1 (5 bytes) may not
    # take the 2 bytes wave 0 left unused: one key again, not two.
    log = pa.table({"key": [k for k, n in zip("abcdef", range(10, 4, -1), strict=True) for _ in range(n)],
                    "size": [3] * 45})
    spec = export_wave_spec(log, "key", "size", wave_bytes=[5, 5], align_bits=0)
    con = duckdb.connect()
    con.execute((ROOT / SHELL_FILE).read_text(encoding="utf-8"))
    con.register("log", log)
    rows = con.execute("SELECT wave, keys, bytes FROM sqlwave_waves('log', align_bits := 0, "
                       "w0 := 5, w1 := 5)").fetchall()
    assert rows == [(w["wave"], w["keys"], w["bytes"]) for w in spec["waves"]] == [
        (0, 1, 3), (1, 1, 3), (2, 4, 12)]


def test_cli_metrics_match_export():
    spec = export_wave_spec(LOG, "key", "size")
    row = cli_rows(f"FROM sqlwave_metrics('{LOG}')")[0]
    for name in ("rows", "distinct_keys", "null_keys", "bytes_moved", "unique_bytes"):
        assert int(row[name]) == spec["metrics"][name], name


def test_cli_extents_match_python_on_a_glob_of_two_files(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"block": [0, 1, 2, 9], "size": [512] * 4}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"block": [10, 30, 2, 3], "size": [512] * 4}), tmp_path / "b.parquet")
    glob = str(tmp_path / "*.parquet")
    shell = cli_rows(f"FROM sqlwave_extents('{glob}', key_col := 'block', page_bits := 9, key_scale := 512)")
    python = coalesce_kv_extents(glob, "block", page_bits=9, size_col="size", key_scale=512).to_pylist()
    assert [(int(r["first_page"]), int(r["last_page"]), int(r["hits"])) for r in shell] == [
        (p["first_page"], p["last_page"], p["hits"]) for p in python
    ] == [(0, 3, 5), (9, 10, 2), (30, 30, 1)]


@pytest.mark.parametrize(
    "query, message",
    [
        ("FROM sqlwave_cohorts(LOG, prefix_len := 0)", "prefix_len must be a whole number"),
        ("FROM sqlwave_cohorts(LOG, top_k := 0)", "top_k must be a whole number"),
        ("FROM sqlwave_cohorts_by_delimiter(LOG, depth := 33)", "depth must be a whole number"),
        ("FROM sqlwave_cohorts_by_delimiter(LOG, delimiter := '')", "non-empty"),
        ("FROM sqlwave_pack_order(LOG, strategy := 'first_touch')", "strategy must be one of"),
        ("FROM sqlwave_pack_order(LOG, align_bits := -1)", "align_bits must be a whole number"),
        ("FROM sqlwave_waves(LOG, w1 := 4096)", "w0 is missing"),
        ("FROM sqlwave_waves(LOG, w0 := -5)", "w0 must be a whole number of bytes"),
        ("FROM sqlwave_waves(LOG, w0 := 18446744073709551615)", "between 1 and 2\\^62"),
        ("FROM sqlwave_metrics(LOG, capacity := 0)", "capacity must be a whole number of bytes"),
        # A NULL top_k folded the plan to no rows (no error); -1 failed in LIMIT.
        ("FROM sqlwave_cohorts(LOG, top_k := NULL)", "top_k must be a whole number"),
        ("FROM sqlwave_cohorts_by_delimiter(LOG, top_k := -1)", "top_k must be a whole number"),
        # Sizes sqlwave export refuses were used: -5 bytes packed, NULL offsets, 10.7 rounded.
        ("FROM sqlwave_pack_order(SIZES, size_col := 'negative')", "a size is negative (-5)"),
        ("FROM sqlwave_waves(SIZES, size_col := 'missing', w0 := 15)", "a size is NULL"),
        ("FROM sqlwave_metrics(SIZES, size_col := 'fraction')", "has type DECIMAL"),
        ("FROM sqlwave_extents(INTS, key_scale := 0)", "key_scale must be a whole number"),
        ("FROM sqlwave_extents(INTS, page_bits := 41)", "page_bits must be a whole number"),
        ("FROM sqlwave_usage(BLOBS)", "BLOB keys: query a view with lower(hex(key))"),
        # Nested keys were grouped as values, keys past 64 bits counted, and a text size failed
        # to bind with DuckDB's message, where sqlwave export refuses each with its own.
        ("FROM sqlwave_pack_order(ODD, key_col := 'list')", "has type INTEGER\\[\\]; use a text"),
        ("FROM sqlwave_usage(ODD, key_col := 'struct')", "has type STRUCT(a INTEGER); use a text"),
        ("FROM sqlwave_usage(ODD, key_col := 'wide')", "a key (9223372036854775808) does not fit"),
        ("FROM sqlwave_usage(ODD, size_col := 'text')", "has type VARCHAR, not an integer byte"),
        ("FROM sqlwave_usage(ODD, size_col := 'wide')", "a size (9223372036854775808) does not"),
        ("FROM sqlwave_extents(LOG)", "sqlwave_extents needs integer keys (addresses or block "
                                      "ids), not VARCHAR"),
    ],
)
def test_shell_macros_refuse_bad_arguments(query, message):
    import duckdb

    con = duckdb.connect()
    con.execute((ROOT / SHELL_FILE).read_text(encoding="utf-8"))
    con.execute(f"CREATE TABLE logs AS FROM '{LOG}'")
    con.execute("CREATE TABLE ints AS SELECT CAST(i AS INTEGER) AS key, 512 AS size FROM range(10) t(i)")
    con.execute("CREATE TABLE blobs AS SELECT '\\x01'::BLOB AS key, 1 AS size")
    con.execute("CREATE TABLE sizes AS SELECT * FROM (VALUES ('a', 10, 10, 10.7), "
                "('b', -5, NULL, 20.2)) AS t(key, negative, missing, fraction)")
    con.execute("CREATE TABLE odd AS SELECT 'a' AS key, 1 AS size, [1] AS list, {'a': 1} AS struct, "
                "CAST(9223372036854775808 AS UBIGINT) AS wide, '5' AS text")
    query = (query.replace("(LOG", "('logs'").replace("(INTS", "('ints'")
             .replace("(BLOBS", "('blobs'").replace("(SIZES", "('sizes'").replace("(ODD", "('odd'"))
    with pytest.raises(duckdb.Error, match=message.replace("(", r"\(").replace(")", r"\)")):
        con.execute(query).fetchall()


def test_shell_extents_of_int32_keys_do_not_overflow():
    import duckdb

    con = duckdb.connect()
    con.execute((ROOT / SHELL_FILE).read_text(encoding="utf-8"))
    con.execute("CREATE TABLE ints AS SELECT CAST(k AS INTEGER) AS key, 512 AS size "
                "FROM (VALUES (10000000), (10000001)) t(k)")
    rows = con.execute("SELECT first_page, last_page FROM sqlwave_extents('ints', key_scale := 512)"
                       ).fetchall()
    assert rows == [(1250000, 1250000)]


@pytest.mark.parametrize("kind", ["UBIGINT", "HUGEINT", "INTEGER"])
def test_shell_extents_take_every_integer_key_type(kind):
    import duckdb

    con = duckdb.connect()
    con.execute((ROOT / SHELL_FILE).read_text(encoding="utf-8"))
    con.execute(f"CREATE TABLE k AS SELECT CAST(i AS {kind}) AS key, 4096 AS size "
                "FROM (VALUES (1), (2), (3), (100)) t(i)")
    rows = con.execute("SELECT first_page, last_page FROM sqlwave_extents('k', key_scale := 4096) "
                       "ORDER BY first_page").fetchall()
    assert rows == [(1, 3), (100, 100)]


def test_shell_usage_leaves_the_null_keys_to_usage_all():
    import duckdb

    con = duckdb.connect()
    con.execute((ROOT / SHELL_FILE).read_text(encoding="utf-8"))
    con.execute("CREATE TABLE n AS SELECT * FROM (VALUES ('a', 1), (NULL, 2), ('b', 3), (NULL, 4)) "
                "t(key, size)")
    assert con.execute("SELECT key, hits FROM sqlwave_usage('n') ORDER BY key").fetchall() == [
        ("a", 1), ("b", 1)]
    assert con.execute("SELECT key, hits, bytes FROM sqlwave_usage_all('n') WHERE key IS NULL"
                       ).fetchall() == [(None, 2, 6)]
    assert con.execute("SELECT null_keys FROM sqlwave_metrics('n')").fetchall() == [(2,)]


def test_python_package_loads_the_shell_file_too():
    import duckdb

    con = duckdb.connect()
    con.execute((ROOT / SHELL_FILE).read_text(encoding="utf-8"))
    rows = con.execute(f"SELECT count(*) FROM sqlwave_usage('{LOG}')").fetchall()
    assert rows[0][0] == export_wave_spec(LOG, "key", "size")["metrics"]["distinct_keys"]


def test_the_macros_are_temporary_and_load_into_a_read_only_database(tmp_path):
    # They were written into the open database: 13 objects in a user's file, a same-named macro
    # of theirs replaced, and a read-only database refused the .read.
    import duckdb

    path = str(tmp_path / "user.db")
    duckdb.connect(path).execute("CREATE MACRO sqlwave_key(a, b) AS a + b").close()
    con = duckdb.connect(path, read_only=True)
    con.execute((ROOT / SHELL_FILE).read_text(encoding="utf-8"))
    assert con.execute(f"SELECT rows FROM sqlwave_metrics('{LOG}')").fetchone()[0] > 0
    con.close()
    con = duckdb.connect(path)
    assert con.execute("SELECT sqlwave_key(1, 2)").fetchone()[0] == 3  # theirs, untouched
    assert con.execute("SELECT count(*) FROM duckdb_functions() "
                       "WHERE function_name LIKE 'sqlwave%' AND NOT internal").fetchone()[0] == 1
