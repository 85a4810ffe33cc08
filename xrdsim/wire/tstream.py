"""The t-stream (``files``/``io``/``iov``): 16-byte ``XrdXrootdMonTrace`` entries (spec §5).

Byte 0 of an entry picks its kind through a table: below 0x80 it is the top byte of an I/O
record's offset, otherwise a marker (§5.2). Decodes what it is given; window order, buffer
rules and the first/last WINDOW convention are the emitter's and the collector's business.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from xrdsim.wire.codes import DiscFlag, TraceMarker
from xrdsim.wire.errors import (
    BadRecordError,
    EncodeError,
    TruncatedError,
    UnknownCodeError,
)
from xrdsim.wire.header import HEADER_SIZE, Header, compile_layout, encode_header

CODE_T = ord("t")
ENTRY_SIZE = 16
_MASK56 = (1 << 56) - 1
_NO_RESERVED = bytes(4)




# (field, struct code) in wire order, one table per entry kind. Names starting with "_" are
# wire-only (marker byte, zero padding); a "Q" field of a marker entry carries the marker in
# its top byte and a 56-bit value below it (OPEN fsz, WINDOW sid).
IO_FIELDS = (("offset", "q"), ("length", "i"), ("file_id", "I"))
OPEN_FIELDS = (("fsz", "Q"), ("_buflen", "I"), ("file_id", "I"))
READV_FIELDS = (("kind", "B"), ("seq", "B"), ("nsegs", "H"), ("_zero", "I"), ("total", "i"), ("file_id", "I"))
APPID_FIELDS = (("_marker", "B"), ("_unused", "3s"), ("text", "12s"))
CLOSE_FIELDS = (
    ("_marker", "B"),
    ("rshift", "B"),
    ("wshift", "B"),
    ("_zero", "B"),
    ("read_value", "I"),
    ("write_value", "I"),
    ("file_id", "I"),
)
DISC_FIELDS = (("_marker", "B"), ("flags", "B"), ("_zero", "H"), ("reserved", "4s"), ("seconds", "i"), ("user_id", "I"))
WINDOW_FIELDS = (("sid", "Q"), ("prev_end", "i"), ("next_start", "i"))

IO = compile_layout(IO_FIELDS)
OPEN = compile_layout(OPEN_FIELDS)
READV = compile_layout(READV_FIELDS)
APPID = compile_layout(APPID_FIELDS)
CLOSE = compile_layout(CLOSE_FIELDS)
DISC = compile_layout(DISC_FIELDS)
WINDOW = compile_layout(WINDOW_FIELDS)


@dataclass(slots=True)
class TraceIO:
    """READ/WRITE entry (16 B): ``offset`` int64 (8), ``length`` int32 (4; > 0 read, < 0 write
    of ``-length`` bytes, as requested), ``file_id`` dictid (4). Spec §5.2."""

    offset: int
    length: int
    file_id: int

    @property
    def is_write(self) -> bool:
        """True for a write (negative length)."""
        return self.length < 0

    @property
    def nbytes(self) -> int:
        """Bytes requested, whatever the direction."""
        return -self.length if self.length < 0 else self.length


@dataclass(slots=True)
class TraceOpen:
    """OPEN entry (0x80): ``fsz`` file size at open (56 bits), ``file_id`` dictid. Spec §5.2."""

    fsz: int
    file_id: int

    MARKER: ClassVar[int] = TraceMarker.OPEN


@dataclass(slots=True)
class TraceReadv:
    """READV (0x90) / READU (0x91, followed by one READ per segment) entry: ``kind``, readv
    ``seq`` (uint8, per session), ``nsegs`` (uint16), ``total`` bytes (int32), ``file_id``."""

    kind: TraceMarker
    seq: int
    nsegs: int
    total: int
    file_id: int


@dataclass(slots=True)
class TraceAppid:
    """APPID entry (0xA0): up to 12 bytes of text, NUL padded. XRootD never commits one
    (spec §5.2), so a simulator must not emit it; decoders accept it."""

    text: str

    MARKER: ClassVar[int] = TraceMarker.APPID


@dataclass(slots=True)
class TraceClose:
    """CLOSE entry (0xC0): byte totals shifted right until they fit 32 bits (spec §5.2).

    ``rshift``/``wshift`` (1 B each), ``read_value`` (read + readv bytes >> rshift, 4 B),
    ``write_value`` (4 B), ``file_id`` (4 B).
    """

    rshift: int
    wshift: int
    read_value: int
    write_value: int
    file_id: int

    MARKER: ClassVar[int] = TraceMarker.CLOSE

    @property
    def read_bytes(self) -> int:
        """Read + readv bytes, exact up to the low ``rshift`` bits."""
        return self.read_value << self.rshift

    @property
    def write_bytes(self) -> int:
        """Written bytes, exact up to the low ``wshift`` bits."""
        return self.write_value << self.wshift


@dataclass(slots=True)
class TraceDisc:
    """DISC entry (0xD0): ``flags`` (DiscFlag), session ``seconds`` (int32), ``user_id``
    (the ``u`` dictid); ``reserved`` = bytes 4-7, never written by XRootD (spec §12), kept
    as sent so that encoding gives the same bytes back."""

    flags: int
    seconds: int
    user_id: int
    reserved: bytes = _NO_RESERVED

    MARKER: ClassVar[int] = TraceMarker.DISC


@dataclass(slots=True)
class TraceWindow:
    """WINDOW mark (0xE0): ``sid`` low 56 bits of the server id, ``prev_end`` end of the
    previous window and ``next_start`` start of the next one (int32 each). Spec §5.3."""

    sid: int
    prev_end: int
    next_start: int

    MARKER: ClassVar[int] = TraceMarker.WINDOW


TraceEntry = TraceIO | TraceOpen | TraceReadv | TraceAppid | TraceClose | TraceDisc | TraceWindow


@dataclass(slots=True)
class TracePacket:
    """A ``t`` datagram: header then entries, normally framed by WINDOW marks (spec §5.1)."""

    pseq: int
    stod: int
    entries: list[TraceEntry]

    CODE: ClassVar[int] = CODE_T


# ---------------------------------------------------------------------------- decoding

_Buffer = bytes | bytearray | memoryview
_READV_KINDS = {int(TraceMarker.READV): TraceMarker.READV, int(TraceMarker.READU): TraceMarker.READU}


def _io(buf: _Buffer, off: int) -> TraceEntry:
    return TraceIO(*IO.unpack_from(buf, off))


def _open(buf: _Buffer, off: int) -> TraceEntry:
    fsz, _, file_id = OPEN.unpack_from(buf, off)
    return TraceOpen(fsz & _MASK56, file_id)


def _readv(buf: _Buffer, off: int) -> TraceEntry:
    kind, seq, nsegs, _, total, file_id = READV.unpack_from(buf, off)
    return TraceReadv(_READV_KINDS[kind], seq, nsegs, total, file_id)


def _appid(buf: _Buffer, off: int) -> TraceEntry:
    text = APPID.unpack_from(buf, off)[2].rstrip(b"\x00")
    return TraceAppid(text.decode("utf-8", "surrogateescape"))


def _close(buf: _Buffer, off: int) -> TraceEntry:
    _, rshift, wshift, _, read_value, write_value, file_id = CLOSE.unpack_from(buf, off)
    return TraceClose(rshift, wshift, read_value, write_value, file_id)


def _disc(buf: _Buffer, off: int) -> TraceEntry:
    _, flags, _, reserved, seconds, user_id = DISC.unpack_from(buf, off)
    return TraceDisc(DiscFlag(flags), seconds, user_id, reserved)


def _window(buf: _Buffer, off: int) -> TraceEntry:
    sid, prev_end, next_start = WINDOW.unpack_from(buf, off)
    return TraceWindow(sid & _MASK56, prev_end, next_start)


#: byte 0 of an entry → its decoder (spec §5.2): 0x00-0x7F are I/O offsets.
ENTRY_DECODERS: dict[int, Callable[[_Buffer, int], TraceEntry]] = {byte: _io for byte in range(0x80)}
ENTRY_DECODERS.update(
    {
        TraceMarker.OPEN: _open,
        TraceMarker.READV: _readv,
        TraceMarker.READU: _readv,
        TraceMarker.APPID: _appid,
        TraceMarker.CLOSE: _close,
        TraceMarker.DISC: _disc,
        TraceMarker.WINDOW: _window,
    }
)


def _unknown(buf: _Buffer, off: int, index: int) -> UnknownCodeError:
    return UnknownCodeError(f"unknown t entry marker {buf[off]:#04x}", offset=off, code="t", path=f"t/entry[{index}]")


def decode_entry(buf: _Buffer, off: int = 0, index: int = 0) -> tuple[TraceEntry, int]:
    """Decode the 16-byte entry at ``off``; return it and the offset after it.

    ``index`` only names the entry in errors. Raises TruncatedError when fewer than 16
    bytes remain, UnknownCodeError for a marker byte XRootD does not define.
    """
    if len(buf) - off < ENTRY_SIZE:
        raise TruncatedError(
            f"t entry needs {ENTRY_SIZE} bytes, had {len(buf) - off}", offset=off, code="t", path=f"t/entry[{index}]"
        )
    decoder = ENTRY_DECODERS.get(buf[off])
    if decoder is None:
        raise _unknown(buf, off, index)
    return decoder(buf, off), off + ENTRY_SIZE


def decode_trace(buf: memoryview, header: Header) -> TracePacket:
    """Decode a ``t`` datagram whose header is checked (plen == len(buf)).

    Raises BadRecordError when the body is not a whole number of 16-byte entries and
    UnknownCodeError (with the entry index) for an unknown marker.
    """
    end = len(buf)
    partial = (end - HEADER_SIZE) % ENTRY_SIZE
    if partial:
        raise BadRecordError(
            f"t body of {end - HEADER_SIZE} bytes is not a multiple of {ENTRY_SIZE}",
            offset=end - partial,
            code="t",
            path=f"t/entry[{(end - HEADER_SIZE) // ENTRY_SIZE}]",
        )
    data = bytes(buf)  # one copy: indexing and unpacking bytes beat a memoryview per entry
    decoders = ENTRY_DECODERS
    try:
        entries = [decoders[data[off]](data, off) for off in range(HEADER_SIZE, end, ENTRY_SIZE)]
    except KeyError:
        off = next(o for o in range(HEADER_SIZE, end, ENTRY_SIZE) if data[o] not in decoders)
        raise _unknown(data, off, (off - HEADER_SIZE) // ENTRY_SIZE) from None
    return TracePacket(header.pseq, header.stod, entries)


# ---------------------------------------------------------------------------- encoding


def _marked(marker: int, value: int, name: str) -> int:
    if not 0 <= value <= _MASK56:
        raise EncodeError(f"{name} {value} outside 56 bits")
    return (marker << 56) | value


def _encode_io(e: TraceIO) -> bytes:
    if e.offset < 0:
        raise EncodeError(f"I/O offset {e.offset} is negative: byte 0 would read as a marker")
    return IO.pack(e.offset, e.length, e.file_id)


def _encode_open(e: TraceOpen) -> bytes:
    return OPEN.pack(_marked(TraceMarker.OPEN, e.fsz, "OPEN fsz"), 0, e.file_id)


def _encode_readv(e: TraceReadv) -> bytes:
    if e.kind not in _READV_KINDS:
        raise EncodeError(f"readv kind {e.kind!r} is neither READV nor READU")
    return READV.pack(e.kind, e.seq, e.nsegs, 0, e.total, e.file_id)


def _encode_appid(e: TraceAppid) -> bytes:
    text = e.text.encode("utf-8", "surrogateescape")
    if len(text) > 12 or text.endswith(b"\x00"):
        raise EncodeError(f"APPID text {e.text!r} longer than 12 bytes or NUL-terminated")
    return APPID.pack(TraceMarker.APPID, b"", text)


def _encode_close(e: TraceClose) -> bytes:
    return CLOSE.pack(TraceMarker.CLOSE, e.rshift, e.wshift, 0, e.read_value, e.write_value, e.file_id)


def _encode_disc(e: TraceDisc) -> bytes:
    if len(e.reserved) != 4:
        raise EncodeError(f"DISC reserved must be 4 bytes, got {len(e.reserved)}")
    return DISC.pack(TraceMarker.DISC, e.flags, 0, e.reserved, e.seconds, e.user_id)


def _encode_window(e: TraceWindow) -> bytes:
    return WINDOW.pack(_marked(TraceMarker.WINDOW, e.sid, "WINDOW sid"), e.prev_end, e.next_start)


ENTRY_ENCODERS: dict[type, Callable[..., bytes]] = {
    TraceIO: _encode_io,
    TraceOpen: _encode_open,
    TraceReadv: _encode_readv,
    TraceAppid: _encode_appid,
    TraceClose: _encode_close,
    TraceDisc: _encode_disc,
    TraceWindow: _encode_window,
}


def encode_with(encoders: dict[type, Callable[..., bytes]], value: object, what: str) -> bytes:
    """Encode ``value`` with the encoder its type maps to (also used by the r-stream);
    an unknown type, an out-of-range field or unencodable text raises EncodeError."""
    encoder = encoders.get(type(value))
    if encoder is None:
        raise EncodeError(f"{type(value).__name__} is not {what}")
    try:
        return encoder(value)
    except (struct.error, TypeError, UnicodeEncodeError) as exc:
        raise EncodeError(f"{type(value).__name__}: {exc}") from None


def encode_entry(entry: TraceEntry) -> bytes:
    """Encode one 16-byte trace entry; raises EncodeError for out-of-range values."""
    return encode_with(ENTRY_ENCODERS, entry, "a t-stream entry")


def encode_trace(pkt: TracePacket) -> bytes:
    """Encode a ``t`` datagram: header, then every entry in order (no marks are added)."""
    body = b"".join(encode_entry(e) for e in pkt.entries)
    return encode_header(CODE_T, pkt.pseq, pkt.stod, len(body)) + body


def _shift(total: int, name: str) -> tuple[int, int]:
    if not 0 <= total < 1 << 63:
        raise EncodeError(f"CLOSE {name} bytes {total} outside 0..2**63-1")
    shift = max(0, total.bit_length() - 32)
    return shift, total >> shift


def encode_trace_close(file_id: int, read_bytes: int, write_bytes: int) -> TraceClose:
    """The CLOSE entry XRootD writes for these totals: each is shifted right until it fits
    in 32 bits (``XrdXrootdMonitor::do_Shift``, spec §5.2), losing its low bits."""
    rshift, read_value = _shift(read_bytes, "read")
    wshift, write_value = _shift(write_bytes, "write")
    return TraceClose(rshift, wshift, read_value, write_value, file_id)
