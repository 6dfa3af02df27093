"""Refit the proxy model's constants on the fit split of the H100 timm timings; report both splits.

    python benchmarks/fit_policy_model.py [--iterations 150]

The constants shipped in sqlwave/data/devices.json came from this procedure (Nelder-Mead in log
space on a soft-min regret, temperature annealed 0.1 -> 0.05 -> 0.02, fit split only), then
rounded; a rerun starts from them and should move them little. The held-out shapes (hash of
(m, k, n), ~30 %) are never looked at while fitting.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlwave.evaluate import estimate, read_candidates, split_of  # noqa: E402
from sqlwave.policy import load_device, model_constants  # noqa: E402

DATA = Path(os.environ.get("SQLWAVE_SHARED_DATA", ROOT.parent / "shared" / "data"))
# (constant, where it lives): the ones refitted here. Rankings do not change when every time
# term is scaled alike, and a joint refit drifts along that flat valley (it inflates the SM-side
# terms until the DRAM term vanishes, for the same held-out regret). So the two bandwidth
# constants, l2_bandwidth_tbs 8.6 and hbm_efficiency 0.92 (from the first joint fit), stay put
# and pin the time scale; the three SM-side constants are refitted.
FITTED = [("mma_sync_efficiency", "model"), ("k_step_latency_us", "model"),
          ("k_step_cycles", "model")]


def apply(x: list[float]) -> tuple[dict[str, Any], dict[str, Any]]:
    dev, model = load_device("h100"), model_constants()
    for (name, where), value in zip(FITTED, x, strict=True):
        (dev if where == "device" else model)[name] = round(math.exp(value), 6)
    return dev, model


def soft_regret(rows: list[dict[str, Any]], shapes: list[list[int]], tau: float) -> float:
    """Mean over shapes of the softmin(log est / tau)-weighted log regret: smooth in constants."""
    total = 0.0
    for idx in shapes:
        best = min(rows[i]["t"] for i in idx)
        logs = [math.log(rows[i]["est"]) if math.isfinite(rows[i]["est"]) else 1e3 for i in idx]
        low = min(logs)
        weights = [math.exp(-(v - low) / tau) for v in logs]
        total += math.fsum(w * math.log(rows[i]["t"] / best)
                           for w, i in zip(weights, idx, strict=True)) / math.fsum(weights)
    return total / len(shapes)


def top1(rows: list[dict[str, Any]], shapes: list[list[int]]) -> float:
    logs = []
    for idx in shapes:
        pick = min(idx, key=lambda i: (rows[i]["est"], rows[i]["policy"]))
        logs.append(math.log(rows[pick]["t"] / min(rows[i]["t"] for i in idx)))
    return math.exp(math.fsum(logs) / len(logs))


def _towards(centre: list[float], worst: list[float], t: float) -> list[float]:
    return [c + t * (w - c) for c, w in zip(centre, worst, strict=True)]


def nelder_mead(f: Callable[[list[float]], float], x0: list[float], iterations: int,
                step: float = 0.3) -> list[float]:
    """Plain Nelder-Mead (no SciPy needed): reflection, expansion, contraction, shrink."""
    pts = [list(x0)] + [[v + (step if j == i else 0.0) for j, v in enumerate(x0)]
                        for i in range(len(x0))]
    vals = [f(p) for p in pts]
    for _ in range(iterations):
        order = sorted(range(len(pts)), key=lambda i: vals[i])
        pts, vals = [pts[i] for i in order], [vals[i] for i in order]
        centre = [sum(p[j] for p in pts[:-1]) / (len(pts) - 1) for j in range(len(x0))]
        worst = pts[-1]
        refl = _towards(centre, worst, -1.0)
        fr = f(refl)
        if fr < vals[0]:
            exp_ = _towards(centre, worst, -2.0)
            fe = f(exp_)
            pts[-1], vals[-1] = (exp_, fe) if fe < fr else (refl, fr)
        elif fr < vals[-2]:
            pts[-1], vals[-1] = refl, fr
        else:
            con = _towards(centre, worst, 0.5)
            fc = f(con)
            if fc < vals[-1]:
                pts[-1], vals[-1] = con, fc
            else:
                pts = [pts[0]] + [[b + 0.5 * (v - b) for b, v in zip(pts[0], p, strict=True)]
                                  for p in pts[1:]]
                vals = [vals[0]] + [f(p) for p in pts[1:]]
    return pts[min(range(len(pts)), key=lambda i: vals[i])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=150, help="per temperature")
    args = parser.parse_args()
    rows = read_candidates(str(DATA / "gemm" / "h100_timm_timings.parquet"))
    by_shape: dict[Any, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_shape[r["shape"]].append(i)
    split = {s: split_of(*map(int, s[:3])) for s in by_shape}
    fit = [v for s, v in by_shape.items() if split[s] == "fit"]
    hold = [v for s, v in by_shape.items() if split[s] == "holdout"]

    def report(label: str, x: list[float]) -> None:
        dev, model = apply(x)
        estimate(rows, dev, model)
        print(f"{label}: fit top-1 {top1(rows, fit):.4f} ({len(fit)} shapes), held-out top-1 "
              f"{top1(rows, hold):.4f} ({len(hold)} shapes)")

    shipped_dev, shipped_model = load_device("h100"), model_constants()
    x = [math.log((shipped_dev if w == "device" else shipped_model)[n]) for n, w in FITTED]
    report("shipped constants", x)
    for tau in (0.1, 0.05, 0.02):
        def objective(v: list[float], tau: float = tau) -> float:
            dev, model = apply(v)
            estimate(rows, dev, model)
            return soft_regret(rows, fit, tau)
        x = nelder_mead(objective, x, args.iterations)
    print("refitted:", {n: round(math.exp(v), 4) for (n, _), v in zip(FITTED, x, strict=True)})
    report("refitted constants", x)


if __name__ == "__main__":
    main()
