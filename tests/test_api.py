from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlwave import (
    build_prefix_cohorts,
    coalesce_kv_extents,
    compute_usage,
    export_wave_spec,
    suggest_pack_order_from_usage,
    to_dlpack_columns,
)
from sqlwave.dlpack import buffer_address
from sqlwave.errors import InputError, ParameterError
from sqlwave.example import example_log_path


def test_cohorts_rank_ties_deterministically():
    # Two cohorts with identical hits and bytes: the order is fixed by hash60, not by input order.
    a = pa.table({"key": ["p/1", "q/1", "p/2", "q/2"], "size": [1, 1, 1, 1]})
    b = pa.table({"key": ["q/2", "p/2", "q/1", "p/1"], "size": [1, 1, 1, 1]})
    ra = build_prefix_cohorts(a, "key", "size", delimiter="/", depth=1)
    rb = build_prefix_cohorts(b, "key", "size", delimiter="/", depth=1)
    assert ra.to_pylist() == rb.to_pylist()
    assert sorted(ra.column("cohort").to_pylist()) == ["p", "q"]


def test_cohorts_rank_by_bytes():
    log = pa.table({"key": ["a1", "a2", "a1", "b1"], "size": [1, 1, 1, 100]})
    by_hits = build_prefix_cohorts(log, "key", "size", prefix_len=1)
    by_bytes = build_prefix_cohorts(log, "key", "size", prefix_len=1, rank_by="bytes")
    assert by_hits.column("cohort").to_pylist() == ["a", "b"]
    assert by_bytes.column("cohort").to_pylist() == ["b", "a"]
    assert by_bytes.column("byte_share").to_pylist()[0] == pytest.approx(100 / 103)


def test_delimiter_depth_on_model_weights():
    log = pa.table({"key": ["model.layers.12.mlp.w1", "model.layers.12.mlp.w2",
                            "model.layers.3.attn.q", "model.embed"]})
    got = build_prefix_cohorts(log, "key", delimiter=".", depth=3).to_pylist()
    assert {r["cohort"]: r["keys"] for r in got} == {
        "model.layers.12": 2, "model.layers.3": 1, "model.embed": 1}
    multi = pa.table({"key": ["a::b::c", "a::b::d", "a::x"]})
    got = build_prefix_cohorts(multi, "key", delimiter="::", depth=2).to_pylist()
    assert {r["cohort"]: r["keys"] for r in got} == {"a::b": 2, "a::x": 1}


def test_extents_handle_negative_addresses_and_page_spans():
    log = pa.table({"addr": [-4096, -1, 0, 8192], "size": [4096, 1, 4097, 1]})
    got = coalesce_kv_extents(log, "addr", page_bits=12, size_col="size").to_pylist()
    # -4096 -> page -1; -1 -> page -1; 0..4096 -> pages 0-1; 8192 -> page 2: one run -1..2.
    assert [(r["first_page"], r["last_page"], r["pages"], r["objects"]) for r in got] == [(-1, 2, 4, 4)]


def test_extents_refuse_text_keys():
    with pytest.raises(InputError, match="not an integer address column"):
        coalesce_kv_extents(pa.table({"key": ["a"]}), "key")


def test_pack_order_from_usage_strategies():
    log = pa.table({"key": ["cold", "hot", "hot", "hot", "late"], "size": [10, 10, 10, 10, 10]})
    usage = compute_usage(log, "key", "size")
    hot = suggest_pack_order_from_usage(usage, "hot", align_bits=4).to_pylist()
    # "cold" and "late" tie on hits and bytes: hash60 orders them, whatever the input order.
    assert hot[0]["key"] == "hot" and {r["key"] for r in hot[1:]} == {"cold", "late"}
    assert [r["byte_offset"] for r in hot] == [0, 16, 32]
    first = suggest_pack_order_from_usage(usage, "first-touch").column("key").to_pylist()
    last = suggest_pack_order_from_usage(usage, "last-touch").column("key").to_pylist()
    assert first == ["cold", "hot", "late"]
    assert last == ["late", "hot", "cold"]
    with pytest.raises(ParameterError, match="unknown pack order"):
        suggest_pack_order_from_usage(usage, "zigzag")
    with pytest.raises(InputError, match="lacks columns"):
        suggest_pack_order_from_usage(pa.table({"key": ["a"]}))


def test_api_reads_paths_and_lists():
    path = str(example_log_path())
    one = build_prefix_cohorts(path, "key", "size", delimiter=".", depth=2)
    two = build_prefix_cohorts([path, path], "key", "size", delimiter=".", depth=2)
    assert one.column("cohort").to_pylist() == two.column("cohort").to_pylist()
    assert [h * 2 for h in one.column("hits").to_pylist()] == two.column("hits").to_pylist()


