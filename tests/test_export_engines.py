"""`export --engine spark|postgres` writes the same WaveSpec bytes as DuckDB on the same data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from engines import Postgres
from matrix import nasty_integer, nasty_text, trace_slice
from support import run_cli, run_cli_process, shared_file

from sqlwave.engine_export import EngineOptions, build_with_engine
from sqlwave.errors import ParameterError
from sqlwave.export import build_wave_spec
from sqlwave.export_options import ExportOptions
from sqlwave.spark_engine import SparkEngine
from sqlwave.wavespec import dumps

pytestmark = pytest.mark.engines


def fixture_log(kind: str) -> tuple[pa.Table, dict[str, Any]]:
    """A log (without pos: the files' row order is the access order) and export options."""
    if kind == "text":
        t = nasty_text()
        opts = dict(delimiter="/", depth=2, page_bits=4, wave_bytes=[64, 128], capacity=100)
    elif kind == "integer":
        t = nasty_integer()
        opts = dict(prefix_len=2, page_bits=4, wave_bytes=[16, 64], capacity=50, key_scale=2)
    else:
        t = trace_slice(str(shared_file("mooncake/synthetic.parquet")))
        opts = dict(prefix_len=3, page_bits=20)
    # A timestamp with ties and out of file order, for --order-by.
    ts = pa.array([(i * 7919) % 13 for i in range(t.num_rows)], pa.int64())
    return t.drop_columns(["pos"]).append_column("ts", ts), opts


def load_postgres(dsn: str, name: str, table: pa.Table) -> None:
    pg = Postgres(dsn)
    try:
        pg.load(name, table)
    finally:
        pg.close()


def options(extra: dict[str, Any], **more: Any) -> ExportOptions:
    return ExportOptions(**{"key_col": "key", "size_col": "size", "request_col": "request",
                            "reuse_sample": 0.5, **extra, **more})


def write_files(table: pa.Table, folder: Path) -> list[str]:
    """Two files, so positions continue across files."""
    half = table.num_rows // 2
    paths = [str(folder / "a.parquet"), str(folder / "b.parquet")]
    pq.write_table(table.slice(0, half), paths[0])
    pq.write_table(table.slice(half), paths[1])
    return paths


@pytest.mark.parametrize(("kind", "order_col"),
                         [("text", None), ("integer", "ts"), ("mooncake", "ts")])
def test_spark_wavespec_is_byte_identical(kind: str, order_col: str | None, spark: Any,
                                          tmp_path: Path) -> None:
    table, extra = fixture_log(kind)
    files = write_files(table, tmp_path)
    expected, _ = build_wave_spec(files, options(extra, order_col=order_col))
    got, _ = build_with_engine(EngineOptions("spark"), files, options(extra, order_col=order_col),
                               spark=spark)
    assert dumps(got) == dumps(expected)


@pytest.mark.parametrize("kind", ["text", "integer", "mooncake"])
def test_postgres_wavespec_matches(kind: str, pg_dsn: str, tmp_path: Path) -> None:
    """Byte-identical except `source`, which describes a table instead of files."""
    table, extra = fixture_log(kind)
    expected, _ = build_wave_spec(write_files(table, tmp_path), options(extra, order_col="ts"))
    load_postgres(pg_dsn, "access_log", table)
    got, con = build_with_engine(EngineOptions("postgres", dsn=pg_dsn, table="access_log"), [],
                                 options(extra, order_col="ts"))
    con.engine.close()  # type: ignore[attr-defined]
    assert got["source"]["kind"] == "postgres" and got["source"]["rows"] == table.num_rows
    assert got["source"]["key_type"] == expected["source"]["key_type"]
    del got["source"], expected["source"]
    assert dumps(got) == dumps(expected)


class RecordingSpark(SparkEngine):
    """Spark that remembers every SQL statement it ran."""

    def __init__(self, spark: Any) -> None:
        super().__init__(spark)
        self.statements: list[str] = []

    def query(self, sql: str) -> Any:
        self.statements.append(sql)
        return super().query(sql)

    def create_temp(self, name: str, sql: str) -> None:
        self.statements.append(sql)
        super().create_temp(name, sql)


def test_spark_runs_no_single_partition_exchange_over_the_raw_log(spark: Any,
                                                                  tmp_path: Path) -> None:
    from sqlwave.export import build_on
    from sqlwave.spark_engine import bind_spark
    from sqlwave.warehouse import EngineConnection

    table, extra = fixture_log("text")
    engine = RecordingSpark(spark)
    log = bind_spark(engine, write_files(table, tmp_path), "key", "size", "request")
    build_on(EngineConnection(engine), log, options(extra, reuse_sample=1.0))
    plans = {sql: engine.plan(sql) for sql in engine.statements
             if "sqlwave_log" in sql or "OVER (" in sql}
    raw = [p for sql, p in plans.items() if "sqlwave_log" in sql]
    assert len(raw) >= 2  # the usage scan and the reuse-time pass
    assert all("SinglePartition" not in p for p in raw), raw
    # The check can fail: global windows do gather into one partition, on per-key aggregates.
    assert any("SinglePartition" in p for sql, p in plans.items() if "sqlwave_log" not in sql)


def test_cli_export_on_spark_and_postgres(spark: Any, pg_dsn: str, tmp_path: Path) -> None:
    table, _ = fixture_log("text")
    files = write_files(table, tmp_path)
    common = ["--key", "key", "--size", "size", "--delimiter", "/", "--page-bits", "4"]
    duck = run_cli("export", "--logs", files[0], "--logs", files[1], *common,
                   "--out", str(tmp_path / "duck.json"),
                   "--pack-order-out", str(tmp_path / "pack.parquet"))
    assert duck.code == 0, duck.stderr
    result = run_cli("export", "--engine", "spark", "--master", "local[2]", "--logs", files[0],
                     "--logs", files[1], *common, "--out", str(tmp_path / "spark.json"),
                     "--pack-order-out", str(tmp_path / "pack.parquet"))
    assert result.code == 0, result.stderr
    assert (tmp_path / "spark.json").read_bytes() != b""
    duck_spec = (tmp_path / "duck.json").read_text()
    assert (tmp_path / "spark.json").read_text() == duck_spec
    assert pq.read_table(tmp_path / "pack.parquet").num_rows == len(set(table["key"].to_pylist()) - {None})
    load_postgres(pg_dsn, "cli_log", table)
    result = run_cli("export", "--engine", "postgres", "--dsn", pg_dsn, "--table", "cli_log",
                     *common, "--order-by", "ts", "--out", str(tmp_path / "pg.json"))
    assert result.code == 0, result.stderr
    # A table has no row order (ctid is not insertion order): --order-by is required.
    result = run_cli("export", "--engine", "postgres", "--dsn", pg_dsn, "--table", "cli_log",
                     *common, "--out", str(tmp_path / "pg2.json"))
    assert result.code == 1 and "pass --order-by COLUMN" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--engine", "postgres", "--table", "t"], "--engine postgres needs --dsn"),
    (["--engine", "spark"], "--engine spark needs --logs"),
    (["--engine", "postgres", "--dsn", "postgresql://127.0.0.1:1/x", "--table", "t"],
     "cannot connect to PostgreSQL"),
    # Options of another engine are refused, not ignored: --dsn alone ran on the example log.
    (["--dsn", "postgresql://x", "--table", "t"], "--dsn is for --engine postgres, not duckdb"),
    (["--master", "local[2]"], "--master is for --engine spark, not duckdb"),
    (["--engine", "spark", "--logs", "x.parquet", "--threads", "2"],
     "--threads is for --engine duckdb, not spark; drop it"),
    (["--engine", "postgres", "--dsn", "x", "--table", "t", "--memory-limit", "2GB"],
     "--memory-limit is for --engine duckdb"),
    (["--reuse-exact", "--reuse-sample", "0.5"], "give --reuse-exact or --reuse-sample, not both"),
    (["--engine", "spark", "--logs", "x.parquet", "--previous", "old.json"],
     "--previous runs on DuckDB only, not --engine spark"),
])
def test_engine_errors_are_clear(args: list[str], message: str, tmp_path: Path) -> None:
    result = run_cli("export", *args, "--out", str(tmp_path / "x.json"))
    assert result.code == 1
    assert result.stderr.startswith("Error: ") and message in result.stderr


