"""The same bad logs refused the same way by every command that reads a log.

Each case is data: how to make the log, the extra arguments, the message. Each runs through
`export`, `mrc` and `evaluate-layout`: exit 1, `Error: …` on stderr, no traceback, and an output
file given with --out left as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import run_cli

PREVIOUS = '{"previous": true}\n'


def table(**columns: list[object]) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        pq.write_table(pa.table(columns), path)
        return path
    return make


def raw(data: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path
    return make


def truncated(path: Path) -> Path:
    pq.write_table(pa.table({"key": ["a"] * 100}), path)
    data = path.read_bytes()
    path.write_bytes(data[:20] + data[-8:])
    return path


CASES = [
    ("missing", None, [], "does not exist"),
    ("csv", raw(b"key,size\na,1\n"), [], "is not a Parquet file"),
    ("broken footer", raw(b"PAR1" + bytes(8) + b"PAR1"), [], "cannot read Parquet file"),
    ("truncated", truncated, [], "Parquet"),
    ("misspelled key", table(key=["a"], size=[1]), ["--key", "Key"], 'Did you mean "key"?'),
    ("misspelled size", table(key=["a"], size=[1]), ["--size", "sise"], 'Did you mean "size"?'),
    ("null sizes", table(key=["a", "b", "a"], size=[1, None, 1]), ["--size", "size"], "NULL size"),
    ("negative sizes", table(key=["a", "b", "a"], size=[1, -5, 1]), ["--size", "size"],
     "negative size"),
    ("float sizes", table(key=["a"], size=[1.5]), ["--size", "size"], "not an integer byte count"),
    ("empty", table(key=pa.array([], pa.string())), [], "empty"),
    ("reserved column", table(key=["a", "b"], sqlwave_pos=[0, 0]), [], "column named 'sqlwave_pos'"),
    ("list keys", table(key=[[1], [2]]), [], "use a text, bytes or integer column"),
]
COMMANDS = ["export", "mrc", "evaluate-layout"]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("make", "args", "message"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_log_is_refused(tmp_path: Path, command: str, make: Callable[[Path], Path] | None,
                            args: list[str], message: str) -> None:
    log = tmp_path / "log.parquet"
    if make is not None:
        make(log)
    out = tmp_path / "out.json"
    out.write_text(PREVIOUS)
    where = ["--out", str(out)] if command != "evaluate-layout" else []
    result = run_cli(command, "--logs", str(log), *args, *where)
    assert result.code == 1, result.stderr
    assert result.stderr.startswith("Error: ") and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert out.read_text() == PREVIOUS
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.json")] == []
