"""replay.writer: round trip through the reader (hypothesis), and the frames checked by
independent parsers — scapy for layout and checksums, tshark when installed."""

from __future__ import annotations

import ipaddress
import random
import shutil
import subprocess
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP, defragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment
from scapy.utils import rdpcap

from replay import LinkType, ReplayWriteError, read_datagrams, write_pcap
from xrdsim.datagram import Datagram

V4 = (("192.0.2.1", 1094), ("198.51.100.7", 9930))
V6 = (("2001:db8::1", 1094), ("2001:db8:0:1::7", 9930))


def dgram(size: int, t: float = 1700000000.0, addrs=V4, seed: int = 0, **kw) -> Datagram:
    return Datagram(t, addrs[0], addrs[1], random.Random(seed).randbytes(size), **kw)


@st.composite
def datagrams(draw) -> Datagram:
    version = draw(st.sampled_from([4, 6]))
    src, dst = (str(draw(st.ip_addresses(v=version))) for _ in range(2))
    size = draw(st.integers(0, 65000) | st.integers(0, 3000))
    payload = random.Random(draw(st.integers(0, 2**32))).randbytes(size)
    t_us = draw(st.integers(0, 4_000_000_000 * 10**6))
    arrival = draw(st.none() | st.integers(0, 10**6).map(lambda d: (t_us + d) / 1e6))
    return Datagram(t_us / 1e6, (src, draw(st.integers(0, 65535))), (dst, draw(st.integers(0, 65535))), payload, arrival)


@settings(max_examples=60)
@given(st.lists(datagrams(), min_size=1, max_size=4), st.sampled_from([576, 1500, 9000]))
def test_write_then_read_round_trips(tmp_path_factory, items, mtu):
    path = tmp_path_factory.mktemp("rt") / "rt.pcap"
    write_pcap(path, items, mtu=mtu)
    back = list(read_datagrams(path))
    assert len(back) == len(items)
    for got, want in zip(back, items):
        assert got.payload == want.payload
        assert [(ipaddress.ip_address(a), p) for a, p in (got.src, got.dst)] == [(ipaddress.ip_address(a), p) for a, p in (want.src, want.dst)]
        want_t = want.t_send if want.t_arrival is None else want.t_arrival
        assert round(got.t_arrival * 1e6) == round(want_t * 1e6)


@pytest.mark.parametrize("addrs, layer", [(V4, IP), (V6, IPv6)], ids=["ipv4", "ipv6"])
def test_checksums_agree_with_scapy(tmp_path, addrs, layer):
    path = tmp_path / "c.pcap"
    write_pcap(path, [dgram(n, addrs=addrs, seed=n) for n in (0, 1, 7, 100, 1401)])
    for frame in rdpcap(str(path)):
        pkt = frame[layer]
        fresh = pkt.copy()
        del fresh[UDP].chksum
        if layer is IP:
            del fresh.chksum
        rebuilt = layer(bytes(fresh))
        assert pkt[UDP].chksum == rebuilt[UDP].chksum
        assert layer is IPv6 or pkt.chksum == rebuilt.chksum


def test_ipv4_fragments_like_the_kernel(tmp_path):
    path = tmp_path / "f.pcap"
    write_pcap(path, [dgram(4000)], mtu=1500)
    frags = [f[IP] for f in rdpcap(str(path))]
    assert [len(f.payload) for f in frags] == [1480, 1480, 4008 - 2 * 1480]
    assert [f.frag for f in frags] == [0, 185, 370]
    assert [str(f.flags) for f in frags] == ["MF", "MF", ""]
    assert len({f.id for f in frags}) == 1
    whole = defragment(rdpcap(str(path)))[0][IP]
    expected = whole[UDP].chksum
    del whole[UDP].chksum
    assert IP(bytes(whole))[UDP].chksum == expected
    assert bytes(IP(bytes(whole))[UDP].payload) == dgram(4000).payload


def test_ipv6_fragments_like_the_kernel(tmp_path):
    path = tmp_path / "f6.pcap"
    write_pcap(path, [dgram(3000, addrs=V6)], mtu=1500)
    frags = [f[IPv6ExtHdrFragment] for f in rdpcap(str(path))]
    assert [f.offset * 8 for f in frags] == [0, 1448, 2896]
    assert [f.m for f in frags] == [1, 1, 0]
    assert [len(f.payload) for f in frags] == [1448, 1448, 3008 - 2 * 1448]


