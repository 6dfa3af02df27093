"""Where does `sqlwave export` spend its time? Times every SQL statement and the Python between.

    python benchmarks/profile_export.py LOG.parquet [--explain DIR]

Prints one line per statement (seconds, first words of the SQL), sorted by time, plus import and
JSON time. With --explain, writes EXPLAIN ANALYZE of each statement slower than 0.05 s to DIR
(run right after the statement, so the timings of the statements after it include it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

T0 = time.perf_counter()
import sqlwave.export as export_mod  # noqa: E402
from sqlwave.export import build_wave_spec  # noqa: E402
from sqlwave.export_options import ExportOptions  # noqa: E402
from sqlwave.wavespec import dumps  # noqa: E402

IMPORT_S = time.perf_counter() - T0  # duckdb's import included, as in a CLI run
import duckdb  # noqa: E402  (already loaded by sqlwave.export)

TIMINGS: list[tuple[float, str]] = []
EXPLAINS: list[tuple[float, str, str]] = []  # (seconds, SQL, its EXPLAIN ANALYZE)
EXPLAIN_SLOWER_THAN: float | None = None  # seconds; None: no --explain


def _timed(seconds: float, sql: str, con: Any) -> None:
    """Record a statement; explain it at once when it was slow, while the temp tables it reads
    still exist (the export drops them, and closes its cursors, when it is done)."""
    TIMINGS.append((seconds, sql))
    if EXPLAIN_SLOWER_THAN is None or seconds < EXPLAIN_SLOWER_THAN:
        return
    if not sql.lstrip().upper().startswith(("SELECT", "WITH", "CREATE")):
        return
    body = sql.split(" AS ", 1)[1] if sql.lstrip().upper().startswith("CREATE") else sql
    try:
        plan = con.execute(f"EXPLAIN ANALYZE {body}").fetchall()[0][1]
    except duckdb.Error as e:
        plan = f"(not explained: {e})"
    EXPLAINS.append((seconds, sql, plan))


class _TimedRel:
    def __init__(self, rel: Any, sql: str, con: Any) -> None:
        self._rel, self._sql, self._con = rel, sql, con

    def to_arrow_table(self) -> Any:
        t = time.perf_counter()
        out = self._rel.to_arrow_table()
        _timed(time.perf_counter() - t, self._sql, self._con)
        return out


class _TimedCon:
    """Proxy around a DuckDB connection that times each statement."""

    def __init__(self, con: Any) -> None:
        self._con = con

    # sqlwave takes its DuckDB-only paths (native hash, background reuse pass) only for a real
    # DuckDB connection; the proxy must pass that check or the profile times the portable paths.
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return duckdb.DuckDBPyConnection

    def cursor(self) -> _TimedCon:
        return _TimedCon(self._con.cursor())

    def execute(self, sql: str, *args: Any) -> Any:
        t = time.perf_counter()
        out = self._con.execute(sql, *args)
        _timed(time.perf_counter() - t, sql, self._con)
        return out

    def sql(self, sql: str) -> _TimedRel:
        return _TimedRel(self._con.sql(sql), sql, self._con)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _summary(sql: str) -> str:
    return " ".join(sql.split())[:110]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("log")
    parser.add_argument("--explain", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--memory-limit", default="150MB")
    args = parser.parse_args()
    global EXPLAIN_SLOWER_THAN
    if args.explain:
        EXPLAIN_SLOWER_THAN = 0.05  # the timings after a slow statement include its EXPLAIN
    real_connect = export_mod.connect  # type: ignore[attr-defined]
    cons: list[Any] = []  # what the export connected to (its cursors come from these)

    def connect(**kw: Any) -> Any:
        cons.append(real_connect(**kw))
        return _TimedCon(cons[-1])

    export_mod.connect = connect  # type: ignore[assignment,attr-defined]
    opts = ExportOptions(size_col="size", request_col="request_id",
                         engine={"threads": args.threads, "memory_limit": args.memory_limit})
    t = time.perf_counter()
    spec, _ = build_wave_spec([args.log], opts)
    total = time.perf_counter() - t
    t = time.perf_counter()
    dumps(spec)
    json_s = time.perf_counter() - t
    print(f"imports {IMPORT_S:.3f}s  build_wave_spec {total:.3f}s  "
          f"sql {sum(s for s, _ in TIMINGS):.3f}s  json {json_s:.3f}s")
    for s, sql in sorted(TIMINGS, reverse=True)[:25]:
        print(f"{s:8.3f}  {_summary(sql)}")
    if args.explain:
        out = Path(args.explain)
        out.mkdir(parents=True, exist_ok=True)
        for i, (_, sql, plan) in enumerate(sorted(EXPLAINS, reverse=True)):
            (out / f"{i:02d}.txt").write_text(sql + "\n\n" + plan, encoding="utf-8")


if __name__ == "__main__":
    main()
