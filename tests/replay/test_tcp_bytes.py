"""replay.tcp_bytes: payload bytes from headers alone, checked against the real capture's truth
and against TCP flows built with scapy (retransmissions, snap length, IPv6, bins, wrap-around)."""

from __future__ import annotations

import math

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from replay import Direction, ReplayInputError, count_tcp_payload
from replay.tcp_bytes import SeqSpace

SERVER, CLIENT = "10.0.0.1", "10.0.0.2"
PORT = 1094
ETH = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}


def seg(seq: int, size: int, t: float = 1000.0, to_server=True, flags="A", ip=IP, server=SERVER, client=CLIENT):
    """A TCP segment of ``size`` payload bytes between the client's port 40000 and the server's PORT."""
    addrs = {"src": client, "dst": server} if to_server else {"src": server, "dst": client}
    ports = {"sport": 40000, "dport": PORT} if to_server else {"sport": PORT, "dport": 40000}
    pkt = Ether(**ETH) / ip(**addrs) / TCP(seq=seq, flags=flags, **ports) / Raw(b"d" * size)
    pkt.time = t
    return pkt


def test_real_capture_payload_exceeds_truth_by_under_half_a_percent(real_dir, real_truth):
    acc = count_tcp_payload(real_dir / "capture.pcap", {21885})
    written = sum(int(r["bytes"]) for r in real_truth if r["op"] == "write")
    crc = sum(math.ceil(int(r["bytes"]) / 4096) * 4 for r in real_truth if r["op"] == "write")  # pgwrite CRC per page
    read = sum(int(r["bytes"]) for r in real_truth if r["op"] == "read")
    inbound, outbound = acc.payload_bytes(port=21885, direction="in"), acc.payload_bytes(port=21885, direction="out")
    assert written + crc < inbound < written * 1.005
    assert read < outbound < read * 1.005
    assert {(e.server, e.direction) for e in acc.endpoints} == {(("127.0.0.1", 21885), Direction.IN), (("127.0.0.1", 21885), Direction.OUT)}
    assert acc.frames == 1405 and acc.cut_headers == 0
    for e in acc.endpoints:
        assert sum(n for _, n in e.bins) == e.payload_bytes


def test_retransmission_is_counted_once_and_reported(scapy_pcap):
    path = scapy_pcap([seg(100, 1000), seg(1100, 1000), seg(100, 1000), seg(600, 1000), seg(2100, 10)])
    (ep,) = count_tcp_payload(path, {PORT}).endpoints
    assert ep.payload_bytes == 2010  # 100..2110: the repeat and the half-new segment add nothing
    assert (ep.segments, ep.retransmitted_segments, ep.retransmitted_bytes) == (3, 2, 2000)


def test_out_of_order_segments_are_not_retransmissions(scapy_pcap):
    path = scapy_pcap([seg(1100, 1000), seg(100, 1000), seg(2100, 500)])
    (ep,) = count_tcp_payload(path, {PORT}).endpoints
    assert (ep.payload_bytes, ep.retransmitted_segments) == (2500, 0)


def test_snaplen_cut_frames_count_their_full_payload(scapy_pcap):
    path = scapy_pcap([seg(1, 1448), seg(1449, 1448, to_server=False), seg(2897, 7)], snap=64)
    acc = count_tcp_payload(path, {PORT})
    assert acc.payload_bytes(direction=Direction.IN) == 1455
    assert acc.payload_bytes(direction=Direction.OUT) == 1448


def test_cut_tcp_header_is_counted_apart(scapy_pcap):
    path = scapy_pcap([seg(1, 100), seg(101, 100)], snap=14 + 20 + 8)
    acc = count_tcp_payload(path, {PORT})
    assert (acc.cut_headers, acc.payload_bytes()) == (2, 0)


def test_ipv6_and_options_use_the_header_lengths(scapy_pcap):
    v6 = seg(5, 300, ip=IPv6, server="2001:db8::1", client="2001:db8::2")
    opts = Ether(**ETH) / IP(src=CLIENT, dst=SERVER) / TCP(sport=40000, dport=PORT, seq=9, options=[("MSS", 1460), ("NOP", None), ("SAck", (1, 2))]) / Raw(b"o" * 50)
    acc = count_tcp_payload(scapy_pcap([v6, opts]), {PORT})
    assert acc.payload_bytes(direction="in") == 350
    assert {e.server[0] for e in acc.endpoints} == {"2001:db8::1", SERVER}


