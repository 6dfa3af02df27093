"""Real engines for the dialect matrix: load an Arrow table, create a table from SQL, fetch rows.

Each engine runs the SQL that `sqlwave.render` writes for its dialect, nothing else. PostgreSQL
is a real server started here (initdb + pg_ctl in a temporary folder, 127.0.0.1 only, as a
non-root user because CI runs as root) and stopped at the end of the test session.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def _pg_bin() -> Path:
    if "SQLWAVE_PG_BIN" in os.environ:
        return Path(os.environ["SQLWAVE_PG_BIN"])
    found = shutil.which("initdb") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))), None)
    return Path(found).parent if found else Path("/usr/local/bin")


PG_BIN = _pg_bin()
PG_TYPES = {pa.int64(): "BIGINT", pa.int32(): "INTEGER", pa.string(): "TEXT",
            pa.large_string(): "TEXT", pa.float64(): "DOUBLE PRECISION"}


class Engine:
    def close(self) -> None:
        """Release the connection (engines without one have nothing to do)."""


class DuckDB(Engine):
    dialect = "duckdb"

    def __init__(self) -> None:
        import duckdb

        self.con = duckdb.connect()

    def load(self, name: str, table: pa.Table) -> None:
        self.con.register(f"{name}_arrow", table)
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")

    def create(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql.rstrip().rstrip(';')}")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.con.execute(sql.rstrip().rstrip(";")).fetchall()]


class Postgres(Engine):
    dialect = "postgres"

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.con = psycopg.connect(dsn, autocommit=True)

    def load(self, name: str, table: pa.Table) -> None:
        cols = ", ".join(f'"{f.name}" {PG_TYPES[f.type]}' for f in table.schema)
        self.con.execute(f"DROP TABLE IF EXISTS {name}")
        self.con.execute(f"CREATE TABLE {name} ({cols})")
        with self.con.cursor() as cur, cur.copy(f"COPY {name} FROM STDIN") as copy:
            for row in table.to_pylist():
                copy.write_row(tuple(row.values()))

    def create(self, name: str, sql: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {name}")
        self.con.execute(f"CREATE TABLE {name} AS {sql.rstrip().rstrip(';')}")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.con.execute(sql.rstrip().rstrip(";")).fetchall()]

    def close(self) -> None:
        self.con.close()


class Spark(Engine):
    dialect = "spark"

    def __init__(self, spark: Any) -> None:
        self.spark = spark

    def load(self, name: str, table: pa.Table) -> None:
        self.spark.createDataFrame(table).createOrReplaceTempView(name)

    def create(self, name: str, sql: str) -> None:
        df = self.spark.sql(sql.rstrip().rstrip(";")).localCheckpoint()
        df.createOrReplaceTempView(name)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.spark.sql(sql.rstrip().rstrip(";")).collect()]


class DataFusion(Engine):
    dialect = "datafusion"

    def __init__(self) -> None:
        import datafusion

        self.ctx = datafusion.SessionContext()

    def load(self, name: str, table: pa.Table) -> None:
        if self.ctx.table_exist(name):
            self.ctx.deregister_table(name)
        self.ctx.from_arrow(table, name=name)

    def create(self, name: str, sql: str) -> None:
        self.load(name, self.ctx.sql(sql.rstrip().rstrip(";")).to_arrow_table())

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        table = self.ctx.sql(sql.rstrip().rstrip(";")).to_arrow_table()
        return [tuple(r.values()) for r in table.to_pylist()]


class ClickHouse(Engine):
    dialect = "clickhouse"

    def __init__(self, folder: Path) -> None:
        from chdb import session

        self.folder = folder
        self.session = session.Session(str(folder / "chdb"))

    def load(self, name: str, table: pa.Table) -> None:
        path = self.folder / f"{name}.parquet"
        pq.write_table(table, path)
        self.session.query(f"DROP TABLE IF EXISTS {name}")
        self.session.query(f"CREATE TABLE {name} ENGINE = Memory AS "
                           f"SELECT * FROM file('{path}', Parquet)")

    def create(self, name: str, sql: str) -> None:
        self.session.query(f"DROP TABLE IF EXISTS {name}")
        self.session.query(f"CREATE TABLE {name} ENGINE = Memory AS {sql.rstrip().rstrip(';')}")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        table = self.session.query(sql.rstrip().rstrip(";"), "ArrowTable")
        return [tuple(r.values()) for r in table.to_pylist()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root, so the server runs as `nobody`.
    return ["runuser", "-u", "nobody", "--", *args] if os.geteuid() == 0 else args


def postgres_server() -> Iterator[str]:
    """Start a throwaway PostgreSQL 15 on 127.0.0.1 and yield its DSN; stop and delete it after."""
    folder = Path(tempfile.mkdtemp(prefix="sqlwave-pg-"))
    data, port = folder / "data", free_port()
    if os.geteuid() == 0:
        shutil.chown(folder, user="nobody")
    try:
        # C locale: text sorts by bytes, as in DuckDB (an ICU collation would not).
        subprocess.run(_as_server_user([str(PG_BIN / "initdb"), "-D", str(data), "--locale=C",
                                        "-E", "UTF8", "--auth=trust", "-U", "postgres"]),
                       check=True, capture_output=True, timeout=120)
        subprocess.run(_as_server_user([
            str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off", "start"]),
            check=True, capture_output=True, timeout=120)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_server_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast",
                                        "stop"]), capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def spark_session() -> Any:
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("sqlwave-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.sql.session.timeZone", "UTC")
               .getOrCreate())
    # Global windows on per-key aggregates are by design; Spark's warning about them is noise.
    session.sparkContext.setLogLevel("ERROR")
    return session


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A PostgreSQL server for the whole test session."""
    if not (PG_BIN / "initdb").is_file():
        pytest.fail(f"PostgreSQL binaries not found in {PG_BIN}; install postgresql-15 "
                    "(see .ci/run) or set SQLWAVE_PG_BIN")
    yield from postgres_server()


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local[2] Spark session for the whole test session."""
    session = spark_session()
    yield session
    session.stop()
