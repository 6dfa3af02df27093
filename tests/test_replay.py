from __future__ import annotations

import json
import math
import random
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sqlwave.cli import cli
from sqlwave.commands import register
from sqlwave.errors import InputError, ParameterError
from sqlwave.policy import StagedPolicy, load_device
from sqlwave.replay import TuneOptions, replay_and_tune
from sqlwave.wavespec import dumps

register(cli)
VLLM_FIELDS = {"BLOCK_SIZE_M", "BLOCK_SIZE_N", "BLOCK_SIZE_K", "GROUP_SIZE_M", "num_warps",
               "num_stages"}
# Llama-3-8B projections (qkv, o, gate_up, down) at decode and prefill batch sizes
PROJ = [(6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336)]
MS = [1, 3, 16, 40, 256, 2000]


def problems() -> pa.Table:
    return as_table([(m, n, k, float(10 - i)) for i, m in enumerate(MS) for n, k in PROJ])


def as_table(rows: list[tuple[int, int, int, float]]) -> pa.Table:
    m, n, k, w = zip(*rows, strict=True)
    return pa.table({"m": m, "n": n, "k": k, "weight": w})


@pytest.fixture(scope="module")
def tuned() -> dict:
    return replay_and_tune(problems(), "h100", TuneOptions(progress=False))


def test_table_is_in_vllm_format(tuned: dict) -> None:
    table = tuned["table"]
    assert list(table) == ["1", "2", "16", "32", "256", "2048"]  # ties go to the smaller key
    for cfg in table.values():
        assert set(cfg) == VLLM_FIELDS and all(isinstance(v, int) for v in cfg.values())
    assert set(tuned["best"]["config"]) == VLLM_FIELDS


def test_tuned_beats_baselines_and_best_single(tuned: dict) -> None:
    for name in ("vllm-default", "triton-tutorial"):
        assert tuned["tuned"]["speedup"][name] >= tuned["best"]["speedup"][name] >= 1.0
    for bucket in tuned["buckets"].values():
        top = bucket["top"]
        assert len(top) == 3 and top[0]["config"] == bucket["config"]
        tiles = {(t["config"]["BLOCK_SIZE_M"], t["config"]["BLOCK_SIZE_N"],
                  t["config"]["BLOCK_SIZE_K"]) for t in top}
        assert len(tiles) == 3
        assert [t["est_time_us"] for t in top] == sorted(t["est_time_us"] for t in top)


def test_small_m_picks_small_tiles(tuned: dict) -> None:
    assert tuned["table"]["1"]["BLOCK_SIZE_M"] == 16
    assert tuned["table"]["2048"]["BLOCK_SIZE_M"] >= 64


def test_output_is_byte_identical_whatever_the_chunking_and_threads(tuned: dict) -> None:
    again = replay_and_tune(problems(), "h100", TuneOptions(progress=False, chunk_size=97))
    assert dumps(again) == dumps(tuned)
    one = replay_and_tune(problems(), "h100", TuneOptions(progress=False, threads=1))
    assert dumps(one) == dumps(tuned)


def test_output_is_byte_identical_whatever_the_row_order() -> None:
    rng = random.Random(7)
    rows = [(m, n, k, rng.uniform(0, 1e6) / 7) for m in (1, 3, 40, 2000) for n, k in PROJ[:2]
            for _ in range(50)]
    shuffled = rng.sample(rows, len(rows))
    # a running float sum of these weights depends on the row order: so would the output
    per_key = [sum(r[3] for r in order if r[:3] == (40, *PROJ[0])) for order in (rows, shuffled)]
    assert per_key[0] != per_key[1]
    docs = [replay_and_tune(as_table(order), "h100", TuneOptions(progress=False))
            for order in (rows, shuffled)]
    assert dumps(docs[0]) == dumps(docs[1])
    assert docs[0]["buckets"]["32"]["weight"] == math.fsum(r[3] for r in rows if r[0] == 40)


def test_previous_choice_is_kept_within_threshold(tuned: dict) -> None:
    bucket = tuned["buckets"]["256"]
    runner_up = bucket["top"][1]
    gap = runner_up["est_time_us"] / bucket["est_time_us"] - 1
    assert gap > 0
    previous = {"table": dict(tuned["table"], **{"256": runner_up["config"]})}
    kept = replay_and_tune(problems(), "h100",
                           TuneOptions(progress=False, previous=previous, threshold=gap + 0.01))
    assert kept["table"]["256"] == runner_up["config"] and kept["buckets"]["256"]["kept_previous"]
    assert kept["table"]["1"] == tuned["table"]["1"]
    switched = replay_and_tune(problems(), "h100",
                               TuneOptions(progress=False, previous=previous, threshold=gap / 2))
    assert switched["table"]["256"] == bucket["config"]


