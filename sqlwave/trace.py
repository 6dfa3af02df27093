"""The workload trace ("sqlwave.trace/1"): named SQL steps over input tags, and its replay.

A trace is an ordered list of steps. Each step is one read-only query that may read input tags
(bound to Parquet files at replay time: `--sample` binds the default tag, `--bind tag=path` the
others) and earlier steps. The stored truth is canonical SQL text + dialect + the sqlglot version
that wrote it. A sqlglot AST dump may ride along (the plan IR for other tools): loaded only
through an allow-list (trace_ast.py) and compared with the tree parsed from the SQL, which is
what runs. Every step is safety-checked once per Trace (frozen, so the check holds), when it is
loaded or, for a Trace built in Python, before it runs; what runs is the text that was checked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from typing import Any

import pyarrow as pa
import sqlglot.expressions as exp

from sqlwave.errors import (
    InputError,
    ParameterError,
    SqlwaveError,
    UnsafeSqlError,
    did_you_mean,
)
from sqlwave.plan_metrics import PlanMetrics
from sqlwave.safety import plain_name

FORMAT = "sqlwave.trace/1"
SQLGLOT_VERSION = metadata.version("sqlglot")
DEFAULT_TAG = "sample"


@dataclass(frozen=True)
class Step:
    """One named query; `ast` is the optional serde cache of `sql`."""

    name: str
    sql: str
    ast: list[dict[str, Any]] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Trace:
    """Input tags (the first is the default, bound by --sample) and ordered steps."""

    inputs: tuple[str, ...]
    steps: tuple[Step, ...]
    dialect: str = "duckdb"
    sqlglot_version: str = SQLGLOT_VERSION

    @property
    def default_tag(self) -> str:
        return self.inputs[0] if self.inputs else DEFAULT_TAG

    @cached_property
    def checked(self) -> CheckedSteps:
        """Each step parsed and safety-checked (cached: checking a 20,000-value IN list takes
        about a second, and loading then replaying a trace checked it twice)."""
        return _check_steps(self)


@dataclass(frozen=True)
class CheckedSteps:
    """Each step's checked query, the DuckDB text it runs as, and notes about the AST cache."""

    queries: tuple[exp.Query, ...]
    texts: tuple[str, ...]
    notes: tuple[str, ...]


def trace_from_sql(text: str, dialect: str = "duckdb", with_ast: bool = False) -> Trace:
    """Build a trace from pipeline text (see pipeline.py for the convention).

    >>> t = trace_from_sql("-- input: r\\n-- step: n\\nselect count(*) as c from r")
    >>> t.default_tag, t.steps[0].sql
    ('r', 'SELECT COUNT(*) AS c FROM r')
    """
    from sqlwave.pipeline import parse_pipeline_text
    from sqlwave.trace_ast import dump_ast

    dialect = dialect_name(dialect, "dialect")
    inputs, raw = parse_pipeline_text(text, dialect)
    steps = tuple(Step(s.name, _canonical(s.query, dialect),
                       dump_ast(s.query) if with_ast else None) for s in raw)
    return Trace(tuple(inputs), steps, dialect)


def dialect_name(name: object, what: str) -> str:
    """A sqlglot dialect name, trimmed and lower-cased; anything else is refused with the list.

    >>> dialect_name(" DuckDB", "--dialect")
    'duckdb'
    """
    from sqlglot.dialects.dialect import Dialect, Dialects

    # sqlglot reads '' as its generic dialect and 'duckdb, x=y' as settings: neither is a name
    key = name.strip().lower() if isinstance(name, str) else ""
    known = sorted(d.value for d in Dialects if d.value)
    if key.isidentifier():
        try:
            Dialect.get_or_raise(key)
            return key
        except ValueError:
            pass
    raise ParameterError(f"{what} {name!r} is not a SQL dialect sqlglot knows; use one of "
                         f"{', '.join(known)}." + did_you_mean(key.split(",")[0].strip(), known))


def _canonical(query: exp.Expr, dialect: str) -> str:
    return query.sql(dialect=dialect, comments=False)


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    """JSON-ready dict of a trace (keys in a fixed order)."""
    steps = []
    for s in trace.steps:
        entry: dict[str, Any] = {"name": s.name, "sql": s.sql}
        if s.ast is not None:
            entry["ast"] = s.ast
        steps.append(entry)
    return {"format": FORMAT, "dialect": trace.dialect, "sqlglot_version": trace.sqlglot_version,
            "inputs": list(trace.inputs), "default_input": trace.default_tag, "steps": steps}


