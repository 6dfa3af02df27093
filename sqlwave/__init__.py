"""sqlwave: access logs in, GPU-cache load decisions out, computed by SQL macros on DuckDB."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# Heavy imports (duckdb, pyarrow) wait until a function is used, so `sqlwave --help` is instant.
_API = {
    "export_wave_spec": "sqlwave.export",
    "build_prefix_cohorts": "sqlwave.api",
    "coalesce_kv_extents": "sqlwave.api",
    "suggest_pack_order_from_usage": "sqlwave.api",
    "compute_usage": "sqlwave.api",
    "to_dlpack_columns": "sqlwave.dlpack",
    # What the functions raise: catch SqlwaveError for either.
    "SqlwaveError": "sqlwave.errors",
    "ParameterError": "sqlwave.errors",
    "InputError": "sqlwave.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'sqlwave' has no attribute {name!r}")
