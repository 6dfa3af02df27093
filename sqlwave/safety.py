"""Refuse SQL from a trace file unless it is one read-only query over bound names only.

A trace is data someone else may have written. Before any of its SQL runs, each step is parsed and
its tree walked: the root must be a single query; no statement node (COPY, ATTACH, SET, CREATE, ...)
may appear anywhere, including inside a LATERAL or a scalar subquery; every table must be a plain
name that the trace binds (an input tag, an earlier step, or a CTE of a WITH around it); every
function must be on an allow-list. The DuckDB sandbox (sandbox.py) is a second fence, not the first:
its allowed paths stay writable, so this check is what keeps COPY ... TO out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator

import sqlglot
import sqlglot.expressions as exp
from sqlglot.errors import ParseError, TokenError

from sqlwave.errors import UnsafeSqlError, did_you_mean

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")  # \Z: "$" would let a final newline in
# Names DuckDB resolves to its own catalog (pg_settings, duckdb_views, sqlite_master, ...): a tag
# or step may not take one, or an unbound tag of that name would read the system view.
SYSTEM_NAME_RE = re.compile(r"^(pg_|duckdb_|sqlite_|pragma_|information_schema\Z)",
                            re.IGNORECASE)


def plain_name(name: str) -> bool:
    """A name a tag or step may take: letters, digits and _, and not a DuckDB system name.

    >>> plain_name("requests"), plain_name("pg_settings"), plain_name("a b")
    (True, False, False)
    """
    return bool(NAME_RE.match(name)) and not SYSTEM_NAME_RE.match(name)


# SQL's value functions without parentheses. sqlglot reads a quoted one ("current_timestamp")
# or `user` as a column; where no table has that column DuckDB binds the function: the clock or
# the user, which a replay must not depend on.
SQL_VALUE_NAMES = frozenset({
    "current_catalog", "current_date", "current_role", "current_schema", "current_time",
    "current_timestamp", "current_user", "localtime", "localtimestamp", "session_user", "user",
})

# A number as DuckDB reads it whole (sqlglot reads `1e` as one number, DuckDB as `1 e`).
NUMBER_RE = re.compile(r"^(\d[\d_]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")

# Statement kinds that write, read files, change settings or load code; refused wherever they sit.
_REFUSED_NODES: dict[str, str] = {
    "Command": "a non-query statement",
    "Create": "CREATE", "Insert": "INSERT", "Update": "UPDATE", "Delete": "DELETE",
    "Merge": "MERGE", "Drop": "DROP", "Alter": "ALTER", "Copy": "COPY", "Set": "SET",
    "Pragma": "PRAGMA", "Use": "USE", "Attach": "ATTACH", "Detach": "DETACH",
    "Into": "SELECT ... INTO",
    "Install": "INSTALL", "Describe": "DESCRIBE", "Show": "SHOW", "Summarize": "SUMMARIZE",
    "Export": "EXPORT", "LoadData": "LOAD DATA", "Placeholder": "a query parameter",
    "Parameter": "a query parameter", "SessionParameter": "a session parameter",
    "Transaction": "a transaction statement", "Commit": "COMMIT", "Rollback": "ROLLBACK",
}
REFUSED_NODE_TYPES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, n) for n in _REFUSED_NODES if isinstance(getattr(exp, n, None), type))

# sqlglot function classes a pipeline may call: pure maths, strings, aggregates, windows. Not
# any_value/first/last or the approx_* sketches: their result depends on which thread saw which
# row first, so two replays of one trace could tune for different problems.
_ALLOWED_FUNC_CLASSES = (
    "Count", "Sum", "Min", "Max", "Avg", "CountIf", "Stddev", "StddevPop",
    "StddevSamp", "Variance", "VariancePop", "Median", "PercentileCont", "PercentileDisc",
    "Quantile", "ArgMax", "ArgMin", "LogicalAnd",
    "LogicalOr", "RowNumber", "Rank", "DenseRank", "PercentRank", "CumeDist", "Ntile", "Lag",
    "Lead", "FirstValue", "LastValue", "NthValue", "Cast", "TryCast", "Case", "If", "Coalesce",
    "Nullif", "Greatest", "Least", "Abs", "Ceil", "Floor", "Round", "Sqrt", "Ln", "Log", "Exp",
    "Pow", "Sign", "Substring", "Lower", "Upper", "Length", "Trim", "StrPosition", "Concat",
    "ConcatWs", "MD5", "Left", "Right", "Replace", "StartsWith", "EndsWith", "Extract",
    "DateTrunc", "TimestampTrunc", "TimeToUnix", "Pad", "Div", "IntDiv", "SafeDivide",
    "DateAdd", "DateDiff", "DateSub", "Exists", "Struct", "Array", "Columns", "Hex",
    # Boolean connectives are Func subclasses in recent sqlglot (30.x): WHERE a AND b.
    "And", "Or", "Xor",
)
ALLOWED_FUNC_TYPES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, n) for n in _ALLOWED_FUNC_CLASSES if isinstance(getattr(exp, n, None), type))
# Functions sqlglot keeps as Anonymous (DuckDB names); none touches files, env or settings.
ALLOWED_ANONYMOUS = frozenset({
    "ceiling", "power", "log2", "log10", "bit_count", "hash", "strlen", "prefix", "suffix",
    "contains", "starts_with", "ends_with", "epoch", "epoch_ms", "instr", "isnan", "isinf",
    "even", "gcd", "lcm", "factorial", "cbrt",
})


def parse_query(sql: str, dialect: str, step: str) -> exp.Query:
    """Parse one step's SQL; exactly one statement, and it must be a query.

    >>> parse_query("SELECT 1 AS one", "duckdb", "s").sql()
    'SELECT 1 AS one'
    """
    try:
        statements = quiet_parse(sql, dialect, f"step {step!r}: ")
    except ParseError as e:
        raise UnsafeSqlError(f"step {step!r}: SQL does not parse ({_first(e)}); "
                             "each step must be one SELECT query") from e
    if not statements:
        raise UnsafeSqlError(f"step {step!r} holds no SQL statement (only comments?); give it "
                             "one SELECT query")
    if len(statements) != 1:
        raise UnsafeSqlError(f"step {step!r}: refused {len(statements)} stacked statements; "
                             "a step holds exactly one SELECT query")
    return require_query(statements[0], step)


def quiet_parse(sql: str, dialect: str, where: str = "") -> list[exp.Expr]:
    """sqlglot.parse without its log warning for statements it keeps as Command (refused anyway)."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        # A comment after the last `;` parses as a Semicolon node: no statement.
        return [s for s in sqlglot.parse(sql, read=dialect)
                if s is not None and not isinstance(s, exp.Semicolon)]
    except TokenError as e:  # an unterminated string or comment: to callers, SQL that does not parse
        raise ParseError(str(e)) from e
    except RecursionError as e:
        raise UnsafeSqlError(f"{where}refused SQL nested too deeply to check; simplify it") from e
    finally:
        logger.setLevel(level)


