"""DuckDB over Parquet: the connection, its settings, and the access log as a view.

The log becomes the view `sqlwave_log(key, size, request, pos)`: the key normalised (bytes as hex
text), sizes as BIGINT, and a dense access position in file order, so every macro sees one shape
whatever the user's column names. Identifiers and strings are quoted, never pasted: by the
same rule sqlglot applies for DuckDB (tests/test_quoting.py checks the two agree), without
importing sqlglot, which would cost an export 50 ms of its start-up.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from sqlwave.checks import check_threads
from sqlwave.errors import InputError, ParameterError, SqlwaveError
from sqlwave.signals import interruptible

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
    if threads is not None:
        check_threads(threads)
    if memory_limit is not None and memory_limit.strip().startswith("-"):
        # DuckDB reads a negative limit as none at all
        raise ParameterError(f"memory limit must be positive, e.g. 2GB, got {memory_limit!r}")
    if temp_directory:
        try:
            Path(temp_directory).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ParameterError(f"cannot use {temp_directory!r} as the temp directory: "
                                 f"{e.strerror or e}; give a folder you can write") from e
    con = (early.take() if early else None) or duckdb.connect(":memory:")
    if memory_limit:
        _set(con, "memory_limit", memory_limit)
    _set(con, "temp_directory", temp_directory or _own_spill_folder())
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    # Timestamps with a time zone turn into key text in the session's zone: pin it, or the
    # WaveSpec would depend on the machine's TZ.
    con.execute("SET GLOBAL TimeZone = 'UTC'")  # GLOBAL: cursors (the reuse pass) too
    # Output must not depend on the order threads finish in; every query orders explicitly, and
    # this keeps scans in file order for the position column.
    con.execute("SET preserve_insertion_order = true")
    interruptible.add(con)
    return con


def _own_spill_folder() -> str:
    """Where DuckDB spills when the user names no folder: one of ours in the system temp folder,
    removed at exit (DuckDB's own default is `.tmp` in the working directory, and a process
    stopped mid-spill left gigabytes there)."""
    global _spill
    if _spill is None:
        _spill = os.path.join(tempfile.gettempdir(), f"sqlwave-spill-{os.getpid()}")
        atexit.register(shutil.rmtree, _spill, True)
    return _spill


_spill: str | None = None


def _set(con: duckdb.DuckDBPyConnection, name: str, value: str) -> None:
    try:
        con.execute(f"SET {name} = {literal(value)}")
    except duckdb.Error as e:
        raise ParameterError(f"cannot set {name} to {value!r}: {first_line(e)}") from e


def explain(error: duckdb.Error) -> SqlwaveError:
    """A DuckDB error that got past the checks, with what to do about it."""
    text = first_line(error)
    if _overflows(error, text):
        text = text.split(" when casting from source column")[0]  # which is our SQL, not theirs
        if re.search(r"\b(UINT64|UBIGINT)\b", text):
            # An unsigned 64-bit key at or above 2^63 (a 64-bit hash, not an address): no
            # option of ours fixes that, the column's type does.
            return InputError(
                f"a number overflows 64-bit integers ({text}); integer keys are addresses or "
                "block numbers below 2^63: keys such as 64-bit hashes are names, so write the "
                "key column as text or bytes (CAST(key AS VARCHAR)); sizes must stay below "
                "2^63 too")
        return InputError(
            f"a number overflows 64-bit integers ({text}); integer keys times the key scale, "
            "sizes and their sums must stay below 2^63: check the key and size columns and "
            "--key-scale")
    if isinstance(error, duckdb.OutOfMemoryException):
        return InputError(f"DuckDB ran out of memory ({text}); raise --memory-limit, or set "
                          "--temp-directory to a disk with room to spill (in Python: "
                          "engine={'memory_limit': ..., 'temp_directory': ...})")
    return SqlwaveError(f"DuckDB failed: {text} (`sqlwave --debug ...` shows the traceback)")


def _overflows(error: duckdb.Error, text: str) -> bool:
    """DuckDB's integer overflow: an out-of-range error, or a failed cast of a number (a UBIGINT
    key above 2^63 cast to BIGINT, a sum past INT128's cast back to BIGINT)."""
    lower = text.lower()
    if isinstance(error, duckdb.OutOfRangeException) or "overflow" in lower:
        return True
    numeric = any(t in text for t in ("INT64", "INT128", "UINT64", "BIGINT", "HUGEINT"))
    return isinstance(error, duckdb.ConversionException) and numeric and (
        "can't be cast" in lower or "out of range" in lower)


