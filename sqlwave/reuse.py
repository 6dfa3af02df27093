"""Reuse-time histogram, exact or from a stratified sample of keys.

Per-access work (a lag() over every access) costs far more than the usage scan, so large logs
are sampled by key: every access of a kept key is kept, so its reuse times are exact. Uniform key
sampling alone is unbiased but noisy on skewed logs, where a few hot keys carry most reuses. So
the sample has two strata: the hottest keys, up to about `rate` x accesses, are kept whole
(weight 1), and the other keys are hash-sampled at `rate` (weight 1 / rate). The expected work
is about twice `rate` x accesses.
"""

from __future__ import annotations

from typing import Any

from sqlwave.engine import fetch_dicts
from sqlwave.log import LOG_VIEW
from sqlwave.macros import render

MODULUS = 1 << 20
MAX_BUCKET = 48


def heavy_threshold(hits_counts: list[tuple[int, int]], budget: float) -> int:
    """The smallest hits value H such that keys with hits >= H are kept whole: hits classes
    are added hottest first while the accesses already taken are under `budget` (so the
    hottest class is always in, even when it alone exceeds the budget).

    >>> heavy_threshold([(1, 100), (5, 10), (50, 2)], budget=100)
    50
    >>> heavy_threshold([(1, 100), (5, 10), (50, 2)], budget=101)
    5
    >>> heavy_threshold([(1, 100), (500, 1)], budget=10)
    500
    """
    taken, threshold = 0, None
    for hits, n in sorted(hits_counts, reverse=True):
        if taken >= budget:
            break
        taken += hits * n
        threshold = hits
    assert threshold is not None
    return threshold


def reuse_histogram(con: Any, usage: str, rate: float) -> dict[str, Any]:
    """The histogram section of the WaveSpec metrics, exact when rate >= 1."""
    keep, heavy = "", None
    if rate < 1:
        counts = [(int(h), int(n)) for h, n in con.execute(
            f"SELECT hits, count(*) FROM {usage} WHERE key IS NOT NULL GROUP BY hits ORDER BY hits"
        ).fetchall()]
        heavy = heavy_threshold(counts, rate * sum(h * n for h, n in counts))
        # Integer arithmetic on hash60, so every engine keeps the same keys.
        keep = f" AND (hits >= {heavy} OR h60 % {MODULUS} < {round(rate * MODULUS)})"
    sampled = f"(SELECT key, hits, h60 FROM {usage} WHERE key IS NOT NULL{keep})"
    # The per-key window partitions on hash60 (an integer) instead of the key text when no two
    # keys share one, which the check confirms; a shared hash60 falls back to the key itself.
    collisions = con.execute(
        f"SELECT count(*) - count(DISTINCT h60) FROM {usage} WHERE key IS NOT NULL"
    ).fetchall()[0][0]
    src = f"(SELECT key, pos FROM {LOG_VIEW} WHERE key IS NOT NULL)"
    rows = fetch_dicts(con, render("reuse", src=src, sampled=sampled, max_bucket=MAX_BUCKET,
                                   sampled_id=None if collisions else "h60"))
    return {
        "method": "exact" if heavy is None else "stratified-key-sample",
        "sample_rate": min(rate, 1.0),
        "heavy_hits": heavy,
        "unit": "accesses",
        "buckets": _buckets(rows, heavy, rate),
    }


def _buckets(rows: list[dict[str, Any]], heavy: int | None, rate: float) -> list[dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for r in rows:  # ordered by bucket, hits: the float sums below always run in one order
        b = int(r["bucket"])
        entry = out.setdefault(b, {"bucket": b, "lo": 2**b, "hi": 2 ** (b + 1), "reuses": 0,
                                   "estimate": 0.0})
        n, hits = int(r["reuses"]), int(r["hits"])
        entry["reuses"] += n
        entry["estimate"] += n if heavy is None or hits >= heavy else n / rate
    for entry in out.values():
        entry["estimate"] = round(entry["estimate"], 3)
    return [out[b] for b in sorted(out)]
