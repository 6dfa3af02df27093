"""Miss-ratio curves against a direct LRU cache simulation (an OrderedDict), on generated Zipf
logs and slices of the real Mooncake and Twitter traces."""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sqlwave.cli import cli
from sqlwave.commands import register
from sqlwave.mrc import miss_ratio_curve
from tests.conftest import shared_file


def zipf_log(n: int, keys: int, alpha: float = 0.9, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, keys + 1) ** alpha
    ranks = rng.choice(keys, size=n, p=weights / weights.sum())
    ids = rng.permutation(keys).astype(np.int64) * 7919 + 11
    sizes = rng.integers(1, 5000, size=keys).astype(np.int64)
    return pa.table({"key": ids[ranks], "size": sizes[ranks]})


def lru(keys: list[int], sizes: list[int], capacity: float) -> tuple[float, float]:
    """Miss ratio and byte miss ratio of an LRU cache that evicts until the new object fits;
    an object larger than the whole cache flushes it (what the LRU stack model assumes)."""
    miss = missed(keys, sizes, capacity)
    return sum(miss) / len(keys), sum(s for s, m in zip(sizes, miss, strict=True) if m) / sum(sizes)


def missed(keys: list[int], sizes: list[int], capacity: float) -> list[bool]:
    """Whether each access misses in that LRU cache."""
    cache: OrderedDict[int, int] = OrderedDict()
    used, out = 0, []
    for k, s in zip(keys, sizes, strict=True):
        out.append(k not in cache)
        if k in cache:
            cache.move_to_end(k)
            continue
        used = insert(cache, used, k, s, capacity)
    return out


def insert(cache: OrderedDict[int, int], used: int, key: int, size: int, capacity: float) -> int:
    cache[key], used = size, used + size
    while used > capacity:
        used -= cache.popitem(last=False)[1]
    return used


def prefix_lru(requests: list[list[tuple[int, int]]], capacity: float) -> tuple[float, float]:
    """A KV block cache: every block of a request is read (LRU), but only the longest prefix
    of blocks found in the cache counts as hits."""
    cache: OrderedDict[int, int] = OrderedDict()
    used = hits = hit_bytes = total = total_bytes = 0
    for blocks in requests:
        prefix = True
        for k, s in blocks:
            total, total_bytes = total + 1, total_bytes + s
            if k in cache:
                cache.move_to_end(k)
                if prefix:
                    hits, hit_bytes = hits + 1, hit_bytes + s
                continue
            prefix = False
            used = insert(cache, used, k, s, capacity)
    return 1 - hits / total, 1 - hit_bytes / total_bytes


def columns(log: pa.Table, unit: str) -> tuple[list[int], list[int]]:
    keys = log.column("key").to_pylist()
    if unit == "objects":
        return keys, [1] * len(keys)
    # The curve gives each key one size, its size at its first access.
    first: dict[int, int] = {}
    for k, s in zip(keys, log.column("size").to_pylist(), strict=True):
        first.setdefault(k, s)
    return keys, [first[k] for k in keys]


def check_against_lru(log: pa.Table, unit: str, curve: dict, every: int = 1) -> None:
    keys, sizes = columns(log, unit)
    for point in curve["points"][::every]:
        miss, _ = lru(keys, sizes, point["size"])
        assert point["miss_ratio"] == pytest.approx(miss, abs=1e-9), point


def mae_vs_lru(log: pa.Table, unit: str, curve: dict, every: int = 1, smallest: int = 0) -> float:
    keys, sizes = columns(log, unit)
    errors = [abs(p["miss_ratio"] - lru(keys, sizes, p["size"])[0])
              for p in curve["points"][::every] if p["size"] >= smallest]
    return sum(errors) / len(errors)


def sliced(name: str, rows: int) -> pa.Table:
    return pq.read_table(shared_file(name)).slice(0, rows)


@pytest.mark.parametrize("unit", ["objects", "bytes"])
def test_exact_equals_lru_simulation(unit: str) -> None:
    log = zipf_log(4000, 500)
    curve = miss_ratio_curve(log, method="exact", unit=unit, size_col="size")
    assert curve["method"] == "exact" and curve["unit"] == unit
    check_against_lru(log, unit, curve)


def test_exact_byte_miss_ratio_counts_requested_bytes() -> None:
    log = zipf_log(3000, 300, seed=5)
    curve = miss_ratio_curve(log, method="exact", unit="bytes", size_col="size")
    keys, sizes = columns(log, "bytes")
    for point in curve["points"][::7]:
        _, byte_miss = lru(keys, sizes, point["size"])
        assert point["byte_miss_ratio"] == pytest.approx(byte_miss, abs=1e-9)


