"""Bind GEMM problems and a policy grid in DuckDB and render the `proxies` macro over them."""

from __future__ import annotations

from dataclasses import astuple
from typing import Any

import duckdb
import pyarrow as pa

from sqlwave.errors import InputError
from sqlwave.macros import render
from sqlwave.policy import DTYPE_BYTES, StagedPolicy, dtype_key, model_constants

PROBLEMS = "sqlwave_problems"
GRID = "sqlwave_grid"
GRID_COLUMNS = ("bm", "bn", "bk", "group_m", "stages", "warps")


def read_problems(source: pa.Table | str) -> pa.Table:
    """GEMM problems (m, n, k, optional dtype, optional weight) from a table or a Parquet path."""
    if isinstance(source, str):
        import os

        import pyarrow.parquet as pq

        if not os.path.isfile(source):
            raise InputError(f"problems file {source!r} does not exist; check --problems")
        try:
            source = pq.read_table(source)
        except (OSError, pa.ArrowInvalid) as e:
            raise InputError(f"cannot read problems from {source!r}: {e}") from e
    missing = [c for c in ("m", "n", "k") if c not in source.column_names]
    if missing:
        raise InputError(f"problems lack column(s) {', '.join(missing)}; need m, n, k "
                         f"(and optionally dtype, weight); got {', '.join(source.column_names)}")
    return source


def bind_problems(con: duckdb.DuckDBPyConnection, source: pa.Table,
                  device: dict[str, Any]) -> int:
    """Bind distinct (m, n, k, dtype) with summed weight as `sqlwave_problems`; their count."""
    rows = source.to_pydict()
    n = source.num_rows
    weights = rows.get("weight") or [1.0] * n
    dtypes = rows.get("dtype") or [None] * n
    agg: dict[tuple[int, int, int, str], float] = {}
    for m, nn, k, d, w in zip(rows["m"], rows["n"], rows["k"], dtypes, weights, strict=True):
        if m is None or nn is None or k is None or int(m) < 1 or int(nn) < 1 or int(k) < 1:
            raise InputError(f"problem m={m}, n={nn}, k={k} is not a positive GEMM shape")
        key = (int(m), int(nn), int(k), dtype_key(d))
        weight = 1.0 if w is None else float(w)
        if not weight >= 0:
            raise InputError(f"problem m={m}, n={nn}, k={k} has weight {w}; weights must be >= 0")
        agg[key] = agg.get(key, 0.0) + weight
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
