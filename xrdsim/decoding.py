"""Decode a stream of datagrams into per-datagram results and a per-server tally.

Pure over ``Datagram`` objects (the file reading lives in ``replay``): what ``xrdsim decode``
prints. Bad datagrams are results too, with the offset and field path of the problem.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from xrdsim.datagram import Datagram
from xrdsim.wire import DecodeError, FileClose, FstreamPacket, MapPacket, Packet, SummaryPacket, decode, server_ident


@dataclass(slots=True)
class Decoded:
    """One datagram and what became of it: ``packet`` or ``error``, never both."""

    datagram: Datagram
    packet: Packet | None = None
    error: DecodeError | None = None

    @property
    def code(self) -> str:
        """The packet code as a character (``<`` summary XML, ``{`` JSON, ``?`` empty)."""
        return chr(self.datagram.payload[0]) if self.datagram.payload else "?"


@dataclass(slots=True)
class ServerTally:
    """Counts for one sender address."""

    address: str
    site: str = ""
    program: str = ""
    codes: Counter = field(default_factory=Counter)
    malformed: int = 0
    closes: int = 0
    read_bytes: int = 0
    write_bytes: int = 0


@dataclass(slots=True)
class DecodeTally:
    """What a capture's monitoring holds, per sender, plus every malformed datagram."""

    datagrams: int = 0
    malformed: list[Decoded] = field(default_factory=list)
    servers: dict[str, ServerTally] = field(default_factory=dict)

    @property
    def codes(self) -> Counter:
        """Datagram counts per code over all servers."""
        total: Counter = Counter()
        for tally in self.servers.values():
            total.update(tally.codes)
        return total


def decode_all(datagrams: Iterable[Datagram]) -> Iterator[Decoded]:
    """Decode each datagram; a DecodeError becomes a result, it does not stop the stream."""
    for dgram in datagrams:
        try:
            yield Decoded(dgram, packet=decode(dgram.payload))
        except DecodeError as exc:
            yield Decoded(dgram, error=exc)


def tally(results: Iterable[Decoded]) -> DecodeTally:
    """Fold decode results into per-server counts (codes, transfers closed, bytes)."""
    out = DecodeTally()
    for res in results:
        out.datagrams += 1
        ip, port = res.datagram.src
        server = out.servers.setdefault(f"{ip}:{port}", ServerTally(f"{ip}:{port}"))
        server.codes[res.code] += 1
        if res.error is not None:
            server.malformed += 1
            out.malformed.append(res)
        elif isinstance(res.packet, MapPacket) and res.packet.code == ord("="):
            ident = server_ident(res.packet)
            server.site, server.program = ident.site, ident.pgm
        elif isinstance(res.packet, SummaryPacket):
            server.site, server.program = res.packet.site, res.packet.pgm
        elif isinstance(res.packet, FstreamPacket):
            _count_closes(server, res.packet)
    return out


def _count_closes(server: ServerTally, pkt: FstreamPacket) -> None:
    for rec in pkt.records:
        if type(rec) is FileClose:
            server.closes += 1
            server.read_bytes += rec.read + rec.readv
            server.write_bytes += rec.write
