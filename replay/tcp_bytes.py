"""TCP payload bytes of a capture, counted from headers alone, per server endpoint and direction.

payload = IP total length (IPv6: payload length) − IP header(s) − TCP data offset × 4, so a
capture cut at a short snap length (128 bytes) counts exactly. Bytes a segment repeats
(retransmissions) are counted once and reported apart. Never decodes the data.
"""

from __future__ import annotations

import bisect
import math
import struct
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import Enum

from replay.capture import TCP, ip_packet_of
from replay.frames import FilePath, iter_raw_frames
from replay.packets import ip_text
from xrdsim.datagram import Address

TCP_FIXED = struct.Struct("!HHI4xBB")  # sport, dport, seq, data offset byte, flags
SYN = 0x02
ACK = 0x10
SEQ_MOD = 1 << 32
SEQ_HALF = 1 << 31
MAX_HOLES = 64  # per flow: beyond this, the smallest hole is taken as seen (bounded state)


class Direction(str, Enum):
    """``IN``: to the server's data port; ``OUT``: from it."""

    IN = "in"
    OUT = "out"


@dataclass(frozen=True, slots=True)
class EndpointBytes:
    """Payload of one server endpoint in one direction.

    ``payload_bytes`` counts each sequence byte once; ``segments`` carried new bytes;
    ``retransmitted_segments`` carried none (their ``retransmitted_bytes``, with the repeated
    part of partly new segments, are not in ``payload_bytes``). ``bins`` are (bin start in
    seconds since the epoch, payload bytes), ascending.
    """

    server: Address
    direction: Direction
    payload_bytes: int
    segments: int
    retransmitted_segments: int
    retransmitted_bytes: int
    bins: tuple[tuple[float, int], ...]


@dataclass(frozen=True, slots=True)
class TcpAccounting:
    """Result of ``count_tcp_payload``: one ``EndpointBytes`` per (server, direction), sorted,
    plus the capture's ``frames``, the TCP segments to or from the data ports (``tcp``) and
    those whose TCP header the snap length cut (``cut_headers``, not counted)."""

    bin_s: float
    endpoints: tuple[EndpointBytes, ...]
    frames: int
    tcp: int
    cut_headers: int
    first_t: float | None = None

    def payload_bytes(self, *, port: int | None = None, direction: Direction | str | None = None) -> int:
        """Total payload bytes, optionally only of one server port and/or direction."""
        return sum(
            e.payload_bytes
            for e in self.endpoints
            if (port is None or e.server[1] == port) and (direction is None or e.direction == direction)
        )


def count_tcp_payload(path: FilePath, data_ports: Collection[int], bin_s: float = 60.0) -> TcpAccounting:
    """Count the TCP payload bytes to and from ``data_ports`` in a pcap/pcapng capture.

    The server side of a segment is the end whose port is a data port (the destination when
    both are). Fragmented TCP is not counted.

    >>> count_tcp_payload("capture.pcap", {21885}).payload_bytes(direction="in")  # doctest: +SKIP
    22512345

    Raises ReplayInputError for a file ``replay`` cannot read.
    """
    if not bin_s > 0:
        raise ValueError(f"bin_s must be > 0, got {bin_s}")
    counter = _Counter(frozenset(data_ports), bin_s)
    for ts, linktype, data, orig_len in iter_raw_frames(path):
        counter.frames += 1
        pkt = ip_packet_of(path, linktype, data, orig_len)
        if pkt is not None and pkt.proto == TCP and pkt.frag_id < 0:
            counter.segment(ts, data, pkt.l4, pkt.end, pkt.src, pkt.dst)
    return counter.result()


@dataclass(slots=True)
class _Totals:
    payload: int = 0
    segments: int = 0
    retransmitted: int = 0
    retransmitted_bytes: int = 0
    bins: defaultdict[int, int] = field(default_factory=lambda: defaultdict(int))


