"""The f-stream (``fstat``): one TOD then OPEN / CLOSE / XFR / DISC records (spec §4).

Every record starts with ``XrdXrootdMonFileHdr`` (recType, recFlag, recSize, id) and is
walked by its ``recSize``; OPEN records are 4-byte multiples, so 64-bit fields may be
misaligned and everything is read by offset. Each layout is declared once as a field table
and compiled into one ``struct.Struct``; decoding is one ``unpack_from`` per record.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable, ClassVar, NamedTuple, Union

from xrdsim.wire.codes import CloseFlag, OpenFlag, RecType, TimeFlag
from xrdsim.wire.errors import BadRecordError, EncodeError, TruncatedError, UnknownCodeError
from xrdsim.wire.header import HEADER_FIELDS, HEADER_SIZE, Header, compile_layout, encode_header

CODE_F = ord("f")




#: ``XrdXrootdMonFileHdr`` (spec §4.2); ``id`` is fileID / userID, or two int16 for a TOD.
FILE_HDR_FIELDS = (("rec_type", "B"), ("rec_flag", "B"), ("rec_size", "h"), ("id", "I"))
TOD_HDR_FIELDS = (("rec_type", "B"), ("rec_flag", "B"), ("rec_size", "h"), ("n_xfr", "h"), ("n_recs", "h"))
TOD_FIELDS = (("t_beg", "i"), ("t_end", "i"))
SID_FIELDS = (("sid", "Q"),)
XFR_FIELDS = (("read", "q"), ("readv", "q"), ("write", "q"))
OPS_FIELDS = (
    ("read", "i"),
    ("readv", "i"),
    ("write", "i"),
    ("rs_min", "h"),
    ("rs_max", "h"),
    ("rsegs", "q"),
    ("rd_min", "i"),
    ("rd_max", "i"),
    ("rv_min", "i"),
    ("rv_max", "i"),
    ("wr_min", "i"),
    ("wr_max", "i"),
)
SSQ_FIELDS = (("read", "d"), ("readv", "d"), ("rsegcnt", "d"), ("write", "d"))
OPEN_FIELDS = (("fsz", "q"),)
OPEN_USER_FIELDS = (("user", "I"),)

FILE_HDR = compile_layout(FILE_HDR_FIELDS)  # recSize signed: a size past 0x7FFF reads below 8
TOD16 = compile_layout(TOD_HDR_FIELDS, TOD_FIELDS)
TOD24 = compile_layout(TOD_HDR_FIELDS, TOD_FIELDS, SID_FIELDS)
OPEN_NOLFN = compile_layout(FILE_HDR_FIELDS, OPEN_FIELDS)
OPEN_LFN = compile_layout(FILE_HDR_FIELDS, OPEN_FIELDS, OPEN_USER_FIELDS)
HEAD_TOD24 = compile_layout(HEADER_FIELDS, TOD_HDR_FIELDS, TOD_FIELDS, SID_FIELDS)  # header + the usual TOD
CLOSE32 = compile_layout(FILE_HDR_FIELDS, XFR_FIELDS)
CLOSE80 = compile_layout(FILE_HDR_FIELDS, XFR_FIELDS, OPS_FIELDS)
CLOSE112 = compile_layout(FILE_HDR_FIELDS, XFR_FIELDS, OPS_FIELDS, SSQ_FIELDS)
XFR = compile_layout(FILE_HDR_FIELDS, XFR_FIELDS)
OPS = compile_layout(OPS_FIELDS)
SSQ = compile_layout(SSQ_FIELDS)
_SID_MASK = (1 << 48) - 1
_new_tuple = tuple.__new__  # skips NamedTuple._make's method call on the hot path
# Plain ints for the hot path: ``int & IntFlag`` builds a new flag object through Python
# code and costs more than the whole record's unpack.
_CLOSE, _OPEN, _XFR, _DISC = (int(t) for t in (RecType.IS_CLOSE, RecType.IS_OPEN, RecType.IS_XFR, RecType.IS_DISC))
_FORCED, _HAS_OPS, _HAS_SSQ = int(CloseFlag.FORCED), int(CloseFlag.HAS_OPS), int(CloseFlag.HAS_SSQ)
_OPS_SSQ = _HAS_OPS | _HAS_SSQ
_HAS_LFN, _HAS_RW, _HAS_SID = int(OpenFlag.HAS_LFN), int(OpenFlag.HAS_RW), int(TimeFlag.HAS_SID)


class FileOps(NamedTuple):
    """``XrdXrootdMonStatOPS`` (48 B): op counts and min/max sizes (spec §4.5).

    Min/max are 0 when the matching count is 0; rs_min/rs_max are int16 and saturate.
    """

    read: int
    readv: int
    write: int
    rs_min: int
    rs_max: int
    rsegs: int
    rd_min: int
    rd_max: int
    rv_min: int
    rv_max: int
    wr_min: int
    wr_max: int


class FileSSQ(NamedTuple):
    """``XrdXrootdMonStatSSQ`` (32 B): sums of squares as big-endian doubles (spec §4.5)."""

    read: float
    readv: float
    rsegcnt: float
    write: float


@dataclass(slots=True)
class FileTOD:
    """``XrdXrootdMonFileTOD`` (24 B; 16 B before 4.4): counts, tBeg, tEnd, sID (spec §4.3).

    ``n_xfr`` counts XFR records, ``n_recs`` all records after the TOD; ``sid`` is None
    for the old 16-byte form (hasSID clear).
    """

    n_xfr: int
    n_recs: int
    t_beg: int
    t_end: int
    sid: int | None = None


@dataclass(slots=True)
class FileOpen:
    """``XrdXrootdMonFileOPN`` (spec §4.4): file dictid, size at open, opened for update,
    and — only with ``lfn`` — the user dictid (0 when ``user`` monitoring is off) and path.

    ``padded`` False is the dCache plugin's OPEN: recSize 20 + len(lfn), no NULs after it.
    """

    file_id: int
    fsz: int
    rw: bool = False
    user: int | None = None
    lfn: str | None = None
    padded: bool = True

    REC_TYPE: ClassVar[int] = RecType.IS_OPEN


@dataclass(slots=True)
class FileClose:
    """``XrdXrootdMonFileCLS`` — 32, 80 (ops) or 112 (ops + ssq) bytes (spec §4.5).

    ``read``/``readv``/``write`` are the byte totals; ``forced`` means closed by disconnect.
    """

    file_id: int
    read: int
    readv: int
    write: int
    forced: bool = False
    ops: FileOps | None = None
    ssq: FileSSQ | None = None

    REC_TYPE: ClassVar[int] = RecType.IS_CLOSE


@dataclass(slots=True)
class FileXfr:
    """``XrdXrootdMonFileXFR`` (32 B): cumulative bytes so far of an open file (spec §4.6)."""

    file_id: int
    read: int
    readv: int
    write: int

    REC_TYPE: ClassVar[int] = RecType.IS_XFR


@dataclass(slots=True)
class FileDisc:
    """``XrdXrootdMonFileDSC`` (8 B): a session ended; ``user`` dictid, 0 without ``user``."""

    user: int

    REC_TYPE: ClassVar[int] = RecType.IS_DISC


FileRecord = Union[FileOpen, FileClose, FileXfr, FileDisc]


@dataclass(slots=True)
class FstreamPacket:
    """An ``f`` datagram: header, one TOD, then records in the order the server buffered them."""

    pseq: int
    stod: int
    tod: FileTOD
    records: list[FileRecord]

    CODE: ClassVar[int] = CODE_F


# ---------------------------------------------------------------------------- decoding


def _bad(reason: str, off: int, index: int, kind: str, exc: type = BadRecordError) -> Exception:
    return exc(reason, offset=off, code="f", path=f"f/{kind}[{index}]")


def _decode_open(buf: bytes, off: int, flag: int, size: int, index: int) -> FileOpen:
    if not flag & _HAS_LFN:
        if size < 16:
            raise _bad(f"OPEN recSize {size} < 16", off, index, "OPEN")
        _, _, _, fid, fsz = OPEN_NOLFN.unpack_from(buf, off)
        return FileOpen(fid, fsz, bool(flag & _HAS_RW))
    if size < 20:
        raise _bad(f"OPEN with LFN recSize {size} < 20", off, index, "OPEN")
    _, _, _, fid, fsz, user = OPEN_LFN.unpack_from(buf, off)
    raw = buf[off + 20 : off + size]
    nul = raw.find(b"\x00")
    path = raw if nul < 0 else raw[:nul]
    lfn = path.decode("utf-8", "surrogateescape")
    return FileOpen(fid, fsz, bool(flag & _HAS_RW), user, lfn, size == open_rec_size(len(path)))


def _decode_close(buf: bytes, off: int, flag: int, size: int, index: int) -> FileClose:
    forced = bool(flag & _FORCED)
    if flag & _HAS_SSQ:
        if size != 112 or not flag & _HAS_OPS:
            raise _bad(f"CLOSE with SSQ must be 112 bytes with OPS, got {size} flag {flag:#x}", off, index, "CLOSE")
        v = CLOSE112.unpack_from(buf, off)
        return FileClose(v[3], v[4], v[5], v[6], forced, _new_tuple(FileOps, v[7:19]), _new_tuple(FileSSQ, v[19:23]))
    if flag & _HAS_OPS:
        if size != 80:
            raise _bad(f"CLOSE with OPS must be 80 bytes, got {size}", off, index, "CLOSE")
        v = CLOSE80.unpack_from(buf, off)
        return FileClose(v[3], v[4], v[5], v[6], forced, _new_tuple(FileOps, v[7:19]))
    if size != 32:
        raise _bad(f"CLOSE without OPS must be 32 bytes, got {size}", off, index, "CLOSE")
    _, _, _, fid, rd, rv, wr = CLOSE32.unpack_from(buf, off)
    return FileClose(fid, rd, rv, wr, forced)


def _decode_tod(buf: bytes) -> tuple[FileTOD, int]:
    n = len(buf)
    if n < HEADER_SIZE + 16:
        raise TruncatedError(f"TOD needs 16 bytes, had {n - HEADER_SIZE}", offset=HEADER_SIZE, code="f", path="f/TOD")
    rtype, flag, size, n_xfr, n_recs, t_beg, t_end = TOD16.unpack_from(buf, HEADER_SIZE)
    if rtype != 2:
        raise BadRecordError(f"first record has type {rtype}, not TOD", offset=HEADER_SIZE, code="f", path="f/TOD")
    if size == 16 and not flag & _HAS_SID:
        return FileTOD(n_xfr, n_recs, t_beg, t_end), HEADER_SIZE + 16
    if size != 24 or not flag & _HAS_SID:
        raise BadRecordError(f"TOD recSize {size} flag {flag:#x}", offset=HEADER_SIZE, code="f", path="f/TOD")
    if n < HEADER_SIZE + 24:
        raise TruncatedError(f"TOD needs 24 bytes, had {n - HEADER_SIZE}", offset=HEADER_SIZE, code="f", path="f/TOD")
    sid = TOD24.unpack_from(buf, HEADER_SIZE)[7]
    return FileTOD(n_xfr, n_recs, t_beg, t_end, sid), HEADER_SIZE + 24




def decode_fstream(data: memoryview | bytes, header: Header) -> FstreamPacket:
    """Decode an ``f`` datagram whose header has been checked (plen == len(data)).

    Every record's size is checked against its type and flags, and the TOD's count against
    the records. Raises TruncatedError, BadRecordError or UnknownCodeError with the index.
    """
    buf = bytes(data)
    tod, off = _decode_tod(buf)
    return FstreamPacket(header.pseq, header.stod, tod, _decode_records(buf, off, tod.n_recs))


def decode_common_f(buf: bytes) -> FstreamPacket | None:
    """The datagram XRootD sends (plen right, a 24-byte TOD with its sID) in one unpack of
    header and TOD; None for anything else, which ``decode_fstream`` then decodes or rejects
    (so every error stays the general path's). Half the cost of a small packet is fixed."""
    if len(buf) < 32:
        return None
    code, pseq, plen, stod, rtype, flag, size, n_xfr, n_recs, t_beg, t_end, sid = HEAD_TOD24.unpack_from(buf)
    if plen != len(buf) or rtype != 2 or size != 24 or not flag & _HAS_SID:
        return None
    return FstreamPacket(pseq, stod, FileTOD(n_xfr, n_recs, t_beg, t_end, sid), _decode_records(buf, 32, n_recs))


def _decode_records(buf: bytes, off: int, n_recs: int) -> list[FileRecord]:
    end = len(buf)
    records: list[FileRecord] = []
    append = records.append
    # The loop is inlined by record type rather than dispatched through a table: a call
    # per record halves the rate (measured 0.4 vs 1.0 M records/s, bench/decode.py).
    while off < end:
        if off + 8 > end:
            raise TruncatedError(f"record header needs 8 bytes, had {end - off}", offset=off, code="f", path=f"f/rec[{len(records)}]")
        rtype, flag, size, rid = FILE_HDR.unpack_from(buf, off)  # one call for the four fields, the id included
        if size < 8 or size > 0x7FFF:
            raise _bad(f"recSize {size - 0x10000 if size > 0x7FFF else size} below 8", off, len(records), "rec")
        if off + size > end:
            raise _bad(f"recSize {size} with {end - off} bytes left", off, len(records), "rec", TruncatedError)
        if rtype == _CLOSE:
            kind = flag & _OPS_SSQ
            if kind == _OPS_SSQ and size == 112:  # the common cases first (forced or not): ops + ssq, ops alone
                v = CLOSE112.unpack_from(buf, off)
                append(FileClose(rid, v[4], v[5], v[6], flag & _FORCED != 0, _new_tuple(FileOps, v[7:19]), _new_tuple(FileSSQ, v[19:23])))
            elif kind == _HAS_OPS and size == 80:
                v = CLOSE80.unpack_from(buf, off)
                append(FileClose(rid, v[4], v[5], v[6], flag & _FORCED != 0, _new_tuple(FileOps, v[7:19])))
            else:
                append(_decode_close(buf, off, flag, size, len(records)))
        elif rtype == _OPEN:
            if flag & _HAS_LFN and size >= 20:
                _, _, _, fid, fsz, user = OPEN_LFN.unpack_from(buf, off)
                nul = buf.find(0, off + 20, off + size)
                path = buf[off + 20 : off + size if nul < 0 else nul]
                padded = size == (28 + len(path)) & ~3  # open_rec_size, inlined
                append(FileOpen(fid, fsz, flag & _HAS_RW != 0, user, path.decode("utf-8", "surrogateescape"), padded))
            else:
                append(_decode_open(buf, off, flag, size, len(records)))
        elif rtype == _XFR:
            if size != 32:
                raise _bad(f"XFR must be 32 bytes, got {size}", off, len(records), "XFR")
            _, _, _, fid, rd, rv, wr = XFR.unpack_from(buf, off)
            append(FileXfr(fid, rd, rv, wr))
        elif rtype == _DISC:
            if size != 8:
                raise _bad(f"DISC must be 8 bytes, got {size}", off, len(records), "DISC")
            append(FileDisc(rid))
        else:
            raise _bad(f"unknown recType {rtype}", off, len(records), "rec", UnknownCodeError)
        off += size
    if len(records) != n_recs:
        # XRootD always counts right (spec §4.3); a mismatch means records were cut or added.
        raise BadRecordError(f"TOD counts {n_recs} records, packet holds {len(records)}", offset=HEADER_SIZE, code="f", path="f/TOD.n_recs")
    return records


# ---------------------------------------------------------------------------- encoding


def open_rec_size(lfn_bytes: int) -> int:
    """recSize of an OPEN with an LFN of ``lfn_bytes``: 5–8 NULs of padding (spec §4.4)."""
    return (20 + lfn_bytes + 8) & ~3


def _open_size(path: bytes, padded: bool) -> int:
    return open_rec_size(len(path)) if padded else 20 + len(path)


def _encode_open(rec: FileOpen) -> bytes:
    flag = _HAS_RW if rec.rw else 0
    if rec.lfn is None:
        return OPEN_NOLFN.pack(_OPEN, flag, 16, rec.file_id, rec.fsz)
    path = rec.lfn.encode("utf-8", "surrogateescape")
    if b"\x00" in path or (not rec.padded and not path):
        raise EncodeError("OPEN lfn holds a NUL" if path else "an unpadded OPEN needs an lfn")
    size = _open_size(path, rec.padded)
    head = OPEN_LFN.pack(_OPEN, flag | _HAS_LFN, size, rec.file_id, rec.fsz, rec.user or 0)
    return head + path + bytes(size - 20 - len(path))


def _encode_close(rec: FileClose) -> bytes:
    flag = _FORCED if rec.forced else 0
    xfr = (rec.file_id, rec.read, rec.readv, rec.write)
    if rec.ssq is not None:
        if rec.ops is None:
            raise EncodeError("CLOSE with SSQ needs OPS (spec §4.5)")
        return CLOSE112.pack(_CLOSE, flag | _HAS_OPS | _HAS_SSQ, 112, *xfr, *rec.ops, *rec.ssq)
    if rec.ops is not None:
        return CLOSE80.pack(_CLOSE, flag | _HAS_OPS, 80, *xfr, *rec.ops)
    return CLOSE32.pack(_CLOSE, flag, 32, *xfr)


def _encode_xfr(rec: FileXfr) -> bytes:
    return XFR.pack(_XFR, 0, 32, rec.file_id, rec.read, rec.readv, rec.write)


def _encode_disc(rec: FileDisc) -> bytes:
    return FILE_HDR.pack(_DISC, 0, 8, rec.user)


RECORD_ENCODERS: dict[type, Callable[..., bytes]] = {
    FileOpen: _encode_open,
    FileClose: _encode_close,
    FileXfr: _encode_xfr,
    FileDisc: _encode_disc,
}


def encode_record(rec: FileRecord) -> bytes:
    """Encode one f-stream record (not the TOD); raises EncodeError for bad values."""
    try:
        return RECORD_ENCODERS[type(rec)](rec)
    except KeyError:
        raise EncodeError(f"{type(rec).__name__} is not an f-stream record") from None
    except (struct.error, TypeError, UnicodeEncodeError) as exc:
        raise EncodeError(f"{type(rec).__name__}: {exc}") from None


def record_size(rec: FileRecord) -> int:
    """The recSize ``rec`` will have on the wire (used by emitters to fill a buffer)."""
    if type(rec) is FileOpen:
        return 16 if rec.lfn is None else _open_size(rec.lfn.encode("utf-8", "surrogateescape"), rec.padded)
    if type(rec) is FileClose:
        return 112 if rec.ssq is not None else 80 if rec.ops is not None else 32
    return 32 if type(rec) is FileXfr else 8


def encode_tod(tod: FileTOD) -> bytes:
    """Encode a TOD: 24 bytes with hasSID, or the pre-4.4 16 bytes when ``sid`` is None."""
    try:
        if tod.sid is None:
            return TOD16.pack(RecType.IS_TIME, 0, 16, tod.n_xfr, tod.n_recs, tod.t_beg, tod.t_end)
        return TOD24.pack(RecType.IS_TIME, TimeFlag.HAS_SID, 24, tod.n_xfr, tod.n_recs, tod.t_beg, tod.t_end, tod.sid)
    except struct.error as exc:
        raise EncodeError(f"TOD: {exc}") from None


def encode_fstream(pkt: FstreamPacket) -> bytes:
    """Encode an ``f`` datagram: header, the TOD as given, then each record."""
    body = encode_tod(pkt.tod) + b"".join(encode_record(r) for r in pkt.records)
    return encode_header(CODE_F, pkt.pseq, pkt.stod, len(body)) + body


def make_tod(records: list[FileRecord], t_beg: int, t_end: int, sid: int | None) -> FileTOD:
    """A TOD whose counts are right for ``records`` (what XRootD writes, spec §4.3)."""
    n_xfr = sum(1 for r in records if type(r) is FileXfr)
    return FileTOD(n_xfr, len(records), t_beg, t_end, None if sid is None else sid & _SID_MASK)
