from __future__ import annotations

from support import SHARED_DATA, run_cli, run_cli_process, shared_file, validate_wavespec

__all__ = ["SHARED_DATA", "run_cli", "run_cli_process", "shared_file", "validate_wavespec"]

# Session-wide engines (a PostgreSQL server, a Spark session) for the dialect and export tests.
from engines import pg_dsn, spark  # noqa: E402, F401