def require_query(root: exp.Expr, step: str) -> exp.Query:
    """The root must be a read-only query (SELECT, UNION, ...), not a statement."""
    if isinstance(root, REFUSED_NODE_TYPES) or not isinstance(root, exp.Query):
        raise UnsafeSqlError(f"step {step!r}: refused {_what(root)}; a step must be one "
                             "read-only SELECT query")
    return root


def check_query(root: exp.Expr, allowed: Iterable[str], step: str) -> exp.Query:
    """Refuse anything but a read-only query over `allowed` names with allow-listed functions.

    >>> q = parse_query("SELECT count(*) AS n FROM requests", "duckdb", "s")
    >>> check_query(q, ["requests"], "s").sql()
    'SELECT COUNT(*) AS n FROM requests'
    >>> check_query(parse_query("SELECT getenv('HOME')", "duckdb", "s"), [], "s")
    Traceback (most recent call last):
    ...
    sqlwave.errors.UnsafeSqlError: step 's': refused function getenv(); ...
    """
    return check_query_text(root, allowed, step)[0]


def check_query_text(root: exp.Expr, allowed: Iterable[str],
                     step: str) -> tuple[exp.Query, str]:
    """`check_query`, plus the text that was checked: what the step runs as (runnable_sql)."""
    query = require_query(root, step)
    names = {n.lower() for n in allowed}
    _check_tree(query, names, step)
    # What runs is text generated from this tree. Some nodes print their content raw (a quoted
    # type name did: CAST(x AS "oid) ... FROM pg_settings --")), so the text must read back as
    # itself and pass the same checks: DuckDB then runs exactly what was checked.
    text = runnable_sql(query)
    _check_ascii_outside_quotes(text, step)
    again = parse_query(text, "duckdb", step)
    if runnable_sql(again) != text:
        raise UnsafeSqlError(f"step {step!r}: refused SQL that does not read back as itself; "
                             "simplify the query (quoted type names, unusual syntax)")
    _check_tree(again, names, step)
    return query, text


