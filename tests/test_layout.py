"""Layout strategies, scores and the tuner on small hand-made logs with known answers."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sqlwave.engine import connect, fetch_dicts
from sqlwave.errors import ParameterError
from sqlwave.layout import LayoutParams, choose, learn, pack, prepare_log, score, tune
from sqlwave.log import bind_log
from sqlwave.session import Session

PAGE = 4096


def session_over(table: pa.Table, request: bool = True) -> Session:
    con = connect()
    log = bind_log(con, table, "key", "size", "request_id" if request else None)
    return Session(con, log)


def log_of(requests: list[list[object]], size: int = PAGE) -> pa.Table:
    keys, ids = [], []
    for r, req in enumerate(requests):
        keys += req
        ids += [r] * len(req)
    return pa.table({"key": keys, "size": [size] * len(keys), "request_id": ids})


# Two requests, then single-key requests that make 1 > 4 > 2 > 5 > 3 > 6 by hits.
EXTRAS = [1] * 5 + [4] * 4 + [2] * 3 + [5] * 2 + [3]
TRAIN = [[1, 2, 3], [4, 5, 6]] + [[k] for k in EXTRAS]


def order(session: Session, strategy: str, params: LayoutParams | None = None) -> list[object]:
    params = params or LayoutParams()
    log = prepare_log(session, remap=False, window=params.window)
    features, _ = learn(session, log, "t", params)
    table = pack(session, features, strategy, params, "p")
    return [r["key"] for r in fetch_dicts(session.con, f"SELECT key FROM {table} ORDER BY rank")]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("hot", [1, 4, 2, 5, 3, 6]),
        ("first-touch", [1, 2, 3, 4, 5, 6]),
        ("request-first-touch", [1, 2, 3, 4, 5, 6]),
        # Last use: 3 is used last, then 5, 2, 4, 1; 6 only in the second request.
        ("last-touch", [3, 5, 2, 4, 1, 6]),
        ("request-last-touch", [3, 5, 2, 4, 1, 6]),
    ],
)
def test_strategy_orders(strategy: str, expected: list[int]) -> None:
    assert order(session_over(log_of(TRAIN)), strategy) == expected


def test_hotness_waves_keep_co_access_order_inside_each_wave() -> None:
    # Wave 0 holds the two hottest keys (1, 4); each wave is in first-request order.
    params = LayoutParams(wave_bytes=[2 * PAGE])
    assert order(session_over(log_of(TRAIN)), "waves-first-touch", params) == [1, 4, 2, 3, 5, 6]


def test_no_hotness_wave_holds_more_than_its_budget() -> None:
    # Hot order A(60 B) B(60) C(40) D(40), budgets 100 and 100: wave 0 ends after A (B does not
    # fit), so wave 1 starts at 60 and holds B and C (100 B); summed budgets (ends 100, 200)
    # once put B, C and D, 140 B, in wave 1. The export cuts its waves the same way.
    keys = ["D", "C", "C", "B", "B", "B", "A", "A", "A", "A"]
    sizes = {"A": 60, "B": 60, "C": 40, "D": 40}
    session = session_over(pa.table({"key": keys, "size": [sizes[k] for k in keys],
                                     "request_id": list(range(len(keys)))}))
    params = LayoutParams(page_bits=0, wave_bytes=[100, 100])
    features, ends = learn(session, prepare_log(session, False, params.window), "t", params)
    waves = fetch_dicts(session.con, f"SELECT hot_wave, list(key ORDER BY key) AS keys "
                                     f"FROM {features} GROUP BY hot_wave ORDER BY hot_wave")
    assert ends == [60, 160]
    assert [w["keys"] for w in waves] == [["A"], ["B", "C"], ["D"]]
    hot = session.pack("hot", 0)
    assert session.wave_ends(hot, [100, 100]) == ends


def test_request_co_access_when_requests_interleave() -> None:
    # Two concurrent requests: the access stream alternates, the requests do not.
    table = pa.table({"key": [1, 4, 2, 5, 3, 6], "size": [PAGE] * 6,
                      "request_id": [0, 1, 0, 1, 0, 1]})
    assert order(session_over(table), "first-touch") == [1, 4, 2, 5, 3, 6]
    assert order(session_over(table), "request-first-touch") == [1, 2, 3, 4, 5, 6]


def test_cohort_groups_prefixes_hot_cohort_first() -> None:
    table = log_of([["b/1"], ["a/1", "a/2"], ["b/2"], ["a/1"], ["b/1"], ["b/1"]])
    params = LayoutParams(cohort_mode="delimiter", delimiter="/", depth=1)
    # Cohort b has 4 hits, a has 3; inside a cohort, hot keys first.
    assert order(session_over(table), "cohort", params) == ["b/1", "b/2", "a/1", "a/2"]


def scores_on(train: list[list[object]], test: list[list[object]], strategy: str,
              page_bits: int = 12) -> dict[str, object]:
    session = session_over(log_of(train + test))
    # Objects packed at 4 KiB whatever the page size, so that larger pages hold several.
    params = LayoutParams(page_bits=page_bits, align_bits=12, wave_bytes=[2 * PAGE])
    log = prepare_log(session, remap=False, window=params.window)
    n = sum(len(r) for r in train)
    session.con.execute(f"CREATE VIEW tr AS SELECT * FROM {log} WHERE pos < {n}")
    session.con.execute(f"CREATE VIEW te AS SELECT * FROM {log} WHERE pos >= {n}")
    features, bounds = learn(session, "tr", "s", params)
    table = pack(session, features, strategy, params, "p")
    return score(session, table, "te", params, bounds[0])


def test_scores_count_extents_per_request() -> None:
    test = [[1, 2, 3], [4, 5, 6], [1, 4], [9]]
    hot = scores_on(TRAIN, test, "hot")
    first = scores_on(TRAIN, test, "first-touch")
    # hot slots 1,4,2,5,3,6: {1,2,3} -> 3 runs, {4,5,6} -> 3, {1,4} -> 1; key 9 is unknown.
    assert (hot["requests"], hot["requests_held"]) == (4, 3)
    assert hot["extents_mean"] == pytest.approx(7 / 3)
    assert (first["extents_mean"], first["extents_p90"], first["extents_max"]) == (
        pytest.approx(4 / 3), 2, 2)
    assert hot["accesses_held"] == 8 and hot["accesses"] == 9
    # The first wave (2 pages) holds keys 1 and 4 under hot: 4 of the 9 test accesses.
    assert hot["hot_hit_ratio"] == pytest.approx(4 / 9)
    assert first["hot_hit_ratio"] == pytest.approx(3 / 9)


def test_bytes_read_grow_with_the_page_size() -> None:
    small = scores_on(TRAIN, [[1, 3]], "first-touch", page_bits=12)
    big = scores_on(TRAIN, [[1, 3]], "first-touch", page_bits=14)
    # Slots 0 and 2: two 4 KiB pages read, or the one 16 KiB page holding both.
    assert (small["extents_mean"], small["bytes_read_mean"]) == (2.0, 2 * PAGE)
    assert (big["extents_mean"], big["bytes_read_mean"]) == (1.0, 4 * PAGE)


def test_pseudo_requests_without_a_request_column() -> None:
    table = log_of([[1, 2, 3, 4], [1, 2, 3, 4]]).drop(["request_id"])
    session = session_over(table, request=False)
    params = LayoutParams(window=2)
    log = prepare_log(session, remap=False, window=params.window)
    rows = fetch_dicts(session.con, f"SELECT DISTINCT request FROM {log} ORDER BY request")
    assert [r["request"] for r in rows] == [0, 1, 2, 3]


def test_tuner_picks_co_access_over_hot() -> None:
    requests = [[10 * r + i for i in range(5)] for r in range(40)]
    repeated = requests + [[k] for k in range(0, 400, 7)] + requests[::-1]
    result = _tune(repeated)
    assert result["chosen"] in ("first-touch", "request-first-touch", "last-touch",
                                "request-last-touch", "waves-first-touch", "waves-last-touch")
    scores = result["candidates"]
    assert scores[result["chosen"]]["extents_mean"] < scores["hot"]["extents_mean"]
    assert set(scores) == set(LayoutParams().candidates)


def _tune(requests: list[list[object]]) -> dict[str, object]:
    session = session_over(log_of(requests))
    return tune(session, prepare_log(session, False, 16), LayoutParams())


def test_choose_prefers_hot_hits_between_near_ties() -> None:
    scores = {
        "a": {"extents_mean": 1.00, "bytes_read_mean": 10, "hot_hit_ratio": 0.1},
        "b": {"extents_mean": 1.04, "bytes_read_mean": 10, "hot_hit_ratio": 0.5},
        "c": {"extents_mean": 2.00, "bytes_read_mean": 10, "hot_hit_ratio": 0.9},
    }
    assert choose(scores) == "b"
    assert choose(scores, tolerance=0.0) == "a"


def test_unknown_candidate_is_a_clear_error() -> None:
    with pytest.raises(ParameterError, match='Did you mean "first-touch"'):
        LayoutParams(candidates=("frist-touch",)).check()


@pytest.mark.parametrize(("io_cost", "page_bits"), [(65536, 14), (0, 12)])
def test_tuner_weighs_page_size_against_the_cost_of_an_extent(io_cost: int,
                                                              page_bits: int) -> None:
    # Layout 1, 2, 3 at 4 KiB slots; requests read keys 1 and 3: two 4 KiB extents (8 KiB
    # read), or one 16 KiB page. An extent worth 64 KiB of reading makes the big page cheaper.
    # 20 accesses: the holdout (the last 20 %) is exactly the last two requests.
    session = session_over(log_of([[1, 2, 3, 2]] + [[1, 3]] * 8))
    params = LayoutParams(candidates=("first-touch",), page_bits_options=(12, 14),
                          io_cost_bytes=io_cost)
    result = tune(session, prepare_log(session, False, 16), params)
    assert result["page_bits"] == page_bits and result["align_bits"] == 12
    assert result["page_sizes"]["12"]["cost_per_request"] == 2 * io_cost + 2 * PAGE
    assert result["page_sizes"]["14"]["cost_per_request"] == io_cost + 4 * PAGE