def trace_from_dict(data: object) -> Trace:
    """Validate a decoded trace JSON and safety-check every step (nothing runs here)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"not a {FORMAT} trace (format: {found!r}); write one with "
                         "`sqlwave trace --sql pipeline.sql --out trace.json`")
    inputs = _str_list(data.get("inputs", []), "inputs")
    bad = [t for t in inputs if not plain_name(t)]
    if bad:
        raise InputError(f"bad input tag {bad[0]!r} in the trace: use letters, digits and _ "
                         "(and no DuckDB system name: pg_*, duckdb_*, sqlite_*)")
    # DuckDB's names ignore case: two tags differing in case would be one view.
    twice = [t for i, t in enumerate(inputs) if t.lower() in {u.lower() for u in inputs[:i]}]
    if twice:
        raise InputError(f"input tag {twice[0]!r} is in the trace twice (names ignore case); "
                         "keep one")
    inputs = _default_first(inputs, data.get("default_input"))
    steps = tuple(_step_from_dict(s) for s in _list(data.get("steps"), "steps"))
    version = data.get("sqlglot_version", "unknown")
    if not isinstance(version, str):
        raise InputError("trace 'sqlglot_version' must be a string")
    try:
        dialect = dialect_name(data.get("dialect", "duckdb"), "trace 'dialect'")
    except ParameterError as e:
        raise InputError(str(e)) from e
    trace = Trace(tuple(inputs), steps, dialect, version)
    trace.checked  # noqa: B018 - checked on load, so a bad trace fails before any work
    return trace


def _default_first(inputs: list[str], default: object) -> list[str]:
    """The inputs with the default tag (bound by --sample) first; it must be one of them."""
    if default is None or not inputs:  # a trace without inputs names the default 'sample'
        return inputs
    if default not in inputs:
        raise InputError(f"trace 'default_input' {default!r} is not one of its inputs "
                         f"({', '.join(inputs)}); set it to one of them."
                         + (did_you_mean(default, inputs) if isinstance(default, str) else ""))
    return [str(default)] + [t for t in inputs if t != default]


def _step_from_dict(item: object) -> Step:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
            or not isinstance(item.get("sql"), str):
        raise InputError("each trace step needs a string 'name' and 'sql'")
    ast = item.get("ast")
    return Step(item["name"], item["sql"], ast if isinstance(ast, list) else None)


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise InputError(f"trace {what!r} must be a non-empty list")
    return value


def _str_list(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"trace {what!r} must be a list of strings")
    return list(value)


def load_trace(path: str | os.PathLike[str]) -> Trace:
    """Read and safety-check a trace JSON file."""
    from sqlwave.wavespec import read_json

    data = read_json(path, "trace file", "give the JSON that `sqlwave trace` wrote")
    return trace_from_dict(data)


def save_trace(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write a trace as JSON, atomically."""
    from sqlwave.outputs import write_text_atomic

    write_text_atomic(path, json.dumps(trace_to_dict(trace), indent=1) + "\n")


def checked_queries(trace: Trace) -> tuple[list[exp.Query], list[str]]:
    """Each step's query, parsed from its SQL and safety-checked, plus notes.

    An AST cache of the same sqlglot version is compared with the parsed tree (a note when they
    differ); one from another version is ignored (a trace from another version still loads).
    """
    # Copies: the trees are the trace's cache, which a caller's change must not reach.
    return [q.copy() for q in trace.checked.queries], list(trace.checked.notes)


def _check_steps(trace: Trace) -> CheckedSteps:
    from sqlwave.safety import check_duckdb_parses, check_query_text, parse_query

    notes: list[str] = []
    if trace.sqlglot_version != SQLGLOT_VERSION and any(s.ast for s in trace.steps):
        notes.append(f"trace written by sqlglot {trace.sqlglot_version}, running "
                     f"{SQLGLOT_VERSION}: AST cache ignored, steps re-derived from SQL")
    known = list(trace.inputs)
    queries, texts = [], []
    for step in trace.steps:
        if not plain_name(step.name) or step.name.lower() in {k.lower() for k in known}:
            raise InputError(f"bad or repeated step name {step.name!r} in the trace")
        try:
            query = parse_query(step.sql, trace.dialect, step.name)
            _compare_cache(step, trace, query, notes)
            query, text = check_query_text(query, known, step.name)
            check_duckdb_parses(text, step.name)
        except RecursionError as e:
            raise UnsafeSqlError(f"step {step.name!r}: refused SQL nested too deeply to check; "
                                 "simplify it") from e
        queries.append(query)
        texts.append(text)
        known.append(step.name)
    return CheckedSteps(tuple(queries), tuple(texts), tuple(notes))


def _compare_cache(step: Step, trace: Trace, query: exp.Expr, notes: list[str]) -> None:
    """Check a step's AST cache against the tree parsed from its SQL; a mismatch is noted.

    What runs is always the parsed SQL: the cache and the SQL come from the same file, so a
    cache that regenerates the stored SQL proves nothing (a raw-text node can carry a second
    statement that its own SQL spells out too).
    """
    from sqlwave.trace_ast import load_ast

    if step.ast is None or trace.sqlglot_version != SQLGLOT_VERSION:
        return
    if load_ast(step.ast) != query:
        notes.append(f"step {step.name!r}: AST cache does not match its SQL; ignored")


