from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sqlwave.cli import cli
from sqlwave.commands import register
from sqlwave.evaluate import evaluate_timings, split_of
from sqlwave.policy import load_device
from tests.conftest import shared_file

register(cli)
TIMM = "gemm/h100_timm_timings.parquet"
PICKER_FIELDS = {"top1_geomean_regret", "top3_geomean_regret", "p90_regret", "max_regret",
                 "within_1_05", "time_weighted_regret"}


@pytest.fixture(scope="module")
def timm_holdout() -> dict:
    return evaluate_timings(str(shared_file(TIMM)), load_device("h100"), split="holdout")


@pytest.mark.real_data
def test_model_beats_baselines_on_unseen_timm_shapes(timm_holdout: dict) -> None:
    pickers = timm_holdout["pickers"]
    assert set(pickers) == {"sqlwave", "vllm-default", "triton-tutorial", "triton-old-model",
                            "random", "triton-tutorial-autotuned"}
    ours = pickers["sqlwave"]
    assert set(ours) == PICKER_FIELDS
    for name in ("vllm-default", "triton-tutorial", "triton-old-model", "random"):
        assert ours["top1_geomean_regret"] < pickers[name]["top1_geomean_regret"]
    # the targets on shapes the constants were not fitted on
    assert ours["top1_geomean_regret"] <= 1.10 and ours["p90_regret"] <= 1.25
    assert ours["top3_geomean_regret"] <= ours["top1_geomean_regret"]
    for name in ("vllm-default", "triton-tutorial"):
        # NOTES-policy.md's headline, and more shapes won than lost
        assert ours["time_weighted_regret"] < pickers[name]["time_weighted_regret"]
        versus = timm_holdout["versus"][name]
        assert versus["speedup_geomean"] > 1.03 and versus["won"] > versus["lost"]
    # The tutorial kernel timing its sixteen configs on the device is an oracle over them: the
    # model, which times nothing, was level with it (0.994x, docs/policy.md), not better.
    autotuned = timm_holdout["versus"]["triton-tutorial-autotuned"]
    assert 0.9 < autotuned["speedup_geomean"] < 1.1
    assert pickers["triton-tutorial-autotuned"]["top3_geomean_regret"] is None


@pytest.mark.real_data
def test_the_shipped_table_is_judged_on_unseen_shapes(timm_holdout: dict) -> None:
    # A per-M table tuned on the fit shapes over the configs measured on most of them, served
    # to the held-out shapes by M bucket: coarser than ranking each shape's candidates.
    table = timm_holdout["table"]
    assert table["fit_shapes"] > 500 and table["grid"]["fp16"] >= 10
    assert table["judged_shapes"] + table["skipped_shapes"] == timm_holdout["shapes"]
    assert table["judged_shapes"] > 0.7 * timm_holdout["shapes"]
    per_shape = timm_holdout["pickers"]["sqlwave"]["top1_geomean_regret"]
    assert per_shape < table["regret"]["top1_geomean_regret"] <= 1.25
    assert table["versus"]["vllm-default"]["speedup_geomean"] > 1.5


