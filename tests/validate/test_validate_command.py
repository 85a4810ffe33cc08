"""``xrdsim validate`` in-process: exit 0 on the real capture with its reports, 1 when monitoring
disagrees, 2 with one line for bad files and arguments; ``--help`` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from xrdsim.cli import main


def test_real_capture_passes_and_writes_the_reports(merged_capture, tmp_path, capsys):
    assert main(["validate", str(merged_capture), "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PASS  vm:21885" in out and "site: monitoring agrees (tolerance 0.500% + 1,024 B per request)" in out
    assert {p.name for p in tmp_path.iterdir()} >= {"score.json", "junit.xml", "report.md", "report.html", "agreement_heatmap.png"}
    doc = json.loads((tmp_path / "score.json").read_text())
    assert {(s["server"], s["direction"]) for s in doc["servers"] if s["passed"]} == {("vm:21885", "in"), ("vm:21885", "out")}


def test_a_tight_tolerance_fails_with_exit_1(merged_capture, tmp_path, capsys):
    # out is 20,505,055 / 20,527,675 = 0.99890: 0.11 % below 1, so a 0.05 % tolerance fails it
    assert main(["validate", str(merged_capture), "-o", str(tmp_path), "--tolerance", "0.05%", "--no-plots"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  vm:21885                     xroot out" in out and "PASS  vm:21885                     xroot in" in out
    junit = (tmp_path / "junit.xml").read_text()
    assert 'tests="2" failures="1"' in junit


def test_the_data_port_can_be_given(real_dir, tmp_path, capsys):
    args = ["validate", str(real_dir / "monitoring.pcap"), "--tcp", str(real_dir / "capture.pcap"), "--data-port", "21885"]
    assert main([*args, "-o", str(tmp_path), "--no-plots"]) == 0
    doc = json.loads((tmp_path / "score.json").read_text())
    assert doc["data_ports"] == {"21885": "--data-port"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tolerance", "lots"], "xrdsim: --tolerance 'lots': expected a fraction like 0.005 or 0.5%"),
        (["--bin", "0"], "xrdsim: --bin 0.0: must be a positive number of seconds"),
        (["--counters", "/nonexistent/c.csv"], "xrdsim: /nonexistent/c.csv: no such counters file"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(merged_capture, tmp_path, capsys, extra, message):
    assert main(["validate", str(merged_capture), "-o", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert err == message + "\n"


def test_a_capture_without_monitoring_exits_2(tcp_only, tmp_path, capsys):
    assert main(["validate", str(tcp_only), "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"xrdsim: {tcp_only}: capture without any UDP datagrams") and err.count("\n") == 1


def test_help_in_a_subprocess():
    out = subprocess.run([sys.executable, "-m", "xrdsim", "validate", "--help"], capture_output=True, text=True, check=True).stdout
    assert "--data-port P" in out and "--counters FILE" in out and "--tolerance T" in out and "exit status: 0" in out