def test_a_file_listed_twice_is_read_twice_in_order(tmp_path):
    # The log is the files one after another, as DuckDB's read_parquet([f, f]) reads them:
    # positions in the second copy continue after the first.
    path = tmp_path / "ab.parquet"
    pq.write_table(pa.table({"key": ["a", "b"]}), path)
    usage = compute_usage([str(path), str(path)]).sort_by("key").to_pylist()
    assert [(u["key"], u["hits"], u["first_pos"], u["last_pos"]) for u in usage] == [
        ("a", 2, 0, 2), ("b", 2, 1, 3)]


def test_dlpack_is_zero_copy():
    table = compute_usage(str(example_log_path()), "key", "size")
    cols = to_dlpack_columns(table, ["hits", "bytes"])
    for name, array in cols.items():
        view = np.from_dlpack(array)
        assert view.ctypes.data == buffer_address(array), name
        assert view.tolist() == table.column(name).to_pylist()


def test_dlpack_sliced_array_keeps_its_offset():
    table = pa.table({"x": pa.array(range(100), pa.int64())}).slice(10, 5)
    col = to_dlpack_columns(table, ["x"])["x"]
    view = np.from_dlpack(col)
    assert view.tolist() == [10, 11, 12, 13, 14]
    assert view.ctypes.data == buffer_address(col)


@pytest.mark.parametrize(
    "table, message",
    [
        (pa.table({"x": [1, None]}), "NULLs"),
        (pa.table({"x": ["a", "b"]}), "DLPack carries only integer and floating"),
        (pa.Table.from_batches([pa.record_batch({"x": [1]}), pa.record_batch({"x": [2]})]), "chunks"),
    ],
)
def test_dlpack_refuses_what_it_cannot_share(table, message):
    with pytest.raises(InputError, match=message):
        to_dlpack_columns(table, ["x"])


def test_dlpack_refuses_a_string_for_the_column_list():
    # list("ab") would silently pick columns a and b.
    with pytest.raises(InputError, match=r"pass \['ab'\]"):
        to_dlpack_columns(pa.table({"a": [1], "b": [2], "ab": [3]}), "ab")  # type: ignore[arg-type]


def test_results_hand_over_to_dlpack_past_duckdb_chunk_size():
    # DuckDB returns results in chunks (122,880 rows and up); the API gives one per column.
    n = 300_000
    usage = compute_usage(pa.table({"key": pa.array(np.arange(n)), "size": pa.array(np.full(n, 100))}),
                          "key", "size")
    order = suggest_pack_order_from_usage(usage)
    cols = to_dlpack_columns(order, ["byte_offset", "size"])
    assert np.from_dlpack(cols["byte_offset"])[-1] == (n - 1) * 4096


LOG3 = pa.table({"key": ["a.b", "a.c", "x.y"], "size": [10, 20000, 30]})


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: build_prefix_cohorts(LOG3, delimiter=""), "delimiter must be a non-empty"),
        (lambda: build_prefix_cohorts(LOG3, prefix_len=1, delimiter="."), "not both"),
        (lambda: build_prefix_cohorts(LOG3, prefix_len=1.5), "prefix_len must be a whole number"),
        (lambda: build_prefix_cohorts(LOG3, delimiter=".", depth=33), "depth must be a whole number"),
        (lambda: build_prefix_cohorts(LOG3, prefix_len=2, rank_by="keys"), "rank_by"),
        (lambda: coalesce_kv_extents(pa.table({"b": [0, 1]}), "b", key_scale=0), "key_scale"),
        (lambda: coalesce_kv_extents(pa.table({"b": [0, 1]}), "b", page_bits=1.5), "page_bits"),
        (lambda: suggest_pack_order_from_usage(compute_usage(LOG3, "key", "size"), "hot", 2.5),
         "align_bits must be a whole number"),
        (lambda: export_wave_spec(LOG3, "key", "size", capacity=-5), "capacity"),
        (lambda: export_wave_spec(LOG3, "key", "size", order=None), "order must be text"),
        (lambda: export_wave_spec(LOG3, "key", "size", wave_bytes=1024), "must be a list"),
        (lambda: export_wave_spec(LOG3, "key", "size", wave_bytes="1GiB"), "must be a list"),
        (lambda: export_wave_spec(LOG3, "key", "size", wave_bytes=[], order="auto"),
         "must not be an empty list"),
        (lambda: export_wave_spec(LOG3, "key", "size", reuse_sample="0.5"), "reuse sample rate"),
        (lambda: export_wave_spec(LOG3, "key", "size", reuse_sample=True), "reuse sample rate"),
        (lambda: export_wave_spec(LOG3, "key", "size", request_col=["r"]), "request_col"),
        (lambda: export_wave_spec(LOG3, "key", "size", request_window=0), "request_window"),
        (lambda: export_wave_spec(LOG3, "key", "size", wave_bytes_auto="no"), "True or False"),
        (lambda: export_wave_spec(LOG3, "key", "size", wave_bytes_auto=True, wave_bytes=[10]),
         "not both"),
    ],
)
def test_api_refuses_what_export_refuses(call, message):
    with pytest.raises(ParameterError, match=message):
        call()