def test_declared_gap_auto_wave_bytes(tmp_path: Path) -> None:
    """A known gap, declared: the MRC-based wave budgets sum in HUGEINT (DuckDB only)."""
    opts = options({}, wave_bytes_auto=True)
    with pytest.raises(ParameterError, match="--wave-bytes auto runs on DuckDB only"):
        build_with_engine(EngineOptions("spark"), ["x.parquet"], opts)


def text_requests(table: pa.Table) -> pa.Table:
    """The same log with request ids as text (UUID-like ids are common)."""
    i = table.column_names.index("request")
    text = pa.array([None if r is None else f"req-{r}" for r in table.column("request").to_pylist()])
    return table.set_column(i, "request", text)


@pytest.mark.parametrize(("order", "requests"), [("request-first-touch", "integer"),
                                                 ("request-first-touch", "text")])
def test_spark_coaccess_layouts_are_byte_identical(order: str, requests: str, spark: Any,
                                                   tmp_path: Path) -> None:
    table, extra = fixture_log("text")
    if requests == "text":
        table = text_requests(table)
    files = write_files(table, tmp_path)
    expected, _ = build_wave_spec(files, options(extra, order=order))
    got, _ = build_with_engine(EngineOptions("spark"), files, options(extra, order=order),
                               spark=spark)
    assert dumps(got) == dumps(expected)


