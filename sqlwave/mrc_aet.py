"""The Average Eviction Time (AET) model of an LRU miss-ratio curve (Hu et al., USENIX ATC'16),
with exact window sums over a finite log.

AET: with eviction time T, an access whose reuse time is t hits when t <= T, and the cache then
holds D(T), the mean number of distinct keys (or bytes) in a window of T accesses. So the curve is
the points (D(T), share of accesses with reuse time > T) for all T.

D(T) here is the exact mean over the N - T + 1 windows that lie inside the log. Count, for each
access, the windows of length T (ending anywhere from its row to T - 1 rows later) where it is
the first access to its key: min(t, T), where a first access at row p counts t = p + 1. Summed,
S(T) = sum of min(t, T) covers every window inside the log plus the T - 1 windows hanging over
its end, and those hold E(T) = sum over keys of max(0, T - a) distinct keys, a being the rows
from the key's last access to the end. So D(T) = (S(T) - E(T)) / (N - T + 1), with no
stationarity assumption; the only model step left is AET's own (a reuse of length t sees the
mean window of length t). Bytes weight every term by the object's size.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

KINDS = ("cold", "last", "reuse")


@dataclass
class ReuseBin:
    """One bin of `macros/mrc_reuse.sql`: values in [lo, hi] with their exact sums."""

    kind: str
    lo: int
    hi: int
    n: int
    t_sum: int
    size_sum: int
    size_t_sum: int


class _Below:
    """Sums over the values <= T of one histogram: exact at bin edges, uniform inside bins."""

    def __init__(self, bins: list[ReuseBin]) -> None:
        self.bins = sorted(bins, key=lambda b: b.lo)
        self.his = [b.hi for b in self.bins]
        self.prefix = [(0, 0, 0, 0)]
        for b in self.bins:
            n, t, z, zt = self.prefix[-1]
            self.prefix.append((n + b.n, t + b.t_sum, z + b.size_sum, zt + b.size_t_sum))

    def at(self, t: float) -> tuple[float, float, float, float]:
        """(count, sum of values, sum of sizes, sum of size x value) over values <= t."""
        i = bisect.bisect_right(self.his, t)
        n, ts, z, zt = self.prefix[i]
        if i < len(self.bins) and self.bins[i].lo <= t:
            b = self.bins[i]
            f = (t - b.lo + 1) / (b.hi - b.lo + 1)
            mid = (b.lo + t) / 2
            return n + f * b.n, ts + f * b.n * mid, z + f * b.size_sum, zt + f * b.size_sum * mid
        return float(n), float(ts), float(z), float(zt)


def aet_knots(bins: list[ReuseBin], unit: str) -> list[tuple[float, float, float]]:
    """(cache size D(T), miss ratio, byte miss ratio) at every bin edge T, D made non-decreasing."""
    by_kind = {k: _Below([b for b in bins if b.kind == k]) for k in KINDS}
    n_all = by_kind["reuse"].prefix[-1][0] + by_kind["cold"].prefix[-1][0]
    z_all = by_kind["reuse"].prefix[-1][2] + by_kind["cold"].prefix[-1][2]
    edges = {0, n_all} | {b.lo - 1 for b in bins} | {b.hi for b in bins}
    knots, top = [], 0.0
    for t in sorted(e for e in edges if 0 <= e <= n_all):
        reuse, cold, last = (by_kind[k].at(t) for k in ("reuse", "cold", "last"))
        if unit == "bytes":
            s = reuse[3] + cold[3] + t * (z_all - reuse[2] - cold[2])
            e = t * last[2] - last[3]
        else:
            s = reuse[1] + cold[1] + t * (n_all - reuse[0] - cold[0])
            e = t * last[0] - last[1]
        top = max(top, (s - e) / (n_all - t + 1))
        knots.append((top, 1 - reuse[0] / n_all, 1 - reuse[2] / z_all if z_all else 0.0))
    return knots


def aet_points(bins: list[ReuseBin], unit: str, grid: list[int]) -> list[dict[str, Any]]:
    """The AET miss-ratio curve at the grid's cache sizes.

    >>> bins = [ReuseBin("cold", 1, 2, 2, 3, 2, 3), ReuseBin("reuse", 2, 2, 2, 4, 2, 4),
    ...         ReuseBin("last", 1, 2, 2, 3, 2, 3)]  # a b a b
    >>> [p["miss_ratio"] for p in aet_points(bins, "objects", [1, 2])]
    [1.0, 0.5]
    """
    knots = aet_knots(bins, unit)
    sizes = [k[0] for k in knots]
    out = []
    for c in grid:
        i = max(0, bisect.bisect_right(sizes, c) - 1)
        _, m, b = knots[i]
        if i + 1 < len(knots) and sizes[i + 1] > sizes[i]:
            f = (c - sizes[i]) / (sizes[i + 1] - sizes[i])
            m, b = m + f * (knots[i + 1][1] - m), b + f * (knots[i + 1][2] - b)
        out.append({"size": int(c), "miss_ratio": round(min(1.0, max(0.0, m)), 9),
                    "byte_miss_ratio": round(min(1.0, max(0.0, b)), 9)})
    return out


def working_set(bins: list[ReuseBin], unit: str) -> int:
    """Distinct keys (or their bytes, at first access): one cold access per key."""
    cold = [b for b in bins if b.kind == "cold"]
    return sum(b.size_sum if unit == "bytes" else b.n for b in cold)