REPLAY_TIMEOUT_S = 600.0
# The tuner holds each problem in Python: a last step of 10^6 distinct rows ran for minutes.
MAX_RESULT_ROWS = 1_000_000


def replay_trace(trace: Trace, binds: dict[str, str], threads: int | None = None,
                 timeout: float = REPLAY_TIMEOUT_S) -> tuple[pa.Table, PlanMetrics]:
    """Run every step in the sandbox; return the last step's rows and the plan metrics.

    `binds` maps input tags to Parquet files. Counters from DuckDB's profiler are kept next to
    the sqlglot estimates; SQLWAVE_RUNTIME_METRICS, if set, is merged in last.
    """
    from sqlwave.engine import fetch_arrow, quote
    from sqlwave.plan_estimates import relations_read
    from sqlwave.plan_metrics import build_metrics, load_runtime_metrics
    from sqlwave.sandbox import run_guarded, sandboxed_connection

    queries, notes = list(trace.checked.queries), list(trace.checked.notes)
    used = {t for q in queries for t in relations_read(q, set(trace.inputs))}
    _check_binds(trace, binds, used)
    runtime = load_runtime_metrics()  # read before the steps run, so a bad file costs nothing
    con = sandboxed_connection(binds, threads=threads)
    running: list[str] = []

    def run_all() -> tuple[list[dict[str, Any] | None], pa.Table]:
        profiles = []
        for step, text in zip(trace.steps, trace.checked.texts, strict=True):
            running.append(step.name)
            profiles.append(_run_step(con, step.name, text))
        table = fetch_arrow(con, f"SELECT * FROM {quote(trace.steps[-1].name)} "
                                 f"LIMIT {MAX_RESULT_ROWS + 1}")
        if table.num_rows > MAX_RESULT_ROWS:
            raise InputError(f"step {trace.steps[-1].name!r} returns more than "
                             f"{MAX_RESULT_ROWS:,} rows; the last step gives GEMM problems: "
                             "group them (GROUP BY m, n, k with sum(weight))")
        return profiles, table

    try:
        profiles, table = run_guarded(con, run_all, timeout, lambda: running[-1] if running
                                      else trace.steps[0].name)
    finally:
        _close(con)
    if any(p is None for p in profiles):
        notes.append("this DuckDB gave no JSON profile: measured counters left out")
    kept = None if any(p is None for p in profiles) else [p for p in profiles if p is not None]
    return table, build_metrics(trace, queries, binds, kept, notes, runtime)


def _close(con: Any) -> None:
    """Close the sandbox; one still busy with a step that would not stop is left to the
    process's end (closing it would raise over the error that says why it stopped)."""
    import contextlib

    import duckdb

    with contextlib.suppress(duckdb.Error):
        con.close()


def _run_step(con: Any, name: str, sql: str) -> dict[str, Any] | None:
    """Materialise one step as a temp table; its profiler counters (None if unavailable)."""
    import duckdb

    from sqlwave.engine import first_line, quote
    from sqlwave.plan_metrics import operator_counters

    try:
        # A second fence after safety.py: DuckDB itself must see exactly one statement.
        if len(con.extract_statements(sql)) != 1:
            raise UnsafeSqlError(f"step {name!r}: refused SQL that DuckDB reads as several "
                                 "statements")
        con.execute(f"CREATE TEMP TABLE {quote(name)} AS {sql}")
    except duckdb.Error as e:
        raise SqlwaveError(f"step {name!r} failed on the sample: {first_line(e)}") from e
    counters = operator_counters(con)
    if counters is not None:
        rows = con.execute(f"SELECT count(*) FROM {quote(name)}").fetchall()
        counters["output_rows"] = rows[0][0]
    return counters


def _check_binds(trace: Trace, binds: Mapping[str, str], used: set[str]) -> None:
    for tag in binds:
        if not trace.inputs:  # only --sample can have bound it (to the default tag)
            raise ParameterError("the trace reads no input (its pipeline has no `-- input:` "
                                 "line); leave out --sample and --bind")
        if tag not in trace.inputs:
            raise ParameterError(f"--bind {tag}=...: the trace has no input tag {tag!r} "
                                 f"(inputs: {', '.join(trace.inputs) or 'none'})."
                                 + did_you_mean(tag, trace.inputs))
    missing = [t for t in trace.inputs if t in used and t not in binds]
    if missing:
        hint = " (--sample binds it)" if missing[0] == trace.default_tag else ""
        raise ParameterError(f"input tag {missing[0]!r} is not bound{hint}; pass "
                             f"--bind {missing[0]}=PATH.parquet")