class _Counter:
    """Running totals of ``count_tcp_payload``: per endpoint/direction and per flow sequence space."""

    def __init__(self, ports: frozenset[int], bin_s: float) -> None:
        self.ports = ports
        self.bin_s = bin_s
        self.frames = self.tcp = self.cut = 0
        self.first_t: float | None = None
        self.totals: defaultdict[tuple[bytes, int, Direction], _Totals] = defaultdict(_Totals)
        self.flows: dict[tuple[bytes, int, bytes, int], SeqSpace] = {}

    def segment(self, ts: float, data: bytes, l4: int, end: int, src: bytes, dst: bytes) -> None:
        if len(data) < l4 + 14:
            self.cut += 1
            return
        sport, dport, seq, offset_byte, flags = TCP_FIXED.unpack_from(data, l4)
        if dport in self.ports:
            key = (dst, dport, Direction.IN)
        elif sport in self.ports:
            key = (src, sport, Direction.OUT)
        else:
            return
        self.tcp += 1
        self.first_t = ts if self.first_t is None else min(self.first_t, ts)
        length = end - l4 - (offset_byte >> 4) * 4
        if length <= 0:
            return
        space = self.flows.setdefault((src, sport, dst, dport), SeqSpace(seq))
        new = space.add(seq + 1 if flags & SYN else seq, length)
        self._count(self.totals[key], ts, length, new)

    def _count(self, totals: _Totals, ts: float, length: int, new: int) -> None:
        totals.payload += new
        totals.retransmitted_bytes += length - new
        if new:
            totals.segments += 1
            totals.bins[math.floor(ts / self.bin_s)] += new
        else:
            totals.retransmitted += 1

    def result(self) -> TcpAccounting:
        endpoints = tuple(
            EndpointBytes(
                (ip_text(ip), port), direction, t.payload, t.segments, t.retransmitted, t.retransmitted_bytes,
                tuple((k * self.bin_s, n) for k, n in sorted(t.bins.items())),
            )
            for (ip, port, direction), t in sorted(self.totals.items())
        )
        return TcpAccounting(self.bin_s, endpoints, self.frames, self.tcp, self.cut, self.first_t)


@dataclass(frozen=True, slots=True)
class Connection:
    """One TCP connection seen opening: the client's IP, the time of its SYN and of its last segment."""

    client: str
    first_t: float
    last_t: float


@dataclass(frozen=True, slots=True)
class Listener:
    """A server endpoint (ip, port) that connections were opened to in a capture, with them in order."""

    address: Address
    connections: tuple[Connection, ...]


def tcp_listeners(path: FilePath) -> tuple[Listener, ...]:
    """Every endpoint a TCP connection was opened to in a capture (the target of a SYN without
    ACK, or the sender of a SYN+ACK), whatever its port; connections already open when the
    capture began are not seen. Sorted by address.

    >>> [(l.address, len(l.connections)) for l in tcp_listeners("capture.pcap")]  # doctest: +SKIP
    [(('127.0.0.1', 21894), 6), (('127.0.0.1', 21895), 5)]
    """
    flows: dict[tuple[bytes, int, bytes, int], list[float]] = {}  # (client ip, port, server ip, port) -> [first, last]
    for ts, linktype, data, orig_len in iter_raw_frames(path):
        pkt = ip_packet_of(path, linktype, data, orig_len)
        if pkt is None or pkt.proto != TCP or pkt.frag_id >= 0 or len(data) < pkt.l4 + 14:
            continue
        sport, dport, _, _, flags = TCP_FIXED.unpack_from(data, pkt.l4)
        key = (pkt.src, sport, pkt.dst, dport)
        if flags & (SYN | ACK) == SYN:
            flows[key] = [ts, ts]
        elif flags & (SYN | ACK) == SYN | ACK:
            flows.setdefault((pkt.dst, dport, pkt.src, sport), [ts, ts])
        span = flows.get(key) or flows.get((pkt.dst, dport, pkt.src, sport))
        if span is not None:
            span[1] = max(span[1], ts)
    by_server: defaultdict[Address, list[Connection]] = defaultdict(list)
    for (cip, _, sip, sport), (first, last) in flows.items():
        by_server[(ip_text(sip), sport)].append(Connection(ip_text(cip), first, last))
    return tuple(Listener(a, tuple(sorted(c, key=lambda x: x.first_t))) for a, c in sorted(by_server.items()))


class SeqSpace:
    """The sequence numbers one TCP flow direction has carried, as disjoint unwrapped
    intervals, so a byte seen twice is counted once.

    >>> s = SeqSpace(1000); s.add(1000, 100), s.add(1000, 100), s.add(1050, 100)
    (100, 0, 50)
    """

    def __init__(self, isn: int) -> None:
        self.top = isn  # highest sequence end seen, unwrapped (a Python int grows past 2**32)
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, seq: int, length: int) -> int:
        """Record [seq, seq+length); returns how many of those bytes are new."""
        start = self.top + ((seq - self.top + SEQ_HALF) % SEQ_MOD - SEQ_HALF)
        end = start + length
        self.top = max(self.top, end)
        lo = bisect.bisect_left(self.ends, start)  # first interval that may touch [start, end)
        hi = bisect.bisect_right(self.starts, end)  # intervals before hi start at or before end
        seen = sum(max(0, min(end, self.ends[i]) - max(start, self.starts[i])) for i in range(lo, hi))
        if lo < hi:
            start, end = min(start, self.starts[lo]), max(end, self.ends[hi - 1])
        self.starts[lo:hi], self.ends[lo:hi] = [start], [end]
        if len(self.starts) > MAX_HOLES:
            self._fill_smallest_hole()
        return length - seen

    def _fill_smallest_hole(self) -> None:
        i = min(range(1, len(self.starts)), key=lambda k: self.starts[k] - self.ends[k - 1])
        self.ends[i - 1] = self.ends[i]
        del self.starts[i], self.ends[i]
