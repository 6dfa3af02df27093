"""Miss-ratio curve arithmetic in plain Python: size grids, points, knees.

Everything here works on small inputs (a histogram, a grid of ~130 sizes), so it needs no
engine; the per-access work happens in SQL (`macros/stack_distance.sql`, `macros/mrc_reuse.sql`).
"""

from __future__ import annotations

import math
from typing import Any

GRID_POINTS = 64


def size_grid(working_set: float, points: int = GRID_POINTS) -> list[int]:
    """Cache sizes from 1 to the working set: geometric and linear steps merged, so both the
    small-cache head and the whole range have points (at least 50 when the set is that large).

    >>> g = size_grid(1000); g[0], g[-1], len(g) >= 50, g == sorted(set(g))
    (1, 1000, True, True)
    >>> size_grid(3)
    [1, 2, 3]
    """
    top = max(1, math.ceil(working_set))
    sizes = {top}
    for i in range(points):
        sizes.add(max(1, round(top ** (i / (points - 1)))))
        sizes.add(max(1, round(top * (i + 1) / points)))
    return sorted(sizes)


def curve_points(grid: list[int], hits: list[float], hit_bytes: list[float], accesses: float,
                 total_bytes: float) -> list[dict[str, Any]]:
    """Points {size, miss_ratio, byte_miss_ratio} from cumulative hits at each grid size.

    Ratios are clamped to [0, 1] (a sampled estimate can overshoot) and rounded to 9 digits so
    the JSON is byte-identical whatever the float path.

    >>> curve_points([1, 2], [1, 3], [10, 30], 4, 40)[1]
    {'size': 2, 'miss_ratio': 0.25, 'byte_miss_ratio': 0.25}
    """
    return [{"size": int(s), "miss_ratio": _ratio(accesses - h, accesses),
             "byte_miss_ratio": _ratio(total_bytes - b, total_bytes)}
            for s, h, b in zip(grid, hits, hit_bytes, strict=False)]


def splice(head: list[dict[str, Any]], tail: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The head's points, then the tail's at larger sizes, capped at the head's last ratios.

    Two estimates meet here (time windows below, SHARDS above); capping keeps the curve
    non-increasing without moving the head, whose ratios are the better measured.

    >>> head = [{"size": 1, "miss_ratio": 0.5, "byte_miss_ratio": 0.6}]
    >>> tail = [{"size": s, "miss_ratio": m, "byte_miss_ratio": 0.1} for s, m in [(1, 0), (2, 0.7)]]
    >>> [(p["size"], p["miss_ratio"], p["byte_miss_ratio"]) for p in splice(head, tail)]
    [(1, 0.5, 0.6), (2, 0.5, 0.1)]
    """
    if not head:
        return tail
    last = head[-1]
    return head + [{"size": p["size"], "miss_ratio": min(p["miss_ratio"], last["miss_ratio"]),
                    "byte_miss_ratio": min(p["byte_miss_ratio"], last["byte_miss_ratio"])}
                   for p in tail if p["size"] > last["size"]]


def _ratio(a: float, b: float) -> float:
    return round(min(1.0, max(0.0, a / b)), 9) if b else 0.0


def knees(points: list[dict[str, Any]], max_knees: int = 3, min_gain: float = 0.01) -> list[int]:
    """Cache sizes at the knees of a miss-ratio curve, smallest first.

    A knee of a stretch of the curve, drawn against log(size), is its point farthest below the
    chord; its gain is that distance in miss ratio. Greedily, the stretch with the largest gain
    is split at its knee, until `max_knees` are found or no knee gains more than `min_gain`.

    >>> pts = [{"size": s, "miss_ratio": 1.0 if s < 100 else 0.1} for s in (1, 10, 99, 100, 1000)]
    >>> knees(pts)
    [100]
    """
    pts = [(math.log(p["size"]), float(p["miss_ratio"]), int(p["size"]))
           for p in points if p["size"] > 0]
    stretches = [(0, len(pts) - 1)]
    found: list[int] = []
    while len(found) < max_knees:
        scored = [(_knee(pts, lo, hi), lo, hi) for lo, hi in stretches]
        (gain, best), lo, hi = max(scored, default=((0.0, -1), 0, 0))
        if gain <= min_gain:
            break
        found.append(pts[best][2])
        stretches.remove((lo, hi))
        stretches += [(lo, best), (best, hi)]
    return sorted(found)


def _knee(pts: list[tuple[float, float, int]], lo: int, hi: int) -> tuple[float, int]:
    """(gain, index) of the point of pts[lo..hi] farthest below their chord; ties: smaller size."""
    (x0, y0, _), (x1, y1, _) = pts[lo], pts[hi]
    if hi - lo < 2 or x1 <= x0:
        return 0.0, -1
    gain, _, best = max((y0 + (y1 - y0) * (x - x0) / (x1 - x0) - y, -i, i)
                        for i, (x, y, _) in enumerate(pts[lo + 1:hi], start=lo + 1))
    return gain, best
