"""evaluate-layout, export --order auto / --previous, and their errors, through the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sqlwave.cli import cli
from sqlwave.commands import register
from sqlwave.wavespec import load_schema
from tests.conftest import shared_file

register(cli)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def request_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 requests of 6 blocks each, seen twice in shuffled order, plus a few hot blocks."""
    keys, ids, rid = [], [], 0
    for round_ in range(2):
        for r in range(40) if round_ == 0 else reversed(range(40)):
            keys += [1000 * r + i for i in range(6)]
            ids += [rid] * 6
            rid += 1
    for k in (0, 1000, 2000) * 5:
        keys.append(k)
        ids.append(rid)
        rid += 1
    path = tmp_path_factory.mktemp("logs") / "requests.parquet"
    pq.write_table(pa.table({"key": keys, "size": [8192] * len(keys), "request_id": ids}), path)
    return path


@pytest.mark.real_data
def test_evaluate_layout_meets_the_mooncake_target() -> None:
    trace = shared_file("mooncake/synthetic.parquet")
    code, out, err = invoke("evaluate-layout", "--logs", str(trace), "--request-col",
                            "request_id", "--train-frac", "0.7", "--remap-keys")
    assert code == 0, err
    result = json.loads(out)
    assert list(result)[:5] == ["requests_test", "keys_in_layout_frac", "strategies", "chosen",
                                "chosen_test_extents_per_request_mean"]
    assert result["chosen_test_extents_per_request_mean"] <= 1.10
    assert result["strategies"]["hot"]["test_extents_per_request_mean"] >= 30
    assert result["requests_test"] > 800 and 0.5 < result["keys_in_layout_frac"] < 1
    stability = result["stability"]
    assert 0 <= stability["top_cohorts_jaccard"] <= 1 and stability["bytes_moved"] >= 0
    for s in result["strategies"].values():
        assert s["test_extents_per_request_p90"] >= 1 and 0 <= s["test_hot_hit_ratio"] <= 1


def test_evaluate_layout_is_deterministic_across_threads(request_log: Path) -> None:
    runs = [invoke("evaluate-layout", "--logs", str(request_log), "--request-col", "request_id",
                   "--remap-keys", "--threads", t) for t in ("1", "2")]
    assert runs[0][0] == 0, runs[0][2]
    assert runs[0][1] == runs[1][1]
    result = json.loads(runs[0][1])
    assert result["strategies"]["first-touch"]["test_extents_per_request_mean"] == 1.0


def test_export_order_auto_records_why(request_log: Path, tmp_path: Path) -> None:
    outs = []
    for threads in ("1", "2"):
        out = tmp_path / f"ws{threads}.json"
        code, _, err = invoke("export", "--logs", str(request_log), "--size", "size",
                              "--request-col", "request_id", "--order", "auto", "--out", str(out),
                              "--threads", threads)
        assert code == 0, err
        outs.append(out.read_text())
    assert outs[0] == outs[1]
    spec = json.loads(outs[0])
    jsonschema.validate(spec, load_schema())
    tuner = spec["layout"]["tuner"]
    assert spec["parameters"]["order"] == "auto"
    assert spec["pack_order"]["strategy"] == tuner["chosen"] == spec["layout"]["strategy"]
    scores = tuner["candidates"]
    assert scores[tuner["chosen"]]["extents_mean"] < scores["hot"]["extents_mean"]
    for proxies in scores.values():
        assert {"extents_mean", "bytes_read_mean", "hot_hit_ratio"} <= set(proxies)


def test_in_sample_tuner_says_it_scored_the_whole_log(tmp_path: Path) -> None:
    # The last fifth holds only keys never seen before, so no held-out request can be scored.
    n = 100
    keys = [f"k.{i % 10}" if i < 80 else f"k.{i}" for i in range(n)]
    log = tmp_path / "log.parquet"
    pq.write_table(pa.table({"key": keys, "size": [4096] * n, "request_id": [i // 5 for i in
                                                                              range(n)]}), log)
    out = tmp_path / "ws.json"
    code, _, err = invoke("export", "--logs", str(log), "--size", "size", "--request-col",
                          "request_id", "--order", "auto", "--out", str(out))
    assert code == 0, err
    tuner = json.loads(out.read_text())["layout"]["tuner"]
    assert tuner["method"] == "in-sample"
    assert tuner["fit_accesses"] == tuner["holdout_accesses"] == n