def test_syn_consumes_one_sequence_number(scapy_pcap):
    # data on the SYN (TFO) is bytes 1000..1009; then 1010..1019; then the SYN's data again
    path = scapy_pcap([seg(999, 10, flags="S"), seg(1010, 10), seg(1000, 10)])
    (ep,) = count_tcp_payload(path, {PORT}).endpoints
    assert (ep.payload_bytes, ep.retransmitted_segments, ep.retransmitted_bytes) == (20, 1, 10)


def test_sequence_wraps_around_2_32(scapy_pcap):
    path = scapy_pcap([seg(2**32 - 500, 1000), seg(500, 1000), seg(2**32 - 500, 1000)])
    (ep,) = count_tcp_payload(path, {PORT}).endpoints
    assert (ep.payload_bytes, ep.retransmitted_segments) == (2000, 1)


def test_bins_hold_the_bytes_of_their_interval(scapy_pcap):
    path = scapy_pcap([seg(1, 10, t=1005.0), seg(11, 20, t=1009.9), seg(31, 40, t=1010.0), seg(71, 1, t=1031.0)])
    (ep,) = count_tcp_payload(path, {PORT}, bin_s=10).endpoints
    assert ep.bins == ((1000.0, 30), (1010.0, 40), (1030.0, 1))


def test_other_ports_are_ignored(scapy_pcap):
    acc = count_tcp_payload(scapy_pcap([seg(1, 10)]), {9999})
    assert (acc.endpoints, acc.tcp) == ((), 0)


def test_bad_file_is_an_input_error(tmp_path):
    path = tmp_path / "x.pcap"
    path.write_text("not a capture")
    with pytest.raises(ReplayInputError, match="not a pcap/pcapng file"):
        count_tcp_payload(path, {PORT})


def test_seq_space_state_stays_bounded():
    space = SeqSpace(0)
    for i in range(1000):
        space.add(i * 20, 10)  # a hole after every segment
    assert len(space.starts) <= 65


@pytest.mark.parametrize("fixture", ["real-xrootd-5.5.3", "real-xrootd-5.5.3-net", "real-xrootd-5.5.3-http"])
def test_one_read_for_monitoring_and_tcp_counts_what_the_separate_reads_count(fixture):
    """``validate`` reads its capture once: the TCP scan fed by ``read_datagrams`` gives the
    payload per endpoint and the listeners the dedicated reads give, for every port."""
    from pathlib import Path

    from replay import TcpScan, read_datagrams, tcp_listeners

    path = Path(__file__).resolve().parents[1] / "fixtures" / fixture / "capture.pcap"
    if not path.exists():
        pytest.skip(f"{fixture} has no capture.pcap")
    scan = TcpScan(60.0)
    try:
        sum(1 for _ in read_datagrams(path, tcp=scan))
    except ReplayInputError:  # a capture of TCP alone: read to its end all the same
        pass
    assert scan.frames > 0
    listeners = tcp_listeners(path)
    assert scan.listeners() == listeners and listeners
    for ports in [{lst.address[1] for lst in listeners}, {1094}, {1}]:
        assert scan.accounting(ports) == count_tcp_payload(path, ports, 60.0)
    assert scan.accounting({lst.address[1] for lst in listeners}).payload_bytes() > 0


def _reference_new(seen: set[int], start: int, length: int) -> int:
    new = {b for b in range(start, start + length) if b not in seen}
    seen.update(new)
    return len(new)


def test_seq_space_counts_each_byte_once_in_order_or_not():
    """The in-order fast path and the interval path agree with a plain set of bytes, for
    segments in order, repeated, overlapping and out of order (hypothesis draws them)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 400), st.integers(1, 60)), min_size=1, max_size=40), st.booleans())
    def check(segments, in_order_first):
        if in_order_first:  # a long in-order run, then the drawn ones
            segments = [(k * 50, 50) for k in range(8)] + segments
        space, seen = SeqSpace(0), set()
        for start, length in segments:
            assert space.add(start, length) == _reference_new(seen, start, length)

    check()
