"""Spark behind the engine interface, and the access log bound as the view `sqlwave_log`.

Spark reads the Parquet files itself. The access position is each row's index in its file plus
the rows of the earlier files (`_metadata.row_index`, Spark 3.5+), so no window runs over the raw
log: every global window in the macros runs on the per-key aggregate (usage) instead.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from sqlwave.engine import connect, first_line, quote
from sqlwave.errors import InputError, SqlwaveError
from sqlwave.log import LOG_VIEW, BoundLog, bind_log
from sqlwave.warehouse import require

# Session settings an export runs under (ansi_mode): overflow fails, `${...}` is text, and a
# backslash in a string literal is an escape, as the rendered SQL assumes.
PINNED = {"spark.sql.ansi.enabled": "true", "spark.sql.variable.substitute": "false",
          "spark.sql.parser.escapedStringLiterals": "false"}


class SparkEngine:
    """A pyspark session: `local[*]`, `local[2]` or a cluster master URL."""

    dialect = "spark"

    def __init__(self, spark: Any) -> None:
        self.spark = spark

    @classmethod
    def start(cls, master: str = "local[*]", quiet: bool = True) -> SparkEngine:
        """Start (or join) a Spark session. `quiet`: the JVM's start-up lines (log4j profile,
        hostname and native-library warnings, about ten per run) stay off the terminal; they
        are shown in the error when Spark does not start."""
        sql = require("pyspark.sql", "spark")
        builder = (sql.SparkSession.builder.master(master).appName("sqlwave")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.session.timeZone", "UTC"))
        if not quiet or sql.SparkSession.getActiveSession() is not None:
            spark = builder.getOrCreate()
        else:
            with tempfile.TemporaryFile() as log:
                try:
                    with _stderr_to(log):
                        spark = builder.getOrCreate()
                except Exception as e:
                    raise SqlwaveError(f"Spark did not start ({first_line(e)}); it said:\n"
                                       f"{_tail(log)}\nCheck Java 17 (java -version, JAVA_HOME) "
                                       "and --master") from e
        # Spark warns at every global window; here they run on per-key aggregates, by design.
        spark.sparkContext.setLogLevel("ERROR")
        return cls(spark)  # the export runs it under ansi_mode, which sets PINNED

    @contextlib.contextmanager
    def ansi_mode(self) -> Iterator[None]:
        """The settings in PINNED meanwhile, then the session's own back. Overflow must stop the
        export, as on DuckDB and PostgreSQL: with ANSI off (Spark 3.5's default) sizes summed
        past 2^63 wrapped to negative bytes, and keys above 2^63 to negative keys. And the SQL
        text must mean what it says: Spark replaces `${...}` (`${env:HOME}` too) inside quoted
        names and string literals before it parses, and reads backslashes in literals as they
        are when escapedStringLiterals is on."""
        before = {name: self.spark.conf.get(name, None) for name in PINNED}
        for name, value in PINNED.items():
            self.spark.conf.set(name, value)
        try:
            yield
        finally:
            for name, value in before.items():
                if value is None:
                    self.spark.conf.unset(name)
                else:
                    self.spark.conf.set(name, value)

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        df = self.spark.sql(sql)
        return list(df.columns), [tuple(r) for r in df.collect()]

    def create_temp(self, name: str, sql: str) -> None:
        # A checkpointed result, not a lazy view: later steps read it several times.
        self.spark.sql(sql).localCheckpoint().createOrReplaceTempView(name)

    def plan(self, sql: str) -> str:
        """The physical plan Spark chose for a query (for tests and debugging)."""
        return str(self.spark.sql(sql)._jdf.queryExecution().executedPlan().toString())


@contextlib.contextmanager
def _stderr_to(log: Any) -> Iterator[None]:
    """File descriptor 2 on `log` meanwhile. The JVM starts in here and keeps that file as its
    stderr, so its later warnings stay off the terminal too; Spark's errors still reach the
    user, as the Python exceptions they raise. Without a file descriptor 2, nothing to do."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        os.dup2(log.fileno(), 2)
        yield
    finally:
        if sys.stderr is not None:
            sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _tail(log: Any, lines: int = 12) -> str:
    log.seek(0)
    text = log.read().decode("utf-8", "replace").strip().splitlines()
    return "\n".join("  " + line for line in text[-lines:]) or "  (nothing)"


def bind_spark(engine: SparkEngine, logs: Any, key_col: str, size_col: str | None = None,
               request_col: str | None = None, order_col: str | None = None) -> BoundLog:
    """Bind Parquet logs on Spark as `sqlwave_log(key, size, request, pos)`.

    The files' metadata (schema, row counts, fingerprint) is read by DuckDB without scanning
    them, so the WaveSpec's `source` section and every validation message are the same as on
    DuckDB; Spark does the scanning.
    """
    if not isinstance(logs, (str, list, tuple)):
        raise InputError("--engine spark reads Parquet files; pass paths, a folder or a glob")
    log = bind_log(connect(), list(logs) if isinstance(logs, tuple) else logs, key_col, size_col,
                   request_col, order_col)
    frames, offset = [], 0
    f = require("pyspark.sql.functions", "spark")
    files = list(zip(log.source.files, log.source.file_rows, strict=True))
    # Files without rows are left out, as on DuckDB (their types would still count).
    for path, rows in [(p, n) for p, n in files if n] or files[:1]:
        df = engine.spark.read.parquet(hadoop_path(path))
        frames.append(df.select("*", (f.col("_metadata.row_index") + offset).alias("sqlwave_pos")))
        offset += rows
    raw = functools.reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
    if order_col is not None:
        raw = _positioned_by(raw, order_col)
    raw.createOrReplaceTempView("sqlwave_raw")
    columns = _columns(log, key_col, size_col, request_col)
    engine.spark.sql(f"CREATE OR REPLACE TEMP VIEW {LOG_VIEW} AS SELECT {columns} FROM sqlwave_raw")
    return log


def hadoop_path(path: str) -> str:
    r"""`path` as Spark reads it literally: Hadoop expands glob characters in any path, so
    `x[1].parquet` would read `x1.parquet`; a backslash escapes them.

    >>> print(hadoop_path("logs/x[1]{a,b}*?.parquet"))
    logs/x\[1\]\{a,b\}\*\?.parquet
    """
    return re.sub(r"([\\\[\]{}*?])", r"\\\1", path)


def _positioned_by(raw: Any, order_col: str) -> Any:
    # A distributed sort then zipWithIndex (per-partition counts), not a window over all rows.
    f = require("pyspark.sql.functions", "spark")
    # Quoted: f.col reads `t.s` as field s of a column t.
    ordered = raw.orderBy(f.col(_q(order_col)).asc_nulls_last(), f.col("sqlwave_pos").asc())
    schema = ordered.drop("sqlwave_pos").schema
    indexed = ordered.drop("sqlwave_pos").rdd.zipWithIndex().map(lambda r: (*r[0], r[1]))
    types = require("pyspark.sql.types", "spark")
    return indexed.toDF(types.StructType([*schema.fields, types.StructField(
        "sqlwave_pos", types.LongType(), False)]))


def _columns(log: BoundLog, key_col: str, size_col: str | None, request_col: str | None) -> str:
    k = _q(key_col)
    key = {"integer": f"CAST({k} AS BIGINT)", "bytes": f"lower(hex({k}))",
           "string": f"CAST({k} AS STRING)"}[log.key_type]
    size = f"CAST({_q(size_col)} AS BIGINT)" if size_col else "CAST(1 AS BIGINT)"
    request = "CAST(NULL AS BIGINT)"
    if request_col:
        request = f"CAST({_q(request_col)} AS {'BIGINT' if log.request_integer else 'STRING'})"
    return f"{key} AS key, {size} AS size, {request} AS request, sqlwave_pos AS pos"


def _q(name: str) -> str:
    # Spark quotes identifiers with backticks; DuckDB's quoting escapes the name first.
    inner = quote(name)[1:-1].replace('""', '"')
    return "`" + inner.replace("`", "``") + "`"
