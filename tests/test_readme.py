"""The README's examples run: every ```python block, and every ```sh block but `make` ones."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```(python|sh)\n(.*?)```", re.S)


def blocks(kind: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [body for lang, body in BLOCK.findall(text) if lang == kind]


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = blocks("python")
    assert found
    for body in found:
        exec(compile(body, "README.md", "exec"), {})


def test_readme_shell_blocks_run(tmp_path):
    (tmp_path / "sql").symlink_to(ROOT / "sql")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    ran = 0
    for body in blocks("sh"):
        if re.search(r"^make ", body, re.M):
            continue
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"README block failed:\n{body}\n{proc.stderr}"
        ran += 1
    if ran == 0:
        pytest.fail("the README has no runnable shell example")
    assert (tmp_path / "wavespec.json").is_file()
