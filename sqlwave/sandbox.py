"""A DuckDB connection that can read the bound Parquet files and nothing else.

Order matters (NOTES-portability.md, measured on DuckDB 2.0.1): the bound files become views
first, while file access is still on; then `allowed_paths`, no extension auto-install/auto-load,
`enable_external_access = false`, and last `lock_configuration = true` so SQL cannot undo any of
it. Passing these through `duckdb.connect(config=...)` fails on 2.0.1, hence the SET statements.
Spilling is switched off (`temp_directory = ''`) so no file can appear in the working folder, and
Python replacement scans are off so a table name can never resolve to a Python variable.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

import duckdb

from sqlwave.checks import check_threads
from sqlwave.engine import _check_parquet, duckdb_path, interrupt_until, literal, quote
from sqlwave.errors import InputError, ParameterError, SqlwaveError
from sqlwave.safety import plain_name

SANDBOX_MEMORY = "4GB"
# Resident memory a replay may add to the process before a step is stopped. DuckDB's memory
# limit bounds its buffers, not the strings functions build: a chain of CTEs each doubling a
# string with replace() or || went past the limit 100-fold. Room above the limit for Python.
MEMORY_CAP = 6 * 2**30


def sandboxed_connection(binds: Mapping[str, str], threads: int | None = None,
                         profile: bool = True) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with one view per bound tag, then locked down.

    >>> con = sandboxed_connection({})
    >>> con.execute("SELECT 1").fetchall()
    [(1,)]
    >>> con.execute("SET enable_external_access = true")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    duckdb.InvalidInputException: Cannot change configuration option "enable_external_access"
    """
    paths = {tag: _bound_path(tag, path) for tag, path in binds.items()}
    con = duckdb.connect(":memory:")
    try:
        _prepare(con, paths, threads, profile)
        _lock(con, sorted(set(paths.values())))
    except BaseException:
        con.close()
        raise
    return con


def _bound_path(tag: str, path: str) -> str:
    if not plain_name(tag):
        raise ParameterError(f"bad input tag {tag!r}: use letters, digits and _ (e.g. requests)")
    full = os.path.realpath(path)
    if not os.path.isfile(full):
        raise InputError(f"file bound to {tag!r} does not exist: {path!r}; check --bind {tag}=PATH")
    _check_parquet(full)
    return full


def _prepare(con: duckdb.DuckDBPyConnection, paths: Mapping[str, str], threads: int | None,
             profile: bool) -> None:
    con.execute("SET python_enable_replacements = false")
    con.execute("SET temp_directory = ''")
    # A bound on what a hostile step can make DuckDB hold (a chain of self-joins filled 19 GB):
    # past it the step fails with DuckDB's out-of-memory error. No spill folder, so no spilling.
    con.execute(f"SET memory_limit = {literal(SANDBOX_MEMORY)}")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET TimeZone = 'UTC'")  # timestamps with a zone print the same everywhere
    if threads is not None:
        con.execute(f"SET threads = {check_threads(threads)}")
    if profile:
        # 'no_output' keeps the JSON profile in memory (get_profiling_information); nothing is
        # written, and the setting must precede the lock.
        con.execute("SET enable_profiling = 'no_output'")
        con.execute("SET profiling_mode = 'detailed'")
    for tag, path in sorted(paths.items()):
        con.execute(f"CREATE VIEW {quote(tag)} AS SELECT * FROM "
                    f"read_parquet({literal(duckdb_path(path))})")


def _lock(con: duckdb.DuckDBPyConnection, files: list[str]) -> None:
    # A file name with glob characters is read through its escaped pattern (duckdb_path),
    # which DuckDB checks against the list as it is: allow that exact pattern too.
    listed = ", ".join(literal(f) for f in sorted({*files, *map(duckdb_path, files)}))
    con.execute(f"SET allowed_paths = [{listed}]")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


T = TypeVar("T")


def run_guarded(con: duckdb.DuckDBPyConnection, work: Callable[[], T], timeout: float,
                running: Callable[[], str], memory_cap: int | None = None) -> T:
    """work() on a worker thread, within `timeout` seconds and `memory_cap` bytes of resident
    memory more than the process held when it started (checked ten times a second where /proc
    tells it, i.e. on Linux). The calling thread keeps the signals, the clock and the watch: on
    Ctrl-C or SIGTERM (the CLI raises KeyboardInterrupt for both), past the deadline or past the
    cap, it interrupts DuckDB until the worker stops. One timer would not do: DuckDB drops an
    interrupt that comes between two queries, and a signal handler cannot run while the main
    thread waits inside DuckDB."""
    done: dict[str, object] = {}
    finished = threading.Event()  # not Thread.join: a signal during join marks a live thread dead

    def target() -> None:
        try:
            done["result"] = work()
        except BaseException as e:  # re-raised on the calling thread
            done["error"] = e
        finally:
            finished.set()

    threading.Thread(target=target, name="sqlwave-replay", daemon=True).start()
    deadline = time.monotonic() + timeout
    memory_cap = MEMORY_CAP if memory_cap is None else memory_cap
    used, before = 0, resident_bytes() or 0  # the caller's own memory is not the replay's
    try:
        while not finished.wait(min(0.1, max(0.0, deadline - time.monotonic()))):
            used = (resident_bytes() or 0) - before
            if time.monotonic() >= deadline or used > memory_cap:
                break
        stopped = not finished.is_set()
    finally:  # past the deadline or the cap, or a signal's exception on its way up: stop DuckDB
        interrupt_until(con, finished)
    if stopped and used > memory_cap:
        raise SqlwaveError(f"step {running()!r} was stopped: the replay took {used / 2**30:.1f} "
                           f"GiB of memory, more than {memory_cap / 2**30:.1f} GiB; it builds "
                           "values too large (strings grown by replace, || or lpad, step after "
                           "step): build smaller ones")
    if stopped:
        raise SqlwaveError(f"step {running()!r} was stopped: the replay ran past its time limit "
                           f"of {timeout:g} s (--timeout)")
    if "error" in done:
        raise done["error"]  # type: ignore[misc]
    return done["result"]  # type: ignore[return-value]


def resident_bytes() -> int | None:
    """This process's resident memory, or None where /proc/self/statm does not tell it."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