@pytest.mark.parametrize("sizes, message", [([-5000, 3], "negative size"),
                                             ([None, 3], "NULL size")])
def test_pack_order_refuses_bad_sizes(sizes, message):
    log = pa.table({"key": ["a", "b"], "size": pa.array(sizes, pa.int64())})
    with pytest.raises(InputError, match=message):
        compute_usage(log, "key", "size")
    good = compute_usage(pa.table({"key": ["a", "b"], "size": [1, 3]}), "key", "size")
    usage = good.set_column(good.schema.get_field_index("size"), "size",
                            pa.array(sizes, pa.int64()))  # a usage table edited by hand
    with pytest.raises(InputError, match=message):
        suggest_pack_order_from_usage(usage)
    with pytest.raises(InputError, match=message):
        build_prefix_cohorts(pa.table({"key": ["a", "b"], "size": pa.array(sizes, pa.int64())}),
                             "key", "size", prefix_len=1)


def test_overflow_is_an_input_error():
    with pytest.raises(InputError, match="overflows 64-bit integers"):
        coalesce_kv_extents(pa.table({"key": [2**62, 1]}), key_scale=4)


def test_logs_of_the_wrong_kind_get_a_clear_error():
    with pytest.raises(InputError, match="pyarrow.Table.from_pandas"):
        compute_usage({"key": ["a"]})


def test_dlpack_unknown_column_suggests():
    with pytest.raises(InputError, match='Did you mean "hits"'):
        to_dlpack_columns(pa.table({"hits": [1]}), ["hist"])


def test_duckdb_native_hash60_equals_the_portable_one():
    from sqlwave.macros import environment

    texts = ["", "a", "it's", 'x"y', "model.layers.0.w1", "é日本🙂", "k" * 5000, None]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[t] for t in texts])
    sql = environment().from_string(
        "{% import '_helpers.sql' as h %}"
        "SELECT k, {{ h.hash60('k') }}, {{ h.hash60_duckdb('k') }} FROM t"
    ).render()
    rows = con.execute(sql).fetchall()
    assert len(rows) == len(texts)
    for k, portable, native in rows:
        expected = None if k is None else int(hashlib.md5(k.encode()).hexdigest()[:15], 16)
        assert portable == native == expected, k


@pytest.mark.parametrize("page_bits", [0, 1, 8, 12])
def test_extents_of_addresses_past_2_to_the_53(page_bits):
    # SQL's `/` is a double division on most engines: pages must not lose the low bits.
    blocks = [2**60 + 1, 2**60 + 3, 2**60 + 1001, -(2**61) - 7]
    got = coalesce_kv_extents(pa.table({"block": blocks}), "block", page_bits=page_bits)
    pages = sorted({b >> page_bits for b in blocks})
    runs: list[list[int]] = []
    for p in pages:  # coalesce consecutive pages, as the macro does
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    assert [[r["first_page"], r["last_page"]] for r in got.to_pylist()] == runs


def test_blob_keys_refuse_a_delimiter():
    log = pa.table({"key": pa.array([b"m.l.1.w", b"m.l.1.b", b"x.y"])})
    with pytest.raises(ParameterError, match="BLOB keys cannot be split at a delimiter"):
        build_prefix_cohorts(log, "key", delimiter=".", depth=2)
    assert build_prefix_cohorts(log, "key", prefix_len=3).column("keys").to_pylist() == [2, 1]


def test_the_errors_the_functions_raise_are_importable_from_sqlwave() -> None:
    # The README names them; they could be imported only from sqlwave.errors.
    import sqlwave
    from sqlwave import InputError, ParameterError, SqlwaveError

    assert issubclass(InputError, SqlwaveError) and issubclass(ParameterError, SqlwaveError)
    assert {"InputError", "ParameterError", "SqlwaveError"} <= set(sqlwave.__all__)
    with pytest.raises(InputError, match="does not exist"):
        sqlwave.build_prefix_cohorts("/no/such/log.parquet", "key", prefix_len=4)
