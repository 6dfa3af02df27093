"""docs/warehouses.md runs: every ```sh and ```python block, in order, in one folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import ROOT

pytestmark = pytest.mark.engines

BLOCK = re.compile(r"```(python|sh)\n(.*?)```", re.S)


def test_warehouse_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spark: Any,
                                pg_dsn: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SQLWAVE_DSN", pg_dsn)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    found = BLOCK.findall((ROOT / "docs" / "warehouses.md").read_text(encoding="utf-8"))
    assert {lang for lang, _ in found} == {"python", "sh"}
    for lang, body in found:
        if lang == "python":
            exec(compile(body, "docs/warehouses.md", "exec"), {"__name__": "docs"})
            continue
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"docs/warehouses.md block failed:\n{body}\n{proc.stderr}"
    assert (tmp_path / "wavespec_spark.json").read_bytes() == (
        tmp_path / "wavespec_duckdb.json").read_bytes()
    assert (tmp_path / "sql" / "postgres" / "usage.sql").is_file()
