"""The `sqlwave` command line: thin commands that parse options, call the library, print."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from sqlwave import __version__
from sqlwave.errors import SqlwaveError

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turn SqlwaveError, and DuckDB errors that got past the checks, into `Error: …` on stderr
    and exit 1; --debug shows the traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as e:
            if not isinstance(e, SqlwaveError) and not _from_duckdb(e):
                raise
            if click.get_current_context().find_root().params.get("debug"):
                raise
            click.echo(f"Error: {e if isinstance(e, SqlwaveError) else _explain(e)}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _from_duckdb(error: Exception) -> bool:
    """Whether DuckDB raised it (by module: importing duckdb here would slow `sqlwave --help`)."""
    return any(cls.__module__.split(".")[0] in ("duckdb", "_duckdb") for cls in type(error).__mro__)


def _explain(error: Any) -> SqlwaveError:
    from sqlwave.engine import explain

    return explain(error)


@click.group(no_args_is_help=True)
@click.version_option(__version__, prog_name="sqlwave")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def cli(debug: bool) -> None:
    """Turn GPU-cache access logs into load decisions with SQL macros on DuckDB."""


def main() -> None:
    from sqlwave.commands import register

    register(cli)
    cli()
