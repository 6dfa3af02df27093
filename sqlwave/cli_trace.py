"""`sqlwave trace`: a SQL pipeline file -> a "sqlwave.trace/1" JSON (the workload IR)."""

from __future__ import annotations

import click

from sqlwave.cli import handle_errors


@click.command()
@click.option("--sql", "sql_path", required=True, help="Pipeline .sql file: `-- input: TAG` lines, "
              "then steps named by `-- step: NAME` or written as CREATE VIEW NAME AS SELECT ...")
@click.option("--out", default="trace.json", show_default=True, help="Trace JSON to write.")
@click.option("--dialect", default="duckdb", show_default=True, help="SQL dialect of the file.")
@click.option("--ast", "with_ast", is_flag=True, help="Also store each step's sqlglot AST "
              "(sqlglot.serde) for tools that read the plan as a tree; about 27x larger. "
              "Replay still runs the SQL.")
@handle_errors
def trace(sql_path: str, out: str, dialect: str, with_ast: bool) -> None:
    """Check a SQL pipeline and write it as a replayable trace."""
    from sqlwave.errors import InputError
    from sqlwave.outputs import check_outputs
    from sqlwave.trace import dialect_name, save_trace, trace_from_sql

    check_outputs({"--out": out}, [sql_path])
    dialect = dialect_name(dialect, "--dialect")
    try:
        with open(sql_path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        raise InputError(f"cannot read pipeline {sql_path!r}: {e.strerror}; check --sql") from e
    except UnicodeDecodeError as e:
        raise InputError(f"pipeline {sql_path!r} is not UTF-8 text (byte {e.start}); save it "
                         "as UTF-8") from e
    result = trace_from_sql(text, dialect=dialect, with_ast=with_ast)
    save_trace(result, out)
    click.echo(f"wrote {out}: {len(result.steps)} steps ({', '.join(s.name for s in result.steps)})"
               f", inputs {', '.join(result.inputs) or 'none'} (default {result.default_tag})",
               err=True)


COMMANDS = [trace]
