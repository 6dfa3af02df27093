"""Staged GPU tile policies: the dataclass, device constants (data), grids, baselines.

A staged policy is a Triton-style matmul configuration. Grids are plain lists of policies: the
default one is the search space of vLLM's fused-MoE tuner on CUDA, pruned by shared memory.
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import numbers
import re
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

from sqlwave.checks import as_integer
from sqlwave.errors import InputError, ParameterError, did_you_mean
from sqlwave.wavespec import read_json, read_text

DTYPE_BYTES = {"fp8": 1, "bf16": 2, "fp16": 2, "fp32": 4}
MIN_DTYPE_BYTES = min(DTYPE_BYTES.values())
DTYPE_ALIASES = {"float16": "fp16", "half": "fp16", "bfloat16": "bf16", "float32": "fp32",
                 "float": "fp32", "float8": "fp8", "float8_e4m3fn": "fp8", "float8_e5m2": "fp8",
                 "fp8_w8a8": "fp8"}
# vLLM's tuner space (benchmarks/kernels/benchmark_moe.py, get_configs_compute_bound on CUDA).
VLLM_SPACE = {"BM": (16, 32, 64, 128, 256), "BN": (32, 64, 128, 256), "BK": (64, 128, 256),
              "swizzle_size": (1, 16, 32, 64), "stage_depth": (2, 3, 4, 5), "num_warps": (4, 8)}
VLLM_KEYS = {"BM": "BLOCK_SIZE_M", "BN": "BLOCK_SIZE_N", "BK": "BLOCK_SIZE_K",
             "swizzle_size": "GROUP_SIZE_M", "num_warps": "num_warps", "stage_depth": "num_stages"}
# What Triton launches on NVIDIA GPUs: (lowest, highest, powers of two only). Block sizes are
# tl.arange extents, so powers of two; tl.dot pads M and N below 16 but needs K >= 16, and vLLM's
# tuned H100 tables use BLOCK_SIZE_M 8 and BLOCK_SIZE_K up to 1024; a CTA holds at most 32 warps.
# num_stages 1-8 and GROUP_SIZE_M up to 1024 cover every tuned table in the shared data (1-8,
# 1-128); the caps also keep the proxies' integer products far from overflow.
LIMITS = {"BM": (8, 256, True), "BN": (8, 256, True), "BK": (16, 1024, True),
          "swizzle_size": (1, 1024, False), "stage_depth": (1, 8, False), "num_warps": (1, 32, True)}


@dataclass(frozen=True, order=True)
class StagedPolicy:
    """One tile policy: tile sizes, L2 swizzle (GROUP_SIZE_M), pipeline depth, warps.

    >>> p = StagedPolicy(64, 64, 32, 8, 3, 4)
    >>> p.smem_bytes(dtype_bytes=2)
    24576
    >>> p.to_vllm()["BLOCK_SIZE_M"]
    64
    """

    BM: int
    BN: int
    BK: int
    swizzle_size: int
    stage_depth: int
    num_warps: int

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            low, high, pow2 = LIMITS[f.name]
            # numpy's integers are tile sizes too, stored as plain ints (they go into JSON)
            number = as_integer(value)
            if number is None or not low <= number <= high or (pow2 and number & (number - 1)):
                raise ParameterError(f"policy field {_field_label(f.name)} must be "
                                     f"{_allowed(f.name)}, got {value!r}")
            object.__setattr__(self, f.name, number)

    def smem_bytes(self, dtype_bytes: int = 2) -> int:
        """Shared memory of one CTA: an A and a B tile per pipeline stage."""
        return (self.BM * self.BK + self.BK * self.BN) * dtype_bytes * self.stage_depth

    def to_vllm(self) -> dict[str, int]:
        """The entry format vLLM/SGLang tuned tables use."""
        return {VLLM_KEYS[f.name]: getattr(self, f.name) for f in fields(self)
                if f.name in ("BM", "BN", "BK", "swizzle_size")} | {
            "num_warps": self.num_warps, "num_stages": self.stage_depth}

    def label(self) -> str:
        return "BM{}_BN{}_BK{}_G{}_S{}_W{}".format(*astuple(self))


def _field_label(name: str) -> str:
    return name if VLLM_KEYS[name] == name else f"{name} ({VLLM_KEYS[name]})"


def _allowed(name: str) -> str:
    """The values a policy field accepts, in words.

    >>> _allowed("num_warps"), _allowed("stage_depth")
    ('one of 1, 2, 4, 8, 16, 32', 'a whole number from 1 to 8')
    """
    low, high, pow2 = LIMITS[name]
    if not pow2:
        return f"a whole number from {low} to {high}"
    return "one of " + ", ".join(str(1 << b) for b in range(low.bit_length() - 1, high.bit_length()))


@functools.lru_cache(maxsize=1)
def _device_doc() -> dict[str, Any]:
    path = Path(__file__).parent / "data" / "devices.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def device_names() -> list[str]:
    """Known devices.

    >>> device_names()
    ['a100', 'h100', 'h200']
    """
    return sorted(_device_doc()["devices"])


def load_device(name: str) -> dict[str, Any]:
    """Constants of one device (case-insensitive name), from `sqlwave/data/devices.json`.

    >>> load_device("H100")["sms"]
    132
    """
    devices = _device_doc()["devices"]
    key = name.strip().lower()
    if key not in devices:
        raise ParameterError(f"unknown device {name!r}; known: {', '.join(sorted(devices))}."
                             + did_you_mean(key, devices))
    return dict(devices[key]) | {"key": key}


def check_device(device: Any) -> dict[str, Any]:
    """A device given as a dict: the same constants as a devices.json entry, as numbers > 0."""
    needed = [k for k in _device_doc()["devices"]["h100"] if k not in ("name", "wgmma")]
    if not isinstance(device, dict):
        raise ParameterError(f"device must be a name ({', '.join(sorted(_device_doc()['devices']))}) "
                             f"or a dict of its constants, not {type(device).__name__}")

    def positive(value: Any) -> bool:  # numpy's numbers too
        return isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value) > 0

    # peak_tflops is per dtype: {"bf16": 989, ...}
    bad = [k for k in needed if not (all(map(positive, device[k].values())) and device[k]
                                     if k == "peak_tflops" and isinstance(device.get(k), dict)
                                     else positive(device.get(k)))]
    if bad:
        raise ParameterError(f"device dict needs numbers > 0 for {', '.join(bad)} (peak_tflops "
                             "per dtype; see "
                             "sqlwave/data/devices.json for the constants of each device)")
    # The document names the device by its key; Hopper-style wgmma only when it says so.
    plain = {k: _plain_number(v) for k, v in device.items()}
    return {"wgmma": False, **plain, "key": str(device.get("key") or device.get("name") or "custom")}


def _plain_number(value: Any) -> Any:
    """numpy's numbers as Python's (they reach JSON and SQL text); anything else as it is."""
    if isinstance(value, dict):
        return {k: _plain_number(v) for k, v in value.items()}
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value


def model_constants() -> dict[str, Any]:
    """The proxy model's fitted constants (see docs/policy.md)."""
    return dict(_device_doc()["model"])


