"""The head of a SHARDS curve (sizes below ~20 / rate), measured on time windows, against the
direct OrderedDict LRU simulation of tests/test_mrc.py."""

from __future__ import annotations

import pyarrow as pa
import pytest

import sqlwave.mrc
from sqlwave.mrc import miss_ratio_curve
from sqlwave.mrc_head import windows
from tests.test_mrc import columns, lru, missed, zipf_log

RATE = 0.01


def classified(keys: list[int], sizes: list[int], rate: float, max_size: int,
               unit: str) -> list[int]:
    """Rows the head should classify: window rows after the window has seen more than
    max_size - 1 distinct keys (objects) or max_size bytes of distinct keys (bytes)."""
    wins, rows = windows(len(keys), rate), []
    for w in range(wins.count):
        lo = w * wins.stride + wins.start
        seen: dict[int, int] = {}
        for i in range(lo, lo + wins.length):
            units = len(seen) if unit == "objects" else sum(seen.values())
            if units >= max_size + (unit == "bytes"):
                rows.append(i)
            seen.setdefault(keys[i], sizes[i])
    return rows


@pytest.mark.parametrize("unit", ["objects", "bytes"])
def test_head_is_exact_on_the_accesses_it_classifies(unit: str) -> None:
    # Many short windows over a small log: every head size is checked access by access.
    log, rate = zipf_log(30_000, 4000, seed=4), 0.05
    curve = miss_ratio_curve(log, method="shards", rate=rate, unit=unit, size_col="size")
    head = curve["head"]
    assert head["method"] == "time-windows" and head["max_size"] > 0
    keys, sizes = columns(log, unit)
    rows = classified(keys, sizes, rate, head["max_size"], unit)
    assert len(rows) == head["accesses"]
    points = [p for p in curve["points"] if p["size"] <= head["max_size"]]
    assert len(points) >= 10
    for point in points[::3]:
        miss = missed(keys, sizes, point["size"])
        share = sum(miss[i] for i in rows) / len(rows)
        assert point["miss_ratio"] == pytest.approx(share, abs=1e-9), point


@pytest.fixture(scope="module")
def zipf_200k() -> tuple[pa.Table, list[int], list[int]]:
    log = zipf_log(200_000, 50_000, seed=5)
    keys, sizes = columns(log, "objects")
    return log, keys, sizes


def head_errors(curve: dict, keys: list[int], sizes: list[int], below: float) -> list[float]:
    return [abs(p["miss_ratio"] - lru(keys, sizes, p["size"])[0])
            for p in curve["points"][::2] if p["size"] < below]


def test_head_is_close_to_lru_on_zipf(zipf_200k: tuple[pa.Table, list[int], list[int]]) -> None:
    log, keys, sizes = zipf_200k
    curve = miss_ratio_curve(log, method="shards", rate=RATE)
    head = curve["head"]
    # 5 windows of 6000 accesses; each has seen 1837 distinct keys by its middle.
    assert head["windows"] >= 4 and head["max_size"] >= 10 / RATE
    # Measured: max error 0.0035 below 1 / rate, 0.0048 over the head (SHARDS alone: 0.25).
    assert max(head_errors(curve, keys, sizes, 1 / RATE)) < 0.01
    assert max(head_errors(curve, keys, sizes, head["max_size"] + 1)) < 0.015
    misses = [p["miss_ratio"] for p in curve["points"]]
    assert all(a >= b for a, b in zip(misses, misses[1:], strict=False))


def test_key_sample_alone_cannot_resolve_small_caches(
        zipf_200k: tuple[pa.Table, list[int], list[int]], monkeypatch: pytest.MonkeyPatch) -> None:
    # Why the head exists: the same curve with no head fails the bound above by far, as a
    # sampled distance of 1 already stands for 1 / rate = 100 objects.
    log, keys, sizes = zipf_200k
    monkeypatch.setattr(sqlwave.mrc, "head_points", lambda *args: ([], {}))
    curve = miss_ratio_curve(log, method="shards", rate=RATE)
    assert max(head_errors(curve, keys, sizes, 1 / RATE)) > 0.1


def test_head_is_close_to_lru_in_bytes() -> None:
    log = zipf_log(100_000, 20_000, seed=6)
    curve = miss_ratio_curve(log, method="shards", rate=RATE, unit="bytes", size_col="size")
    keys, sizes = columns(log, "bytes")
    # Measured: max error 0.0026 over the head's 59 sizes (up to 4.2 MB).
    assert curve["head"]["max_size"] > 0
    assert max(head_errors(curve, keys, sizes, curve["head"]["max_size"] + 1)) < 0.015


def test_no_head_at_full_rate() -> None:
    log = zipf_log(3000, 400)
    assert "head" not in miss_ratio_curve(log, method="shards", rate=1.0)
    assert "head" not in miss_ratio_curve(log, method="aet")
