"""Parameter checks shared by `sqlwave export` and the Python API, so both refuse the same values.

Numbers go into SQL as text (`2 ** page_bits`, `key * key_scale`): a float there would give
fractional pages or offsets without an error, so the checks want whole numbers, not just values
in range.
"""

from __future__ import annotations

import operator
from typing import Any

from sqlwave.errors import ParameterError

MAX_BITS = 40  # 1 TiB pages or alignment
MAX_DEPTH = 32  # delimiter levels the cohorts macro spells out
MAX_KEY_SCALE = 2**32
MAX_THREADS = 1024  # far above any machine's cores; 100,000 made DuckDB hang


def as_integer(value: Any) -> int | None:
    """`value` as a plain int when it is a whole number type (int, numpy's integers), else
    None: never a float (it would be truncated) nor a bool (Python counts it as an int).

    >>> as_integer(5), as_integer(True), as_integer(5.0)
    (5, None, None)
    """
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def whole(name: str, value: Any, low: int, high: int) -> int:
    """`value` as an int in [low, high]; floats, bools and strings are refused.

    >>> whole("top_k", 5, 1, 10)
    5
    >>> whole("page_bits", 1.5, 0, 40)
    Traceback (most recent call last):
    ...
    sqlwave.errors.ParameterError: page_bits must be a whole number between 0 and 40, got 1.5
    """
    number = as_integer(value)
    if number is None or not low <= number <= high:
        raise ParameterError(f"{name} must be a whole number between {low} and {high}, got {value!r}")
    return number


def check_cohorts(prefix_len: Any, delimiter: str | None, depth: Any, top_k: Any,
                  rank_by: str) -> None:
    """Cohorts by the first `prefix_len` characters or up to the `depth`-th `delimiter`."""
    if prefix_len is not None and delimiter is not None:
        raise ParameterError("give either a prefix length or a delimiter, not both")
    if prefix_len is not None:
        whole("prefix_len", prefix_len, 1, 4096)
    if delimiter is not None and (not isinstance(delimiter, str) or delimiter == ""):
        raise ParameterError(f"the delimiter must be a non-empty string, got {delimiter!r}")
    whole("depth", depth, 1, MAX_DEPTH)
    whole("top_k", top_k, 1, 100_000)
    if rank_by not in ("hits", "bytes"):
        raise ParameterError(f"rank_by must be 'hits' or 'bytes', got {rank_by!r}")


def check_bits(name: str, value: Any) -> int:
    """A power-of-two size given as its exponent (page_bits, align_bits)."""
    return whole(name, value, 0, MAX_BITS)


def check_key_scale(value: Any) -> int:
    """Bytes per integer key unit (512 for 512-byte block numbers)."""
    return whole("key_scale", value, 1, MAX_KEY_SCALE)


def check_threads(value: Any) -> int:
    """DuckDB threads for a connection."""
    return whole("threads", value, 1, MAX_THREADS)


def check_capacity(value: Any) -> None:
    """A cache capacity in bytes, or None for none."""
    if value is not None:
        whole("capacity", value, 1, 2**62)


def text(name: str, value: Any, optional: bool = False) -> None:
    """A column name or other text option (None allowed when `optional`)."""
    if (value is None and optional) or isinstance(value, str):
        return
    raise ParameterError(f"{name} must be text, got {value!r}")


def fraction(name: str, value: Any, low: float, high: float, *, low_open: bool = False,
             high_open: bool = False) -> float:
    """A real number in a range whose ends may be open; bools and NaN are refused.

    >>> fraction("reuse_sample", 0.5, 0, 1, low_open=True)
    0.5
    """
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = number and (low < value if low_open else low <= value) and (
        value < high if high_open else value <= high)
    if not ok:
        span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ParameterError(f"{name} must be a number in {span}, got {value!r}")
    return float(value)


def whole_list(name: str, values: Any, low: int, high: int) -> list[int]:
    """A list of whole numbers, each in [low, high] (a tuple is fine; a string is not)."""
    if not isinstance(values, (list, tuple)):
        raise ParameterError(f"{name} must be a list of whole numbers, got {values!r}")
    return [whole(name, v, low, high) for v in values]


def check_layout(page_bits: Any, align_bits: Any, wave_bytes: Any, request_window: Any,
                 page_bits_options: Any, io_cost_bytes: Any) -> None:
    """The page size, alignment, wave budgets and tuner settings an export and a layout share
    (ExportOptions.check, LayoutParams.check): one place, so both refuse alike."""
    check_bits("page_bits", page_bits)
    if align_bits is not None:
        check_bits("align_bits", align_bits)
    if wave_bytes is not None:
        whole_list("wave budgets (bytes)", wave_bytes, 1, 2**62)
        if not wave_bytes:
            raise ParameterError("wave budgets (bytes) must not be an empty list; give None "
                                 "for the defaults")
    whole("request_window", request_window, 1, 1_000_000)
    if page_bits_options is not None:
        whole_list("page size options (bits)", page_bits_options, 0, MAX_BITS)
    whole("io_cost_bytes", io_cost_bytes, 1, 2**40)
