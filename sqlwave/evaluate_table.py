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
from sqlwave.replay import bucket_of

# A config joins the grid when it was measured on at least this share of the fit shapes.
GRID_COVERAGE = 0.75
NOISE = 1.03  # "beats" means by more than measurement noise (NOTES-policy.md)


def table_report(shapes: dict[tuple[Any, ...], list[dict[str, Any]]], device: dict[str, Any],
                 baseline_picks: dict[str, dict[tuple[Any, ...], dict[str, Any]]]) -> dict[str, Any]:
    """The table section of evaluate-policy: `shapes` are all measured shapes (both splits),
    `baseline_picks` each baseline's pick per shape. One table per dtype, as serving keeps."""
    fit = {s: c for s, c in shapes.items() if split_of(*map(int, s[:3])) == "fit"}
    held = {s: c for s, c in shapes.items() if split_of(*map(int, s[:3])) == "holdout"}
    if not fit or not held:
        return {"judged_shapes": 0, "note": "needs shapes on both sides of the split"}
    regrets: list[float] = []
    versus: dict[str, list[float]] = {name: [] for name in baseline_picks}
    skipped, grids, notes = 0, {}, []
    for dtype in sorted({c[0]["dtype"] for c in held.values()}):
        fit_d = {s: c for s, c in fit.items() if c[0]["dtype"] == dtype}
        held_d = {s: c for s, c in held.items() if c[0]["dtype"] == dtype}
        table, note = _tuned_table(fit_d, device)
        if table is None:
            skipped += len(held_d)
            notes.append(f"{dtype}: {note}")
            continue
        grids[dtype] = note
        keys = tuple(sorted(table))
        for shape, cands in held_d.items():
            measured = {c["policy"]: c["t"] for c in cands}
            policy = table[bucket_of(int(shape[0]), keys)]
            if policy not in measured:
                skipped += 1
                continue
            regrets.append(measured[policy] / min(measured.values()))
            for name, picks in baseline_picks.items():
                versus[name].append(picks[shape]["t"] / measured[policy])
    out: dict[str, Any] = {"grid": grids, "fit_shapes": len(fit), "judged_shapes": len(regrets),
                           "skipped_shapes": skipped}
    if notes:
        out["notes"] = notes
    if regrets:
        out["regret"] = {k: v for k, v in summarise(regrets, regrets).items()
                         if k != "top3_geomean_regret"}
        out["versus"] = {name: head_to_head(ratios) for name, ratios in versus.items()}
    return out


def _tuned_table(fit: dict[tuple[Any, ...], list[dict[str, Any]]],
                 device: dict[str, Any]) -> tuple[dict[int, StagedPolicy] | None, Any]:
    """The per-M table `replay` makes for the fit shapes over the configs measured on most of
    them, and the grid's size; or None and why not."""
    import pyarrow as pa

    from sqlwave.errors import ParameterError
    from sqlwave.replay import TuneOptions, replay_and_tune

    if not fit:
        return None, "no fit shape of this dtype"
    seen = Counter(p for cands in fit.values() for p in {c["policy"] for c in cands})
    grid = sorted(p for p, n in seen.items() if n >= GRID_COVERAGE * len(fit))
    if not grid:
        return None, f"no config measured on {GRID_COVERAGE:.0%} of the fit shapes"
    problems = pa.table({"m": [int(s[0]) for s in fit], "n": [int(s[2]) for s in fit],
                         "k": [int(s[1]) for s in fit],
                         "dtype": [c[0]["dtype"] for c in fit.values()]})
    try:
        doc = replay_and_tune(problems, device, TuneOptions(grid=grid, progress=False))
    except ParameterError as e:  # e.g. no policy of the grid fits a bucket
        return None, str(e)
    return {int(m): policy_from_mapping(config) for m, config in doc["table"].items()}, len(grid)


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
