"""`sqlwave export --engine spark|postgres`: the same export, with the SQL run by another engine.

The WaveSpec is byte-identical to DuckDB's on the same data (tests/test_export_engines.py); for
PostgreSQL the `source` section describes the table instead of files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlwave.errors import ParameterError
from sqlwave.export import build_on
from sqlwave.export_options import ExportOptions
from sqlwave.progress import Progress
from sqlwave.warehouse import EngineConnection

ENGINES = ("duckdb", "spark", "postgres")


@dataclass
class EngineOptions:
    """Where to run: the engine and its connection settings."""

    engine: str = "duckdb"
    master: str = "local[*]"
    dsn: str | None = None
    table: str | None = None

    def check(self, logs: list[str]) -> None:
        if self.engine not in ENGINES:
            raise ParameterError(f"unknown engine {self.engine!r}; choose one of {', '.join(ENGINES)}")
        if self.engine == "postgres" and (not self.dsn or not self.table):
            raise ParameterError("--engine postgres needs --dsn postgresql://... and --table NAME")
        if self.engine == "postgres" and logs:
            raise ParameterError("--engine postgres reads --table, not --logs; drop --logs")
        if self.engine == "spark" and not logs:
            raise ParameterError("--engine spark needs --logs (Parquet files, a folder or a glob)")


def previous_refused(engine: str) -> ParameterError:
    """Keeping a layout registers the old offsets as a local table, which only DuckDB has."""
    return ParameterError(f"--previous runs on DuckDB only, not --engine {engine}; export with "
                          "the default engine to keep a layout, or drop --previous")


def build_with_engine(where: EngineOptions, logs: list[str], opts: ExportOptions, *,
                      pack_order_out: str | None = None, progress: Progress | None = None,
                      spark: Any = None) -> tuple[dict[str, Any], EngineConnection]:
    """Run the export on Spark or PostgreSQL; `spark` reuses an existing SparkSession."""
    where.check(logs)
    opts.check()
    if opts.wave_bytes_auto:
        # The miss-ratio-curve pass (sqlwave/mrc.py) sums in HUGEINT, which Spark and
        # PostgreSQL lack; it has not been ported to the portable subset yet.
        raise ParameterError(f"--wave-bytes auto runs on DuckDB only, not --engine {where.engine}; "
                             "give explicit budgets (--wave-bytes 1GiB,8GiB) or drop --engine")
    if opts.previous is not None:
        raise previous_refused(where.engine)
    if where.engine == "spark":
        from sqlwave.spark_engine import SparkEngine, bind_spark

        spark_engine = SparkEngine(spark) if spark is not None else SparkEngine.start(where.master)
        with spark_engine.ansi_mode():
            log = bind_spark(spark_engine, logs, opts.key_col, opts.size_col, opts.request_col,
                             opts.order_col)
            con = EngineConnection(spark_engine)
            spec, _ = build_on(con, log, opts, pack_order_out=pack_order_out, progress=progress)
        return spec, con
    from sqlwave.postgres_engine import PostgresEngine, bind_postgres

    assert where.dsn is not None and where.table is not None
    pg = PostgresEngine.connect(where.dsn)
    try:
        log = bind_postgres(pg, where.table, opts.key_col, opts.size_col, opts.request_col,
                            opts.order_col)
        con = EngineConnection(pg)
        spec, _ = build_on(con, log, opts, pack_order_out=pack_order_out, progress=progress)
    except BaseException:
        pg.close()
        raise
    return spec, con


def pack_order_table(con: EngineConnection) -> Any:
    """The full pack order as an Arrow table (the DuckDB path COPYs it; other engines fetch)."""
    return con.sql("SELECT rank, key, size, aligned_size, byte_offset, hits, bytes "
                   "FROM sqlwave_pack ORDER BY rank ASC").to_arrow_table()


def export_to_file_with_engine(where: EngineOptions, logs: list[str], opts: ExportOptions,
                               out: str, pack_order_out: str | None) -> str:
    """The CLI's export on Spark or PostgreSQL: write `out` (and the sidecar), return a summary."""
    import pyarrow.parquet as pq

    from sqlwave.wavespec import sidecar_reference
    from sqlwave.writer import summary, write_spec

    named = sidecar_reference(pack_order_out, out) if pack_order_out else None
    spec, con = build_with_engine(where, logs, opts, pack_order_out=named, progress=Progress())
    try:
        table = pack_order_table(con) if pack_order_out else None
    finally:
        close = getattr(con.engine, "close", None)
        if close is not None:
            close()
    write_spec(spec, out, pack_order_out,
               lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    return summary(spec, out)