def test_spark_reads_a_file_name_with_glob_characters_as_itself(spark: Any, tmp_path: Path) -> None:
    table, extra = fixture_log("text")
    path = str(tmp_path / "x[1].parquet")
    pq.write_table(table, path)
    pq.write_table(table.slice(0, 3), tmp_path / "x1.parquet")  # what a pattern would read
    expected, _ = build_wave_spec([path], options(extra))
    got, _ = build_with_engine(EngineOptions("spark"), [path], options(extra), spark=spark)
    assert dumps(got) == dumps(expected)


def test_postgres_coaccess_layout_with_text_requests(pg_dsn: str, tmp_path: Path) -> None:
    table, extra = fixture_log("text")
    table = text_requests(table)
    opts = dict(extra, order="request-first-touch", order_col="ts")
    expected, _ = build_wave_spec(write_files(table, tmp_path), options(opts))
    load_postgres(pg_dsn, "access_log_text_requests", table)
    got, con = build_with_engine(EngineOptions("postgres", dsn=pg_dsn,
                                               table="access_log_text_requests"), [], options(opts))
    con.engine.close()  # type: ignore[attr-defined]
    del got["source"], expected["source"]
    assert dumps(got) == dumps(expected)


def test_postgres_missing_table_and_column(pg_dsn: str, tmp_path: Path) -> None:
    result = run_cli("export", "--engine", "postgres", "--dsn", pg_dsn, "--table", "nope",
                     "--out", str(tmp_path / "x.json"))
    assert result.code == 1 and "table 'nope' not found" in result.stderr
    load_postgres(pg_dsn, "cols_log", nasty_text())
    result = run_cli("export", "--engine", "postgres", "--dsn", pg_dsn, "--table", "cols_log",
                     "--key", "kee", "--out", str(tmp_path / "x.json"))
    assert result.code == 1 and 'Did you mean "key"?' in result.stderr


def test_postgres_under_an_icu_collation_still_matches(pg_dsn: str, tmp_path: Path) -> None:
    """A database whose default collation is ICU en-US (where 'b/0001' sorts before 'B/0003')
    gives DuckDB's WaveSpec all the same: every order breaks ties by hash60 before the key, and
    the binding compares text keys under COLLATE "C" for the rest."""
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS sqlwave_icu")
        admin.execute("CREATE DATABASE sqlwave_icu LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
                      "LOCALE 'C.utf8' TEMPLATE template0")
    dsn = pg_dsn.rsplit("/", 1)[0] + "/sqlwave_icu"
    with psycopg.connect(dsn) as probe:  # the control: this database does not sort by bytes
        order = probe.execute("SELECT x FROM (VALUES ('B/0003'), ('b/0001')) AS v(x) "
                              "ORDER BY x").fetchall()
        assert order == [("b/0001",), ("B/0003",)]
    table, extra = fixture_log("text")
    # Accesses ordered by a text column whose byte order differs from en-US order ('B...' < 'a...'
    # in bytes): the binding orders it under COLLATE "C" too.
    tags = [f"{'aB'[i % 2]}{(i * 37) % table.num_rows:06d}" for i in range(table.num_rows)]
    table = table.append_column("tag", pa.array(tags))
    expected, _ = build_wave_spec(write_files(table, tmp_path), options(extra, order_col="tag"))
    load_postgres(dsn, "access_log", table)
    got, con = build_with_engine(EngineOptions("postgres", dsn=dsn, table="access_log"), [],
                                 options(extra, order_col="tag"))
    con.engine.close()  # type: ignore[attr-defined]
    del got["source"], expected["source"]
    assert dumps(got) == dumps(expected)


