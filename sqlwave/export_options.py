"""ExportOptions: every parameter of an export, and the checks the CLI and the API share."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

from sqlwave.checks import (
    check_capacity,
    check_cohorts,
    check_key_scale,
    check_layout,
    fraction,
    text,
    whole,
)
from sqlwave.errors import ParameterError

ENGINE_KEYS = frozenset({"memory_limit", "temp_directory", "threads"})  # engine.connect's


@dataclass
class ExportOptions:
    """Every parameter of an export; all of them are recorded in the WaveSpec."""

    key_col: str = "key"
    size_col: str | None = None
    request_col: str | None = None
    order_col: str | None = None
    prefix_len: int | None = None
    delimiter: str | None = None
    depth: int = 3
    rank_by: str = "hits"
    top_k: int = 20
    page_bits: int = 12
    align_bits: int | None = None
    key_scale: int = 1
    order: str = "hot"
    wave_bytes: list[int] | None = None
    # Budgets at the knees of the byte miss-ratio curve (sqlwave/mrc.py), instead of wave_bytes.
    wave_bytes_auto: bool = False
    capacity: int | None = None
    reuse_sample: float | None = None
    null_keys: str = "report"
    max_inline: int = 1000
    # Layout (sqlwave/layout_export.py): keep this previous WaveSpec's layout unless the new one
    # has fewer extents per request by more than the threshold; pseudo-request length.
    previous: str | None = None
    previous_threshold: float = 0.05
    request_window: int = 16
    # With order 'auto': page sizes the tuner may choose among, and an extent's cost in bytes.
    page_bits_options: list[int] | None = None
    io_cost_bytes: int = 65536
    engine: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if not isinstance(self.engine, dict) or set(self.engine) - ENGINE_KEYS:
            raise ParameterError(f"engine takes {', '.join(sorted(ENGINE_KEYS))}, got "
                                 f"{self.engine!r}")
        text("key_col", self.key_col)
        for name in ("size_col", "request_col", "order_col", "previous"):
            text(name, getattr(self, name), optional=True)
        text("order", self.order)
        check_layout(self.page_bits, self.align_bits, self.wave_bytes, self.request_window,
                     self.page_bits_options, self.io_cost_bytes)
        check_cohorts(self.prefix_len, self.delimiter, self.depth, self.top_k, self.rank_by)
        check_key_scale(self.key_scale)
        check_capacity(self.capacity)
        if self.reuse_sample is not None:
            fraction("reuse sample rate", self.reuse_sample, 0, 1, low_open=True)
        if self.null_keys not in ("report", "error"):
            raise ParameterError(f"null_keys must be 'report' or 'error', got {self.null_keys!r}")
        whole("max_inline", self.max_inline, 0, 1_000_000)
        fraction("previous_threshold", self.previous_threshold, 0, 1, high_open=True)
        if not isinstance(self.wave_bytes_auto, bool):
            raise ParameterError(f"wave_bytes_auto must be True or False, got {self.wave_bytes_auto!r}")
        if self.wave_bytes_auto and self.wave_bytes:
            raise ParameterError("give wave budgets or ask for them at the curve's knees "
                                 "(--wave-bytes auto), not both")
        if self.page_bits_options and self.order != "auto":
            raise ParameterError("page size options (--page-bits-options) are for --order auto, "
                                 "which chooses among them; with another order give --page-bits")
        self._plain()

    def _plain(self) -> None:
        """The checked values as plain Python numbers and lists of our own: they go into the
        WaveSpec as they are, where numpy's integers would not serialise and the caller's list
        would be shared with the returned dict."""
        for name in ("depth", "top_k", "page_bits", "key_scale", "max_inline", "request_window",
                     "io_cost_bytes", "prefix_len", "align_bits", "capacity"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, operator.index(value))
        for name in ("wave_bytes", "page_bits_options"):
            values = getattr(self, name)
            if values is not None:
                setattr(self, name, [operator.index(v) for v in values])
        for name in ("reuse_sample", "previous_threshold"):
            if getattr(self, name) is not None:
                setattr(self, name, float(getattr(self, name)))
