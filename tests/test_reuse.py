"""The reuse-time histogram: exact against a Python reference, and hash-sampled close to exact."""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlwave import export_wave_spec
from sqlwave.engine import connect
from sqlwave.errors import InputError
from sqlwave.example import write_example_log
from sqlwave.log import bind_log
from sqlwave.reuse import KEPT, ReuseHistogram, _complete, _sample, _sql
from sqlwave.session import Session


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
    # A row with a NULL key is no access: reuse times count the others (as sqlwave mrc does;
    # the histogram counted the NULL rows, unlike mrc's curve of the same log).
    expected = reference_histogram([k for k in keys if k is not None])
    assert buckets(spec) == {b: float(n) for b, n in expected.items()}
    assert spec["metrics"]["reuse_time_histogram"]["method"] == "exact"


@pytest.mark.parametrize("rate", [1.0, 0.5])
def test_null_keys_are_no_accesses_in_reuse_times(tmp_path, rate):
    keys = ["a", None, "a", None, None, "b", "a", "b", None] * 40 + ["c", None, "c"]
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"key": keys}), path)  # from a file: the background pass
    for log in (pa.table({"key": keys}), str(path)):
        spec = export_wave_spec(log, "key", reuse_sample=rate)
        seen = {b["bucket"]: b["reuses"] for b in spec["metrics"]["reuse_time_histogram"]["buckets"]}
        # Every key is sampled (two per hits class at least), so even the sample is exact.
        assert seen == reference_histogram([k for k in keys if k is not None])


def test_sampled_histogram_is_close_to_exact(tmp_path):
    path = tmp_path / "log.parquet"
    write_example_log(str(path), rows=300_000)
    exact = export_wave_spec(str(path), "key", "size", reuse_sample=1.0)
    sampled = export_wave_spec(str(path), "key", "size", reuse_sample=0.2)
    assert sampled["metrics"]["reuse_time_histogram"]["method"] == "stratified-key-sample"
    assert sampled["metrics"]["reuse_time_histogram"]["sample_rate"] == 0.2
    e, s = buckets(exact), buckets(sampled)
    total_e, total_s = sum(e.values()), sum(s.values())
    # Each hits class is scaled to its exact number of reuses, so the total is exact (the
    # buckets' rounding to 0.001 apportioned: rounded one by one they were 0.002 off)...
    assert total_s == pytest.approx(total_e, abs=1e-6)
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


@pytest.mark.parametrize("rate", [1.0, 0.2])
def test_background_pass_equals_the_inline_one(tmp_path, rate):
    # A Parquet log runs the per-access pass on a second cursor beside the other sections; an
    # Arrow table (registered on one cursor only) runs it in line. Same rows, same histogram.
    path = tmp_path / "log.parquet"
    write_example_log(str(path), rows=50_000)
    from_file = export_wave_spec(str(path), "key", "size", reuse_sample=rate)
    in_memory = export_wave_spec(pq.read_table(path), "key", "size", reuse_sample=rate)
    assert from_file["metrics"]["reuse_time_histogram"] == in_memory["metrics"]["reuse_time_histogram"]


def _background(tmp_path, rows: int = 50_000) -> tuple[duckdb.DuckDBPyConnection, Session, int]:
    """A session over an example Parquet log (so the reuse pass can run in the background), and
    the thread count before any pass starts."""
    path = tmp_path / "log.parquet"
    write_example_log(str(path), rows=rows)
    con = connect()
    return con, Session(con, bind_log(con, str(path), "key", "size")), threading.active_count()


def _assert_left_nothing(con: duckdb.DuckDBPyConnection, threads_before: int) -> None:
    assert threading.active_count() == threads_before
    assert (KEPT,) not in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()


