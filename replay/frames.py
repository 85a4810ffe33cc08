"""pcap and pcapng files → frames (capture time, link type, captured bytes, original length).

Owns the two container formats: classic pcap in both byte orders with µs or ns timestamps, and
pcapng sections (SHB, IDB with per-interface link type, ``if_tsresol`` and ``if_tsoffset``; EPB,
SPB and the obsolete OPB). Never looks inside a frame. The file is memory-mapped, so a capture
of any size is read in constant memory.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from os import PathLike

from replay.errors import ReplayInputError

FilePath = str | PathLike[str]
Buffer = bytes | mmap.mmap
#: (capture time in s, link type, captured bytes, original length): the hot-path form of Frame.
RawFrame = tuple[float, int, bytes, int]

PCAPNG_SHB = 0x0A0D0D0A
PCAP_HEADER_SIZE = 24
#: first four bytes → (byte order, timestamp fraction divisor) of a classic pcap file.
PCAP_MAGICS: dict[bytes, tuple[str, int]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
PCAPNG_BYTE_ORDER = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
#: magics of files people mistake for captures, for a helpful message.
KNOWN_OTHER = {b"\x1f\x8b": "gzip-compressed (gunzip it first)", b"\x28\xb5\x2f\xfd": "zstd-compressed"}


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured frame: ``ts`` seconds since the epoch, ``linktype`` (LINKTYPE_* value),
    ``data`` the captured bytes (possibly cut by the snap length), ``orig_len`` its length on
    the wire."""

    ts: float
    linktype: int
    data: bytes
    orig_len: int


def read_frames(path: FilePath) -> Iterator[Frame]:
    """Every frame of a pcap or pcapng file, in file order.

    >>> next(read_frames("monitoring.pcap")).linktype  # doctest: +SKIP
    1

    Raises ReplayInputError for an empty file, a file that is not pcap/pcapng, or a record
    cut short (the frames before it have been yielded by then).
    """
    for ts, linktype, data, orig_len in iter_raw_frames(path):
        yield Frame(ts, linktype, data, orig_len)


def iter_raw_frames(path: FilePath) -> Iterator[RawFrame]:
    """``read_frames`` as plain tuples, for the readers' hot loops."""
    with _mapped(path) as buf:
        if not buf:
            raise ReplayInputError(path, "empty file")
        magic = bytes(buf[:4])
        if magic in PCAP_MAGICS:
            yield from _pcap_records(path, buf, *PCAP_MAGICS[magic])
        elif int.from_bytes(magic, "big") == PCAPNG_SHB:
            yield from _pcapng_blocks(path, buf)
        else:
            raise ReplayInputError(path, f"not a pcap/pcapng file (magic {magic.hex()}{_guess(magic)})")


def _guess(magic: bytes) -> str:
    """What the file seems to be instead, as a parenthetical tail for the error message."""
    for prefix, what in KNOWN_OTHER.items():
        if magic.startswith(prefix):
            return f": {what}"
    return ": looks like text" if magic.isascii() and magic.decode("ascii").isprintable() else ""


@contextmanager
def _mapped(path: FilePath) -> Iterator[Buffer]:
    """The whole file as a read-only buffer: mapped when possible, read otherwise (pipes)."""
    try:
        fh = open(path, "rb")
    except OSError as exc:  # missing, a folder, no permission: the user's file, one line
        raise ReplayInputError(path, f"cannot read: {exc.strerror or exc}") from None
    with fh:
        try:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):  # empty file, or not mappable
            mm = None
        if mm is None:
            yield fh.read()
            return
        with mm:
            yield mm


def _truncated(path: FilePath, off: int, need: int, have: int) -> ReplayInputError:
    return ReplayInputError(path, f"truncated record at offset {off} (needs {need} bytes, {have} left)")


def _pcap_records(path: FilePath, buf: Buffer, endian: str, divisor: int) -> Iterator[RawFrame]:
    """Records of a classic pcap file (libpcap's savefile format)."""
    size = len(buf)
    if size < PCAP_HEADER_SIZE:
        raise _truncated(path, 0, PCAP_HEADER_SIZE, size)
    # upper bits of the link-type field carry FCS information (pcap spec §"LinkType and additional information")
    linktype = struct.unpack_from(endian + "I", buf, 20)[0] & 0xFFFF
    unpack = struct.Struct(endian + "IIII").unpack_from
    off = PCAP_HEADER_SIZE
    while off < size:
        if off + 16 > size:
            raise _truncated(path, off, 16, size - off)
        sec, frac, incl, orig = unpack(buf, off)
        end = off + 16 + incl
        if end > size:
            raise _truncated(path, off, 16 + incl, size - off)
        yield sec + frac / divisor, linktype, buf[off + 16 : end], orig
        off = end


@dataclass(slots=True)
class _Interface:
    linktype: int
    snaplen: int
    divisor: int = 1_000_000
    offset_s: int = 0


