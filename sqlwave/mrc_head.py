"""The head of a SHARDS miss-ratio curve, from time windows.

At sample rate R a sampled stack distance k stands for k / R objects, so SHARDS cannot tell
cache sizes below about 1 / R apart, and well beyond that, which few hot keys happen to fall in
the key sample decides the curve (10M-access Zipf 0.9 log: at R = 1 % error 0.17 at size 1,
0.07 at 1 / R, 0.011 at 5.5 / R; at R = 10 % still 0.06 at 23 / R and 0.011 at 160 / R). So the
small sizes are measured on a *time* sample instead: a few windows of consecutive accesses,
spread evenly over the log, with exact stack distances inside each window. `macros/mrc_head.sql`
says why every size up to the head's end, where each window has seen that many keys by its
middle, is then classified exactly. Windows of 60 / R accesses put that end beyond 10 / R on
every log tried (20 / R and more on most). The estimate's error depends on how many accesses it
classifies, not on the log's length, so the windows have a fixed budget of accesses. They are
read by position ranges, which DuckDB answers from the few Parquet row groups that hold them
(0.02 s on a 10M-access log, where testing a position condition in the key sample's scan cost
0.06 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import duckdb

from sqlwave.engine import fetch_dicts
from sqlwave.macros import render
from sqlwave.mrc_curve import curve_points

WINDOW_SPAN = 60
BUDGET = 1 << 15
# Several windows even when one would fill the budget, as a log's phases differ; not many more,
# as each is a range test on every row read and a read of its row group.
MIN_WINDOWS, MAX_WINDOWS = 4, 8
WINDOWS = "sqlwave_mrc_windows"
HEAD = "sqlwave_mrc_head"


@dataclass(frozen=True)
class Windows:
    """`count` windows of `length` consecutive positions, one in the middle of each `stride`."""

    count: int
    length: int
    stride: int
    start: int

    def store(self, con: duckdb.DuckDBPyConnection, src: str) -> str:
        """Store the accesses of `src` (key, size, request, pos) in the windows, with their
        window number `win`; return the stored relation."""
        ranges = " OR ".join(f"pos BETWEEN {lo} AND {lo + self.length - 1}"
                             for lo in range(self.start, self.count * self.stride, self.stride))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {WINDOWS} AS SELECT key, size, request, pos, "
                    f"pos // {self.stride} AS win FROM {src} WHERE {ranges}")
        return WINDOWS


def windows(accesses: int, rate: float) -> Windows:
    """The time windows for a log of `accesses` sampled at `rate`: each at least
    WINDOW_SPAN / rate accesses long, BUDGET accesses in all where the log is that long.

    >>> windows(10_000_000, 0.01)
    Windows(count=5, length=6000, stride=2000000, start=997000)
    >>> windows(10_000_000, 0.5)
    Windows(count=8, length=4096, stride=1250000, start=622952)
    >>> windows(4000, 0.01)
    Windows(count=1, length=4000, stride=4000, start=0)
    """
    length = min(accesses, max(math.ceil(WINDOW_SPAN / rate), BUDGET // MAX_WINDOWS))
    count = max(1, min(accesses // length, MAX_WINDOWS, max(MIN_WINDOWS, round(BUDGET / length))))
    stride = accesses // count
    return Windows(count, length, stride, (stride - length) // 2)


def _byte_plan(con: duckdb.DuckDBPyConnection, stored: str) -> dict[str, Any]:
    """`stack_distance`'s byte encoding for the windows: a shift above the bytes any frame can
    hold (every key of every window at its largest size), in a BIGINT while the row ids times
    the shift fit one. The macro's default shift, 2^50, wrapped windows of a PiB or more."""
    row = fetch_dicts(con, "SELECT CAST(COALESCE(sum(n), 0) AS BIGINT) AS n, CAST(COALESCE("
                      "sum(b), 0) AS HUGEINT) AS b FROM (SELECT count(*) AS n, max(size) AS b "
                      f"FROM {stored} GROUP BY win, key)")[0]
    shift = 1 << int(row["b"]).bit_length()
    return {"shift": shift, "wide": (int(row["n"]) + 1) * shift > 1 << 63}


def head_points(con: duckdb.DuckDBPyConnection, src: str, wins: Windows, unit: str,
                grid: list[int]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Points at the grid sizes the windows classify, and the curve's `head` entry.

    `src` is the log (key, size, request, pos; pos dense from 0).
    """
    in_bytes = unit == "bytes"
    stored = wins.store(con, src)
    dist = render("stack_distance", src=stored, dense=True, bytes=in_bytes, partition="win",
                  **(_byte_plan(con, stored) if in_bytes else {}))
    sql = render("mrc_head", src=f"({dist})", stride=wins.stride,
                 mid=wins.start + wins.length // 2, bytes=in_bytes)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {HEAD} AS {sql}")
    row = fetch_dicts(con, "SELECT CAST(count(*) AS BIGINT) AS n, CAST(COALESCE(sum(size), 0) AS "
                      f"BIGINT) AS b, CAST(COALESCE(max(max_size), 0) AS BIGINT) AS s FROM {HEAD}")[0]
    sizes = [g for g in grid if g <= row["s"]] if row["n"] else []
    info = {"method": "time-windows", "windows": wins.count, "window_accesses": wins.length,
            "accesses": row["n"] if sizes else 0, "max_size": row["s"] if sizes else 0}
    if not sizes:
        return [], info
    hits = fetch_dicts(con, render("mrc_hits", src=HEAD, grid=sizes))
    return curve_points(sizes, [h["hits"] for h in hits], [h["hit_bytes"] for h in hits],
                        row["n"], row["b"]), info
