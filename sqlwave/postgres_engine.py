"""PostgreSQL behind the engine interface, and a table bound as the view `sqlwave_log`.

The log is a table (`--table`, optionally schema-qualified). Accesses are positioned by
`order_col`, which is required: a table has no row order (physical order, `ctid`, is not even
insertion order after one COPY: rows with long text land out of order), so ties fall back to it
only as a last resort. Text keys and a text order column are compared under the "C" collation,
so ordering is by bytes as in DuckDB whatever the database's locale. The session's settings
that change how values read are fixed (time zone UTC, as DuckDB's; ISO dates; every float digit),
whatever the database or role sets, and the database must be UTF8: md5() and substr() work on
its bytes.
"""

from __future__ import annotations

from typing import Any

from sqlwave.engine import LogSource, quote
from sqlwave.errors import InputError, did_you_mean
from sqlwave.log import LOG_VIEW, BoundLog
from sqlwave.warehouse import require

INTEGER = ("smallint", "integer", "bigint")
TEXT = ("text", "character varying", "character", "name")


class PostgresEngine:
    """A psycopg connection (autocommit); temporary tables live as long as it does."""

    dialect = "postgres"

    def __init__(self, con: Any) -> None:
        self.con = con

    @classmethod
    def connect(cls, dsn: str) -> PostgresEngine:
        psycopg = require("psycopg", "postgres")
        try:
            con = psycopg.connect(dsn, autocommit=True)
        except (psycopg.OperationalError, psycopg.ProgrammingError) as e:
            raise InputError(f"cannot connect to PostgreSQL ({str(e).strip()}); check --dsn") from e
        # A database or role may set these: DateStyle 'SQL, DMY' made timestamp keys
        # '02/01/2024 03:04:05 UTC', extra_float_digits = 0 rounded every share to 15 digits.
        # standard_conforming_strings = off made a backslash in a literal an escape: a delimiter
        # of `\' ...` broke out of its quotes.
        for setting in ("TIME ZONE 'UTC'", "DateStyle = 'ISO, MDY'", "IntervalStyle = 'postgres'",
                        "extra_float_digits = 3", "standard_conforming_strings = on"):
            con.execute(f"SET {setting}")
        encoding = con.execute("SHOW server_encoding").fetchone()[0]
        if isinstance(encoding, bytes):  # psycopg gives SQL_ASCII text as bytes
            encoding = encoding.decode("ascii", "replace")
        if encoding.upper() not in ("UTF8", "UTF-8"):
            con.close()
            # Hashes (md5), prefix lengths and delimiter positions work on the database's bytes:
            # LATIN1 changed every tie-break; SQL_ASCII cut prefixes inside characters.
            raise InputError(f"the PostgreSQL database has encoding {encoding}; sqlwave needs "
                             "UTF8 (create the database WITH ENCODING 'UTF8', or initdb -E UTF8)")
        return cls(con)

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        cur = self.con.execute(sql)
        return [d.name for d in cur.description], [tuple(r) for r in cur.fetchall()]

    def create_temp(self, name: str, sql: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
        self.con.execute(f"CREATE TEMP TABLE {name} AS {sql}")

    def close(self) -> None:
        self.con.close()


def bind_postgres(engine: PostgresEngine, table: str, key_col: str, size_col: str | None = None,
                  request_col: str | None = None, order_col: str | None = None) -> BoundLog:
    """Bind `table` as the temporary view `sqlwave_log(key, size, request, pos)`."""
    relation, types = _columns(engine, table)
    # sqlwave's objects are temporary and named plainly: a role's search_path of `public,
    # pg_temp` let a table public.sqlwave_log stand in for the bound view.
    engine.con.execute("SET search_path = pg_temp, pg_catalog")
    for col in (key_col, size_col, request_col, order_col):
        if col is not None and col not in types:
            raise InputError(f"column {col!r} is not in {table} (columns: {', '.join(types)})."
                             + did_you_mean(col, types))
    if order_col is None:
        raise InputError("a PostgreSQL table has no row order to position accesses by: pass "
                         "--order-by COLUMN (a sequence number or timestamp in access order)")
    key_type, key = _key(key_col, types[key_col])
    size = "CAST(1 AS BIGINT)"
    if size_col is not None:
        if types[size_col] not in INTEGER:
            raise InputError(f"size column {size_col!r} has type {types[size_col]}, not an "
                             "integer byte count; cast it to bigint or leave out --size")
        size = f"CAST({quote(size_col)} AS BIGINT)"
    request_integer = request_col is None or types[request_col] in INTEGER
    request = "CAST(NULL AS BIGINT)"
    if request_col:
        request = f"CAST({quote(request_col)} AS {'BIGINT' if request_integer else 'TEXT'})"
    collate = ' COLLATE "C"' if types[order_col] in TEXT else ""
    order = f"{quote(order_col)}{collate} ASC NULLS LAST, ctid ASC"
    engine.con.execute(
        f"CREATE OR REPLACE TEMP VIEW {LOG_VIEW} AS SELECT {key} AS key, {size} AS size, "
        f"{request} AS request, CAST(row_number() OVER (ORDER BY {order}) - 1 AS BIGINT) AS pos "
        f"FROM {relation}")
    rows = int(engine.con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0])
    source = LogSource(files=[], file_rows=[rows], file_bytes=[], columns=types, kind="postgres")
    return BoundLog(source, key_type, size_col is not None, request_col is not None,
                    request_integer=request_integer)


def _columns(engine: PostgresEngine, table: str) -> tuple[str, dict[str, str]]:
    try:
        # Schema-qualified always: the search_path is pinned to pg_temp once the log is found.
        relation = engine.con.execute(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class AS c "
            "JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE c.oid = %s::regclass",
            (table,)).fetchone()[0]
    except Exception as e:  # psycopg raises UndefinedTable; the message is what matters
        engine.con.rollback() if not engine.con.autocommit else None
        raise InputError(f"table {table!r} not found in PostgreSQL; check --table "
                         "(schema-qualify it if it is not on the search_path)") from e
    rows = engine.con.execute(
        "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = "
        "%s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (table,)).fetchall()
    return str(relation), {str(n): str(t) for n, t in rows}


def _key(key_col: str, type_name: str) -> tuple[str, str]:
    k = quote(key_col)
    if type_name in INTEGER:
        return "integer", f"CAST({k} AS BIGINT)"
    if type_name == "bytea":
        return "bytes", f'encode({k}, \'hex\') COLLATE "C"'
    if type_name.endswith("[]") or type_name in ("json", "jsonb", "record"):
        raise InputError(f"key column {key_col!r} has type {type_name}; use a text, bytea or "
                         "integer column")
    return "string", f'CAST({k} AS TEXT) COLLATE "C"'
