"""The reuse-time histogram: exact against a Python reference, and hash-sampled close to exact."""

from __future__ import annotations

import pyarrow as pa
import pytest
import pyarrow.parquet as pq

from sqlwave import export_wave_spec
from sqlwave.example import write_example_log


def reference_histogram(keys: list) -> dict[int, int]:
    last: dict = {}
    hist: dict[int, int] = {}
    for pos, key in enumerate(keys):
        if key in last:
            gap = pos - last[key]
            bucket = gap.bit_length() - 1
            hist[bucket] = hist.get(bucket, 0) + 1
        last[key] = pos
    return hist


def buckets(spec: dict) -> dict[int, float]:
    return {b["bucket"]: b["estimate"] for b in spec["metrics"]["reuse_time_histogram"]["buckets"]}


def test_exact_histogram_matches_reference():
    keys = ["a", "b", "a", "c", "b", "a", None, "a", "d", "c"] * 7
    spec = export_wave_spec(pa.table({"key": keys}), "key", reuse_sample=1.0)
    # NULL rows still take a position: the reference must count them too.
    expected = reference_histogram([k if k is not None else object() for k in keys])
    assert buckets(spec) == {b: float(n) for b, n in expected.items()}
    assert spec["metrics"]["reuse_time_histogram"]["method"] == "exact"


def test_sampled_histogram_is_close_to_exact(tmp_path):
    path = tmp_path / "log.parquet"
    write_example_log(str(path), rows=300_000)
    exact = export_wave_spec(str(path), "key", "size", reuse_sample=1.0)
    sampled = export_wave_spec(str(path), "key", "size", reuse_sample=0.2)
    assert sampled["metrics"]["reuse_time_histogram"]["method"] == "stratified-key-sample"
    assert sampled["metrics"]["reuse_time_histogram"]["sample_rate"] == 0.2
    e, s = buckets(exact), buckets(sampled)
    total_e, total_s = sum(e.values()), sum(s.values())
    # Each hits class is scaled to its exact number of reuses, so the total is exact...
    assert total_s == pytest.approx(total_e, rel=1e-9)
    # ...from a real sample: far fewer reuses were seen than there are.
    seen = sum(b["reuses"] for b in sampled["metrics"]["reuse_time_histogram"]["buckets"])
    assert seen < 0.6 * total_e
    # Total-variation distance between the two normalised histograms.
    tv = 0.5 * sum(abs(e.get(b, 0) / total_e - s.get(b, 0) / total_s) for b in set(e) | set(s))
    assert tv < 0.05, tv
    assert pq.read_metadata(path).num_rows == exact["metrics"]["rows"]


def test_auto_rate_is_recorded():
    spec = export_wave_spec(pa.table({"key": ["a", "a"]}), "key")
    assert spec["parameters"]["reuse_sample"] == 1.0
