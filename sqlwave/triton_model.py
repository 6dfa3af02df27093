"""Triton's old analytical matmul model (`triton/ops/matmul_perf_model.py`), as a baseline picker.

Restated from the public source with its units fixed (clock in kHz: the MHz/kHz bug of Triton
PR #3556 is not reproduced). Its known faults are kept on purpose, since it is the reference
being compared against: a tensor-core peak of 512 ops per sub-core per clock (535 TFLOP/s on
H100 instead of 989), no wave quantization, no dependence on stages or swizzle.
"""

from __future__ import annotations

from typing import Any

from sqlwave.policy import StagedPolicy

OPS_PER_SUBCORE = 512  # fp16/bf16 on compute capability >= 8 in the old model


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def estimate_matmul_ms(policy: StagedPolicy, m: int, n: int, k: int, device: dict[str, Any],
                       dtype_bytes: int = 2) -> float:
    """Triton's `estimate_matmul_time` (SPLIT_K = 1) in milliseconds.

    >>> from sqlwave.policy import load_device
    >>> big = estimate_matmul_ms(StagedPolicy(128, 128, 32, 8, 3, 4), 4096, 4096, 4096,
    ...                          load_device("h100"))
    >>> round(big, 3)
    0.272
    """
    sms = int(device["sms"])
    ctas = _cdiv(m, policy.BM) * _cdiv(n, policy.BN)
    m, n = max(m, policy.BM), max(n, policy.BN)
    subcores = sms * 4
    peak_tflops = subcores * device["clock_ghz"] * 1e6 * OPS_PER_SUBCORE * 1e-9
    tflops = min(subcores, ctas * min(policy.num_warps, 4)) / subcores * peak_tflops
    compute_ms = 2 * m * n * k / 1024**3 / tflops
    ratio_bw1 = min(1.0, ctas / 32)
    ratio_bw2 = max(min(1.0, (ctas - 32) / (108 - 32)), 0.0)
    dram_gbps = device["hbm_tbs"] * 1000 * (ratio_bw1 * 0.95 + ratio_bw2 * 0.05)
    l2_gbps = dram_gbps * 4
    tiles_m, tiles_n = _cdiv(m, policy.BM), _cdiv(n, policy.BN)
    a_dram = m * k * dtype_bytes * (1 + 0.2 * (tiles_n - 1))
    a_l2 = m * k * dtype_bytes * 0.8 * (tiles_n - 1)
    b_dram = n * k * dtype_bytes * (1 + 0.2 * (tiles_m - 1))
    b_l2 = n * k * dtype_bytes * 0.8 * (tiles_m - 1)
    load_ms = (a_dram + b_dram) / 1024**2 / dram_gbps + (a_l2 + b_l2) / 1024**2 / l2_gbps
    store_ms = m * n * dtype_bytes / 1024**2 / (dram_gbps * 0.6)
    return float(max(compute_ms, load_ms) + store_ms)
