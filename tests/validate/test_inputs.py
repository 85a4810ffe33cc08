"""Files that cannot be validated give one clear line: empty, truncated, not a capture, a capture
without any monitoring, no data port, no TCP on it, counters of other hosts."""

from __future__ import annotations

import pytest

from replay import ReplayInputError, write_pcap
from xrdsim.datagram import Datagram
from xrdsim.errors import UserError
from xrdsim.validation import ValidateOptions, ValidationInputError, validate


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert isinstance(exc, UserError) and "\n" not in text
    return text


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pcap"
    path.write_bytes(b"")
    with pytest.raises(ReplayInputError) as info:
        validate(path)
    assert one_line(info.value) == f"{path}: empty file"


def test_not_a_capture(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("tcpdump output\n")
    with pytest.raises(ReplayInputError, match="not a pcap/pcapng file .*looks like text") as info:
        validate(path)
    one_line(info.value)


def test_truncated_capture(merged_capture, tmp_path):
    path = tmp_path / "cut.pcap"
    path.write_bytes(merged_capture.read_bytes()[:-7])
    with pytest.raises(ReplayInputError, match="truncated record at offset") as info:
        validate(path)
    one_line(info.value)


def test_missing_capture(tmp_path):
    with pytest.raises(ValidationInputError, match="no such capture"):
        validate(tmp_path / "nope.pcap")


def test_udp_that_is_not_monitoring(tmp_path):
    dns = [Datagram(1_700_000_000 + k, ("10.0.0.1", 40000 + k), ("10.0.0.53", 53), b"\x12\x34\x01\x00\x00\x01\x00\x00" * 3)
           for k in range(3)]
    path = tmp_path / "dns.pcap"
    write_pcap(path, dns)
    with pytest.raises(ValidationInputError) as info:
        validate(path)
    assert one_line(info.value) == f"{path}: no XRootD monitoring in the capture: 3 UDP datagrams to port(s) 53, none decodes as monitoring"


def test_tcp_only_capture(tcp_only):
    with pytest.raises(ReplayInputError, match="capture without any UDP datagrams") as info:
        validate(tcp_only)
    one_line(info.value)


def test_monitoring_without_tcp_on_the_data_port(real_dir):
    with pytest.raises(ValidationInputError) as info:
        validate(real_dir / "monitoring.pcap")
    assert "no TCP segment to or from data port(s) 21885, 21886" in one_line(info.value)


def test_headers_only_monitoring_has_no_data_port(real_dir):
    with pytest.raises(ValidationInputError) as info:
        validate(real_dir / "capture.pcap")
    text = one_line(info.value)
    assert "no data port known" in text and "46 UDP datagrams were cut by the snap length" in text


def test_counters_of_other_hosts(merged_capture, tmp_path):
    csv = tmp_path / "c.csv"
    csv.write_text("time,host,interface,rx_bytes,tx_bytes\n1795912899,db1,eth0,0,0\n1795912911,db1,eth0,5,5\n1,db2,eth0,0,0\n")
    with pytest.raises(ValidationInputError) as info:
        validate(merged_capture, ValidateOptions(counters=str(csv)))
    assert one_line(info.value).endswith("counters name host(s) db1, db2; none is a monitored server (vm:21885 (127.0.0.1), vm:21886 (127.0.0.1))")


def test_counters_outside_the_capture(merged_capture, tmp_path):
    csv = tmp_path / "c.csv"
    csv.write_text("time,host,interface,rx_bytes,tx_bytes\n1700000000000,vm,eth0,0,0\n1700000060000,vm,eth0,5,5\n")  # ms, not s
    with pytest.raises(ValidationInputError) as info:
        validate(merged_capture, ValidateOptions(counters=str(csv)))
    assert "the counters cover 1700000000000 s to 1700000060000 s, the capture 2026-11-29" in one_line(info.value) and "they do not overlap" in str(info.value)
