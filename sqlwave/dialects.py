"""Every per-dialect difference, as data.

Macros are written once, in DuckDB SQL restricted to the portable subset; `render.py` transpiles
them with sqlglot. What sqlglot's output still gets wrong on a real engine is recorded here, one
field per difference, so that templates never branch on the target dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlwave.errors import ParameterError, did_you_mean


@dataclass(frozen=True)
class Dialect:
    """A target: the sqlglot dialect that writes it, and the fixes its real engine needs."""

    name: str
    sqlglot: str
    # sqlglot expression class name -> the engine function to call instead (same arguments).
    functions: dict[str, str] = field(default_factory=dict)
    # How the results were checked: 'run' (a real engine in tests/test_engines.py) or
    # 'reparse' (sqlglot re-parses the output in that dialect; no engine runs here).
    # Query-level settings appended as a SETTINGS clause (ClickHouse only).
    settings: dict[str, str] = field(default_factory=dict)
    # False where the engine rejects NULLS FIRST/LAST inside OVER (...): the window order
    # columns of every macro are never NULL, so the engine's default placement is equivalent.
    window_null_order: bool = True
    proof: str = "run"
    note: str = ""


DIALECTS: dict[str, Dialect] = {
    d.name: d
    for d in (
        Dialect("duckdb", "duckdb", note="the reference engine"),
        Dialect("postgres", "postgres", note="PostgreSQL 15; order text keys under the C "
                "collation (initdb -E UTF8 --locale=C or COLLATE \"C\") to match DuckDB's byte "
                "order; the database must be UTF8"),
        Dialect("spark", "spark", note="Spark 3.5+/4.x and Databricks; set "
                "spark.sql.ansi.enabled = true, so that overflow fails instead of wrapping"),
        # ClickHouse's substring/position/length count bytes; the UTF8 variants count characters
        # (https://clickhouse.com/docs/sql-reference/functions/string-functions#substringutf8).
        # ClickHouse also lets an output alias shadow an input column anywhere in the SELECT
        # (usage's `max(size) AS size` would make `sum(size)` an aggregate of an aggregate);
        # https://clickhouse.com/docs/operations/settings/settings#prefer_column_name_to_alias
        Dialect("clickhouse", "clickhouse", functions={
            "Substring": "substringUTF8",
            "StrPosition": "positionUTF8",
            "Length": "lengthUTF8",
        }, settings={"prefer_column_name_to_alias": "1"}, note="ClickHouse (proven with chDB)"),
        # sqlglot has no DataFusion dialect; DataFusion's SQL follows PostgreSQL's
        # (https://datafusion.apache.org/user-guide/sql/index.html).
        Dialect("datafusion", "postgres", note="Apache DataFusion, written as sqlglot 'postgres'"),
        Dialect("snowflake", "snowflake", proof="reparse", note="cannot run here"),
        # https://cloud.google.com/bigquery/docs/reference/standard-sql/window-function-calls
        Dialect("bigquery", "bigquery", window_null_order=False, proof="reparse",
                note="cannot run here"),
        Dialect("trino", "trino", proof="reparse", note="cannot run here (also Presto/Athena)"),
    )
}


def dialect(name: str) -> Dialect:
    """Look up a target dialect by name; a mistyped name gets a suggestion.

    >>> dialect("clickhouse").functions["Substring"]
    'substringUTF8'
    >>> dialect("sparc")
    Traceback (most recent call last):
    ...
    sqlwave.errors.ParameterError: unknown dialect 'sparc'; ... Did you mean "spark"?
    """
    if name not in DIALECTS:
        raise ParameterError(
            f"unknown dialect {name!r}; choose one of {', '.join(DIALECTS)}." + did_you_mean(name, DIALECTS)
        )
    return DIALECTS[name]
