"""Hostile traces: each is refused with an error naming what was refused, before anything runs,
and nothing outside the bound files is read or written (checked, not assumed)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot.expressions as exp
from click.testing import CliRunner

from sqlwave.cli import cli
from sqlwave.commands import register
from sqlwave.errors import InputError, SqlwaveError, UnsafeSqlError
from sqlwave.safety import check_query
from sqlwave.sandbox import sandboxed_connection
from sqlwave.trace import (
    SQLGLOT_VERSION,
    Step,
    Trace,
    load_trace,
    replay_trace,
    trace_from_sql,
    trace_to_dict,
)
from sqlwave.trace_ast import dump_ast, load_ast

register(cli)
SECRET = "TOPSECRET-5f1d2c-do-not-leak"

HOSTILE = [
    ("COPY (SELECT 1 AS a) TO '{out}'", "refused COPY"),
    ("COPY sample TO '{sample}'", "refused COPY"),
    ("COPY (SELECT 1 AS a) TO 'pwned.csv'", "refused COPY"),
    ("COPY (SELECT 1 AS a) TO '{systmp}'", "refused COPY"),
    ("ATTACH '{tmp}/x.db' AS x", "refused ATTACH"),
    ("DETACH x", "refused DETACH"),
    ("INSTALL httpfs", "refused INSTALL"),
    ("LOAD httpfs", "LOAD"),
    ("PRAGMA database_list", "refused PRAGMA"),
    ("SET enable_external_access = true", "refused SET"),
    ("CREATE TABLE t AS SELECT 1 AS a", "refused CREATE"),
    ("CALL pragma_version()", "CALL"),
    ("DESCRIBE sample", "refused DESCRIBE"),
    ("SELECT * INTO t2 FROM sample", "refused SELECT ... INTO"),
    ("SELECT 1 AS a FROM sample; COPY (SELECT 1 AS a) TO '{out}'", "stacked statements"),
    ("SELECT * FROM read_csv('{secret}')", "refused table function read_csv()"),
    ("SELECT * FROM read_csv_auto('{secret}')", "refused table function read_csv_auto()"),
    ("SELECT * FROM '{secret}'", "refused path-like table name"),
    ("SELECT * FROM \"{secret}\"", "refused path-like table name"),
    ("SELECT * FROM main.sample", "refused qualified table name"),
    ("SELECT getenv('HOME') AS h FROM sample", "refused function getenv()"),
    ("SELECT * FROM read_text('{secret}')", "refused table function read_text()"),
    ("SELECT read_blob('{secret}') AS b", "refused function read_blob()"),
    ("SELECT * FROM query('SELECT 1')", "refused table function query()"),
    ("SELECT * FROM glob('{tmp}/*')", "refused table function glob()"),
    ("SELECT * FROM sample, LATERAL (SELECT content FROM read_text('{secret}'))",
     "refused table function read_text()"),
    ("SELECT * FROM sample, LATERAL (SELECT getenv('HOME') AS h)", "refused function getenv()"),
    ("SELECT (SELECT content FROM read_text('{secret}')) AS c FROM sample",
     "refused table function read_text()"),
    ("SELECT k FROM sample WHERE k IN (SELECT getenv('X'))", "refused function getenv()"),
    ("SELECT current_setting('allowed_paths') AS s", "refused function current_setting()"),
    ("WITH x AS (SELECT * FROM read_parquet('{sample}')) SELECT * FROM x",
     "refused table function read_parquet()"),
    ("SELECT * FROM sample UNION ALL SELECT * FROM read_csv('{secret}')",
     "refused table function read_csv()"),
    ("SELECT * FROM secrets", "table 'secrets' is neither a bound input tag"),
    ("SELECT * FROM later_step", "table 'later_step' is neither"),
    ("EXPORT DATABASE '{tmp}/dump'", "does not parse"),
    ("WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 AS n FROM r) SELECT n FROM r",
     "refused WITH RECURSIVE"),
    ("SELECT " + "(" * 3000 + "1" + ")" * 3000 + " AS x", "nested too deeply"),
    # A CTE name is visible in its own query only: not from a subquery, not before it is defined.
    ("SELECT (WITH pg_settings AS (SELECT 1 AS x) SELECT 1) AS z, count(*) AS m FROM pg_settings",
     "table 'pg_settings' is neither"),
    ("WITH a AS (SELECT * FROM duckdb_views), duckdb_views AS (SELECT 1 AS x) SELECT * FROM a",
     "table 'duckdb_views' is neither"),
    ("SELECT * FROM sample USING SAMPLE 1 PERCENT (bernoulli)", "refused a sampling clause"),
    ("SELECT * FROM sample TABLESAMPLE (10 PERCENT)", "refused a sampling clause"),
    # A quoted type name was printed back raw: the text that ran read pg_settings unchecked.
    ("SELECT CAST(v AS \"oid) AS m FROM sample UNION ALL SELECT count(*) FROM pg_settings --\") "
     "AS m FROM sample", "refused type 'oid) AS m FROM sample"),
    ("SELECT v::\"oid) AS m FROM sample UNION ALL SELECT 1 FROM pg_settings --\" AS m FROM sample",
     "refused type"),
    ("SELECT TRY_CAST(v AS \"varint) AS m FROM pg_settings --\") AS m FROM sample", "refused type"),
    # DuckDB reads U+200B, U+2060 and U+FEFF outside quotes as spaces, sqlglot as part of a name.
    ("SELECT k AS a\u200bFROM\u200bsample\u200bUNION\u200bALL\u200bSELECT\u200bsetting"
     "\u200bFROM\u200bpg_settings", "refused name"),
    ("SELECT 64 AS m, name\u2060FROM\u2060pg_settings\u2060WHERE\u2060name = 'x'",
     "refused name"),
    ("SELECT v FROM sample AS t\ufeffWHERE\ufefftypeof(v)", "refused name"),
    ("SELECT 1e AS x FROM sample", "refused number '1e'"),
    # lpad/rpad allocate outside DuckDB's memory limit: 2e9 characters a row.
    ("SELECT lpad(k, 2000000000, 'x') AS p FROM sample", "refused pad()"),
    ("SELECT rpad(k, v, 'x') AS p FROM sample", "refused pad()"),
    # Quoted, SQL's value functions parse as columns; DuckDB binds the function when no table
    # has the column: the clock or the user, which no replay may depend on.
    ("SELECT epoch(\"current_timestamp\") AS m FROM sample", "refused unqualified column"),
    ("SELECT \"localtime\" AS t FROM sample", "refused unqualified column"),
    ("SELECT user AS u FROM sample", "refused unqualified column 'user'"),
    # Their result depends on which thread saw which row first.
    ("SELECT any_value(v) AS v FROM sample", "refused function any_value()"),
    ("SELECT first(v) AS v FROM sample", "refused function first()"),
    ("SELECT approx_quantile(v, 0.5) AS v FROM sample", "refused function approx_quantile()"),
    ("SELECT approx_count_distinct(v) AS v FROM sample", "refused function"),
    # Regenerated as plain LIMIT / without the lock: what ran differed from what was written.
    ("SELECT k FROM sample ORDER BY v FETCH FIRST 1 ROWS WITH TIES", "refused WITH TIES"),
    ("SELECT k FROM sample FOR UPDATE", "refused a locking clause"),
    ("SELECT k FROM sample ORDER BY v FETCH FIRST 10 PERCENT ROWS ONLY", "refused FETCH ... PERCENT"),
    # A CTE of the same name must not let a qualified system view through.
    ("WITH pg_settings AS (SELECT 1 AS a) SELECT * FROM pg_catalog.pg_settings",
     "refused qualified table name"),
    ("WITH duckdb_views AS (SELECT 1 AS a) SELECT * FROM system.main.duckdb_views",
     "refused qualified table name"),
    # Python lower-cases the Kelvin sign U+212A to 'k', DuckDB does not: no CTE of that name.
    ("WITH \"duc\u212adb_views\" AS (SELECT 1 AS x) SELECT sql FROM duckdb_views",
     "table 'duckdb_views' is neither"),
]


@pytest.fixture()
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    (tmp_path / "secret.txt").write_text(SECRET + "\n")
    pq.write_table(pa.table({"k": ["a", "b"], "v": [1, 2]}), tmp_path / "sample.parquet")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return {"tmp": str(tmp_path), "secret": str(tmp_path / "secret.txt"),
            "sample": str(tmp_path / "sample.parquet"), "out": str(tmp_path / "pwned.csv"),
            # the system temp folder too (others write there, so one named file is watched)
            "systmp": str(Path(tempfile.gettempdir()) / f"sqlwave-pwned-{uuid.uuid4().hex}.csv")}


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def hostile_trace(sql: str) -> dict[str, object]:
    step = {"name": "evil", "sql": sql}
    return {"format": "sqlwave.trace/1", "dialect": "duckdb", "sqlglot_version": "0",
            "inputs": ["sample"], "steps": [{"name": "ok", "sql": "SELECT k FROM sample"}, step,
                                            {"name": "later_step", "sql": "SELECT 1 AS one"}]}


@pytest.mark.parametrize("template, refused", HOSTILE, ids=[h[0][:40] for h in HOSTILE])
def test_hostile_trace_is_refused(box: dict[str, str], tmp_path: Path, template: str,
                                  refused: str) -> None:
    sql = template.format(**box)
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(hostile_trace(sql)))
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeSqlError) as loaded:
        load_trace(path)
    # a Trace built in code (never loaded from a file) is checked again before it runs
    trace = Trace(("sample",), (Step("ok", "SELECT k FROM sample"), Step("evil", sql)))
    with pytest.raises(UnsafeSqlError) as replayed:
        replay_trace(trace, {"sample": box["sample"]})
    for error in (loaded.value, replayed.value):
        assert refused in str(error) and "'evil'" in str(error)
        assert SECRET not in str(error)
    assert snapshot(tmp_path) == before  # no file written, none changed, cwd included
    assert not Path(box["systmp"]).exists()


def test_hostile_cli_replay_says_error(box: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(hostile_trace(f"SELECT * FROM read_text('{box['secret']}')")))
    before = snapshot(tmp_path)
    res = CliRunner().invoke(cli, ["replay", "--trace", str(path), "--sample", box["sample"],
                                   "--out", str(tmp_path / "p.json")])
    assert res.exit_code == 1 and res.output.startswith("Error: step 'evil': refused")
    assert SECRET not in res.output and snapshot(tmp_path) == before


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_text('{secret}')", "SELECT * FROM read_csv('{secret}')",
    "SELECT * FROM '{secret}'", "COPY (SELECT 1 AS a) TO '{out}'", "ATTACH '{tmp}/x.db' AS x",
    "COPY (SELECT 1 AS a) TO '{systmp}'", "COPY (SELECT 1 AS a) TO 'pwned.csv'",
    "SELECT * FROM glob('{tmp}/*')", "SET enable_external_access = true", "INSTALL httpfs",
])
def test_sandbox_is_a_second_fence(box: dict[str, str], tmp_path: Path, sql: str) -> None:
    """Even SQL that skipped the AST check cannot reach files the trace did not bind."""
    before = snapshot(tmp_path)
    con = sandboxed_connection({"sample": box["sample"]})
    try:
        with pytest.raises(duckdb.Error) as info:
            con.execute(sql.format(**box)).fetchall()
        assert SECRET not in str(info.value)
        assert con.execute("SELECT count(*) FROM sample").fetchall() == [(2,)]
    finally:
        con.close()
    assert snapshot(tmp_path) == before and not Path(box["systmp"]).exists()


@pytest.mark.parametrize("sql", [
    "SELECT k FROM sample AS a WHERE EXISTS (SELECT 1 AS one FROM sample AS b WHERE b.v > a.v)",
    "SELECT {'k': k, 'h': md5(k)} AS s, [v, v * 2] AS l FROM sample",
    "SELECT COLUMNS('^v$') FROM sample",
    "SELECT k FROM sample ORDER BY v, k LIMIT 50 PERCENT",
    "WITH t AS (SELECT k, v FROM sample) SELECT k, sum(v) OVER (PARTITION BY k ORDER BY v ASC "
    "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS c FROM t",
    "SELECT * FROM (VALUES (1, 'a')) AS t(n, s) CROSS JOIN sample",
    "SELECT k, CASE WHEN v > 1 THEN 'big' ELSE 'small' END AS size, "
    "coalesce(nullif(v, 0), -1) AS w "
    "FROM sample ORDER BY k ASC NULLS LAST",
    # AND and OR are Func subclasses in sqlglot 30: they were refused as functions.
    "SELECT k FROM sample WHERE v > 0 AND v < 5 OR NOT k = 'x'",
    "SELECT CASE WHEN v > 1 AND k LIKE 'a%' THEN 1 ELSE 0 END AS c FROM sample",
])
def test_pure_constructs_are_allowed(box: dict[str, str], sql: str) -> None:
    trace = Trace(("sample",), (Step("s", sql),))
    table, _ = replay_trace(trace, {"sample": box["sample"]})
    assert table.num_rows >= 1


def test_benign_trace_runs_in_the_sandbox(box: dict[str, str]) -> None:
    trace = trace_from_sql("-- input: sample\n-- step: s\nSELECT k, v * 2 AS w FROM sample "
                           "ORDER BY k ASC NULLS LAST")
    table, _ = replay_trace(trace, {"sample": box["sample"]})
    assert table.to_pylist() == [{"k": "a", "w": 2}, {"k": "b", "w": 4}]


@pytest.mark.parametrize("cls", ["os.system", "builtins.eval", "subprocess.Popen", "this.s",
                                 "sqlglot.expressions.ddl.Create", "Copy", "sqlwave.trace.Trace"])
def test_ast_cache_refuses_non_allow_listed_class(cls: str, capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    had_this = "this" in sys.modules
    with pytest.raises(UnsafeSqlError, match="not an allow-listed sqlglot expression"):
        load_ast([{"c": cls}])
    # a same-version trace whose SQL is harmless but whose cache names the class is refused
    doc = trace_to_dict(trace_from_sql("-- input: sample\n-- step: s\nSELECT 1 AS a FROM sample"))
    doc["steps"][0]["ast"] = [{"c": "sqlglot.expressions.query.Select"},
                              {"i": 0, "k": "expressions", "a": True, "c": cls}]
    (tmp_path / "t.json").write_text(json.dumps(doc))
    with pytest.raises(UnsafeSqlError, match="AST cache refused"):
        load_trace(tmp_path / "t.json")
    assert ("this" in sys.modules) == had_this and capsys.readouterr().out == ""


def test_ast_cache_cannot_smuggle_sql_past_the_check(box: dict[str, str], tmp_path: Path) -> None:
    # A raw-text node regenerates SQL that spells out its own payload, so the cache "matches"
    # its stored SQL; what runs must still come from parsing that SQL, which has 3 statements.
    payload = (f"1 AS m; COPY (SELECT 'pwned' AS x) TO '{box['sample']}' (FORMAT csv); "
               "SELECT 1 AS m")
    query = exp.Select(expressions=[exp.Var(this=payload)]).from_("sample")
    sql = query.sql(dialect="duckdb", comments=False)
    doc = {"format": "sqlwave.trace/1", "dialect": "duckdb", "sqlglot_version": SQLGLOT_VERSION,
           "inputs": ["sample"], "steps": [{"name": "evil", "sql": sql, "ast": dump_ast(query)}]}
    (tmp_path / "t.json").write_text(json.dumps(doc))
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeSqlError, match="stacked statements"):
        load_trace(tmp_path / "t.json")
    with pytest.raises(UnsafeSqlError, match="raw SQL text"):
        check_query(query, ["sample"], "evil")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("payload", [
    {"c": "Select"}, [], [{"c": "Select"}, {"i": 5, "k": "this", "v": "x"}],
    [{"c": "Select"}, {"i": 0, "k": "this", "v": {"nested": "object"}}],
    [{"c": "DataType"}, {"i": 0, "k": "this", "c": "DataType.Type", "v": "os.system"}],
])
def test_ast_cache_refuses_malformed_payloads(payload: object) -> None:
    with pytest.raises(UnsafeSqlError, match="AST cache refused"):
        load_ast(payload)


def test_the_file_watch_would_see_a_write(box: dict[str, str], tmp_path: Path) -> None:
    """Control: the same COPY on a plain connection does write, so the checks above can fail."""
    before = snapshot(tmp_path)
    con = duckdb.connect()
    try:
        con.execute(f"COPY (SELECT 1 AS a) TO '{box['out']}'")
        con.execute("COPY (SELECT 1 AS a) TO 'pwned.csv'")
    finally:
        con.close()
    written = set(snapshot(tmp_path)) - set(before)
    assert written == {box["out"], str(tmp_path / "cwd" / "pwned.csv")}


def test_text_that_runs_is_checked_too() -> None:
    # A node printed raw (here an unquoted identifier made in code) turns the tree's text into
    # other SQL; the text is parsed and checked again, so it never runs unchecked.
    column = exp.Column(this=exp.Identifier(this="k FROM pg_settings --", quoted=False))
    query = exp.select(column).from_("sample")
    with pytest.raises(UnsafeSqlError, match="pg_settings|does not read back"):
        check_query(query, ["sample"], "s")


@pytest.mark.parametrize("tag", ["pg_settings", "duckdb_views", "sqlite_master",
                                 "information_schema", "pragma_database_list", "sample\n"])
def test_system_names_cannot_be_tags_or_steps(tag: str, tmp_path: Path) -> None:
    # An unbound tag of such a name would read DuckDB's own view of that name.
    trace = {"format": "sqlwave.trace/1", "dialect": "duckdb", "sqlglot_version": "0",
             "inputs": ["sample", tag], "steps": [{"name": "ok", "sql": "SELECT 1 AS a"}]}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(trace))
    with pytest.raises(InputError, match="bad input tag"):
        load_trace(path)
    trace["inputs"], trace["steps"] = ["sample"], [{"name": tag, "sql": "SELECT 1 AS a"}]
    path.write_text(json.dumps(trace))
    with pytest.raises(InputError, match="bad or repeated step name"):
        load_trace(path)


def test_a_cte_hides_a_tag_only_where_it_is_in_scope() -> None:
    # The outer FROM aux reads the input; the CTE named aux inside a subquery does not hide it,
    # so replay asks for aux to be bound (it was taken as unread, and left to DuckDB to resolve).
    from sqlwave.plan_estimates import relations_read
    from sqlwave.safety import parse_query

    query = parse_query("SELECT a FROM aux WHERE a = (SELECT b FROM (WITH aux AS (SELECT 1 AS b) "
                        "SELECT b FROM aux) AS s)", "duckdb", "s")
    assert relations_read(query, {"aux", "sample"}) == ["aux"]


def test_the_sql_that_runs_is_ascii_outside_quotes() -> None:
    from sqlwave.safety import _check_ascii_outside_quotes

    _check_ascii_outside_quotes("SELECT 'é' AS \"ü\" FROM \"sample\"", "s")
    with pytest.raises(UnsafeSqlError, match="outside quotes, write SQL in ASCII"):
        _check_ascii_outside_quotes("SELECT ha\u017fh(\"k\") FROM \"sample\"", "s")


def test_a_step_that_would_not_end_is_stopped(box: dict[str, str]) -> None:
    # 10^12 rows from constants: bounded by no input, stopped by the time limit.
    digits = "(VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9))"
    joins = ", ".join(f"{digits} AS t{i}(d{i})" for i in range(12))
    total = " + ".join(f"d{i}" for i in range(12))
    trace = Trace(("sample",), (Step("ok", "SELECT k FROM sample"),
                                Step("slow", f"SELECT sum(hash({total})) AS h FROM {joins}")))
    with pytest.raises(SqlwaveError, match="ran past its time limit of 1 s"):
        replay_trace(trace, {"sample": box["sample"]}, timeout=1)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="no /proc: Linux only")
def test_a_step_that_builds_huge_strings_is_stopped(box: dict[str, str], monkeypatch) -> None:
    # Each step doubles 64 strings of 1 MB: DuckDB's memory limit does not see them grow.
    from sqlwave import sandbox

    monkeypatch.setattr(sandbox, "MEMORY_CAP", 300 * 2**20)
    steps = [Step("digits", "SELECT * FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), "
                            "(8), (9)) AS v(x)"),
             Step("s0", "SELECT lpad('x', 1000000, 'y') AS s FROM digits AS a, digits AS b "
                        "WHERE a.x * 10 + b.x < 64")]
    steps += [Step(f"s{i}", f"SELECT s || s AS s FROM s{i - 1}") for i in range(1, 5)]
    steps.append(Step("slow", HEAVY))
    with pytest.raises(SqlwaveError, match=r"took .* GiB of memory, more than"):
        replay_trace(Trace(("sample",), tuple(steps)), {"sample": box["sample"]}, timeout=60)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="no /proc: Linux only")
def test_the_memory_cap_counts_only_what_the_replay_adds(box: dict[str, str], monkeypatch) -> None:
    from sqlwave import sandbox

    monkeypatch.setattr(sandbox, "MEMORY_CAP", 300 * 2**20)
    held = b"x" * (500 * 2**20)  # the caller's, resident before the replay starts
    trace = Trace(("sample",), (Step("digits", "SELECT * FROM (VALUES (0), (1), (2), (3), (4), "
                                               "(5), (6), (7), (8), (9)) AS v(x)"),
                                Step("slow", HEAVY)))
    with pytest.raises(SqlwaveError, match="ran past its time limit"):
        replay_trace(trace, {"sample": box["sample"]}, timeout=1)
    assert len(held) == 500 * 2**20


def test_the_sandbox_bounds_memory() -> None:
    con = sandboxed_connection({})
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert limit is not None and "GiB" in str(limit[0]) and float(str(limit[0]).split()[0]) < 5


HEAVY = ("SELECT sum(hash(" + " + ".join(f"d{i}" for i in range(12)) + ")) AS h FROM "
         + ", ".join(f"digits AS t{i}(d{i})" for i in range(12)))


def test_the_time_limit_holds_across_steps(box: dict[str, str]) -> None:
    # The deadline falls while Python prepares a step, between two DuckDB queries: DuckDB drops
    # an interrupt there, so one timer lost it and the 10^12-row step after ran unbounded.
    values = ", ".join(str(i) for i in range(3000))
    pads = [Step(f"pad{i}", f"SELECT x FROM digits WHERE x IN ({values})") for i in range(8)]
    trace = Trace(("sample",), (Step("digits", "SELECT * FROM (VALUES (0), (1), (2), (3), (4), "
                                               "(5), (6), (7), (8), (9)) AS v(x)"),
                                *pads, Step("slow", HEAVY)))
    started = time.monotonic()
    with pytest.raises(SqlwaveError, match="ran past its time limit of 0.2 s"):
        replay_trace(trace, {"sample": box["sample"]}, timeout=0.2)
    assert time.monotonic() - started < 60


def test_sigterm_stops_a_running_step(box: dict[str, str], tmp_path: Path) -> None:
    trace = {"format": "sqlwave.trace/1", "dialect": "duckdb", "sqlglot_version": "0",
             "inputs": [], "steps": [
                 {"name": "digits", "sql": "SELECT * FROM (VALUES (0), (1), (2), (3), (4), (5), "
                                           "(6), (7), (8), (9)) AS v(x)"},
                 {"name": "problems", "sql": HEAVY}]}
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(trace))
    proc = subprocess.Popen([sys.executable, "-c", "from sqlwave.cli import main; main()",
                             "replay", "--trace", str(path),
                             "--out", str(tmp_path / "p.json")], stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143 and "Error: terminated" in err, err


def test_too_many_distinct_problems_are_refused(tmp_path: Path) -> None:
    from sqlwave.proxies import MAX_PROBLEMS, problem_weights

    table = pa.table({"m": list(range(1, MAX_PROBLEMS + 2)), "n": [64] * (MAX_PROBLEMS + 1),
                      "k": [64] * (MAX_PROBLEMS + 1)})
    with pytest.raises(InputError, match="distinct problems"):
        problem_weights(table)


def test_a_step_with_too_many_joins_is_refused() -> None:
    # DuckDB's join-order search is not interruptible: 300 joins planned for 46 s past the limit.
    from sqlwave.safety import MAX_JOINS, parse_query

    joins = " ".join(f"JOIN sample AS t{i} ON t{i}.k = t0.k" for i in range(1, MAX_JOINS + 2))
    query = parse_query(f"SELECT t0.k FROM sample AS t0 {joins}", "duckdb", "s")
    with pytest.raises(UnsafeSqlError, match=f"refused {MAX_JOINS + 1} joins in one step"):
        check_query(query, ["sample"], "s")


def test_a_qualified_column_named_like_a_value_function_is_read(box: dict[str, str]) -> None:
    pq.write_table(pa.table({"user": ["a", "b"], "m": [64, 128]}), box["sample"])
    trace = Trace(("sample",), (Step("p", 'SELECT t."user" AS u, t.m AS m FROM sample AS t'),))
    table, _ = replay_trace(trace, {"sample": box["sample"]})
    assert table.column("u").to_pylist() == ["a", "b"]


def test_checking_many_ctes_is_linear() -> None:
    # A set of every CTE name in scope, built per table, made 4000 CTEs take 14 s to check.
    from sqlwave import safety

    ctes = ", ".join(f"c{i} AS (SELECT * FROM c{i - 1})" for i in range(1, 3000))
    query = safety.parse_query(f"WITH c0 AS (SELECT 1 AS x), {ctes} SELECT * FROM c2999",
                               "duckdb", "s")
    calls = []
    real = safety._first_positions
    safety._first_positions = lambda w, scopes: calls.append(1) or real(w, scopes)
    try:
        safety._check_tree(query, set(), "s")
    finally:
        safety._first_positions = real
    assert len(calls) <= 2 * 3000
