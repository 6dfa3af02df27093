"""Reuse-time histogram, exact or from a key sample stratified by hits.

Per-access work (a lag() over every access) costs far more than the usage scan, so large logs
are sampled by key: every access of a kept key is kept, so its reuse times are exact. A key's
reuse times depend mostly on how often it is accessed, so keys are put in classes by hits
(powers of two), and each class keeps the keys with the smallest hash60: `rate` of them, at
least MIN_KEYS. How many reuses a class has is known exactly from the usage aggregate (hits - 1
per key); the sample only gives how they spread over the buckets, and is scaled to that total
(a ratio estimator). So the estimated total is exact, and no class is left unsampled: on the
10M-access example log a 2 % sample is closer to exact (total-variation distance 0.009) than
the earlier hottest-keys-whole plus 10 % hash sample (0.016), on a quarter of the rows; on the
Twitter trace 0.017 against 0.046 (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import duckdb

from sqlwave.engine import fetch_dicts, interrupt_until
from sqlwave.errors import ParameterError
from sqlwave.log import LOG_VIEW
from sqlwave.macros import render
from sqlwave.units import parse_bytes

MAX_BUCKET = 48
MIN_KEYS = 2
H60_END = 2**60  # hash60 values lie in [0, H60_END)
KEPT = "sqlwave_reuse_keys"
# Samples up to this many accesses take reuse.sql's list form. Measured on the 10M-row example
# log (DuckDB 2.0, whole processes): at 0.5M accesses (the default 2 % sample) 16 ms faster and
# 5 MB more peak RSS than the window; at 0.75M as fast and 22 MB more; at 1.2M slower and 75 MB
# more. A list aggregate cannot spill (a window's sort can), so the list form also needs a
# memory limit with room: under 40MB the export ran out of memory with it, never without.
LIST_ACCESSES = 600_000
LIST_MIN_MEMORY = 512 * 2**20


def hits_class(hits: int) -> int:
    """The class of a key with this many hits: floor(log2(hits)).

    >>> [hits_class(h) for h in (1, 2, 3, 4, 1000)]
    [0, 1, 1, 2, 9]
    """
    return hits.bit_length() - 1


def keys_to_keep(keys: int, rate: float) -> int:
    """How many of a class's keys the sample keeps.

    >>> keys_to_keep(1000, 0.02), keys_to_keep(10, 0.02), keys_to_keep(1, 0.02)
    (20, 2, 1)
    """
    return min(keys, max(MIN_KEYS, math.ceil(rate * keys)))


class ReuseHistogram:
    """The histogram section of the WaveSpec metrics, exact when rate >= 1; `result()` gives it.

    With `views` (sqlwave.log.BoundLog.views: the log comes from files) on DuckDB, the per-access
    pass runs on a second cursor in a thread, so it overlaps the caller's next queries, which
    are small and mostly single-threaded (cohorts, pack order, waves, extents).
    """

    def __init__(self, con: Any, usage: str, rate: float, views: list[str] | None,
                 h60_unique: bool, null_keys: bool = False) -> None:
        self.rate = rate
        self._null_keys = null_keys
        self.counts = [(int(h), int(n)) for h, n in con.execute(
            f"SELECT hits, count(*) FROM {usage} WHERE key IS NOT NULL GROUP BY hits ORDER BY hits"
        ).fetchall()]
        # Hash60 (an integer) stands in for the key text, in the sample's order and the per-key
        # window, when no two keys share one (Session.h60_unique); else the key breaks ties.
        sampled = f"(SELECT key, hits, h60 FROM {usage} WHERE key IS NOT NULL)"
        if rate < 1:
            sampled = _sample(usage, self.counts, rate, h60_unique, narrowed=False)
        self._rows: list[dict[str, Any]] | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        # Waited on instead of Thread.join: a signal during join marks a live thread dead, and
        # an interpreter that exits while the pass is inside DuckDB aborts (SIGABRT, a core).
        self._finished = threading.Event()
        if views is None or not isinstance(con, duckdb.DuckDBPyConnection):
            self._rows = fetch_dicts(con, _sql(sampled, h60_unique, null_keys=null_keys))
            return

        # Temp tables are per cursor: the kept keys go to a table of the database itself.
        def keep(keys: str) -> None:
            con.execute(f"CREATE OR REPLACE TABLE {KEPT} AS SELECT key, hits, h60 FROM {keys} AS s")

        # Sampled, the narrowed form first; a class it left short (by chance) takes the plain one.
        if rate < 1:
            keep(_sample(usage, self.counts, rate, h60_unique, narrowed=True))
        if rate >= 1 or not _complete(con, KEPT, self.counts, rate):
            keep(sampled)
        self._cursor = con.cursor()
        for view in views:
            self._cursor.execute(view)
        self._thread = threading.Thread(target=self._run, args=(h60_unique,), daemon=True)
        self._thread.start()

    @property
    def busy_connection(self) -> Any:
        """The cursor running the background pass, for progress reports; None when in line."""
        return self._cursor if self._thread is not None else None

    def _run(self, h60_unique: bool) -> None:
        try:
            self._rows = fetch_dicts(self._cursor, _sql(KEPT, h60_unique, _lists_fit(self._cursor),
                                                        self._null_keys))
        except BaseException as e:  # handed to the caller by result()
            self._error = e
        finally:
            self._finished.set()

    def result(self) -> dict[str, Any]:
        if self._thread is not None:
            try:
                self._close()
            except BaseException:  # Ctrl-C while waiting: stop the pass before leaving
                self.cancel()
                raise
            if self._error is not None:
                raise self._error
        exact = self.rate >= 1
        out: dict[str, Any] = {"method": "exact" if exact else "stratified-key-sample",
                               "sample_rate": min(self.rate, 1.0)}
        if not exact:
            out.update(strata="log2(hits)", min_keys_per_stratum=MIN_KEYS)
        out.update(unit="accesses", buckets=_buckets(self._rows or [], self.counts, exact))
        return out

    def cancel(self) -> None:
        """Stop the background pass: the caller failed before it needed the result."""
        if self._thread is not None:
            interrupt_until(self._cursor, self._finished)
            if self._finished.is_set():
                self._close()
            else:  # DuckDB did not stop: leave the daemon thread, not the caller, waiting
                self._thread = None

    def _close(self) -> None:
        assert self._thread is not None
        while not self._finished.wait(0.1):  # a signal raises here, and result() cancels
            pass
        self._thread.join()  # the pass has ended: only the thread's exit is left
        self._thread = None
        # Cleanup of an in-memory database about to close: a failure here must not hide the
        # error that brought us here.
        with contextlib.suppress(duckdb.Error):
            self._cursor.execute(f"DROP TABLE IF EXISTS {KEPT}")
            self._cursor.close()


def _lists_fit(con: Any) -> bool:
    """Whether the kept keys' accesses may take the list form (see LIST_ACCESSES)."""
    accesses = con.execute(f"SELECT sum(hits) FROM {KEPT}").fetchall()[0][0] or 0
    limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    try:
        room = parse_bytes(str(limit))  # DuckDB shows e.g. '953.6 MiB'
    except ParameterError:
        return False
    return accesses <= LIST_ACCESSES and room >= LIST_MIN_MEMORY


