"""Bind an access log (Parquet files, an Arrow table or a DuckDB relation) as `sqlwave_log`."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from sqlwave.checks import text
from sqlwave.engine import (
    BYTES_TYPES,
    INTEGER_TYPES,
    TEXT_TYPES,
    LogSource,
    duckdb_path,
    expand_paths,
    explain,
    first_line,
    literal,
    quote,
)
from sqlwave.errors import InputError, did_you_mean
from sqlwave.log_files import (
    base_type,
    check_files_agree,
    some,
    top_level_types,
    warn_nanoseconds_lost,
    warn_repeated,
)

if TYPE_CHECKING:
    import pyarrow as pa

LOG_VIEW = "sqlwave_log"
RAW_VIEW = "sqlwave_raw"
WIDE = ("UBIGINT", "HUGEINT", "UHUGEINT")  # integer types a BIGINT cannot hold


@dataclass
class BoundLog:
    """The bound log: its source and the normalised key type ('string', 'integer' or 'bytes')."""

    source: LogSource
    key_type: str
    has_size: bool
    has_request: bool
    # The statements that made the views, when they read only files: replayed on a second cursor
    # of the same database (temp views are per cursor), they give it the same log.
    views: list[str] | None = None
    size_col: str | None = None
    # Request ids are compared only; integers stay BIGINT, any other type becomes text.
    request_integer: bool = True


def bind_log(
    con: duckdb.DuckDBPyConnection,
    logs: Any,
    key_col: str,
    size_col: str | None = None,
    request_col: str | None = None,
    order_col: str | None = None,
    warn: bool = True,
) -> BoundLog:
    """Create the views `sqlwave_raw` (the user's columns) and `sqlwave_log` (normalised).

    Accesses are positioned in file order, or by `order_col` (e.g. a timestamp; ties keep file
    order) when the files are not in access order. `warn`: print warnings about the files
    (False when the same log is bound again).
    """
    text("key_col", key_col)
    for name, value in (("size_col", size_col), ("request_col", request_col),
                        ("order_col", order_col)):
        text(name, value, optional=True)
    used = [c for c in (key_col, size_col, request_col, order_col) if c is not None]
    source, raw_view, schema = _bind_raw(con, logs, used, warn)
    types = _column_types(con)
    source.columns = types
    for col in used:
        if col not in types:
            raise _only_in_empty_files(con, source, col) or _not_in_log(col, types)
    read = ([f for f, n in zip(source.files, source.file_rows, strict=True) if n]
            if source.files else [])
    if len(read) > 1:
        strict = [c for c in (key_col, size_col, order_col) if c is not None]
        check_files_agree(con, read, strict, [request_col] if request_col else [])
    for name in dict.fromkeys(c for c in (key_col, order_col) if c is not None and warn):
        warn_nanoseconds_lost(con, read, name, types[name],
                              schema.field(name).type if schema is not None else None)
    key_type, key_sql = _key_expression(key_col, types[key_col])
    if warn and base_type(types[key_col]) in ("FLOAT", "DOUBLE"):
        _warn_whole_floats(con, key_col)
    size_sql = "CAST(1 AS BIGINT)"
    if size_col is not None:
        if base_type(types[size_col]) not in INTEGER_TYPES:
            raise InputError(
                f"size column {size_col!r} has type {types[size_col]}, not an integer byte count; "
                "cast it to BIGINT or leave out --size (size_col= in Python)"
            )
        size_sql = f"CAST({quote(size_col)} AS BIGINT)"
    request_sql = "CAST(NULL AS BIGINT)"
    # Request ids are labels: ones wider than BIGINT (UINT64 ids at 2^63 and up) are read as text.
    request_integer = request_col is None or (base_type(types[request_col]) in INTEGER_TYPES
                                              and base_type(types[request_col]) not in WIDE)
    if request_col is not None:
        request_sql = f"CAST({quote(request_col)} AS {'BIGINT' if request_integer else 'VARCHAR'})"
    pos_sql = "sqlwave_pos"
    if order_col is not None:
        pos_sql = (f"CAST(row_number() OVER (ORDER BY {quote(order_col)} ASC NULLS LAST, "
                   "sqlwave_pos ASC) - 1 AS BIGINT)")
    view = (f"CREATE OR REPLACE TEMP VIEW {LOG_VIEW} AS SELECT {key_sql} AS key, {size_sql} AS size, "
            f"{request_sql} AS request, {pos_sql} AS pos FROM {RAW_VIEW}")
    con.execute(view)
    views = [raw_view, view] if raw_view else None
    return BoundLog(source, key_type, size_col is not None, request_col is not None, views,
                    size_col, request_integer)


def sizes_valid_by_footer(con: duckdb.DuckDBPyConnection, log: BoundLog) -> bool:
    """True when the Parquet footers show no NULL and no negative size in any row group of any
    file; False when one might have one, or when a footer lacks the statistics to tell.

    The usage scan then skips the two aggregates that look for them (10 % of its time).
    """
    if not log.has_size:
        return True  # every size is the constant 1
    if log.source.kind != "parquet" or not log.size_col or not log.source.files:
        return False
    files = "[" + ", ".join(literal(duckdb_path(f)) for f in log.source.files) + "]"
    rows = con.execute(
        "SELECT file_name, row_group_id, "
        "bool_or(path_in_schema = ? AND stats_null_count = 0 AND TRY_CAST(stats_min_value AS "
        f"HUGEINT) >= 0) FROM parquet_metadata({files}) GROUP BY ALL",
        [log.size_col],
    ).fetchall()
    return all(ok for _, _, ok in rows)


def is_integer_column(log: BoundLog, name: str) -> bool:
    """Whether the bound log has a column `name` of an integer type."""
    return base_type(log.source.columns.get(name, "")) in INTEGER_TYPES


def _key_expression(key_col: str, type_name: str) -> tuple[str, str]:
    base = base_type(type_name)
    if base in INTEGER_TYPES:
        return "integer", f"CAST({quote(key_col)} AS BIGINT)"
    if base in TEXT_TYPES:
        return "string", quote(key_col)
    if base in BYTES_TYPES:
        # Bytes keys travel as lower-case hex text: printable in JSON, same on every engine;
        # a prefix of n bytes is a prefix of 2n hex digits.
        return "bytes", f"lower(hex({quote(key_col)}))"
    if "[" in type_name or base in ("STRUCT", "MAP", "UNION", "LIST"):
        raise InputError(f"key column {key_col!r} has type {type_name}; use a text, bytes or integer column")
    return "string", f"CAST({quote(key_col)} AS VARCHAR)"


def _warn_whole_floats(con: duckdb.DuckDBPyConnection, key_col: str) -> None:
    """Floating-point keys are read as text ('3.0'), never as addresses. pandas writes an integer
    column with a missing value as float64: when every key is whole, say how to get addresses."""
    whole = con.execute(f"SELECT bool_and({quote(key_col)} = round({quote(key_col)})) "
                        f"FROM {RAW_VIEW}").fetchone()
    if whole and whole[0]:
        print(f"Warning: key column {key_col!r} is floating point and every key is a whole "
              "number (pandas writes integer columns with missing values so): the keys are read "
              "as text such as '3.0'; cast the column to an integer type for addresses and "
              "extents of the keys themselves", file=sys.stderr)


def _only_in_empty_files(con: duckdb.DuckDBPyConnection, source: LogSource,
                         col: str) -> InputError | None:
    """The files without rows are not read, so a column that only they have is not in the log:
    say so, rather than list the columns of the others."""
    if not source.files:  # an Arrow table
        return None
    empty = [f for f, n in zip(source.files, source.file_rows, strict=True) if not n]
    if not empty or len(empty) == len(source.files):
        return None
    holding = [f for f, cols in top_level_types(con, empty).items() if col.lower() in cols]
    if not holding:
        return None
    return InputError(f"column {col!r} is only in log files without rows ({some(holding)}); the "
                      "files with rows have no such column: add it to them, or leave the option "
                      "out")


def _not_in_log(col: str, types: dict[str, str]) -> InputError:
    clash = [n for n in types if n.lower() == col.lower()]
    renamed = [n for n in types if re.fullmatch(re.escape(col.lower()) + r"_\d+", n.lower())]
    if clash and renamed:  # `Key` and `key`: DuckDB renamed the second `key_1`
        return InputError(f"the log has columns {clash[0]!r} and {col!r}, which differ only in "
                          "case; DuckDB reads names without regard to case (it renamed one "
                          f"{renamed[0]!r}): rename one of them in the log")
    return InputError(f"column {col!r} is not in the log (columns: {', '.join(types)})."
                      + did_you_mean(col, types))


def _column_types(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    cur = con.execute(f"DESCRIBE SELECT * EXCLUDE (sqlwave_pos) FROM {RAW_VIEW}")
    # DuckDB 2 names the type of an all-NULL column (what pandas writes for all-None) '"NULL"',
    # quotes included; the WaveSpec records it as NULL.
    return {row[0]: "NULL" if row[1] == '"NULL"' else str(row[1]) for row in cur.fetchall()}


def _bind_raw(con: duckdb.DuckDBPyConnection, logs: Any, used: list[str],
              warn: bool = True) -> tuple[LogSource, str | None, pa.Schema | None]:
    """Create RAW_VIEW; return the source, for files the statement that made the view, for an
    Arrow table (or a relation, read as one) its schema."""
    if isinstance(logs, duckdb.DuckDBPyRelation):
        try:
            logs = logs.to_arrow_table() if hasattr(logs, "to_arrow_table") else logs.arrow()
        except duckdb.Error as e:  # e.g. its connection was closed
            raise InputError(f"cannot read the DuckDB relation: {first_line(e)}") from e
    # pyarrow is not imported for Parquet paths (it is the slowest import of a CLI run); if it
    # was never imported, `logs` cannot be an Arrow table.
    arrow = sys.modules.get("pyarrow")
    if arrow is not None and isinstance(logs, arrow.Table):
        return _bind_arrow(con, logs, used), None, logs.schema
    files = expand_paths(logs)
    if warn:
        warn_repeated(files)
    return (*_bind_parquet(con, files), None)


def _reserved(name: str) -> InputError:
    return InputError(f"the log has a column named {name!r}, which sqlwave needs for its own use "
                      "(file and position of each access); rename that column in the log")


def _bind_arrow(con: duckdb.DuckDBPyConnection, table: pa.Table, used: list[str]) -> LogSource:
    if "sqlwave_pos" in {n.lower() for n in table.column_names}:
        raise _reserved("sqlwave_pos")
    for col in used:
        if table.column_names.count(col) > 1:
            raise InputError(f"the table has {table.column_names.count(col)} columns named "
                             f"{col!r}; rename all but one")
    try:
        _register_arrow(con, table)
    except duckdb.Error:
        # A column DuckDB cannot read (float16, a union), or none at all: no reason to fail
        # when the log's own columns are fine, so bind those alone.
        names = table.column_names
        only = table.select([names.index(c) for c in dict.fromkeys(used) if c in names])
        if only.num_columns == 0:
            raise _not_in_log(used[0], dict.fromkeys(names, "")) from None
        try:
            _register_arrow(con, only)
        except duckdb.Error as e:
            raise InputError(f"DuckDB cannot read the table's columns: {first_line(e)}") from e
    return LogSource(file_rows=[table.num_rows], kind="arrow")


def _register_arrow(con: duckdb.DuckDBPyConnection, table: pa.Table) -> None:
    con.register("sqlwave_arrow", table)
    # Arrow tables have no file row numbers; the window keeps the table's own row order.
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {RAW_VIEW} AS "
        "SELECT *, CAST(row_number() OVER () - 1 AS BIGINT) AS sqlwave_pos FROM sqlwave_arrow"
    )
    con.execute(f"DESCRIBE {RAW_VIEW}").fetchall()  # unsupported types fail here, not later


def _bind_parquet(con: duckdb.DuckDBPyConnection, files: list[str]) -> tuple[LogSource, str]:
    rows, sizes = [], []
    for f in files:
        try:
            found = con.execute("SELECT num_rows FROM parquet_file_metadata(?)",
                                [duckdb_path(f)]).fetchone()
        except duckdb.OutOfMemoryException as e:
            raise explain(e) from e
        except duckdb.Error as e:
            raise InputError(f"cannot read Parquet file {f!r}: {first_line(e)}") from e
        rows.append(int(found[0]) if found else 0)
        sizes.append(os.path.getsize(f))
    # Files without rows hold no accesses, and read with the others their types would still
    # count (an empty file of bytes keys turned every text key into hex): left out.
    read = [(f, n) for f, n in zip(files, rows, strict=True) if n] or [(files[0], 0)]
    file_list = "[" + ", ".join(literal(duckdb_path(f)) for f, _ in read) + "]"
    # Position = rows in earlier files + row number in this file: dense and in file order,
    # without a window over every row.
    offsets, total = [], 0
    for _, n in read:
        offsets.append(total)
        total += n
    if len(read) == 1:
        pos = "file_row_number"
    else:
        # file_index is DuckDB's virtual column: the file's place in the list (each entry is
        # one file, its glob characters escaped). The file name would not do: DuckDB gives it
        # back normalised, differently from one version to the next.
        cases = " ".join(f"WHEN {i} THEN {o}" for i, o in enumerate(offsets))
        pos = f"file_row_number + CASE file_index {cases} END"
    view = (f"CREATE OR REPLACE TEMP VIEW {RAW_VIEW} AS "
            f"SELECT * EXCLUDE (file_row_number), CAST({pos} AS BIGINT) AS sqlwave_pos "
            f"FROM read_parquet({file_list}, file_row_number = true, union_by_name = true, "
            # A `name=value` folder in a path is not a column: DuckDB's Hive detection put
            # `runs/key=v2/log.parquet`'s folder value in place of every key.
            "hive_partitioning = false)")
    try:
        con.execute(view)
        names = [row[0] for row in con.execute(f"DESCRIBE {RAW_VIEW}").fetchall()]
    except duckdb.Error as e:
        if "file_row_number" in str(e):  # our option clashes with a column of the files
            raise _reserved("file_row_number") from e
        raise InputError(f"cannot read the log files: {first_line(e)}") from e
    if names[-1] != "sqlwave_pos":  # DuckDB renamed ours: the files have one of that name
        raise _reserved("sqlwave_pos")
    if len(read) > 1 and "file_index" in {n.lower() for n in names}:  # it would hide the
        # virtual column (names are case-insensitive: `File_Index` did, and moved every access)
        raise _reserved("file_index")
    return LogSource(files=files, file_rows=rows, file_bytes=sizes, kind="parquet"), view
