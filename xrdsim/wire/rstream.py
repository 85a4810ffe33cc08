"""The r-stream (``redir``): an 8-byte server id, then 8-byte slots — REDTIME marks and
REDIRECT / REDLOCAL records followed by their ``host:path`` text slots (spec §6).

Decodes one datagram; buffer round-robin and window order are not checked here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from xrdsim.wire.codes import RedirKind, RedirOp
from xrdsim.wire.errors import (
    BadRecordError,
    EncodeError,
    TruncatedError,
    UnknownCodeError,
)
from xrdsim.wire.header import HEADER_SIZE, Header, compile_layout, encode_header
from xrdsim.wire.tstream import encode_with

CODE_R = ord("r")
SLOT_SIZE = 8
REDSID = 0xF0
_BODY = HEADER_SIZE + 8
_MASK56 = (1 << 56) - 1
_MASK24 = (1 << 24) - 1
_MAX_DENT = 0xFF




# (field, struct code) in wire order. "_" names are wire-only. The sid's top byte is REDSID;
# window_s's top byte is the REDTIME type 0x00. XRootD declares the port int16, but the bits
# are the port number (htons of the int), so it is read unsigned.
SID_FIELDS = (("sid", "Q"),)
REDTIME_FIELDS = (("window_s", "I"), ("unix_time", "i"))
REDIRECT_FIELDS = (("_type", "B"), ("_dent", "B"), ("port", "H"), ("user_id", "I"))

SID = compile_layout(SID_FIELDS)
REDTIME = compile_layout(REDTIME_FIELDS)
REDIRECT = compile_layout(REDIRECT_FIELDS)


@dataclass(slots=True)
class RedirTime:
    """REDTIME mark (8 B): ``window_s`` window size in seconds (24 bits), ``unix_time`` of the
    tick (int32). Spec §6."""

    window_s: int
    unix_time: int

    KIND: ClassVar[int] = RedirKind.REDTIME


@dataclass(slots=True)
class Redirect:
    """REDIRECT / REDLOCAL record (``XrdXrootdMonRedir``, 8 B + Dent text slots), spec §6.

    ``kind`` (high nibble), ``op`` (RedirOp, or the plain int of an unknown low nibble),
    target ``port`` (2 B), ``user_id`` (4 B, 0 without ``u``); ``host`` and ``path`` come from
    the text ``host:path`` NUL padded to whole slots (``host`` is empty for a local path).
    """

    kind: RedirKind
    op: int
    port: int
    user_id: int
    host: str
    path: str


RedirSlot = RedirTime | Redirect


@dataclass(slots=True)
class RedirPacket:
    """An ``r`` datagram (``XrdXrootdMonBurr``): ``sid`` low 56 bits of the server id and the
    slots in order, normally opened and closed by REDTIME marks (spec §6)."""

    pseq: int
    stod: int
    sid: int
    slots: list[RedirSlot]

    CODE: ClassVar[int] = CODE_R


# ---------------------------------------------------------------------------- decoding

_Buffer = bytes | bytearray | memoryview
_KINDS = {int(k): k for k in (RedirKind.REDIRECT, RedirKind.REDLOCAL)}
_OPS = {int(op): op for op in RedirOp}


def split_target(text: str) -> tuple[str, str] | None:
    """Split redirect text into (host, path) at the last ``:`` before the path's first ``/``
    (hosts may be bracketed IPv6); None when there is no ``:`` at all."""
    slash = text.find("/")
    colon = text.rfind(":", 0, slash if slash >= 0 else len(text))
    if colon < 0:
        return None
    return text[:colon], text[colon + 1 :]


def _redtime(buf: _Buffer, off: int, end: int, index: int) -> tuple[RedirSlot, int]:
    window_s, unix_time = REDTIME.unpack_from(buf, off)
    return RedirTime(window_s, unix_time), off + SLOT_SIZE


def _redirect(buf: _Buffer, off: int, end: int, index: int) -> tuple[RedirSlot, int]:
    rtype, dent, port, user_id = REDIRECT.unpack_from(buf, off)
    stop = off + SLOT_SIZE * (1 + dent)
    if stop > end:
        raise TruncatedError(
            f"REDIRECT with {dent} text slots needs {stop - off} bytes, had {end - off}",
            offset=off,
            code="r",
            path=f"r/slot[{index}]",
        )
    text = bytes(buf[off + SLOT_SIZE : stop]).rstrip(b"\x00").decode("utf-8", "surrogateescape")
    target = split_target(text)
    if target is None:
        raise BadRecordError(
            f"REDIRECT text {text!r} has no ':'", offset=off + SLOT_SIZE, code="r", path=f"r/slot[{index}].text"
        )
    op = rtype & 0x0F
    return Redirect(_KINDS[rtype & 0xF0], _OPS.get(op, op), port, user_id, *target), stop


_SlotDecoder = Callable[[_Buffer, int, int, int], tuple[RedirSlot, int]]
#: byte 0 of a slot → its decoder: 0x00 REDTIME, 0x80|op REDIRECT, 0x90|op REDLOCAL (spec §6).
SLOT_DECODERS: dict[int, _SlotDecoder] = {RedirKind.REDTIME: _redtime}
SLOT_DECODERS.update({kind | op: _redirect for kind in _KINDS for op in range(16)})


def _decode_sid(buf: _Buffer) -> int:
    end = len(buf)
    if end < _BODY:
        raise TruncatedError(
            f"r server id needs 8 bytes, had {end - HEADER_SIZE}", offset=HEADER_SIZE, code="r", path="r/sid"
        )
    if (end - _BODY) % SLOT_SIZE:
        raise BadRecordError(
            f"r slots of {end - _BODY} bytes are not a multiple of 8", offset=end, code="r", path="r/slots"
        )
    sid: int = SID.unpack_from(buf, HEADER_SIZE)[0]
    if sid >> 56 != REDSID:
        raise BadRecordError(
            f"r sid marker {sid >> 56:#04x}, not {REDSID:#04x}", offset=HEADER_SIZE, code="r", path="r/sid"
        )
    return sid & _MASK56


def decode_redir(buf: memoryview, header: Header) -> RedirPacket:
    """Decode an ``r`` datagram whose header is checked (plen == len(buf)).

    Raises TruncatedError (no sid, or text slots past the end), BadRecordError (slot area
    not a multiple of 8, wrong sid marker, text without ``:``), UnknownCodeError (slot type).
    """
    sid = _decode_sid(buf)
    end = len(buf)
    slots: list[RedirSlot] = []
    off = _BODY
    while off < end:
        decoder = SLOT_DECODERS.get(buf[off])
        if decoder is None:
            raise UnknownCodeError(
                f"unknown r slot type {buf[off]:#04x}", offset=off, code="r", path=f"r/slot[{len(slots)}]"
            )
        slot, off = decoder(buf, off, end, len(slots))
        slots.append(slot)
    return RedirPacket(header.pseq, header.stod, sid, slots)


# ---------------------------------------------------------------------------- encoding


def _encode_redtime(slot: RedirTime) -> bytes:
    if not 0 <= slot.window_s <= _MASK24:
        raise EncodeError(f"REDTIME window {slot.window_s} outside 24 bits")
    return REDTIME.pack(slot.window_s, slot.unix_time)


def _encode_redirect(slot: Redirect) -> bytes:
    if slot.kind not in _KINDS or not 0 <= slot.op <= 0x0F:
        raise EncodeError(f"redirect kind {slot.kind!r} / op {slot.op!r} not encodable")
    if split_target(f"{slot.host}:{slot.path}") != (slot.host, slot.path) or "\x00" in slot.path:
        raise EncodeError(f"redirect host {slot.host!r} / path {slot.path!r} would not split back")
    text = f"{slot.host}:{slot.path}".encode("utf-8", "surrogateescape")
    dent = (len(text) + SLOT_SIZE) // SLOT_SIZE  # room for at least one NUL, as XRootD
    if dent > _MAX_DENT:
        raise EncodeError(f"redirect text of {len(text)} bytes needs {dent} slots, max {_MAX_DENT}")
    return REDIRECT.pack(slot.kind | slot.op, dent, slot.port, slot.user_id) + text.ljust(dent * SLOT_SIZE, b"\x00")


SLOT_ENCODERS: dict[type, Callable[..., bytes]] = {RedirTime: _encode_redtime, Redirect: _encode_redirect}


def encode_slot(slot: RedirSlot) -> bytes:
    """Encode one REDTIME or REDIRECT (with its text slots); raises EncodeError."""
    return encode_with(SLOT_ENCODERS, slot, "an r-stream slot")


def encode_redir(pkt: RedirPacket) -> bytes:
    """Encode an ``r`` datagram: header, REDSID-marked server id, then the slots in order."""
    if not 0 <= pkt.sid <= _MASK56:
        raise EncodeError(f"r sid {pkt.sid} outside 56 bits")
    body = SID.pack((REDSID << 56) | pkt.sid) + b"".join(encode_slot(s) for s in pkt.slots)
    return encode_header(CODE_R, pkt.pseq, pkt.stod, len(body)) + body