@dataclass(slots=True)
class _Section:
    """State of the current pcapng section: byte order, interfaces, last timestamp (for SPBs)."""

    path: FilePath
    endian: str = "<"
    interfaces: list[_Interface] = field(default_factory=list)
    last_ts: float = 0.0

    def interface(self, ifid: int, off: int) -> _Interface:
        if ifid >= len(self.interfaces):
            raise ReplayInputError(self.path, f"packet block at offset {off} names interface {ifid} of {len(self.interfaces)}")
        return self.interfaces[ifid]

    def stamp(self, iface: _Interface, high: int, low: int) -> float:
        self.last_ts = ((high << 32) | low) / iface.divisor + iface.offset_s
        return self.last_ts


def _pcapng_blocks(path: FilePath, buf: Buffer) -> Iterator[RawFrame]:
    """Frames of every packet block of a pcapng file (all sections)."""
    section = _Section(path)
    size, off = len(buf), 0
    while off < size:
        if off + 12 > size:
            raise _truncated(path, off, 12, size - off)
        if bytes(buf[off : off + 4]) == b"\x0a\x0d\x0d\x0a":
            section = _new_section(path, buf, off)
        btype, blen = struct.unpack_from(section.endian + "II", buf, off)
        if blen < 12 or blen % 4:
            raise ReplayInputError(path, f"bad pcapng block length {blen} at offset {off}")
        if off + blen > size:
            raise _truncated(path, off, blen, size - off)
        handler = BLOCK_HANDLERS.get(btype)
        frame = handler(section, buf, off, blen) if handler else None
        if frame is not None:
            yield frame
        off += blen


def _new_section(path: FilePath, buf: Buffer, off: int) -> _Section:
    order = bytes(buf[off + 8 : off + 12])
    if order not in PCAPNG_BYTE_ORDER:
        raise ReplayInputError(path, f"bad pcapng byte-order magic {order.hex()} at offset {off}")
    return _Section(path, PCAPNG_BYTE_ORDER[order])


def _idb(section: _Section, buf: Buffer, off: int, blen: int) -> None:
    """Interface Description Block: link type, snap length and the options that shape time."""
    linktype, _, snaplen = struct.unpack_from(section.endian + "HHI", buf, off + 8)
    iface = _Interface(linktype, snaplen)
    for code, value in _options(section.endian, buf, off + 16, off + blen - 4):
        if code == 9 and value:  # if_tsresol: 10^-n, or 2^-n when the top bit is set
            iface.divisor = 2 ** (value[0] & 0x7F) if value[0] & 0x80 else 10 ** value[0]
        elif code == 14 and len(value) == 8:  # if_tsoffset, whole seconds
            iface.offset_s = struct.unpack(section.endian + "q", value)[0]
    section.interfaces.append(iface)


def _options(endian: str, buf: Buffer, off: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(code, value) of each option until opt_endofopt or the end of the block."""
    while off + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", buf, off)
        if code == 0:
            return
        yield code, bytes(buf[off + 4 : off + 4 + length])
        off += 4 + length + (-length % 4)


def _epb(section: _Section, buf: Buffer, off: int, blen: int) -> RawFrame:
    """Enhanced Packet Block."""
    return _timed(section, buf, off, blen, struct.unpack_from(section.endian + "IIIII", buf, off + 8))


def _opb(section: _Section, buf: Buffer, off: int, blen: int) -> RawFrame:
    """Packet Block (obsolete, still written by old tools): an EPB with a 16-bit interface id
    followed by a drop count."""
    ifid, _, *rest = struct.unpack_from(section.endian + "HHIIII", buf, off + 8)
    return _timed(section, buf, off, blen, (ifid, *rest))


def _timed(section: _Section, buf: Buffer, off: int, blen: int, fields: tuple[int, ...]) -> RawFrame:
    """The frame of an EPB/OPB from its (interface, ts high, ts low, caplen, orig len)."""
    ifid, high, low, caplen, orig = fields
    iface = section.interface(ifid, off)
    caplen = min(caplen, blen - 32)
    return section.stamp(iface, high, low), iface.linktype, bytes(buf[off + 28 : off + 28 + caplen]), orig


def _spb(section: _Section, buf: Buffer, off: int, blen: int) -> RawFrame:
    """Simple Packet Block: interface 0, no timestamp (the previous block's time is used)."""
    (orig,) = struct.unpack_from(section.endian + "I", buf, off + 8)
    iface = section.interface(0, off)
    caplen = min(orig, blen - 16, iface.snaplen or orig)
    return section.last_ts, iface.linktype, bytes(buf[off + 12 : off + 12 + caplen]), orig


def _ignore(section: _Section, buf: Buffer, off: int, blen: int) -> None:
    """SHB body (already handled by ``_new_section``)."""


BlockHandler = Callable[[_Section, Buffer, int, int], RawFrame | None]
#: pcapng block type → handler; other blocks (name resolution, statistics, custom) are skipped.
BLOCK_HANDLERS: dict[int, BlockHandler] = {PCAPNG_SHB: _ignore, 1: _idb, 2: _opb, 3: _spb, 6: _epb}
