"""Replay GEMM problems over a policy grid and tune: best policy plus a vLLM-style per-M table.

The proxies (macros/proxies.sql) score problems x policies in DuckDB, one grid chunk at a time;
the per-bucket totals are exact integer sums (picoseconds x weight) so ties and output bytes do
not depend on thread count. Serving code looks up the table key nearest to the runtime M, so
each problem belongs to the bucket whose key is nearest to its m (ties to the smaller key).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from sqlwave.checks import as_integer, fraction, whole
from sqlwave.engine import connect
from sqlwave.errors import InputError, ParameterError, SqlwaveError
from sqlwave.policy import (
    BASELINES,
    StagedPolicy,
    check_device,
    default_grid,
    fits,
    load_device,
    model_constants,
    policy_from_mapping,
)
from sqlwave.proxies import GRID, PROBLEMS, bind_problems, grid_table, proxies_sql, read_problems

FORMAT = "sqlwave.policies/1"
# The batch sizes vLLM's tuner writes tables for (benchmarks/kernels/benchmark_moe.py).
M_KEYS = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024, 1536, 2048, 3072, 4096)
MAX_M_KEY = 2**32  # the largest m a problem may have (proxies.MAX_DIM)
PS = 1e12


@dataclass
class TuneOptions:
    """Knobs of replay_and_tune (defaults are the CLI defaults)."""

    grid: list[StagedPolicy] | None = None
    grid_source: str = "vllm-moe-cuda"
    previous: dict[str, Any] | None = None
    threshold: float = 0.03
    chunk_size: int = 256
    m_keys: tuple[int, ...] = M_KEYS
    progress: bool | None = None
    top_k: int = 3
    plan_metrics: dict[str, Any] | None = None
    threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def bucket_of(m: int, keys: tuple[int, ...]) -> int:
    """The table key serving code would use for runtime M (nearest; ties to the smaller key).

    >>> bucket_of(40, M_KEYS), bucket_of(5000, M_KEYS), bucket_of(20, (16, 24))
    (32, 4096, 16)
    """
    return min(keys, key=lambda key: (abs(key - m), key))


def check_keys(keys: Any, what: str = "M keys") -> tuple[int, ...]:
    """M keys as an ascending tuple of distinct whole numbers from 1 to 2^32.

    >>> check_keys([64, 1, 16, 16])
    (1, 16, 64)
    """
    numbers = [as_integer(k) for k in keys] if isinstance(keys, (list, tuple)) else [None]
    ok = isinstance(keys, (list, tuple)) and keys and all(
        n is not None and 1 <= n <= MAX_M_KEY for n in numbers)
    if not ok:
        raise ParameterError(f"{what} must be whole numbers from 1 to 2^32 (e.g. 1,16,64,256), "
                             f"got {keys!r}")
    return tuple(sorted(set(numbers)))  # type: ignore[arg-type]


def previous_table(doc: Any) -> dict[int, StagedPolicy]:
    """The per-M choices of an earlier policies.json (or of a bare vLLM table)."""
    if doc is None:
        return {}
    table = doc.get("table", doc) if isinstance(doc, dict) else doc
    if not isinstance(table, dict):
        raise InputError(f"--previous must be a policies.json or a vLLM table (a JSON object "
                         f"M -> config), got {json.dumps(table, default=repr)[:60]}")
    out = {}
    for key, value in table.items():
        try:
            m = int(key) if str(key).strip().isdigit() else 0
            if not 1 <= m <= MAX_M_KEY or not isinstance(value, dict):
                raise InputError("need an M key (a whole number) and a config object")
            out[m] = policy_from_mapping(value)
        except SqlwaveError as e:
            raise InputError(f"--previous entry {key!r}: {value!r}: {e}") from e
    return out


def _candidate_grid(opts: TuneOptions, device: dict[str, Any], dtype_bytes: int,
                    previous: dict[int, StagedPolicy]) -> list[StagedPolicy]:
    if opts.grid is None:
        grid = default_grid(device, dtype_bytes)
    else:
        grid = [p for p in opts.grid if fits(p, device, dtype_bytes)]
        if opts.grid and not grid:
            raise InputError(f"no policy of the grid {opts.grid_source or ''} fits the shared "
                             f"memory of {device['key']} at {dtype_bytes}-byte elements (the "
                             "workload's largest); give smaller BM/BN/BK or fewer stages")
    if not grid:
        raise ParameterError("the policy grid is empty")
    # Previous choices are scored even when the grid lacks them, so they can be kept.
    return sorted(set(grid) | {p for p in previous.values() if fits(p, device, dtype_bytes)})


def _bind_buckets(con: duckdb.DuckDBPyConnection,
                  keys: tuple[int, ...]) -> dict[int, dict[str, Any]]:
    sql = f"SELECT problem_id, m, weight FROM {PROBLEMS} ORDER BY problem_id"
    rows = con.execute(sql).fetchall()
    ids, buckets = [], []
    info: dict[int, dict[str, Any]] = {}
    for pid, m, w in rows:
        b = bucket_of(int(m), keys)
        ids.append(pid)
        buckets.append(b)
        entry = info.setdefault(b, {"problems": 0, "weights": [], "m_min": m, "m_max": m})
        entry["problems"] += 1
        entry["weights"].append(w)
        entry["m_min"], entry["m_max"] = min(entry["m_min"], m), max(entry["m_max"], m)
    for entry in info.values():  # fsum: exact then rounded once, whatever the order
        entry["weight"] = math.fsum(entry["weights"])
    con.register("sqlwave_buckets", pa.table({"problem_id": ids, "bucket": buckets}))
    return info


def _score_chunks(con: duckdb.DuckDBPyConnection, device: dict[str, Any], grid: list[StagedPolicy],
                  opts: TuneOptions) -> dict[tuple[int, int], tuple[int, int]]:
    """(bucket, policy_id) -> (problems scored, total weighted time in ps), chunk by chunk."""
    totals: dict[tuple[int, int], tuple[int, int]] = {}
    step = opts.chunk_size
    show = sys.stderr.isatty() if opts.progress is None else opts.progress
    sql = (f"SELECT b.bucket, x.policy_id, count(*) AS n, "
           f"sum(CAST(round(p.weight * x.est_time_s * {PS}) AS HUGEINT)) AS ps "
           f"FROM ({proxies_sql(device)}) AS x JOIN {PROBLEMS} AS p USING (problem_id) "
           f"JOIN sqlwave_buckets AS b USING (problem_id) GROUP BY ALL")
    for start in range(0, len(grid), step):
        con.register(GRID, grid_table(grid[start:start + step], first_id=start))
        for bucket, pid, n, ps in con.execute(sql).fetchall():
            totals[(int(bucket), int(pid))] = (int(n), int(ps))
        if show:
            done = min(len(grid), start + step)
            bar = "#" * (30 * done // len(grid))
            sys.stderr.write(f"\rscoring policies [{bar:<30}] {done}/{len(grid)}")
            sys.stderr.flush()
    if show:
        sys.stderr.write("\n")
    return totals


def _baseline_ps(con: duckdb.DuckDBPyConnection, device: dict[str, Any],
                 info: dict[int, dict[str, Any]]) -> dict[str, dict[int, int]]:
    """Per baseline, per bucket: weighted ps of the policy the heuristic picks for each problem."""
    problems = con.execute(f"SELECT problem_id, m FROM {PROBLEMS} ORDER BY problem_id").fetchall()
    out: dict[str, dict[int, int]] = {}
    for name, rule in BASELINES.items():
        chosen = {pid: rule(int(m)) for pid, m in problems}
        policies = sorted(set(chosen.values()))
        con.register(GRID, grid_table(policies))
        con.register("sqlwave_choice", pa.table({
            "problem_id": list(chosen), "policy_id": [policies.index(p) for p in chosen.values()]}))
        rows = con.execute(
            f"SELECT b.bucket, count(*), "
            f"sum(CAST(round(p.weight * x.est_time_s * {PS}) AS HUGEINT)) "
            f"FROM ({proxies_sql(device)}) AS x JOIN sqlwave_choice USING (problem_id, policy_id) "
            f"JOIN {PROBLEMS} AS p USING (problem_id) JOIN sqlwave_buckets AS b USING (problem_id) "
            "GROUP BY ALL").fetchall()
        # a bucket where the heuristic's policy does not fit shared memory has no baseline
        out[name] = {int(b): int(ps) for b, n, ps in rows if n == info[int(b)]["problems"]}
    return out


def _ranked(totals: dict[tuple[int, int], tuple[int, int]], bucket: int | None,
            need: int) -> list[tuple[int, int]]:
    """(ps, policy_id) of the policies that cover all `need` problems, best first, ties by id."""
    per: dict[int, list[int]] = {}
    for (b, pid), (n, ps) in totals.items():
        if bucket is None or b == bucket:
            acc = per.setdefault(pid, [0, 0])
            acc[0] += n
            acc[1] += ps
    return sorted((ps, pid) for pid, (n, ps) in per.items() if n == need)


def _speedups(baseline: dict[str, dict[int, int]], buckets: list[int], ps: int) -> dict[str, float]:
    out = {}
    for name, per in baseline.items():
        if all(b in per for b in buckets) and ps > 0:
            out[name] = round(sum(per[b] for b in buckets) / ps, 4)
    return out


def _entry(policy: StagedPolicy, ps: int, weight: float) -> dict[str, Any]:
    return {"config": policy.to_vllm(), "est_time_us": round(ps / PS * 1e6 / weight, 4)}


def _choose(ranked: list[tuple[int, int]], grid: list[StagedPolicy], prev: StagedPolicy | None,
            threshold: float) -> tuple[int, int, bool]:
    """(ps, policy_id, kept_previous): keep `prev` unless the best is better by > threshold."""
    best_ps, best_id = ranked[0]
    if prev is not None and prev in grid and grid[best_id] != prev:
        prev_ps = next((ps for ps, pid in ranked if grid[pid] == prev), None)
        if prev_ps is not None and prev_ps <= best_ps * (1 + threshold):
            return prev_ps, grid.index(prev), True
    return best_ps, best_id, False


def _bucket_doc(bucket: int, info: dict[str, Any], ranked: list[tuple[int, int]],
                grid: list[StagedPolicy], choice: tuple[int, int, bool],
                baseline: dict[str, dict[int, int]], top_k: int) -> dict[str, Any]:
    ps, pid, kept = choice
    return {
        "problems": info["problems"], "weight": info["weight"],
        "m_range": [info["m_min"], info["m_max"]],
        **_entry(grid[pid], ps, info["weight"]),
        "speedup": _speedups(baseline, [bucket], ps),
        "kept_previous": kept,
        "top": [_entry(grid[q], qps, info["weight"]) for qps, q in _diverse(ranked, grid, top_k)],
    }


def _diverse(ranked: list[tuple[int, int]], grid: list[StagedPolicy],
             top_k: int) -> list[tuple[int, int]]:
    """The best policy of each of the top_k best distinct tiles (BM, BN, BK): candidates worth
    timing on the device differ in more than what the model cannot tell apart."""
    seen: set[tuple[int, int, int]] = set()
    out = []
    for ps, pid in ranked:
        tile = (grid[pid].BM, grid[pid].BN, grid[pid].BK)
        if tile not in seen:
            seen.add(tile)
            out.append((ps, pid))
        if len(out) == top_k:
            break
    return out


def replay_and_tune(problems: pa.Table | str, device: str | dict[str, Any],
                    options: TuneOptions | None = None) -> dict[str, Any]:
    """Score every policy of the grid on the problems; the policies.json document.

    >>> import pyarrow as pa
    >>> doc = replay_and_tune(pa.table({"m": [1, 4096], "n": [4096, 4096], "k": [4096, 4096]}),
    ...                       "h100", TuneOptions(progress=False))
    >>> sorted(doc["table"]), sorted(doc["table"]["1"])[:2]
    (['1', '4096'], ['BLOCK_SIZE_K', 'BLOCK_SIZE_M'])
    """
    opts = options or TuneOptions()
    if not isinstance(opts, TuneOptions):
        raise ParameterError(f"options must be a TuneOptions, not a {type(opts).__name__}")
    dev = load_device(device) if isinstance(device, str) else check_device(device)
    fraction("threshold", opts.threshold, 0, 10, high_open=True)
    whole("top_k", opts.top_k, 1, 1000)
    if opts.grid is not None and not (isinstance(opts.grid, list) and opts.grid and all(
            isinstance(p, StagedPolicy) for p in opts.grid)):
        raise ParameterError("grid must be a non-empty list of StagedPolicy (or None for the "
                             "default grid)")
    keys = check_keys(opts.m_keys)
    whole("chunk_size", opts.chunk_size, 1, 1_000_000)
    prev = previous_table(opts.previous)
    con = connect(threads=opts.threads)
    con.execute("SET enable_progress_bar = false")  # our own bar counts grid chunks
    n_problems = bind_problems(con, read_problems(problems), dev)
    if n_problems == 0:
        raise ParameterError("no GEMM problems to tune (the table is empty or every weight is 0)")
    dtype_bytes = max(r[0] for r in con.execute(f"SELECT dtype_bytes FROM {PROBLEMS}").fetchall())
    grid = _candidate_grid(opts, dev, int(dtype_bytes), prev)
    info = _bind_buckets(con, keys)
    totals = _score_chunks(con, dev, grid, opts)
    baseline = _baseline_ps(con, dev, info)
    buckets = {}
    for b in sorted(info):
        ranked = _ranked(totals, b, info[b]["problems"])
        if not ranked:
            raise ParameterError(f"no policy of the grid fits every problem of bucket M={b}")
        choice = _choose(ranked, grid, prev.get(b), opts.threshold)
        buckets[str(b)] = _bucket_doc(b, info[b], ranked, grid, choice, baseline, opts.top_k)
    return _document(dev, opts, grid, info, totals, baseline, buckets, n_problems)


def _document(dev: dict[str, Any], opts: TuneOptions, grid: list[StagedPolicy],
              info: dict[int, dict[str, Any]], totals: dict[tuple[int, int], tuple[int, int]],
              baseline: dict[str, dict[int, int]], buckets: dict[str, Any],
              n_problems: int) -> dict[str, Any]:
    weight = math.fsum(w for i in info.values() for w in i["weights"])
    ranked = _ranked(totals, None, n_problems)
    if not ranked:
        raise ParameterError("no single policy of the grid fits every problem")
    best_ps, best_id = ranked[0]
    tuned_ps = sum(_bucket_ps(buckets[str(b)], grid, totals, b) for b in info)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "device": dev["key"],
        "model": model_constants(),
        "grid": {"source": opts.grid_source, "policies": len(grid)},
        "problems": {"distinct": n_problems, "weight": weight},
        "baselines": {name: (rule.__doc__ or "").strip().splitlines()[0]
                      for name, rule in BASELINES.items()},
        "best": _entry(grid[best_id], best_ps, weight)
        | {"speedup": _speedups(baseline, sorted(info), best_ps)},
        "tuned": {"est_time_us": round(tuned_ps / PS * 1e6 / weight, 4),
                  "speedup": _speedups(baseline, sorted(info), tuned_ps)},
        "table": {key: b["config"] for key, b in buckets.items()},
        "buckets": buckets,
    }
    if opts.plan_metrics is not None:
        doc["plan_metrics"] = opts.plan_metrics
    return doc | opts.extra


def _bucket_ps(bucket: dict[str, Any], grid: list[StagedPolicy],
               totals: dict[tuple[int, int], tuple[int, int]], b: int) -> int:
    pid = grid.index(policy_from_mapping(bucket["config"]))
    return totals[(b, pid)][1]
