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
    return scan_tcp(path, bin_s).accounting(data_ports)


def scan_tcp(path: FilePath, bin_s: float = 60.0) -> "TcpScan":
    """Every TCP segment of a capture through one ``TcpScan`` (one read of the file)."""
    scan = TcpScan(bin_s)
    for ts, linktype, data, orig_len in iter_raw_frames(path):
        scan.frames += 1
        pkt = ip_packet_of(path, linktype, data, orig_len)
        if pkt is not None and pkt.proto == TCP and pkt.frag_id < 0:
            scan.segment(ts, data, pkt.l4, pkt.end, pkt.src, pkt.dst)
    return scan


@dataclass(slots=True)
class _Totals:
    payload: int = 0
    segments: int = 0
    retransmitted: int = 0
    retransmitted_bytes: int = 0
    bins: defaultdict[int, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(slots=True)
class _Flow:
    """One direction of one TCP connection: its sequence space and what it carried."""

    seen: int = 0  # segments, with or without payload
    first_t: float = math.inf
    space: "SeqSpace | None" = None
    totals: _Totals = field(default_factory=_Totals)


class TcpScan:
    """What one read of a capture learns of its TCP, before anyone knows the data ports: per
    flow direction its payload (each sequence byte once, per time bin), and the connections
    opened. ``accounting(ports)`` and ``listeners()`` then give what ``count_tcp_payload``
    and ``tcp_listeners`` give, so ``validate`` reads its capture once for the monitoring
    and the TCP alike (``read_datagrams(..., tcp=scan)``)."""

    def __init__(self, bin_s: float = 60.0) -> None:
        if not bin_s > 0:
            raise ValueError(f"bin_s must be > 0, got {bin_s}")
        self.bin_s = bin_s
        self.frames = self.cut = 0
        self.flows: dict[tuple[bytes, int, bytes, int], _Flow] = {}
        self.opened: dict[tuple[bytes, int, bytes, int], list[float]] = {}  # (client ip, port, server ip, port) -> [first, last]

    def segment(self, ts: float, data: bytes, l4: int, end: int, src: bytes, dst: bytes) -> None:
        """One TCP segment whose header starts at ``data[l4]``; ``end`` is where IP says it ends."""
        if len(data) < l4 + 14:
            self.cut += 1
            return
        sport, dport, seq, offset_byte, flags = TCP_FIXED.unpack_from(data, l4)
        key = (src, sport, dst, dport)
        self._opening(key, ts, flags)
        flow = self.flows.get(key)
        if flow is None:
            flow = self.flows[key] = _Flow()
        flow.seen += 1
        if ts < flow.first_t:
            flow.first_t = ts
        length = end - l4 - (offset_byte >> 4) * 4
        if length <= 0:
            return
        if flow.space is None:
            flow.space = SeqSpace(seq)
        new = flow.space.add(seq + 1 if flags & SYN else seq, length)
        totals = flow.totals
        totals.payload += new
        totals.retransmitted_bytes += length - new
        if new:
            totals.segments += 1
            totals.bins[math.floor(ts / self.bin_s)] += new
        else:
            totals.retransmitted += 1

    def _opening(self, key: tuple[bytes, int, bytes, int], ts: float, flags: int) -> None:
        opened = self.opened
        if flags & (SYN | ACK) == SYN:
            opened[key] = [ts, ts]
        elif flags & (SYN | ACK) == SYN | ACK:
            opened.setdefault((key[2], key[3], key[0], key[1]), [ts, ts])
        span = opened.get(key) or opened.get((key[2], key[3], key[0], key[1]))
        if span is not None and ts > span[1]:
            span[1] = ts

    def accounting(self, data_ports: Collection[int]) -> TcpAccounting:
        """The payload to and from ``data_ports``, per server endpoint and direction: the
        server side of a flow is the end whose port is a data port (the destination when
        both are)."""
        ports = frozenset(data_ports)
        totals: defaultdict[tuple[bytes, int, Direction], _Totals] = defaultdict(_Totals)
        tcp, first_t = 0, None
        for (src, sport, dst, dport), flow in self.flows.items():
            if dport in ports:
                key = (dst, dport, Direction.IN)
            elif sport in ports:
                key = (src, sport, Direction.OUT)
            else:
                continue
            tcp += flow.seen
            first_t = flow.first_t if first_t is None else min(first_t, flow.first_t)
            into, part = totals[key], flow.totals
            into.payload += part.payload
            into.segments += part.segments
            into.retransmitted += part.retransmitted
            into.retransmitted_bytes += part.retransmitted_bytes
            for k, n in part.bins.items():
                into.bins[k] += n
        endpoints = tuple(
            EndpointBytes(
                (ip_text(ip), port), direction, t.payload, t.segments, t.retransmitted, t.retransmitted_bytes,
                tuple((k * self.bin_s, n) for k, n in sorted(t.bins.items())),
            )
            for (ip, port, direction), t in sorted(totals.items())
        )
        return TcpAccounting(self.bin_s, endpoints, self.frames, tcp, self.cut, first_t)

    def listeners(self) -> tuple["Listener", ...]:
        """Every endpoint a connection was opened to (see ``tcp_listeners``)."""
        by_server: defaultdict[Address, list[Connection]] = defaultdict(list)
        for (cip, _, sip, sport), (first, last) in self.opened.items():
            by_server[(ip_text(sip), sport)].append(Connection(ip_text(cip), first, last))
        return tuple(Listener(a, tuple(sorted(c, key=lambda x: x.first_t))) for a, c in sorted(by_server.items()))


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
    return scan_tcp(path).listeners()


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
        ends = self.ends
        if ends and start == ends[-1]:  # in order, right after the highest interval: all new
            ends[-1] = end
            if end > self.top:
                self.top = end
            return length
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
