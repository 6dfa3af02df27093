"""The `sqlwave` command line: thin commands that parse options, call the library, print."""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

from sqlwave import __version__
from sqlwave.errors import SqlwaveError
from sqlwave.signals import held

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """Turn SqlwaveError, and engine errors (DuckDB, Spark, PostgreSQL) that got past the checks,
    into `Error: …` on stderr and exit 1; --debug shows the traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with held():  # a signal inside DuckDB's start-up aborted the process
                import duckdb  # noqa: F401
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            _stopped()
        except Exception as e:
            try:
                _report(e)
            except KeyboardInterrupt:  # the signal's own handler, right after DuckDB's report
                _stopped()

    return wrapper  # type: ignore[return-value]


def _report(e: Exception) -> NoReturn:
    """`Error: …` and exit 1 for SqlwaveError and engine errors; anything else is a bug, and
    its traceback is raised."""
    # DuckDB reports a Ctrl-C that lands inside a query as a plain RuntimeError, or (an
    # interrupt from sqlwave.signals, on DuckDB 2) as an InterruptException.
    if (type(e) is RuntimeError and "interrupted" in str(e).lower()
            or type(e).__name__ == "InterruptException"):
        _stopped()
    engine = _engine_of(e)
    if not isinstance(e, SqlwaveError) and engine is None:
        raise e
    if click.get_current_context().find_root().params.get("debug"):
        raise e
    click.echo(f"Error: {e if isinstance(e, SqlwaveError) else _explain(e, engine)}", err=True)
    sys.exit(1)


# The signal that stopped the command: SIGINT unless the SIGTERM handler saw a SIGTERM.
_stop_signal = signal.SIGINT


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM: stop as Ctrl-C does, so that temp files and DuckDB's spill files are removed
    (Python's default for SIGTERM ends the process on the spot)."""
    global _stop_signal
    _stop_signal = signal.SIGTERM
    raise KeyboardInterrupt


def _stopped() -> None:
    if click.get_current_context().find_root().params.get("debug"):
        raise
    _exit_stopped()


def _exit_stopped() -> NoReturn:
    # The first signal decides: DuckDB, interrupted by sqlwave.signals, may report it before
    # Python runs the SIGTERM handler.
    from sqlwave.signals import stopped_by

    number = stopped_by() or int(_stop_signal)
    what = "terminated" if number == signal.SIGTERM else "interrupted"
    # Outputs are renamed into place whole, so each is the old file or the complete new one.
    click.echo(f"Error: {what}", err=True)
    sys.exit(128 + number)


# Engines whose errors reach the user as `Error: …`, found by the raising class's module
# (importing duckdb here would slow `sqlwave --help`; pyspark and psycopg are optional).
ENGINE_MODULES = {"duckdb": "DuckDB", "_duckdb": "DuckDB", "pyspark": "Spark", "py4j": "Spark",
                  "psycopg": "PostgreSQL"}


def _engine_of(error: Exception) -> str | None:
    for cls in type(error).__mro__:
        engine = ENGINE_MODULES.get(cls.__module__.split(".")[0])
        if engine:
            return engine
    return None


def _explain(error: Any, engine: str | None) -> SqlwaveError:
    if engine == "DuckDB":
        from sqlwave.engine import explain

        return explain(error)
    from sqlwave.engine import first_line

    return SqlwaveError(f"{engine} failed: {first_line(error)} (`sqlwave --debug ...` shows the "
                        "traceback)")


# click 8.2+ raises this for a bare `sqlwave`; older versions print the help themselves.
NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class Group(click.Group):
    """click's group, with its usage errors (an unknown option, 'abc' for an integer) reported
    like every other error: `Error: …` and exit 1, where click prints the usage and exits 2."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        run = functools.partial(super().main, args, prog_name, complete_var,
                                standalone_mode=False, **extra)
        if not standalone_mode:
            return run()
        try:
            code: Any = run()
        except NO_ARGS_IS_HELP as e:  # bare `sqlwave`: the help, no error
            click.echo(e.ctx.get_help() if e.ctx else "")
            sys.exit(0)
        except click.UsageError as e:
            hint = f" (see `{e.ctx.command_path} --help`)" if e.ctx else ""
            click.echo(f"Error: {e.format_message()}{hint}", err=True)
            sys.exit(1)
        except click.ClickException as e:
            e.show()
            sys.exit(1)
        except click.Abort:  # Ctrl-C outside a command (click turns it into Abort)
            _exit_stopped()
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=Group, no_args_is_help=True)
@click.version_option(__version__, prog_name="sqlwave")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def cli(debug: bool) -> None:
    """Turn GPU-cache access logs into load decisions with SQL macros on DuckDB."""


def main() -> None:
    from sqlwave.commands import register

    register(cli)
    # sqlwave.console set handlers of its own; a signal the parent ignores (`sqlwave ... &` in a
    # script) stays ignored, as Python leaves it.
    for number, handler in ((signal.SIGINT, signal.default_int_handler),
                            (signal.SIGTERM, _terminate)):
        if signal.getsignal(number) != signal.SIG_IGN:
            signal.signal(number, handler)
    from sqlwave.signals import interrupt_on_signal

    interrupt_on_signal()
    try:
        cli()
    except SystemExit:
        # Done, whatever the outcome: a signal from here on must not turn a command that wrote
        # its outputs into a killed one, nor an interrupted one into a traceback from the
        # interpreter's shutdown.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise
