"""replay.capture and replay.frames: the real XRootD capture, captures built by scapy (an
independent writer) for every link type and container variant, fragments, and bad files."""

from __future__ import annotations

import gzip
import random
import shutil
import struct
import subprocess
from decimal import Decimal

import pytest
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    fragment6,
)
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether, Loopback
from scapy.packet import Raw
from scapy.utils import PcapNgWriter

from replay import (
    CaptureStats,
    ReplayInputError,
    read_datagrams,
    read_frames,
    write_pcap,
)
from xrdsim.datagram import Datagram

MONITOR_PORTS = {21985, 21986, 21987}
ETH = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}


def udp4(payload: bytes, sport=1094, dport=9930, src="10.0.0.1", dst="10.0.0.2"):
    return IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(payload)


def udp6(payload: bytes, sport=1094, dport=9930, src="2001:db8::1", dst="2001:db8::2"):
    return IPv6(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(payload)


def timed(pkt, t):
    pkt.time = t
    return pkt


def payloads(path, **kw) -> list[bytes]:
    return [d.payload for d in read_datagrams(path, **kw)]


# --- the real XRootD 5.5.3 capture ---------------------------------------------------------


def test_real_monitoring_has_56_monitoring_datagrams(real_dir):
    dgrams = list(read_datagrams(real_dir / "monitoring.pcap"))
    assert len(dgrams) == 56
    assert {d.dst[1] for d in dgrams} == MONITOR_PORTS
    for d in dgrams:
        assert d.payload[:1] in (b"=", b"u", b"d", b"t", b"f", b"<")
        if d.payload[:1] != b"<":  # binary header: plen (bytes 2-3, big endian) is the datagram size
            assert int.from_bytes(d.payload[2:4], "big") == len(d.payload)


def test_real_monitoring_matches_the_minimal_reader(real_dir, real_capture):
    dgrams = list(read_datagrams(real_dir / "monitoring.pcap"))
    got = [(round(d.t_arrival * 1e6), d.src[1], d.dst[1], d.payload) for d in dgrams]
    assert got == [(round(t * 1e6), sp, dp, p) for t, sp, dp, p in real_capture]
    assert all(d.t_send == d.t_arrival and d.src[0] == d.dst[0] == "127.0.0.1" for d in dgrams)


def test_real_capture_cut_at_128_bytes_counts_truncated_datagrams(real_dir, real_capture):
    stats = CaptureStats()
    dgrams = list(read_datagrams(real_dir / "capture.pcap", ports=MONITOR_PORTS, stats=stats))
    whole = [p for _, _, _, p in real_capture if 14 + 20 + 8 + len(p) <= 128]
    assert [d.payload for d in dgrams] == whole
    assert stats.truncated == 56 - len(whole) > 0
    assert (stats.frames, stats.tcp, stats.matched) == (1405, 1405 - 56, len(whole))


# --- link types and containers, written by scapy -------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(lambda p: Ether(**ETH) / p, id="ethernet"),
        pytest.param(lambda p: Ether(**ETH) / Dot1Q(vlan=7) / p, id="vlan"),
        pytest.param(lambda p: Ether(**ETH) / Dot1AD(vlan=5) / Dot1Q(vlan=7) / p, id="qinq"),
        pytest.param(lambda p: CookedLinux(proto=0x0800 if p.version == 4 else 0x86DD) / p, id="sll"),
        pytest.param(lambda p: CookedLinuxV2(proto=0x0800 if p.version == 4 else 0x86DD) / p, id="sll2"),
        pytest.param(lambda p: Loopback(type=2 if p.version == 4 else 24) / p, id="null"),
        pytest.param(lambda p: p, id="raw"),
    ],
)
@pytest.mark.parametrize("make", [udp4, udp6], ids=["ipv4", "ipv6"])
def test_link_types_read_back(scapy_pcap, frame, make):
    pkts = [timed(frame(make(f"=payload {i}".encode(), sport=1000 + i)), 1700000000 + i / 8) for i in range(3)]
    options = {"linktype": 101} if pkts[0].__class__ in (IP, IPv6) else {}
    dgrams = list(read_datagrams(scapy_pcap(pkts, **options)))
    assert [d.payload for d in dgrams] == [f"=payload {i}".encode() for i in range(3)]
    assert [d.src[1] for d in dgrams] == [1000, 1001, 1002]
    assert [d.t_arrival for d in dgrams] == [1700000000 + i / 8 for i in range(3)]
    assert dgrams[0].src[0] == make(b"").src and dgrams[0].dst == (make(b"").dst, 9930)


def test_ipv6_extension_headers_are_skipped(scapy_pcap):
    pkt = Ether(**ETH) / IPv6(src="2001:db8::a", dst="2001:db8::b") / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / UDP(sport=5, dport=6) / Raw(b"x" * 40)
    assert payloads(scapy_pcap([pkt])) == [b"x" * 40]


