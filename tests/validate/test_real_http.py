"""The real XRootD 5.5.3 capture of one server speaking xroot and HTTP (tests/fixtures/
real-xrootd-5.5.3-http): both data ports belong to the one server, each protocol is compared on
its own, the PUT XRootD < 5.7.3 reports as 0 is a finding, reads past EOF (``xrdfs cat``) are
named and left out of the judged ratio, and the first summary report counts when the server
started inside the capture. Expected values come from truth.csv, the spec's pgwrite rule and a
header-only TCP count written here, never from the code under test."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from xrdsim.cli import main
from xrdsim.validation import ValidateOptions, validate

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "real-xrootd-5.5.3-http"
CAPTURE = HERE / "capture.pcap"
PAGE = 4096
READS = {"read", "cat"}  # xroot ops whose bytes go out
HTTP_GETS = {"get", "range_get", "multirange_get", "past_eof_get"}


def written(size: int) -> int:
    """pgwrite bytes XRootD reports for an xrdcp upload: + 4 CRC bytes per 4 KiB page (spec §4.9)."""
    return size + 4 * math.ceil(size / PAGE)


@pytest.fixture(scope="module")
def truth() -> list[dict[str, str]]:
    with (HERE / "truth.csv").open() as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def ports(truth) -> dict[str, int]:
    """protocol → data port, from truth.csv."""
    return {t["protocol"]: int(t["port"]) for t in truth}


@pytest.fixture(scope="module")
def tcp(ports, pcapio) -> dict[tuple[str, str], int]:
    """(protocol, direction) → TCP payload bytes, from the IP and TCP headers."""
    out = {(p, d): 0 for p in ports for d in ("in", "out")}
    for _, _, frame, _ in pcapio.records(CAPTURE)[1]:
        for proto, port in ports.items():
            hit = pcapio.tcp_payload(frame, port)
            if hit:
                out[(proto, hit[0])] += hit[1]
    return out


@pytest.fixture(scope="module")
def v():
    return validate(CAPTURE)


def rows(v) -> dict[tuple[str, str], object]:
    return {(c.protocol, c.direction.value): c for c in v.comparisons}


def total(truth, ops, field="bytes", size=int) -> int:
    return sum(size(int(t[field])) for t in truth if t["op"] in ops)


def test_both_ports_belong_to_the_one_server(v, ports):
    (server,) = v.servers
    assert server.data_ports == {ports["xroot"]: "xroot", ports["http"]: "http"}
    assert v.data_ports[ports["xroot"]].startswith("ident of ")
    assert v.data_ports[ports["http"]].startswith(f"http of {server.label}")
    assert not [f for f in v.findings if f.kind == "unmonitored_traffic"]


def test_each_protocol_is_compared_with_the_tcp_of_its_port(v, tcp):
    got = {k: c.network_bytes for k, c in rows(v).items()}
    assert got == {k: float(n) for k, n in tcp.items()}


def test_monitored_bytes_per_protocol_match_truth(v, truth):
    r = rows(v)
    assert r[("xroot", "in")].monitored_bytes == total(truth, {"write"}, size=written)
    eof = r[("xroot", "out")]
    assert eof.monitored_bytes - eof.past_eof_bytes == total(truth, READS)
    assert r[("http", "out")].monitored_bytes == total(truth, HTTP_GETS)
    assert r[("http", "in")].monitored_bytes == 0 < total(truth, {"put"})  # the PUT reported as 0


def test_xroot_and_http_reads_pass_within_tolerance_and_allowance(v, tcp):
    judged = {x.name: x for x in v.verdicts}
    for key in (("xroot", "in"), ("xroot", "out"), ("http", "out")):
        c = rows(v)[key]
        slack = v.options.tolerance * tcp[key] + v.options.allowance * c.requests
        assert abs(c.monitored_bytes - c.past_eof_bytes - tcp[key]) <= slack
        assert judged[c.name].passed, judged[c.name]
    assert not judged[rows(v)[("http", "in")].name].passed and not v.passed


def test_the_put_reported_as_zero_is_a_finding(v, truth, tcp):
    (put,) = [f for f in v.findings if f.kind == "http_put_unreported"]
    paths = [t["path"] for t in truth if t["op"] == "put"]
    assert put.severity.value == "problem" and all(p in put.detail for p in paths)
    assert "before 5.7.3" in put.detail and "v5.5.3" in put.detail and f"{tcp[('http', 'in')]:,} B" in put.detail


def test_a_read_past_eof_is_named_and_left_out(v, truth):
    (eof,) = [f for f in v.findings if f.kind == "past_eof"]
    cat = [t for t in truth if t["op"] == "cat"]
    reported = [r for r in v.records if r.file_lfn == cat[0]["path"] and r.read_bytes > int(cat[0]["bytes"])]
    assert len(reported) == 1 and f"{reported[0].read_bytes:,} B read of a {int(cat[0]['bytes']):,} B file" in eof.detail
    assert rows(v)[("xroot", "out")].past_eof_bytes == reported[0].read_bytes - int(cat[0]["bytes"])
    assert rows(v)[("xroot", "out")].ratio > 1 + v.options.tolerance  # raw: XRootD counted the 8 MiB request


def test_the_summary_link_counts_both_protocols_from_the_first_report(v, tcp):
    for d in ("in", "out"):
        assert rows(v)[("xroot", d)].summary_bytes == tcp[("xroot", d)] + tcp[("http", d)]


def cut(pcapio, tmp_path, keep) -> Path:
    header, recs = pcapio.records(CAPTURE)
    return pcapio.write(tmp_path / "cut.pcap", header, [r for r in recs if keep(r)])


def is_summary(rec) -> bool:
    return b"<statistics" in rec[2][:80]


def test_a_first_report_with_counts_is_kept_when_the_server_started_inside(pcapio, tmp_path, tcp):
    _, recs = pcapio.records(CAPTURE)
    t_tcp = min(r[0] + r[1] / 1e6 for r in recs if pcapio.proto(r[2]) == 6)
    # the reports before the first transfer go: the first one left has counted the first uploads
    path = cut(pcapio, tmp_path, lambda r: not (is_summary(r) and r[0] + r[1] / 1e6 < t_tcp + 0.5))
    c = rows(validate(path))[("xroot", "in")]
    assert c.summary_bytes == tcp[("xroot", "in")] + tcp[("http", "in")]


def test_a_first_report_of_a_server_started_before_the_capture_is_left_out(pcapio, tmp_path):
    _, recs = pcapio.records(CAPTURE)
    t_tcp = min(r[0] + r[1] / 1e6 for r in recs if pcapio.proto(r[2]) == 6)
    path = cut(pcapio, tmp_path, lambda r: r[0] + r[1] / 1e6 > t_tcp + 3)  # begins after the uploads
    cv = validate(path)
    (links,) = [s.links for s in cv.servers[0].summaries]
    assert links[0].in_bytes > 0  # the first report in the capture holds bytes from before it
    assert rows(cv)[("xroot", "in")].summary_bytes == links[-1].in_bytes - links[0].in_bytes


def test_the_allowance_passes_what_a_relative_tolerance_alone_fails(tcp, v):
    c = rows(v)[("xroot", "in")]
    overhead = tcp[("xroot", "in")] - c.monitored_bytes
    tight = overhead / tcp[("xroot", "in")] / 2  # half the overhead, relative
    names = lambda x: {y.name: y.passed for y in x.verdicts}  # noqa: E731
    assert names(validate(CAPTURE, ValidateOptions(tolerance=tight, allowance=0)))[c.name] is False
    per_request = math.ceil(overhead / c.requests)
    assert names(validate(CAPTURE, ValidateOptions(tolerance=tight, allowance=per_request)))[c.name] is True


def test_given_data_ports_give_the_same_comparisons(v, ports):
    given = validate(CAPTURE, ValidateOptions(data_ports=(ports["xroot"], ports["http"])))
    assert [(c.name, c.monitored_bytes, c.network_bytes) for c in given.comparisons] == \
           [(c.name, c.monitored_bytes, c.network_bytes) for c in v.comparisons]  # fmt: skip


def test_the_command_prints_each_protocol_and_exits_1_for_the_put(tmp_path, capsys, ports):
    assert main(["validate", str(CAPTURE), "-o", str(tmp_path), "--no-plots"]) == 1
    out = capsys.readouterr().out
    for proto, d, mark in (("xroot", "in", "PASS"), ("xroot", "out", "PASS"), ("http", "in", "FAIL"), ("http", "out", "PASS")):
        assert any(line.startswith(f"  {mark}") and f" {proto:<5} {d:<3} " in line for line in out.splitlines()), (proto, d)
    assert "past EOF left out" in out and "problem:" in out and "5.7.3" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--allowance", "lots"], "xrdsim: --allowance 'lots': expected bytes like 1024, 1KiB or 2kB"),
        (["--allowance", "-5"], "xrdsim: --allowance -5: must not be negative"),
        (["--data-port", "70000"], "xrdsim: --data-port 70000: must be a TCP port in 1..65535"),
    ],
)
def test_bad_allowance_and_port_exit_2_with_one_line(tmp_path, capsys, extra, message):
    assert main(["validate", str(CAPTURE), "-o", str(tmp_path), *extra]) == 2
    assert capsys.readouterr().err == message + "\n"


def test_http_transfers_without_their_port_in_the_capture_are_a_finding(pcapio, tmp_path, truth, ports):
    path = cut(pcapio, tmp_path, lambda r: pcapio.tcp_payload(r[2], ports["http"]) is None)  # every HTTP segment goes
    cv = validate(path)
    assert {c.protocol for c in cv.comparisons} == {"xroot"}
    (f,) = [f for f in cv.findings if f.kind == "protocol_without_port"]
    assert f.detail.startswith(f"{sum(t['protocol'] == 'http' for t in truth)} http transfers ({total(truth, HTTP_GETS):,} B read")
