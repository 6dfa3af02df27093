"""Plan metrics of a replayed trace: sqlglot's estimates and DuckDB's real counters, side by side.

`estimated` comes from the steps' ASTs and the bound files' Parquet metadata (no data read);
`measured` comes from DuckDB's JSON profile of each step as it ran on the sample (rows and bytes per
operator; timings are left out so the JSON is deterministic); `runtime` is a JSON object named by
SQLWAVE_RUNTIME_METRICS (counters measured elsewhere, e.g. on the real cluster), and its keys win
over the estimates in `effective`. Repartition points are where a distributed engine would shuffle:
joins, GROUP BY / DISTINCT, windows with PARTITION BY, and query-level ORDER BY (a global sort).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlglot.expressions as exp

from sqlwave.errors import InputError

if TYPE_CHECKING:
    import duckdb

    from sqlwave.trace import Trace

RUNTIME_ENV = "SQLWAVE_RUNTIME_METRICS"
COUNT_KEYS = ("scans", "projections", "filters", "transforms", "joins", "aggregates", "windows",
              "sorts", "repartitions")
# DuckDB operators whose input a distributed engine would have to move between workers.
SHUFFLE_OPERATORS = frozenset({"HASH_JOIN", "HASH_GROUP_BY", "PERFECT_HASH_GROUP_BY", "WINDOW",
                               "STREAMING_WINDOW", "ORDER_BY", "PIECEWISE_MERGE_JOIN",
                               "NESTED_LOOP_JOIN", "IE_JOIN", "ASOF_JOIN", "PARTITIONED_AGGREGATE"})


@dataclass
class PlanMetrics:
    """Counts, estimates, measured counters, runtime overrides, a pack-order hint and notes."""

    counts: dict[str, int]
    per_step: list[dict[str, Any]]
    estimated: dict[str, Any]
    measured: dict[str, Any] | None = None
    runtime: dict[str, Any] | None = None
    pack_order_hint: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def effective(self) -> dict[str, Any]:
        """Estimates, with every key the runtime file gives replaced by its value."""
        return {**self.estimated, **(self.runtime or {})}


def metrics_to_dict(metrics: PlanMetrics) -> dict[str, Any]:
    """JSON-ready dict; every block says where its numbers come from.

    >>> m = PlanMetrics({"scans": 1}, [], {"input_bytes": 10}, runtime={"input_bytes": 12})
    >>> d = metrics_to_dict(m)
    >>> d["effective"]["input_bytes"], d["sources"]["input_bytes"]
    (12, 'runtime')
    """
    runtime = metrics.runtime or {}
    sources = {k: ("runtime" if k in runtime else "estimated") for k in metrics.effective}
    return {
        "counts": dict(metrics.counts),
        "per_step": list(metrics.per_step),
        "estimated": {"source": "sqlglot plan + Parquet metadata", **metrics.estimated},
        "measured": ({"source": "DuckDB profiler, replay on the sample", **metrics.measured}
                     if metrics.measured is not None else None),
        "runtime": ({"source": os.environ.get(RUNTIME_ENV, ""), **runtime}
                    if metrics.runtime is not None else None),
        "effective": metrics.effective,
        "sources": sources,
        "pack_order_hint": list(metrics.pack_order_hint),
        "notes": list(metrics.notes),
    }


def step_counts(query: exp.Expr) -> tuple[dict[str, int], list[str]]:
    """Operator counts of one query as sqlglot sees it, and notes on gather points.

    >>> sql = "SELECT a, count(*) FROM t JOIN u ON t.k = u.k GROUP BY a"
    >>> c, _ = step_counts(exp.maybe_parse(sql))
    >>> c["joins"], c["aggregates"], c["repartitions"]
    (1, 1, 2)
    """
    notes: list[str] = []
    selects = list(query.find_all(exp.Select))
    c = {"scans": len(list(query.find_all(exp.Table))), "projections": len(selects),
         "filters": len(list(query.find_all(exp.Where))) + len(list(query.find_all(exp.Having)))}
    c["transforms"] = c["projections"] + c["filters"]
    joins = list(query.find_all(exp.Join))
    keyed_joins = [j for j in joins if j.args.get("on") or j.args.get("using")]
    c["joins"] = len(joins)
    grouped = [s for s in selects if s.args.get("group") or s.args.get("distinct")]
    global_aggs = [s for s in selects if s not in grouped and _has_aggregate(s)]
    c["aggregates"] = len(grouped) + len(global_aggs)
    windows = list(query.find_all(exp.Window))
    partitioned = [w for w in windows if w.args.get("partition_by")]
    c["windows"] = len(windows)
    sorts = [o for o in query.find_all(exp.Order) if isinstance(o.parent, exp.Query)]
    c["sorts"] = len(sorts)
    c["repartitions"] = len(keyed_joins) + len(grouped) + len(partitioned) + len(sorts)
    if len(windows) > len(partitioned):
        notes.append("window without PARTITION BY: a distributed engine runs it in one task")
    if len(joins) > len(keyed_joins):
        notes.append("join without ON/USING: a cross join (broadcast one side, keep it small)")
    return c, notes


def _has_aggregate(select: exp.Select) -> bool:
    for projection in select.expressions:
        for agg in projection.find_all(exp.AggFunc):
            if agg.find_ancestor(exp.Window, exp.Select) is select:
                return True
    return False


def parquet_stats(path: str) -> dict[str, Any]:
    """Rows, uncompressed bytes (in all and per top-level column) and on-disk bytes of a
    Parquet file, from its footer only."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    columns: dict[str, int] = {}
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        for j in range(group.num_columns):
            chunk = group.column(j)
            name = chunk.path_in_schema.split(".")[0].lower()
            columns[name] = columns.get(name, 0) + int(chunk.total_uncompressed_size)
    return {"rows": int(meta.num_rows), "bytes": sum(columns.values()), "columns": columns,
            "file_bytes": int(os.path.getsize(path))}


