"""Byte sizes as people write them: 4096, 64KiB, 1.5GiB, 2GB."""

from __future__ import annotations

import re
from fractions import Fraction

from sqlwave.errors import ParameterError

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_bytes(text: str | int, option: str = "") -> int:
    """Parse a byte size; `option` (e.g. '--capacity') is named in the error. A size with a unit
    is rounded down to whole bytes; a fraction of a plain byte count is an error.

    >>> parse_bytes("1GiB"), parse_bytes("64k"), parse_bytes(4096), parse_bytes("1.3KiB")
    (1073741824, 65536, 4096, 1331)
    """
    if isinstance(text, int):
        value = text
    else:
        match = _PATTERN.match(text)
        unit = match.group(2).lower() if match else ""
        if not match or unit not in _UNITS:
            raise ParameterError(f"{option + ': ' if option else ''}cannot read {text!r} as a byte "
                                 "size; write e.g. 4096, 64KiB or 1GiB")
        # Exact: through a float, integers above 2^53 would be rounded.
        exact = Fraction(match.group(1)) * _UNITS[unit]
        # 1.3GiB is 1395864371.2 bytes: rounded down; half a byte written as one is a slip.
        if exact.denominator != 1 and _UNITS[unit] == 1:
            raise ParameterError(f"{option + ': ' if option else ''}{text!r} is not a whole "
                                 "number of bytes; write e.g. 4096, 64KiB or 1GiB")
        value = int(exact)
    if value <= 0:
        raise ParameterError(f"{option + ': ' if option else ''}a byte size must be positive, "
                             f"got {text!r}")
    return value


def parse_byte_list(text: str, option: str = "") -> list[int]:
    """Parse a comma-separated list of byte sizes.

    >>> parse_byte_list("1GiB,8GiB")
    [1073741824, 8589934592]
    """
    return [parse_bytes(part, option) for part in _items(text, option, "1GiB,8GiB")]


def parse_int_list(text: str, option: str, example: str = "12,16,20") -> list[int]:
    """Comma-separated integers given to `option`.

    >>> parse_int_list("12, 16,20", "--page-bits-options")
    [12, 16, 20]
    """
    try:
        return [int(x) for x in _items(text, option, example)]
    except ValueError as e:
        raise ParameterError(f"{option} must be comma-separated integers such as {example}, "
                             f"got {text!r}") from e


def _items(text: str, option: str, example: str) -> list[str]:
    """The comma-separated items of `text`; an empty one is refused: `1GiB,,8GiB` is more likely
    a slip than a request for two budgets."""
    items = text.split(",")
    if not all(item.strip() for item in items):
        what = f"an empty item in {text!r}" if text.strip() else "an empty list"
        raise ParameterError(f"{option + ': ' if option else ''}{what}; write e.g. {example}")
    return items


def human_bytes(n: int) -> str:
    """A byte count in binary units, rounded to one decimal.

    >>> human_bytes(1536), human_bytes(1048575), human_bytes(2**63 - 1)
    ('1.5 KiB', '1.0 MiB', '8.0 EiB')
    """
    value = float(n)
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    for unit in units:
        # Compared after rounding, so 1048575 reads 1.0 MiB rather than 1024.0 KiB.
        if round(value, 1) < 1024 or unit == units[-1]:
            return f"{n:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
