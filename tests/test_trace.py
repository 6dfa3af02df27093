from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sqlwave.cli import cli
from sqlwave.commands import register
from sqlwave.errors import InputError, ParameterError, UnsafeSqlError
from sqlwave.pipeline import parse_pipeline_text
from sqlwave.trace import (
    SQLGLOT_VERSION,
    load_trace,
    replay_trace,
    save_trace,
    trace_from_dict,
    trace_from_sql,
    trace_to_dict,
)
from tests.conftest import shared_file

register(cli)
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "gemm_pipeline.sql"

PIPELINE = """
-- input: requests
-- input: weights
-- step: per_req
select request_id, tokens * 2 as doubled from requests where tokens > 0;
CREATE VIEW joined AS
  SELECT p.request_id, p.doubled, w.w FROM per_req p JOIN weights w ON p.request_id = w.request_id;
-- step: final
with t as (select doubled, sum(w) as w from joined group by doubled)
select doubled as m, w from t order by m asc nulls last
"""


def write_requests(path: Path, n: int) -> Path:
    pq.write_table(pa.table({
        "ts": list(range(n)), "request_id": list(range(n)),
        "context_tokens": [100 + (i * 37) % 900 for i in range(n)],
        "generated_tokens": [10 + (i * 13) % 200 for i in range(n)]}), path)
    return path