@pytest.mark.real_data
@pytest.mark.parametrize("trace", ["mooncake/synthetic.parquet", "twitter/cluster52_2m.parquet"])
@pytest.mark.parametrize("unit", ["objects", "bytes"])
def test_exact_on_real_traces(trace: str, unit: str) -> None:
    log = sliced(trace, 20_000).select(["key", "size"])
    curve = miss_ratio_curve(log, method="exact", unit=unit, size_col="size")
    check_against_lru(log, unit, curve, every=5)


def test_shards_at_full_rate_is_exact() -> None:
    log = zipf_log(3000, 400)
    shards = miss_ratio_curve(log, method="shards", rate=1.0)
    exact = miss_ratio_curve(log, method="exact")
    assert shards["points"] == exact["points"]
    assert shards["method"] == "shards" and shards["sample_rate"] == 1.0


def test_shards_sampled_is_close() -> None:
    log = zipf_log(60_000, 20_000, alpha=0.8)
    curve = miss_ratio_curve(log, method="shards", rate=0.1)
    # Small sizes come from time windows (tests/test_mrc_head.py), so every size counts: MAE
    # 0.0021 (the key sample alone: 0.042, and 0.030 even leaving out sizes below 1 / R).
    assert mae_vs_lru(log, "objects", curve, every=3) < 0.01


@pytest.mark.parametrize("unit", ["objects", "bytes"])
def test_aet_is_close_to_lru(unit: str) -> None:
    log = zipf_log(30_000, 5000)
    curve = miss_ratio_curve(log, method="aet", unit=unit, size_col="size")
    assert curve["method"] == "aet"
    assert mae_vs_lru(log, unit, curve, every=4) < 0.01


# Measured MAE on these 30k-access slices: aet 0.0003-0.0016; shards at 20 % 0.002-0.003
# (Mooncake) and 0.005 (Twitter; 0.04 before the head came from time windows: a 20 % key sample
# of a short slice decides which hot keys it sees).
@pytest.mark.real_data
@pytest.mark.parametrize(("trace", "shards_bound"), [("mooncake/synthetic.parquet", 0.01),
                                                     ("twitter/cluster52_2m.parquet", 0.015)])
@pytest.mark.parametrize("unit", ["objects", "bytes"])
def test_models_on_real_traces(trace: str, shards_bound: float, unit: str) -> None:
    log = sliced(trace, 30_000).select(["key", "size"])
    aet = miss_ratio_curve(log, method="aet", unit=unit, size_col="size")
    assert mae_vs_lru(log, unit, aet, every=4) < 0.005
    shards = miss_ratio_curve(log, method="shards", rate=0.2, unit=unit, size_col="size")
    assert mae_vs_lru(log, unit, shards, every=4) < shards_bound


@pytest.mark.real_data
@pytest.mark.parametrize("unit", ["objects", "bytes"])
def test_prefix_hits_on_mooncake(unit: str) -> None:
    log = sliced("mooncake/synthetic.parquet", 15_000).select(["key", "size", "request_id"])
    curve = miss_ratio_curve(log, method="exact", unit=unit, size_col="size",
                             request_col="request_id", prefix=True)
    assert curve["curve"] == "prefix_hits"
    keys, sizes = columns(log, unit)
    requests: dict[int, list[tuple[int, int]]] = {}
    for r, k, s in zip(log.column("request_id").to_pylist(), keys, sizes, strict=False):
        requests.setdefault(r, []).append((k, s))
    for point in curve["points"][::6]:
        miss, _ = prefix_lru(list(requests.values()), point["size"])
        assert point["miss_ratio"] == pytest.approx(miss, abs=1e-9), point
    plain = miss_ratio_curve(log, method="exact", unit=unit, size_col="size")
    # A prefix hit is a hit, so the prefix curve never lies below the plain one.
    assert all(p["miss_ratio"] >= q["miss_ratio"] - 1e-12
               for p, q in zip(curve["points"], plain["points"], strict=True))


def test_prefix_hits_differ_from_plain_hits() -> None:
    rng = np.random.default_rng(9)
    # Random blocks, no prefix tree: a cached block often follows a missed one.
    requests = [[(int(k), 1) for k in rng.choice(300, size=rng.integers(1, 8), replace=False)]
                for _ in range(1500)]
    log = pa.table({"key": [k for r in requests for k, _ in r],
                    "request_id": [i for i, r in enumerate(requests) for _ in r]})
    curve = miss_ratio_curve(log, method="exact", request_col="request_id", prefix=True)
    plain = miss_ratio_curve(log, method="exact")
    for point in curve["points"][::5]:
        miss, _ = prefix_lru(requests, point["size"])
        assert point["miss_ratio"] == pytest.approx(miss, abs=1e-9)
    assert any(p["miss_ratio"] > q["miss_ratio"] + 0.01
               for p, q in zip(curve["points"], plain["points"], strict=True))


