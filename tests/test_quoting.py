"""Identifier and string quoting: the same text sqlglot writes for DuckDB, and DuckDB reads it
back unchanged, for names built to break naive quoting."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot.expressions as exp

from sqlwave.engine import literal, quote

NASTY = [
    "key",
    "my key",
    'my "key"',
    '""',
    "'; DROP TABLE x; --",
    'a"; DROP TABLE x; --',
    "it's",
    "back\\slash\\",
    "a\\'b",
    "new\nline\ttab",
    "ключ",
    "鍵",
    "emoji 🗝",
    "select",
    "x' OR '1'='1",
    "$1",
    "?",
    "/* comment */",
    "`backtick`",
    "[bracket]",
]


@pytest.mark.parametrize("name", [*NASTY, ""])
def test_quote_matches_sqlglot(name: str) -> None:
    assert quote(name) == exp.to_identifier(name, quoted=True).sql(dialect="duckdb")
    assert literal(name) == exp.Literal.string(name).sql(dialect="duckdb")


@pytest.mark.parametrize("name", NASTY)
def test_duckdb_reads_quoted_text_back(name: str) -> None:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT {literal(name)} AS {quote(name)}")
    assert con.execute("SELECT column_name FROM information_schema.columns "
                       "WHERE table_name = 't'").fetchall() == [(name,)]
    assert con.execute(f"SELECT {quote(name)} FROM t").fetchall() == [(name,)]
    assert con.execute("SELECT count(*) FROM information_schema.tables").fetchall() == [(1,)]
