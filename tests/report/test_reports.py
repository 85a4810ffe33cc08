"""The report writers on a run scored from hand-built inputs: JSON, JUnit, Markdown, HTML,
PNG plots and the terminal table each say what the verdicts say."""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET

import pytest

from xrdsim.harness import Collected, RunResult
from xrdsim.report import render_terminal, write_reports
from xrdsim.scenario import parse_scenario
from xrdsim.score import Rec, RunInputs, judge, score_run
from xrdsim.sim import CounterRow, FaultRow, TransferRow

SCENARIO = """# Two lines of
# teaching.
name: hand
duration: 2m
expect: {transfer_recall: "== 1", byte_recall: ">= 0.99"}
"""


def row(tid, read, open_t):
    return TransferRow(tid, "S1", "srv", "10.0.0.1", 5, tid, 1, f"/f{tid}", read, "", "", "wn", "", "xroot", False,
                       open_t, open_t + 30.0, read, 0, 0, 1, 0, 0, 0, "explicit", False, "", 0, 0)


@pytest.fixture
def result():
    scenario = parse_scenario(SCENARIO, "hand.yaml")
    truth = [row(1, 1448 * 1000, 0.0), row(2, 1448 * 500, 60.0)]
    recs = [Rec("srv", "", 5, 1, "/f1", "S1", "", "", "wn", 1448 * 1000, 0, 0, 0.0, 30.0, 60.0, "close")]
    counters = [CounterRow(60.0 * k, "host", "srv", 0, k * 1000 * 1500, 0, 0, 0, 0, 0) for k in range(3)]
    faults = [FaultRow("server_restart", "srv", 70.0, 70.0, "")]
    card = score_run(RunInputs(truth, [], faults, counters, recs, 0.0, 120.0, bin_s=60.0))
    return RunResult(scenario, card, judge(card, scenario.expect), {"simulate": 0.5, "score": 0.1}, Collected(recs), {"sites": 1})


def test_all_documents_written(result, tmp_path):
    written = {p.name for p in write_reports(result, tmp_path)}
    assert written == {"score.json", "junit.xml", "report.md", "report.html"}
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["agreement_heatmap.png", "anomalies.png", "bytes_scatter.png", "loss.png", "volume.png"]
    assert all((tmp_path / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_score_json_has_every_metric_with_expectation_and_verdict(result, tmp_path):
    write_reports(result, tmp_path)
    doc = json.loads((tmp_path / "score.json").read_text())
    assert doc["passed"] is False and doc["scenario"] == "hand"
    by_name = {m["name"]: m for m in doc["metrics"]}
    assert by_name["transfer_recall"]["value"] == 0.5
    assert (by_name["transfer_recall"]["expectation"], by_name["transfer_recall"]["passed"]) == ("== 1", False)
    assert by_name["volume_ratio"]["expectation"] is None
    assert by_name["user_accuracy"]["value"] is None  # NaN becomes null
    assert [f["name"] for f in doc["failures"]] == ["transfer_recall", "byte_recall"]


def test_junit_one_testcase_per_expectation(result, tmp_path):
    write_reports(result, tmp_path)
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["transfer_recall", "byte_recall"]
    assert suite.get("failures") == "2"
    assert "0.5 is not exactly 1" in cases[0].find("failure").get("message")


def test_markdown_html_and_terminal_name_the_failures(result, tmp_path):
    write_reports(result, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("# Scenario hand: FAILED (2 of 2 expectations)")
    assert "| transfer_recall | 0.5 | == 1 | FAIL |" in md and "![" in md
    page = (tmp_path / "report.html").read_text()
    assert '<td class="FAIL">FAIL</td>' in page
    text = render_terminal(result)
    assert "FAIL  transfer_recall" in text and "2 of 2 expectations FAILED" in text


def test_report_html_is_self_contained(result, tmp_path):
    """Copied alone (a CI artifact), the page still shows every plot: each PNG is embedded."""
    write_reports(result, tmp_path)
    page = (tmp_path / "report.html").read_text()
    srcs = re.findall(r'<img src="([^"]+)"', page)
    assert len(srcs) == 5 and not re.search(r'src="[^"]*\.png"', page)
    embedded = {base64.b64decode(s.partition(",")[2]) for s in srcs}
    assert embedded == {p.read_bytes() for p in tmp_path.glob("*.png")}


def test_report_lists_each_missed_transfer_with_its_cause(result, tmp_path):
    write_reports(result, tmp_path)
    md = (tmp_path / "report.md").read_text()
    # /f2 (truth: 724,000 bytes, open 60–90 s) has no record; the restart of srv at 70 s cut it
    assert "| missed | restart | srv | /f2 |" in md
    doc = json.loads((tmp_path / "score.json").read_text())
    assert doc["causes"] == [{"outcome": "missed", "cause": "restart", "count": 1}]
    assert doc["misses"][0]["detail"] == "724,000 bytes"


def test_provenance_and_one_speed_figure(result, tmp_path):
    result.collector = "udp"
    write_reports(result, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "collector udp" in md and json.loads((tmp_path / "score.json").read_text())["collector"] == "udp"
    # 120 s simulated over 0.5 + 0.1 s of simulate + score: 200×, in the report and the terminal
    assert "| simulated / wall (simulate + collect + score) | 200× |" in md
    assert "200× real time" in render_terminal(result)
