from __future__ import annotations

import json

import pyarrow as pa
import pytest

from sqlwave.engine import connect
from sqlwave.errors import InputError, ParameterError
from sqlwave.policy import (
    StagedPolicy,
    default_grid,
    dtype_key,
    load_device,
    load_grid,
)
from sqlwave.proxies import GRID, bind_problems, grid_table, proxies_sql

VLLM_FIELDS = {"BLOCK_SIZE_M", "BLOCK_SIZE_N", "BLOCK_SIZE_K", "GROUP_SIZE_M", "num_warps",
               "num_stages"}


def proxies(device: str, shapes: list[tuple[int, int, int]],
            policies: list[StagedPolicy]) -> list[dict[str, float]]:
    dev = load_device(device)
    con = connect()
    m, n, k = zip(*shapes, strict=True)
    bind_problems(con, pa.table({"m": m, "n": n, "k": k}), dev)
    con.register(GRID, grid_table(policies))
    cur = con.execute(f"SELECT p.m, p.n, p.k, x.* EXCLUDE (m, n, k) FROM ({proxies_sql(dev)}) x "
                      "JOIN sqlwave_problems p USING (problem_id) ORDER BY problem_id, policy_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def test_policy_rejects_non_positive_fields() -> None:
    with pytest.raises(ParameterError, match="BK"):
        StagedPolicy(64, 64, 0, 8, 3, 4)


# (BM, BN, BK, GROUP_SIZE_M, num_stages, num_warps) Triton cannot launch, and what the error says
UNLAUNCHABLE = [
    ((48, 64, 64, 8, 3, 4), "BM (BLOCK_SIZE_M) must be one of 8, 16, 32, 64, 128, 256, got 48"),
    ((64.7, 64, 64, 8, 3, 4), "got 64.7"),
    ((64.0, 64, 64, 8, 3, 4), "got 64.0"),
    ((True, 64, 64, 8, 3, 4), "got True"),
    ((64, 512, 64, 8, 3, 4), "BN (BLOCK_SIZE_N) must be one of 8, 16, 32, 64, 128, 256, got 512"),
    ((64, 64, 8, 8, 3, 4), "BK (BLOCK_SIZE_K) must be one of 16, 32, 64, 128, 256, 512, 1024"),
    ((64, 64, 64, 0, 3, 4), "swizzle_size (GROUP_SIZE_M) must be a whole number from 1 to 1024"),
    ((64, 64, 64, 8, 9, 4), "stage_depth (num_stages) must be a whole number from 1 to 8, got 9"),
    ((64, 64, 64, 8, 3, 3), "num_warps must be one of 1, 2, 4, 8, 16, 32, got 3"),
    ((64, 64, 64, 8, 3, 1024), "got 1024"),
]


@pytest.mark.parametrize("values, message", UNLAUNCHABLE)
def test_policy_refuses_what_triton_cannot_launch(values: tuple, message: str) -> None:
    with pytest.raises(ParameterError) as info:
        StagedPolicy(*values)
    assert message in str(info.value)


def test_policy_accepts_the_extremes_of_tuned_tables() -> None:
    # vLLM's tuned H100 fused-MoE tables use BLOCK_SIZE_M 8; others BK 1024, 32 warps, 8 stages
    for values in ((8, 8, 16, 1, 1, 1), (256, 256, 1024, 1024, 8, 32)):
        assert StagedPolicy(*values).label().startswith(f"BM{values[0]}_")


def test_to_vllm_has_exactly_the_vllm_fields() -> None:
    cfg = StagedPolicy(128, 64, 32, 16, 4, 8).to_vllm()
    assert set(cfg) == VLLM_FIELDS
    assert (cfg["BLOCK_SIZE_N"], cfg["GROUP_SIZE_M"], cfg["num_stages"]) == (64, 16, 4)


@pytest.mark.parametrize("device", ["h100", "a100"])
def test_default_grid_is_pruned_by_shared_memory(device: str) -> None:
    dev = load_device(device)
    grid = default_grid(dev)
    assert grid == sorted(set(grid))
    assert all(p.smem_bytes(2) <= dev["smem_per_block"] for p in grid)
    # 256x256x256 with 5 stages needs 1.3 MB: never in any grid
    assert StagedPolicy(256, 256, 256, 1, 5, 8) not in grid
    assert StagedPolicy(16, 32, 64, 1, 2, 4) in grid
    assert {p.num_warps for p in grid} == {4, 8}


def test_smaller_shared_memory_prunes_more() -> None:
    h100, a100 = set(default_grid(load_device("h100"))), set(default_grid(load_device("a100")))
    assert a100 < h100
    # 128x128x128 in 3 stages = 196,608 B: fits H100 (232,448) but not A100 (166,912)
    assert StagedPolicy(128, 128, 128, 1, 3, 4) in h100 - a100


def test_fp8_fits_more_than_fp16() -> None:
    dev = load_device("h100")
    assert len(default_grid(dev, dtype_bytes=1)) > len(default_grid(dev, dtype_bytes=2))


def test_unknown_device_suggests_the_closest() -> None:
    with pytest.raises(ParameterError, match='Did you mean "h200"'):
        load_device("h20O")


def test_dtype_names() -> None:
    assert dtype_key("torch.float16") == "fp16"
    with pytest.raises(InputError, match="unknown dtype"):
        dtype_key("int3")


def test_user_grid_json_csv_and_vllm_table(tmp_path) -> None:
    dev = load_device("h100")
    as_list = tmp_path / "g.json"
    as_list.write_text(json.dumps([{"BM": 64, "BN": 64, "BK": 32}, {"BM": 256, "BN": 256,
                                   "BK": 256, "stage_depth": 5}]))
    assert load_grid(as_list, dev) == [StagedPolicy(64, 64, 32, 8, 3, 4)]
    table = tmp_path / "vllm.json"
    table.write_text(json.dumps({"1": StagedPolicy(16, 32, 64, 1, 4, 4).to_vllm()}))
    assert load_grid(table, dev) == [StagedPolicy(16, 32, 64, 1, 4, 4)]
    as_csv = tmp_path / "g.csv"
    as_csv.write_text("BM,BN,BK,num_warps\n32,32,64,8\n32,32,64,8\n")
    assert load_grid(as_csv, dev) == [StagedPolicy(32, 32, 64, 8, 3, 8)]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"BM": 64}]))
    with pytest.raises(InputError, match="lacks BN, BK"):
        load_grid(bad, dev)
    bad.write_text(json.dumps([{"BM": 64, "BN": 64, "BK": 32}, {"BM": 64.7, "BN": 64, "BK": 32}]))
    with pytest.raises(InputError, match=r"entry 2 .*BM \(BLOCK_SIZE_M\) must be one of"):
        load_grid(bad, dev)