def test_cancel_stops_the_background_pass_and_drops_its_table(tmp_path):
    con, session, before = _background(tmp_path)
    reuse = ReuseHistogram(con, session.usage(), 1.0, session.log.views, session.h60_unique())
    assert reuse.busy_connection is not None  # the pass runs in the background
    kept = con.execute(f"SELECT count(*) FROM {KEPT}").fetchall()[0][0]
    assert kept == session.metrics(None)["distinct_keys"]
    reuse.cancel()
    _assert_left_nothing(con, before)


def test_a_failing_section_cancels_the_background_pass(tmp_path):
    path = tmp_path / "log.parquet"
    write_example_log(str(path), rows=50_000)
    with pytest.raises(InputError, match="previous WaveSpec"):
        export_wave_spec(str(path), "key", "size", reuse_sample=1.0,
                         previous=str(tmp_path / "missing.json"))


def test_an_error_in_the_background_pass_reaches_the_caller(tmp_path, monkeypatch):
    con, session, before = _background(tmp_path, rows=5_000)
    monkeypatch.setattr("sqlwave.reuse._sql", lambda *_: "SELECT * FROM no_such_table")
    reuse = ReuseHistogram(con, session.usage(), 1.0, session.log.views, session.h60_unique())
    with pytest.raises(duckdb.CatalogException, match="no_such_table"):
        reuse.result()
    _assert_left_nothing(con, before)


def test_an_interrupt_while_waiting_stops_the_background_pass(tmp_path):
    con, session, before = _background(tmp_path)
    reuse = ReuseHistogram(con, session.usage(), 1.0, session.log.views, session.h60_unique())
    thread, finished = reuse._thread, reuse._finished
    real_wait = finished.wait
    calls = []

    def wait_interrupted(*args):
        calls.append(args)
        if len(calls) == 1:
            raise KeyboardInterrupt  # what Ctrl-C does to a waiting main thread
        return real_wait(*args)

    finished.wait = wait_interrupted
    with pytest.raises(KeyboardInterrupt):
        reuse.result()
    assert len(calls) >= 2 and not thread.is_alive()  # stopped and waited for before leaving
    _assert_left_nothing(con, before)


@pytest.mark.parametrize(("keys", "reuses"), [(["a", "b", "c"], 0), (["a", "b", "a", "b"], 2)])
def test_sampled_histogram_with_a_single_hits_class(keys, reuses):
    # All keys in one hits class; with hits 1 the class expression has no bounds at all.
    spec = export_wave_spec(pa.table({"key": keys}), "key", reuse_sample=0.5)
    histogram = spec["metrics"]["reuse_time_histogram"]
    assert histogram["method"] == "stratified-key-sample"
    assert sum(b["estimate"] for b in histogram["buckets"]) == reuses


@pytest.mark.parametrize("crowded_top", [False, True])
def test_narrowed_sample_keeps_the_same_keys_or_is_caught(crowded_top):
    # 5000 one-hit keys: the sample keeps the 100 with the smallest hash60. The narrowed form
    # looks only below a bound that about 216 uniform hashes fall under; hashes crowded at the
    # top of the range leave it short, which _complete must catch.
    con = duckdb.connect()
    top = 2**60 - 1
    h60 = f"{top} - i" if crowded_top else "CAST('0x' || substr(md5('k' || i), 1, 15) AS BIGINT)"
    con.execute(f"CREATE TABLE u AS SELECT 'k' || i AS key, 1 AS hits, {h60} AS h60 "
                "FROM range(5000) AS t(i)")
    counts = [(1, 5000)]
    plain = _sample("u", counts, 0.02, True, narrowed=False)
    narrowed = _sample("u", counts, 0.02, True, narrowed=True)
    assert _complete(con, plain, counts, 0.02)
    assert _complete(con, narrowed, counts, 0.02) is not crowded_top
    rows = con.execute(f"SELECT * FROM {plain} AS s ORDER BY h60").fetchall()
    assert len(rows) == 100
    if not crowded_top:
        assert con.execute(f"SELECT * FROM {narrowed} AS s ORDER BY h60").fetchall() == rows


