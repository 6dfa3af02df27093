"""The cohorts macro keeps only top-k candidates before its hash60 tie-break; check its ranking
against a plain Python reference on many small, tie-heavy usage tables."""

from __future__ import annotations

import hashlib
import random

import duckdb
import pytest

from sqlwave.macros import render


def _h60(text: str) -> int:
    return int(hashlib.md5(text.encode()).hexdigest()[:15], 16)


def _cohort(key: str, depth: int) -> str:
    parts = key.split(".", depth)
    return ".".join(parts[:depth]) if len(parts) > depth else key


def _reference(usage: list[tuple[str, int, int]], depth: int, rank_by: str,
               top_k: int) -> list[tuple[int, str, int, int, int]]:
    groups: dict[str, list[int]] = {}
    for key, hits, nbytes in usage:
        g = groups.setdefault(_cohort(key, depth), [0, 0, 0])
        g[0], g[1], g[2] = g[0] + 1, g[1] + hits, g[2] + nbytes
    first, second = (1, 2) if rank_by == "hits" else (2, 1)
    order = sorted(groups.items(), key=lambda kv: (-kv[1][first], -kv[1][second],
                                                   _h60(kv[0]), kv[0]))
    return [(i + 1, c, k, h, b) for i, (c, (k, h, b)) in enumerate(order[:top_k])]


@pytest.mark.parametrize("seed", range(40))
def test_top_k_matches_reference(seed: int) -> None:
    rng = random.Random(seed)
    keys = {f"{rng.choice('abcdef')}.{rng.choice('xyz')}.{rng.randint(0, 3)}"
            f"{rng.choice(['', '.w'])}" for _ in range(rng.randint(1, 40))}
    usage = [(k, rng.randint(1, 3), rng.choice([1, 2, 4])) for k in sorted(keys)]
    con = duckdb.connect()
    con.execute("CREATE TABLE u (key VARCHAR, hits BIGINT, bytes BIGINT)")
    con.executemany("INSERT INTO u VALUES (?, ?, ?)", usage)
    for rank_by in ("hits", "bytes"):
        depth, top_k = rng.randint(1, 3), rng.randint(1, 12)
        sql = render("cohorts", src="u", text_keys=True, mode="delimiter", prefix_len="0",
                     delimiter="'.'", depth=str(depth), max_depth=3, rank_by=rank_by,
                     top_k=str(top_k))
        got = [tuple(r[:5]) for r in con.execute(sql).fetchall()]
        assert got == _reference(usage, depth, rank_by, top_k)
