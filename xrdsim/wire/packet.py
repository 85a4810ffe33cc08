"""One entry point each way: ``decode(bytes) -> Packet`` and ``encode(Packet) -> bytes``.

Dispatch is data: the first byte picks the decoder (binary code, ``<`` summary XML,
``{`` JSON); the packet's type picks the encoder (spec §1.1, §2.2).
"""

from __future__ import annotations

import struct
from typing import Callable, Union

from xrdsim.wire.codes import MAP_CODES, PacketCode
from xrdsim.wire.errors import DecodeError, EncodeError, TruncatedError, UnknownCodeError
from xrdsim.wire.fstream import CODE_F, FstreamPacket, decode_common_f, decode_fstream, encode_fstream
from xrdsim.wire.gstream import GStreamPacket, decode_gstream, encode_gstream
from xrdsim.wire.header import Header, decode_header
from xrdsim.wire.map import MapPacket, decode_common_map, decode_map, encode_map
from xrdsim.wire.rstream import RedirPacket, decode_redir, encode_redir
from xrdsim.wire.summary import JsonPacket, SummaryPacket, decode_json, decode_summary, encode_json, encode_summary
from xrdsim.wire.tstream import TracePacket, decode_trace, encode_trace

Packet = Union[MapPacket, FstreamPacket, TracePacket, RedirPacket, GStreamPacket, SummaryPacket, JsonPacket]

_BinaryDecoder = Callable[[memoryview, Header], Packet]
#: code byte → decoder of a binary packet (after its header is checked).
BINARY_DECODERS: dict[int, _BinaryDecoder] = {code: decode_map for code in MAP_CODES}
BINARY_DECODERS.update(
    {
        PacketCode.MAPFSTA: decode_fstream,
        PacketCode.MAPTRCE: decode_trace,
        PacketCode.MAPREDR: decode_redir,
        PacketCode.MAPGSTA: decode_gstream,
    }
)
#: first byte → decoder of a text packet (no binary header).
TEXT_DECODERS: dict[int, Callable[[memoryview], Packet]] = {
    ord("<"): decode_summary,
    ord("{"): decode_json,
}
#: first byte → a decoder of the usual form of that packet in one step, or None (then the
#: general path decodes it, or raises its error).
_COMMON: dict[int, Callable[[bytes], "Packet | None"]] = {code: decode_common_map for code in MAP_CODES}
_COMMON[CODE_F] = decode_common_f
ENCODERS: dict[type, Callable[..., bytes]] = {
    MapPacket: encode_map,
    FstreamPacket: encode_fstream,
    TracePacket: encode_trace,
    RedirPacket: encode_redir,
    GStreamPacket: encode_gstream,
    SummaryPacket: encode_summary,
    JsonPacket: encode_json,
}


def decode(payload: bytes | bytearray | memoryview) -> Packet:
    """Decode one monitoring datagram into its typed packet.

    Returns a packet or raises a ``DecodeError`` (with offset, code and field path);
    no other exception leaves this function for any input.
    """
    common = _COMMON.get(payload[0]) if type(payload) is bytes and payload else None
    if common is not None:  # the bulk of a busy server's datagrams, in one step
        try:
            pkt = common(payload)
        except DecodeError:
            raise
        except Exception:  # a decoder bug: the general path below says it as a DecodeError
            pkt = None
        if pkt is not None:
            return pkt
    buf = memoryview(payload)
    if not len(buf):
        raise TruncatedError("empty datagram", offset=0, path="header")
    first = buf[0]
    text_decoder = TEXT_DECODERS.get(first)
    if text_decoder is not None:
        return _guarded(text_decoder, buf, chr(first))
    header = decode_header(buf)
    decoder = BINARY_DECODERS.get(header.code)
    if decoder is None:
        raise UnknownCodeError(f"unknown packet code {header.code:#04x}", offset=0, code=_printable(header.code), path="header.code")
    return _guarded(decoder, buf, chr(header.code), header)


def _guarded(decoder: Callable[..., Packet], buf: memoryview, code: str, *args: Header) -> Packet:
    try:
        return decoder(buf, *args)
    except DecodeError:
        raise
    except (struct.error, ValueError, IndexError, KeyError, TypeError, UnicodeError, RecursionError) as exc:
        # A decoder bug must still surface as the sender's malformed datagram, never as a crash
        # of the collector; the type name keeps it findable.
        raise DecodeError(f"malformed ({type(exc).__name__}: {exc})", offset=0, code=code) from exc


def _printable(code: int) -> str:
    return chr(code) if 32 <= code < 127 else f"\\x{code:02x}"


def encode(packet: Packet) -> bytes:
    """Encode a packet to the exact datagram bytes an XRootD server would send."""
    encoder = ENCODERS.get(type(packet))
    if encoder is None:
        raise EncodeError(f"{type(packet).__name__} is not a monitoring packet")
    return encoder(packet)
