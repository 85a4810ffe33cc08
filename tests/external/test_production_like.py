"""A production-style external collector (servers by sender address, OSG raw records in ms,
WLCG records for cms, TPC-like lines without ``kind``, ``missing_packets{host}`` on
Prometheus) scored with the one-line ``format: osg`` preset: recall, bytes, latency on
receipt and its loss estimate per server against the truth."""

from __future__ import annotations

import json
import shlex
import sys

from tests.external.conftest import prodlike


def test_a_production_style_collector_scores_like_the_reference_with_a_one_line_preset(run, tmp_path, reference):
    command = json.dumps(prodlike())
    status, err, m = run(f'{{mode: external, format: osg, loss_url: "http://127.0.0.1:{{metrics_port}}/metrics", command: {command}}}')
    assert status == 0, err
    # its own clock (the packets' tod, not the datagram time) ends a few transfers otherwise
    for name in ("transfer_recall", "byte_recall", "transfer_precision", "byte_precision", "exact_bytes_recall"):
        assert abs(m[name] - reference[name]) <= 0.05 and m[name] > 0.9, name
    # latency comes from when xrdsim received each record, not the collector's wall-clock stamps
    assert 0 <= m["latency_p50_s"] < 900
    # its per-host counter is compared per server with the truth: it sees the path's loss
    assert m["loss_rate_truth"] > 0 and m["loss_rate_estimated"] is not None and m["loss_error"] < m["loss_rate_truth"]
    doc = json.loads((tmp_path / "out" / "score.json").read_text())
    assert doc["loss"] and {row["group"] for row in doc["loss"]} == {"*"}
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## External collector" in report and "estimates loss per server" in report
    records = (tmp_path / "out" / "external-records.jsonl").read_text().splitlines()
    assert any('"site_name"' in line for line in records)  # the WLCG layout was in the stream …
    assert any('"tpc_or_info"' in line for line in records)  # … and lines that are no transfer


def test_without_a_loss_counter_the_report_says_no_estimate(run, tmp_path):
    status, err, m = run(f"{{mode: external, format: osg, command: {json.dumps(prodlike())}}}")
    assert status == 0, err
    assert m["loss_rate_estimated"] is None and m["loss_rate_truth"] > 0  # NaN: no estimate
    assert "gives no loss estimate" in (tmp_path / "out" / "report.md").read_text()


def test_records_read_from_stdout_and_an_out_path_with_a_space(run, tmp_path, reference):
    command = json.dumps(prodlike().replace("--out {out}", "--out -"))
    status, err, m = run(f"{{mode: external, format: osg, records: stdout, command: {command}}}", out="rep dir")
    assert status == 0, err
    assert m["transfer_recall"] == reference["transfer_recall"]
    assert (tmp_path / "rep dir" / "external-stdout.jsonl").stat().st_size > 0


def test_ms_times_read_as_seconds_are_refused_with_the_unit_hint(run):
    fields = "{file_lfn: filename, read_single_bytes: read, read_vector_bytes: readv, write_bytes: write, server_ip: server_ip}"
    status, err, _ = run(f"{{mode: external, fields: {fields}, command: {json.dumps(prodlike())}}}")
    assert status == 2 and err.count("\n") == 1
    assert "outside the run's time window" in err and "collector.units" in err


def test_our_own_collector_as_an_external_command_scores_as_in_process(run):
    command = json.dumps(f"{shlex.quote(sys.executable)} -m xrdsim collect --listen {{host}}:{{port}} --listen {{host}}:{{summary_port}} --out {{out}}")
    status, err, ext = run(f"{{mode: external, command: {command}}}", out="ext")
    assert status == 0, err
    status, err, inproc = run("{mode: inprocess}", out="inproc")
    assert status == 0, err
    for name in ("transfer_recall", "transfer_precision", "byte_recall", "byte_precision", "exact_bytes_rate", "path_accuracy"):
        assert ext[name] == inproc[name], name