@pytest.mark.parametrize(("method", "rate"), [("exact", None), ("shards", 0.5), ("shards", 0.02),
                                            ("aet", None)])
def test_curve_shape(method: str, rate: float | None) -> None:
    log = zipf_log(20_000, 3000)
    curve = miss_ratio_curve(log, method=method, rate=rate)
    sizes = [p["size"] for p in curve["points"]]
    misses = [p["miss_ratio"] for p in curve["points"]]
    assert len(sizes) >= 50 and sizes == sorted(set(sizes))
    assert all(a >= b for a, b in zip(misses, misses[1:], strict=False))
    assert 0 <= misses[-1] <= misses[0] <= 1
    assert sizes[-1] == curve["working_set"]


def test_libcachesim_agrees() -> None:
    lcs = pytest.importorskip("libcachesim",
                              reason="optional second oracle: pip install libcachesim")
    log = zipf_log(5000, 800)
    curve = miss_ratio_curve(log, method="exact")
    keys = log.column("key").to_pylist()
    for point in curve["points"][::15]:
        cache = lcs.LRU(cache_size=point["size"])
        misses = sum(not cache.get(lcs.Request(obj_size=1, obj_id=k)) for k in keys)
        assert point["miss_ratio"] == pytest.approx(misses / len(keys), abs=1e-9)


@pytest.fixture()
def runner() -> CliRunner:
    register(cli)
    return CliRunner()


@pytest.mark.parametrize("method", ["exact", "shards", "aet"])
def test_cli_is_deterministic(runner: CliRunner, tmp_path, method: str) -> None:
    path = tmp_path / "log.parquet"
    pq.write_table(zipf_log(8000, 1000), path)
    outs = []
    for threads in (1, 2):
        out = tmp_path / f"{method}{threads}.json"
        rate = ["--rate", "0.5"] if method == "shards" else []
        result = runner.invoke(cli, ["mrc", "--logs", str(path), "--method", method, "--unit",
                                     "bytes", "--size", "size", "--threads", str(threads),
                                     "--out", str(out), *rate])
        assert result.exit_code == 0, result.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    doc = json.loads(outs[0])
    jsonschema = pytest.importorskip("jsonschema")
    from sqlwave.wavespec import load_schema

    jsonschema.validate(doc, load_schema("mrc"))
    assert doc["method"] == method and doc["unit"] == "bytes"
    assert ("head" in doc) == (method == "shards")
    assert set(doc["points"][0]) == {"size", "miss_ratio", "byte_miss_ratio"}


@pytest.mark.parametrize(("args", "message"), [
    (["--key", "kee"], 'Did you mean "key"?'),
    (["--unit", "bytes"], "pass --size"),
    (["--method", "aet", "--rate", "0.1"], "--method shards only"),
    (["--method", "shards", "--rate", "2"], "in (0, 1]"),
    (["--method", "shards", "--rate", "0"], "the SHARDS sample rate (--rate) must be a number in"),
    (["--prefix"], "--request-col"),
    (["--method", "shards", "--rate", "1e-7"], "must be at least 1e-06"),
    (["--align-bits", "12"], "goes with --unit bytes"),
    (["--unit", "bytes", "--size", "size", "--align-bits", "99"], "align_bits must be"),
])
def test_cli_errors(runner: CliRunner, tmp_path, args: list[str], message: str) -> None:
    path = tmp_path / "log.parquet"
    pq.write_table(zipf_log(500, 100), path)
    result = runner.invoke(cli, ["mrc", "--logs", str(path), *args])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert "Traceback" not in result.output


def test_cli_missing_file(runner: CliRunner, tmp_path) -> None:
    result = runner.invoke(cli, ["mrc", "--logs", str(tmp_path / "nope.parquet")])
    assert result.exit_code == 1 and result.output.startswith("Error: ")


def test_prefix_hits_take_each_access_without_a_request_as_a_request_of_its_own() -> None:
    keys = [1, 2] * 50
    alone = miss_ratio_curve(pa.table({"key": keys, "request_id": list(range(100))}),
                             method="exact", request_col="request_id", prefix=True)
    nulls = miss_ratio_curve(pa.table({"key": keys, "request_id": pa.array([None] * 100,
                                                                           pa.int64())}),
                             method="exact", request_col="request_id", prefix=True)
    assert nulls["points"] == alone["points"]
    assert alone["points"][-1]["miss_ratio"] == pytest.approx(0.02)


