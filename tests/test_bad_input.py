"""Every bad input gives `Error: …` on stderr, exit 1, no traceback, and leaves outputs alone."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import run_cli, run_cli_process, validate_wavespec

PREVIOUS = '{"previous": true}\n'


def write(tmp_path, table: pa.Table, name: str = "log.parquet") -> str:
    path = tmp_path / name
    pq.write_table(table, path)
    return str(path)


def assert_refused(tmp_path, *args: str, message: str) -> None:
    out = tmp_path / "ws.json"
    out.write_text(PREVIOUS)
    result = run_cli("export", "--out", str(out), *args)
    assert result.code == 1, result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert out.read_text() == PREVIOUS, "a previous output must be left intact"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".ws.json")) == []


def test_missing_file(tmp_path):
    assert_refused(tmp_path, "--logs", str(tmp_path / "nope.parquet"), message="does not exist")


def test_glob_matching_nothing(tmp_path):
    assert_refused(tmp_path, "--logs", str(tmp_path / "*.parquet"), message="no files match")


def test_glob_matching_only_empty_folders(tmp_path):
    (tmp_path / "day1").mkdir()
    assert_refused(tmp_path, "--logs", str(tmp_path / "day*"), message="no files match")


def test_glob_of_folders_reads_the_files_in_them(tmp_path):
    # Hive-style partitions: logs/date=*/part.parquet, given as logs/date=*
    logs = tmp_path / "logs"
    for day, keys in (("date=1", ["a", "b"]), ("date=2", ["a"])):
        (logs / day).mkdir(parents=True)
        write(logs / day, pa.table({"key": keys}), "part.parquet")
    out = tmp_path / "ws.json"
    # `logs/**` matches the folders and the files in them: each file counts once
    for pattern in ("date=*", "**"):
        result = run_cli("export", "--logs", str(logs / pattern), "--out", str(out))
        assert result.code == 0, result.stderr
        spec = json.loads(out.read_text())
        assert [f["rows"] for f in spec["source"]["files"]] == [2, 1]
        assert spec["metrics"]["rows"] == 3 and spec["metrics"]["distinct_keys"] == 2


def test_file_name_with_glob_characters_is_read_as_itself(tmp_path):
    # DuckDB expands glob characters even in a list of files: x[1].parquet must not read x1.
    path = write(tmp_path, pa.table({"key": ["mine"] * 3}), "x[1].parquet")
    write(tmp_path, pa.table({"key": ["other"]}), "x1.parquet")
    out = tmp_path / "ws.json"
    for logs in ([path], [path, str(tmp_path / "x1.parquet")]):
        args = [a for log in logs for a in ("--logs", log)]
        result = run_cli("export", *args, "--out", str(out))
        assert result.code == 0, result.stderr
        spec = json.loads(out.read_text())
        assert spec["metrics"]["rows"] == 3 + (len(logs) - 1)
        assert spec["pack_order"]["inline"][0]["key"] == "mine"


@pytest.mark.parametrize("column", ["sqlwave_pos", "file_row_number"])
def test_reserved_column_names(tmp_path, column):
    path = write(tmp_path, pa.table({"key": ["a", "b", "a"], column: [0, 0, 0]}))
    assert_refused(tmp_path, "--logs", path, message=f"column named {column!r}")


def test_file_index_column_with_several_files(tmp_path):
    first = write(tmp_path, pa.table({"key": ["a"], "file_index": [7]}), "a.parquet")
    second = write(tmp_path, pa.table({"key": ["b"], "file_index": [7]}), "b.parquet")
    assert_refused(tmp_path, "--logs", first, "--logs", second, message="column named 'file_index'")


def test_integer_overflow_is_explained(tmp_path):
    path = write(tmp_path, pa.table({"key": [2**62, 1]}))
    assert_refused(tmp_path, "--logs", path, "--key-scale", "4",
                   message="overflows 64-bit integers")


def test_not_parquet(tmp_path):
    bad = tmp_path / "log.parquet"
    bad.write_text("key,size\na,1\n")
    assert_refused(tmp_path, "--logs", str(bad), message="is not a Parquet file")


def test_truncated_parquet(tmp_path):
    path = write(tmp_path, pa.table({"key": ["a"] * 100}))
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:20] + data[-8:])
    assert_refused(tmp_path, "--logs", path, message="Parquet")


def test_misspelled_column_suggests_the_right_one(tmp_path):
    path = write(tmp_path, pa.table({"key": ["a"], "size": [1]}))
    assert_refused(tmp_path, "--logs", path, "--size", "sise", message='Did you mean "size"?')
    assert_refused(tmp_path, "--logs", path, "--key", "Key", message='Did you mean "key"?')


def test_null_keys_are_counted_and_reported(tmp_path):
    path = write(tmp_path, pa.table({"key": ["a", None, "b", None, "a"], "size": [1] * 5}))
    out = tmp_path / "ws.json"
    result = run_cli("export", "--logs", path, "--size", "size", "--out", str(out))
    assert result.code == 0
    assert "Warning: 2 of 5 rows have a NULL key" in result.stderr
    spec = json.loads(out.read_text())
    validate_wavespec(spec)
    assert spec["metrics"]["null_keys"] == 2 and spec["metrics"]["rows"] == 5
    assert spec["pack_order"]["keys"] == 2
    assert_refused(tmp_path, "--logs", path, "--null-keys", "error", message="NULL key")


def test_all_keys_null(tmp_path):
    path = write(tmp_path, pa.table({"key": pa.array([None, None], pa.string())}))
    assert_refused(tmp_path, "--logs", path, message="every row has a NULL key")


def test_null_sizes(tmp_path):
    path = write(tmp_path, pa.table({"key": ["a", "b"], "size": [1, None]}))
    assert_refused(tmp_path, "--logs", path, "--size", "size", message="NULL size")


def test_negative_sizes(tmp_path):
    path = write(tmp_path, pa.table({"key": ["a", "b"], "size": [1, -5]}))
    assert_refused(tmp_path, "--logs", path, "--size", "size", message="negative size")


def test_non_integer_size(tmp_path):
    path = write(tmp_path, pa.table({"key": ["a"], "size": [1.5]}))
    assert_refused(tmp_path, "--logs", path, "--size", "size", message="not an integer byte count")


def test_empty_log(tmp_path):
    path = write(tmp_path, pa.table({"key": pa.array([], pa.string()), "size": pa.array([], pa.int64())}))
    assert_refused(tmp_path, "--logs", path, message="empty")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--page-bits", "41"], "page_bits must be a whole number between 0 and 40"),
        (["--page-bits", "-1"], "page_bits must be a whole number between 0 and 40"),
        (["--top-k", "0"], "top_k must be a whole number between 1 and 100000"),
        (["--prefix-len", "0"], "prefix_len must be a whole number between"),
        (["--depth", "0", "--delimiter", "."], "depth must be a whole number between"),
        (["--wave-bytes", "lots"], "--wave-bytes: cannot read 'lots' as a byte size"),
        (["--order", "random"], "unknown pack order 'random'"),
        (["--memory-limit", "plenty"], "cannot set memory_limit"),
        (["--reuse-sample", "2"], "reuse sample rate"),
        (["--key-scale", "0"], "key_scale must be a whole number between 1"),
        (["--threads", "0"], "threads must be a whole number between 1 and 1024"),
        (["--threads", "100000"], "threads must be a whole number between 1 and 1024"),
        (["--memory-limit", "-1GB"], "memory limit must be positive"),
        (["--memory-limit", "1KB"], "raise --memory-limit"),
        (["--wave-bytes", ","], "--wave-bytes: an empty item in ','"),
        (["--wave-bytes", "1GiB,,2GiB"], "an empty item in '1GiB,,2GiB'; write e.g. 1GiB,8GiB"),
        (["--wave-bytes", ""], "--wave-bytes: an empty list"),
        (["--wave-bytes", "0.5"], "'0.5' is not a whole number of bytes"),
        (["--capacity", "1.5b"], "'1.5b' is not a whole number of bytes"),
        (["--prefix-len", "8", "--depth", "2"], "with --prefix-len it has no effect"),
        (["--order", "auto", "--page-bits-options", ""], "--page-bits-options: an empty list"),
        (["--page-bits-options", "12,16"], "are for --order auto"),
        (["--order", "auto", "--page-bits-options", "12,99"], "(bits) must be a whole number"),
        (["--page-bits", "abc"], "Invalid value for '--page-bits'"),
        (["--rank-by", "nope"], "Invalid value for '--rank-by'"),
        (["--capacity", "0"], "--capacity: a byte size must be positive"),
        (["--order", "auto", "--page-bits-options", "12,16", "--io-cost", "0"],
         "--io-cost: a byte size must be positive"),
        # Options this run would not use: the user expects an effect.
        (["--io-cost", "1MiB"], "--io-cost prices the extents of --page-bits-options"),
        (["--order", "auto", "--page-bits", "16", "--page-bits-options", "12,16"],
         "give --page-bits or --page-bits-options, not both"),
        (["--order", "auto", "--request-col", "request_id", "--request-window", "4"],
         "--request-window makes requests of consecutive accesses"),
        (["--request-window", "4"], "is for co-access orders"),
    ],
)
def test_parameters_out_of_range(tmp_path, args, message):
    assert_refused(tmp_path, *args, message=message)


def test_temp_directory_under_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    assert_refused(tmp_path, "--temp-directory", str(tmp_path / "afile" / "spill"),
                   message="cannot use")


@pytest.mark.parametrize("table, message", [
    (pa.table({"key": pa.array([2**63 + 5, 1], pa.uint64())}), "overflows 64-bit integers"),
    (pa.table({"key": ["a"] * 4, "size": [2**62] * 4}), "overflows 64-bit integers"),
    (pa.table({"key": ["a", "b"], "size": [2**63 - 1, 1]}), "overflows 64-bit integers"),
])
def test_sizes_and_keys_past_64_bits(tmp_path, table, message):
    path = write(tmp_path, table)
    size = ["--size", "size"] if "size" in table.column_names else []
    assert_refused(tmp_path, "--logs", path, *size, message=message)


def test_a_usage_error_exits_1_in_a_real_process(tmp_path):
    result = run_cli_process("export", "--page-bits", "abc", "--out", str(tmp_path / "ws.json"))
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: Invalid value for '--page-bits'")
    assert "sqlwave export --help" in result.stderr
    assert run_cli_process().returncode == 0  # bare `sqlwave` prints the help


def test_blob_and_non_utf8_keys(tmp_path):
    keys = pa.array([b"\xff\xfe\x00a", b"\xff\xfe\x00b", b"\x80", b"\xff\xfe\x00a"], pa.binary())
    path = write(tmp_path, pa.table({"key": keys, "size": [10, 20, 30, 10]}))
    out = tmp_path / "ws.json"
    result = run_cli("export", "--logs", path, "--size", "size", "--prefix-len", "2", "--out", str(out))
    assert result.code == 0, result.stderr
    spec = json.loads(out.read_text())
    validate_wavespec(spec)
    assert spec["source"]["key_type"] == "bytes"
    # Bytes keys are hex text; a 2-byte prefix is 4 hex digits.
    assert spec["cohorts"][0] == {"rank": 1, "cohort": "fffe", "keys": 2, "hits": 3, "bytes": 40,
                                  "hit_share": 0.75, "byte_share": 40 / 70}
    assert spec["pack_order"]["inline"][0]["key"] == "fffe0061"


def test_very_long_keys(tmp_path):
    long_a, long_b = "a" * 100_000 + "/x", "a" * 100_000 + "/y"
    path = write(tmp_path, pa.table({"key": [long_a, long_b, long_a]}))
    out = tmp_path / "ws.json"
    result = run_cli("export", "--logs", path, "--prefix-len", "10", "--out", str(out))
    assert result.code == 0, result.stderr
    spec = json.loads(out.read_text())
    assert spec["cohorts"][0]["cohort"] == "a" * 10 and spec["cohorts"][0]["keys"] == 2
    assert spec["pack_order"]["inline"][0]["key"] == long_a


def test_hostile_column_names(tmp_path):
    key = 'my key"; DROP TABLE x; --'
    size = "size in 'bytes'"
    path = write(tmp_path, pa.table({key: ["a.b", "a.c", "a.b"], size: [1, 2, 1]}))
    out = tmp_path / "ws.json"
    result = run_cli("export", "--logs", path, "--key", key, "--size", size, "--out", str(out))
    assert result.code == 0, result.stderr
    spec = json.loads(out.read_text())
    assert spec["metrics"]["rows"] == 3 and spec["metrics"]["bytes_moved"] == 4
    assert spec["parameters"]["key_col"] == key


def test_real_process_shows_no_traceback_unless_debug(tmp_path):
    missing = str(tmp_path / "missing.parquet")
    proc = run_cli_process("export", "--logs", missing, "--out", str(tmp_path / "ws.json"))
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: ") and "Traceback" not in proc.stderr
    proc = run_cli_process("--debug", "export", "--logs", missing, "--out", str(tmp_path / "ws.json"))
    assert proc.returncode == 1 and "Traceback" in proc.stderr
    assert not (tmp_path / "ws.json").exists()


def test_a_process_refused_before_connecting_exits_cleanly(tmp_path):
    # `sqlwave export` starts DuckDB's database in a thread while it imports; a process that
    # exited while that start-up was still running aborted (exit code 134, no message).
    log = write(tmp_path, pa.table({"key": ["a", "b"]}))
    for _ in range(5):
        proc = run_cli_process("export", "--logs", log, "--top-k", "0",
                               "--out", str(tmp_path / "ws.json"))
        assert (proc.returncode, proc.stderr) == (
            1, "Error: top_k must be a whole number between 1 and 100000, got 0\n")
    assert not (tmp_path / "ws.json").exists()