def test_ethernet_padding_is_not_payload(scapy_pcap):
    pkt = Ether(**ETH) / udp4(b"ab")
    padded = bytes(pkt) + b"\0" * (60 - len(pkt))  # what a NIC pads a short frame with
    assert payloads(scapy_pcap([padded], linktype=1)) == [b"ab"]


@pytest.mark.parametrize("endianness", ["<", ">"])
def test_nanosecond_pcap_both_byte_orders(scapy_pcap, endianness):
    t = Decimal("1700000000.123456789")
    path = scapy_pcap([timed(Ether(**ETH) / udp4(b"ns"), t)], nano=True, endianness=endianness)
    assert path.read_bytes()[:4] == (b"\x4d\x3c\xb2\xa1" if endianness == "<" else b"\xa1\xb2\x3c\x4d")
    (dgram,) = read_datagrams(path)
    assert dgram.t_arrival == pytest.approx(1700000000.123456789, abs=1e-7)


def test_pcapng_two_interfaces_with_their_link_types(tmp_path):
    path = tmp_path / "two.pcapng"
    eth = timed(Ether(**ETH) / udp4(b"on eth0"), 1700000000.5)
    eth.sniffed_on = "eth0"
    any_ = timed(CookedLinuxV2(proto=0x86DD) / udp6(b"on any"), 1700000001.25)
    any_.sniffed_on = "any"
    with PcapNgWriter(str(path)) as out:
        out.write(eth)
        out.write(any_)
        out.write(eth)
    assert [f.linktype for f in read_frames(path)] == [1, 276, 1]
    dgrams = list(read_datagrams(path))
    assert [d.payload for d in dgrams] == [b"on eth0", b"on any", b"on eth0"]
    assert [d.t_arrival for d in dgrams] == [1700000000.5, 1700000001.25, 1700000000.5]


def test_pcapng_keeps_nanosecond_resolution_via_editcap(scapy_pcap, tmp_path):
    editcap = shutil.which("editcap")
    if editcap is None:
        pytest.skip("editcap (wireshark-common) not installed")
    src = scapy_pcap([timed(Ether(**ETH) / udp4(b"ns"), Decimal("1700000000.987654321"))], nano=True)
    out = tmp_path / "ns.pcapng"
    subprocess.run([editcap, "-F", "pcapng", str(src), str(out)], check=True, capture_output=True)
    (dgram,) = read_datagrams(out)
    assert dgram.t_arrival == pytest.approx(1700000000.987654321, abs=1e-7)


def test_pcapng_simple_packet_block_takes_interface_0(tmp_path):
    frame = bytes(Ether(**ETH) / udp4(b"spb"))
    body = struct.pack("<I", len(frame)) + frame + b"\0" * (-len(frame) % 4)
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idb = _block(1, struct.pack("<HHI", 1, 0, 0))
    path = tmp_path / "spb.pcapng"
    path.write_bytes(shb + idb + _block(3, body))
    assert payloads(path) == [b"spb"]


def _block(btype: int, body: bytes) -> bytes:
    """A pcapng block, by the spec's layout (type, total length, body, total length)."""
    return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def test_port_filter_is_on_the_destination(scapy_pcap):
    pkts = [Ether(**ETH) / udp4(b"a", dport=9930), Ether(**ETH) / udp4(b"b", dport=9931), Ether(**ETH) / udp4(b"c", sport=9930, dport=1)]
    stats = CaptureStats()
    assert payloads(scapy_pcap(pkts), ports={9930}, stats=stats) == [b"a"]
    assert (stats.udp, stats.matched) == (3, 1)


# --- fragments ----------------------------------------------------------------------------


def test_ipv4_fragments_out_of_order_reassemble(scapy_pcap):
    body = random.Random(1).randbytes(5000)
    frags = fragment(udp4(body), fragsize=1480)
    random.Random(2).shuffle(frags)
    stats = CaptureStats()
    assert payloads(scapy_pcap([Ether(**ETH) / f for f in frags]), stats=stats) == [body]
    assert (stats.fragments, stats.reassembled, stats.incomplete) == (len(frags), 1, 0)


def test_ipv6_fragments_out_of_order_reassemble(scapy_pcap):
    body = random.Random(3).randbytes(4000)
    pkt = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(id=77) / UDP(sport=1, dport=2) / Raw(body)
    frags = fragment6(pkt, 1280)
    assert len(frags) > 2
    frags.reverse()
    assert payloads(scapy_pcap([Ether(**ETH) / f for f in frags])) == [body]


def test_missing_fragment_is_counted_not_yielded(scapy_pcap):
    lost = fragment(udp4(b"L" * 4000, dport=9930), fragsize=1480)
    kept = Ether(**ETH) / udp4(b"whole", dport=9930)
    stats = CaptureStats()
    path = scapy_pcap([Ether(**ETH) / f for f in lost[:1] + lost[2:]] + [kept])
    assert payloads(path, stats=stats) == [b"whole"]
    assert (stats.incomplete, stats.fragments_dropped, stats.reassembled) == (1, len(lost) - 1, 0)


