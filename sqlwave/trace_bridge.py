"""Replay a trace (sqlwave.trace) and hand its last step's rows to the tuner as GEMM problems.

The trace, safety and plan-metrics modules are built alongside; this is the one place that
depends on their API, so a change there is a change here only.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sqlwave.errors import InputError, ParameterError


def problems_from_trace(trace_path: str, sample: str | None,
                        binds: dict[str, str]) -> tuple[pa.Table, dict[str, Any] | None]:
    """(last step rows, plan metrics as JSON) of a trace replayed on bound Parquet samples."""
    try:
        from sqlwave import trace as trace_mod
    except ImportError as e:
        raise ParameterError("this build cannot replay traces yet (sqlwave.trace is missing); "
                             "pass --problems problems.parquet instead") from e
    trace = trace_mod.load_trace(trace_path)
    bound = dict(binds)
    if sample is not None:
        bound[_default_tag(trace_mod, trace)] = sample
    result = trace_mod.replay_trace(trace, bound)
    table, metrics = result if isinstance(result, tuple) else (result, None)
    if not isinstance(table, pa.Table):
        raise InputError("the trace's last step did not return a table")
    return table, _metrics_json(metrics)


def _default_tag(trace_mod: Any, trace: Any) -> str:
    tag = getattr(trace, "default_tag", None) or getattr(trace_mod, "DEFAULT_TAG", None)
    return tag if isinstance(tag, str) else "sample"


def _metrics_json(metrics: Any) -> dict[str, Any] | None:
    if metrics is None:
        return None
    if isinstance(metrics, dict):
        return metrics
    from sqlwave.plan_metrics import metrics_to_dict

    return dict(metrics_to_dict(metrics))
