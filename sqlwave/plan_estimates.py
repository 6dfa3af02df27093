"""Estimates of a trace's plan from sqlglot's view of each step and Parquet footers (no data read).

Bytes flow through the steps as upper bounds: a step's input is the sum of what it scans (a bound
tag: the uncompressed Parquet bytes of the columns the step mentions, all of them for `*`; an
earlier step: that step's estimated output), and, without
cardinality statistics, a step's output is estimated as its input. Shuffle bytes are the input of
each repartition point, so they grow with both the number of repartitions and the input size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlglot.expressions as exp

from sqlwave.plan_metrics import COUNT_KEYS, PlanMetrics, step_counts

if TYPE_CHECKING:
    from sqlwave.trace import Trace


def estimate(trace: Trace, queries: Sequence[exp.Expr],
             stats: Mapping[str, Mapping[str, Any]]) -> PlanMetrics:
    """PlanMetrics with counts and estimates; `stats` maps bound tags to parquet_stats()."""
    names = [s.name for s in trace.steps]
    reads = [relations_read(q, set(trace.inputs) | set(names)) for q in queries]
    used = [referenced_columns(q) for q in queries]
    size = {t: _tag_bytes(stats.get(t), _union([u for u, r in zip(used, reads, strict=True)
                                                if t in r])) for t in trace.inputs}
    per_step: list[dict[str, Any]] = []
    notes: list[str] = []
    shuffle = 0
    for name, query, read, cols in zip(names, queries, reads, used, strict=True):
        counts, step_notes = step_counts(query)
        in_bytes = sum(_tag_bytes(stats.get(r), cols) if r in trace.inputs else size.get(r, 0)
                       for r in read)
        size[name] = in_bytes
        shuffle += counts["repartitions"] * in_bytes
        per_step.append({"step": name, "reads": read, **counts, "input_bytes": in_bytes})
        notes.extend(f"step {name!r}: {n}" for n in step_notes)
    totals = {k: sum(int(s[k]) for s in per_step) for k in COUNT_KEYS}
    rows = sum(int(stats[t]["rows"]) for t in trace.inputs if t in stats)
    input_bytes = sum(size[t] for t in trace.inputs if _is_read(t, reads))
    reuse, hint, reuse_notes = _reuse(reads)
    estimated: dict[str, Any] = {
        "input_rows": rows, "input_bytes": input_bytes,
        "input_file_bytes": sum(int(stats[t]["file_bytes"]) for t in trace.inputs if t in stats),
        "shuffle_bytes": shuffle, "avg_row_bytes": round(input_bytes / rows, 3) if rows else None,
        "reuse_proxy": reuse, "occupancy_proxy": _occupancy(trace, reads, size, input_bytes)}
    return PlanMetrics(totals, per_step, estimated, pack_order_hint=hint,
                       notes=notes + reuse_notes)


def referenced_columns(query: exp.Expr) -> set[str] | None:
    """Lower-case column names a query mentions; None when a projection is `*` (all columns).

    >>> sorted(referenced_columns(exp.maybe_parse("SELECT a, count(*) FROM t GROUP BY b")))
    ['a', 'b']
    >>> referenced_columns(exp.maybe_parse("SELECT t.* FROM t")) is None
    True
    """
    for select in query.find_all(exp.Select):
        for projection in select.expressions:
            if isinstance(projection, exp.Star) or (
                    isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)):
                return None
    return {c.name.lower() for c in query.find_all(exp.Column) if c.name}


def _union(sets: Sequence[set[str] | None]) -> set[str] | None:
    if any(s is None for s in sets):
        return None
    return set().union(*[s for s in sets if s is not None])


def _tag_bytes(stat: Mapping[str, Any] | None, columns: set[str] | None) -> int:
    """Uncompressed Parquet bytes of the columns read (all of them for `*`)."""
    if stat is None:
        return 0
    if columns is None:
        return int(stat["bytes"])
    return sum(int(b) for name, b in stat["columns"].items() if name in columns)


def relations_read(query: exp.Expr, names: set[str]) -> list[str]:
    """Names from `names` that a query scans, in order of appearance (repeats kept: two scans)."""
    from sqlwave.safety import cte_in_scope

    lowered = {n.lower(): n for n in names}
    # A CTE hides a name only where it is in scope, as the safety check decides: else a tag a
    # step does read would count as unread, go unbound, and DuckDB resolve its name elsewhere.
    scopes: dict[int, dict[str, int]] = {}
    found = [t.name.lower() for t in query.find_all(exp.Table) if not cte_in_scope(t, scopes)]
    return [lowered[n] for n in found if n in lowered]


def _is_read(tag: str, reads: Sequence[Sequence[str]]) -> bool:
    return any(tag in r for r in reads)


def _reuse(reads: Sequence[Sequence[str]]) -> tuple[float | None, list[str], list[str]]:
    """Mean scans per relation read; relations in first-touch order (ties: most read first)."""
    count: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, read in enumerate(reads):
        for name in read:
            count[name] = count.get(name, 0) + 1
            first.setdefault(name, i)
    if not count:
        return None, [], []
    hint = sorted(count, key=lambda n: (first[n], -count[n], n))
    notes = [f"{n!r} is scanned {count[n]} times: keep it resident (or materialize it once)"
             for n in hint if count[n] > 1]
    return round(sum(count.values()) / len(count), 3), hint, notes


def _occupancy(trace: Trace, reads: Sequence[Sequence[str]], size: Mapping[str, int],
               input_bytes: int) -> float | None:
    """Peak bytes of relations alive at once (made earlier, still read later) over input bytes."""
    last: dict[str, int] = {}
    for i, read in enumerate(reads):
        for name in read:
            last[name] = i
    step_index = {s.name: i for i, s in enumerate(trace.steps)}
    peak = 0
    for i in range(len(reads)):
        live = [n for n, end in last.items() if step_index.get(n, -1) < i <= end]
        peak = max(peak, sum(size.get(n, 0) for n in live) + size.get(trace.steps[i].name, 0))
    return round(peak / input_bytes, 3) if input_bytes else None
