"""Engine settings: memory limit with spilling, progress only on terminals."""

from __future__ import annotations

import io
import sys

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