def dtype_key(dtype: str | None) -> str:
    """Normalise a dtype name: 'torch.float16' -> 'fp16'; None means bf16.

    >>> dtype_key("torch.bfloat16"), dtype_key(None), dtype_key("FP8")
    ('bf16', 'bf16', 'fp8')
    """
    if dtype is None:
        return "bf16"
    key = dtype.strip().lower().removeprefix("torch.")
    key = DTYPE_ALIASES.get(key, key)
    if key not in DTYPE_BYTES:
        raise InputError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPE_BYTES)}."
                         + did_you_mean(key, DTYPE_BYTES))
    return key


def fits(policy: StagedPolicy, device: dict[str, Any], dtype_bytes: int = 2) -> bool:
    """Whether one CTA's pipeline buffers fit the device's opt-in shared memory per block."""
    return policy.smem_bytes(dtype_bytes) <= int(device["smem_per_block"])


def default_grid(device: dict[str, Any], dtype_bytes: int = 2) -> list[StagedPolicy]:
    """vLLM's CUDA tuner space, pruned by shared memory, sorted.

    >>> grid = default_grid(load_device("h100"))
    >>> len(grid) < 5 * 4 * 3 * 4 * 4 * 2 and StagedPolicy(256, 256, 256, 1, 5, 8) not in grid
    True
    """
    space = itertools.product(*(VLLM_SPACE[f.name] for f in fields(StagedPolicy)))
    return sorted(p for p in (StagedPolicy(*v) for v in space) if fits(p, device, dtype_bytes))


GRID_ALIASES = {"BLOCK_SIZE_M": "BM", "BLOCK_SIZE_N": "BN", "BLOCK_SIZE_K": "BK",
                "GROUP_SIZE_M": "swizzle_size", "group_m": "swizzle_size",
                "num_stages": "stage_depth", "stages": "stage_depth", "warps": "num_warps"}


