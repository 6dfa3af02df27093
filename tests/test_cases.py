"""Data-driven SQL cases in a small sqllogictest-like format (tests/cases/*.test).

Each file runs in a fresh DuckDB with the shell macros loaded (sql/duckdb/sqlwave.sql). Records
are separated by blank lines:

    statement ok | statement error <text the error must contain>
    <sql>

    query <one letter per column: I integer, T text, R real>
    <sql>
    ----
    <expected rows, tab-separated; NULL for NULL; reals to 6 decimals>
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sqlwave.shell import shell_sql

CASES = sorted((Path(__file__).parent / "cases").glob("*.test"))


def records(path: Path) -> list[list[str]]:
    blocks, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        if line.strip() == "" and current:
            blocks.append(current)
            current = []
        elif line.strip():
            current.append(line)
    if current:
        blocks.append(current)
    return blocks


def show(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def run_record(con: duckdb.DuckDBPyConnection, block: list[str], where: str) -> None:
    head, body = block[0].split(), block[1:]
    if head[0] == "statement":
        sql = "\n".join(body)
        if head[1] == "ok":
            con.execute(sql)
            return
        expected = " ".join(head[2:])
        with pytest.raises(duckdb.Error) as info:
            con.execute(sql).fetchall()
        assert expected in str(info.value), f"{where}: {info.value}"
        return
    assert head[0] == "query", f"{where}: unknown record {head[0]!r}"
    split = body.index("----")
    sql, expected = "\n".join(body[:split]), body[split + 1:]
    rows = con.execute(sql).fetchall()
    got = ["\t".join(show(v) for v in row) for row in rows]
    assert all(len(row) == len(head[1]) for row in rows), f"{where}: column count != {head[1]}"
    assert got == expected, f"{where}\n{sql}"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case_file(path: Path) -> None:
    con = duckdb.connect()
    con.execute(shell_sql())
    for i, block in enumerate(records(path)):
        run_record(con, block, f"{path.name} record {i + 1}")
