"""`sqlwave report`: a self-contained HTML file whose charts render in headless Chromium."""

from __future__ import annotations

import json
import re
import os
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


def test_report_draws_a_stored_miss_ratio_curve() -> None:
    spec = {"format": "sqlwave.wavespec/1", "cohorts": [],
            "waves": [{"wave": 0, "keys": 2, "bytes": 10, "hit_share": 0.5, "start_offset": 0,
                       "end_offset": 10}, {"wave": 1, "keys": 3, "bytes": 30, "hit_share": 0.5,
                                           "start_offset": 10, "end_offset": 40}],
            "mrc": {"method": "aet", "unit": "bytes",
                    "points": [{"size": s, "miss_ratio": 1 / s} for s in range(1, 60)]}}
    html = render_report(spec)
    assert "method <b>aet</b>" in html and "wave 0 | 1" in html and "<polyline" in html
