from __future__ import annotations

from support import SHARED_DATA, run_cli, run_cli_process, shared_file, validate_wavespec

__all__ = ["SHARED_DATA", "run_cli", "run_cli_process", "shared_file", "validate_wavespec"]
