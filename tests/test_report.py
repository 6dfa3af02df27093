"""`sqlwave report`: a self-contained HTML file whose charts render in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqlwave.cli import cli
from sqlwave.commands import register
from sqlwave.report import render_report

register(cli)
CHARTS = ("cohorts", "mrc", "extents", "pack-map", "layouts", "hot-hit")
# Injected into a copy only: the report itself runs no script. It measures every chart as laid
# out by the browser and writes the figures into the DOM that --dump-dom prints.
PROBE = """<script>
window.addEventListener("load", () => {
  const out = [...document.querySelectorAll("svg[data-chart]")].map(s => {
    const r = s.getBoundingClientRect();
    return {chart: s.dataset.chart, w: r.width, h: r.height,
            marks: s.querySelectorAll("rect, polyline, line").length,
            painted: [...s.querySelectorAll("rect, polyline")].filter(
              e => e.getBoundingClientRect().width > 0).length};
  });
  const pre = document.createElement("pre"); pre.id = "probe";
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});
</script>"""


def invoke(*args: str) -> None:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.stderr


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    logs = tmp / "logs.parquet"
    invoke("example-logs", "--rows", "5000", "--out", str(logs))
    invoke("export", "--logs", str(logs), "--size", "size", "--request-col", "request_id",
           "--order", "auto", "--out", str(tmp / "ws.json"))
    invoke("report", str(tmp / "ws.json"), "--out", str(tmp / "report.html"))
    return tmp / "report.html"


def test_report_is_self_contained(report_html: Path) -> None:
    html = report_html.read_text(encoding="utf-8")
    assert "<script" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    for chart in CHARTS:
        assert f'data-chart="{chart}"' in html


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "chromium is not installed (.ci/run installs it: apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must really render the report
        pytest.skip(message)
    return path


def test_charts_render_in_headless_chromium(report_html: Path, tmp_path: Path) -> None:
    probe = tmp_path / "probe.html"
    probe.write_text(report_html.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
    dom = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the page did not finish loading"
    charts = {c["chart"]: c for c in json.loads(found.group(1).replace("&quot;", '"'))}
    assert set(CHARTS) <= set(charts)
    for name in CHARTS:
        c = charts[name]
        assert c["w"] > 300 and c["h"] > 40, c
        assert c["painted"] >= 1, c


def test_report_without_curve_or_tuner_degrades_to_sentences() -> None:
    spec = {"format": "sqlwave.wavespec/1", "cohorts": [], "waves": [],
            "pack_order": {"strategy": "hot", "inline": []}, "extents": {"inline": []}}
    html = render_report(spec)
    assert "No cohorts" in html and "--order auto" in html and "<svg" not in html


WAVES = [{"wave": 0, "keys": 2, "bytes": 8192, "hits": 5, "hit_share": 0.5, "start_offset": 0,
          "end_offset": 8192, "extents": 1},
         {"wave": 2, "keys": 3, "bytes": 12288, "hits": 5, "hit_share": 0.5,
          "start_offset": 8192, "end_offset": 20480, "extents": 1}]


def spec_with(**fields: object) -> dict:
    return {"format": "sqlwave.wavespec/1", "cohorts": [], "waves": WAVES,
            "pack_order": {"strategy": "hot", "align_bytes": 4096, "inline": []}, **fields}


def test_report_draws_a_miss_ratio_curve_under_the_waves() -> None:
    curve = {"method": "aet", "unit": "bytes", "curve": "lru", "align": 4096,
             "points": [{"size": s * 512, "miss_ratio": 1 / s} for s in range(1, 60)]}
    html = render_report(spec_with(), mrc=curve)
    assert "method <b>aet</b>" in html and "<polyline" in html and "LRU miss ratio" in html
    # Wave 1 is missing (no object fitted it): the boundary is between waves 0 and 2.
    assert "wave 0 | 2" in html and "wave 0 | 1" not in html
    assert "rounded up to" not in html  # the curve is on the pack's scale


def test_report_says_when_a_byte_curve_is_not_on_the_packs_scale() -> None:
    curve = {"method": "exact", "unit": "bytes", "curve": "lru",
             "points": [{"size": s, "miss_ratio": 1 / s} for s in range(1, 60)]}
    html = render_report(spec_with(), mrc=curve)
    assert "--align-bits 12" in html


def test_report_labels_a_prefix_hit_curve() -> None:
    curve = {"method": "exact", "unit": "objects", "curve": "prefix_hits",
             "points": [{"size": s, "miss_ratio": 1 / s} for s in range(1, 60)]}
    html = render_report(spec_with(), mrc=curve)
    assert "KV prefix cache (1 - prefix hit ratio)" in html and "LRU miss ratio against" not in html
    assert "expected at the wave boundaries" not in html


def test_report_without_a_curve_draws_measured_points_only() -> None:
    inline = [{"rank": 1, "key": "a", "byte_offset": 0, "aligned_size": 4096, "hits": 4}]
    html = render_report(spec_with(pack_order={"strategy": "hot", "inline": inline}))
    # 4 of 10 accesses at 4 KiB, half at the first wave's end, none at the second's; nothing made
    # up at a smaller size.
    assert "no miss-ratio curve" in html
    assert html.count("<circle") == 3


def test_report_counts_extents_it_does_not_draw() -> None:
    html = render_report(spec_with(extents={"page_bits": 12, "count": 7, "inline": []}))
    assert "7 contiguous runs" in html and "none is inlined" in html


def test_report_says_when_the_tuner_scored_in_sample() -> None:
    tuner = {"method": "in-sample", "chosen": "hot", "fit_accesses": 100, "holdout_accesses": 100,
             "candidates": {"hot": {"extents_mean": 2.0, "hot_hit_ratio": 0.5}}}
    html = render_report(spec_with(layout={"tuner": tuner}))
    assert "learned and scored on all 100 accesses" in html


@pytest.mark.parametrize("path, value", [
    (("waves", -1, "extents"), "<script>document.title='x'</script>"),
    (("waves", 0, "wave"), "<img src=x onerror=alert(1)>"),
    (("metrics", "unique_bytes"), 1e300),
    (("extents", "page_bits"), 10**10),
    (("layout", "previous", "threshold"), "<b>"),
])
def test_report_refuses_fields_that_are_not_numbers(path: tuple, value: object) -> None:
    spec = spec_with(metrics={"rows": 10, "unique_bytes": 20480},
                     extents={"page_bits": 12, "count": 0, "inline": []},
                     layout={"previous": {"strategy": "hot", "kept": True, "threshold": 0.05,
                                          "previous_extents_per_request": 1.0,
                                          "new_extents_per_request": 1.0}})
    spec["waves"] = [dict(w) for w in WAVES]
    holder = spec
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    with pytest.raises(ValueError, match=path[-1]):
        render_report(spec)


def test_report_escapes_control_characters_and_lone_surrogates() -> None:
    cohorts = [{"cohort": "nul\x00.\x1b[31m<b>", "hit_share": 0.5},
               {"cohort": "bad\udc80", "hit_share": 0.5}]
    html = render_report(spec_with(cohorts=cohorts))
    assert not any(ch in html for ch in "\x00\x1b\udc80")
    assert "nul\\x00.\\x1b[31m&lt;b&gt;" in html and "bad\\udc80" in html
    html.encode("utf-8")  # writable


def test_report_refuses_another_format_version(tmp_path: Path) -> None:
    spec = tmp_path / "ws.json"
    spec.write_text(json.dumps(spec_with(format="sqlwave.wavespec/9")))
    result = CliRunner().invoke(cli, ["report", str(spec), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 1 and "reads 'sqlwave.wavespec/1'" in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_report_of_a_previous_layout_no_request_scored() -> None:
    previous = {"strategy": "hot", "kept": True, "threshold": 0.05, "bytes_moved_if_switched": 0,
                "previous_extents_per_request": None, "new_extents_per_request": None}
    html = render_report(spec_with(layout={"previous": previous}))
    assert "no held-out request scored the two layouts" in html


def test_report_of_an_evaluation_that_scored_no_request() -> None:
    strategies = {n: {"test_extents_per_request_mean": None, "test_hot_hit_ratio": None}
                  for n in ("hot", "first-touch")}
    html = render_report(spec_with(), evaluation={"strategies": strategies, "chosen": "hot",
                                                  "requests_test": 5, "requests_test_scored": 0})
    assert "No request was scored" in html and 'data-chart="layouts"' not in html


def test_report_says_when_the_evaluation_chose_another_layout_than_the_wavespec() -> None:
    # The README's example drew "pack order: cohort" above a chart that highlighted another.
    strategies = {n: {"test_extents_per_request_mean": m, "test_hot_hit_ratio": 0.5}
                  for n, m in (("hot", 3.0), ("cohort", 1.5))}
    evaluation = {"strategies": strategies, "chosen": "cohort", "requests_test": 5,
                  "requests_test_scored": 5}
    assert "The evaluation chose" not in render_report(spec_with(), evaluation={
        **evaluation, "chosen": "hot"})
    html = render_report(spec_with(), evaluation=evaluation)
    assert "The evaluation chose <b>cohort</b>; this WaveSpec packs <b>hot</b>" in html