@pytest.mark.real_data
def test_cli_on_the_real_file_prints_json(tmp_path) -> None:
    res = CliRunner().invoke(cli, ["evaluate-policy", "--timings", str(shared_file(TIMM)),
                                   "--device", "h100", "--split", "fit"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["shapes"] > 500 and doc["split"] == "fit"
    assert doc["pickers"]["sqlwave"]["within_1_05"] > doc["pickers"]["random"]["within_1_05"]


def write_timings(path, rows: list[tuple]) -> None:
    names = ["m", "k", "n", "dtype", "choice", "BM", "BN", "BK", "group_m", "num_stages",
             "num_warps", "median_ms"]
    columns = zip(*rows, strict=True)
    pq.write_table(pa.table({c: list(v) for c, v in zip(names, columns, strict=True)}), path)


def test_regret_is_against_the_best_triton_candidate_and_ignores_cublas(tmp_path) -> None:
    shape = (4096, 4096, 4096, "torch.float16")
    path = tmp_path / "t.parquet"
    write_timings(path, [
        (*shape, "extern_mm(cuBLAS)", None, None, None, None, None, None, 0.001),
        (*shape, "triton_mm", 128, 128, 64, 8, 3, 8, 0.20),   # big tiles: the model's pick
        (*shape, "triton_mm", 16, 16, 16, 8, 1, 1, 2.00),     # tiny tiles, one warp
        (*shape, "triton_mm", 32, 32, 16, 8, 2, 2, 0.80),
        (*shape, "triton_mm", 64, 64, 32, 8, 3, 4, 0.40),
    ])
    doc = evaluate_timings(str(path), load_device("h100"))
    ours = doc["pickers"]["sqlwave"]
    assert doc["shapes"] == 1
    assert ours["top1_geomean_regret"] == 1.0 and ours["max_regret"] == 1.0
    assert doc["pickers"]["vllm-default"]["top1_geomean_regret"] == 2.0  # picks 64x64x32


def test_random_picker_is_seeded(tmp_path) -> None:
    path = tmp_path / "t.parquet"
    rows = [(m, 256, 256, "torch.float16", "triton_mm", bm, 32, 32, 8, 2, 4, 0.01 * i + 0.01)
            for m in (64, 512, 4096) for i, bm in enumerate((16, 32, 64, 128))]
    write_timings(path, rows)
    dev = load_device("h100")
    a, b = (evaluate_timings(str(path), dev, seed=3)["pickers"]["random"] for _ in range(2))
    assert a == b


def test_split_is_stable_and_about_thirty_percent() -> None:
    shapes = [(m, k, n) for m in (1, 7, 64, 100) for k in (16, 300, 4096) for n in (8, 96, 1000)]
    held = [s for s in shapes if split_of(*s) == "holdout"]
    assert 0.1 < len(held) / len(shapes) < 0.5
    assert held == [s for s in shapes if split_of(*s) == "holdout"]


@pytest.mark.parametrize("args, message", [
    (["--device", "h100"], "lack column(s)"),
    (["--device", "tpu"], "unknown device"),
])
def test_cli_bad_input(tmp_path, args: list[str], message: str) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"m": [1], "k": [2], "n": [3]}), path)
    res = CliRunner().invoke(cli, ["evaluate-policy", "--timings", str(path), *args])
    assert res.exit_code == 1 and "Error: " in res.output and message in res.output


def test_cli_missing_file(tmp_path) -> None:
    res = CliRunner().invoke(cli, ["evaluate-policy", "--timings", str(tmp_path / "no.parquet")])
    assert res.exit_code == 1 and "does not exist" in res.output


def test_candidate_triton_cannot_launch_is_refused(tmp_path) -> None:
    path = tmp_path / "t.parquet"
    write_timings(path, [(64, 64, 64, "torch.float16", "triton_mm", 64, 64, 32, 8, 3, 3, 0.1)])
    res = CliRunner().invoke(cli, ["evaluate-policy", "--timings", str(path)])
    assert res.exit_code == 1 and res.output.startswith("Error: timings ")
    assert "is not a Triton config (policy field num_warps must be one of 1, 2, 4" in res.output


def test_the_table_judgement_needs_a_grid_and_keeps_dtypes_apart(tmp_path) -> None:
    # Each fit shape measured with configs of its own: no config is on 75 % of them, so no
    # table (the report said "grid must be a non-empty list" and failed as a whole).
    rows = []
    shapes = [(64 * i, 4096, 4096) for i in range(1, 40)]
    for i, (m, k, n) in enumerate(shapes):
        for bm in (16, 32, 64, 128):
            bn = (16, 32, 64, 128, 256)[(i + bm) % 5]
            rows.append((m, k, n, "torch.float16", "t", bm, bn, 32, 8, 3, 4, 0.1 + bm / 1e4))
    path = tmp_path / "sparse.parquet"
    write_timings(path, rows)
    doc = evaluate_timings(str(path), load_device("h100"))
    assert doc["table"]["judged_shapes"] == 0 and "fp16: no config measured" in doc["table"]["notes"][0]
    # Held-out shapes of a dtype no fit shape has are not served another dtype's table.
    rows = [(m, k, n, "torch.float16" if split_of(m, k, n) == "fit" else "torch.float32",
             "t", bm, 64, 32, 8, 3, 4, 0.1 + bm / 1e4)
            for m, k, n in shapes for bm in (16, 32, 64)]
    write_timings(path, rows)
    table = evaluate_timings(str(path), load_device("h100"))["table"]
    assert table["judged_shapes"] == 0 and table["skipped_shapes"] > 0
    assert any(n.startswith("fp32: no fit shape") for n in table["notes"])
