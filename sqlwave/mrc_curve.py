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


def _ratio(a: float, b: float) -> float:
    return round(min(1.0, max(0.0, a / b)), 9) if b else 0.0


def knees(points: list[dict[str, Any]], max_knees: int = 3, min_gain: float = 0.01) -> list[int]:
    """Cache sizes at the knees of a miss-ratio curve, smallest first.

    A knee is the point farthest below the chord of the curve drawn against log(size); after
    one is found the search repeats on the part of the curve beyond it, while the knee still
    lowers the miss ratio by more than `min_gain` compared with the chord.

    >>> pts = [{"size": s, "miss_ratio": 1.0 if s < 100 else 0.1} for s in (1, 10, 99, 100, 1000)]
    >>> knees(pts)
    [100]
    """
    pts = [(math.log(p["size"]), float(p["miss_ratio"]), int(p["size"]))
           for p in points if p["size"] > 0]
    found: list[int] = []
    while len(found) < max_knees and len(pts) >= 3:
        (x0, y0, _), (x1, y1, _) = pts[0], pts[-1]
        if x1 <= x0:
            break
        depth = [(y0 + (y1 - y0) * (x - x0) / (x1 - x0) - y, -s, i)
                 for i, (x, y, s) in enumerate(pts)]
        gain, _, best = max(depth[1:-1])
        if gain <= min_gain:
            break
        found.append(pts[best][2])
        pts = pts[best:]
    return found
