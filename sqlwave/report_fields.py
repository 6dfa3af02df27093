"""Numbers read from a WaveSpec (or another input) for `sqlwave report`: each checked, so an
edited file cannot put text (or markup) where a number belongs. A bad field is a ValueError
naming it, which the report turns into `Error:`."""

from __future__ import annotations

import math
from typing import Any


def whole(value: Any, field: str, lo: int = -(2**63), hi: int = 2**63 - 1) -> int:
    """A whole number in [lo, hi] read from the input field named `field`.

    >>> whole(3.0, "x"), whole(2**62, "x")
    (3, 4611686018427387904)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{field} must be a number, got {str(value)[:40]!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{field} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{field} must be between {lo} and {hi}, got {value!r}")
    return int(value)


def finite(value: Any, field: str) -> float:
    """A finite number (a share, a ratio, a mean) read from an input field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{field} must be a finite number, got {str(value)[:40]!r}")
    return float(value)