def check_duckdb_parses(text: str, name: str) -> None:
    """DuckDB's own parser must read the text a step runs as one statement: sqlglot accepts some
    SQL DuckDB does not (COLLATE in a cast), which would otherwise fail only at replay."""
    import duckdb

    from sqlwave.engine import first_line

    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as e:
        reason = first_line(e)
        fix = "rewrite it"
        if "max_expression_depth" in reason:  # DuckDB's advice (SET ...) is not for a step
            reason, fix = reason.split(". Use ")[0], "split the expression over CTEs or steps"
        raise UnsafeSqlError(f"step {name!r}: DuckDB cannot parse the SQL it would run "
                             f"({reason}); {fix}") from e
    if len(statements) != 1:
        raise UnsafeSqlError(f"step {name!r}: refused SQL that DuckDB reads as several statements")


def runnable_sql(query: exp.Expr) -> str:
    """The DuckDB SQL a checked step runs as: comments dropped (never run) and every identifier
    quoted, so that nothing DuckDB reads differently from sqlglot can sit in one (it turns some
    invisible characters into spaces outside quotes)."""
    return query.sql(dialect="duckdb", comments=False, identify=True)


# Tokens whose text sits between quotes in the SQL that runs.
_QUOTED_TOKENS = frozenset({"STRING", "IDENTIFIER", "BIT_STRING", "HEX_STRING", "BYTE_STRING",
                            "NATIONAL_STRING", "RAW_STRING", "HEREDOC_STRING", "UNICODE_STRING"})


def _check_ascii_outside_quotes(text: str, step: str) -> None:
    """Outside quotes, the SQL that runs is ASCII: DuckDB and sqlglot disagree about other
    characters there (some are spaces to one and letters to the other; case folding differs)."""
    from sqlglot.dialects.duckdb import DuckDB

    for token in DuckDB().tokenize(text):
        if token.token_type.name not in _QUOTED_TOKENS and not token.text.isascii():
            raise UnsafeSqlError(f"step {step!r}: refused {token.text[:40]!r}: outside quotes, "
                                 "write SQL in ASCII")


# DuckDB's join-order search is not interruptible: 300 joins in one step planned for 46 s past
# --timeout (150 took 3 s). A pipeline that needs more splits them over steps.
MAX_JOINS = 64


