"""One DuckDB connection over one bound log, with the macros run in dependency order.

`usage` is materialised once (the single scan); cohorts, pack order, waves, extents and metrics
all read it. The reuse-time histogram is the one per-access computation and reads the log again,
by default only for hash-sampled keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb

from sqlwave.engine import LogSource, explained_overflow, fetch_arrow, fetch_dicts, literal
from sqlwave.errors import InputError, ParameterError, did_you_mean
from sqlwave.log import LOG_VIEW, BoundLog, sizes_valid_by_footer
from sqlwave.macros import helper, render
from sqlwave.strategies import LAYOUT_STRATEGIES, PACK_STRATEGIES

if TYPE_CHECKING:
    import pyarrow as pa

USAGE = "sqlwave_usage"
PACK = "sqlwave_pack"
WAVES = "sqlwave_waves"
EXTENTS = "sqlwave_extents"
PIECES = "sqlwave_extent_pieces"
# DuckDB's 64-bit hash of the key: a fast stand-in for the key when counting distinct requests.
REQUEST_GROUP = "hash(key)"


class Session:
    """Run the macros over a bound log. Tables are created lazily and kept for reuse."""

    def __init__(self, con: duckdb.DuckDBPyConnection, log: BoundLog,
                 count_requests: bool = True, positions: bool = True,
                 footer_sizes: bool = False) -> None:
        self.con = con
        self.log = log
        # Distinct requests per key are the costliest part of the scan (a hash table of every
        # (key, request) pair); callers that never read usage.requests turn them off. Likewise
        # first and last positions (two aggregates, 10 % of the scan) for the hot pack order, and
        # with footer_sizes, size_nulls and size_min when the Parquet footers make them moot
        # (they are then NULL in the usage table, so only for callers that never show it).
        self.count_requests = count_requests
        self.positions = positions
        self.footer_sizes = footer_sizes
        self._usage_done = False
        self._given_usage = False
        self._sizes_valid = False
        self._h60_unique: bool | None = None
        # DuckDB-only SQL (native hash, sorted subqueries numbered OVER ()) on DuckDB alone;
        # other engines wrap their connection and get the portable macros.
        self.on_duckdb = isinstance(con, duckdb.DuckDBPyConnection)

    @classmethod
    def over_usage(cls, con: duckdb.DuckDBPyConnection, usage: pa.Table) -> Session:
        """A session whose usage aggregate is given (no log): for pack orders from usage."""
        con.register("sqlwave_usage_in", usage)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {USAGE} AS SELECT * FROM sqlwave_usage_in")
        session = cls(con, BoundLog(LogSource(kind="arrow"), "string", True, False))
        session._usage_done = session._given_usage = True
        return session

    def run(self, name: str, **params: Any) -> pa.Table:
        return self.run_table(render(name, **params))

    def run_table(self, sql: str) -> pa.Table:
        with explained_overflow():
            return fetch_arrow(self.con, sql)

    def create(self, table: str, name: str, **params: Any) -> None:
        with explained_overflow():
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {render(name, **params)}")

    def usage(self) -> str:
        """Materialise the usage aggregate (the one full scan) and return its table name."""
        if not self._usage_done:
            request = "request" if self.log.has_request and self.count_requests else None
            # Distinct requests per 64-bit key hash are exact when no two keys share a hash,
            # which the check below confirms (else the plain, slower pairing runs). hash() is
            # DuckDB's: other engines (which wrap the connection) take the plain path.
            group = REQUEST_GROUP if request and self.on_duckdb else None
            self._sizes_valid = (self.footer_sizes and self.on_duckdb
                                 and sizes_valid_by_footer(self.con, self.log))
            params = dict(src=LOG_VIEW, key="key", size="size", pos="pos", request=request,
                          positions=self.positions, size_checks=not self._sizes_valid,
                          native_hash=self.on_duckdb)
            try:
                self.create(USAGE, "usage", **params, request_group=group)
                if group and self._hash_collides():
                    self.create(USAGE, "usage", **params)
            except InputError:
                raise
            except duckdb.Error as e:
                raise InputError(f"cannot scan the log: {str(e).strip().splitlines()[0]}") from e
            self._usage_done = True
        return USAGE

    def h60_unique(self) -> bool:
        """True when no two keys share a hash60: an order that ends with h60 is then total
        without the key text (checked once per session)."""
        if self._h60_unique is None:
            self._h60_unique = not self._repeats("h60", f"{self.usage()} WHERE key IS NOT NULL")
        return self._h60_unique

    def _hash_collides(self) -> bool:
        return self._repeats(REQUEST_GROUP, USAGE)

    def _repeats(self, expr: str, rows: str) -> bool:
        """Whether two of `rows` share a value of `expr` (never NULL): equal neighbours in sorted
        order (2.9M keys: 0.09 s, against 0.13 s for count(DISTINCT) on DuckDB 2.0)."""
        row = self.con.execute(
            f"SELECT count(*) FROM (SELECT v, lag(v) OVER (ORDER BY v) AS prev FROM "
            f"(SELECT {expr} AS v FROM {rows}) AS r) AS s WHERE v = prev").fetchall()
        return bool(row[0][0])

    def metrics(self, capacity: int | None) -> dict[str, Any]:
        cap = str(capacity) if capacity else "CAST(NULL AS BIGINT)"
        with explained_overflow():  # byte totals past 2^63
            return fetch_dicts(self.con, render("metrics", src=self.usage(), capacity=cap))[0]

    def size_problems(self) -> dict[str, int]:
        """Rows with a NULL size, keys with a negative one."""
        usage = self.usage()  # the scan decides whether the footers already answered
        if self._sizes_valid:
            return {"nulls": 0, "negative": 0}
        nulls, low = "size_nulls", "size_min"
        if self._given_usage:  # a usage table from the caller: one row per key, its size
            nulls, low = "CASE WHEN size IS NULL THEN 1 ELSE 0 END", "size"
        row = fetch_dicts(
            self.con,
            f"SELECT CAST(COALESCE(sum({nulls}), 0) AS BIGINT) AS nulls, "
            f"CAST(COALESCE(sum(CASE WHEN {low} < 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS negative "
            f"FROM {usage}",
        )[0]
        return {k: int(v) for k, v in row.items()}

    def check_sizes(self) -> None:
        """Refuse NULL and negative sizes: offsets, pages and byte counts would be wrong."""
        problems = self.size_problems()
        column = repr(self.log.size_col or "size")
        if problems["nulls"]:
            raise InputError(f"{problems['nulls']} rows have a NULL size in column {column}; "
                             "fill them or leave out the size column (--size; size_col= in "
                             "Python)")
        if problems["negative"]:
            raise InputError(f"{problems['negative']} keys have a negative size in column "
                             f"{column}; sizes are byte counts and must be >= 0")

    def cohorts(self, *, prefix_len: int | None, delimiter: str | None, depth: int,
                rank_by: str, top_k: int) -> pa.Table:
        return self.run_table(self.cohorts_sql(prefix_len=prefix_len, delimiter=delimiter,
                                               depth=depth, rank_by=rank_by, top_k=top_k))

    def cohorts_sql(self, *, prefix_len: int | None, delimiter: str | None, depth: int,
                    rank_by: str, top_k: int) -> str:
        text_keys = self.log.key_type != "integer"
        if delimiter is not None and self.log.key_type == "bytes":
            # The keys travel as hex text, where a delimiter's hex digits can also straddle two
            # bytes: no split would mean what the caller asked.
            raise ParameterError("BLOB keys cannot be split at a delimiter; group them by their "
                                 "first bytes instead (--prefix-len, prefix_len=)")
        if delimiter is not None:
            return render("cohorts", src=self.usage(), text_keys=text_keys, mode="delimiter",
                          prefix_len="0", delimiter=literal(delimiter), depth=str(depth),
                          max_depth=depth, rank_by=rank_by, top_k=str(top_k))
        assert prefix_len is not None
        # Bytes keys are hex text: a prefix of n bytes is 2n characters.
        chars = prefix_len * 2 if self.log.key_type == "bytes" else prefix_len
        return render("cohorts", src=self.usage(), text_keys=text_keys, mode="prefix",
                      prefix_len=str(chars), delimiter="''", depth="0", max_depth=1,
                      rank_by=rank_by, top_k=str(top_k))

    def pack(self, strategy: str, align_bits: int, table: str = PACK,
             src: str | None = None) -> str:
        """Pack order by `strategy`; `src` is a layout_features relation (sqlwave/layout.py),
        needed by the strategies that sort by co-access, hotness waves or cohorts."""
        known = PACK_STRATEGIES if src is None else LAYOUT_STRATEGIES
        if strategy not in known:
            raise ParameterError(
                f"unknown pack order {strategy!r}; choose one of {', '.join(known)}."
                + did_you_mean(strategy, known)
            )
        self.create(table, "pack_order", src=src or self.usage(), strategy=literal(strategy),
                    strategies=known, align=str(2**align_bits), ordered=self.on_duckdb,
                    tie_key=not self.h60_unique())
        return table

    def waves(self, pack: str, budgets: list[int], table: str = WAVES) -> str:
        """Cut the pack order into waves of at most `budgets[i]` bytes each (the rest: a last
        wave)."""
        ends = self.wave_ends(pack, budgets)
        self.create(table, "waves", src=pack, boundaries=[str(e) for e in ends])
        return table

    def wave_ends(self, pack: str, budgets: list[int],
                  end: str = "byte_offset + aligned_size") -> list[int]:
        """Where each wave ends: the furthest object end within its budget of where the wave
        before ended. Budgets summed up front would hand a wave the room the one before left
        unused, so a wave could exceed its own budget; an object larger than a budget waits
        for a later wave either way. `end` is the SQL for an object's end offset in `pack`."""
        ends, start = [], 0
        for budget in budgets:
            row = fetch_dicts(self.con, f"SELECT CAST(max({end}) AS BIGINT) AS e FROM {pack} "
                                        f"WHERE {end} <= {start + int(budget)}")[0]
            start = max(start, int(row["e"] or 0))
            ends.append(start)
        return ends

    def wave_summary(self, waves: str) -> list[dict[str, Any]]:
        return fetch_dicts(self.con, render("wave_summary", src=waves))

    def extents(self, objects: str, page_bits: int, partition: list[str]) -> pa.Table:
        return self.run("extents", src=objects, page_size=str(2**page_bits), partition=partition)

    def wave_extents(self, waves: str, page_bits: int, key_scale: int,
                     table: str = EXTENTS) -> tuple[str, dict[int, int]]:
        """The extents of the objects in `waves` as table `table`, and the count in each wave.

        Integer keys are addresses (times key_scale) and may overlap: extents.sql, once over all
        objects and once per wave. Other keys sit at their packed offsets, which never go back:
        pack_extents.sql finds both in one pass, as pieces of extents cut at wave ends.
        """
        page = str(2**page_bits)
        if self.log.key_type == "integer":
            objects = (f"(SELECT key * {int(key_scale)} AS address, size, hits, bytes, wave "
                       f"FROM {waves})")
            self.create(table, "extents", src=objects, page_size=page, partition=[])
            per_wave = f'({render("extents", src=objects, page_size=page, partition=["wave"])})'
        else:
            self.create(PIECES, "pack_extents", src=waves, page_size=page, ordered=self.on_duckdb)
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS "
                             f"{helper('extent_totals', PIECES, [])}")
            per_wave = PIECES
        rows = self.con.execute(
            f"SELECT wave, CAST(count(*) AS BIGINT) AS n FROM {per_wave} AS e GROUP BY wave"
        ).fetchall()
        return table, {int(wave): int(n) for wave, n in rows}
