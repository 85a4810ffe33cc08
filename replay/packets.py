"""Link-layer and IP headers of a captured frame → where its IP packet is and what it carries.

Owns the link types (Ethernet with 802.1Q/QinQ tags, Linux cooked SLL/SLL2, raw IP, BSD
loopback) and the IPv4/IPv6 headers including IPv6 extension headers and the fragment fields
of both. Never reassembles, never reads UDP or TCP.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache


class LinkType(IntEnum):
    """LINKTYPE_* values of the link types ``replay`` reads (tcpdump.org/linktypes.html)."""

    NULL = 0
    ETHERNET = 1
    RAW_DLT = 12
    RAW = 101
    LOOP = 108
    LINUX_SLL = 113
    IPV4 = 228
    IPV6 = 229
    LINUX_SLL2 = 276


ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
VLAN_ETHERTYPES = frozenset({0x8100, 0x88A8, 0x9100})
#: BSD loopback address families meaning IP (AF_INET, and AF_INET6 of Linux/BSDs/macOS).
LOOPBACK_FAMILIES = frozenset({2, 10, 24, 28, 30})
NOT_IP = -1

IPV4_HEADER = struct.Struct("!BxHHHxB2x4s4s")  # ver/ihl, total length, id, flags/frag, proto, src, dst
IPV6_HEADER = struct.Struct("!4xHB1x16s16s")  # payload length, next header, src, dst
IPV6_FRAGMENT = struct.Struct("!BxHI")  # next header, offset/M, identification
IPV6_FRAGMENT_HEADER = 44
#: IPv6 extension headers skipped to reach the upper layer → their length from the length byte.
IPV6_EXTENSIONS: dict[int, Callable[[int], int]] = {
    0: lambda n: (n + 1) * 8,  # hop-by-hop options
    43: lambda n: (n + 1) * 8,  # routing
    60: lambda n: (n + 1) * 8,  # destination options
    51: lambda n: (n + 2) * 4,  # authentication header
    135: lambda n: (n + 1) * 8,  # mobility
    139: lambda n: (n + 1) * 8,  # HIP
    140: lambda n: (n + 1) * 8,  # shim6
}


@dataclass(slots=True)
class IpPacket:
    """The IP layer of a frame, as offsets into the frame's bytes.

    ``l4`` is where the upper layer (or, for a fragment, the fragment's data) starts; ``end``
    is where the packet ends by its length field, beyond ``len(data)`` when the snap length
    cut it. ``frag_id`` is -1 unless the packet is a fragment; then ``frag_offset`` (bytes)
    and ``more`` are its place in the datagram. ``src``/``dst`` are the raw 4 or 16 bytes.
    Hot-path type: not frozen, immutable by convention.
    """

    version: int
    src: bytes
    dst: bytes
    proto: int
    l4: int
    end: int
    frag_id: int = -1
    frag_offset: int = 0
    more: bool = False


def _after_ethertype(data: bytes, type_off: int, payload_off: int) -> int:
    """Offset of the IP header after an EtherType at ``type_off``, following VLAN tags."""
    if len(data) < type_off + 2:
        return NOT_IP
    ethertype = int.from_bytes(data[type_off : type_off + 2], "big")
    while ethertype in VLAN_ETHERTYPES and len(data) >= payload_off + 4:
        ethertype = int.from_bytes(data[payload_off + 2 : payload_off + 4], "big")
        payload_off += 4
    return payload_off if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6) else NOT_IP


def _loopback(data: bytes) -> int:
    """BSD loopback: a 4-byte address family, host byte order (NULL) or network order (LOOP)."""
    family = int.from_bytes(data[:4], "little")
    if family > 0xFFFF:
        family = int.from_bytes(data[:4], "big")
    return 4 if family in LOOPBACK_FAMILIES else NOT_IP


def _raw(data: bytes) -> int:
    return 0


#: link type → function giving the offset of the IP header in a frame (NOT_IP when none).
IP_OFFSET: dict[int, Callable[[bytes], int]] = {
    LinkType.ETHERNET: lambda data: _after_ethertype(data, 12, 14),
    LinkType.LINUX_SLL: lambda data: _after_ethertype(data, 14, 16),
    LinkType.LINUX_SLL2: lambda data: _after_ethertype(data, 0, 20),
    LinkType.NULL: _loopback,
    LinkType.LOOP: _loopback,
    LinkType.RAW: _raw,
    LinkType.RAW_DLT: _raw,
    LinkType.IPV4: _raw,
    LinkType.IPV6: _raw,
}


def parse_ip(data: bytes, off: int, orig_len: int) -> IpPacket | None:
    """The IP packet starting at ``data[off]``; None when its header is malformed or cut.

    ``orig_len`` (the frame's length on the wire) stands in for a zero length field, as
    segmentation offload and IPv6 jumbograms leave it.
    """
    if len(data) <= off:
        return None
    version = data[off] >> 4
    if version == 4:
        return _ipv4(data, off, orig_len)
    if version == 6:
        return _ipv6(data, off, orig_len)
    return None


def _ipv4(data: bytes, off: int, orig_len: int) -> IpPacket | None:
    if len(data) < off + 20:
        return None
    vihl, total, ident, frag, proto, src, dst = IPV4_HEADER.unpack_from(data, off)
    ihl = (vihl & 0x0F) * 4
    end = off + total if total else orig_len
    if ihl < 20 or end < off + ihl:
        return None
    if frag & 0x3FFF:  # MF set or a non-zero offset
        return IpPacket(4, src, dst, proto, off + ihl, end, ident, (frag & 0x1FFF) * 8, bool(frag & 0x2000))
    return IpPacket(4, src, dst, proto, off + ihl, end)


def _ipv6(data: bytes, off: int, orig_len: int) -> IpPacket | None:
    if len(data) < off + 40:
        return None
    plen, nh, src, dst = IPV6_HEADER.unpack_from(data, off)
    end = off + 40 + plen if plen else orig_len
    nh, pos = upper_layer(data, off + 40, nh)
    if nh != IPV6_FRAGMENT_HEADER:
        return IpPacket(6, src, dst, nh, pos, end) if pos <= end else None
    if len(data) < pos + 8:
        return None
    nh, offset_m, ident = IPV6_FRAGMENT.unpack_from(data, pos)
    if offset_m & 0xFFF9 == 0:  # atomic fragment (offset 0, no M): a whole datagram
        nh, l4 = upper_layer(data, pos + 8, nh)
        return IpPacket(6, src, dst, nh, l4, end) if l4 <= end else None
    return IpPacket(6, src, dst, nh, pos + 8, end, ident, offset_m & 0xFFF8, bool(offset_m & 1))


def upper_layer(data: bytes, pos: int, nh: int) -> tuple[int, int]:
    """Skip IPv6 extension headers from ``pos`` (next header ``nh``): (protocol, offset).

    Stops at the fragment header (returning 44 and its offset), at the upper layer, or where
    the captured bytes end (returning the header it could not skip).
    """
    while nh in IPV6_EXTENSIONS and len(data) >= pos + 2:
        nh, pos = data[pos], pos + IPV6_EXTENSIONS[nh](data[pos + 1])
    return nh, pos


@lru_cache(maxsize=65536)
def ip_text(raw: bytes) -> str:
    """The text form of a raw IPv4 (dotted quad) or IPv6 (RFC 5952 compressed) address."""
    return socket.inet_ntoa(raw) if len(raw) == 4 else str(ipaddress.IPv6Address(raw))
