"""The real XRootD 5.5.3 capture validates: every transfer of truth.csv is found with its bytes,
monitored bytes are within 0.5 % of the TCP payload per server and direction, and the data port
comes from the server's ``=`` ident. Expected values come from truth.csv, the spec's pgwrite
rule and a header-only TCP count written here, never from the code under test."""

from __future__ import annotations

import json
import math

import pytest

from xrdsim.validation import ValidateOptions, validate, write_reports

DATA_PORT = 21885
PAGE = 4096


def written(size: int) -> int:
    """pgwrite bytes XRootD reports for a file: + 4 CRC bytes per 4 KiB page (spec §4.9)."""
    return size + 4 * math.ceil(size / PAGE)


@pytest.fixture(scope="module")
def tcp_truth(real_dir, pcapio) -> dict[str, int]:
    """TCP payload bytes into and out of the data port, from the IP and TCP headers."""
    out = {"in": 0, "out": 0}
    for _, _, frame, _ in pcapio.records(real_dir / "capture.pcap")[1]:
        hit = pcapio.tcp_payload(frame, DATA_PORT)
        if hit:
            out[hit[0]] += hit[1]
    return out


@pytest.fixture(scope="module")
def merged(merged_capture):
    return validate(merged_capture)


def test_every_transfer_found_with_its_bytes(merged, real_truth):
    got = sorted((r.file_lfn, r.read_bytes, r.write_bytes) for r in merged.records)
    want = sorted((t["path"], int(t["bytes"]), 0) if t["op"] == "read" else (t["path"], 0, written(int(t["bytes"]))) for t in real_truth)
    assert got == want
    assert {r.ended.value for r in merged.records} == {"close"}


def test_monitored_bytes_within_half_a_percent_of_tcp_payload(merged, real_truth, tcp_truth):
    rows = {(c.subject, c.direction.value): c for c in merged.comparisons}
    reads = sum(int(t["bytes"]) for t in real_truth if t["op"] == "read")
    writes = sum(written(int(t["bytes"])) for t in real_truth if t["op"] == "write")
    for direction, monitored in (("in", writes), ("out", reads)):
        c = rows[("vm:21885", direction)]
        assert (c.monitored_bytes, c.network_bytes) == (monitored, tcp_truth[direction])
        assert 0.995 < c.ratio < 1.0  # protocol overhead: a little below 1
    assert merged.passed and len(merged.verdicts) == 2


def test_data_port_found_from_the_ident(merged):
    assert merged.data_ports[DATA_PORT] == "ident of vm:21885"
    server = next(s for s in merged.servers if s.label == "vm:21885")
    assert (server.port, server.port_source, server.site) == (DATA_PORT, "ident", "SITE_A")


def test_summary_link_counters_agree_with_tcp(merged, tcp_truth):
    for c in merged.comparisons:
        if c.subject == "vm:21885":
            assert c.summary_bytes == tcp_truth[c.direction.value]


def test_tcp_from_a_second_capture_gives_the_same_comparison(real_dir, merged):
    split = validate(real_dir / "monitoring.pcap", ValidateOptions(tcp_capture=str(real_dir / "capture.pcap")))
    assert [(c.subject, c.direction, c.monitored_bytes, c.network_bytes) for c in split.comparisons] == \
           [(c.subject, c.direction, c.monitored_bytes, c.network_bytes) for c in merged.comparisons]


def test_the_oversized_f_packet_is_a_fragmentation_finding(merged):
    frag = [f for f in merged.findings if f.kind == "fragmenting" and f.subject == "vm:21885"]
    assert len(frag) == 1 and "f: 1 of 1 (largest 1592 B" in frag[0].detail
    assert not [f for f in merged.findings if f.kind in ("fstat_off", "user_off", "ident_off", "no_sync", "no_summary")]


def test_headers_only_capture_reports_the_cut_monitoring(real_dir):
    v = validate(real_dir / "capture.pcap", ValidateOptions(data_ports=(DATA_PORT,)))
    assert not v.passed and v.capture_stats.truncated == 46
    assert next(f.kind for f in v.findings if f.subject == "capture") == "snaplen"


def test_reports_hold_bytes_and_ratio_per_server_and_direction(merged, tmp_path, tcp_truth):
    paths = write_reports(merged, tmp_path)
    assert {p.name for p in paths} == {"score.json", "junit.xml", "report.md", "report.html"}
    doc = json.loads((tmp_path / "score.json").read_text())
    row = next(s for s in doc["servers"] if s["server"] == "vm:21885" and s["direction"] == "out")
    assert row["network_bytes"] == tcp_truth["out"] and row["ratio"] == pytest.approx(row["monitored_bytes"] / tcp_truth["out"])
    assert doc["passed"] is True and len(doc["transfers"]) == 10 and doc["closes_without_open"] == 0
    assert (tmp_path / "agreement_heatmap.png").stat().st_size > 0
    assert "vm:21885" in (tmp_path / "report.md").read_text()
    assert 'tests="2" failures="0"' in (tmp_path / "junit.xml").read_text()
