"""The usage scan leaves out what an export does not need: the size checks when the Parquet
footers already prove every size is present and >= 0, the first/last positions for orders that
do not sort by them. The WaveSpec is the same either way, and bad sizes are still refused."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import run_cli

import sqlwave.export as export_mod
from sqlwave.engine import connect
from sqlwave.errors import InputError
from sqlwave.example import write_example_log
from sqlwave.export import build_wave_spec
from sqlwave.export_options import ExportOptions
from sqlwave.log import bind_log, sizes_valid_by_footer
from sqlwave.wavespec import dumps


def _valid(paths: list[str], size_col: str | None = "size") -> bool:
    con = connect()
    return sizes_valid_by_footer(con, bind_log(con, paths, "key", size_col))


def test_footers_decide_the_size_checks(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"key": ["a", "b"], "size": [0, 7]}), good)
    nulls = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"key": ["a", "b"], "size": [1, None]}), nulls)
    negative = tmp_path / "negative.parquet"
    pq.write_table(pa.table({"key": ["a", "b"], "size": [1, -5]}), negative)
    no_stats = tmp_path / "no_stats.parquet"
    pq.write_table(pa.table({"key": ["a", "b"], "size": [1, 2]}), no_stats, write_statistics=False)
    no_column = tmp_path / "no_column.parquet"
    pq.write_table(pa.table({"key": ["c"]}), no_column)
    assert _valid([str(good)])
    assert _valid([str(good)], size_col=None)  # sizes are then the constant 1
    for other in (nulls, negative, no_stats):
        assert not _valid([str(good), str(other)]), other.name
    with pytest.raises(InputError, match="missing from 1 of 2"):  # no NULL sizes by omission
        _valid([str(good), str(no_column)])
    assert not sizes_valid_by_footer(*_arrow_log())


def _arrow_log() -> tuple[object, object]:
    con = connect()
    return con, bind_log(con, pa.table({"key": ["a"], "size": [1]}), "key", "size")


@pytest.mark.parametrize("size", [None, -5])
def test_bad_sizes_without_statistics_are_still_refused(tmp_path, size):
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"key": ["a", "b"], "size": [1, size]}), path, write_statistics=False)
    result = run_cli("export", "--logs", str(path), "--size", "size", "--out", str(tmp_path / "o.json"))
    assert result.code == 1
    assert ("NULL size" if size is None else "negative size") in result.stderr


@pytest.mark.parametrize("order", ["hot", "first-touch"])
def test_the_wavespec_does_not_depend_on_what_the_scan_skips(tmp_path, monkeypatch, order):
    path = tmp_path / "log.parquet"
    write_example_log(str(path), rows=30_000)
    opts = dict(size_col="size", order=order, capacity=2**30)
    lean, session = build_wave_spec([str(path)], ExportOptions(**opts))
    assert session._sizes_valid and session.positions == (order != "hot")
    # Everything computed: positions always, size checks from the aggregates.
    monkeypatch.setattr(export_mod, "uses_positions", lambda _: True)
    monkeypatch.setattr("sqlwave.session.sizes_valid_by_footer", lambda *_: False)
    full, session = build_wave_spec([str(path)], ExportOptions(**opts))
    assert not session._sizes_valid and session.positions
    assert dumps(lean) == dumps(full)


def test_the_api_usage_table_keeps_its_size_columns(tmp_path):
    from sqlwave import compute_usage

    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"key": ["a", "b", "a"], "size": [4, 8, 4]}), path)
    usage = compute_usage(str(path), "key", "size").sort_by("key")
    assert usage.column("size_nulls").to_pylist() == [0, 0]
    assert usage.column("size_min").to_pylist() == [4, 8]
