"""Read a pipeline .sql file into named steps (the input of `sqlwave trace`).

Convention (docs/trace.md):

    -- input: requests            an input tag, bound at replay time; the first is the default
    -- step: tokens               names the one statement below it
    SELECT ... FROM requests;
    CREATE VIEW problems AS       or name a step as a view: here only step syntax, it never runs
    SELECT ... FROM tokens;

Without any `-- input:` line, tables that are neither steps nor CTEs become the inputs, in order of
first use. Every step is checked by safety.py exactly as a trace is before it runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot.expressions as exp
from sqlglot.errors import ParseError

from sqlwave.errors import InputError
from sqlwave.safety import (
    NAME_RE,
    check_duckdb_parses,
    check_query_text,
    plain_name,
    quiet_parse,
    require_query,
)

# One name, then optionally a comment of its own: `-- step: tokens  -- per request`.
_DIRECTIVE = re.compile(r"^\s*--\s*(input|step)\s*:\s*(\S+)(?:\s+--.*)?\s*$", re.IGNORECASE)
# Anything else that starts like a directive is refused: read as a comment, a step would lose
# its name or an input tag would vanish without a word.
_LOOKS_LIKE_DIRECTIVE = re.compile(r"^\s*--\s*(inputs?|steps?)\s*:", re.IGNORECASE)
# What opens a string or comment: E'..' (backslash escapes), $tag$..$tag$, '..', "..", /* */.
_OPENERS = re.compile(r"--|/\*|\b[Ee]'|'|\"|\$[A-Za-z_]*\$")
_E_STRING_REST = re.compile(r"(?:[^'\\]|\\.)*'")  # up to the quote no backslash escapes


@dataclass(frozen=True)
class RawStep:
    """One named step as written: its name, its query, and where it starts in the file."""

    name: str
    query: exp.Query
    line: int


def parse_pipeline_text(text: str, dialect: str = "duckdb") -> tuple[list[str], list[RawStep]]:
    """(input tags, checked steps) of a pipeline file's text.

    >>> tags, steps = parse_pipeline_text("-- input: r\\n-- step: n\\nSELECT count(*) AS c FROM r;")
    >>> tags, [(s.name, s.query.sql()) for s in steps]
    (['r'], [('n', 'SELECT COUNT(*) AS c FROM r')])
    """
    inputs, chunks = _split(text)
    steps = [s for name, body, line in chunks for s in _chunk_steps(name, body, line, dialect)]
    if not steps:
        raise InputError("the pipeline holds no SQL step; write `-- step: NAME` above a SELECT")
    _check_names(inputs, steps)
    if not inputs:
        inputs = _inferred_inputs(steps)
    known = list(inputs)
    for step in steps:
        check_duckdb_parses(check_query_text(step.query, known, step.name)[1], step.name)
        known.append(step.name)
    return inputs, steps


def _split(text: str) -> tuple[list[str], list[tuple[str | None, str, int]]]:
    inputs: list[str] = []
    chunks: list[tuple[str | None, str, int]] = [(None, "", 1)]
    inside: str | None = None  # a string or block comment still open: no directive there
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(keepends=True),
                                  start=1):
        sql = inside is None  # the line starts outside any string or comment
        inside = _open_after(line, inside)
        match = _DIRECTIVE.match(line) if sql else None
        if sql and not match and _LOOKS_LIKE_DIRECTIVE.match(line):
            raise InputError(f"line {number}: {line.strip()!r} is not a directive; write "
                             "`-- input: TAG` or `-- step: NAME` (one name, then optionally "
                             "-- a comment)")
        if match and match.group(1).lower() == "input":
            inputs.append(_name(match.group(2), "input tag", number))
        elif match:
            chunks.append((_name(match.group(2), "step name", number), "", number + 1))
        else:
            name, body, start = chunks[-1]
            chunks[-1] = (name, body + line, start)
    return inputs, chunks


def _open_after(line: str, state: str | None) -> str | None:
    """The string or block comment still open at the end of `line` (its opener: ', ", E', a
    $tag$ or /*; None when none), given the one open at its start. A doubled quote closes and
    reopens: the same state either way.

    >>> _open_after("SELECT 'a", None), _open_after("b' AS x -- it's", "'"), _open_after("/* x", None)
    ("'", None, '/*')
    >>> _open_after("SELECT $$it's$$ AS x", None) is None
    True
    """
    i = 0
    while True:
        if state is None:
            found = _OPENERS.search(line, i)
            if found is None or found.group() == "--":
                return None
            state, i = found.group(), found.end()
            continue
        end = _closer(line, state, i)
        if end < 0:
            return state
        state, i = None, end


def _closer(line: str, state: str, start: int) -> int:
    """Where the string or comment opened by `state` ends in `line` (after its closer), or -1."""
    if state in ("E'", "e'"):
        escaped = _E_STRING_REST.match(line, start)
        return escaped.end() if escaped else -1
    closer = {"/*": "*/", "'": "'", '"': '"'}.get(state, state)  # a $tag$ closes itself
    end = line.find(closer, start)
    return end + len(closer) if end >= 0 else -1


def _name(text: str, what: str, line: int) -> str:
    if not plain_name(text):
        raise InputError(f"line {line}: bad {what} {text!r}; use letters, digits and _, not a "
                         "DuckDB system name (e.g. requests, gemm_problems)")
    return text


def _chunk_steps(name: str | None, body: str, line: int, dialect: str) -> list[RawStep]:
    try:
        statements = quiet_parse(body, dialect, f"step {name!r}: " if name else "")
    except ParseError as e:
        where = f"step {name!r}" if name else f"the SQL starting at line {line}"
        raise InputError(f"{where} does not parse: {str(e).splitlines()[0]}") from e
    if name is None:
        return [_view_step(s, line) for s in statements]
    if not statements:
        raise InputError(f"step {name!r} (line {line}) holds no statement")
    first = statements[0]
    if _is_view(first) and _view_name(first, line).lower() != name.lower():
        raise InputError(f"step {name!r} (line {line}) creates the view "
                         f"{_view_name(first, line)!r}: name the step as its view, or leave "
                         "out one of the two names")
    query = first.expression if _is_view(first) else first
    # Later statements in the chunk are steps of their own: CREATE VIEW, or refused unnamed.
    return [RawStep(name, require_query(query, name), line)] + [
        _view_step(s, line) for s in statements[1:]]


def _view_step(statement: exp.Expr, line: int) -> RawStep:
    if not _is_view(statement):
        raise InputError(f"a statement in the SQL from line {line} on has no step name: put "
                         "`-- step: NAME` "
                         "above it, or write it as CREATE VIEW NAME AS SELECT ...")
    name = _view_name(statement, line)
    return RawStep(_name(name, "step name", line), require_query(statement.expression, name), line)


def _view_name(statement: exp.Expr, line: int) -> str:
    target = statement.this
    if isinstance(target, exp.Schema):
        raise InputError(f"line {line}: a view's column list (CREATE VIEW v (a, b) AS ...) is not "
                         "supported; name the columns in the SELECT (SELECT x AS a, y AS b)")
    return target.name if isinstance(target, exp.Expr) else ""


def _is_view(statement: exp.Expr) -> bool:
    kind = str(statement.args.get("kind", "")).upper()
    return (isinstance(statement, exp.Create) and kind == "VIEW"
            and isinstance(statement.expression, exp.Query))


def _check_names(inputs: list[str], steps: list[RawStep]) -> None:
    seen: set[str] = set()
    for name in inputs + [s.name for s in steps]:
        if name.lower() in seen:
            raise InputError(f"name {name!r} is used twice (inputs and steps share one namespace); "
                             "rename one")
        seen.add(name.lower())


def _inferred_inputs(steps: list[RawStep]) -> list[str]:
    produced = {s.name.lower() for s in steps}
    found: list[str] = []
    for step in steps:
        ctes = {c.alias.lower() for c in step.query.find_all(exp.CTE)}
        for table in step.query.find_all(exp.Table):
            name = table.name
            if (isinstance(table.this, exp.Identifier) and NAME_RE.match(name)
                    and name.lower() not in produced | ctes | {f.lower() for f in found}):
                if not plain_name(name):
                    raise InputError(f"step {step.name!r} reads {name!r}, a DuckDB system name, "
                                     "not an input; a pipeline reads only its `-- input:` tags "
                                     "and earlier steps")
                found.append(name)
    return found