def test_a_short_narrowed_sample_falls_back_to_the_plain_one(tmp_path, monkeypatch):
    import sqlwave.reuse as reuse_mod

    con, session, _ = _background(tmp_path)
    args = (con, session.usage(), 0.05, session.log.views, session.h60_unique())
    expected = ReuseHistogram(*args).result()
    real = reuse_mod._sample

    def short(usage, *args, narrowed):  # a narrowed sample that found no key at all
        sql = real(usage, *args, narrowed=narrowed)
        return f"(SELECT * FROM {sql} AS s WHERE false)" if narrowed else sql

    monkeypatch.setattr(reuse_mod, "_sample", short)
    assert ReuseHistogram(*args).result() == expected


@pytest.mark.parametrize("sampled_id", ["h60", None])
def test_list_form_gives_the_window_forms_rows(tmp_path, sampled_id):
    # reuse.sql's `lists` form (DuckDB only) takes each key's gaps from its sorted positions;
    # the portable form uses lag(). Same rows, for all keys and for a sample, keyed by hash60
    # or by the key text. NULL keys and a second file shift positions.
    for i, rows in enumerate((20_000, 7_000)):
        path = str(tmp_path / f"log{i}.parquet")
        write_example_log(path, rows=rows, seed=i)
        log = pq.read_table(path)
        keys = [None if n % 7 == 3 else k for n, k in enumerate(log.column("key").to_pylist())]
        pq.write_table(log.set_column(log.schema.get_field_index("key"), "key",
                                      pa.array(keys, pa.string())), path)
    con = connect()
    session = Session(con, bind_log(con, str(tmp_path), "key", "size"))
    usage = session.usage()
    counts = [(int(h), int(n)) for h, n in con.execute(
        f"SELECT hits, count(*) FROM {usage} WHERE key IS NOT NULL GROUP BY hits").fetchall()]
    for sampled in (f"(SELECT key, hits, h60 FROM {usage} WHERE key IS NOT NULL)",
                    _sample(usage, counts, 0.05, sampled_id is not None, narrowed=False)):
        window = con.execute(_sql(sampled, sampled_id is not None, lists=False)).fetchall()
        assert len(window) > 10
        assert con.execute(_sql(sampled, sampled_id is not None, lists=True)).fetchall() == window


def test_a_large_sample_or_a_small_memory_limit_takes_the_window_form(tmp_path, monkeypatch):
    # A list aggregate cannot spill: the list form only for a small sample with room to spare.
    import sqlwave.reuse as reuse_mod

    con, session, _ = _background(tmp_path)
    con.execute("SET memory_limit = '1GB'")
    args = (con, session.usage(), 0.05, session.log.views, session.h60_unique())
    forms: list[bool] = []
    real = reuse_mod._sql

    def record(sampled, h60_unique, lists=False, null_keys=False):
        forms.append(lists)
        return real(sampled, h60_unique, lists, null_keys)

    monkeypatch.setattr(reuse_mod, "_sql", record)
    with_lists = ReuseHistogram(*args).result()
    con.execute("SET memory_limit = '100MB'")
    assert ReuseHistogram(*args).result() == with_lists
    con.execute("SET memory_limit = '1GB'")
    monkeypatch.setattr(reuse_mod, "LIST_ACCESSES", 100)
    assert ReuseHistogram(*args).result() == with_lists
    assert forms == [True, False, False]


def test_estimates_keep_their_exact_total_when_rounded():
    from sqlwave.reuse import _buckets

    # Ten keys of 2 hits (10 reuses); the sample saw 3 of them, one per bucket: 10/3 each.
    rows = [{"bucket": b, "hits": 2, "reuses": 1} for b in range(3)]
    out = _buckets(rows, [(2, 10)], exact=False)
    assert [b["estimate"] for b in out] == [3.334, 3.333, 3.333]  # not 3.333 three times
    assert [b["reuses"] for b in out] == [1, 1, 1]
