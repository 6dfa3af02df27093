"""evaluate-layout on logs with holes: what the test window may not decide, NULL request ids,
NULL keys, sizes that are only partly there (found by an audit that re-computed its numbers).
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from sqlwave.layout_eval import evaluate_layout


def requests_log(n_requests: int = 40, per: int = 6, tail: list[str] | None = None) -> pa.Table:
    keys, ids = [], []
    for r in range(n_requests):
        keys += [f"g{r % 5}.s{r % 3}.k{i}.w1" for i in range(per)]
        ids += [r] * per
    for i, key in enumerate(tail or []):
        keys.append(key)
        ids.append(n_requests + i // per)
    return pa.table({"key": keys, "request_id": ids})


def test_the_test_window_does_not_change_what_is_learned() -> None:
    # Same training rows; in b the test window is full of keys with another separator, which
    # made the cohort separator (guessed over the whole log) '/' instead of '.'.
    train = requests_log()
    n = train.num_rows
    a = requests_log(tail=train.column("key").to_pylist()[: n // 2])
    b = requests_log(tail=[f"n{i}/z/q" for i in range(n // 2)])
    frac = n / a.num_rows
    ra = evaluate_layout(a, request_col="request_id", train_frac=frac)
    rb = evaluate_layout(b, request_col="request_id", train_frac=frac)
    assert ra["parameters"]["accesses_train"] == rb["parameters"]["accesses_train"] == n
    for name in ra["strategies"]:
        assert ra["strategies"][name]["train_proxy"] == rb["strategies"][name]["train_proxy"], name


def test_accesses_without_a_request_id_are_requests_of_their_own() -> None:
    # They were one request, spanning both windows; with ids of their own the numbers are the
    # same as when each had a unique id.
    base = requests_log()
    ids = base.column("request_id").to_pylist()
    missing = [None if i % 5 == 0 else r for i, r in enumerate(ids)]
    unique = [10_000 + i if r is None else r for i, r in enumerate(missing)]
    with_nulls = evaluate_layout(base.set_column(1, "request_id", pa.array(missing)),
                                 request_col="request_id", train_frac=0.6)
    with_ids = evaluate_layout(base.set_column(1, "request_id", pa.array(unique)),
                               request_col="request_id", train_frac=0.6)
    assert with_nulls["requests_test"] == with_ids["requests_test"]
    for name in with_ids["strategies"]:
        for field in ("test_extents_per_request_mean", "test_extents_per_request_p90"):
            assert with_nulls["strategies"][name][field] == with_ids["strategies"][name][field]


def test_the_split_counts_accesses_with_a_key() -> None:
    # Every other row of the first half without a key: --train-frac 0.5 gave training a third
    # of the keyed accesses, and "too few to split" counted the NULL rows as accesses.
    keys = [None if i < 1000 and i % 2 else i % 37 for i in range(2000)]
    out = evaluate_layout(pa.table({"key": keys}), train_frac=0.5)
    assert out["parameters"]["accesses_train"] == out["parameters"]["accesses_test"] == 750
    with pytest.raises(Exception, match="has 2 accesses with a key"):
        evaluate_layout(pa.table({"key": [1] + [None] * 100 + [2]}), train_frac=0.005)


def test_a_size_column_with_holes_is_not_used_without_a_word(capsys) -> None:
    log = requests_log()
    sizes = [4096] * log.num_rows
    full = evaluate_layout(log.append_column("size", pa.array(sizes)), request_col="request_id",
                           guess_size=True)
    assert full["parameters"]["size_col"] == "size" and "Warning" not in capsys.readouterr().err
    sizes[-1] = None
    holed = evaluate_layout(log.append_column("size", pa.array(sizes)), request_col="request_id",
                            guess_size=True)
    assert holed["parameters"]["size_col"] is None
    assert "'size' column has NULL or negative sizes" in capsys.readouterr().err
    empty = evaluate_layout(log.append_column("size", pa.array([None] * log.num_rows, pa.int64())),
                            request_col="request_id", guess_size=True)
    assert empty["parameters"]["size_col"] is None and "Warning" not in capsys.readouterr().err


def test_the_means_say_how_many_requests_they_count() -> None:
    out = evaluate_layout(requests_log(tail=[f"new.{i}" for i in range(12)]),
                          request_col="request_id", train_frac=0.8)
    assert out["requests_test_scored"] < out["requests_test"]  # two requests of new keys only