def test_export_tunes_the_page_size(request_log: Path, tmp_path: Path) -> None:
    spec = export(request_log, tmp_path / "p.json", "--order", "auto", "--page-bits-options",
                  "12,16,20", "--io-cost", "64KiB")
    tuner = spec["layout"]["tuner"]
    assert sorted(tuner["page_sizes"]) == ["12", "16", "20"]
    costs = {int(b): p["cost_per_request"] for b, p in tuner["page_sizes"].items()}
    assert spec["parameters"]["page_bits"] == tuner["page_bits"] == min(costs, key=costs.get)
    assert spec["extents"]["page_bits"] == tuner["page_bits"]
    # Without --align-bits, objects are packed at the smallest option, as evaluate-layout does.
    spec = export(request_log, tmp_path / "p16.json", "--order", "auto", "--page-bits-options",
                  "16,20")
    assert spec["pack_order"]["align_bytes"] == 2**16 == 2 ** spec["parameters"]["align_bits"]


def export(log: Path, out: Path, *extra: str) -> dict[str, object]:
    code, _, err = invoke("export", "--logs", str(log), "--size", "size", "--request-col",
                          "request_id", "--out", str(out), *extra)
    assert code == 0, err
    return dict(json.loads(out.read_text()))


def test_previous_layout_kept_when_new_is_not_better(request_log: Path, tmp_path: Path) -> None:
    first = export(request_log, tmp_path / "a.json", "--order", "first-touch",
                   "--pack-order-out", str(tmp_path / "a.parquet"))
    again = export(request_log, tmp_path / "b.json", "--order", "first-touch", "--previous",
                   str(tmp_path / "a.json"))
    prev = again["layout"]["previous"]
    assert prev["kept"] and prev["bytes_moved"] == 0 and prev["complete"]
    assert again["pack_order"]["inline"] == first["pack_order"]["inline"]


def test_previous_layout_replaced_when_new_is_much_better(request_log: Path,
                                                          tmp_path: Path) -> None:
    export(request_log, tmp_path / "hot.json", "--order", "hot")
    new = export(request_log, tmp_path / "auto.json", "--order", "auto", "--previous",
                 str(tmp_path / "hot.json"))
    jsonschema.validate(new, load_schema())
    prev = new["layout"]["previous"]
    assert not prev["kept"] and prev["strategy"] == "hot"
    assert prev["new_extents_per_request"] < prev["previous_extents_per_request"] * 0.95
    assert prev["bytes_moved"] == prev["bytes_moved_if_switched"] > 0
    # A threshold above the gain keeps the old layout, and nothing moves.
    kept = export(request_log, tmp_path / "kept.json", "--order", "auto", "--previous",
                  str(tmp_path / "hot.json"), "--previous-threshold", "0.99")
    assert kept["layout"]["previous"]["kept"] and kept["layout"]["previous"]["bytes_moved"] == 0
    # The layout in force is the previous one: the WaveSpec names its strategy, not the new one.
    assert kept["pack_order"]["strategy"] == kept["layout"]["strategy"] == "hot"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate-layout", "--train-frac", "1.5"], "--train-frac must be between 0 and 1"),
        (["evaluate-layout", "--strategies", "hott"], 'Did you mean "hot"?'),
        (["evaluate-layout", "--key", "nope"], "column 'nope' is not in the log"),
        (["export", "--order", "frist-touch"], 'Did you mean "first-touch"?'),
        (["export", "--order", "auto", "--previous", "missing.json"],
         "the previous WaveSpec 'missing.json' does not exist"),
        (["report", "missing.json"], "WaveSpec 'missing.json' does not exist"),
        (["export", "--order", "auto", "--page-bits-options", "12,x"], "comma-separated integers"),
        (["evaluate-layout", "--page-bits-options", "12,99"],
         "page size options (bits) must be a whole number between 0 and 40, got 99"),
        (["evaluate-layout", "--page-bits", "41"], "page_bits must be a whole number between 0"),
        (["evaluate-layout", "--top-k", "0"], "top_k must be a whole number between 1 and 100000"),
        (["evaluate-layout", "--wave-bytes", "auto"], "--wave-bytes auto is for export only"),
        (["evaluate-layout", "--wave-bytes", "1GiB,"], "an empty item in '1GiB,'"),
    ],
)
def test_cli_errors(args: list[str], message: str, request_log: Path, tmp_path: Path) -> None:
    logs = ["--logs", str(request_log)] if args[0] != "report" else []
    out = ["--out", str(tmp_path / "x.json")] if args[0] == "export" else []
    code, _, err = invoke(*args, *logs, *out)
    assert code == 1
    assert err.startswith("Error: ") and message in err and "Traceback" not in err