@contextlib.contextmanager
def explained_overflow() -> Iterator[None]:
    """Turn DuckDB's integer overflow into an InputError that names the likely cause."""
    try:
        yield
    except duckdb.Error as e:
        error = explain(e)
        if isinstance(error, InputError):
            raise error from e
        raise


def first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def fetch_arrow(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Run a query and return an Arrow table (DuckDB 1.5 and 2.x spell this differently)."""
    rel = con.sql(sql)
    table = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
    # DuckDB hands results over in chunks of its own choosing (122,880 rows and up); one chunk
    # per column lets to_dlpack_columns pass every column on without a copy.
    if any(column.num_chunks > 1 for column in table.columns):
        table = table.combine_chunks()
    return table


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
    """Resolve a path, glob, folder or list of them to Parquet files; fail clearly.

    A list keeps its order (it is the order of the accesses); a glob or folder gives its files
    in sorted path order. A folder, also one a glob matches (e.g. Hive partitions
    `logs/date=*`), stands for the .parquet files under it. An existing file is itself even
    when its name has glob characters.
    """
    items = [logs] if isinstance(logs, (str, os.PathLike)) else logs
    if not isinstance(items, (list, tuple)):
        raise _not_a_log(items)
    if not items:
        raise InputError("no log files given; pass --logs PATH (a file, folder or glob; in "
                         "Python, the logs argument)")
    files: list[str] = []
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise _not_a_log(item)
        text = os.fspath(item)
        if os.path.isfile(text):
            files.append(text)
        elif os.path.isdir(text):
            found = _folder_files(text)
            if not found:
                raise InputError(f"folder {text!r} holds no .parquet files")
            files.extend(found)
        elif glob.has_magic(text):
            # `logs/**` matches a folder and the files in it: each file once
            matched: dict[str, str] = {}
            for f in glob.glob(text, recursive=True):
                for g in _folder_files(f) if os.path.isdir(f) else [f] if os.path.isfile(f) else []:
                    matched.setdefault(os.path.normpath(g), g)
            if not matched:
                raise InputError(f"no files match {text!r}; check the pattern and quote it in the shell")
            files.extend(matched[k] for k in sorted(matched))
        else:
            raise InputError(f"log file {text!r} does not exist; check the path")
    for f in files:
        _check_parquet(f)
    return files


def _not_a_log(obj: Any) -> InputError:
    # A pandas DataFrame would otherwise be iterated as its column names, read as paths.
    return InputError(
        f"cannot read a log from a {type(obj).__name__}; give a Parquet path, glob, folder or "
        "list of them, a pyarrow.Table (pyarrow.Table.from_pandas for a DataFrame) or a DuckDB "
        "relation"
    )


def _folder_files(folder: str) -> list[str]:
    pattern = os.path.join(glob.escape(folder), "**", "*.parquet")
    return sorted(f for f in glob.glob(pattern, recursive=True) if os.path.isfile(f))


def duckdb_path(path: str) -> str:
    """`path` as DuckDB reads it literally: DuckDB expands glob characters even in a list of
    files, so a file named `x[1].parquet` would read as `x1.parquet` (glob.escape: `[[]`).
    DuckDB's patterns also take a backslash as an escape, and no spelling of a path with both
    a backslash and a glob character matched its file, so such a path is refused."""
    if "\\" in path and any(c in path for c in "*?["):
        raise InputError(f"{path!r}: DuckDB cannot read a file whose path has both a backslash "
                         "and a glob character (* ? [); rename it, or link it under another name")
    return glob.escape(path)


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


def interrupt_until(con: duckdb.DuckDBPyConnection, finished: threading.Event,
                    patience: float = 10.0) -> None:
    """Interrupt DuckDB on `con` until a worker thread's query ends (`finished` is set), for at
    most `patience` seconds: DuckDB drops an interrupt that comes between two queries, and
    planning a query does not always stop (the worker is then left behind; it is a daemon
    thread). A second signal while stopping does not end the wait."""
    give_up = time.monotonic() + patience
    while not finished.is_set() and time.monotonic() < give_up:
        try:
            con.interrupt()
            finished.wait(0.05)
        except KeyboardInterrupt:
            continue
