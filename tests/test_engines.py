"""Every macro, rendered for each engine's dialect, gives DuckDB's exact ordered rows on the real
engine; hash60 is the same everywhere; the dialects that cannot run here re-parse."""

from __future__ import annotations

import hashlib
from typing import Any

import pyarrow as pa
import pytest
import sqlglot
from engines import ClickHouse, DataFusion, DuckDB, Postgres, Spark
from matrix import (
    CHAIN,
    INTEGER_COHORTS,
    SMALL,
    Input,
    diff,
    nasty_integer,
    nasty_text,
    run_chain,
    trace_slice,
)
from support import shared_file

from sqlwave.dialects import DIALECTS
from sqlwave.embedding import script
from sqlwave.macros import environment
from sqlwave.render import transpile

pytestmark = pytest.mark.engines

# The engines that run here, by dialect. A known gap is declared here (engine, input, macro) ->
# (reason, exception type) and becomes a strict xfail; none is known today.
ENGINES = ["postgres", "spark", "datafusion", "clickhouse"]
KNOWN_GAPS: dict[tuple[str, str, str], tuple[str, type[BaseException]]] = {}

TRACE_COHORTS = {**INTEGER_COHORTS, "prefix_len": "3"}
INPUTS = {
    "text": Input("text", nasty_text, {**SMALL, "cohorts": {"delimiter": "'/'"}}),
    "integer": Input("integer", nasty_integer, {**SMALL, "cohorts": INTEGER_COHORTS}, "key"),
    "mooncake": Input("mooncake", lambda: trace_slice(str(shared_file("mooncake/synthetic.parquet"))),
                      {"cohorts": TRACE_COHORTS, "extents": {"page_size": "1048576"},
                       "waves": {"boundaries": ["1000000000", "20000000000"]}}),
}
_RESULTS: dict[tuple[str, str], dict[str, Any]] = {}
_TABLES: dict[str, pa.Table] = {}


def make_engine(name: str, request: pytest.FixtureRequest, tmp_path_factory: Any) -> Any:
    if name == "duckdb":
        return DuckDB()
    if name == "postgres":
        return Postgres(request.getfixturevalue("pg_dsn"))
    if name == "spark":
        return Spark(request.getfixturevalue("spark"))
    if name == "datafusion":
        return DataFusion()
    return ClickHouse(tmp_path_factory.mktemp("chdb"))


def results(engine: str, inp: str, request: pytest.FixtureRequest, tmp: Any) -> dict[str, Any]:
    if inp not in _TABLES:
        _TABLES[inp] = INPUTS[inp].table()
    if (engine, inp) not in _RESULTS:
        e = make_engine(engine, request, tmp)
        try:
            _RESULTS[engine, inp] = run_chain(e, INPUTS[inp], _TABLES[inp])
        finally:
            e.close()
    return _RESULTS[engine, inp]


@pytest.mark.parametrize("macro", CHAIN)
@pytest.mark.parametrize("inp", list(INPUTS))
@pytest.mark.parametrize("engine", ENGINES)
def test_same_rows_as_duckdb(engine: str, inp: str, macro: str, request: pytest.FixtureRequest,
                             tmp_path_factory: Any) -> None:
    gap = KNOWN_GAPS.get((engine, inp, macro))
    if gap:
        request.applymarker(pytest.mark.xfail(strict=True, reason=gap[0], raises=gap[1]))
    expected = results("duckdb", inp, request, tmp_path_factory)[macro]
    got = results(engine, inp, request, tmp_path_factory)[macro]
    if isinstance(got, BaseException):
        raise got
    assert not isinstance(expected, BaseException), expected
    problem = diff(expected, got)
    assert problem is None, f"{macro} on {engine} ({inp}): {problem}"


@pytest.mark.parametrize("inp", list(INPUTS))
def test_reference_rows_exercise_the_edge_cases(inp: str, request: pytest.FixtureRequest,
                                                tmp_path_factory: Any) -> None:
    """The DuckDB reference is not vacuous: every macro returns rows, NULL keys are counted,
    and the extents cross page boundaries."""
    ref = results("duckdb", inp, request, tmp_path_factory)
    for macro in CHAIN:
        assert not isinstance(ref[macro], BaseException) and ref[macro], macro
    table = _TABLES[inp]
    assert ref["metrics"][0][0] == table.num_rows
    assert sum(r[1] for r in ref["usage"]) == table.num_rows
    assert max(r[4] for r in ref["extents"]) > 1  # an extent spans several pages
    if inp != "mooncake":
        assert ref["metrics"][0][2] > 0  # NULL keys present and counted


HASH_KEYS = ["a/b/1", "A/b/1", "ü/é", "日本語", "🙂", "", "-17", "0", "key with spaces"]


@pytest.mark.parametrize("engine", ["duckdb", *ENGINES])
def test_hash60_is_the_same_on_every_engine(engine: str, request: pytest.FixtureRequest,
                                            tmp_path_factory: Any) -> None:
    template = environment().from_string(
        "{% import '_helpers.sql' as h %}SELECT k, {{ h.hash60('k') }} AS h FROM hash_keys "
        "ORDER BY k ASC")
    e = make_engine(engine, request, tmp_path_factory)
    e.load("hash_keys", pa.table({"k": HASH_KEYS}))
    try:
        got = dict(e.rows(transpile(template.render(), e.dialect)))
    finally:
        e.close()
    expected = {k: int(hashlib.md5(k.encode()).hexdigest()[:15], 16) for k in HASH_KEYS}
    assert got == expected


@pytest.mark.parametrize("target", [d for d, v in DIALECTS.items() if v.proof == "reparse"])
def test_unrunnable_dialects_reparse(target: str) -> None:
    """Snowflake, BigQuery and Trino cannot run here: their SQL must at least re-parse."""
    statements = sqlglot.parse(script(target), read=DIALECTS[target].sqlglot)
    assert len([s for s in statements if s is not None]) == len(CHAIN)