def test_round_trip_through_json(tmp_path: Path) -> None:
    trace = trace_from_sql(PIPELINE, with_ast=True)
    assert all(s.ast for s in trace.steps)
    assert [s.name for s in trace.steps] == ["per_req", "joined", "final"]
    assert trace.inputs == ("requests", "weights") and trace.default_tag == "requests"
    path = tmp_path / "trace.json"
    save_trace(trace, path)
    again = load_trace(path)
    assert again == trace and [s.ast for s in again.steps] == [s.ast for s in trace.steps]
    from sqlwave.trace import checked_queries

    assert checked_queries(again)[1] == []  # the cache agrees with the parsed SQL: no note
    save_trace(again, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()
    doc = json.loads(path.read_text())
    assert doc["format"] == "sqlwave.trace/1" and doc["sqlglot_version"] == SQLGLOT_VERSION
    assert doc["steps"][1]["sql"].startswith("SELECT p.request_id")  # a view is only step syntax


def test_other_sqlglot_version_loads_from_sql(tmp_path: Path) -> None:
    doc = trace_to_dict(trace_from_sql(PIPELINE))
    doc["sqlglot_version"] = "27.0.0"
    for step in doc["steps"]:  # an old dump this version could not read: must not be used
        step["ast"] = [{"c": "sqlglot.expressions.Select"}, {"i": 0, "k": "with", "v": None}]
    trace = trace_from_dict(doc)
    from sqlwave.trace import checked_queries

    queries, notes = checked_queries(trace)
    assert [q.sql(dialect="duckdb") for q in queries] == [s.sql for s in trace.steps]
    assert any("27.0.0" in n and "re-derived" in n for n in notes)


def test_ast_cache_that_disagrees_with_sql_is_ignored() -> None:
    doc = trace_to_dict(trace_from_sql(PIPELINE, with_ast=True))
    other = trace_from_sql("-- input: requests\n-- step: x\nSELECT 1 AS other FROM requests",
                           with_ast=True)
    doc["steps"][0]["ast"] = trace_to_dict(other)["steps"][0]["ast"]
    from sqlwave.trace import checked_queries

    queries, notes = checked_queries(trace_from_dict(doc))
    assert queries[0].sql(dialect="duckdb") == doc["steps"][0]["sql"]
    assert "does not match its SQL" in notes[0]


@pytest.mark.parametrize("text, message", [
    ("-- input: r\nSELECT 1 FROM r", "has no step name"),
    ("-- input: r\n-- step: a\nSELECT 1 FROM r; SELECT 2 FROM r", "has no step name"),
    ("-- input: r\n-- step: r\nSELECT 1 FROM r", "used twice"),
    ("-- input: reqs\n-- step: a\nSELECT 1 FROM reqs2", 'Did you mean "reqs"?'),
    ("-- input: r\n-- step: a\nSELECT * FROM b\n-- step: b\nSELECT 1 FROM r", "table 'b'"),
    ("-- input: r\n-- step: 1bad\nSELECT 1", "bad step name"),
    ("-- input: r\n-- step: a\nSELEC 1 FROM r", "does not parse"),
    ("-- input: r", "no SQL step"),
    ("-- input: r\n-- step: per request\nSELECT 1 FROM r", "is not a directive"),
    ("-- input: r s\n-- step: a\nSELECT 1 FROM r", "is not a directive"),
    ("-- inputs: r\n-- step: a\nSELECT 1 FROM r", "is not a directive"),
    ("-- input: r\n-- step: a---b\nSELECT 1 FROM r", "bad step name 'a---b'"),
    ("-- input: r\n-- step: a\nSELECT 'abc AS x FROM r", "does not parse"),
    # sqlglot reads these, DuckDB does not: refused when the trace is written, not at replay.
    ("-- input: r\n-- step: a\nSELECT CAST(x AS VARCHAR COLLATE nocase) AS y FROM r",
     "DuckDB cannot parse the SQL it would run"),
    ("-- step: a\nSELECT 1 AS s FROM pg_settings", "reads 'pg_settings', a DuckDB system name"),
    ("-- input: r\n-- step: x\nCREATE VIEW y AS SELECT 1 AS a FROM r", "creates the view 'y'"),
    ("-- input: r\nCREATE VIEW v (a, b) AS SELECT 1, 2 FROM r", "a view's column list"),
])
def test_pipeline_errors(text: str, message: str) -> None:
    with pytest.raises((InputError, UnsafeSqlError), match=None) as info:
        trace_from_sql(text)
    assert message in str(info.value)


def test_the_docs_example_pipeline_reads_as_documented() -> None:
    # Directives may end in a comment of their own, as docs/trace.md writes them.
    doc = (Path(__file__).parent.parent / "docs" / "trace.md").read_text(encoding="utf-8")
    example = doc.split("## Writing a pipeline", 1)[1].split("```sql\n", 1)[1].split("```")[0]
    inputs, steps = parse_pipeline_text(example)
    assert inputs == ["requests", "weights"]
    assert [s.name for s in steps] == ["per_request", "problems"]


@pytest.mark.parametrize("note", ["-- note", "/* note */"])
def test_a_comment_after_the_last_semicolon_is_no_statement(note: str) -> None:
    inputs, steps = parse_pipeline_text(f"-- input: r\n-- step: a\nSELECT 1 AS x FROM r;\n{note}\n")
    assert [s.name for s in steps] == ["a"]


@pytest.mark.parametrize("literal", ["$$x'y$$", "$$/*$$", "$q$it's$q$", "E'\\''", "'it''s'"])
def test_strings_that_hold_quotes_do_not_hide_directives(literal: str) -> None:
    text = f"-- input: r\n-- step: a\nSELECT {literal} AS x FROM r;\n-- step: b\nSELECT x FROM a"
    assert [s.name for s in parse_pipeline_text(text)[1]] == ["a", "b"]


def test_directive_lines_inside_strings_and_comments_are_sql() -> None:
    text = ("\ufeff-- input: r\n-- step: a\nSELECT 'x\n-- step: about it' AS x FROM r;\n"
            "/* notes\n-- step: notes about steps\n*/\n-- step: b  -- the last one\nSELECT x FROM a")
    inputs, steps = parse_pipeline_text(text)
    assert inputs == ["r"] and [s.name for s in steps] == ["a", "b"]
    assert "about it" in steps[0].query.sql()


def test_inputs_inferred_without_declarations() -> None:
    trace = trace_from_sql("-- step: a\nSELECT * FROM logs JOIN meta USING (k)\n"
                           "-- step: b\nSELECT count(*) AS n FROM a")
    assert set(trace.inputs) == {"logs", "meta"}


def test_replay_binds_and_errors(tmp_path: Path) -> None:
    trace = trace_from_sql(EXAMPLE.read_text())
    sample = write_requests(tmp_path / "requests.parquet", 80)
    with pytest.raises(ParameterError, match="'requests' is not bound"):
        replay_trace(trace, {})
    with pytest.raises(ParameterError, match='Did you mean "requests"'):
        replay_trace(trace, {"requests": str(sample), "request": str(sample)})
    with pytest.raises(InputError, match="does not exist"):
        replay_trace(trace, {"requests": str(tmp_path / "missing.parquet")})


def test_example_pipeline_end_to_end(tmp_path: Path) -> None:
    sample = write_requests(tmp_path / "requests.parquet", 80)
    out = tmp_path / "trace.json"
    res = CliRunner().invoke(cli, ["trace", "--sql", str(EXAMPLE), "--out", str(out)])
    assert res.exit_code == 0, res.output
    table, metrics = replay_trace(load_trace(out), {"requests": str(sample)})
    assert table.column_names == ["m", "n", "k", "dtype", "weight"]
    rows = table.to_pylist()
    # 80 requests = 10 batches of 8: decode M is 8 for every batch, prefill M the batch's tokens
    ctx = [100 + (i * 37) % 900 for i in range(80)]
    prefill = {sum(ctx[b * 8:(b + 1) * 8]) for b in range(10)}
    assert {r["m"] for r in rows} == prefill | {8}
    assert len(rows) == len(prefill | {8}) * 4
    weights = [r["weight"] for r in rows]
    assert weights == sorted(weights, reverse=True)
    assert metrics.counts["joins"] == 1 and metrics.measured is not None


def test_a_loaded_trace_is_checked_once_and_runs_the_checked_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlwave.safety

    sample = write_requests(tmp_path / "requests.parquet", 16)
    path = tmp_path / "trace.json"
    save_trace(trace_from_sql(EXAMPLE.read_text()), path)
    parsed: list[str] = []
    real = sqlwave.safety.parse_query
    monkeypatch.setattr(sqlwave.safety, "parse_query",
                        lambda sql, *a: parsed.append(sql) or real(sql, *a))
    trace = load_trace(path)
    # Each step parsed twice on load (its SQL, then the text it runs as, read back); a 20,000-value
    # IN list takes about a second per parse, and replay parsed every step twice more.
    assert len(parsed) == 2 * len(trace.steps)
    ran: list[str] = []
    import sqlwave.trace

    real_run = sqlwave.trace._run_step
    monkeypatch.setattr(sqlwave.trace, "_run_step",
                        lambda con, name, sql: ran.append(sql) or real_run(con, name, sql))
    replay_trace(trace, {"requests": str(sample)})
    assert len(parsed) == 2 * len(trace.steps)
    assert ran == list(trace.checked.texts) == parsed[1::2]


def test_example_on_real_azure_requests(tmp_path: Path) -> None:
    azure = shared_file("azure_llm/code_2023.parquet")
    table, metrics = replay_trace(trace_from_sql(EXAMPLE.read_text()), {"requests": str(azure)})
    assert table.num_rows > 0 and min(table.column("m").to_pylist()) >= 1
    assert metrics.estimated["input_rows"] == pq.ParquetFile(azure).metadata.num_rows


def test_cli_trace_ast_flag(tmp_path: Path) -> None:
    for flag, has_ast in (([], False), (["--ast"], True)):
        out = tmp_path / f"t{has_ast}.json"
        res = CliRunner().invoke(cli, ["trace", "--sql", str(EXAMPLE), "--out", str(out), *flag])
        assert res.exit_code == 0, res.output
        steps = json.loads(out.read_text())["steps"]
        assert all(("ast" in s) == has_ast for s in steps)
        assert load_trace(out) == trace_from_sql(EXAMPLE.read_text())


@pytest.mark.parametrize("args, message", [
    (["--sql", "missing.sql"], "cannot read pipeline"),
    (["--sql", "{bad}"], "has no step name"),
    (["--sql", "{copy}"], "refused COPY"),
])
def test_cli_trace_errors(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "bad.sql").write_text("-- input: r\nSELECT 1 FROM r")
    (tmp_path / "copy.sql").write_text("-- input: r\n-- step: a\nCOPY r TO 'x.csv'")
    args = [a.format(bad=tmp_path / "bad.sql", copy=tmp_path / "copy.sql") for a in args]
    res = CliRunner().invoke(cli, ["trace", *args, "--out", str(tmp_path / "t.json")])
    assert res.exit_code == 1 and res.output.startswith("Error: ") and message in res.output
    assert "Traceback" not in res.output and not (tmp_path / "t.json").exists()


def test_bad_input_tag_in_trace_is_refused() -> None:
    doc = trace_to_dict(trace_from_sql(PIPELINE))
    doc["inputs"] = ["../etc/passwd", "weights"]
    with pytest.raises(InputError, match="bad input tag '../etc/passwd'"):
        trace_from_dict(doc)


def test_other_dialect_is_replayed_on_duckdb(tmp_path: Path) -> None:
    sample = write_requests(tmp_path / "requests.parquet", 20)
    trace = trace_from_sql("-- input: requests\n-- step: s\nSELECT request_id, "
                           "CAST(context_tokens AS BIGINT) % 7 AS r FROM requests "
                           "ORDER BY request_id ASC NULLS LAST LIMIT 3", dialect="postgres")
    assert trace.dialect == "postgres"
    table, _ = replay_trace(trace_from_dict(trace_to_dict(trace)), {"requests": str(sample)})
    assert table.to_pylist() == [{"request_id": i, "r": (100 + i * 37) % 7} for i in range(3)]


def test_trace_then_replay_cli(tmp_path: Path) -> None:
    sample = write_requests(tmp_path / "requests.parquet", 40)
    trace, policies = tmp_path / "trace.json", tmp_path / "policies.json"
    assert CliRunner().invoke(cli, ["trace", "--sql", str(EXAMPLE), "--out", str(trace)]
                              ).exit_code == 0
    res = CliRunner().invoke(cli, ["replay", "--trace", str(trace), "--sample", str(sample),
                                   "--device", "h100", "--out", str(policies)])
    assert res.exit_code == 0, res.output
    metrics = json.loads(policies.read_text())["plan_metrics"]
    assert metrics["measured"]["steps"][0]["output_rows"] == 40
    assert metrics["counts"]["repartitions"] == 4


@pytest.mark.parametrize("change, message", [
    ({"dialect": "nosuch"}, "trace 'dialect' 'nosuch' is not a SQL dialect sqlglot knows"),
    ({"dialect": 5}, "trace 'dialect' 5 is not a SQL dialect"),
    ({"default_input": 5}, "trace 'default_input' 5 is not one of its inputs"),
    ({"default_input": "../x"}, "'../x' is not one of its inputs (requests, weights)"),
    ({"sqlglot_version": 3}, "trace 'sqlglot_version' must be a string"),
    ({"inputs": ["requests", "weights", "Requests"]}, "input tag 'Requests' is in the trace twice"),
])
def test_bad_trace_fields_are_refused(change: dict, message: str) -> None:
    with pytest.raises(InputError) as info:
        trace_from_dict(trace_to_dict(trace_from_sql(PIPELINE)) | change)
    assert message in str(info.value)


def test_dialect_names_are_normalised_or_refused(tmp_path: Path) -> None:
    assert trace_from_sql(PIPELINE, dialect=" DuckDB").dialect == "duckdb"
    doc = trace_to_dict(trace_from_sql(PIPELINE)) | {"dialect": "DUCKDB"}
    assert trace_from_dict(doc).dialect == "duckdb"
    for name in ("", "nosuch", "duckdb, normalization_strategy=lowercase"):
        with pytest.raises(ParameterError, match="is not a SQL dialect sqlglot knows; use one of"):
            trace_from_sql(PIPELINE, dialect=name)
    with pytest.raises(InputError, match="is a folder"):
        load_trace(tmp_path)


def test_a_step_of_comments_only_and_a_trace_without_inputs() -> None:
    from sqlwave.safety import parse_query

    with pytest.raises(UnsafeSqlError, match="holds no SQL statement"):
        parse_query("-- nothing here", "duckdb", "s")
    trace = trace_from_sql("-- step: s\nSELECT 16 AS m, 4096 AS n, 4096 AS k")
    with pytest.raises(ParameterError, match="the trace reads no input"):
        replay_trace(trace, {trace.default_tag: "unused.parquet"})
