"""Helpers shared by the tests: real-trace lookup, CLI runners, schema validation."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SQLWAVE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_file(relative: str) -> Path:
    """A file of the public traces beside the project; skip with the reason when it is absent."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"real trace {relative} not found under {SHARED_DATA} (the ../shared/data folder "
                    "beside the project; present in CI)")
    return path


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> CliResult:
    """Run the sqlwave CLI in-process (exit code, stdout and stderr kept apart)."""
    from click.testing import CliRunner

    from sqlwave.cli import cli
    from sqlwave.commands import register

    register(cli)
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def run_cli_process(*args: str, cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `sqlwave` console script as a user would."""
    exe = Path(sys.executable).parent / "sqlwave"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def validate_wavespec(doc: dict) -> None:
    import jsonschema

    from sqlwave.wavespec import load_schema

    jsonschema.validate(doc, load_schema("wavespec"))
