from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import run_cli, run_cli_process, validate_wavespec

from sqlwave import export_wave_spec
from sqlwave.example import example_log_path, write_example_log


def export_json(tmp_path, *args: str, name: str = "ws.json") -> dict:
    out = tmp_path / name
    result = run_cli("export", "--out", str(out), *args)
    assert result.code == 0, result.stderr
    return json.loads(out.read_text())


def test_builtin_example_validates_and_is_sensible(tmp_path):
    spec = export_json(tmp_path)
    validate_wavespec(spec)
    m = spec["metrics"]
    assert m["rows"] == 20_000 and m["null_keys"] == 0
    assert 0 < m["distinct_keys"] < m["rows"]
    assert m["unique_bytes"] <= m["bytes_moved"]
    # Waves partition the pack order: keys and hits add up.
    assert sum(w["keys"] for w in spec["waves"]) == m["distinct_keys"]
    assert sum(w["hits"] for w in spec["waves"]) == m["rows"]
    # Hot-first: each wave is at least as hot per key as the next.
    per_key = [w["hits"] / w["keys"] for w in spec["waves"]]
    assert per_key == sorted(per_key, reverse=True)


def test_cohorts_by_delimiter_depth(tmp_path):
    spec = export_json(tmp_path, "--delimiter", ".", "--depth", "3", "--top-k", "5")
    cohorts = spec["cohorts"]
    assert [c["rank"] for c in cohorts] == [1, 2, 3, 4, 5]
    for c in cohorts:
        assert c["cohort"].count(".") <= 2
    hits = [c["hits"] for c in cohorts]
    assert hits == sorted(hits, reverse=True)


def test_byte_identical_across_runs_and_threads(tmp_path):
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    assert run_cli("export", "--out", str(a), "--threads", "1").code == 0
    assert run_cli("export", "--out", str(b), "--threads", "4").code == 0
    assert a.read_bytes() == b.read_bytes()


def test_pack_order_sidecar_holds_the_full_order(tmp_path):
    side = tmp_path / "order.parquet"
    spec = export_json(tmp_path, "--pack-order-out", str(side), "--max-inline", "10")
    order = pq.read_table(side)
    assert order.num_rows == spec["pack_order"]["keys"] == spec["metrics"]["distinct_keys"]
    assert spec["pack_order"]["truncated"] is True and len(spec["pack_order"]["inline"]) == 10
    assert order.slice(0, 10).column("key").to_pylist() == [e["key"] for e in spec["pack_order"]["inline"]]
    offsets = order.column("byte_offset").to_pylist()
    sizes = order.column("aligned_size").to_pylist()
    assert all(o % 4096 == 0 for o in offsets)
    assert all(offsets[i] + sizes[i] == offsets[i + 1] for i in range(len(offsets) - 1))


def test_wave_budgets_are_respected(tmp_path):
    spec = export_json(tmp_path, "--wave-bytes", "1GiB,4GiB")
    waves = spec["waves"]
    assert waves[0]["end_offset"] <= 2**30
    assert waves[1]["end_offset"] <= 5 * 2**30
    assert spec["parameters"]["wave_bytes"] == [2**30, 4 * 2**30]


def test_integer_keys_are_addresses(tmp_path):
    # Blocks 0-3 and 10-11 at 4 KiB pages: two extents; block 2 read twice.
    log = pa.table({"block": [0, 1, 2, 3, 10, 11, 2], "size": [4096] * 7})
    spec = export_wave_spec(log, "block", "size", page_bits=12)
    validate_wavespec(spec)
    ext = spec["extents"]
    # Byte addresses 0..11, 4 KiB each: all inside pages 0-1.
    assert ext["address"] == "key" and ext["count"] == 1 and ext["pages"] == 2
    spec = export_wave_spec(log, "block", "size", page_bits=12, key_scale=4096)
    ext = spec["extents"]
    assert ext["count"] == 2 and ext["pages"] == 6
    assert sorted((e["first_page"], e["last_page"], e["hits"]) for e in ext["inline"]) == [
        (0, 3, 5), (10, 11, 2)]


def test_capacity_gives_occupancy_and_hot_share(tmp_path):
    spec = export_json(tmp_path, "--capacity", "8GiB")
    m = spec["metrics"]
    assert m["occupancy"] == pytest.approx(m["unique_bytes"] / 2**33)
    assert 0 < m["hot_hit_share_at_capacity"] < 1


def test_arrow_relation_and_list_inputs_agree(tmp_path):
    path = example_log_path()
    table = pq.read_table(path)
    from_path = export_wave_spec(str(path), "key", "size")
    from_list = export_wave_spec([str(path)], "key", "size")
    from_arrow = export_wave_spec(table, "key", "size")
    import duckdb

    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{path}')")
    from_rel = export_wave_spec(rel, "key", "size")
    for spec in (from_list, from_arrow, from_rel):
        assert spec["cohorts"] == from_path["cohorts"]
        assert spec["metrics"] == from_path["metrics"]
        assert spec["pack_order"]["inline"] == from_path["pack_order"]["inline"]


def test_several_files_keep_access_order(tmp_path):
    path = tmp_path / "big.parquet"
    write_example_log(str(path), rows=3000)
    table = pq.read_table(path)
    pq.write_table(table.slice(0, 1000), tmp_path / "part-0.parquet")
    pq.write_table(table.slice(1000), tmp_path / "part-1.parquet")
    whole = export_wave_spec(str(path), "key", "size", order="first-touch", reuse_sample=1.0)
    parts = export_wave_spec(str(tmp_path / "part-*.parquet"), "key", "size", order="first-touch",
                             reuse_sample=1.0)
    assert parts["pack_order"]["inline"] == whole["pack_order"]["inline"]
    assert parts["metrics"]["reuse_time_histogram"] == whole["metrics"]["reuse_time_histogram"]


