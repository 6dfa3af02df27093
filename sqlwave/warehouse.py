"""Run the export's SQL on another engine: a small engine abstraction and a connection adapter.

The export (`export.py`, `session.py`, `reuse.py`) talks to a DuckDB connection with DuckDB SQL.
`EngineConnection` offers the few methods it uses (`execute`, `sql`) over any `SqlEngine`, and
writes every statement for the engine with `render.transpile`; `CREATE ... TABLE/VIEW name AS
query` becomes the engine's own way to materialise a temporary result. So one orchestration runs
on DuckDB, Spark and PostgreSQL, and the SQL each engine sees is the SQL the dialect matrix
proves (tests/test_engines.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa
import sqlglot
import sqlglot.expressions as exp

from sqlwave.errors import SqlwaveError
from sqlwave.render import transpile


class SqlEngine(Protocol):
    """What an engine must do: run a query in its own dialect, and keep a result as a table."""

    dialect: str

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and rows (plain Python values) of one query."""

    def create_temp(self, name: str, sql: str) -> None:
        """Materialise the query as a temporary relation `name`, replacing any earlier one."""


class MissingEngineError(SqlwaveError):
    """An optional engine's package is not installed."""


def require(module: str, extra: str) -> Any:
    """Import an optional engine's package or say which extra installs it.

    >>> require("sqlglot", "dev").__name__
    'sqlglot'
    >>> require("no_such_engine_pkg", "spark")
    Traceback (most recent call last):
    ...
    sqlwave.warehouse.MissingEngineError: no_such_engine_pkg is not installed; run: pip install ...
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingEngineError(
            f"{module} is not installed; run: pip install 'sqlwave[{extra}]'") from e


@dataclass
class _Cursor:
    description: list[tuple[str]]
    rows: list[tuple[Any, ...]]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None


@dataclass
class _Relation:
    names: list[str]
    rows: list[tuple[Any, ...]]

    def to_arrow_table(self) -> pa.Table:
        columns: list[list[Any]] = [[row[i] for row in self.rows] for i in range(len(self.names))]
        return pa.table(dict(zip(self.names, columns, strict=True)))


class EngineConnection:
    """The part of a DuckDB connection the export uses, over any engine.

    >>> con = EngineConnection(DuckDBEngine())
    >>> _ = con.execute("CREATE OR REPLACE TEMP TABLE t AS SELECT 1 AS a")
    >>> con.execute("SELECT a + 1 AS b FROM t").fetchall()
    [(2,)]
    """

    def __init__(self, engine: SqlEngine) -> None:
        self.engine = engine

    def execute(self, sql: str) -> _Cursor:
        tree = sqlglot.parse_one(sql, read="duckdb")
        if isinstance(tree, exp.Create) and isinstance(tree.expression, exp.Query):
            name = tree.this.name if isinstance(tree.this, exp.Table) else tree.this.this.name
            self.engine.create_temp(name, self._write(tree.expression.sql("duckdb")))
            return _Cursor([], [])
        names, rows = self.engine.query(self._write(sql))
        return _Cursor([(n,) for n in names], rows)

    def sql(self, sql: str) -> _Relation:
        names, rows = self.engine.query(self._write(sql))
        return _Relation(names, rows)

    def query_progress(self) -> float:
        return -1.0  # no progress figure from remote engines; the stage names still show

    def _write(self, sql: str) -> str:
        return transpile(sql, self.engine.dialect)


class DuckDBEngine:
    """DuckDB behind the engine interface: the reference, and a check of the adapter itself."""

    dialect = "duckdb"

    def __init__(self, con: Any = None) -> None:
        import duckdb

        self.con = con if con is not None else duckdb.connect()

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        cur = self.con.execute(sql)
        return [d[0] for d in cur.description], [tuple(r) for r in cur.fetchall()]

    def create_temp(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