def policy_from_mapping(row: dict[str, Any]) -> StagedPolicy:
    """A policy from a dict in our field names or vLLM's (missing group/stages/warps: 8/3/4).

    >>> policy_from_mapping({"BLOCK_SIZE_M": "64", "BLOCK_SIZE_N": 64, "BLOCK_SIZE_K": 32}).label()
    'BM64_BN64_BK32_G8_S3_W4'
    """
    known = {f.name for f in fields(StagedPolicy)}
    values: dict[str, Any] = {"swizzle_size": 8, "stage_depth": 3, "num_warps": 4}
    for key, value in row.items():
        name = GRID_ALIASES.get(key, key)
        if name in known and value not in (None, ""):
            values[name] = _cell(value)
    missing = [n for n in ("BM", "BN", "BK") if n not in values]
    if missing:
        raise InputError(f"lacks {', '.join(missing)} (or BLOCK_SIZE_M/N/K)")
    return StagedPolicy(**values)


def _cell(value: Any) -> Any:
    """CSV cells are text: a whole number becomes an int; anything else goes to StagedPolicy as
    it is, which names the field (int('64.7') would fail, int(64.7) would silently truncate)."""
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    return value


def load_grid(path: str | Path, device: dict[str, Any], dtype_bytes: int = 2) -> list[StagedPolicy]:
    """A user grid from JSON (a list of objects, or a vLLM table) or CSV; pruned, deduplicated."""
    rows = _grid_rows(path)
    policies = set()
    for i, row in enumerate(rows, 1):
        try:
            policies.add(policy_from_mapping(row))
        except (InputError, ParameterError) as e:
            raise InputError(f"grid {str(path)!r}, entry {i} ({row!r}): {e}") from e
    grid = sorted(p for p in policies if fits(p, device, dtype_bytes))
    if not grid:
        raise InputError(f"no policy of grid {str(path)!r} fits the shared memory of "
                         f"{device['key']}")
    return grid


def _grid_rows(path: str | Path) -> list[dict[str, Any]]:
    """The entries of a grid file: JSON objects (a list, or a vLLM table's values) or CSV rows."""
    where = f"grid {str(path)!r}"
    fix = "give a JSON or CSV file"
    if str(path).lower().endswith(".csv"):
        try:
            rows: Any = list(csv.DictReader(read_text(path, "grid", fix).splitlines()))
        except csv.Error as e:
            raise InputError(f"{where} cannot be parsed: {e}") from e
    else:
        doc = read_json(path, "grid", fix)
        rows = list(doc.values()) if isinstance(doc, dict) else doc
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise InputError(f"{where} must hold a non-empty list of policy objects such as "
                         '{"BM": 64, "BN": 128, "BK": 64}, or a vLLM table (M -> config)')
    return rows


def vllm_default(m: int, num_experts: int = 1) -> StagedPolicy:
    """vLLM's `get_default_config` rule without a tuned file (Triton's default 4 warps, 3 stages).

    >>> vllm_default(1).BM, vllm_default(4096).BM
    (16, 64)
    """
    if m <= num_experts:
        return StagedPolicy(16, 32, 64, 1, 3, 4)
    return StagedPolicy(64, 64, 32, 8, 3, 4)


def triton_tutorial(m: int) -> StagedPolicy:
    """The first CUDA config of Triton's matmul tutorial (03-matrix-multiplication.py)."""
    return StagedPolicy(128, 256, 64, 8, 3, 8)


BASELINES = {"vllm-default": vllm_default, "triton-tutorial": triton_tutorial}

# All sixteen CUDA configs of the tutorial's @triton.autotune list (get_cuda_autotune_config;
# the last eight are marked "good config for fp8 inputs" but are timed for any dtype): the
# kernel times them all and runs the fastest, so its first config alone undersells it.
TRITON_TUTORIAL_AUTOTUNE = (
    StagedPolicy(128, 256, 64, 8, 3, 8), StagedPolicy(64, 256, 32, 8, 4, 4),
    StagedPolicy(128, 128, 32, 8, 4, 4), StagedPolicy(128, 64, 32, 8, 4, 4),
    StagedPolicy(64, 128, 32, 8, 4, 4), StagedPolicy(128, 32, 32, 8, 4, 4),
    StagedPolicy(64, 32, 32, 8, 5, 2), StagedPolicy(32, 64, 32, 8, 5, 2),
    StagedPolicy(128, 256, 128, 8, 3, 8), StagedPolicy(256, 128, 128, 8, 3, 8),
    StagedPolicy(256, 64, 128, 8, 4, 4), StagedPolicy(64, 256, 128, 8, 4, 4),
    StagedPolicy(128, 128, 128, 8, 4, 4), StagedPolicy(128, 64, 64, 8, 4, 4),
    StagedPolicy(64, 128, 64, 8, 4, 4), StagedPolicy(128, 32, 64, 8, 4, 4),
)