POLICIES = [StagedPolicy(*v) for v in [(16, 32, 64, 1, 2, 4), (64, 64, 32, 8, 3, 4),
                                       (128, 128, 64, 8, 3, 8), (128, 256, 64, 1, 4, 8),
                                       (256, 128, 128, 64, 2, 8)]]


def test_more_work_is_never_faster() -> None:
    base = [(m, n, k) for m in (1, 100, 4096) for n in (512, 4096) for k in (256, 4096)]
    grown = [(m, n, 2 * k) for m, n, k in base] + [(2 * m, n, k) for m, n, k in base] \
        + [(m, 2 * n, k) for m, n, k in base]
    small = {(r["m"], r["n"], r["k"], r["policy_id"]): r for r in proxies("h100", base, POLICIES)}
    big = proxies("h100", grown, POLICIES)
    for r in big:
        for m, n, k in ((r["m"], r["n"], r["k"] // 2), (r["m"] // 2, r["n"], r["k"]),
                        (r["m"], r["n"] // 2, r["k"])):
            if (m, n, k, r["policy_id"]) in small:
                assert r["est_time_s"] >= small[(m, n, k, r["policy_id"])]["est_time_s"]


def test_faster_memory_is_never_slower() -> None:
    shapes = [(1, 4096, 4096), (1, 16384, 16384), (64, 14336, 4096), (8192, 8192, 8192)]
    pols = [*POLICIES, StagedPolicy(16, 64, 256, 1, 4, 4)]
    h100, h200 = proxies("h100", shapes, pols), proxies("h200", shapes, pols)
    assert all(b["est_time_s"] <= a["est_time_s"] for a, b in zip(h100, h200, strict=True))
    assert any(b["est_time_s"] < a["est_time_s"] for a, b in zip(h100, h200, strict=True))


def test_padding_waves_and_occupancy() -> None:
    pol = [StagedPolicy(128, 128, 64, 8, 3, 4)]
    exact, padded = proxies("h100", [(1024, 1024, 512), (1025, 1024, 512)], pol)
    assert exact["tile_efficiency"] == 1.0 and padded["tile_efficiency"] < 1.0
    assert padded["tiles"] == exact["tiles"] + 8
    # 64 tiles on 132 SMs: one partial wave; twice the rows of tiles cannot need fewer waves
    assert exact["waves"] == 1 and exact["wave_efficiency"] < 1.0
    assert 0 < exact["occupancy"] <= 1.0


def test_swizzle_groups_cut_dram_traffic_when_operands_exceed_l2() -> None:
    pols = [StagedPolicy(128, 128, 64, g, 3, 8) for g in (1, 8)]
    g1, g8 = proxies("h100", [(16384, 16384, 16384)], pols)
    assert g8["dram_bytes"] < g1["dram_bytes"]
    # small operands fit L2: the swizzle changes nothing
    s1, s8 = proxies("h100", [(1024, 1024, 1024)], pols)
    assert s1["dram_bytes"] == s8["dram_bytes"]


def test_memory_bound_decode_prefers_small_bm_and_large_bk() -> None:
    rows = proxies("h100", [(1, 8192, 8192)], default_grid(load_device("h100")))
    best = min(rows, key=lambda r: (r["est_time_s"], r["policy_id"]))
    assert best["bm"] == 16 and best["bk"] >= 128
    assert best["t_dram"] > best["t_compute"]


def test_large_gemm_avoids_spilling_accumulators() -> None:
    rows = proxies("h100", [(8192, 8192, 8192)], default_grid(load_device("h100")))
    best = min(rows, key=lambda r: (r["est_time_s"], r["policy_id"]))
    assert best["bm"] * best["bn"] / (32 * best["warps"]) <= 192
    assert best["bm"] >= 64 and best["bn"] >= 64 and best["mma_efficiency"] == 1.0


def test_one_stage_alone_on_its_sm_hides_no_latency() -> None:
    # 128x256 with 8 warps: its accumulators fill the register file, one CTA per SM. With one
    # stage there is no prefetch and no other CTA: every K step waits for its load.
    one, two = proxies("h100", [(4096, 4096, 4096)], [StagedPolicy(128, 256, 64, 8, s, 8)
                                                       for s in (1, 2)])
    assert one["ctas_per_sm"] == two["ctas_per_sm"] == 1
    assert one["t_latency"] == two["t_latency"]
    assert one["est_time_s"] > two["est_time_s"]
    # with room for several CTAs per SM, they overlap each other's loads as stages would
    small = [StagedPolicy(32, 32, 32, 8, s, 2) for s in (1, 2)]
    one, two = proxies("h100", [(4096, 4096, 4096)], small)
    assert one["ctas_per_sm"] > 1 and one["est_time_s"] <= two["est_time_s"]
