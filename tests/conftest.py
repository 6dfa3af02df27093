from __future__ import annotations

import os
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