def test_previous_without_sidecar_warns_and_places_the_rest(request_log: Path,
                                                            tmp_path: Path) -> None:
    export(request_log, tmp_path / "small.json", "--order", "first-touch", "--max-inline", "5")
    result = CliRunner().invoke(cli, ["export", "--logs", str(request_log), "--size", "size",
                                      "--request-col", "request_id", "--order", "first-touch",
                                      "--previous", str(tmp_path / "small.json"),
                                      "--out", str(tmp_path / "next.json")])
    assert result.exit_code == 0, result.stderr
    assert "inlines 5 of 240 keys" in result.stderr
    spec = json.loads((tmp_path / "next.json").read_text())
    prev = spec["layout"]["previous"]
    assert prev["keys"] == 5 and not prev["complete"]
    # The five kept keys sit where they were; nothing overlaps.
    before = json.loads((tmp_path / "small.json").read_text())["pack_order"]["inline"]
    now = {e["key"]: e["byte_offset"] for e in spec["pack_order"]["inline"]}
    assert all(now[e["key"]] == e["byte_offset"] for e in before)
    spans = sorted((e["byte_offset"], e["aligned_size"]) for e in spec["pack_order"]["inline"])
    assert all(a + n <= b for (a, n), (b, _) in zip(spans, spans[1:], strict=False))


def test_evaluate_layout_guesses_sizes_over_every_file(tmp_path: Path) -> None:
    # The `size` column is used only when every access has a size: the order of the files must
    # not matter (the guess once read the first file only), and a NULL size never gives an
    # error about a column the user did not name.
    keys = [i % 7 for i in range(60)]
    pq.write_table(pa.table({"key": keys, "size": pa.nulls(60, pa.int64())}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"key": keys, "size": [4096 * (k + 1) for k in keys]}),
                   tmp_path / "b.parquet")
    results = []
    for order in (("a", "b"), ("b", "a")):
        logs = [arg for name in order for arg in ("--logs", str(tmp_path / f"{name}.parquet"))]
        code, out, err = invoke("evaluate-layout", *logs)
        assert code == 0, err
        results.append(json.loads(out)["strategies"]["hot"]["test_bytes_read_per_request_mean"])
    # A file without sizes means no guess, in either order: each access reads one page.
    assert results[0] == results[1]
    code, out, err = invoke("evaluate-layout", "--logs", str(tmp_path / "b.parquet"))
    assert code == 0, err
    assert json.loads(out)["strategies"]["hot"]["test_bytes_read_per_request_mean"] != results[0]
    # A text `size` column the user never named is not a size column: no error about it.
    pq.write_table(pa.table({"key": keys, "size": ["big"] * 60}), tmp_path / "t.parquet")
    code, out, err = invoke("evaluate-layout", "--logs", str(tmp_path / "t.parquet"))
    assert code == 0, err
    assert json.loads(out)["requests_test"] > 0


