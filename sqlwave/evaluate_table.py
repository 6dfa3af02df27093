"""Judge what `sqlwave replay` ships, a per-M table, on measured timings of unseen shapes.

The per-shape figures of evaluate.py rank each shape's own measured candidates. A serving
table is coarser: one config per M bucket, chosen from a grid over a workload. Here the grid is
the configs measured on most shapes, the workload the fit shapes (`split_of`), and each held-out
shape is served by its bucket's config, as serving code would look it up (nearest M key). A
held-out shape whose table config was never measured cannot be judged and is counted apart.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlwave.evaluate import split_of, summarise
from sqlwave.policy import StagedPolicy, policy_from_mapping

# A config joins the grid when it was measured on at least this share of the fit shapes.
GRID_COVERAGE = 0.75
NOISE = 1.03  # "beats" means by more than measurement noise (NOTES-policy.md)


def table_report(shapes: dict[tuple[Any, ...], list[dict[str, Any]]], device: dict[str, Any],
                 baseline_picks: dict[str, dict[tuple[Any, ...], dict[str, Any]]]) -> dict[str, Any]:
    """The table section of evaluate-policy: `shapes` are all measured shapes (both splits),
    `baseline_picks` each baseline's pick per shape."""
    import pyarrow as pa

    from sqlwave.replay import TuneOptions, bucket_of, replay_and_tune

    fit = {s: c for s, c in shapes.items() if split_of(*map(int, s[:3])) == "fit"}
    held = {s: c for s, c in shapes.items() if split_of(*map(int, s[:3])) == "holdout"}
    if not fit or not held:
        return {"judged_shapes": 0, "note": "needs shapes on both sides of the split"}
    seen = Counter(c["policy"] for cands in fit.values() for c in {x["policy"]: x for x in cands}.values())
    grid = sorted(p for p, n in seen.items() if n >= GRID_COVERAGE * len(fit))
    problems = pa.table({"m": [int(s[0]) for s in fit], "n": [int(s[2]) for s in fit],
                         "k": [int(s[1]) for s in fit],
                         "dtype": [fit[s][0]["dtype"] for s in fit]})
    doc = replay_and_tune(problems, device, TuneOptions(grid=grid, progress=False))
    table = {int(m): policy_from_mapping(config) for m, config in doc["table"].items()}
    keys = tuple(sorted(table))
    regrets: list[float] = []
    versus: dict[str, list[float]] = {name: [] for name in baseline_picks}
    skipped = 0
    for shape, cands in held.items():
        measured = {c["policy"]: c["t"] for c in cands}
        policy: StagedPolicy = table[bucket_of(int(shape[0]), keys)]
        if policy not in measured:
            skipped += 1
            continue
        regrets.append(measured[policy] / min(measured.values()))
        for name, picks in baseline_picks.items():
            versus[name].append(picks[shape]["t"] / measured[policy])
    if not regrets:
        return {"judged_shapes": 0, "skipped_shapes": skipped, "grid": len(grid)}
    return {
        "grid": len(grid),
        "fit_shapes": len(fit),
        "judged_shapes": len(regrets),
        "skipped_shapes": skipped,
        "regret": {k: v for k, v in summarise(regrets, regrets).items()
                   if k != "top3_geomean_regret"},
        "versus": {name: head_to_head(ratios) for name, ratios in versus.items()},
    }


def head_to_head(ratios: list[float]) -> dict[str, float]:
    """t(baseline's pick) / t(ours) per shape: geomean speed-up, shares won and lost by more
    than the noise, and the worst shape.

    >>> head_to_head([2.0, 1.0, 0.5, 1.0])
    {'speedup_geomean': 1.0, 'won': 0.25, 'lost': 0.25, 'worst': 0.5}
    """
    from sqlwave.evaluate import geomean

    return {
        "speedup_geomean": round(geomean(ratios), 4),
        "won": round(sum(1 for r in ratios if r > NOISE) / len(ratios), 4),
        "lost": round(sum(1 for r in ratios if r < 1 / NOISE) / len(ratios), 4),
        "worst": round(min(ratios), 4),
    }