def _check_tree(query: exp.Expr, names: set[str], step: str) -> None:
    joins = sum(1 for _ in query.find_all(exp.Join))
    if joins > MAX_JOINS:
        raise UnsafeSqlError(f"step {step!r}: refused {joins} joins in one step (at most "
                             f"{MAX_JOINS}): split it into steps")
    for with_ in query.find_all(exp.With):
        if with_.args.get("recursive"):
            raise UnsafeSqlError(f"step {step!r}: refused WITH RECURSIVE (a replay must end); "
                                 "unroll it into steps")
    scopes: dict[int, dict[str, int]] = {}
    for node in query.walk():
        if isinstance(node, REFUSED_NODE_TYPES):
            raise UnsafeSqlError(f"step {step!r}: refused {_what(node)} inside the query; "
                                 "a step must be one read-only SELECT query")
        if isinstance(node, exp.Table):
            _check_table(node, names, step, scopes)
        elif isinstance(node, exp.Column) and not node.table and node.name.lower() in \
                SQL_VALUE_NAMES:
            raise UnsafeSqlError(f"step {step!r}: refused unqualified column {node.name!r}: where no "
                                 f"table has it, DuckDB reads it as the SQL function {node.name}, "
                                 f"which a replay must not depend on; qualify it (t.\"{node.name}\")")
        elif isinstance(node, exp.LimitOptions) and node.args.get("with_ties"):
            raise UnsafeSqlError(f"step {step!r}: refused WITH TIES, which the SQL that runs would "
                                 "lose; order by enough columns to make the rows unique")
        elif (isinstance(node, exp.LimitOptions) and node.args.get("percent")
              and isinstance(node.parent, exp.Fetch)):
            raise UnsafeSqlError(f"step {step!r}: refused FETCH ... PERCENT, which the SQL that "
                                 "runs would lose; write LIMIT n PERCENT")
        elif isinstance(node, exp.Lock):
            raise UnsafeSqlError(f"step {step!r}: refused a locking clause (FOR UPDATE/SHARE); a "
                                 "step only reads")
        elif isinstance(node, exp.Func):
            _check_function(node, step)
        elif isinstance(node, exp.TableSample):
            raise UnsafeSqlError(f"step {step!r}: refused a sampling clause (USING SAMPLE, "
                                 "TABLESAMPLE): a replay must be repeatable; sample the input "
                                 "file instead")
        elif isinstance(node, exp.Var) and not NAME_RE.match(str(node.this)):
            raise UnsafeSqlError(f"step {step!r}: refused raw SQL text {str(node.this)[:40]!r} "
                                 "in the query tree")
        elif isinstance(node, exp.Identifier) and not node.quoted and not NAME_RE.match(node.name):
            raise UnsafeSqlError(f"step {step!r}: refused name {node.name[:40]!r}; write names "
                                 "with letters, digits and _, or quote them (\"...\")")
        elif isinstance(node, exp.Literal) and not node.is_string and not NUMBER_RE.match(
                str(node.this)):
            raise UnsafeSqlError(f"step {step!r}: refused number {str(node.this)[:40]!r}")
        elif isinstance(node, exp.DataType) and node.this == exp.DataType.Type.USERDEFINED:
            raise UnsafeSqlError(f"step {step!r}: refused type {str(node.args.get('kind'))[:40]!r}; "
                                 "cast to a built-in type (BIGINT, DOUBLE, VARCHAR, ...)")


def _check_table(table: exp.Table, names: set[str], step: str,
                 scopes: dict[int, dict[str, int]]) -> None:
    """Every check runs on every table; a CTE in scope only counts as a known name last (it
    once skipped them all: `WITH pg_settings AS (...) ... FROM pg_catalog.pg_settings` read the
    system view)."""
    target = table.this
    if not isinstance(target, exp.Identifier):
        raise UnsafeSqlError(f"step {step!r}: refused table function {_func_name(target)}() in "
                             "FROM; read inputs through their bound tags (--bind tag=path)")
    name = target.name
    if table.args.get("db") or table.args.get("catalog"):
        raise UnsafeSqlError(f"step {step!r}: refused qualified table name {table.sql()!r}; "
                             "use a bound tag or an earlier step name")
    if not NAME_RE.match(name):
        raise UnsafeSqlError(f"step {step!r}: refused path-like table name {name!r}; files are "
                             "bound at replay time (--sample, --bind tag=path), not named in SQL")
    if name.lower() not in names and not cte_in_scope(table, scopes):
        known = names | ctes_in_scope(table)
        raise UnsafeSqlError(f"step {step!r}: table {name!r} is neither a bound input tag nor an "
                             f"earlier step (known: {', '.join(sorted(known)) or 'none'})."
                             + did_you_mean(name, known))


