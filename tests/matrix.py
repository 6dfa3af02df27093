"""The dialect matrix as data: inputs, the macro chain every engine runs, and row comparison."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sqlwave.embedding import EMBEDS
from sqlwave.render import render, transpile

# The macros in chain order; each reads the tables made by the ones before it.
CHAIN = ("usage", "cohorts", "pack_order", "waves", "wave_summary", "pack_extents", "extents",
         "metrics", "reuse")
TABLES = {"usage": "usage", "pack_order": "pack_order", "waves": "waves"}
UNORDERED = {"usage", "waves"}  # no ORDER BY in the macro: compared as multisets


@dataclass(frozen=True)
class Input:
    """An access log and the macro parameters that exercise it."""

    name: str
    table: Callable[[], pa.Table]
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    address: str = "byte_offset"


def nasty_text() -> pa.Table:
    """NULL keys, keys that differ only in case, multibyte UTF-8, exact ties, page boundaries."""
    base = [("a/b/1", 16), ("A/b/1", 16), ("a/B/1", 15), ("ü/é/1", 17), ("日本/語/x", 32),
            ("日本/語/y", 1), ("a/b/2", 16), ("🙂/x", 33), ("b", 0), ("a/c", 48), ("Ä/ö", 16),
            (None, 5), ("", 7), ("a//b", 16)]
    rows: list[tuple[str | None, int]] = []
    for rep in range(3):
        rows += [r for i, r in enumerate(base) if i % (rep + 1) == 0 or r[0] in ("a/b/1", "A/b/1")]
    return pa.table({
        "key": [k for k, _ in rows],
        "size": pa.array([s for _, s in rows], pa.int64()),
        "request": pa.array([i // 4 for i in range(len(rows))], pa.int64()),
        "pos": pa.array(range(len(rows)), pa.int64()),
    })


def nasty_integer() -> pa.Table:
    """Negative integer keys around page boundaries, a NULL key, exact ties, and keys past 2^53
    (where a double division loses the low bits: pages must come out exact)."""
    keys = [-17, -16, -15, -1, 0, 1, 15, 16, 17, 31, 32, None, -17, 16, 0, -1, 33, 64, 65, None,
            2**60 + 1, 2**60 + 3, -(2**60) - 7, 2**60 + 1]
    return pa.table({
        "key": pa.array(keys, pa.int64()),
        "size": pa.array([(abs(k or 0) % 5) * 4 + 1 for k in keys], pa.int64()),
        "request": pa.array([i // 3 for i in range(len(keys))], pa.int64()),
        "pos": pa.array(range(len(keys)), pa.int64()),
    })


def trace_slice(path: str, rows: int = 20_000) -> pa.Table:
    t = pq.read_table(path, columns=["key", "size", "request_id"]).slice(0, rows)
    return pa.table({"key": t["key"].cast(pa.int64()), "size": t["size"].cast(pa.int64()),
                     "request": t["request_id"].cast(pa.int64()),
                     "pos": pa.array(range(t.num_rows), pa.int64())})


SMALL = {"pack_order": {"align": "16"}, "waves": {"boundaries": ["64", "256"]},
         "pack_extents": {"page_size": "16"}, "extents": {"page_size": "16"},
         "metrics": {"capacity": "1000"}}
INTEGER_COHORTS = {"text_keys": False, "mode": "prefix", "prefix_len": "2", "max_depth": 1,
                   "depth": "0", "delimiter": "''"}


def params(inp: Input, macro: str) -> dict[str, Any]:
    return {**EMBEDS[macro].params, **inp.overrides.get(macro, {})}


def run_chain(engine: Any, inp: Input, table: pa.Table) -> dict[str, Any]:
    """Every macro on `engine`; a failing step records its exception and the chain goes on."""
    out: dict[str, Any] = {}
    engine.load("access_log", table)
    for macro in CHAIN:
        try:
            if macro == "extents":
                engine.create("objects", transpile(
                    f"SELECT {inp.address} AS address, size, hits, bytes, wave FROM waves",
                    engine.dialect))
            sql = render(macro, engine.dialect, **params(inp, macro))
            if macro in TABLES:
                engine.create(TABLES[macro], sql)
            # The rows come from the macro's own query, with its ORDER BY: a scan of the
            # materialised table has no order (DataFusion returns its partitions in any order).
            rows = engine.rows(sql)
            out[macro] = sorted(rows, key=repr) if macro in UNORDERED else rows
        except Exception as e:  # recorded per step; the test re-raises it  # noqa: BLE001
            out[macro] = e
    return out


def same(a: Any, b: Any) -> bool:
    """Equal values of the same type; NULL matches only NULL (IS NOT DISTINCT FROM)."""
    if a is None or b is None:
        return a is None and b is None
    return type(a) is type(b) and a == b


def diff(expected: list[tuple[Any, ...]], got: list[tuple[Any, ...]]) -> str | None:
    """The first difference between two row lists, or None when they are identical."""
    if len(expected) != len(got):
        return f"{len(got)} rows, expected {len(expected)}"
    for i, (e, g) in enumerate(zip(expected, got, strict=True)):
        if len(e) != len(g) or not all(same(x, y) for x, y in zip(e, g, strict=True)):
            return f"row {i}: got {g!r}, expected {e!r}"
    return None