def test_previous_much_worse_choice_is_replaced() -> None:
    bad = StagedPolicy(16, 32, 64, 1, 2, 4).to_vllm()
    doc = replay_and_tune(problems(), "h100",
                          TuneOptions(progress=False, previous={"2048": bad}))
    assert doc["table"]["2048"] != bad and not doc["buckets"]["2048"]["kept_previous"]


def test_missing_columns_is_an_input_error() -> None:
    with pytest.raises(InputError, match="lack column"):
        replay_and_tune(pa.table({"m": [1], "k": [2]}), "h100", TuneOptions(progress=False))


def test_cli_replay_writes_policies(tmp_path) -> None:
    path = tmp_path / "problems.parquet"
    pq.write_table(problems(), path)
    out, vllm = tmp_path / "policies.json", tmp_path / "vllm.json"
    res = CliRunner().invoke(cli, ["replay", "--problems", str(path), "--device", "h200",
                                   "--m-keys", "1,64,1024", "--out", str(out),
                                   "--vllm-out", str(vllm)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["device"] == "h200" and list(doc["table"]) == ["1", "64", "1024"]
    assert json.loads(vllm.read_text()) == doc["table"]


@pytest.mark.parametrize("args, message", [
    (["--device", "b300"], "unknown device 'b300'"),
    (["--threshold", "-1"], "threshold"),
    (["--m-keys", "a,b"], "--m-keys"),
])
def test_cli_replay_bad_options(tmp_path, args: list[str], message: str) -> None:
    path = tmp_path / "problems.parquet"
    pq.write_table(problems(), path)
    res = CliRunner().invoke(cli, ["replay", "--problems", str(path), "--out",
                                   str(tmp_path / "p.json"), *args])
    assert res.exit_code == 1 and "Error: " in res.output and message in res.output


def test_cli_replay_missing_columns(tmp_path) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"m": [1], "n": [2]}), path)
    res = CliRunner().invoke(cli, ["replay", "--problems", str(path)])
    assert res.exit_code == 1 and "Error: problems lack column(s) k" in res.output


def test_device_constants_are_data() -> None:
    assert load_device("a100")["sms"] == 108 and not load_device("a100")["wgmma"]


@pytest.mark.parametrize("column, values, message", [
    ("weight", [-1.0], "weight must be a number from 0 to 1e12, got -1.0"),
    ("m", [1.5], "m must be a whole number from 1 to 2^32, got 1.5"),
    ("dtype", [3], "dtype must be text"),
])
def test_bad_problem_values_are_refused(column: str, values: list, message: str) -> None:
    table = {"m": [1], "n": [64], "k": [64]} | {column: values}
    with pytest.raises(InputError, match=re.escape(f"problem row 1 (m={table['m'][0]!r}")) as e:
        replay_and_tune(pa.table(table), "h100", TuneOptions(progress=False))
    assert message in str(e.value)


def test_bad_options_are_refused_before_any_work() -> None:
    with pytest.raises(ParameterError, match="M keys must be whole numbers from 1 to 2"):
        replay_and_tune("missing.parquet", "h100", TuneOptions(m_keys=(0, 16)))
    with pytest.raises(InputError, match="--previous must be a policies.json"):
        replay_and_tune("missing.parquet", "h100", TuneOptions(previous={"table": [1]}))


def test_baseline_that_does_not_fit_shared_memory_is_not_compared() -> None:
    # Triton's tutorial config (128x256x64, 3 stages) needs 288 KiB in fp32: no such baseline
    doc = replay_and_tune(pa.table({"m": [512], "n": [4096], "k": [4096], "dtype": ["fp32"]}),
                          "h100", TuneOptions(progress=False))
    assert set(doc["tuned"]["speedup"]) == {"vllm-default"}
    assert all(b["speedup"].keys() == {"vllm-default"} for b in doc["buckets"].values())


def test_problems_with_a_column_twice_are_refused():
    from sqlwave.errors import InputError
    from sqlwave.proxies import read_problems

    table = pa.Table.from_arrays([pa.array([16]), pa.array([4096]), pa.array([4096]),
                                  pa.array([8])], names=["m", "n", "k", "m"])
    with pytest.raises(InputError, match="column 'm' more than once"):
        read_problems(table)
