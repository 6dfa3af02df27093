"""stack_distance's byte encodings (BIGINT, HUGEINT fallback) and chunked windows, against the
one-window form and the LRU simulation of tests/test_mrc.py."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sqlwave import mrc
from sqlwave.engine import connect, fetch_dicts
from sqlwave.errors import ParameterError
from sqlwave.log import bind_log
from sqlwave.macros import render
from sqlwave.mrc import miss_ratio_curve
from tests.test_mrc import check_against_lru, columns, lru, prefix_lru, zipf_log


def huge_log() -> pa.Table:
    # Keys of ~2^56 bytes: 40 accesses to 8 keys hold ~2^59 bytes, so (rows + 1) * shift passes
    # 2^63 and the values need HUGEINT (and frames pass the 2^50 the encoding once assumed).
    keys = [i % 8 if i % 3 else i % 5 for i in range(40)]
    return pa.table({"key": keys, "size": [(1 << 56) + 977 * k for k in keys]})


def test_byte_plan_bounds() -> None:
    assert mrc._byte_plan({"n": 10_000_000, "keys": 10**6, "w_bytes": 8 << 30})["wide"] is False
    # 2^63 / 2^39 = 2^24 rows fit beside a 2^39-byte working set; one more does not.
    assert mrc._byte_plan({"n": (1 << 24) - 1, "keys": 9, "w_bytes": (1 << 39) - 1})["wide"] is False
    assert mrc._byte_plan({"n": 1 << 24, "keys": 9, "w_bytes": (1 << 39) - 1})["wide"] is True
    assert mrc._byte_plan({"n": 3, "keys": 2, "w_bytes": 0})["shift"] == 1


@pytest.mark.parametrize(("log", "wide"), [(zipf_log(4000, 500), False), (huge_log(), True)])
def test_byte_encodings_equal_lru(log: pa.Table, wide: bool) -> None:
    keys, sizes = columns(log, "bytes")
    first = dict(zip(keys, sizes, strict=True))
    seen = {"n": len(keys), "keys": len(first), "w_bytes": sum(first.values())}
    assert mrc._byte_plan(seen)["wide"] is wide
    curve = miss_ratio_curve(log, method="exact", unit="bytes", size_col="size")
    for point in curve["points"]:
        miss, byte_miss = lru(keys, sizes, point["size"])
        assert point["miss_ratio"] == pytest.approx(miss, abs=1e-9), point
        assert point["byte_miss_ratio"] == pytest.approx(byte_miss, abs=1e-9), point


@pytest.fixture()
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Chunks of half the key count, as on a big log, but on logs small enough to simulate.
    monkeypatch.setattr(mrc, "CHUNK_MIN", 16)


def test_chunked_byte_curve_is_exact(small_chunks: None) -> None:
    log = zipf_log(6000, 700)
    assert mrc._chunk(6000, 700) == 350
    curve = miss_ratio_curve(log, method="exact", unit="bytes", size_col="size")
    check_against_lru(log, "bytes", curve)


def test_chunked_shards_and_prefix_match_one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    log = zipf_log(6000, 700).append_column("request_id", pa.array([i // 5 for i in range(6000)]))
    args = [dict(method="shards", rate=0.5), dict(method="exact", request_col="request_id",
                                                  prefix=True)]
    whole = [miss_ratio_curve(log, unit="bytes", size_col="size", **a) for a in args]
    monkeypatch.setattr(mrc, "CHUNK_MIN", 16)
    assert [miss_ratio_curve(log, unit="bytes", size_col="size", **a) for a in args] == whole
    requests: dict[int, list[tuple[int, int]]] = {}
    keys, sizes = columns(log, "bytes")
    for i, (k, s) in enumerate(zip(keys, sizes, strict=True)):
        requests.setdefault(i // 5, []).append((k, s))
    for point in whole[1]["points"][::9]:
        assert point["miss_ratio"] == pytest.approx(prefix_lru(list(requests.values()),
                                                               point["size"])[0], abs=1e-9)


@pytest.mark.parametrize("dense", [True, False])
def test_every_chunk_size_gives_the_same_distances(dense: bool) -> None:
    con = connect()
    bind_log(con, zipf_log(1500, 200, seed=11), "key", "size")
    src = "(SELECT key, size, request, pos FROM sqlwave_log)"
    runs = [fetch_dicts(con, "SELECT idx, byte_distance FROM ("
                        + render("stack_distance", src=src, dense=dense, bytes=True, shift=1 << 20,
                                 wide=chunk == 7, chunk=chunk, rows=1500) + ") ORDER BY idx")
            for chunk in (None, 1, 7, 64, 1499, 5000)]
    assert all(run == runs[0] for run in runs[1:])
    assert sum(r["byte_distance"] is not None for r in runs[0]) > 1000


def test_chunks_need_bytes() -> None:
    with pytest.raises(ParameterError, match="bytes only"):
        render("stack_distance", src="log", dense=True, bytes=False, chunk=10, rows=100)