def test_evaluate_layout_refuses_a_broken_footer(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1" + bytes(8) + b"PAR1")
    code, _, err = invoke("evaluate-layout", "--logs", str(bad))
    assert code == 1 and err.startswith("Error: ") and "cannot read Parquet file" in err, err


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"top_k": -5}, "top_k must be a whole number between 1 and 100000"),
    ({"params": "page_bits=70"}, "page_bits must be a whole number between 0 and 40"),
    ({"params": "window=2.5"}, "request_window must be a whole number"),
    ({"params": "io_cost_bytes=0"}, "io_cost_bytes must be a whole number between 1"),
    ({"params": "depth=0"}, "depth must be a whole number between 1"),
    ({"params": "prefix_len=0"}, "prefix_len must be a whole number between 1"),
])
def test_evaluate_layout_api_checks_as_export_does(kwargs: dict[str, object], message: str,
                                                   request_log: Path) -> None:
    from sqlwave.errors import ParameterError
    from sqlwave.layout import LayoutParams
    from sqlwave.layout_eval import evaluate_layout

    if isinstance(kwargs.get("params"), str):
        name, value = str(kwargs["params"]).split("=")
        kwargs = {"params": LayoutParams(**{name: float(value) if "." in value else int(value)})}
    with pytest.raises(ParameterError, match=message):
        evaluate_layout(str(request_log), request_col="request_id", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("sidecar", "message"), [
    ("broken", "cannot read the previous pack order"),
    ("log", "lacks column(s) rank, byte_offset, aligned_size, hits"),
])
def test_previous_with_a_bad_sidecar(sidecar: str, message: str, request_log: Path,
                                     tmp_path: Path) -> None:
    # Passed over with a warning (a later export may have overwritten it): the inline keys are
    # then all that is known of the old layout, which is safe.
    side = tmp_path / "side.parquet"
    export(request_log, tmp_path / "prev.json", "--order", "first-touch", "--pack-order-out",
           str(side))
    side.write_bytes(b"PAR1" + bytes(8) + b"PAR1" if sidecar == "broken" else
                     request_log.read_bytes())
    code, _, err = invoke("export", "--logs", str(request_log), "--size", "size", "--request-col",
                          "request_id", "--previous", str(tmp_path / "prev.json"), "--out",
                          str(tmp_path / "new.json"))
    assert code == 0 and "Warning: passed over" in err and message in err, err
    # The previous WaveSpec inlines all 240 keys: nothing is lost.
    assert json.loads((tmp_path / "new.json").read_text())["layout"]["previous"]["keys"] == 240


def _offsets(spec: dict[str, object], sidecar: Path | None = None) -> dict[object, tuple[int, int]]:
    rows = (pq.read_table(sidecar).to_pylist() if sidecar else
            spec["pack_order"]["inline"])  # type: ignore[index]
    return {r["key"]: (r["byte_offset"], r["aligned_size"]) for r in rows}


