"""Logs of several files, and paths that look like more than they are.

Files are read as one table, by column name: a column missing from a file would read as NULLs,
and one file's type would decide the type of all. Each such log is refused by every command
that reads logs, naming the files; a `name=value` folder is not a column; a file named twice is
read twice, with a warning.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import run_cli

PREVIOUS = '{"previous": true}\n'
GOOD = {"key": ["m.l.0", "m.l.1", "m.l.0"], "size": pa.array([4096, 8192, 4096], pa.int64()),
        "t": pa.array([9, 10, 100], pa.int64())}


def with_second(**columns: object) -> Callable[[Path], list[Path]]:
    """A good file, then a second one with `columns`."""
    def make(folder: Path) -> list[Path]:
        pq.write_table(pa.table(GOOD), folder / "a.parquet")
        pq.write_table(pa.table(columns), folder / "b.parquet")
        return [folder / "a.parquet", folder / "b.parquet"]
    return make


CASES = [
    ("size missing", with_second(key=["m.l.2"]), ["--size", "size"],
     "column 'size' is missing from 1 of 2 log files"),
    ("key missing", with_second(other=["m.l.2"]), [], "column 'key' is missing from 1 of 2"),
    ("bytes keys", with_second(key=pa.array([b"m.l.2"], pa.binary())), [],
     "column 'key' has a different type in some log files (bytes in"),
    ("boolean size", with_second(key=["m.l.2"], size=[True]), ["--size", "size"],
     "(BOOLEAN in"),
    ("decimal and integer keys", with_second(key=pa.array([9], pa.decimal128(38, 0))), [],
     "DECIMAL in"),
    ("order-by text", with_second(key=["d"], t=["50"]), ["--order-by", "t"],
     "column 't' has a different type"),
    ("order-by missing", with_second(key=["d"]), ["--order-by", "t"],
     "column 't' is missing from 1 of 2"),
    ("File_Index", lambda folder: [
        _write(folder / "a.parquet", {"key": ["a", "b", "a"], "File_Index": [5, 5, 5]}),
        _write(folder / "b.parquet", {"key": ["c", "b"], "File_Index": [0, 0]})],
     [], "column named 'file_index'"),
]
COMMANDS = ["export", "mrc", "evaluate-layout"]


def _write(path: Path, columns: dict[str, object]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("make", "args", "message"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_files_that_disagree_are_refused(tmp_path: Path, command: str,
                                         make: Callable[[Path], list[Path]], args: list[str],
                                         message: str) -> None:
    logs = [arg for f in make(tmp_path) for arg in ("--logs", str(f))]
    out = tmp_path / "out.json"
    out.write_text(PREVIOUS)
    where = ["--out", str(out)] if command != "evaluate-layout" else []
    result = run_cli(command, *logs, *args, *where)
    assert result.code == 1 and result.stderr.startswith("Error: "), result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    if "File_Index" not in message and "file_index" not in message:
        assert "b.parquet" in result.stderr  # the file that differs is named
    assert out.read_text() == PREVIOUS


def test_files_without_rows_are_not_read(tmp_path: Path) -> None:
    # An empty file whose key is bytes made every text key hex (`6d2e6c2e30`); one written by
    # pandas from an empty object column has Parquet's null type.
    _write(tmp_path / "a.parquet", GOOD)
    _write(tmp_path / "b.parquet", {"key": pa.array([], pa.binary()), "t": pa.array([], pa.string())})
    _write(tmp_path / "c.parquet", {"key": pa.array([], pa.null())})
    out = tmp_path / "w.json"
    result = run_cli("export", "--logs", str(tmp_path), "--size", "size", "--order-by", "t",
                     "--out", str(out))
    assert result.code == 0, result.stderr
    spec = json.loads(out.read_text())
    assert spec["source"]["key_type"] == "string" and spec["metrics"]["rows"] == 3
    assert {e["key"] for e in spec["pack_order"]["inline"]} == {"m.l.0", "m.l.1"}


def test_request_ids_may_be_missing_null_or_of_another_number_type(tmp_path: Path) -> None:
    # pandas writes a request id column with one missing value as float64, an all-missing one
    # as Parquet's null type; older files may lack the column. Request ids may be NULL.
    _write(tmp_path / "a.parquet", {**GOOD, "request_id": [1, 1, 2]})
    _write(tmp_path / "b.parquet", {**GOOD, "request_id": [3.0, None, 4.0]})
    _write(tmp_path / "c.parquet", {**GOOD, "request_id": pa.array([None] * 3, pa.null())})
    _write(tmp_path / "d.parquet", GOOD)
    result = run_cli("export", "--logs", str(tmp_path), "--size", "size", "--request-col",
                     "request_id", "--out", str(tmp_path / "w.json"))
    assert result.code == 0, result.stderr
    assert json.loads((tmp_path / "w.json").read_text())["metrics"]["rows"] == 12


def test_widths_and_time_units_may_differ_between_files(tmp_path: Path) -> None:
    _write(tmp_path / "a.parquet", {"key": pa.array([1, 2], pa.int32()),
                                    "size": pa.array([10, 20], pa.int32()),
                                    "t": pa.array([2, 1], pa.timestamp("ms"))})
    _write(tmp_path / "b.parquet", {"key": pa.array([1], pa.uint16()),
                                    "size": pa.array([10], pa.uint64()),
                                    "t": pa.array([0], pa.timestamp("ns", tz="UTC"))})
    result = run_cli("export", "--logs", str(tmp_path), "--size", "size", "--order-by", "t",
                     "--order", "first-touch", "--align-bits", "0", "--out", str(tmp_path / "w.json"))
    assert result.code == 0, result.stderr
    spec = json.loads((tmp_path / "w.json").read_text())
    assert spec["metrics"]["rows"] == 3 and spec["metrics"]["bytes_moved"] == 40
    assert [e["key"] for e in spec["pack_order"]["inline"]] == [1, 2]


@pytest.mark.parametrize("folder", ["key=v2", "size=7b"])
def test_a_name_value_folder_is_not_a_column(tmp_path: Path, folder: str) -> None:
    # DuckDB's Hive detection put the folder's value in place of the file's column: one key
    # 'v2', or "size has type VARCHAR".
    (tmp_path / folder).mkdir()
    path = _write(tmp_path / folder / "log.parquet", {**GOOD, "request_id": [1, 2, 3]})
    out = tmp_path / "w.json"
    result = run_cli("export", "--logs", str(path), "--size", "size", "--request-col",
                     "request_id", "--out", str(out))
    assert result.code == 0, result.stderr
    spec = json.loads(out.read_text())
    assert spec["metrics"]["distinct_keys"] == 2 and spec["metrics"]["bytes_moved"] == 16384
    assert {e["key"] for e in spec["pack_order"]["inline"]} == {"m.l.0", "m.l.1"}
    curve = tmp_path / "mrc.json"
    assert run_cli("mrc", "--logs", str(tmp_path / folder), "--out", str(curve)).code == 0
    assert json.loads(curve.read_text())["working_set"] == 2


def test_a_file_named_twice_is_read_twice_with_a_warning(tmp_path: Path) -> None:
    # Read as often as named (tests/test_api.py: a log replayed twice), but overlapping globs
    # and links do it by accident: the user is told.
    path = _write(tmp_path / "a.parquet", GOOD)
    os.symlink(path, tmp_path / "b.parquet")
    for logs in ([str(path), str(path)], [str(tmp_path)], [str(tmp_path / "*.parquet")]):
        out = tmp_path / "w.json"
        result = run_cli("export", *[a for f in logs for a in ("--logs", f)], "--out", str(out))
        assert result.code == 0, result.stderr
        assert result.stderr.count(f"Warning: log file {str(path)!r} is read 2 times") == 1
        assert json.loads(out.read_text())["metrics"]["rows"] == 6
    result = run_cli("export", "--logs", str(path), "--out", str(tmp_path / "w.json"))
    assert "Warning" not in result.stderr


def test_key_scale_on_keys_that_are_not_addresses_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.parquet", GOOD)
    result = run_cli("export", "--logs", str(path), "--key-scale", "512",
                     "--out", str(tmp_path / "w.json"))
    assert result.code == 1, result.stderr
    assert "column 'key' holds string keys; drop --key-scale" in result.stderr


def test_unsigned_keys_past_2_63_point_at_the_column_type(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.parquet", {"key": pa.array([2**63 + 1, 5], pa.uint64())})
    result = run_cli("export", "--logs", str(path), "--out", str(tmp_path / "w.json"))
    assert result.code == 1 and "write the key column as text or bytes" in result.stderr
    assert "--key-scale" not in result.stderr  # no option of ours fixes it
    # A sum of sizes past 2^63 (DuckDB sums in INT128) is about sizes, not the key's type.
    path = _write(tmp_path / "b.parquet", {"key": ["a", "b", "a"], "size": [2**62] * 3})
    result = run_cli("export", "--logs", str(path), "--size", "size",
                     "--out", str(tmp_path / "w.json"))
    assert result.code == 1 and "sizes and their sums must stay below 2^63" in result.stderr


def test_nanosecond_timestamps_with_a_time_zone(tmp_path: Path) -> None:
    # What pandas writes for datetime64[ns, UTC]; DuckDB 1.x reads it in microseconds.
    base = 1_767_225_600_000_000_000
    path = _write(tmp_path / "a.parquet", {
        "key": ["k1", "k2", "k3"],
        "ts": pa.array([base + 900, base + 100, base + 500], pa.timestamp("ns", tz="UTC"))})
    out = tmp_path / "w.json"
    result = run_cli("export", "--logs", str(path), "--order-by", "ts", "--order", "first-touch",
                     "--out", str(out))
    assert result.code == 0, result.stderr
    order = [e["key"] for e in json.loads(out.read_text())["pack_order"]["inline"]]
    if duckdb.__version__.startswith("1."):
        assert "reads in microseconds" in result.stderr
        assert order == ["k1", "k2", "k3"]  # all three tie: file order
    else:
        assert "Warning" not in result.stderr
        assert order == ["k2", "k3", "k1"]


def test_nanosecond_timestamps_with_a_time_zone_in_an_arrow_table(
        capsys: pytest.CaptureFixture[str]) -> None:
    # The warning looked at Parquet files only: an Arrow table lost the order without a word.
    from sqlwave import export_wave_spec

    base = 1_767_225_600_000_000_000
    table = pa.table({"key": ["k1", "k2", "k3"],
                      "ts": pa.array([base + 900, base + 100, base + 500],
                                     pa.timestamp("ns", tz="UTC"))})
    spec = export_wave_spec(table, "key", order_col="ts", order="first-touch")
    order = [e["key"] for e in spec["pack_order"]["inline"]]
    warned = "reads in microseconds" in capsys.readouterr().err
    if duckdb.__version__.startswith("1."):
        assert warned and order == ["k1", "k2", "k3"]
    else:
        assert not warned and order == ["k2", "k3", "k1"]


@pytest.mark.parametrize("name, ok", [("x\\y.parquet", True), ("x[1].parquet", True),
                                      ("x\\*y.parquet", False), ("x\\[1].parquet", False)])
def test_backslashes_and_glob_characters_in_file_names(tmp_path: Path, name: str, ok: bool) -> None:
    # DuckDB takes a backslash in a pattern as an escape: no spelling of these paths found them.
    log = tmp_path / name
    pq.write_table(pa.table({"key": ["a", "b", "a"]}), log)
    result = run_cli("export", "--logs", str(log), "--out", str(tmp_path / "ws.json"))
    if ok:
        assert result.code == 0, result.stderr
        assert json.loads((tmp_path / "ws.json").read_text())["metrics"]["rows"] == 3
    else:
        assert result.code == 1 and "both a backslash and a glob character" in result.stderr


def test_an_all_null_column_is_recorded_as_null(tmp_path: Path) -> None:
    # DuckDB 2 names the type '"NULL"', quotes included, and the WaveSpec recorded the quotes.
    path = _write(tmp_path / "a.parquet", {"key": ["a", "b", "a"],
                                           "req": pa.array([None] * 3, pa.null())})
    out = tmp_path / "w.json"
    result = run_cli("export", "--logs", str(path), "--request-col", "req", "--out", str(out))
    assert result.code == 0, result.stderr
    recorded = json.loads(out.read_text())["source"]["columns"]["req"]
    assert recorded == ("INTEGER" if duckdb.__version__.startswith("1.") else "NULL")


def test_a_column_only_in_files_without_rows_says_so(tmp_path: Path) -> None:
    # Files without rows are not read: the message listed the other files' columns only.
    with_rows = _write(tmp_path / "a.parquet", {"key": ["a", "b"]})
    empty = _write(tmp_path / "b.parquet", {"key": pa.array([], pa.string()),
                                            "request_id": pa.array([], pa.int64())})
    result = run_cli("export", "--logs", str(with_rows), "--logs", str(empty), "--request-col",
                     "request_id", "--out", str(tmp_path / "w.json"))
    assert result.code == 1
    assert "column 'request_id' is only in log files without rows" in result.stderr


def test_whole_floating_point_keys_get_a_warning(tmp_path: Path) -> None:
    # What pandas writes for an integer column with a missing value: float64, keys '3.0'.
    floats = _write(tmp_path / "f.parquet", {"key": [3.0, None, 4.0, 3.0]})
    result = run_cli("export", "--logs", str(floats), "--out", str(tmp_path / "w.json"))
    assert result.code == 0, result.stderr
    assert "every key is a whole number" in result.stderr
    fractions = _write(tmp_path / "g.parquet", {"key": [3.5, 4.0]})
    result = run_cli("export", "--logs", str(fractions), "--out", str(tmp_path / "v.json"))
    assert result.code == 0 and "whole number" not in result.stderr
