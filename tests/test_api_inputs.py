"""What a notebook user hands the Python API by mistake: clear errors, never wrong answers.

Found by an audit of the API as a notebook user: a usage table listing a key twice packed it
twice, float sizes overlapped their neighbours, numpy integers made the WaveSpec unserialisable,
and wrong types ended in AttributeError or DuckDB's own exceptions.
"""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from sqlwave import (
    build_prefix_cohorts,
    compute_usage,
    export_wave_spec,
    suggest_pack_order_from_usage,
    to_dlpack_columns,
)
from sqlwave.errors import InputError, ParameterError
from sqlwave.policy import StagedPolicy, load_device
from sqlwave.replay import TuneOptions, replay_and_tune

LOG = pa.table({"key": ["a.x", "b.y", "a.x"], "size": pa.array([10, 20, 10], pa.int64())})
USAGE = pa.table({"key": ["a", "a", "b"], "hits": [3, 1, 2], "bytes": [30, 10, 20],
                  "size": [10, 4000, 10], "first_pos": [0, 1, 2], "last_pos": [0, 1, 2],
                  "h60": [1, 1, 3]})
PROBLEMS = pa.table({"m": [1, 4096], "n": [4096, 4096], "k": [4096, 4096]})


@pytest.mark.parametrize(("usage", "message"), [
    (USAGE, "lists 1 key(s) more than once"),
    (USAGE.set_column(3, "size", pa.array([10.5, 1.0, 2.0])), "must be integers: size (double)"),
    (USAGE.set_column(3, "size", pa.array(["1", "2", "3"])), "must be integers: size (string)"),
    (USAGE.slice(1).set_column(1, "hits", pa.array([-1, 2])), "negative hits or bytes"),
    ("usage.parquet", "must be a pyarrow.Table"),
])
def test_usage_tables_that_would_pack_wrongly_are_refused(usage: object, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        suggest_pack_order_from_usage(usage, align_bits=0)  # type: ignore[arg-type]


def test_compute_usage_checks_sizes_as_the_rest_of_the_api() -> None:
    with pytest.raises(InputError, match="negative size"):
        compute_usage(pa.table({"key": ["a", "b"], "size": [1, -5]}), "key", "size")


def test_numpy_numbers_give_a_json_ready_spec_of_its_own() -> None:
    budgets = [np.int64(30), 50]
    spec = export_wave_spec(LOG, "key", "size", page_bits=np.int32(10), depth=np.int64(1),
                            top_k=np.int8(3), capacity=np.uint32(100), wave_bytes=budgets)
    json.dumps(spec)
    assert spec["parameters"]["wave_bytes"] == [30, 50]
    spec["parameters"]["wave_bytes"].append(1)
    assert budgets == [30, 50]  # the caller's list is not the spec's


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: build_prefix_cohorts(LOG, 0, delimiter="."), ParameterError, "key_col must be text"),
    (lambda: build_prefix_cohorts(LOG, "key", 1, delimiter="."), ParameterError,
     "size_col must be text"),
    (lambda: suggest_pack_order_from_usage(compute_usage(LOG), strategy=None), ParameterError,
     "strategy must be text"),
    (lambda: to_dlpack_columns("table", ["a"]), InputError, "takes a pyarrow.Table"),
    (lambda: to_dlpack_columns(pa.table([[1], [2]], names=["a", "a"]), ["a"]), InputError,
     "2 columns named 'a'"),
    (lambda: export_wave_spec(LOG, engine={"thread": 1}), ParameterError, "engine takes"),
    (lambda: compute_usage(pa.table({})), InputError, "column 'key' is not in the log"),
    (lambda: compute_usage(pa.table({"Key": ["A"], "key": ["b"]})), InputError,
     "differ only in case"),
    (lambda: replay_and_tune(PROBLEMS, "h100", TuneOptions(progress=False, top_k=0)),
     ParameterError, "top_k must be"),
    (lambda: replay_and_tune(PROBLEMS, "h100", TuneOptions(progress=False, threshold="0.1")),
     ParameterError, "threshold must be"),
    (lambda: replay_and_tune(PROBLEMS, "h100", TuneOptions(progress=False, grid=[{"BM": 64}])),
     ParameterError, "list of StagedPolicy"),
    (lambda: replay_and_tune(PROBLEMS, {"sms": 1}, TuneOptions(progress=False)), ParameterError,
     "device dict needs numbers > 0"),
    (lambda: replay_and_tune(PROBLEMS, "h100", {"top_k": 1}), ParameterError,
     "must be a TuneOptions"),
    (lambda: replay_and_tune({"m": [1]}, "h100", TuneOptions(progress=False)), InputError,
     "must be a pyarrow.Table or a Parquet path"),
])
def test_wrong_types_get_sqlwave_errors(call, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_a_column_duckdb_cannot_read_does_not_matter_when_unused() -> None:
    log = LOG.append_column("extra", pa.array(np.array([1, 2, 3], np.float16)))
    assert compute_usage(log, "key", "size").num_rows == 2


def test_a_relation_of_a_closed_connection_is_a_clear_error() -> None:
    con = duckdb.connect()
    rel = con.sql("SELECT 'a' AS key")
    con.close()
    with pytest.raises(InputError, match="cannot read the DuckDB relation"):
        compute_usage(rel)


def test_numpy_integers_are_tile_sizes_and_m_keys() -> None:
    policy = StagedPolicy(np.int64(64), 64, 64, 8, 3, 4)
    assert type(policy.BM) is int and policy.label() == "BM64_BN64_BK64_G8_S3_W4"
    doc = replay_and_tune(PROBLEMS, "h100",
                          TuneOptions(progress=False, m_keys=tuple(np.array([1, 4096]))))
    assert sorted(doc["table"]) == ["1", "4096"]
    json.dumps(doc)


def test_a_device_given_as_a_dict() -> None:
    device = dict(load_device("h100"))
    del device["key"]
    named = replay_and_tune(PROBLEMS, "h100", TuneOptions(progress=False))
    custom = replay_and_tune(PROBLEMS, device, TuneOptions(progress=False))
    assert custom["device"] == "NVIDIA H100 SXM" and custom["table"] == named["table"]


def test_a_record_batch_hands_over_its_buffers() -> None:
    from sqlwave.dlpack import buffer_address

    batch = pa.record_batch({"x": pa.array([1, 2, 3], pa.int64())})
    column = to_dlpack_columns(batch, ["x"])["x"]
    assert np.from_dlpack(column).ctypes.data == buffer_address(batch.column(0))


def test_a_device_dict_of_numpy_numbers() -> None:
    device = {k: (np.int64(v) if isinstance(v, int) and not isinstance(v, bool) else v)
              for k, v in load_device("h100").items()}
    doc = replay_and_tune(PROBLEMS, device, TuneOptions(progress=False))
    json.dumps(doc)
    assert doc["table"] == replay_and_tune(PROBLEMS, "h100", TuneOptions(progress=False))["table"]