def test_frames_are_deterministic_with_counted_ids_and_derived_macs(tmp_path):
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcap"
    items = [dgram(10, seed=i) for i in range(3)]
    write_pcap(a, items)
    write_pcap(b, items)
    assert a.read_bytes() == b.read_bytes()
    frames = rdpcap(str(a))
    assert [f[IP].id for f in frames] == [1, 2, 3]
    assert (frames[0].src, frames[0].dst) == ("02:00:c0:00:02:01", "02:00:c6:33:64:07")


def test_time_is_arrival_else_send_to_the_microsecond(tmp_path):
    path = tmp_path / "t.pcap"
    write_pcap(path, [dgram(1, t=5.0, t_arrival=7.0000004), dgram(1, t=9.1234567)])
    assert [float(f.time) for f in rdpcap(str(path))] == [7.0, 9.123457]


def test_raw_ip_link_type(tmp_path):
    path = tmp_path / "raw.pcap"
    write_pcap(path, [dgram(20)], linktype=LinkType.RAW)
    (frame,) = rdpcap(str(path))
    assert isinstance(frame, IP) and bytes(frame[UDP].payload) == dgram(20).payload


def test_writing_streams_in_constant_memory(tmp_path):
    def many():
        for i in range(20_000):
            yield Datagram(float(i), V4[0], V4[1], bytes(1000))

    tracemalloc.start()
    summary = write_pcap(tmp_path / "big.pcap", many())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert summary.datagrams == 20_000 and (tmp_path / "big.pcap").stat().st_size > 20e6
    assert peak < 4e6


@pytest.mark.parametrize(
    "item, match",
    [
        (dgram(65508), "exceed the UDP maximum"),
        (Datagram(1.0, V4[0], V6[1], b""), "mixed IPv4/IPv6"),
        (Datagram(-1.0, V4[0], V4[1], b""), r"must be in \[0, 2\*\*32\)"),
        (Datagram(1.0, ("not-an-ip", 1), V4[1], b""), "bad address"),
    ],
)
def test_unwritable_datagrams_raise(tmp_path, item, match):
    with pytest.raises(ReplayWriteError, match=match):
        write_pcap(tmp_path / "x.pcap", [item])


def test_unknown_link_type_raises(tmp_path):
    with pytest.raises(ReplayWriteError, match="cannot write link type 113"):
        write_pcap(tmp_path / "x.pcap", [], linktype=LinkType.LINUX_SLL)


def test_tshark_reads_fragments_without_complaint(tmp_path):
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark not installed")
    path = tmp_path / "t.pcap"
    items = [dgram(n, addrs=V4 if n % 2 else V6, seed=n) for n in (0, 1, 100, 1473, 4001, 9000, 30001)]
    write_pcap(path, items)
    checks = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
    stat = subprocess.run([tshark, "-r", str(path), "-q", "-z", "io,stat,0"], capture_output=True, text=True, timeout=60, check=False)
    assert stat.returncode == 0, stat.stderr
    verbose = subprocess.run([tshark, "-r", str(path), "-V", *checks], capture_output=True, text=True, timeout=60, check=False)
    assert verbose.returncode == 0
    for word in ("malformed", "warning", "bad checksum", "error/"):
        assert word not in verbose.stdout.lower()
    lengths = subprocess.run([tshark, "-r", str(path), *checks, "-Y", "udp", "-T", "fields", "-e", "udp.length"], capture_output=True, text=True, timeout=60, check=False)
    assert [int(n) for n in lengths.stdout.split()] == [8 + len(d.payload) for d in items]


def test_unfragmented_ipv4_datagrams_carry_dont_fragment_as_the_real_capture(tmp_path, real_dir):
    """Every IPv4 monitoring datagram of the real 5.5.3 capture has DF set; the fragments a
    datagram above the MTU is cut into have none."""
    import struct

    from replay.writer import FrameBuilder

    def flags(frame: bytes) -> int:
        return struct.unpack_from("!H", frame, 14 + 6)[0] >> 13

    real = (real_dir / "monitoring.pcap").read_bytes()
    off, seen = 24, set()
    while off + 16 <= len(real):
        incl = struct.unpack_from("<I", real, off + 8)[0]
        seen.add(flags(real[off + 16 : off + 16 + incl]))
        off += 16 + incl
    assert seen == {0b010}
    build = FrameBuilder(mtu=1500)
    (single,) = build.frames(Datagram(1.0, ("10.0.0.1", 4000), ("10.0.0.2", 9930), b"x" * 1472))
    parts = build.frames(Datagram(1.0, ("10.0.0.1", 4000), ("10.0.0.2", 9930), b"x" * 1473))
    assert flags(single) == 0b010 and [flags(f) for f in parts] == [0b001, 0b000]
