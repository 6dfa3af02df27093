"""Jinja -> DuckDB SQL -> sqlglot -> target SQL.

A macro renders to DuckDB SQL in the portable subset (`macros.render`); sqlglot writes it in the
target dialect with `unsupported_level=RAISE`, so a lossy translation fails loudly; then the
dialect's data (`dialects.py`) fixes what sqlglot gets wrong on the real engine. A whole-file
override `macros/<name>.<dialect>.sql`, when one exists, is rendered instead and not transpiled.
"""

from __future__ import annotations

from typing import Any

import sqlglot
import sqlglot.expressions as exp
from sqlglot.errors import ErrorLevel, SqlglotError

from sqlwave.dialects import Dialect, dialect
from sqlwave.errors import ParameterError
from sqlwave.macros import environment, macros_dir
from sqlwave.macros import render as render_duckdb


def render(name: str, target: str = "duckdb", **params: Any) -> str:
    """Render macro `name` for the `target` dialect.

    >>> "CAST(key AS STRING)" in render("usage", "spark", src="log", key="key", size="size",
    ...                                  pos="pos", request=None)
    True
    """
    d = dialect(target)
    override = macros_dir() / f"{name}.{d.name}.sql"
    if override.is_file():
        return environment().get_template(override.name).render(**params).strip() + "\n"
    return transpile(render_duckdb(name, **params), d.name)


def transpile(sql: str, target: str) -> str:
    """One DuckDB query written for `target`; raises ParameterError when sqlglot cannot.

    >>> transpile("SELECT substr(k, 1, 2) AS p FROM t", "clickhouse").splitlines()[1]
    '  substringUTF8(k, 1, 2) AS p'
    """
    d = dialect(target)
    if d.name == "duckdb":
        return sql.strip() + "\n"
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
        tree = _apply(tree, d)
        out: str = tree.sql(dialect=d.sqlglot, pretty=True, unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as e:
        raise ParameterError(f"cannot write this SQL for {d.name}: {e}") from e
    return out.strip() + "\n"


def _apply(tree: Any, d: Dialect) -> Any:
    # DuckDB accepts FROM (subquery) without an alias; PostgreSQL 15 does not.
    for i, sub in enumerate(tree.find_all(exp.Subquery)):
        if not sub.alias and isinstance(sub.parent, (exp.From, exp.Join)):
            sub.set("alias", exp.TableAlias(this=exp.to_identifier(f"_sqlwave_{i}")))
    if not d.window_null_order:
        for window in tree.find_all(exp.Window):
            for ordered in window.find_all(exp.Ordered):
                # Ascending with NULLs first is the engine default: sqlglot then writes no clause.
                ordered.set("nulls_first", not ordered.args.get("desc"))
    if d.name == "snowflake":
        # Snowflake reserves every ANSI keyword (ROWS, a column of metrics.sql, among them) and
        # sqlglot's writer quotes none. Quoted in upper case, a name means what it does unquoted.
        for ident in tree.find_all(exp.Identifier):
            if not ident.quoted and ident.name.upper() in SNOWFLAKE_RESERVED:
                ident.set("this", ident.name.upper())
                ident.set("quoted", True)
    if d.settings:
        tree.set("settings", [exp.EQ(this=exp.column(k), expression=exp.Literal.number(v))
                              for k, v in d.settings.items()])
    if not d.functions:
        return tree

    # Children before parents, so a call nested in a replaced call is replaced too.
    for node in reversed(list(tree.walk(bfs=False))):
        name = d.functions.get(type(node).__name__)
        if name is not None:
            node.replace(exp.Anonymous(this=name, expressions=_arguments(node)))
    return tree


# docs.snowflake.com/en/sql-reference/reserved-keywords: the keywords reserved by ANSI or by
# Snowflake, or barred as column names or references.
SNOWFLAKE_RESERVED = frozenset("""
    ALL ALTER AND ANY AS BETWEEN BY CASE CAST CHECK COLUMN CONNECT CONSTRAINT CREATE CROSS CURRENT
    CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER DELETE DISTINCT DROP ELSE EXISTS FALSE
    FOLLOWING FOR FROM FULL GRANT GROUP HAVING ILIKE IN INCREMENT INNER INSERT INTERSECT INTO IS
    JOIN LATERAL LEFT LIKE LOCALTIME LOCALTIMESTAMP MINUS NATURAL NOT NULL OF ON OR ORDER QUALIFY
    REGEXP REVOKE RIGHT RLIKE ROW ROWS SAMPLE SELECT SET SOME START TABLE TABLESAMPLE THEN TO
    TRIGGER TRUE TRY_CAST UNION UNIQUE UPDATE USING VALUES WHEN WHENEVER WHERE WITH
""".split())  # noqa: SIM905 - read as the docs list them


def _arguments(node: Any) -> list[Any]:
    # Positional order of the engine functions: substring(s, start, len), position(s, needle),
    # length(s); sqlglot names them this/start/length and this/substr.
    order = ("this", "substr", "start", "length")
    return [node.args[k] for k in order if node.args.get(k) is not None]
