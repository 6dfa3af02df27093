from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlwave.errors import InputError
from sqlwave.plan_metrics import RUNTIME_ENV, metrics_to_dict
from sqlwave.trace import Trace, replay_trace, trace_from_sql

ROOT = Path(__file__).resolve().parent.parent

# Each pipeline adds one repartition point to the one before (window partition, sort, join).
REPARTITIONS = [
    "SELECT k, v FROM s",
    "SELECT k, v, sum(v) OVER (PARTITION BY k) AS t FROM s",
    "SELECT k, v, sum(v) OVER (PARTITION BY k) AS t FROM s ORDER BY k ASC, v ASC",
    "SELECT a.k, a.v, sum(a.v) OVER (PARTITION BY a.k) AS t FROM s AS a "
    "JOIN (SELECT DISTINCT k FROM s) AS b ON a.k = b.k ORDER BY a.k ASC, a.v ASC",
]


def sample(path: Path, n: int) -> str:
    pq.write_table(pa.table({"k": [f"key{i % 97}" for i in range(n)],
                             "v": [(i * 7919) % 1000 for i in range(n)]}), path)
    return str(path)


def one_step(sql: str) -> Trace:
    return trace_from_sql(f"-- input: s\n-- step: q\n{sql}")


def test_shuffle_bytes_grow_with_repartitions(tmp_path: Path) -> None:
    path = sample(tmp_path / "s.parquet", 5000)
    results = [replay_trace(one_step(sql), {"s": path})[1] for sql in REPARTITIONS]
    assert [m.counts["repartitions"] for m in results] == [0, 1, 2, 4]  # join + DISTINCT
    estimated = [m.estimated["shuffle_bytes"] for m in results]
    measured = [m.measured["shuffle_bytes"] for m in results]
    assert estimated[0] == 0 and all(a < b for a, b in zip(estimated, estimated[1:], strict=False))
    assert measured[0] == 0 and all(a < b for a, b in zip(measured, measured[1:], strict=False))
    assert len({m.estimated["input_bytes"] for m in results}) == 1  # same input throughout


def test_input_bytes_grow_with_input(tmp_path: Path) -> None:
    sql = "SELECT k, count(*) AS n, sum(v) AS total FROM s GROUP BY k ORDER BY k ASC"
    results = [replay_trace(one_step(sql), {"s": sample(tmp_path / f"s{n}.parquet", n)})[1]
               for n in (1000, 10_000, 100_000)]
    for key in ("input_rows", "input_bytes", "input_file_bytes", "shuffle_bytes"):
        values = [m.estimated[key] for m in results]
        assert all(a < b for a, b in zip(values, values[1:], strict=False)), (key, values)
    read = [m.measured["bytes_read"] for m in results]
    shuffled = [m.measured["shuffle_bytes"] for m in results]
    assert all(a < b for a, b in zip(read, read[1:], strict=False)), read
    assert all(a < b for a, b in zip(shuffled, shuffled[1:], strict=False)), shuffled


def test_profiler_counters_are_real_and_labelled(tmp_path: Path) -> None:
    path = sample(tmp_path / "s.parquet", 3000)
    trace = trace_from_sql("-- input: s\n-- step: g\nSELECT k, count(*) AS n FROM s GROUP BY k\n"
                           "-- step: top\nSELECT k, n FROM g ORDER BY n DESC, k ASC LIMIT 5")
    table, metrics = replay_trace(trace, {"s": path})
    doc = metrics_to_dict(metrics)
    assert doc["measured"]["source"].startswith("DuckDB profiler")
    assert doc["estimated"]["source"].startswith("sqlglot")
    first, second = doc["measured"]["steps"]
    assert (first["step"], first["output_rows"], second["output_rows"]) == ("g", 97, 5)
    scans = [op for op in first["operators"] if op["operator"] == "TABLE_SCAN"]
    assert [op["rows"] for op in scans] == [3000] and scans[0]["bytes"] > 0
    assert any("GROUP_BY" in op["operator"] for op in first["operators"])
    assert first["bytes_read"] > 0 and table.num_rows == 5
    assert all({"operator", "rows", "bytes", "depth"} == set(op) for op in second["operators"])


def test_runtime_metrics_file_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = sample(tmp_path / "s.parquet", 100)
    runtime = tmp_path / "runtime.json"
    runtime.write_text(json.dumps({"shuffle_bytes": 123456789, "gpu_seconds": 4.5}))
    monkeypatch.setenv(RUNTIME_ENV, str(runtime))
    _, metrics = replay_trace(one_step(REPARTITIONS[2]), {"s": path})
    doc = metrics_to_dict(metrics)
    assert doc["estimated"]["shuffle_bytes"] not in (0, 123456789)  # estimate kept as is
    assert doc["effective"]["shuffle_bytes"] == 123456789 and doc["effective"]["gpu_seconds"] == 4.5
    assert doc["sources"]["shuffle_bytes"] == "runtime" == doc["sources"]["gpu_seconds"]
    assert doc["sources"]["input_bytes"] == "estimated"
    assert doc["runtime"]["source"] == str(runtime)
    for bad in ("[1, 2]", "{not json"):
        runtime.write_text(bad)
        with pytest.raises(InputError, match=RUNTIME_ENV):
            replay_trace(one_step(REPARTITIONS[0]), {"s": path})


def test_counts_hint_and_notes_of_the_example(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"ts": [3, 1, 2], "request_id": [1, 2, 3],
                             "context_tokens": [10, 20, 30], "generated_tokens": [1, 2, 3]}), path)
    trace = trace_from_sql((ROOT / "examples" / "gemm_pipeline.sql").read_text())
    _, metrics = replay_trace(trace, {"requests": str(path)})
    # batches: 1 window (no partition), batch_m: 2 group-bys, problems: cross join + group + sort
    assert metrics.counts["windows"] == 1 and metrics.counts["joins"] == 1
    assert metrics.counts["aggregates"] == 3 and metrics.counts["repartitions"] == 4
    assert metrics.pack_order_hint == ["requests", "batches", "batch_m", "layers"]
    assert any("window without PARTITION BY" in n for n in metrics.notes)
    assert any("'batches' is scanned 2 times" in n for n in metrics.notes)


def test_metrics_do_not_depend_on_threads(tmp_path: Path) -> None:
    path = sample(tmp_path / "s.parquet", 200_000)
    trace = one_step(REPARTITIONS[3])
    docs = {json.dumps(metrics_to_dict(replay_trace(trace, {"s": path}, threads=t)[1]))
            for t in (1, 2, 4)}
    assert len(docs) == 1


def test_input_bytes_count_only_columns_read(tmp_path: Path) -> None:
    path = sample(tmp_path / "s.parquet", 2000)
    from sqlwave.plan_metrics import parquet_stats

    columns = parquet_stats(path)["columns"]
    sizes = {sql: replay_trace(one_step(sql), {"s": path})[1].estimated["input_bytes"]
             for sql in ("SELECT v FROM s", "SELECT k, v FROM s", "SELECT * FROM s")}
    assert sizes["SELECT v FROM s"] == columns["v"]
    assert sizes["SELECT k, v FROM s"] == columns["k"] + columns["v"] == sizes["SELECT * FROM s"]
