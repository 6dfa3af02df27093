"""Replay a trace (sqlwave.trace) and hand its last step's rows to the tuner as GEMM problems.

The trace, safety and plan-metrics modules are built alongside; this is the one place the
tuner depends on their API.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sqlwave.trace import REPLAY_TIMEOUT_S


def problems_from_trace(trace_path: str, sample: str | None, binds: dict[str, str],
                        timeout: float = REPLAY_TIMEOUT_S) -> tuple[pa.Table, dict[str, Any]]:
    """(last step rows, plan metrics as JSON) of a trace replayed on bound Parquet samples.

    `sample` binds the trace's default input tag (its first `-- input:`), `binds` the others.
    """
    from sqlwave.plan_metrics import metrics_to_dict
    from sqlwave.trace import load_trace, replay_trace

    trace = load_trace(trace_path)
    bound = dict(binds)
    if sample is not None:
        bound[trace.default_tag] = sample
    table, metrics = replay_trace(trace, bound, timeout=timeout)
    return table, dict(metrics_to_dict(metrics))
