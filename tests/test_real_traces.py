"""Checks on the public traces in ../shared/data (skipped with the reason when absent)."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest
from support import shared_file, validate_wavespec

from sqlwave import (
    coalesce_kv_extents,
    compute_usage,
    export_wave_spec,
    suggest_pack_order_from_usage,
)


def test_twitter_reuse_histogram_matches_the_traces_own_next_seq():
    path = str(shared_file("twitter/cluster52_2m.parquet"))
    spec = export_wave_spec(path, "key", "size", reuse_sample=1.0, top_k=5, max_inline=10)
    validate_wavespec(spec)
    # The trace records, for each access, where the same key comes next: an independent oracle.
    rows = duckdb.sql(
        f"SELECT CAST(floor(log2(next_seq - seq)) AS BIGINT) AS b, count(*) AS n FROM '{path}' "
        "WHERE next_seq IS NOT NULL AND next_seq < 2000000 GROUP BY b ORDER BY b"
    ).fetchall()
    got = {b["bucket"]: b["reuses"] for b in spec["metrics"]["reuse_time_histogram"]["buckets"]}
    assert got == dict(rows)


def test_twitter_skew_and_reuse_ratio():
    path = str(shared_file("twitter/cluster52_2m.parquet"))
    spec = export_wave_spec(path, "key", "size", capacity=4 * 2**20, top_k=5, max_inline=10)
    m = spec["metrics"]
    distinct = duckdb.sql(f"SELECT count(DISTINCT key) FROM '{path}'").fetchall()[0][0]
    assert m["distinct_keys"] == distinct
    assert m["reuse_ratio"] == pytest.approx(1 - distinct / 2_000_000)
    # A production cache trace is skewed: the hottest 4 MiB (under 10 % of the working set)
    # serve most of the hits.
    assert m["unique_bytes"] > 10 * 4 * 2**20
    assert m["hot_hit_share_at_capacity"] > 0.5


@pytest.mark.parametrize("rate", [0.2, 0.02])
def test_twitter_sampled_reuse_is_close_to_exact(rate):
    # Heavily skewed production trace, where a plain key sample is noisy: the sample is
    # stratified by hits and scaled per class to the exact reuse count (0.02 is the default rate
    # at 10M accesses).
    path = str(shared_file("twitter/cluster52_2m.parquet"))
    exact = export_wave_spec(path, "key", "size", reuse_sample=1.0, top_k=1, max_inline=1)
    sampled = export_wave_spec(path, "key", "size", reuse_sample=rate, top_k=1, max_inline=1)
    e = {b["bucket"]: b["reuses"] for b in exact["metrics"]["reuse_time_histogram"]["buckets"]}
    s = {b["bucket"]: b["estimate"] for b in sampled["metrics"]["reuse_time_histogram"]["buckets"]}
    te, ts = sum(e.values()), sum(s.values())
    assert ts == pytest.approx(te, rel=1e-9)
    assert 0.5 * sum(abs(e.get(b, 0) / te - s.get(b, 0) / ts) for b in set(e) | set(s)) < 0.05


def reference_runs(blocks: list[tuple[int, int]], block_bytes: int, page_bits: int) -> list[tuple[int, int]]:
    pages: set[int] = set()
    for start, size in blocks:
        first = (start * block_bytes) >> page_bits
        last = (start * block_bytes + max(size, 1) - 1) >> page_bits
        pages.update(range(first, last + 1))
    runs: list[tuple[int, int]] = []
    for p in sorted(pages):
        if runs and runs[-1][1] + 1 == p:
            runs[-1] = (runs[-1][0], p)
        else:
            runs.append((p, p))
    return runs


def test_arc_block_extents_match_a_page_set_reference():
    path = str(shared_file("arc/p3.parquet"))
    got = coalesce_kv_extents(path, "key", page_bits=16, size_col="size", key_scale=512)
    blocks = duckdb.sql(f"SELECT key, max(size) FROM '{path}' GROUP BY key").fetchall()
    expected = reference_runs(blocks, 512, 16)
    runs = zip(got.column("first_page").to_pylist(), got.column("last_page").to_pylist(), strict=True)
    assert list(runs) == expected
    assert sum(got.column("hits").to_pylist()) == pq.read_metadata(path).num_rows


def test_arc_oltp_without_sizes_counts_one_block_per_key():
    path = str(shared_file("arc/oltp.parquet"))
    spec = export_wave_spec(path, "key", None, key_scale=512, page_bits=12, top_k=3, max_inline=5)
    validate_wavespec(spec)
    keys = duckdb.sql(f"SELECT DISTINCT key FROM '{path}'").fetchall()
    expected = reference_runs([(k, 512) for (k,) in keys], 512, 12)
    assert spec["extents"]["count"] == len(expected)
    assert spec["extents"]["pages"] == sum(b - a + 1 for a, b in expected)


def test_mooncake_first_touch_order_is_the_id_order():
    # Mooncake hands out block ids in first-seen order, so a first-touch pack order of the raw
    # ids must be the ascending id order (which is why layouts are judged on remapped ids).
    path = str(shared_file("mooncake/synthetic.parquet"))
    usage = compute_usage(path, "key", "size", "request_id")
    order = suggest_pack_order_from_usage(usage, "first-touch", align_bits=12)
    keys = order.column("key").to_pylist()
    assert keys == sorted(keys)
    assert sum(usage.column("hits").to_pylist()) == pq.read_metadata(path).num_rows
    pairs = duckdb.sql(f"SELECT count(DISTINCT (request_id, key)) FROM '{path}'").fetchall()[0][0]
    assert sum(usage.column("requests").to_pylist()) == pairs


def test_mooncake_export_by_request():
    path = str(shared_file("mooncake/synthetic.parquet"))
    spec = export_wave_spec(path, "key", "size", request_col="request_id", key_scale=167772160,
                            page_bits=27, max_inline=20)
    validate_wavespec(spec)
    assert spec["metrics"]["rows"] == 121_877
    assert spec["extents"]["address"] == "key"
    assert spec["extents"]["count"] >= 1
