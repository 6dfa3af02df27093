"""`evaluate-layout`: learn every layout on the first part of a log, judge it on the rest."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

from sqlwave.checks import whole
from sqlwave.engine import connect, fetch_dicts, literal, quote
from sqlwave.errors import InputError, ParameterError
from sqlwave.layout import (
    PROXIES,
    LayoutParams,
    learn,
    pack,
    prepare_log,
    score,
    split,
    tune,
    window_view,
)
from sqlwave.log import RAW_VIEW, BoundLog, bind_log, is_integer_column
from sqlwave.macros import render
from sqlwave.session import Session


def evaluate_layout(
    logs: Any,
    key_col: str = "key",
    size_col: str | None = None,
    request_col: str | None = None,
    train_frac: float = 0.7,
    remap_keys: bool = False,
    top_k: int = 20,
    params: LayoutParams | None = None,
    engine: dict[str, Any] | None = None,
    guess_size: bool = False,
    order_col: str | None = None,
) -> dict[str, Any]:
    """Split by access order, learn each layout on the training part, judge on the test part.

    With `guess_size` and no `size_col`, a column named `size` gives the sizes when it is an
    integer column with a size >= 0 for every access (the ARC OLTP trace has an all-NULL one).

    >>> import pyarrow as pa
    >>> log = pa.table({"key": [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3], "request_id": [0] * 3
    ...                 + [1] * 3 + [2] * 3 + [3] * 3})
    >>> out = evaluate_layout(log, request_col="request_id", train_frac=0.5)
    >>> out["requests_test"], out["chosen_test_extents_per_request_mean"]
    (2, 1.0)
    """
    params = params or LayoutParams()
    params.check()
    whole("top_k", top_k, 1, 100_000)
    if not isinstance(train_frac, (int, float)) or not 0 < train_frac < 1:
        raise ParameterError(f"--train-frac must be between 0 and 1 (exclusive), got {train_frac}")
    session = _session(logs, key_col, size_col, request_col, engine, guess_size, order_col)
    session.check_sizes()
    log = prepare_log(session, remap_keys, params.window)
    lo, cut, hi, before, n = split(session, log, train_frac)
    if n == 0 and not fetch_dicts(session.con, f"SELECT count(*) AS n FROM {RAW_VIEW}")[0]["n"]:
        raise InputError("the log is empty (0 rows); nothing to learn from")
    if before == 0 or before == n:
        raise InputError(
            f"the log has {n} accesses with a key: too few to split at --train-frac {train_frac}"
        )
    train = window_view(session, log, "sqlwave_layout_train", lo, cut)
    test = window_view(session, log, "sqlwave_layout_test", cut, hi)
    # Learned from the training window alone: the test window must not decide how it is read.
    _cohort_params(session, params, train)
    return _judge(session, train, test, params, top_k, remap_keys, train_frac)


def _session(
    logs: Any,
    key_col: str,
    size_col: str | None,
    request_col: str | None,
    engine: dict[str, Any] | None,
    guess_size: bool,
    order_col: str | None = None,
) -> Session:
    con = connect(**(engine or {}))
    log = bind_log(con, logs, key_col, size_col, request_col, order_col)
    if guess_size and size_col is None:
        sizes = _sizes(con, log, key_col)
        if sizes == "all":
            log = bind_log(con, logs, key_col, "size", request_col, order_col, warn=False)
        elif sizes == "some":  # said, not silently dropped: one NULL size made all 1 byte
            print("Warning: the log's 'size' column has NULL or negative sizes, so objects count "
                  "as 1 byte each; pass --size size to see which rows, or fix them",
                  file=sys.stderr)
    return Session(con, log)


def _sizes(con: Any, log: BoundLog, key_col: str) -> str:
    """'all' when the log has an integer `size` column that holds a byte count >= 0 for every
    access with a key, in every file; 'some' when it holds some; else 'none' (the ARC OLTP
    trace has an all-NULL one). Anything less than all is no guess: an error about NULL or
    negative sizes would name a column the user never gave."""
    if key_col == "size" or not is_integer_column(log, "size"):
        return "none"
    row = fetch_dicts(con, f"SELECT count(*) AS n, count(\"size\") AS sized, min(\"size\") AS low "
                           f"FROM {RAW_VIEW} WHERE {quote(key_col)} IS NOT NULL")[0]
    if not row["sized"]:
        return "none"
    return "all" if row["n"] == row["sized"] and row["low"] >= 0 else "some"


def _cohort_params(session: Session, params: LayoutParams, train: str) -> None:
    """Cohorts as export defines them: the delimiter most text keys contain, else a prefix."""
    from sqlwave.export import _guess_delimiter

    delimiter = _guess_delimiter(session, f"(SELECT DISTINCT key FROM {train}) AS keys")
    if delimiter is not None:
        params.cohort_mode, params.delimiter = "delimiter", delimiter
    elif session.log.key_type == "bytes":
        params.prefix_len = params.prefix_len * 2


def _judge(
    session: Session,
    train: str,
    test: str,
    params: LayoutParams,
    top_k: int,
    remap_keys: bool,
    train_frac: float,
) -> dict[str, Any]:
    tuned = tune(session, train, params, tag="tune")
    if "page_bits" in tuned:
        params = replace(
            params,
            page_bits=tuned["page_bits"],
            align_bits=tuned["align_bits"],
            page_bits_options=(),
        )
    features, boundaries = learn(session, train, "train", params)
    strategies, held = {}, None
    for name in params.candidates:
        table = pack(session, features, name, params, "sqlwave_layout_pack_eval")
        s = score(session, table, test, params, boundaries[0])
        held = held or s
        strategies[name] = {
            "test_extents_per_request_mean": s["extents_mean"],
            "test_extents_per_request_p90": s["extents_p90"],
            "test_hot_hit_ratio": s["hot_hit_ratio"],
            "test_bytes_read_per_request_mean": s["bytes_read_mean"],
            "train_proxy": {k: tuned["candidates"][name][k] for k in PROXIES},
        }
    assert held is not None
    chosen = str(tuned["chosen"])
    return {
        "requests_test": held["requests"],
        "keys_in_layout_frac": round(held["accesses_held"] / held["accesses"], 6)
        if held["accesses"]
        else 0.0,
        "strategies": strategies,
        "chosen": chosen,
        "chosen_test_extents_per_request_mean": strategies[chosen]["test_extents_per_request_mean"],
        # The per-request means count the test requests that touch a key the layout holds.
        "requests_test_scored": held["requests_held"],
        "stability": stability(session, train, test, chosen, params, top_k),
        "parameters": {
            "train_frac": train_frac,
            "remap_keys": remap_keys,
            "page_bits": params.page_bits,
            "size_col": session.log.size_col,
            "requests": "column"
            if session.log.has_request
            else f"windows of {params.window} accesses",
            "tuner": {k: v for k, v in tuned.items() if k != "candidates"},
            "wave_boundaries": boundaries,
            "accesses_train": _count(session, train),
            "accesses_test": _count(session, test),
        },
    }


def _count(session: Session, view: str) -> int:
    return int(
        fetch_dicts(session.con, f"SELECT CAST(count(*) AS BIGINT) AS n FROM {view}")[0]["n"]
    )


def stability(
    session: Session, train: str, test: str, strategy: str, params: LayoutParams, top_k: int
) -> dict[str, Any]:
    """How much the layout would change if it were learned on the test window instead."""
    a, a_bounds = learn(session, train, "stab_a", params)
    b, b_bounds = learn(session, test, "stab_b", params)
    pa_ = pack(session, a, strategy, params, "sqlwave_layout_stab_pack_a")
    pb = pack(session, b, strategy, params, "sqlwave_layout_stab_pack_b")
    wave0 = _wave0_jaccard(session, pa_, pb, a_bounds[0], b_bounds[0])
    moved = bytes_moved(session, pa_, pb)
    # The hot set (wave 0 of the hot order) is what a pinned cache keeps whatever the order
    # inside the waves; report its stability beside the chosen layout's own wave 0.
    ha = pack(session, a, "hot", params, "sqlwave_layout_stab_pack_a")
    hb = pack(session, b, "hot", params, "sqlwave_layout_stab_pack_b")
    hot0 = _wave0_jaccard(session, ha, hb, a_bounds[0], b_bounds[0])
    cohorts = jaccard(
        session, _top_cohorts(session, a, params, top_k), _top_cohorts(session, b, params, top_k)
    )
    return {
        "top_k": top_k,
        "top_cohorts_jaccard": cohorts,
        "wave0_keys_jaccard": wave0,
        "hot_wave0_keys_jaccard": hot0,
        "bytes_moved": moved,
        "strategy": strategy,
    }


def _wave0_jaccard(session: Session, a: str, b: str, a_end: int, b_end: int) -> float | None:
    return jaccard(
        session,
        f"SELECT key FROM {a} WHERE byte_offset + aligned_size <= {a_end}",
        f"SELECT key FROM {b} WHERE byte_offset + aligned_size <= {b_end}",
    )


def _top_cohorts(session: Session, usage_like: str, params: LayoutParams, top_k: int) -> str:
    text_keys = session.log.key_type != "integer"
    sql = render(
        "cohorts",
        src=usage_like,
        text_keys=text_keys,
        mode=params.cohort_mode,
        prefix_len=str(params.prefix_len),
        delimiter=literal(params.delimiter),
        depth=str(params.depth),
        max_depth=params.depth,
        rank_by="hits",
        top_k=str(top_k),
    )
    return f"SELECT cohort AS key FROM ({sql})"


def jaccard(session: Session, left: str, right: str) -> float | None:
    """|A ∩ B| / |A ∪ B| of two one-column (key) queries; None when both are empty."""
    row = fetch_dicts(
        session.con,
        f"""
        WITH a AS (SELECT DISTINCT key FROM ({left}) AS l),
             b AS (SELECT DISTINCT key FROM ({right}) AS r)
        SELECT CAST((SELECT count(*) FROM a JOIN b ON a.key = b.key) AS BIGINT) AS both_,
               CAST((SELECT count(*) FROM a) AS BIGINT) AS na,
               CAST((SELECT count(*) FROM b) AS BIGINT) AS nb""",
    )[0]
    union = int(row["na"]) + int(row["nb"]) - int(row["both_"])
    return round(int(row["both_"]) / union, 6) if union else None


def bytes_moved(session: Session, old: str, new: str) -> int:
    """Aligned bytes of the keys both layouts hold that sit at a different offset in `new`."""
    row = fetch_dicts(
        session.con,
        f"""
        SELECT CAST(COALESCE(sum(n.aligned_size), 0) AS BIGINT) AS moved
        FROM {new} AS n JOIN {old} AS o ON o.key = n.key
        WHERE o.byte_offset <> n.byte_offset""",
    )[0]
    return int(row["moved"])
