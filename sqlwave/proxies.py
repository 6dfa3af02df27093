"""Bind GEMM problems and a policy grid in DuckDB and render the `proxies` macro over them."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import astuple
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa

from sqlwave.errors import InputError
from sqlwave.macros import render
from sqlwave.policy import DTYPE_BYTES, StagedPolicy, dtype_key, model_constants
from sqlwave.wavespec import read_parquet

PROBLEMS = "sqlwave_problems"
GRID = "sqlwave_grid"
GRID_COLUMNS = ("bm", "bn", "bk", "group_m", "stages", "warps")
PROBLEM_COLUMNS = ("m", "n", "k", "dtype", "weight")
# The proxies query multiplies sizes as 64-bit integers (m*k*tiles_n is at most m*n*k) and replay
# sums weight x estimated picoseconds as 128-bit integers. The slowest estimate of any allowed
# policy on the largest allowed shape is under 5e9 s (a 256x256 tile on one warp), so a weight
# of at most 1e12 keeps one row below 2^112: 30,000 such rows still fit one total.
MAX_DIM = 2**32
MAX_VOLUME = 2**60
MAX_WEIGHT = 1e12
ProblemKey = tuple[int, int, int, str]


def read_problems(source: pa.Table | str) -> pa.Table:
    """GEMM problems (m, n, k, optional dtype, optional weight) from a table or a Parquet path."""
    if isinstance(source, str):
        source = read_parquet(source, "problems file", "check --problems")
    if not isinstance(source, pa.Table):
        raise InputError(f"problems must be a pyarrow.Table or a Parquet path, not a "
                         f"{type(source).__name__} (pyarrow.Table.from_pandas for a DataFrame)")
    names = source.column_names
    repeated = sorted({c for c in names if names.count(c) > 1 and c in PROBLEM_COLUMNS})
    if repeated:  # to_pydict() would keep one of them, silently
        raise InputError(f"problems have column {repeated[0]!r} more than once; give each of "
                         f"{', '.join(PROBLEM_COLUMNS)} one column (alias the others)")
    missing = [c for c in ("m", "n", "k") if c not in names]
    if missing:
        raise InputError(f"problems lack column(s) {', '.join(missing)}; need m, n, k "
                         f"(and optionally dtype, weight); got {', '.join(source.column_names)}")
    return source


# Scoring is per problem and policy: 10^6 distinct problems kept a replay busy for minutes.
MAX_PROBLEMS = 100_000


def problem_weights(source: pa.Table) -> dict[ProblemKey, float]:
    """Checked problems: distinct (m, n, k, dtype) -> summed weight (a missing weight counts 1).

    math.fsum rounds the exact sum once, so the same rows in any order give the same weights
    (a running float sum would not, and the bytes of policies.json would follow the row order).

    >>> problem_weights(pa.table({"m": [1, 1], "n": [8, 8], "k": [8, 8], "weight": [0.1, 0.2]}))
    {(1, 8, 8, 'bf16'): 0.30000000000000004}
    """
    rows = source.to_pydict()
    count = source.num_rows
    weights = rows.get("weight") or [None] * count
    dtypes = rows.get("dtype") or [None] * count
    parts: dict[ProblemKey, list[float]] = defaultdict(list)
    seen: dict[str | None, str] = {}
    for i, (m, n, k, d, w) in enumerate(zip(rows["m"], rows["n"], rows["k"], dtypes, weights,
                                            strict=True)):
        try:
            shape = _shape(m, n, k)
            key = (*shape, _dtype(d, seen))
            parts[key].append(_weight(w))
        except InputError as e:
            raise InputError(f"problem row {i + 1} (m={m!r}, n={n!r}, k={k!r}): {e}") from e
        if len(parts) > MAX_PROBLEMS:
            raise InputError(f"more than {MAX_PROBLEMS:,} distinct problems (m, n, k, dtype); "
                             "each is scored against every policy: bucket the sizes first "
                             "(e.g. round m up to a power of two) and sum their weights")
    return {key: _total(key, ws) for key, ws in parts.items()}


def _shape(m: Any, n: Any, k: Any) -> tuple[int, int, int]:
    dims = (_dim("m", m), _dim("n", n), _dim("k", k))
    if dims[0] * dims[1] * dims[2] > MAX_VOLUME:
        raise InputError(f"m*n*k = {dims[0] * dims[1] * dims[2]:.3g} is over 2^60 (about 1.2e18 "
                         "multiply-adds, hours on any GPU); check the size columns")
    return dims


def _dim(name: str, value: Any) -> int:
    """A GEMM size as an int: ints and integral floats; never truncated, never a bool."""
    number = value
    if isinstance(value, (float, Decimal)) and math.isfinite(value) and value == int(value):
        number = int(value)
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= MAX_DIM:
        raise InputError(f"{name} must be a whole number from 1 to 2^32, got {value!r}; "
                         "GEMM sizes count rows and columns, so fix or round that column")
    return number


def _dtype(value: Any, seen: dict[str | None, str]) -> str:
    """Normalised dtype name; `seen` caches the few names a table repeats over many rows."""
    if value is not None and not isinstance(value, str):
        raise InputError(f"dtype must be text such as 'bf16' or 'torch.float16', got {value!r}")
    if value not in seen:
        seen[value] = dtype_key(value)
    return seen[value]


def _weight(value: Any) -> float:
    if value is None:
        return 1.0
    number = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    try:
        weight = float(value) if number else math.nan
    except OverflowError:  # an int past 1e308
        weight = math.inf
    if not 0 <= weight <= MAX_WEIGHT:  # NaN fails too
        raise InputError(f"weight must be a number from 0 to 1e12, got {value!r}; weights are "
                         "relative (how often a problem runs): scale them all alike to fit")
    return weight


def _total(key: ProblemKey, weights: list[float]) -> float:
    total = math.fsum(weights)
    if total > MAX_WEIGHT:
        raise InputError(f"the weights of problem m={key[0]}, n={key[1]}, k={key[2]} sum to "
                         f"{total:g}, over 1e12; weights are relative: scale them all down alike")
    return total


def bind_problems(con: duckdb.DuckDBPyConnection, source: pa.Table,
                  device: dict[str, Any]) -> int:
    """Bind distinct (m, n, k, dtype) with summed weight as `sqlwave_problems`; their count."""
    agg = problem_weights(source)
    keys = sorted(key for key, weight in agg.items() if weight > 0)
    peak = device["peak_tflops"]
    table = pa.table({
        "problem_id": pa.array(range(len(keys)), pa.int64()),
        "m": pa.array([k[0] for k in keys], pa.int64()),
        "n": pa.array([k[1] for k in keys], pa.int64()),
        "k": pa.array([k[2] for k in keys], pa.int64()),
        "dtype": pa.array([k[3] for k in keys], pa.string()),
        "dtype_bytes": pa.array([DTYPE_BYTES[k[3]] for k in keys], pa.int64()),
        "peak_flops": pa.array([float(peak[k[3]]) * 1e12 for k in keys], pa.float64()),
        "weight": pa.array([agg[k] for k in keys], pa.float64()),
    })
    con.register(PROBLEMS, table)
    return len(keys)


def grid_table(policies: list[StagedPolicy], first_id: int = 0) -> pa.Table:
    """A grid relation (policy_id, bm, bn, bk, group_m, stages, warps)."""
    cols = list(zip(*(astuple(p) for p in policies), strict=True)) if policies else [()] * 6
    data: dict[str, Any] = {"policy_id": pa.array(range(first_id, first_id + len(policies)),
                                                  pa.int64())}
    for name, values in zip(GRID_COLUMNS, cols, strict=True):
        data[name] = pa.array(values, pa.int64())
    return pa.table(data)


def proxies_sql(device: dict[str, Any], problems: str = PROBLEMS, grid: str = GRID,
                model: dict[str, Any] | None = None) -> str:
    """The proxies query for one device over two bound relations (model: fitted constants).

    >>> from sqlwave.policy import load_device
    >>> "est_time_s" in proxies_sql(load_device("h100"))
    True
    """
    return render("proxies", problems=problems, grid=grid, dev=device,
                  model=model if model is not None else model_constants())
