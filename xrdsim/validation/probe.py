"""What a capture's monitoring datagrams say about their senders, gathered while they pass on to
the collector: codes and sizes per sender socket, idents, logins, OPEN user dictids, DISCs,
summary sync flags and link counters (spec §1.2, §3.3, §4.4, §8.3). Also decides which UDP
datagrams are monitoring at all. Decodes with ``xrdsim.wire``; builds no records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from xrdsim.datagram import Address, Datagram
from xrdsim.wire import (
    DecodeError,
    FileDisc,
    FileOpen,
    FstreamPacket,
    LinkStats,
    MapPacket,
    Packet,
    ServerIdent,
    SummaryPacket,
    TraceDisc,
    TracePacket,
    decode,
    server_ident,
)

#: The largest UDP payload one IPv4 packet carries at MTU 1500 (1500 − 20 IP − 8 UDP).
MAX_UNFRAGMENTED = 1472
#: (collector feed item) payload, sender, capture time.
Item = tuple[bytes, Address, float]


@dataclass(slots=True)
class SummaryFacts:
    """The ``xrd.report`` documents of one socket: ``src`` host:port, program, site, how many
    said ``sgen as=1`` (not synchronised) or had no ``sgen``, and the link counters in order."""

    src: str
    pgm: str
    site: str
    reports: int = 0
    unsynced: int = 0
    no_sgen: int = 0
    links: list[LinkStats] = field(default_factory=list)


@dataclass(slots=True)
class SocketFacts:
    """One sender socket (ip, port) of monitoring: datagrams per code character, the largest
    and the oversized (> MAX_UNFRAGMENTED) per code, malformed ones, its last ``=`` ident, OPEN
    records with an LFN (``opens``) and those with user dictid 0, ``u`` logins, DISC'd users."""

    address: Address
    codes: Counter[str] = field(default_factory=Counter)
    largest: dict[str, int] = field(default_factory=dict)
    oversize: Counter[str] = field(default_factory=Counter)
    malformed: int = 0
    ident: ServerIdent | None = None
    summary: SummaryFacts | None = None
    opens: int = 0
    opens_without_user: int = 0
    logins: set[int] = field(default_factory=set)
    discs: set[int] = field(default_factory=set)

    def count(self, code: str, size: int) -> None:
        """Book one datagram of ``code`` and ``size`` payload bytes."""
        self.codes[code] += 1
        if size > self.largest.get(code, 0):
            self.largest[code] = size
        if size > MAX_UNFRAGMENTED:
            self.oversize[code] += 1


def _map(facts: SocketFacts, pkt: MapPacket, t: float) -> None:
    if pkt.code == ord("="):
        facts.ident = server_ident(pkt)
    elif pkt.code == ord("u"):
        facts.logins.add(pkt.dictid)


def _fstream(facts: SocketFacts, pkt: FstreamPacket, t: float) -> None:
    for rec in pkt.records:
        if type(rec) is FileOpen and rec.lfn is not None:
            facts.opens += 1
            facts.opens_without_user += not rec.user
        elif type(rec) is FileDisc:
            facts.discs.add(rec.user)


def _trace(facts: SocketFacts, pkt: TracePacket, t: float) -> None:
    facts.discs.update(e.user_id for e in pkt.entries if type(e) is TraceDisc)


def _summary(facts: SocketFacts, pkt: SummaryPacket, t: float) -> None:
    s = facts.summary
    if s is None:
        s = facts.summary = SummaryFacts(pkt.src, pkt.pgm, pkt.site)
    s.reports += 1
    sgen = pkt.stats.get("sgen")
    if not isinstance(sgen, dict) or "as" not in sgen:
        s.no_sgen += 1
    elif sgen["as"] == 1:
        s.unsynced += 1
    try:
        link = pkt.link
    except DecodeError:
        link = None
    if link is not None:
        s.links.append(link)


#: decoded packet type → what it teaches about its sender.
LEARN: dict[type, Callable[[SocketFacts, Packet, float], None]] = {
    MapPacket: _map,
    FstreamPacket: _fstream,
    TracePacket: _trace,
    SummaryPacket: _summary,
}


class MonitoringProbe:
    """Passes the monitoring datagrams of a capture on (``items``) and keeps ``sockets`` facts.

    A UDP datagram is monitoring when it decodes, or when it goes to a port that has carried
    monitoring before (a malformed datagram then reaches the collector, which counts it).
    Others are counted per destination port in ``other_udp`` and not passed on.
    """

    def __init__(self) -> None:
        self.sockets: dict[Address, SocketFacts] = {}
        self.ports: Counter[int] = Counter()
        self.other_udp: Counter[int] = Counter()
        self.first_t: float | None = None
        self.last_t: float | None = None

    def items(self, datagrams: Iterable[Datagram]) -> Iterator[Item]:
        """The collector's (payload, sender, time) of every monitoring datagram."""
        for d in datagrams:
            t = d.t_arrival if d.t_arrival is not None else d.t_send
            if self.admit(d, t):
                yield d.payload, d.src, t

    def admit(self, d: Datagram, t: float) -> bool:
        """Learn from ``d``; True when it is monitoring."""
        try:
            pkt = decode(d.payload)
        except DecodeError:
            if d.dst[1] not in self.ports:
                self.other_udp[d.dst[1]] += 1
                return False
            self._facts(d.src).malformed += 1
            pkt = None
        self.ports[d.dst[1]] += 1
        self.first_t = t if self.first_t is None else min(self.first_t, t)
        self.last_t = t if self.last_t is None else max(self.last_t, t)
        if pkt is not None:
            facts = self._facts(d.src)
            facts.count(chr(d.payload[0]), len(d.payload))
            learn = LEARN.get(type(pkt))
            if learn is not None:
                learn(facts, pkt, t)
        return True

    def _facts(self, src: Address) -> SocketFacts:
        facts = self.sockets.get(src)
        if facts is None:
            facts = self.sockets[src] = SocketFacts(src)
        return facts

    @property
    def datagrams(self) -> int:
        """Monitoring datagrams passed on."""
        return sum(self.ports.values())


__all__ = ["LEARN", "MAX_UNFRAGMENTED", "MonitoringProbe", "SocketFacts", "SummaryFacts"]