def test_console_script_runs_the_builtin_example(tmp_path):
    proc = run_cli_process("export", "--out", "ws.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    validate_wavespec(json.loads((tmp_path / "ws.json").read_text()))


def test_summary_without_sizes_says_so(tmp_path):
    # Without --size every object counts as 1 byte: the summary must not print that as bytes
    # moved, and it points at a size column the log has.
    out = tmp_path / "ws.json"
    result = run_cli("export", "--logs", str(example_log_path()), "--out", str(out))
    assert result.code == 0, result.stderr
    assert "no sizes (--size): each object counts as 1 byte" in result.stderr
    assert "moved" not in result.stderr
    assert "pass --size size to count bytes" in result.stderr
    result = run_cli("export", "--logs", str(example_log_path()), "--size", "size", "--out", str(out))
    assert "moved, working set" in result.stderr and "pass --size" not in result.stderr


def test_summary_says_where_the_rest_of_the_pack_order_is(tmp_path):
    out = tmp_path / "ws.json"
    result = run_cli("export", "--max-inline", "10", "--out", str(out))
    assert "inlines 10 of 8482 pack-order entries; pass --pack-order-out" in result.stderr
    result = run_cli("export", "--max-inline", "10", "--out", str(out), "--pack-order-out",
                     str(tmp_path / "all.parquet"))
    assert result.code == 0 and "--pack-order-out" not in result.stderr


def test_block_numbers_without_key_scale_are_flagged(tmp_path):
    # 4 KiB objects at keys 0, 1, 2, ...: as byte addresses they overlap; as 4 KiB blocks they
    # do not. Only the first is worth a warning.
    log = tmp_path / "blocks.parquet"
    pq.write_table(pa.table({"key": list(range(300)) * 2, "size": [4096] * 600}), log)
    out = tmp_path / "ws.json"
    result = run_cli("export", "--logs", str(log), "--size", "size", "--out", str(out))
    assert result.code == 0 and "give --key-scale" in result.stderr, result.stderr
    result = run_cli("export", "--logs", str(log), "--size", "size", "--key-scale", "4096",
                     "--out", str(out))
    assert result.code == 0 and "Warning" not in result.stderr, result.stderr


def test_schema_command_prints_the_schema():
    result = run_cli("schema", "wavespec")
    assert result.code == 0
    assert json.loads(result.stdout)["properties"]["format"]["const"] == "sqlwave.wavespec/1"


def test_order_by_column_reorders_accesses():
    # The file is not in access order; the ts column is.
    log = pa.table({"key": ["late", "early", "mid"], "ts": [30, 10, 20], "size": [1, 1, 1]})
    file_order = export_wave_spec(log, "key", "size", order="first-touch")
    by_ts = export_wave_spec(log, "key", "size", order="first-touch", order_col="ts")
    assert [e["key"] for e in file_order["pack_order"]["inline"]] == ["late", "early", "mid"]
    assert [e["key"] for e in by_ts["pack_order"]["inline"]] == ["early", "mid", "late"]
    assert by_ts["parameters"]["order_col"] == "ts"


def test_string_request_ids_work_like_integer_ones(tmp_path):
    # UUID-like request ids: every co-access order, --order auto included, as with integers.
    import duckdb

    text_log = tmp_path / "text_requests.parquet"
    duckdb.sql(f"COPY (SELECT key, size, 'req-' || request_id AS request_id "
               f"FROM '{example_log_path()}') TO '{text_log}'")
    specs = []
    for log in (example_log_path(), text_log):
        spec = export_wave_spec(str(log), "key", "size", request_col="request_id", order="auto")
        specs.append({k: spec[k] for k in ("pack_order", "waves", "extents", "layout")})
    assert specs[0] == specs[1]


def test_timestamp_keys_do_not_depend_on_the_time_zone(tmp_path):
    import os
    import subprocess
    import sys
    from datetime import datetime, timezone

    log = tmp_path / "tz.parquet"
    stamps = [datetime(2024, 1, 1, h, tzinfo=timezone.utc) for h in (1, 2, 1, 3)]
    pq.write_table(pa.table({"key": pa.array(stamps, pa.timestamp("us", tz="UTC"))}), log)
    outs = []
    for zone in ("UTC", "America/New_York"):
        out = tmp_path / f"{zone.replace('/', '_')}.json"
        env = {**os.environ, "TZ": zone}
        exe = os.path.join(os.path.dirname(sys.executable), "sqlwave")
        subprocess.run([exe, "export", "--logs", str(log), "--out", str(out)], env=env, check=True,
                       capture_output=True, timeout=120)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert b"2024-01-01 01:00:00+00" in outs[0]


@pytest.mark.parametrize("seed", range(5))
def test_no_wave_exceeds_its_budget(seed):
    # Budgets summed up front once gave a wave the room the wave before left unused.
    import random

    rnd = random.Random(seed)
    keys = [f"k{i}" for i in range(40)]
    log = pa.table({"key": [rnd.choice(keys) for _ in range(400)]})
    sizes = {k: rnd.randint(1, 5000) for k in keys}
    log = log.append_column("size", pa.array([sizes[k] for k in log["key"].to_pylist()]))
    budgets = [rnd.randint(2000, 20000) for _ in range(3)]
    spec = export_wave_spec(log, "key", "size", wave_bytes=budgets, align_bits=0)
    order = spec["pack_order"]["inline"]
    waves = {w["wave"]: w for w in spec["waves"]}  # empty waves are not listed
    end = 0
    for i, budget in enumerate(budgets):
        start = end
        if i in waves:
            assert waves[i]["start_offset"] == start and waves[i]["bytes"] <= budget
            end = waves[i]["end_offset"]
        # as long as the budget allows: the next object would not fit
        after = [e for e in order if e["byte_offset"] == end]
        assert not after or after[0]["byte_offset"] + after[0]["aligned_size"] > start + budget


def test_auto_wave_budgets_drive_the_hotness_waves_too():
    # docs/layout.md: the waves-* orders cut hotness waves by the export's wave budgets; with
    # --wave-bytes auto those are the knees, as if given by hand.
    log = str(example_log_path())
    auto = export_wave_spec(log, "key", "size", request_col="request_id",
                            order="waves-last-touch", wave_bytes_auto=True)
    budgets = auto["parameters"]["wave_bytes"]
    by_hand = export_wave_spec(log, "key", "size", request_col="request_id",
                               order="waves-last-touch", wave_bytes=budgets)
    assert auto["pack_order"]["inline"] == by_hand["pack_order"]["inline"]
    default = export_wave_spec(log, "key", "size", request_col="request_id",
                               order="waves-last-touch")
    assert default["parameters"]["wave_bytes"] != budgets


def test_extents_stay_inside_the_buffer_when_the_last_key_is_empty(tmp_path) -> None:
    # An empty key at the buffer's end covered the page past it: one extent ran 4 KiB too far.
    import pyarrow as pa

    from sqlwave import export_wave_spec

    log = pa.table({"key": ["a", "a", "z"], "size": [4096, 4096, 0]})
    for align in (12, 16):
        spec = export_wave_spec(log, "key", "size", align_bits=align)
        buffer = spec["pack_order"]["buffer_bytes"]
        ends = [(e["last_page"] + 1) << 12 for e in spec["extents"]["inline"]]
        assert spec["extents"]["count"] == 1 and max(ends) <= -(-buffer // 4096) * 4096, align