def test_previous_sidecar_is_found_beside_its_wavespec_not_in_the_working_folder(
        request_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two exports with a sidecar of the same name in different folders: a re-export run from the
    # other folder must read the previous WaveSpec's own sidecar (it read the working folder's).
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    export(request_log, Path("spec.json"), "--order", "first-touch", "--pack-order-out",
           "pack.parquet")
    monkeypatch.chdir(tmp_path / "b")
    old = export(request_log, Path("spec.json"), "--order", "hot", "--pack-order-out", "pack.parquet",
                 "--max-inline", "3")
    assert old["pack_order"]["sidecar"] == "pack.parquet"
    monkeypatch.chdir(tmp_path / "a")
    new = export(request_log, tmp_path / "c.json", "--order", "hot", "--previous",
                 str(tmp_path / "b" / "spec.json"), "--previous-threshold", "0.99")
    assert new["layout"]["previous"]["keys"] == old["pack_order"]["keys"]
    assert _offsets(new, None).items() <= _offsets(old, tmp_path / "b" / "pack.parquet").items()
    # A sidecar that is not the WaveSpec's own is passed over, not used.
    (tmp_path / "b" / "pack.parquet").write_bytes((tmp_path / "a" / "pack.parquet").read_bytes())
    code, _, err = invoke("export", "--logs", str(request_log), "--size", "size", "--previous",
                          str(tmp_path / "b" / "spec.json"), "--out", str(tmp_path / "d.json"))
    assert code == 0 and "Warning: passed over" in err and "rank 1 differs" in err, err
    assert json.loads((tmp_path / "d.json").read_text())["layout"]["previous"]["keys"] == 3


def test_previous_refuses_a_sidecar_whose_waves_differ(request_log: Path, tmp_path: Path) -> None:
    # With nothing inlined, only the waves tell two layouts of the same keys apart.
    export(request_log, tmp_path / "v1.json", "--max-inline", "0", "--pack-order-out",
           str(tmp_path / "pack.parquet"))
    export(request_log, tmp_path / "v2.json", "--order", "first-touch", "--max-inline", "0",
           "--pack-order-out", str(tmp_path / "pack.parquet"))
    code, _, err = invoke("export", "--logs", str(request_log), "--size", "size", "--previous",
                          str(tmp_path / "v1.json"), "--out", str(tmp_path / "v3.json"))
    assert code == 0 and "Warning: passed over" in err and "differs" in err, err


def test_sidecar_is_named_relative_to_the_wavespec(request_log: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = export(request_log, Path("out/s.json"), "--pack-order-out", "out/s.pack.parquet")
    assert spec["pack_order"]["sidecar"] == "s.pack.parquet"
    spec = export(request_log, Path("s.json"), "--pack-order-out", str(tmp_path / "x.parquet"))
    assert spec["pack_order"]["sidecar"] == str(tmp_path / "x.parquet")


def test_previous_with_another_alignment_is_refused(request_log: Path, tmp_path: Path) -> None:
    export(request_log, tmp_path / "a.json", "--align-bits", "9", "--pack-order-out",
           str(tmp_path / "a.parquet"))
    code, _, err = invoke("export", "--logs", str(request_log), "--size", "size", "--previous",
                          str(tmp_path / "a.json"), "--out", str(tmp_path / "b.json"))
    assert code == 1 and "aligned to 512 bytes, this export to 4096" in err, err
    assert "--align-bits 9" in err


def test_previous_without_sidecar_places_new_keys_after_the_old_buffer(request_log: Path,
                                                                       tmp_path: Path) -> None:
    # Keys the previous WaveSpec did not inline may sit anywhere in its buffer: nothing new may
    # be placed there (they were placed after the last inlined key, over other keys' slots).
    full = export(request_log, tmp_path / "full.json", "--order", "first-touch",
                  "--pack-order-out", str(tmp_path / "full.parquet"))
    export(request_log, tmp_path / "small.json", "--order", "first-touch", "--max-inline", "5")
    new = export(request_log, tmp_path / "new.json", "--order", "hot", "--previous",
                 str(tmp_path / "small.json"), "--previous-threshold", "0.99",
                 "--max-inline", "1000")
    prev = new["layout"]["previous"]
    assert prev["kept"] and not prev["complete"] and prev["keys"] == 5
    end = max(w["end_offset"] for w in full["waves"])
    old = _offsets(full, tmp_path / "full.parquet")
    for key, (offset, _) in _offsets(new).items():
        assert offset == old[key][0] or offset >= end
    assert new["pack_order"]["buffer_bytes"] > new["pack_order"]["total_bytes"]


def test_bytes_moved_counts_only_keys_the_previous_layout_had(tmp_path: Path) -> None:
    first = tmp_path / "first.parquet"
    second = tmp_path / "second.parquet"
    keys = [k for r in range(30) for k in (r, r + 100, r + 200)]
    pq.write_table(pa.table({"key": keys, "size": [4096] * len(keys),
                             "request_id": [i // 3 for i in range(len(keys))]}), first)
    # The ten new keys come first: a new first-touch layout puts them at the front.
    pq.write_table(pa.table({"key": list(range(1000, 1010)) + keys,
                             "size": [4096] * (len(keys) + 10),
                             "request_id": [i // 3 for i in range(len(keys) + 10)]}), second)
    export(first, tmp_path / "a.json", "--order", "hot", "--pack-order-out",
           str(tmp_path / "a.parquet"))
    new = export(second, tmp_path / "b.json", "--order", "first-touch", "--previous",
                 str(tmp_path / "a.json"), "--previous-threshold", "0", "--max-inline", "1000")
    prev = new["layout"]["previous"]
    old = _offsets({}, tmp_path / "a.parquet")
    moved = sum(size for key, (offset, size) in _offsets(new).items()
                if key in old and old[key][0] != offset)
    assert prev["bytes_moved"] == moved
    if not prev["kept"]:
        assert prev["bytes_moved_if_switched"] == moved
    # The ten new keys are loaded either way: at most the 90 old keys' bytes can move (the new
    # keys were counted too).
    assert 0 < prev["bytes_moved_if_switched"] <= 90 * 4096


def test_a_kept_empty_key_comes_before_the_key_at_its_offset(tmp_path: Path) -> None:
    # Ranked after `a` (which starts where it sits), the empty key made the pages go back: the
    # one run of pages 0-2 counted as two extents.
    old_log, new_log = tmp_path / "1.parquet", tmp_path / "2.parquet"
    pq.write_table(pa.table({"key": ["z", "a", "b"], "size": [0, 8192, 4096]}), old_log)
    pq.write_table(pa.table({"key": ["b", "a", "z"], "size": [4096, 8192, 0]}), new_log)
    assert invoke("export", "--logs", str(old_log), "--size", "size", "--order", "first-touch",
                  "--out", str(tmp_path / "old.json"))[0] == 0
    code, _, err = invoke("export", "--logs", str(new_log), "--size", "size", "--order",
                          "first-touch", "--previous", str(tmp_path / "old.json"),
                          "--previous-threshold", "0.99", "--out", str(tmp_path / "new.json"))
    assert code == 0, err
    spec = json.loads((tmp_path / "new.json").read_text())
    assert spec["layout"]["previous"]["kept"]
    assert [e["key"] for e in spec["pack_order"]["inline"]] == ["z", "a", "b"]
    # Wave 0 holds only the empty key, which covers no page.
    assert spec["extents"]["count"] == 1 and [w["extents"] for w in spec["waves"]] == [0, 1]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s["pack_order"]["inline"].append(dict(s["pack_order"]["inline"][0])),
     "is listed twice"),
    (lambda s: s["pack_order"]["inline"][1].update(byte_offset=4097), "is not aligned to 4096"),
    (lambda s: s["pack_order"]["inline"][1].update(
        byte_offset=s["pack_order"]["inline"][0]["byte_offset"]), "overlap"),
    (lambda s: s["pack_order"]["inline"][0].update(key=7), "is not text"),
    (lambda s: s["pack_order"]["inline"][0].update(byte_offset=2**63), "no well-formed pack order"),
    (lambda s: s.update(format="sqlwave.wavespec/9"), "has format 'sqlwave.wavespec/9'"),
])
def test_a_hand_edited_previous_is_refused(tmp_path: Path, edit: Callable[[dict], None],
                                           message: str) -> None:
    log = tmp_path / "log.parquet"
    pq.write_table(pa.table({"key": ["a", "b", "c", "d"] * 3, "size": [4096] * 12}), log)
    old = tmp_path / "old.json"
    assert invoke("export", "--logs", str(log), "--size", "size", "--out", str(old))[0] == 0
    spec = json.loads(old.read_text())
    edit(spec)
    old.write_text(json.dumps(spec))
    code, _, err = invoke("export", "--logs", str(log), "--size", "size", "--order",
                          "first-touch", "--previous", str(old), "--out", str(tmp_path / "n.json"))
    assert code == 1 and err.startswith("Error: ") and message in err, err
    assert not (tmp_path / "n.json").exists()


def test_a_previous_layout_sharing_no_key_is_replaced(tmp_path: Path) -> None:
    old_log, new_log = tmp_path / "1.parquet", tmp_path / "2.parquet"
    pq.write_table(pa.table({"key": [f"old.{i}" for i in range(10)], "size": [4096] * 10}),
                   old_log)
    pq.write_table(pa.table({"key": [f"new.{i % 10}" for i in range(40)], "size": [4096] * 40}),
                   new_log)
    assert invoke("export", "--logs", str(old_log), "--size", "size", "--out",
                  str(tmp_path / "old.json"))[0] == 0
    code, _, err = invoke("export", "--logs", str(new_log), "--size", "size", "--order",
                          "first-touch", "--previous", str(tmp_path / "old.json"),
                          "--previous-threshold", "0.99", "--out", str(tmp_path / "new.json"))
    assert code == 0, err
    spec = json.loads((tmp_path / "new.json").read_text())
    prev = spec["layout"]["previous"]
    assert not prev["kept"] and prev["bytes_moved"] == 0
    assert spec["pack_order"]["inline"][0]["byte_offset"] == 0
    assert spec["pack_order"]["buffer_bytes"] == 10 * 4096


def test_request_ids_past_2_63_are_labels(tmp_path: Path) -> None:
    log = tmp_path / "log.parquet"
    ids = pa.array([2**63 + i // 3 for i in range(60)], pa.uint64())
    pq.write_table(pa.table({"key": [f"k.{i % 7}" for i in range(60)], "size": [4096] * 60,
                             "request_id": ids}), log)
    code, _, err = invoke("export", "--logs", str(log), "--size", "size", "--request-col",
                          "request_id", "--order", "auto", "--out", str(tmp_path / "ws.json"))
    assert code == 0, err


def test_a_previous_sidecar_with_nulls_is_passed_over(tmp_path: Path) -> None:
    log = tmp_path / "log.parquet"
    pq.write_table(pa.table({"key": [f"k{i % 10}" for i in range(50)], "size": [4096] * 50}), log)
    old, side = tmp_path / "old.json", tmp_path / "old.pack.parquet"
    assert invoke("export", "--logs", str(log), "--size", "size", "--max-inline", "3", "--out",
                  str(old), "--pack-order-out", str(side))[0] == 0
    rows = pq.read_table(side).to_pylist()
    rows[-1]["hits"] = None
    schema = pa.schema([f.with_nullable(True) for f in pq.read_schema(side)])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), side)
    code, _, err = invoke("export", "--logs", str(log), "--size", "size", "--order",
                          "first-touch", "--previous", str(old), "--out", str(tmp_path / "n.json"))
    assert code == 0, err
    assert "a NULL or negative number" in err and "Traceback" not in err


def test_a_previous_whose_waves_end_past_its_objects_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "log.parquet"
    pq.write_table(pa.table({"key": [f"k{i % 10}" for i in range(50)], "size": [4096] * 50}), log)
    old = tmp_path / "old.json"
    assert invoke("export", "--logs", str(log), "--size", "size", "--out", str(old))[0] == 0
    spec = json.loads(old.read_text())
    spec["waves"][-1]["end_offset"] = 2**50
    old.write_text(json.dumps(spec))
    code, _, err = invoke("export", "--logs", str(log), "--size", "size", "--order",
                          "first-touch", "--previous", str(old), "--out", str(tmp_path / "n.json"))
    assert code == 1 and "its waves end past its last object" in err, err


def test_a_previous_named_through_a_link_finds_its_sidecar(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The sidecar is named relative to the folder the WaveSpec was written to: through
    # latest.json -> runs/day0/ws.json it was looked for beside the link, and only the inlined
    # keys were kept. (Relative names: an absolute --pack-order-out is recorded as given.)
    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"key": [f"k{i % 20}" for i in range(100)], "size": [4096] * 100}),
                   "log.parquet")
    assert invoke("export", "--logs", "log.parquet", "--size", "size", "--max-inline", "2",
                  "--out", "runs/day0/ws.json", "--pack-order-out",
                  "runs/day0/ws.pack.parquet")[0] == 0
    Path("latest.json").symlink_to("runs/day0/ws.json")
    code, _, err = invoke("export", "--logs", "log.parquet", "--size", "size", "--order",
                          "first-touch", "--previous", "latest.json", "--out", "new.json")
    assert code == 0 and "sidecar is not there" not in err, err
    prev = json.loads(Path("new.json").read_text())["layout"]["previous"]
    assert prev["complete"] and prev["keys"] == 20
