"""Engine settings: memory limit with spilling, progress only on terminals."""

from __future__ import annotations

import io
import sys

import pytest

from sqlwave import export_wave_spec
from sqlwave.example import write_example_log
from sqlwave.progress import Progress


def test_small_memory_limit_spills_and_gives_the_same_answer(tmp_path):
    log = tmp_path / "log.parquet"
    write_example_log(str(log), rows=400_000)
    spill = tmp_path / "spill"
    free = export_wave_spec(str(log), "key", "size", reuse_sample=1.0)
    tight = export_wave_spec(str(log), "key", "size", reuse_sample=1.0,
                             engine={"memory_limit": "40MB", "temp_directory": str(spill),
                                     "threads": 1})
    assert tight == free
    assert spill.is_dir()


def test_progress_is_silent_when_not_a_terminal(monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    with Progress().stage("scan"):
        pass
    assert buffer.getvalue() == ""


def test_progress_reports_stages_when_enabled(monkeypatch):
    import duckdb

    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    con = duckdb.connect()
    with Progress(enabled=True).stage("counting", con):
        con.execute("SELECT count(*) FROM range(30000000) t(i) WHERE i % 7 = 3").fetchall()
    assert "counting: done in" in buffer.getvalue()


def test_a_stage_that_fails_or_is_interrupted_is_not_reported_done(monkeypatch):
    # A Ctrl-C during the reuse pass printed "reuse times: done in 0.4s" before the error.
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    with pytest.raises(KeyboardInterrupt), Progress(enabled=True).stage("reuse times"):
        raise KeyboardInterrupt
    assert "done" not in buffer.getvalue() and buffer.getvalue().endswith("\r\x1b[K")


def test_a_database_started_early_is_taken_once_with_the_settings(monkeypatch):
    import duckdb

    from sqlwave import engine

    started: list[duckdb.DuckDBPyConnection] = []
    real = duckdb.connect

    def counted(*args, **kwargs):
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(duckdb, "connect", counted)
    engine.start_early()
    engine.start_early()  # a second call keeps the first database
    con = engine.connect(threads=1, memory_limit="123MB")
    assert len(started) == 1  # connect() took the early one instead of starting its own
    assert con.execute("SELECT current_setting('threads')").fetchall() == [(1,)]
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchall() == [(True,)]
    engine.connect()  # the next one starts its own
    assert len(started) == 2


def test_a_failed_early_start_leaves_connect_to_report(monkeypatch):
    import duckdb

    from sqlwave import engine

    real = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: 1 / 0)
    engine.start_early()
    monkeypatch.setattr(duckdb, "connect", real)
    assert engine.connect().execute("SELECT 42").fetchall() == [(42,)]  # connected in line