def _sql(sampled: str, h60_unique: bool, lists: bool = False, null_keys: bool = False) -> str:
    # A reuse time counts accesses, and a row with a NULL key is none (sqlwave mrc counts
    # alike): with NULL keys in the log, the macro renumbers the positions.
    src = f"(SELECT key, pos FROM {LOG_VIEW}{'' if null_keys else ' WHERE key IS NOT NULL'})"
    return render("reuse", src=src, sampled=sampled, max_bucket=MAX_BUCKET,
                  sampled_id="h60" if h60_unique else None, lists=lists, null_keys=null_keys)


def _sample(usage: str, counts: list[tuple[int, int]], rate: float, h60_unique: bool,
            narrowed: bool) -> str:
    """SQL for the kept keys: per hits class, the keys_to_keep() smallest by (hash60, key).

    `narrowed` first drops the keys whose hash60 is above a bound per class that about twice
    the kept number (plus 16) fall under, so the window sorts a few rows instead of every key
    (at 3.7M keys: 0.32 -> 0.04 s). A class can then come up short, by chance; _complete()
    checks, and the caller runs the plain form instead.
    """
    per_class = _per_class(counts)
    top = max(per_class, default=0)
    # Class bounds spelled out as a CASE, like the buckets: portable, and no float log2.
    bounds = " ".join(f"WHEN hits < {2 ** (c + 1)} THEN {c}" for c in range(top))
    klass = f"CASE {bounds} ELSE {top} END" if bounds else str(top)
    keep = "CASE klass " + " ".join(f"WHEN {c} THEN {keys_to_keep(n, rate)}"
                                    for c, n in sorted(per_class.items())) + " ELSE 0 END"
    where = ""
    if narrowed:
        below = " ".join(f"WHEN {c} THEN {_hash_bound(n, keys_to_keep(n, rate))}"
                         for c, n in sorted(per_class.items()))
        where = f" WHERE h60 < CASE klass {below} ELSE {H60_END} END"
    return (
        "(SELECT key, hits, h60 FROM ("
        "SELECT key, hits, h60, klass, row_number() OVER (PARTITION BY klass ORDER BY "
        f"{'h60' if h60_unique else 'h60, key'})"
        f" AS nth FROM (SELECT key, hits, h60, {klass} AS klass FROM {usage}"
        f" WHERE key IS NOT NULL) AS u{where}) AS ranked WHERE nth <= {keep})"
    )


