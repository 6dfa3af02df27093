"""An installed wheel carries the macros, the schema and the example log, and works on its own."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                    "-w", str(out), str(ROOT)], check=True, capture_output=True, timeout=300)
    return next(out.glob("sqlwave-*.whl"))


def test_wheel_ships_macros_schema_and_example(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for macro in (ROOT / "macros").glob("*.sql"):
        assert f"sqlwave/_macros/{macro.name}" in names
    assert "sqlwave/schemas/wavespec.schema.json" in names
    assert "sqlwave/data/example_logs.parquet" in names


def test_unpacked_wheel_finds_its_own_macros(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = ("import sqlwave.macros as m; from sqlwave import export_wave_spec; "
            "from sqlwave.example import example_log_path; "
            "print(m.macros_dir()); print(export_wave_spec(str(example_log_path()))['metrics']['rows'])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    where, rows = proc.stdout.split()
    assert Path(where) == tmp_path / "sqlwave" / "_macros"
    assert rows == "20000"