def test_fragment_older_than_timeout_is_dropped(scapy_pcap):
    frags = [Ether(**ETH) / f for f in fragment(udp4(b"T" * 3000), fragsize=1480)]
    for i, f in enumerate(frags):
        f.time = 1000 + 40 * i  # 40 s apart: beyond the 30 s reassembly time
    stats = CaptureStats()
    with pytest.raises(ReplayInputError, match="without any UDP"):
        list(read_datagrams(scapy_pcap(frags), stats=stats))
    assert stats.incomplete >= 1 and stats.reassembled == 0


def test_pending_fragments_are_bounded(scapy_pcap):
    firsts = [Ether(**ETH) / fragment(udp4(bytes(3000), src=f"10.0.1.{i}"), fragsize=1480)[0] for i in range(20)]
    stats = CaptureStats()
    with pytest.raises(ReplayInputError):
        list(read_datagrams(scapy_pcap(firsts), stats=stats, max_pending=4))
    assert (stats.fragments, stats.incomplete, stats.fragments_dropped) == (20, 20, 20)


def test_fragments_cut_by_snaplen_count_as_truncated(tmp_path):
    path = tmp_path / "cut.pcap"
    dgrams = [Datagram(1.0, ("10.0.0.1", 1), ("10.0.0.2", 2), bytes(3000)), Datagram(2.0, ("10.0.0.1", 1), ("10.0.0.2", 2), b"ok")]
    write_pcap(path, dgrams)
    data = bytearray(path.read_bytes())
    # cut every frame's data to 128 bytes, as tcpdump -s 128 does
    out, off = bytearray(data[:24]), 24
    while off < len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, off)
        keep = min(incl, 128)
        out += struct.pack("<IIII", sec, usec, keep, orig) + data[off + 16 : off + 16 + keep]
        off += 16 + incl
    path.write_bytes(bytes(out))
    stats = CaptureStats()
    assert payloads(path, stats=stats) == [b"ok"]
    assert (stats.truncated, stats.reassembled) == (1, 1)


# --- bad files ----------------------------------------------------------------------------


def test_empty_file_is_an_input_error(tmp_path):
    path = tmp_path / "empty.pcap"
    path.write_bytes(b"")
    with pytest.raises(ReplayInputError, match="empty file") as err:
        list(read_datagrams(path))
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_truncated_record_names_its_offset_after_yielding_the_rest(tmp_path):
    path = tmp_path / "cut.pcap"
    write_pcap(path, [Datagram(float(i), ("10.0.0.1", 1), ("10.0.0.2", 2), b"x" * 100) for i in range(3)])
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:-10])
    reader = read_datagrams(path)
    assert len([next(reader), next(reader)]) == 2
    with pytest.raises(ReplayInputError, match=f"truncated record at offset {size - 16 - 142}"):
        next(reader)


def test_truncated_pcapng_block_is_an_input_error(tmp_path):
    path = tmp_path / "cut.pcapng"
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    path.write_bytes(shb + _block(1, struct.pack("<HHI", 1, 0, 0))[:-6])
    with pytest.raises(ReplayInputError, match=f"truncated record at offset {len(shb)}"):
        list(read_frames(path))


@pytest.mark.parametrize(
    "content, reason",
    [(b"hello, this is text\n", "not a pcap/pcapng file (magic 68656c6c: looks like text)"), (gzip.compress(b"x" * 40, mtime=0), "gzip")],
)
def test_not_a_capture_is_an_input_error(tmp_path, content, reason):
    path = tmp_path / "notes.pcap"
    path.write_bytes(content)
    with pytest.raises(ReplayInputError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        list(read_datagrams(path))


def test_unsupported_link_type_is_an_input_error(scapy_pcap):
    path = scapy_pcap([b"\0" * 40], linktype=105)
    with pytest.raises(ReplayInputError, match="unsupported link type 105"):
        list(read_datagrams(path))


def test_capture_of_only_tcp_raises_with_the_counts(scapy_pcap):
    pkts = [Ether(**ETH) / IP() / TCP(sport=40000, dport=1094) / Raw(b"z" * 10) for _ in range(4)]
    stats = CaptureStats()
    with pytest.raises(ReplayInputError, match="without any UDP datagrams .*tcp=4"):
        list(read_datagrams(scapy_pcap(pkts), stats=stats))
    assert (stats.frames, stats.tcp, stats.udp) == (4, 4, 0)


@pytest.mark.parametrize("make", [lambda d: d / "missing.pcap", lambda d: d])
def test_unreadable_path_is_an_input_error(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(ReplayInputError) as info:
        list(read_datagrams(path))
    assert str(path) in str(info.value) and "cannot read" in str(info.value)