def operator_counters(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """Rows and bytes per operator of the last query, from DuckDB's JSON profile (no timings).

    None when this DuckDB cannot give the profile as JSON (the caller notes it).
    """
    import duckdb

    try:
        profile = json.loads(con.get_profiling_information(format="json"))
    except (AttributeError, TypeError, ValueError, duckdb.Error):
        return None
    operators: list[dict[str, Any]] = []
    for root in profile.get("operator", profile.get("children", [])):
        _flatten(root, operators, 0)
    io = profile.get("io", {})
    return {"operators": operators, "bytes_read": int(io.get("total_bytes_read", 0)),
            "bytes_written": int(io.get("total_bytes_written", 0))}


def _flatten(node: Mapping[str, Any], out: list[dict[str, Any]], depth: int) -> int:
    """Pre-order list of operators; returns the node's output bytes for its parent's input."""
    # DuckDB 2.0 keys first; the 1.x names (operator_type, operator_cardinality,
    # result_set_size) as fallbacks.
    rows = node.get("intermediate_rows", node.get("operator_cardinality", 0))
    size = int(node.get("intermediate_size_bytes", node.get("result_set_size", 0)))
    entry = {"operator": str(node.get("type", node.get("operator_type", "?"))), "depth": depth,
             "rows": int(rows), "bytes": size, "input_bytes": 0}
    out.append(entry)
    children = node.get("children", [])
    entry["input_bytes"] = sum(_flatten(child, out, depth + 1) for child in children)
    return size


def load_runtime_metrics() -> dict[str, Any] | None:
    """The JSON object named by SQLWAVE_RUNTIME_METRICS, or None when the variable is unset."""
    path = os.environ.get(RUNTIME_ENV)
    if not path:
        return None
    from sqlwave.wavespec import read_json

    data = read_json(path, RUNTIME_ENV, "fix or unset it")
    if not isinstance(data, dict):
        raise InputError(f"{RUNTIME_ENV}={path!r} must hold a JSON object of counters")
    return data


def build_metrics(trace: Trace, queries: Sequence[exp.Expr], binds: Mapping[str, str],
                  profiles: Sequence[Mapping[str, Any]] | None,
                  notes: Sequence[str], runtime: dict[str, Any] | None = None) -> PlanMetrics:
    """Assemble estimates (and measured counters when `profiles` is given) for a trace, with
    `runtime` (what `load_runtime_metrics` read) over them."""
    from sqlwave.plan_estimates import estimate

    metrics = estimate(trace, queries, {t: parquet_stats(p) for t, p in binds.items()})
    metrics.notes = list(notes) + metrics.notes
    if profiles is not None:
        metrics.measured = _measured(trace, profiles)
    metrics.runtime = runtime
    return metrics


def _is_sink(name: str) -> bool:
    return name == "RESULT_COLLECTOR" or name.endswith("CREATE_TABLE_AS")


def _output_rows(ops: Sequence[Mapping[str, Any]]) -> int | None:
    # The CREATE TABLE AS sink reports one row (its count); the step's rows are its child's.
    for i, op in enumerate(ops[:-1]):
        if str(op["operator"]).endswith("CREATE_TABLE_AS"):
            return int(ops[i + 1]["rows"])
    return None


def _measured(trace: Trace, profiles: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    steps = []
    for step, profile in zip(trace.steps, profiles, strict=True):
        # The sink operators are replay's wrapper, not the step (and their names vary by threads).
        ops = [op for op in profile["operators"] if not _is_sink(op["operator"])]
        shuffle = sum(op["input_bytes"] for op in ops if op["operator"] in SHUFFLE_OPERATORS)
        steps.append({"step": step.name, "bytes_read": profile["bytes_read"],
                      "output_rows": profile.get("output_rows", _output_rows(ops)),
                      "shuffle_bytes": shuffle,
                      "operators": [{k: op[k] for k in ("operator", "depth", "rows", "bytes")}
                                    for op in ops]})
    return {"steps": steps, "bytes_read": sum(s["bytes_read"] for s in steps),
            "shuffle_bytes": sum(s["shuffle_bytes"] for s in steps),
            "operator_rows": sum(op["rows"] for s in steps for op in s["operators"]),
            "operator_bytes": sum(op["bytes"] for s in steps for op in s["operators"])}
