"""Configuration findings from what servers send: datagrams built here byte by byte from the
spec's tables (§2.1, §3.1, §3.3, §4.2–§4.7, §8), fed through the probe, grouped into servers
and judged by the rules."""

from __future__ import annotations

import struct

import pytest

from xrdsim.datagram import Datagram
from xrdsim.validation.findings import (
    server_findings,
    sessions_never_closed,
    steps_only_at_disconnect,
)
from xrdsim.validation.probe import MonitoringProbe
from xrdsim.validation.servers import group_servers
from xrdsim.wire import LinkStats

STOD = 1_700_000_000
HOST = "10.1.0.5"
COLLECTOR = ("10.9.9.9", 9930)


def header(code: str, pseq: int, body: bytes) -> bytes:
    return struct.pack("!BBHI", ord(code), pseq, 8 + len(body), STOD) + body


def map_packet(code: str, dictid: int, text: str, pseq: int = 0) -> bytes:
    return header(code, pseq, struct.pack("!I", dictid) + text.encode())


def ident(port: int = 1094) -> bytes:
    return map_packet("=", 0, f"=/xrootd.77:123456789@xrd1.example.org\n&site=T2_X&port={port}&inst=anon&pgm=xrootd&ver=v5.6.9")


def fpacket(records: list[bytes], pseq: int = 0) -> bytes:
    tod = struct.pack("!BBhhhiiQ", 2, 1, 24, 0, len(records), STOD, STOD + 5, 123456789)
    return header("f", pseq, tod + b"".join(records))


def f_open(fid: int, user: int, lfn: str) -> bytes:
    size = (20 + len(lfn) + 8) & ~3
    return struct.pack("!BBhIqI", 1, 0x01, size, fid, 1000, user) + lfn.encode().ljust(size - 20, b"\0")


def f_close(fid: int, read: int = 0, write: int = 0) -> bytes:
    return struct.pack("!BBhIqqq", 0, 0, 32, fid, read, 0, write)


def f_disc(user: int) -> bytes:
    return struct.pack("!BBhI", 4, 0, 8, user)


def summary(tod: int, sgen: str | None, link_in: int = 0, num: int = 0, tot: int = 0) -> bytes:
    sg = f'<stats id="sgen"><as>{sgen}</as><et>0</et><toe>{tod}</toe></stats>' if sgen is not None else ""
    return (f'<statistics tod="{tod}" ver="v5.6.9" src="xrd1.example.org:1094" tos="{STOD}" pgm="xrootd" ins="anon" '
            f'pid="77" site="T2_X"><stats id="link"><num>{num}</num><maxn>3</maxn><tot>{tot}</tot><in>{link_in}</in>'
            f"<out>0</out><ctime>0</ctime><tmo>0</tmo><stall>0</stall><sfps>0</sfps></stats>{sg}</statistics>").encode()


def findings_of(sends: list[tuple[int, bytes]]) -> dict[str, str]:
    """kind → detail of the findings on the servers the datagrams (source port, payload) form."""
    probe = MonitoringProbe()
    items = list(probe.items(Datagram(STOD + i, (HOST, sport), COLLECTOR, p) for i, (sport, p) in enumerate(sends)))
    assert len(items) == len(sends)
    servers = group_servers(probe.sockets.values())
    return {f.kind: f.detail for f in server_findings(servers, 600.0, set())}


HEALTHY = [
    (4000, ident()),
    (4000, map_packet("u", 5, "xroot/alice.1:123456789@wn1.example.org", 1)),
    (4000, fpacket([f_open(9, 5, "/store/a"), f_close(9, read=100), f_disc(5)])),
    (4001, summary(STOD + 60, "0")),
]


def test_a_healthy_server_has_no_finding():
    assert findings_of(HEALTHY) == {}


def test_no_f_packets_is_fstat_off_and_no_u_packets_user_off():
    got = findings_of([(4000, ident()), (4000, map_packet("d", 9, "xroot/alice.1:1@wn\n/store/a")), (4001, summary(STOD, "0"))])
    assert set(got) == {"fstat_off", "user_off"}
    assert "no u packets" in got["user_off"]