# lpad/rpad build their strings outside DuckDB's memory limit: a count of 2e9 asked for 2 GB a row.
MAX_PAD = 1_000_000


def _check_function(node: exp.Func, step: str) -> None:
    if isinstance(node, exp.Pad):
        length = node.args.get("expression")
        if not (isinstance(length, exp.Literal) and not length.is_string
                and str(length.this).isdigit() and int(str(length.this)) <= MAX_PAD):
            raise UnsafeSqlError(f"step {step!r}: refused {_func_name(node)}() with a length other "
                                 f"than a whole number up to {MAX_PAD}")
    if isinstance(node, exp.Anonymous):
        if node.name.lower() in ALLOWED_ANONYMOUS:
            return
    elif type(node) in ALLOWED_FUNC_TYPES:
        return
    raise UnsafeSqlError(f"step {step!r}: refused function {_func_name(node)}(); it is not on "
                         "the allow-list of pure functions (see docs/trace.md)")


def cte_in_scope(table: exp.Table, scopes: dict[int, dict[str, int]]) -> bool:
    """Whether a table reference means a CTE: one of the WITH clauses around it defines its name
    where the reference can see it (as `ctes_in_scope` says). `scopes` keeps each WITH's names
    (name -> first position) for one walk of one tree, so a query of N CTEs checks in time
    linear in N (a set of every name in scope, per table, took 14 s for 4000 CTEs).
    """
    name = table.name.lower()
    return any(_first_positions(with_, scopes).get(name, seen) < seen
               for with_, seen in _withs_around(table))


def _first_positions(with_: exp.Expr, scopes: dict[int, dict[str, int]]) -> dict[str, int]:
    key = id(with_)
    if key not in scopes:
        first: dict[str, int] = {}
        for i, cte in enumerate(with_.expressions):
            for cte_name in _cte_names([cte]):
                first.setdefault(cte_name, i)
        scopes[key] = first
    return scopes[key]


def ctes_in_scope(table: exp.Table) -> set[str]:
    """The CTE names a table reference can mean: those of the WITH clauses around it.

    A CTE is visible in the body of its query and in the CTEs after it, nowhere else: a name
    defined in a subquery must not make a table of that name elsewhere (a system view such as
    pg_settings or duckdb_tables) pass as a CTE.
    """
    return {n for with_, seen in _withs_around(table) for n in _cte_names(with_.expressions[:seen])}


def _withs_around(table: exp.Table) -> Iterator[tuple[exp.Expr, int]]:
    """Each WITH clause around `table`, with how many of its CTEs the reference can see: those
    before it when it sits in one of them, else all (it sits in the query's body)."""
    child: exp.Expr = table
    node = table.parent
    while node is not None:
        if isinstance(node, exp.With):  # child is one of its CTEs: the earlier ones are visible
            at = child.index if child.arg_key == "expressions" else None
            yield node, len(node.expressions) if at is None else at
        elif isinstance(node, exp.Query):
            with_ = node.args.get("with_") or node.args.get("with")
            if with_ is not None and with_ is not child:
                yield with_, len(with_.expressions)
        child, node = node, node.parent


def _cte_names(ctes: list[exp.Expr]) -> set[str]:
    """Lower-cased plain CTE names only: DuckDB folds ASCII case alone, and Python's lower()
    would make the Kelvin sign a 'k' (a CTE "duc<U+212A>db_views" passed `FROM duckdb_views`)."""
    return {cte.alias.lower() for cte in ctes if isinstance(cte, exp.CTE)
            and NAME_RE.match(cte.alias)}


def _func_name(node: exp.Expr | None) -> str:
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return type(node).__name__.lower()


def _what(node: exp.Expr) -> str:
    name = type(node).__name__
    if name in _REFUSED_NODES:
        label = _REFUSED_NODES[name]
        if isinstance(node, exp.Command):
            label = f"{str(node.this).upper()} ({label})"
        return label
    return f"a {name} statement" if not isinstance(node, exp.Query) else name


def _first(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
