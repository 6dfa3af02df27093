"""`sqlwave replay` and `sqlwave trace`: every bad input gives `Error: …` on stderr, exit 1, no
traceback, and leaves existing outputs as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import run_cli

from sqlwave.errors import InputError
from sqlwave.policy import StagedPolicy

KEEP = '{"kept": true}\n'
GOOD = {"m": [1, 16, 256], "n": [4096] * 3, "k": [4096] * 3}
TABLE = {"16": StagedPolicy(16, 32, 64, 1, 3, 4).to_vllm()}


@pytest.fixture()
def outputs(tmp_path: Path) -> tuple[Path, Path]:
    """policies.json and the vLLM table from an earlier run, which a failure must not touch."""
    out, vllm = tmp_path / "keep.json", tmp_path / "table.json"
    out.write_text(KEEP)
    vllm.write_text(KEEP)
    return out, vllm


def problems(tmp_path: Path, **columns: list) -> str:
    path = tmp_path / "problems.parquet"
    pq.write_table(pa.table(GOOD | columns), path)
    return str(path)


def assert_refused(command: str, *args: str, message: str, outputs: tuple[Path, ...]) -> None:
    result = run_cli(command, *args)
    assert result.code == 1, result.stderr
    assert result.stderr.startswith("Error: "), result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    for path in outputs:
        assert path.read_text() == KEEP, f"{path.name} must be left intact"
        assert not list(path.parent.glob(f".{path.name}.*")), "no temp file left behind"


def refuse_replay(args: list[str], message: str, outputs: tuple[Path, Path]) -> None:
    out, vllm = outputs
    assert_refused("replay", *args, "--out", str(out), "--vllm-out", str(vllm), message=message,
                   outputs=outputs)


@pytest.mark.parametrize("columns, message", [
    ({"m": ["a", "b", "c"]}, "m must be a whole number from 1 to 2^32, got 'a'"),
    ({"m": [float("nan"), 1.0, 2.0]}, "m must be a whole number from 1 to 2^32, got nan"),
    ({"m": [1.5, 16.0, 256.0]}, "got 1.5"),  # never truncated to 1
    ({"m": [True, False, True]}, "got True"),
    ({"k": [2**40] * 3}, "k must be a whole number from 1 to 2^32"),
    ({"m": [2**21] * 3, "n": [2**21] * 3, "k": [2**21] * 3}, "is over 2^60"),
    ({"dtype": [3, 3, 3]}, "dtype must be text such as 'bf16'"),
    ({"dtype": ["int8"] * 3}, "unknown dtype 'int8'"),
    ({"weight": ["x", "y", "z"]}, "weight must be a number from 0 to 1e12, got 'x'"),
    ({"weight": [float("inf"), 1.0, 1.0]}, "got inf"),
    ({"weight": [1e300, 1.0, 1.0]}, "got 1e+300"),
    ({"weight": [-1.0, 1.0, 1.0]}, "got -1.0"),
    ({"m": [1, 1, 1], "weight": [6e11, 6e11, 1.0]}, "sum to 1.2e+12, over 1e12"),
])
def test_bad_problems(tmp_path: Path, outputs, columns: dict, message: str) -> None:
    refuse_replay(["--problems", problems(tmp_path, **columns)], message, outputs)


@pytest.mark.parametrize("content, message", [
    (b"PAR1" + bytes(8) + b"PAR1", "cannot read problems file"),
    (b"m,n,k\n1,2,3\n", "cannot read problems file"),
])
def test_unreadable_problems(tmp_path: Path, outputs, content: bytes, message: str) -> None:
    path = tmp_path / "problems.parquet"
    path.write_bytes(content)
    refuse_replay(["--problems", str(path)], message, outputs)


GRIDS = [
    ("missing.json", None, "does not exist; give a JSON or CSV file"),
    ("bin.json", b"\xff\xfe[]", "is not UTF-8 text"),
    ("five.json", "5", "must hold a non-empty list of policy objects"),
    ("text.json", '"abc"', "must hold a non-empty list of policy objects"),
    ("empty.json", "[]", "must hold a non-empty list of policy objects"),
    ("bad.json", "[{", "is not valid JSON"),
    ("w3.json", '[{"BM": 64, "BN": 64, "BK": 64, "num_warps": 3}]',
     "num_warps must be one of 1, 2, 4, 8, 16, 32, got 3"),
    ("w1024.json", '[{"BM": 64, "BN": 64, "BK": 64, "num_warps": 1024}]', "got 1024"),
    ("bm48.json", '[{"BM": 48, "BN": 64, "BK": 64}]',
     "BM (BLOCK_SIZE_M) must be one of 8, 16, 32, 64, 128, 256, got 48"),
    ("float.json", '[{"BLOCK_SIZE_M": 64.7, "BN": 64, "BK": 64}]', "got 64.7"),
    ("bool.json", '[{"BM": true, "BN": 64, "BK": 64}]', "got True"),
    ("bk8.json", '[{"BM": 64, "BN": 64, "BK": 8}]', "BK (BLOCK_SIZE_K) must be one of 16, 32"),
    ("s0.json", '[{"BM": 64, "BN": 64, "BK": 64, "num_stages": 0}]',
     "stage_depth (num_stages) must be a whole number from 1 to 8, got 0"),
    ("g0.json", '{"1": {"BM": 64, "BN": 64, "BK": 64, "GROUP_SIZE_M": -1}}',
     "GROUP_SIZE_M) must be a whole number from 1 to 1024, got -1"),
    ("half.csv", "BM,BN,BK\n64.5,64,64\n", "got '64.5'"),
    ("short.csv", "BM,BN,BK\n64,64\n", "lacks BK"),
]


@pytest.mark.parametrize("name, content, message", GRIDS)
def test_bad_grid(tmp_path: Path, outputs, name: str, content: str | bytes | None,
                  message: str) -> None:
    grid = tmp_path / name
    if isinstance(content, bytes):
        grid.write_bytes(content)
    elif content is not None:
        grid.write_text(content)
    refuse_replay(["--problems", problems(tmp_path), "--grid", str(grid)], message, outputs)


def test_grid_that_is_a_folder(tmp_path: Path, outputs) -> None:
    refuse_replay(["--problems", problems(tmp_path), "--grid", str(tmp_path)],
                  "is a folder; give a JSON or CSV file", outputs)


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "must be a policies.json or a vLLM table (a JSON object M -> config), not [1, 2]"),
    ('"x"', 'not "x"'),
    ("null", "not null"),
    ('{"table": 5}', "got 5"),
    ('{"abc": {"BM": 64, "BN": 64, "BK": 64}}', "entry 'abc'"),
    ('{"16": [1, 2]}', "need an M key (a whole number) and a config object"),
    ('{"16": {"BLOCK_SIZE_M": 0, "BLOCK_SIZE_N": 64, "BLOCK_SIZE_K": 64}}', "got 0"),
])
def test_bad_previous(tmp_path: Path, outputs, content: str, message: str) -> None:
    previous = tmp_path / "previous.json"
    previous.write_text(content)
    refuse_replay(["--problems", problems(tmp_path), "--previous", str(previous)], message,
                  outputs)


@pytest.mark.parametrize("keys", ["99999999999999999999", "0,16", "-4"])
def test_bad_m_keys(tmp_path: Path, outputs, keys: str) -> None:
    refuse_replay(["--problems", problems(tmp_path), "--m-keys", keys],
                  "--m-keys must be whole numbers from 1 to 2^32", outputs)


@pytest.mark.parametrize("size", ["0", "-5"])
def test_bad_chunk_size(tmp_path: Path, outputs, size: str) -> None:
    refuse_replay(["--problems", problems(tmp_path), "--chunk-size", size],
                  "chunk_size must be a whole number between 1 and 1000000", outputs)


@pytest.mark.parametrize("vllm_out, message", [
    ("{tmp}", "is a folder; give a file name"),
    ("{tmp}/afile/v.json", "is a file, not a folder"),
    ("{tmp}/keep.json", "are the same file"),
    ("{tmp}/problems.parquet", "is one of the input files"),
])
def test_bad_output_paths_fail_before_any_work(tmp_path: Path, outputs, vllm_out: str,
                                               message: str) -> None:
    (tmp_path / "afile").write_text("")
    source = problems(tmp_path)
    before = Path(source).read_bytes()
    assert_refused("replay", "--problems", source, "--out", str(outputs[0]),
                   "--vllm-out", vllm_out.format(tmp=tmp_path), message=message, outputs=outputs)
    assert Path(source).read_bytes() == before


def test_a_failed_vllm_write_leaves_both_files(tmp_path: Path, outputs) -> None:
    from sqlwave.cli_policy import _write_outputs

    out, _ = outputs
    (tmp_path / "afile").write_text("")
    with pytest.raises(InputError, match="cannot write"):
        _write_outputs({"table": TABLE}, str(out), str(tmp_path / "afile" / "v.json"))
    assert out.read_text() == KEEP and not list(tmp_path.glob(".keep.json.*"))


def test_both_outputs_are_written_on_success(tmp_path: Path, outputs) -> None:
    out, vllm = outputs
    result = run_cli("replay", "--problems", problems(tmp_path), "--m-keys", "1,256", "--out",
                     str(out), "--vllm-out", str(vllm))
    assert result.code == 0, result.stderr
    assert json.loads(vllm.read_text()) == json.loads(out.read_text())["table"]


@pytest.mark.parametrize("args, message", [
    (["--dialect", "nosuch"], "--dialect 'nosuch' is not a SQL dialect sqlglot knows; use one of "
                              "athena, bigquery"),
    (["--dialect", ""], "--dialect '' is not a SQL dialect"),
    (["--dialect", "duckdb, normalization_strategy=lowercase"], 'Did you mean "duckdb"?'),
    (["--sql", "{bin}"], "is not UTF-8 text"),
    (["--sql", "{sql}", "--out", "{sql}"], "is one of the input files"),
])
def test_bad_trace_options(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "p.sql").write_text("-- input: r\n-- step: s\nSELECT 1 AS m FROM r\n")
    (tmp_path / "bin.sql").write_bytes(b"-- input: r\n\xff\xfe")
    out = tmp_path / "trace.json"
    out.write_text(KEEP)
    args = [a.format(sql=tmp_path / "p.sql", bin=tmp_path / "bin.sql") for a in args]
    if "--sql" not in args:
        args += ["--sql", str(tmp_path / "p.sql")]
    if "--out" not in args:
        args += ["--out", str(out)]
    assert_refused("trace", *args, message=message, outputs=(out,))


def test_dialect_name_is_normalised(tmp_path: Path) -> None:
    sql, out = tmp_path / "p.sql", tmp_path / "trace.json"
    sql.write_text("-- input: r\n-- step: s\nSELECT 1 AS m FROM r\n")
    result = run_cli("trace", "--sql", str(sql), "--dialect", " DuckDB", "--out", str(out))
    assert result.code == 0, result.stderr
    assert json.loads(out.read_text())["dialect"] == "duckdb"


@pytest.mark.parametrize("change, message", [
    ({"dialect": "nosuch"}, "trace 'dialect' 'nosuch' is not a SQL dialect"),
    ({"dialect": ""}, "trace 'dialect' '' is not a SQL dialect"),
    ({"default_input": 5}, "trace 'default_input' 5 is not one of its inputs (r)"),
    ({"default_input": "rr"}, 'Did you mean "r"?'),
])
def test_bad_trace_json(tmp_path: Path, outputs, change: dict, message: str) -> None:
    sql, trace = tmp_path / "p.sql", tmp_path / "trace.json"
    sql.write_text("-- input: r\n-- step: s\nSELECT m, n, k FROM r\n")
    assert run_cli("trace", "--sql", str(sql), "--out", str(trace)).code == 0
    trace.write_text(json.dumps(json.loads(trace.read_text()) | change))
    refuse_replay(["--trace", str(trace), "--sample", problems(tmp_path)], message, outputs)


def test_trace_that_is_a_folder(tmp_path: Path, outputs) -> None:
    refuse_replay(["--trace", str(tmp_path), "--sample", problems(tmp_path)],
                  "is a folder; give the JSON that `sqlwave trace` wrote", outputs)


def test_a_grid_is_pruned_for_the_workloads_element_size(tmp_path: Path) -> None:
    # 256x256x128 with 3 stages fits H100's shared memory at 1-byte elements, not at 2.
    grid = tmp_path / "grid.json"
    grid.write_text('[{"BM": 256, "BN": 256, "BK": 128, "num_stages": 3}]')
    out = tmp_path / "p.json"
    fp8 = run_cli("replay", "--problems", problems(tmp_path, dtype=["fp8"] * 3), "--grid",
                  str(grid), "--device", "h100", "--out", str(out))
    assert fp8.code == 0, fp8.stderr
    assert json.loads(out.read_text())["grid"]["policies"] == 1
    bf16 = run_cli("replay", "--problems", problems(tmp_path, dtype=["bf16"] * 3), "--grid",
                   str(grid), "--device", "h100", "--out", str(out))
    assert bf16.code == 1 and "at 2-byte elements" in bf16.stderr, bf16.stderr


def test_a_csv_grid_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    grid = tmp_path / "grid.csv"
    grid.write_bytes("\ufeffBM,BN,BK\n64,64,64\n".encode())
    out = tmp_path / "p.json"
    result = run_cli("replay", "--problems", problems(tmp_path), "--grid", str(grid), "--out",
                     str(out))
    assert result.code == 0, result.stderr


def test_the_runtime_metrics_file_is_an_input(tmp_path: Path, monkeypatch) -> None:
    from sqlwave.plan_metrics import RUNTIME_ENV

    runtime = tmp_path / "runtime.json"
    runtime.write_text(KEEP)  # a JSON object, as the runtime file must be
    trace = tmp_path / "t.json"
    assert run_cli("trace", "--sql", str(Path(__file__).parent.parent / "examples" /
                                          "gemm_pipeline.sql"), "--out", str(trace)).code == 0
    monkeypatch.setenv(RUNTIME_ENV, str(runtime))
    assert_refused("replay", "--trace", str(trace), "--out", str(runtime),
                   message="is one of the input files", outputs=(runtime,))
