"""Fixtures of the collector tests: an emitter of hand-built datagrams (through the codec's
``encode``) that keeps XRootD's pseq rules — one counter per destination for map/t/r, one
for f (spec §2.3) — so each test states only what it is about."""

from __future__ import annotations

import pytest

from collector import Collector, CollectorConfig
from xrdsim.wire import FileRecord, FstreamPacket, MapPacket, encode, make_tod

SID = 0x5C0FFEE12345


class Emitter:
    """One server process seen from one destination: ``ip``, source ``port``, ``stod``, ``sid``."""

    def __init__(self, sid: int = SID, stod: int = 1_700_000_000, ip: str = "192.0.2.10", port: int = 40001) -> None:
        self.sid, self.stod, self.ip, self.port = sid, stod, ip, port
        self.mseq = 0
        self.fseq = 0

    @property
    def src(self) -> tuple[str, int]:
        return (self.ip, self.port)

    def _map(self, code: str, dictid: int, text: str) -> bytes:
        pkt = MapPacket(ord(code), self.mseq & 255, self.stod, dictid, text)
        self.mseq += 1
        return encode(pkt)

    def userid(self, user: str = "alice", session: int = 7, host: str = "[::ffff:198.51.100.4]", prot: str = "xroot") -> str:
        return f"{prot}/{user}.{session}:{self.sid}@{host}"

    def ident(self, site: str = "SITE_A", port: int = 1094) -> bytes:
        return self._map("=", 0, f"=/xrootd.4242:{self.sid}@data.example.org\n&site={site}&port={port}&inst=anon&pgm=xrootd&ver=v5.6.9")

    def user(self, dictid: int, info: str = "&p=gsi&n=alice&h=wn1.example.org&o=cms&r=NULL&g=/cms&m=/DC=org/CN=Alice::abc&I=4", **uid) -> bytes:
        return self._map("u", dictid, self.userid(**uid) + ("\n" + info if info is not None else ""))

    def path(self, dictid: int, lfn: str, **uid) -> bytes:
        return self._map("d", dictid, self.userid(**uid) + "\n" + lfn)

    def info(self, dictid: int, text: str, **uid) -> bytes:
        return self._map("i", dictid, self.userid(**uid) + "\n" + text)

    def token(self, dictid: int, uc: int, extra: str) -> bytes:
        return self._map("T", dictid, self.userid() + f"\n&Uc={uc}" + extra)

    def activity(self, dictid: int, uc: int, exp: str, act: str) -> bytes:
        return self._map("U", dictid, self.userid() + f"\n&Uc={uc}&Ec={exp}&Ac={act}")

    def f(self, records: list[FileRecord], t_beg: int = 1_700_000_100, t_end: int | None = None, pseq: int | None = None) -> bytes:
        seq = self.fseq if pseq is None else pseq
        if pseq is None:
            self.fseq += 1
        tod = make_tod(records, t_beg, t_beg if t_end is None else t_end, self.sid)
        return encode(FstreamPacket(seq & 255, self.stod, tod, records))

    def send(self, c: Collector, datagrams: list[bytes], t0: float = 1000.0, dt: float = 0.01) -> list:
        """Feed ``datagrams`` from this emitter at t0, t0+dt, ...; every event returned."""
        out = []
        for i, d in enumerate(datagrams):
            out += c.feed(d, self.src, t0 + i * dt)
        return out


@pytest.fixture
def emitter():
    """Factory: ``emitter(sid=..., stod=..., ip=..., port=...)``."""
    return Emitter


@pytest.fixture
def collector():
    """A collector with short, test-friendly time policies."""
    return Collector(CollectorConfig(open_ttl=100.0, reorder_count=4, reorder_seconds=5.0, session_grace=2.0, t_hold=30.0))
