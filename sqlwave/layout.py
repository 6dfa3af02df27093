"""Layouts learned on one window of an access log and judged on a later one.

A layout is a pack order (macros/pack_order.sql) over the keys of a training window. It is judged
by how a later window's requests see it (macros/layout_score.sql): contiguous extents per
request, bytes read at the page size, and the share of accesses its first wave serves. The
tuner scores every candidate strategy that way *inside* the training window (learn on its first
part, score on its last part), so the choice rests on data the layout did not see.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlwave.checks import check_cohorts, check_layout, fraction, whole
from sqlwave.engine import fetch_dicts, literal
from sqlwave.errors import ParameterError, did_you_mean
from sqlwave.log import LOG_VIEW
from sqlwave.macros import helper, render
from sqlwave.session import Session
from sqlwave.strategies import LAYOUT_STRATEGIES

LAYOUT_LOG = "sqlwave_layout_log"
# Every strategy is a candidate; the order only breaks exact ties in the scores.
CANDIDATES = tuple(LAYOUT_STRATEGIES)
HOT_ENDS = "sqlwave_layout_hot_ends"
PROXIES = ("extents_mean", "extents_p90", "bytes_read_mean", "hot_hit_ratio")


@dataclass
class LayoutParams:
    """The policy dimensions of a layout besides its strategy."""

    page_bits: int = 12
    align_bits: int | None = None
    wave_bytes: list[int] | None = None
    cohort_mode: str = "prefix"
    prefix_len: int = 4
    delimiter: str = "/"
    depth: int = 3
    window: int = 16
    holdout: float = 0.2
    candidates: tuple[str, ...] = field(default=CANDIDATES)
    # Page sizes for the tuner to choose among (empty: page_bits only), and what an extent
    # costs in bytes read: NVMe-class devices read about 64 KiB in the time one I/O takes.
    page_bits_options: tuple[int, ...] = ()
    io_cost_bytes: int = 65536

    @property
    def align(self) -> int:
        return int(2 ** (self.page_bits if self.align_bits is None else self.align_bits))

    def check(self) -> None:
        for name in self.candidates:
            if name not in LAYOUT_STRATEGIES:
                raise ParameterError(
                    f"unknown layout strategy {name!r}; choose from "
                    f"{', '.join(LAYOUT_STRATEGIES)}." + did_you_mean(name, CANDIDATES)
                )
        check_layout(self.page_bits, self.align_bits, self.wave_bytes, self.window,
                     self.page_bits_options, self.io_cost_bytes)
        if self.cohort_mode not in ("prefix", "delimiter"):
            raise ParameterError(f"cohort_mode must be 'prefix' or 'delimiter', got "
                                 f"{self.cohort_mode!r}")
        # In characters: BLOB keys travel as hex text, two per byte of a prefix.
        whole("prefix_len", self.prefix_len, 1, 2 * 4096)
        delimiter = self.delimiter if self.cohort_mode == "delimiter" else None
        check_cohorts(None, delimiter, self.depth, 1, "hits")
        fraction("holdout", self.holdout, 0, 1, low_open=True, high_open=True)


def prepare_log(session: Session, remap: bool, window: int) -> str:
    """The view the layout code reads: non-NULL keys, a request for every access.

    Without request ids, consecutive windows of `window` positions stand in for requests (rows
    with a NULL key take a position too). With
    `remap`, integer keys go through hash60 so that ids handed out in first-seen order carry no
    layout information (raw Mooncake ids would make key order look like a co-access order).
    """
    key = "key"
    if remap and session.log.key_type == "integer":
        key = helper("hash60", "CAST(key AS VARCHAR)")
    request = f"CAST((pos - pos % {window}) / {window} AS BIGINT)"
    if session.log.has_request:
        request = "request"
        if _missing_requests(session):
            # An access without a request id is a request of its own: put together, they made
            # one request that spanned both windows and moved every mean. Tagged text keeps
            # them apart from the real ids.
            request = ("CASE WHEN request IS NULL THEN 'n' || CAST(pos AS VARCHAR) "
                       "ELSE 'r' || CAST(request AS VARCHAR) END")
    session.con.execute(
        f"CREATE OR REPLACE TEMP VIEW {LAYOUT_LOG} AS SELECT {key} AS key, size, "
        f"{request} AS request, pos FROM {LOG_VIEW} WHERE key IS NOT NULL"
    )
    return LAYOUT_LOG


def _missing_requests(session: Session) -> bool:
    row = fetch_dicts(session.con, f"SELECT CAST(count(*) AS BIGINT) AS n FROM {LOG_VIEW} "
                                   "WHERE key IS NOT NULL AND request IS NULL")[0]
    return bool(row["n"])


def split(session: Session, log: str, frac: float) -> tuple[int, int, int, int, int]:
    """(lo, cut, hi, before, n): the first position, the position before which `frac` of the
    log's n accesses lie (`before` of them), and one past the last position.

    Rows with a NULL key are not in the log, so its positions can have gaps; a cut into the
    span of positions then gave the training part too few accesses (a third instead of half,
    with NULL keys in the first half), so it comes from the accesses themselves.
    """
    row = fetch_dicts(
        session.con,
        f"SELECT CAST(min(pos) AS BIGINT) AS lo, CAST(max(pos) + 1 AS BIGINT) AS hi, "
        f"CAST(count(*) AS BIGINT) AS n FROM {log}",
    )[0]
    lo, hi, n = int(row["lo"] or 0), int(row["hi"] or 0), int(row["n"])
    before = min(max(int(n * frac), 0), n)
    if before == n:
        cut = hi
    elif n == hi - lo:  # no gaps
        cut = lo + before
    else:
        cut = int(fetch_dicts(session.con, f"SELECT pos FROM {log} ORDER BY pos "
                                           f"LIMIT 1 OFFSET {before}")[0]["pos"])
    return lo, cut, hi, before, n


def window_view(session: Session, log: str, name: str, lo: int, hi: int) -> str:
    """Accesses with lo <= pos < hi, as a view."""
    session.con.execute(
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {log} "
        f"WHERE pos >= {int(lo)} AND pos < {int(hi)}"
    )
    return name


def learn(session: Session, log: str, tag: str, params: LayoutParams) -> tuple[str, list[int]]:
    """Usage and layout features of one window; returns the features table and wave boundaries."""
    usage = f"sqlwave_layout_usage_{tag}"
    session.create(usage, "usage", src=log, key="key", size="size", pos="pos", request="request")
    boundaries = wave_boundaries(session, usage, params)
    features = f"sqlwave_layout_features_{tag}"
    session.create(
        features,
        "layout_features",
        src=usage,
        log=log,
        align=str(params.align),
        boundaries=[str(b) for b in boundaries],
        mode=params.cohort_mode,
        prefix_len=str(params.prefix_len),
        delimiter=literal(params.delimiter),
        depth=params.depth,
    )
    return features, boundaries


def wave_boundaries(session: Session, usage: str, params: LayoutParams) -> list[int]:
    """Where the hotness waves end: the hot order cut by the budgets as the export cuts its
    waves (Session.wave_ends), so that no hotness wave holds more than its budget."""
    from sqlwave.export import default_wave_bytes

    aligned = helper("align_up", "size", str(params.align))
    # The hot order of layout_features.sql (and of pack order 'hot'), with each key's end offset.
    session.con.execute(
        f"CREATE OR REPLACE TEMP TABLE {HOT_ENDS} AS SELECT CAST(sum({aligned}) OVER (ORDER BY "
        "hits DESC, bytes DESC, h60 ASC, key ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT "
        f"ROW) AS BIGINT) AS hot_end FROM {usage} WHERE key IS NOT NULL")
    budgets = params.wave_bytes
    if budgets is None:
        total = fetch_dicts(session.con, "SELECT CAST(COALESCE(max(hot_end), 0) AS BIGINT) AS t "
                                         f"FROM {HOT_ENDS}")[0]["t"]
        budgets = default_wave_bytes(int(total))
    return session.wave_ends(HOT_ENDS, budgets, end="hot_end")


def pack(session: Session, features: str, strategy: str, params: LayoutParams, table: str) -> str:
    align_bits = params.page_bits if params.align_bits is None else params.align_bits
    return session.pack(strategy, align_bits, table=table, src=features)


def score(
    session: Session, pack_table: str, log: str, params: LayoutParams, hot_bytes: int
) -> dict[str, Any]:
    """The proxies of one layout over one window (see macros/layout_score.sql)."""
    page = str(2**params.page_bits)
    extents = render("extents", src="layout_objects", page_size=page, partition=["request"])
    row = fetch_dicts(
        session.con,
        render(
            "layout_score",
            log=log,
            pack=pack_table,
            extents=extents,
            page_size=page,
            hot_bytes=str(hot_bytes),
        ),
    )[0]
    return {k: (round(float(v), 6) if isinstance(v, float) else v) for k, v in row.items()}


def choose(scores: dict[str, dict[str, Any]], tolerance: float = 0.05) -> str:
    """Among the layouts within `tolerance` of the fewest extents per request, the best hot-set
    hit ratio, then the fewest bytes read, then the fewest extents, then candidate order.

    Locality comes first (each extent is a separate I/O); between layouts that are about as
    local, the one whose first wave serves more traffic wins.

    >>> choose({"hot": {"extents_mean": 9.0, "bytes_read_mean": 1, "hot_hit_ratio": 0.5},
    ...         "first-touch": {"extents_mean": 1.1, "bytes_read_mean": 1, "hot_hit_ratio": 0.2}})
    'first-touch'
    """
    order = list(scores)
    best = min(_num(s["extents_mean"]) for s in scores.values())
    near = [n for n in order if _num(scores[n]["extents_mean"]) <= best * (1 + tolerance)] or order

    def key(name: str) -> tuple[float, float, float, int]:
        s = scores[name]
        return (
            -_num(s["hot_hit_ratio"], 0.0),
            _num(s["bytes_read_mean"]),
            _num(s["extents_mean"]),
            order.index(name),
        )

    return min(near, key=key)


def _num(value: Any, missing: float = float("inf")) -> float:
    return missing if value is None else float(value)


def tune(session: Session, log: str, params: LayoutParams, tag: str = "tune") -> dict[str, Any]:
    """The tuner: strategies, and page sizes too when `params.page_bits_options` lists some."""
    if params.page_bits_options:
        return tune_pages(session, log, params, tag)
    return tune_strategies(session, log, params, tag)


def tune_pages(session: Session, log: str, params: LayoutParams, tag: str) -> dict[str, Any]:
    """For each page size the strategy `tune_strategies` picks, then the page size whose layout
    costs least per request, an extent costing as much as reading `io_cost_bytes` (larger pages
    mean fewer extents but more bytes read that the request did not need). Objects stay packed
    at one alignment (the smallest page unless `align_bits` is set) so pages can share them."""
    align = params.align_bits if params.align_bits is not None else min(params.page_bits_options)
    runs = {}
    for bits in sorted(set(params.page_bits_options)):
        option = replace(params, page_bits=bits, align_bits=align, page_bits_options=())
        runs[bits] = tune_strategies(session, log, option, tag)
        best = runs[bits]["candidates"][runs[bits]["chosen"]]
        runs[bits]["cost_per_request"] = request_cost(best, params.io_cost_bytes)
    page = min(runs, key=lambda b: (_num(runs[b]["cost_per_request"]), b))
    result = dict(runs[page])
    result["page_bits"], result["align_bits"] = page, align
    result["io_cost_bytes"] = params.io_cost_bytes
    result["page_sizes"] = {
        str(b): {
            "chosen": r["chosen"],
            "cost_per_request": r["cost_per_request"],
            **{k: r["candidates"][r["chosen"]][k] for k in PROXIES},
        }
        for b, r in runs.items()
    }
    return result


def request_cost(scores: dict[str, Any], io_cost_bytes: int) -> float | None:
    """Bytes-equivalent cost of one request: extents x io_cost_bytes + bytes read.

    >>> request_cost({"extents_mean": 2.0, "bytes_read_mean": 8192.0}, 65536)
    139264.0
    """
    if scores["extents_mean"] is None or scores["bytes_read_mean"] is None:
        return None
    return round(
        float(scores["extents_mean"]) * io_cost_bytes + float(scores["bytes_read_mean"]), 3
    )


def tune_strategies(
    session: Session, log: str, params: LayoutParams, tag: str = "tune"
) -> dict[str, Any]:
    """Score every candidate inside `log`: learn on its first part, judge on the holdout part.

    Falls back to in-sample scores when the holdout holds no request the fit part knows.
    Returns {"chosen", "method", "fit_accesses", "holdout_accesses", "candidates": {name: proxies}}.
    """
    lo, cut, hi, before, n = split(session, log, 1 - params.holdout)
    fit = window_view(session, log, f"sqlwave_layout_fit_{tag}", lo, cut)
    held = window_view(session, log, f"sqlwave_layout_holdout_{tag}", cut, hi)
    method, fit_n, held_n = "holdout", before, n - before
    scores = score_all(session, fit, held, params, tag)
    if all(not s["requests_held"] for s in scores.values()):
        method, fit_n, held_n = "in-sample", n, n  # learned and scored on the whole log
        scores = score_all(session, log, log, params, tag)
    return {
        "chosen": choose(scores),
        "method": method,
        "holdout": params.holdout,
        "fit_accesses": fit_n,
        "holdout_accesses": held_n,
        "candidates": scores,
    }


def score_all(
    session: Session, train: str, test: str, params: LayoutParams, tag: str
) -> dict[str, dict[str, Any]]:
    """Learn each candidate on `train`, score it on `test`."""
    features, boundaries = learn(session, train, tag, params)
    out = {}
    for name in params.candidates:
        table = pack(session, features, name, params, f"sqlwave_layout_pack_{tag}")
        out[name] = score(session, table, test, params, boundaries[0])
    return out
