"""`sqlwave replay --trace`: a SQL pipeline replayed in the sandbox feeds the tuner."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sqlwave.cli import cli
from sqlwave.commands import register

register(cli)
ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ROOT / "examples" / "gemm_pipeline.sql"


@pytest.fixture()
def requests(tmp_path: Path) -> Path:
    start = dt.datetime(2023, 11, 16, 18, 0, 0)
    n = 40
    path = tmp_path / "requests.parquet"
    pq.write_table(pa.table({
        "ts": [start + dt.timedelta(seconds=i) for i in range(n)],
        "request_id": list(range(n)),
        "context_tokens": [(i * 37) % 900 + 20 for i in range(n)],
        "generated_tokens": [(i * 11) % 60 + 1 for i in range(n)],
    }), path)
    return path


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def test_trace_replay_writes_policies_with_plan_metrics(tmp_path: Path, requests: Path) -> None:
    trace, out = tmp_path / "trace.json", tmp_path / "policies.json"
    res = run("trace", "--sql", str(PIPELINE), "--out", str(trace))
    assert res.exit_code == 0, res.output
    res = run("replay", "--trace", str(trace), "--sample", str(requests), "--device", "h100",
              "--out", str(out))
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    # 40 requests in batches of 8: decode steps have M = 8, prefills M = the batch's tokens
    assert "8" in doc["table"] and doc["problems"]["distinct"] == 4 * 6
    assert doc["plan_metrics"]["counts"]["joins"] >= 1
    assert doc["plan_metrics"]["measured"]["steps"][-1]["output_rows"] == 4 * 6
    assert doc["trace"]["sample"] == str(requests)
    again = tmp_path / "again.json"
    run("replay", "--trace", str(trace), "--sample", str(requests), "--out", str(again))
    assert again.read_text() == out.read_text()


def test_trace_whose_last_step_is_not_gemm_problems(tmp_path: Path, requests: Path) -> None:
    sql = tmp_path / "p.sql"
    sql.write_text("-- input: requests\n-- step: counts\n"
                   "SELECT count(*) AS m, 1 AS k FROM requests\n")
    trace = tmp_path / "trace.json"
    assert run("trace", "--sql", str(sql), "--out", str(trace)).exit_code == 0
    res = run("replay", "--trace", str(trace), "--sample", str(requests),
              "--out", str(tmp_path / "p.json"))
    assert res.exit_code == 1 and "Error: problems lack column(s) n" in res.output


def test_trace_and_problems_are_exclusive(tmp_path: Path, requests: Path) -> None:
    res = run("replay", "--trace", "t.json", "--problems", str(requests))
    assert res.exit_code == 1 and "exactly one of --trace" in res.output
    res = run("replay", "--problems", str(requests), "--sample", str(requests))
    assert res.exit_code == 1 and "go with --trace" in res.output