def test_spark_overflow_stops_the_export_even_with_ansi_off(spark: Any, tmp_path: Path) -> None:
    # Spark 3.5's default: sums past 2^63 wrapped, and the WaveSpec showed negative bytes.
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"key": ["a", "b", "a"], "size": [2**62] * 3}), path)
    spark.conf.set("spark.sql.ansi.enabled", "false")
    try:
        with pytest.raises(Exception, match="(?i)overflow"):
            build_with_engine(EngineOptions("spark"), [str(path)],
                              ExportOptions(size_col="size"), spark=spark)
        # The caller's session keeps its own setting afterwards.
        assert spark.conf.get("spark.sql.ansi.enabled") == "false"
    finally:
        spark.conf.set("spark.sql.ansi.enabled", "true")


def test_spark_start_up_lines_stay_off_the_terminal(tmp_path: Path) -> None:
    # A process of its own: in this one the fixture's JVM has already started.
    pq.write_table(pa.table({"key": ["a.b.c", "a.b.d", "a.b.c"]}), tmp_path / "x.parquet")
    result = run_cli_process("export", "--engine", "spark", "--master", "local[1]",
                             "--logs", str(tmp_path / "x.parquet"), "--out", str(tmp_path / "x.json"))
    assert result.returncode == 0, result.stderr
    # Only the summary: no log4j profile, hostname or native-library warnings, no pandas notice.
    assert result.stderr.startswith(f"wrote {tmp_path / 'x.json'}"), result.stderr
    assert not any(w in result.stderr for w in ("log4j", "WARN", "Warning")), result.stderr


def test_spark_that_cannot_start_says_why(tmp_path: Path) -> None:
    pq.write_table(pa.table({"key": ["a"]}), tmp_path / "x.parquet")
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java")}
    result = subprocess.run([str(Path(sys.executable).parent / "sqlwave"), "export", "--engine",
                             "spark", "--logs", str(tmp_path / "x.parquet"), "--out",
                             str(tmp_path / "x.json")], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 1 and result.stderr.startswith("Error: Spark did not start")
    # What the launcher said, kept off the terminal while Spark starts, is in the message.
    assert "no-java/bin/java" in result.stderr and "Check Java 17" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(("engine", "module", "extra"), [
    ("spark", "pyspark", "spark"), ("postgres", "psycopg", "postgres")])
def test_missing_engine_package_is_a_clear_error(engine: str, module: str, extra: str,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    import sys

    # A None entry in sys.modules makes `import` fail as if the package were not installed.
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, module, None)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"key": ["a"]}), tmp_path / "x.parquet")
    where = (["--logs", str(tmp_path / "x.parquet")] if engine == "spark"
             else ["--dsn", "postgresql://127.0.0.1/x", "--table", "t"])
    result = run_cli("export", "--engine", engine, *where, "--out", str(tmp_path / "x.json"))
    assert result.code == 1
    assert f"is not installed; run: pip install 'sqlwave[{extra}]'" in result.stderr


def test_postgres_timestamptz_keys_do_not_depend_on_the_server_settings(pg_dsn: str,
                                                                        tmp_path: Path) -> None:
    # A database may set its time zone, DateStyle and float digits: keys read
    # '02/01/2024 03:04:05 UTC' and every ratio had 15 digits before the session fixed them.
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS sqlwave_tokyo")
        admin.execute("CREATE DATABASE sqlwave_tokyo")
        for setting in ("timezone = 'Asia/Tokyo'", "DateStyle = 'SQL, DMY'",
                        "extra_float_digits = 0", "IntervalStyle = 'sql_standard'"):
            admin.execute(f"ALTER DATABASE sqlwave_tokyo SET {setting}")
    dsn = pg_dsn.rsplit("/", 1)[0] + "/sqlwave_tokyo"
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("CREATE TABLE stamps AS SELECT i AS seq, TIMESTAMPTZ '2024-01-02 03:04:05+00' "
                    "+ (i % 3) * INTERVAL '1 hour' AS key FROM generate_series(0, 8) AS g(i)")
    log = tmp_path / "stamps.parquet"
    duckdb.sql("COPY (SELECT i AS seq, TIMESTAMPTZ '2024-01-02 03:04:05+00' + (i % 3) * "
               f"INTERVAL 1 HOUR AS key FROM range(9) t(i)) TO '{log}'")
    opts = ExportOptions(order_col="seq", prefix_len=7)
    expected, _ = build_wave_spec([str(log)], opts)
    got, con = build_with_engine(EngineOptions("postgres", dsn=dsn, table="stamps"), [], opts)
    con.engine.close()  # type: ignore[attr-defined]
    assert {e["key"] for e in got["pack_order"]["inline"]} == {
        f"2024-01-02 0{h}:04:05+00" for h in (3, 4, 5)}
    assert got["metrics"]["reuse_ratio"] == expected["metrics"]["reuse_ratio"] == 2 / 3
    del got["source"], expected["source"]
    assert dumps(got) == dumps(expected)