def test_open_with_user_dictid_zero_is_user_off():
    sends = [HEALTHY[0], (4000, map_packet("u", 5, "xroot/alice.1:1@wn", 1)),
             (4000, fpacket([f_open(9, 0, "/store/a"), f_open(10, 5, "/store/b")])), HEALTHY[3]]
    assert findings_of(sends) == {"user_off": "1 of 2 OPEN records carry user dictid 0 (no `user` stream for them)"}


def test_f_packet_above_1472_bytes_is_fragmenting():
    closes = [f_close(k, read=k) for k in range(45)]  # 8 + 24 + 45·32 = 1472 B: fits
    fits = findings_of([*HEALTHY[:2], (4000, fpacket(closes)), HEALTHY[3]])
    assert "fragmenting" not in fits
    big = findings_of([*HEALTHY[:2], (4000, fpacket([*closes, f_close(99)])), HEALTHY[3]])
    assert "f: 1 of 1 (largest 1504 B; cap with `xrootd.monitor fbsz 1472`)" in big["fragmenting"]


def test_unsynchronised_summaries_are_no_sync():
    got = findings_of([*HEALTHY[:3], (4001, summary(STOD + 60, "1")), (4001, summary(STOD + 120, "0"))])
    assert got == {"no_sync": "1 of 2 summary reports say sgen as=1: link counters not synchronised, add `sync` to `xrd.report`"}


def test_link_counters_stepping_only_at_disconnect_are_no_sync():
    # two links open from report 1 to 3 while bytes flow (flat counters), then they close (step)
    reports = [summary(STOD + 60 * k, None, link_in=i, num=n, tot=2) for k, (i, n) in enumerate([(0, 2), (0, 2), (0, 2), (9000, 0)])]
    got = findings_of([*HEALTHY[:3], *((4001, r) for r in reports)])
    assert set(got) == {"no_sync"} and "step when they close" in got["no_sync"]


def test_no_summary_and_no_ident():
    got = findings_of(HEALTHY[1:3])
    assert set(got) == {"no_summary", "ident_off"}
    assert got["ident_off"].startswith("no `=` ident in 600 s of capture")


def test_an_idle_server_is_not_blamed_for_missing_f_or_u():
    got = findings_of([(4000, ident()), (4001, summary(STOD, "0"))])
    assert got == {}


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        ([(0, 1, 1), (0, 1, 1), (0, 1, 1), (500, 0, 1)], True),  # (in, num, tot): flat while open, step at close
        ([(0, 1, 1), (100, 1, 1), (200, 1, 1), (500, 0, 1)], False),  # grows while open: synchronised
        ([(0, 1, 1), (0, 1, 1), (0, 1, 1)], False),  # never steps: idle links
        ([(0, 0, 0), (10, 0, 1), (20, 0, 2)], False),  # short links only: nothing to tell
    ],
)
def test_steps_only_at_disconnect(links, expected):
    stats = [LinkStats(num, 3, tot, i, 0, 0, 0, 0, 0) for i, num, tot in links]
    assert steps_only_at_disconnect(stats) is expected


def test_sessions_without_disc_are_counted():
    probe = MonitoringProbe()
    sends = [ident(), map_packet("u", 5, "xroot/a.1:1@wn", 1), map_packet("u", 6, "xroot/b.2:1@wn", 2), fpacket([f_disc(5)])]
    list(probe.items(Datagram(STOD, (HOST, 4000), COLLECTOR, p) for p in sends))
    (server,) = group_servers(probe.sockets.values())
    assert server.label == "xrd1.example.org:1094" and sessions_never_closed(server) == 1


def test_udp_that_never_decodes_is_not_monitoring():
    probe = MonitoringProbe()
    dns = Datagram(STOD, (HOST, 53000), ("10.0.0.53", 53), b"\x12\x34\x01\x00\x00\x01")
    mon = Datagram(STOD, (HOST, 4000), COLLECTOR, ident())
    bad = Datagram(STOD, (HOST, 4000), COLLECTOR, b"f\x00\x00\x09")
    assert [src for _, src, _ in probe.items([dns, mon, bad])] == [(HOST, 4000), (HOST, 4000)]
    assert probe.other_udp == {53: 1} and probe.sockets[(HOST, 4000)].malformed == 1