def test_shards_head_keeps_bytes_of_huge_objects_apart() -> None:
    # A cyclic scan over 8 keys always misses below the whole working set. At 2^48 bytes an
    # object, a window's keys hold 2^51 bytes: byte distances taken mod 2^50 came out 0 (all hits).
    log = pa.table({"key": [i % 8 for i in range(200)], "size": [2**48] * 200})
    for rate in (0.99, 1.0):
        curve = miss_ratio_curve(log, method="shards", rate=rate, unit="bytes", size_col="size")
        assert all(p["miss_ratio"] == 1.0 for p in curve["points"] if p["size"] < 2**51), rate


def test_sizes_are_checked_and_kept_in_order() -> None:
    from sqlwave.errors import ParameterError

    log = pa.table({"key": [1, 2, 1, 3, 1, 2] * 20})
    for bad in ([3, 1], [2, 2], [0, 1], [1.5], [], "12"):
        with pytest.raises(ParameterError, match="ascending whole numbers"):
            miss_ratio_curve(log, method="exact", sizes=bad)
    curve = miss_ratio_curve(log, method="exact", sizes=[np.int64(1), np.int64(3)])
    assert [(p["size"], p["miss_ratio"]) for p in curve["points"]] == [(1, 1.0), (3, 0.025)]


@pytest.mark.parametrize("method", ["exact", "aet"])
def test_align_bits_rounds_sizes_as_the_pack_does(method: str) -> None:
    log = zipf_log(5000, 800)
    rounded = log.set_column(1, "size", pa.array([-(-s // 4096) * 4096
                                                  for s in log.column("size").to_pylist()]))
    aligned = miss_ratio_curve(log, method=method, unit="bytes", size_col="size", align_bits=12)
    plain = miss_ratio_curve(rounded, method=method, unit="bytes", size_col="size")
    assert aligned["align"] == 4096 and "align" not in plain
    assert aligned["points"] == plain["points"]


def test_null_keys_are_not_accesses() -> None:
    log = zipf_log(3000, 300)
    keys = log.column("key").to_pylist()
    holed = pa.table({"key": [None if i % 7 == 0 else k for i, k in enumerate(keys)]},
                     schema=pa.schema([("key", pa.int64())]))
    kept = pa.table({"key": [k for i, k in enumerate(keys) if i % 7 != 0]})
    for method in ("exact", "aet"):
        assert (miss_ratio_curve(holed, method=method)["points"]
                == miss_ratio_curve(kept, method=method)["points"])


def test_auto_wave_bytes_at_knees() -> None:
    from sqlwave.engine import connect
    from sqlwave.log import bind_log
    from sqlwave.mrc import auto_wave_bytes

    con = connect()
    bind_log(con, zipf_log(20_000, 3000), "key", "size")
    budgets, expected = auto_wave_bytes(con)
    assert budgets and all(b > 0 for b in budgets) and len(budgets) == len(expected)
    assert expected == sorted(expected) and all(0 < h < 1 for h in expected)
    # Each boundary's hit ratio is the exact curve's within the AET error.
    exact = miss_ratio_curve(zipf_log(20_000, 3000), method="exact", unit="bytes", size_col="size",
                             sizes=[sum(budgets[:i + 1]) for i in range(len(budgets))])
    for point, hit in zip(exact["points"], expected, strict=False):
        assert hit == pytest.approx(1 - point["miss_ratio"], abs=0.02)


def test_export_wave_bytes_auto(runner: CliRunner, tmp_path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from sqlwave.wavespec import load_schema

    path = tmp_path / "log.parquet"
    pq.write_table(zipf_log(20_000, 3000), path)
    out = tmp_path / "spec.json"
    result = runner.invoke(cli, ["export", "--logs", str(path), "--size", "size", "--page-bits",
                                 "0", "--wave-bytes", "auto", "--out", str(out)])
    assert result.exit_code == 0, result.output
    spec = json.loads(out.read_text())
    jsonschema.validate(spec, load_schema())
    assert spec["parameters"]["wave_bytes_auto"] is True
    bounded = [w for w in spec["waves"] if "expected_hit_ratio" in w]
    assert len(bounded) == len(spec["parameters"]["wave_bytes"]) >= 1
    hits = [w["expected_hit_ratio"] for w in bounded]
    assert hits == sorted(hits)
