"""A capture file → the UDP datagrams in it, as ``Datagram`` objects, with counts of the rest.

Reads frames (``replay.frames``), finds their IP packets (``replay.packets``), reassembles
fragments (``replay.reassembly``) and checks UDP lengths: a datagram the snap length cut is
counted as truncated, never yielded. Hands payload bytes on; never decodes XRootD.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from replay.errors import ReplayInputError
from replay.frames import FilePath, iter_raw_frames
from replay.packets import (
    IP_OFFSET,
    NOT_IP,
    IpPacket,
    LinkType,
    ip_text,
    parse_ip,
    upper_layer,
)
from replay.reassembly import Reassembler
from xrdsim.datagram import Datagram

if TYPE_CHECKING:
    from replay.tcp_bytes import TcpScan

UDP = 17
TCP = 6
UDP_HEADER = struct.Struct("!HHH")


@dataclass(slots=True)
class CaptureStats:
    """What a read found, filled in while it runs (so: final once the iterator is exhausted).

    ``frames`` read; ``udp`` complete UDP datagrams (matching or not); ``matched`` those
    yielded; ``tcp`` TCP segments; ``other`` frames that are neither (ARP, ICMP, …);
    ``malformed`` IP/UDP headers whose lengths do not add up; ``truncated`` UDP datagrams the
    snap length cut (not yielded); ``fragments`` IP fragments seen; ``reassembled`` datagrams
    rebuilt from them; ``incomplete`` datagrams dropped for a missing fragment, which held
    ``fragments_dropped`` fragments.
    """

    frames: int = 0
    udp: int = 0
    matched: int = 0
    tcp: int = 0
    other: int = 0
    malformed: int = 0
    truncated: int = 0
    fragments: int = 0
    reassembled: int = 0
    incomplete: int = 0
    fragments_dropped: int = 0

    def summary(self) -> str:
        """The non-zero counters as one line, e.g. ``frames=1405 udp=56 matched=56 tcp=1349``."""
        return " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self) if getattr(self, f.name))


def read_datagrams(
    path: FilePath,
    *,
    ports: Collection[int] | None = None,
    stats: CaptureStats | None = None,
    max_pending: int = 4096,
    frag_timeout_s: float = 30.0,
    tcp: "TcpScan | None" = None,
) -> Iterator[Datagram]:
    """Every complete UDP datagram of a pcap/pcapng capture sent to one of ``ports`` (all
    when None), in the order they became complete, as ``Datagram(t_send=ts, src, dst,
    payload, t_arrival=ts)`` with ``ts`` the capture time of its (last) frame.

    >>> stats = CaptureStats()
    >>> sum(1 for _ in read_datagrams("monitoring.pcap", stats=stats))  # doctest: +SKIP
    56

    Pass ``stats`` to learn what else the capture held, and a ``replay.tcp_bytes.TcpScan`` as
    ``tcp`` to have the same read count the TCP segments (``validate`` reads its capture
    once). Raises ReplayInputError for an empty,
    truncated or non-capture file, an unsupported link type, and, once the capture is read,
    when not one datagram matched (the message carries the counts): a capture of only TCP,
    or the wrong ports, is a mistake worth one clear line rather than silence.
    """
    stats = CaptureStats() if stats is None else stats
    reader = _UdpReader(path, stats, Reassembler(max_pending, frag_timeout_s), tcp)
    wanted = None if ports is None else frozenset(ports)
    for ts, linktype, data, orig_len in iter_raw_frames(path):
        stats.frames += 1
        if tcp is not None:
            tcp.frames += 1
        dgram = reader.frame(ts, linktype, data, orig_len)
        if dgram is not None and (wanted is None or dgram.dst[1] in wanted):
            stats.matched += 1
            yield dgram
    reader.finish()
    if not stats.matched:
        where = "" if wanted is None else f" to port{'s' if len(wanted) > 1 else ''} {','.join(map(str, sorted(wanted)))}"
        raise ReplayInputError(path, f"capture without any UDP datagrams{where} ({stats.summary() or 'no frames'})")


def ip_packet_of(path: FilePath, linktype: int, data: bytes, orig_len: int) -> IpPacket | None:
    """The IP packet of a frame, None when it carries none; raises ReplayInputError for a
    link type ``replay`` cannot read."""
    locate = IP_OFFSET.get(linktype)
    if locate is None:
        raise ReplayInputError(path, f"unsupported link type {linktype} (reads {', '.join(f'{t.name}={t.value}' for t in LinkType)})")
    off = locate(data)
    return None if off == NOT_IP else parse_ip(data, off, orig_len)


class _UdpReader:
    """Per-frame steps of ``read_datagrams``: classify, reassemble, check UDP, count."""

    def __init__(self, path: FilePath, stats: CaptureStats, fragments: Reassembler, tcp: "TcpScan | None" = None) -> None:
        self.path = path
        self.stats = stats
        self.fragments = fragments
        self.tcp = tcp

    def frame(self, ts: float, linktype: int, data: bytes, orig_len: int) -> Datagram | None:
        pkt = ip_packet_of(self.path, linktype, data, orig_len)
        if pkt is None:
            self.stats.other += 1
            return None
        if pkt.frag_id >= 0:
            return self._fragment(pkt, data, ts)
        if pkt.proto == UDP:
            return self._udp(pkt, data, pkt.l4, pkt.end, ts)
        if pkt.proto == TCP and self.tcp is not None:
            self.tcp.segment(ts, data, pkt.l4, pkt.end, pkt.src, pkt.dst)
        self._count_not_udp(pkt.proto)
        return None

    def _fragment(self, pkt: IpPacket, data: bytes, ts: float) -> Datagram | None:
        self.stats.fragments += 1
        key = (pkt.version, pkt.src, pkt.dst, pkt.frag_id, pkt.proto)
        done = self.fragments.add(key, pkt.frag_offset, pkt.more, pkt.end - pkt.l4, data[pkt.l4 : pkt.end], ts)
        if done is None:
            return None
        whole, total = done
        self.stats.reassembled += 1
        proto, l4 = (pkt.proto, 0) if pkt.version == 4 else upper_layer(whole, 0, pkt.proto)
        if proto == UDP:
            return self._udp(pkt, whole, l4, total, ts)
        self._count_not_udp(proto)
        return None

    def _udp(self, pkt: IpPacket, buf: bytes, start: int, end: int, ts: float) -> Datagram | None:
        """The datagram whose UDP header is at ``buf[start]``; ``end`` is where the IP layer
        says it ends, beyond ``len(buf)`` when the capture cut it."""
        stats = self.stats
        if end - start < 8:
            stats.malformed += 1
            return None
        if len(buf) < start + 8:
            stats.truncated += 1
            return None
        sport, dport, ulen = UDP_HEADER.unpack_from(buf, start)
        if ulen == 0 and pkt.version == 6:  # jumbogram (RFC 2675): the length is the IP layer's
            ulen = end - start
        if ulen < 8 or start + ulen > end:
            stats.malformed += 1
            return None
        if len(buf) < start + ulen:
            stats.truncated += 1
            return None
        stats.udp += 1
        return Datagram(ts, (ip_text(pkt.src), sport), (ip_text(pkt.dst), dport), buf[start + 8 : start + ulen], ts)

    def _count_not_udp(self, proto: int) -> None:
        if proto == TCP:
            self.stats.tcp += 1
        else:
            self.stats.other += 1

    def finish(self) -> None:
        """End of capture: drop what never completed and copy the reassembler's counts."""
        self.fragments.flush()
        self.stats.incomplete = self.fragments.incomplete
        self.stats.fragments_dropped = self.fragments.fragments_dropped