def _hash_bound(keys: int, kept: int) -> int:
    """The hash60 bound that 2 * kept + 16 of `keys` uniform hashes fall under, on average.

    >>> _hash_bound(1000, 20) == H60_END * 56 // 1000 + 1, _hash_bound(10, 2) == H60_END
    (True, True)
    """
    return min(H60_END, -(-H60_END * (2 * kept + 16) // keys))  # ceil, at most every hash


def _complete(con: Any, sampled: str, counts: list[tuple[int, int]], rate: float) -> bool:
    """Whether the sample holds keys_to_keep() keys of every class."""
    got = _per_class((int(h), int(n)) for h, n in con.execute(
        f"SELECT hits, count(*) FROM {sampled} AS s GROUP BY hits").fetchall())
    return all(got.get(c, 0) == keys_to_keep(n, rate) for c, n in _per_class(counts).items())


def _per_class(pairs: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Sum the values of (hits, value) pairs per hits class.

    >>> _per_class([(1, 5), (2, 1), (3, 2)])
    {0: 5, 1: 3}
    """
    out: dict[int, int] = {}
    for hits, value in pairs:
        out[hits_class(hits)] = out.get(hits_class(hits), 0) + value
    return out


def _buckets(rows: list[dict[str, Any]], counts: list[tuple[int, int]],
             exact: bool) -> list[dict[str, Any]]:
    """Sampled reuses per bucket, and the estimate: each class's sampled reuses scaled to the
    class's exact total. `rows` come ordered by bucket, hits, so the float sums below always
    run in one order."""
    total = _per_class((hits, (hits - 1) * n) for hits, n in counts)  # reuses, exact
    seen = _per_class((int(r["hits"]), int(r["reuses"])) for r in rows)  # reuses sampled
    out: dict[int, dict[str, Any]] = {}
    estimates: dict[int, Fraction] = {}
    for r in rows:
        b, n, c = int(r["bucket"]), int(r["reuses"]), hits_class(int(r["hits"]))
        entry = out.setdefault(b, {"bucket": b, "lo": 2**b, "hi": 2 ** (b + 1), "reuses": 0})
        entry["reuses"] += n
        estimates[b] = estimates.get(b, Fraction(0)) + (n if exact else Fraction(n * total[c], seen[c]))
    for b, thousandths in _apportioned(estimates, 1000).items():
        out[b]["estimate"] = thousandths / 1000
    return [out[b] for b in sorted(out)]


def _apportioned(values: dict[int, Fraction], unit: int) -> dict[int, int]:
    """Each value in whole 1/unit steps, rounded so that they still sum to their (rounded)
    total: largest remainders first, ties to the smaller key. Rounding each on its own put the
    estimates 0.002 off the exact number of reuses they are scaled to.

    >>> _apportioned({0: Fraction(1, 3), 1: Fraction(1, 3), 2: Fraction(1, 3)}, 1)
    {0: 1, 1: 0, 2: 0}
    """
    scaled = {k: v * unit for k, v in values.items()}
    out = {k: math.floor(v) for k, v in scaled.items()}
    left = round(sum(scaled.values(), Fraction(0))) - sum(out.values())
    for k in sorted(scaled, key=lambda k: (out[k] - scaled[k], k))[:left]:
        out[k] += 1
    return out
