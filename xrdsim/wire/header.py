"""The 8-byte ``XrdXrootdMonHeader`` every binary packet starts with (spec §2.1)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from xrdsim.wire.errors import EncodeError, LengthMismatchError, TruncatedError

#: A layout: (field name, struct code) pairs in wire order, declared once beside its type.
Layout = tuple[tuple[str, str], ...]


def compile_layout(*layouts: Layout) -> struct.Struct:
    """One big-endian ``struct.Struct`` for the layouts laid end to end."""
    return struct.Struct("!" + "".join(code for layout in layouts for _, code in layout))


HEADER_FIELDS: Layout = (("code", "B"), ("pseq", "B"), ("plen", "H"), ("stod", "i"))
HEADER = compile_layout(HEADER_FIELDS)
HEADER_SIZE = HEADER.size  # 8
MAX_PLEN = 0xFFFF


@dataclass(slots=True)
class Header:
    """``XrdXrootdMonHeader``: code (1 B), pseq (1 B), plen (2 B, whole datagram), stod (4 B)."""

    code: int
    pseq: int
    plen: int
    stod: int


def decode_header(buf: bytes | memoryview) -> Header:
    """Read the header of ``buf`` and check ``plen`` against the datagram length.

    Raises TruncatedError below 8 bytes, LengthMismatchError when plen != len(buf).
    """
    if len(buf) < HEADER_SIZE:
        raise TruncatedError(
            f"header needs {HEADER_SIZE} bytes, had {len(buf)}",
            offset=0,
            code=chr(buf[0]) if len(buf) else "",
            path="header",
        )
    code, pseq, plen, stod = HEADER.unpack_from(buf, 0)
    if plen != len(buf):
        raise LengthMismatchError(
            f"plen {plen} but datagram has {len(buf)} bytes", offset=2, code=chr(code), path="header.plen"
        )
    return Header(code, pseq, plen, stod)


def encode_header(code: int, pseq: int, stod: int, body_len: int) -> bytes:
    """Pack a header for a body of ``body_len`` bytes (plen counts the header too)."""
    plen = HEADER_SIZE + body_len
    if plen > MAX_PLEN:
        raise EncodeError(f"packet of {plen} bytes exceeds plen's 65535")
    if not 0 <= pseq <= 0xFF:
        raise EncodeError(f"pseq {pseq} outside 0..255")
    if not -(2**31) <= stod < 2**31:
        raise EncodeError(f"stod {stod} outside int32")
    return HEADER.pack(code, pseq, plen, stod)
