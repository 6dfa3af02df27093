"""DuckDB over Parquet: the connection, its settings, and the access log as a view.

The log becomes the view `sqlwave_log(key, size, request, pos)`: the key normalised (bytes as hex
text), sizes as BIGINT, and a dense access position in file order, so every macro sees one shape
whatever the user's column names. Identifiers and strings are quoted, never pasted: by the
same rule sqlglot applies for DuckDB (tests/test_quoting.py checks the two agree), without
importing sqlglot, which would cost an export 50 ms of its start-up.
"""

from __future__ import annotations

import glob
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from sqlwave.errors import InputError, ParameterError

if TYPE_CHECKING:  # pyarrow costs 0.1 s and 40 MB at start-up; exports never need it
    import pyarrow as pa

INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "HUGEINT", "UHUGEINT")
TEXT_TYPES = ("VARCHAR",)
BYTES_TYPES = ("BLOB",)


def quote(name: str) -> str:
    """Quote an identifier for DuckDB so that any column name is safe.

    >>> quote('my "key"; DROP TABLE x')
    '"my ""key""; DROP TABLE x"'
    """
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A SQL string literal.

    >>> literal("it's")
    "'it''s'"
    """
    return "'" + value.replace("'", "''") + "'"


class _EarlyStart:
    """An in-memory database being created in a thread, for the next connect() to take."""

    def __init__(self) -> None:
        self.con: duckdb.DuckDBPyConnection | None = None
        # Not a daemon: a command that fails before connect() must wait for it at exit (20 ms);
        # a process that exits while DuckDB is still starting up aborts (exit code 134).
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.con = duckdb.connect(":memory:")
        except Exception:  # connect() then connects in line and reports the error itself
            self.con = None

    def take(self) -> duckdb.DuckDBPyConnection | None:
        self.thread.join()
        return self.con


_early: _EarlyStart | None = None


def start_early() -> None:
    """Start the database of the next connect() now, in a thread. DuckDB's start-up (~20 ms)
    releases the GIL, so a command that calls this before its remaining imports (jinja2, the
    export modules: ~20 ms) gets its connection for free."""
    global _early
    _early = _early or _EarlyStart()


def connect(
    memory_limit: str | None = None,
    temp_directory: str | None = None,
    threads: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that spills to `temp_directory` past `memory_limit`."""
    global _early
    early, _early = _early, None
    con = (early.take() if early else None) or duckdb.connect(":memory:")
    if memory_limit:
        _set(con, "memory_limit", memory_limit)
    if temp_directory:
        Path(temp_directory).mkdir(parents=True, exist_ok=True)
        _set(con, "temp_directory", temp_directory)
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    # Output must not depend on the order threads finish in; every query orders explicitly, and
    # this keeps scans in file order for the position column.
    con.execute("SET preserve_insertion_order = true")
    return con


def _set(con: duckdb.DuckDBPyConnection, name: str, value: str) -> None:
    try:
        con.execute(f"SET {name} = {literal(value)}")
    except duckdb.Error as e:
        raise ParameterError(f"cannot set {name} to {value!r}: {first_line(e)}") from e


def first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def fetch_arrow(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Run a query and return an Arrow table (DuckDB 1.5 and 2.x spell this differently)."""
    rel = con.sql(sql)
    if hasattr(rel, "to_arrow_table"):
        return rel.to_arrow_table()
    return rel.arrow()  # pragma: no cover - DuckDB < 1.4


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=False)) for row in cur.fetchall()]


@dataclass
class LogSource:
    """Where the log came from, as recorded in the WaveSpec."""

    files: list[str] = field(default_factory=list)
    file_rows: list[int] = field(default_factory=list)
    file_bytes: list[int] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    kind: str = "parquet"


def expand_paths(logs: str | os.PathLike[str] | list[str] | list[os.PathLike[str]]) -> list[str]:
    """Resolve a path, glob, folder or list of them to sorted Parquet files; fail clearly."""
    items: list[str | os.PathLike[str]] = (
        [logs] if isinstance(logs, (str, os.PathLike)) else list(logs)
    )
    if not items:
        raise InputError("no log files given; pass --logs PATH (a file, folder or glob)")
    files: list[str] = []
    for item in items:
        text = os.fspath(item)
        if glob.has_magic(text):
            found = sorted(glob.glob(text, recursive=True))
            if not found:
                raise InputError(f"no files match {text!r}; check the pattern and quote it in the shell")
            files.extend(f for f in found if os.path.isfile(f))
        elif os.path.isdir(text):
            found = sorted(glob.glob(os.path.join(text, "**", "*.parquet"), recursive=True))
            if not found:
                raise InputError(f"folder {text!r} holds no .parquet files")
            files.extend(found)
        elif os.path.isfile(text):
            files.append(text)
        else:
            raise InputError(f"log file {text!r} does not exist; check the path")
    for f in files:
        _check_parquet(f)
    return files


def _check_parquet(path: str) -> None:
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size >= 8:
            fh.seek(-4, os.SEEK_END)
            tail = fh.read(4)
        else:
            tail = b""
    if head != b"PAR1" or tail != b"PAR1":
        raise InputError(f"{path!r} is not a Parquet file (no PAR1 magic); convert it to Parquet first")
