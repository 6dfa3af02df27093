"""What every contender computes, written once: parameters and the JSON it prints.

The contenders compute what `sqlwave export` puts in its WaveSpec for cohorts, pack order and
extents (delimiter '.', depth 3, top 20 by hits; pack order `hot`, 4 KiB-aligned offsets; extents
of 4 KiB pages over the packed offsets), from the same per-key usage (hits, bytes, size, first
and last position), so the benchmark can check their answers are identical. Like the export, they
do not count distinct requests per key: nothing in a WaveSpec reads them.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

DELIMITER = "."
DEPTH = 3
TOP_K = 20
PAGE = 4096
MAX_INLINE = 1000


def h60(text: str) -> int:
    """sqlwave's tie-break: the first 15 hex digits of md5(text) as an integer.

    >>> h60("a")
    54048967587011961
    """
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:15], 16)


def cohort_of(key: str) -> str:
    """The key up to its DEPTH-th delimiter (the whole key when it has fewer).

    >>> cohort_of("model.layers.12.mlp.w1"), cohort_of("a.b")
    ('model.layers.12', 'a.b')
    """
    parts = key.split(DELIMITER, DEPTH)
    return DELIMITER.join(parts[:DEPTH]) if len(parts) > DEPTH else key


def emit(result: dict[str, Any]) -> None:
    """Write the result as JSON to the file named by argv[2]."""
    with open(sys.argv[2], "w", encoding="utf-8") as fh:
        json.dump(result, fh)