@pytest.mark.parametrize("encoding", ["LATIN1", "SQL_ASCII"])
def test_postgres_database_not_in_utf8_is_refused(pg_dsn: str, encoding: str,
                                                  tmp_path: Path) -> None:
    # md5() and substr() work on the database's bytes: LATIN1 changed every tie-break,
    # SQL_ASCII cut prefixes inside characters (and psycopg gave column names as bytes).
    import psycopg

    name = f"sqlwave_{encoding.lower()}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name} ENCODING '{encoding}' LOCALE 'C' "
                      "TEMPLATE template0")
    dsn = pg_dsn.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("CREATE TABLE log AS SELECT 1 AS seq, 'a.b' AS key")
    result = run_cli("export", "--engine", "postgres", "--dsn", dsn, "--table", "log",
                     "--order-by", "seq", "--out", str(tmp_path / "w.json"))
    assert result.code == 1, result.stderr
    assert f"has encoding {encoding}; sqlwave needs UTF8" in result.stderr


def test_postgres_string_settings_and_search_path_cannot_change_the_export(pg_dsn: str,
                                                                        tmp_path: Path) -> None:
    """A database may turn standard_conforming_strings off (a backslash in a literal became an
    escape: a delimiter broke out of its quotes) and put pg_temp last on the search_path (a table
    public.sqlwave_log stood in for the bound log)."""
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS sqlwave_odd")
        admin.execute("CREATE DATABASE sqlwave_odd ENCODING 'UTF8' TEMPLATE template0")
        admin.execute("ALTER DATABASE sqlwave_odd SET standard_conforming_strings = off")
        admin.execute("ALTER DATABASE sqlwave_odd SET search_path = public, pg_temp")
    dsn = pg_dsn.rsplit("/", 1)[0] + "/sqlwave_odd"
    keys = ["C:\\logs\\a.bin", "C:\\logs\\b.bin", "D:\\x\\c.bin", "C:\\logs\\a.bin"]
    table = pa.table({"key": keys, "size": [4096] * 4, "seq": list(range(4))})
    load_postgres(dsn, "access_log", table)
    with psycopg.connect(dsn, autocommit=True) as planted:
        planted.execute("CREATE TABLE public.sqlwave_log AS SELECT 'planted' AS key, "
                        "CAST(1 AS BIGINT) AS size, CAST(NULL AS BIGINT) AS request, "
                        "CAST(0 AS BIGINT) AS pos")
    opts = ExportOptions(size_col="size", order_col="seq", delimiter="\\", depth=2)
    expected, _ = build_wave_spec(write_files(table, tmp_path), opts)
    got, con = build_with_engine(EngineOptions("postgres", dsn=dsn, table="access_log"), [], opts)
    con.engine.close()  # type: ignore[attr-defined]
    assert [c["cohort"] for c in got["cohorts"]] == ["C:\\logs", "D:\\x"]
    del got["source"], expected["source"]
    assert dumps(got) == dumps(expected)


def test_spark_reads_names_and_literals_as_written(spark: Any, tmp_path: Path) -> None:
    """Spark replaced `${...}` inside quoted names and literals (a key column `k${x}` read column
    `k`; `${env:HOME}` became a path), and f.col read an --order-by name `t.s` as field s of t."""
    n = 6
    table = pa.table({"k${x}": [f"a${{env:HOME}}{i % 3}" for i in range(n)],
                      "k": ["z"] * n, "size": [4096] * n, "t.s": list(range(n, 0, -1))})
    opts = ExportOptions(key_col="k${x}", size_col="size", order_col="t.s",
                         delimiter="${env:HOME}", depth=1, order="first-touch")
    files = write_files(table, tmp_path)
    expected, _ = build_wave_spec(files, opts)
    got, _ = build_with_engine(EngineOptions("spark"), files, opts, spark=spark)
    assert [e["key"] for e in got["pack_order"]["inline"]][0].startswith("a${env:HOME}")
    del got["source"], expected["source"]
    assert dumps(got) == dumps(expected)
