"""The binary g-stream (plug-in providers): a 16-byte ``XrdXrootdMonGS`` header after the
common one, then ``\\n``-separated text records whose final ``\\n`` is a NUL (spec §7.1).

Records stay text as sent; ``json_records`` and the typed TPC / cache views (§7.3) parse
them on demand. Per-provider sequencing is the collector's job.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from xrdsim.wire.codes import GProvider
from xrdsim.wire.errors import BadRecordError, BadTextError, EncodeError, TruncatedError
from xrdsim.wire.header import HEADER_SIZE, Header, compile_layout, encode_header

CODE_G = ord("g")
_MASK56 = (1 << 56) - 1

#: (field, struct code) in wire order; the sid's top byte is the provider id (spec §7.1),
#: byte 1 is 0, so the low 56 bits hold the 48-bit server fingerprint.
GS_FIELDS = (("t_beg", "i"), ("t_end", "i"), ("sid", "Q"))
GS = compile_layout(GS_FIELDS)
_RECORDS = HEADER_SIZE + GS.size
_PROVIDERS = {int(p): p for p in GProvider}


def decode_json_record(text: str, path: str, code: str = "g") -> dict[str, Any]:
    """Parse one record as a JSON object; raises BadTextError (naming ``path``) otherwise."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadTextError(f"record is not JSON ({type(exc).__name__})", code=code, path=path) from None
    if not isinstance(value, dict):
        raise BadTextError(f"record is JSON {type(value).__name__}, not an object", code=code, path=path)
    return value


@dataclass(slots=True)
class GStreamPacket:
    """A binary ``g`` datagram (``XrdXrootdMonGS``), spec §7.1.

    ``t_beg``/``t_end`` (int32 each): times of the first and last record; ``provider``
    (1 B, GProvider or the int of an unknown id); ``sid`` (7 B, the server fingerprint);
    ``records``: the text records without separators or the final NUL.
    """

    pseq: int
    stod: int
    t_beg: int
    t_end: int
    provider: int
    sid: int
    records: list[str]

    CODE: ClassVar[int] = CODE_G

    def json_records(self) -> list[dict[str, Any]]:
        """Every record parsed as a JSON object; raises BadTextError naming the record."""
        return [decode_json_record(r, f"g/record[{i}]") for i, r in enumerate(self.records)]


def decode_gstream(buf: memoryview, header: Header) -> GStreamPacket:
    """Decode a binary ``g`` datagram whose header is checked (plen == len(buf)).

    Raises TruncatedError below 24 bytes, BadRecordError when a non-empty record area does
    not end with the NUL XRootD writes over the last ``\\n``.
    """
    end = len(buf)
    if end < _RECORDS:
        raise TruncatedError(
            f"g header needs {GS.size} bytes, had {end - HEADER_SIZE}", offset=HEADER_SIZE, code="g", path="g/header"
        )
    t_beg, t_end, sid = GS.unpack_from(buf, HEADER_SIZE)
    records: list[str] = []
    if end > _RECORDS:
        if buf[end - 1]:
            raise BadRecordError("g records do not end with a NUL", offset=end - 1, code="g", path="g/records")
        records = bytes(buf[_RECORDS : end - 1]).decode("utf-8", "surrogateescape").split("\n")
    provider = sid >> 56
    return GStreamPacket(
        header.pseq, header.stod, t_beg, t_end, _PROVIDERS.get(provider, provider), sid & _MASK56, records
    )


def encode_gstream(pkt: GStreamPacket) -> bytes:
    """Encode a binary ``g`` datagram: header, tBeg/tEnd/sID, records + final NUL."""
    if not 0 <= pkt.provider <= 0xFF or not 0 <= pkt.sid <= _MASK56:
        raise EncodeError(f"g provider {pkt.provider!r} / sid {pkt.sid!r} out of range")
    if any("\n" in r for r in pkt.records):
        raise EncodeError("a g record holds a newline, the record separator")
    try:
        text = "\n".join(pkt.records).encode("utf-8", "surrogateescape") + b"\x00" if pkt.records else b""
        body = GS.pack(pkt.t_beg, pkt.t_end, (pkt.provider << 56) | pkt.sid) + text
    except (struct.error, TypeError, UnicodeEncodeError) as exc:
        raise EncodeError(f"g packet: {exc}") from None
    return encode_header(CODE_G, pkt.pseq, pkt.stod, len(body)) + body


# ---------------------------------------------------------------------------- TPC records (P)

_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3,6})Z\Z", re.ASCII)


def decode_tpc_time(text: str, path: str = "g/TPC") -> datetime:
    """Parse a TPC timestamp. XRootD prints the *microseconds* with ``%03u``, so ``.123``
    means 123 µs and ``.123456`` 123456 µs (``XrdXrootdTpcMon::getUTC``, spec §7.3)."""
    match = _ISO.match(text) if isinstance(text, str) else None
    if match is None:
        raise BadTextError(f"TPC time {text!r} is not YYYY-MM-DDTHH:MM:SS.uuuZ", code="g", path=path)
    year, month, day, hour, minute, second, micro = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError as exc:
        raise BadTextError(f"TPC time {text!r}: {exc}", code="g", path=path) from None


def encode_tpc_time(when: datetime) -> str:
    """Format ``when`` (UTC; naive means UTC) the way XRootD does, microseconds ``%03u``."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond:03d}Z"


def _field(obj: Any, key: str, kind: type, path: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadTextError(f"{key} missing or not {kind.__name__}", code="g", path=f"{path}.{key}")
    return value


@dataclass(slots=True, frozen=True)
class TpcRecord:
    """A TPC (provider ``P``) record (``XrdXrootdTpcMon``, spec §7.3): ``protocol`` (xroot or
    http), ``client`` tident, ``begin``/``end`` (UTC), ``rc`` (0 = success), ``streams``,
    ``type`` (push or pull), ``ip_version`` (4 or 6), ``src``/``dst`` URLs, ``size`` bytes."""

    protocol: str
    client: str
    begin: datetime
    end: datetime
    rc: int
    streams: int
    type: str
    ip_version: int
    src: str
    dst: str
    size: int


def decode_tpc_record(record: str | dict[str, Any], path: str = "g/TPC") -> TpcRecord:
    """Build a TpcRecord from a record's text or its parsed dict; raises BadTextError."""
    obj = decode_json_record(record, path) if isinstance(record, str) else record
    xeq = _field(obj, "Xeq", dict, path)
    return TpcRecord(
        _field(obj, "TPC", str, path),
        _field(obj, "Client", str, path),
        decode_tpc_time(_field(xeq, "Beg", str, f"{path}.Xeq"), f"{path}.Xeq.Beg"),
        decode_tpc_time(_field(xeq, "End", str, f"{path}.Xeq"), f"{path}.Xeq.End"),
        _field(xeq, "RC", int, f"{path}.Xeq"),
        _field(xeq, "Strm", int, f"{path}.Xeq"),
        _field(xeq, "Type", str, f"{path}.Xeq"),
        _field(xeq, "IPv", int, f"{path}.Xeq"),
        _field(obj, "Src", str, path),
        _field(obj, "Dst", str, path),
        _field(obj, "Size", int, path),
    )


_UNSAFE = re.compile(r'["\\\x00-\x1f]')


def encode_tpc_record(rec: TpcRecord) -> str:
    """The record text XRootD's ``json_fmt`` produces (no escaping, so strings must not
    need any); raises EncodeError for values that would not give valid JSON."""
    strings = (rec.protocol, rec.client, rec.src, rec.dst)
    if any(_UNSAFE.search(s) for s in strings) or rec.type not in ("push", "pull") or rec.ip_version not in (4, 6):
        raise EncodeError(f"TPC record not encodable as XRootD would: {rec!r}")
    if rec.streams < 0 or rec.size < 0:
        raise EncodeError("TPC streams and size are unsigned")
    return (
        f'{{"TPC":"{rec.protocol}","Client":"{rec.client}",'
        f'"Xeq":{{"Beg":"{encode_tpc_time(rec.begin)}","End":"{encode_tpc_time(rec.end)}",'
        f'"RC":{rec.rc},"Strm":{rec.streams},"Type":"{rec.type}","IPv":{rec.ip_version}}},'
        f'"Src":"{rec.src}","Dst":"{rec.dst}","Size":{rec.size}}}'
    )


# ---------------------------------------------------------------------------- cache records (C)

#: pfc ``file_close`` keys in XRootD's order (XrdPfc.cc); b_todisk/b_prefetch are newer.
CACHE_INT_KEYS = ("size", "blk_size", "n_blks", "n_blks_done", "access_cnt", "attach_t", "detach_t")
CACHE_BYTE_KEYS = ("b_hit", "b_miss", "b_bypass")
CACHE_OPTIONAL_KEYS = ("b_todisk", "b_prefetch")


@dataclass(slots=True, frozen=True)
class CacheRecord:
    """A pfc (provider ``C``) ``file_close`` record (spec §7.3): ``lfn``, file ``size``,
    block size and counts, ``access_cnt``, attach/detach times, ``remotes``, bytes
    hit/missed/bypassed (and, in newer releases, written to disk and prefetched), checksum errors."""

    lfn: str
    size: int
    blk_size: int
    n_blks: int
    n_blks_done: int
    access_cnt: int
    attach_t: int
    detach_t: int
    remotes: tuple[str, ...]
    b_hit: int
    b_miss: int
    b_bypass: int
    n_cks_errs: int
    b_todisk: int | None = None
    b_prefetch: int | None = None


def decode_cache_record(record: str | dict[str, Any], path: str = "g/cache") -> CacheRecord:
    """Build a CacheRecord from a ``file_close`` record; raises BadTextError."""
    obj = decode_json_record(record, path) if isinstance(record, str) else record
    if obj.get("event") != "file_close":
        raise BadTextError(f"cache event {obj.get('event')!r} is not file_close", code="g", path=f"{path}.event")
    remotes = _field(obj, "remotes", list, path)
    if not all(isinstance(r, str) for r in remotes):
        raise BadTextError("remotes holds a non-string", code="g", path=f"{path}.remotes")
    ints = {key: _field(obj, key, int, path) for key in (*CACHE_INT_KEYS, *CACHE_BYTE_KEYS, "n_cks_errs")}
    optional = {key: _field(obj, key, int, path) for key in CACHE_OPTIONAL_KEYS if key in obj}
    return CacheRecord(lfn=_field(obj, "lfn", str, path), remotes=tuple(remotes), **ints, **optional)


def encode_cache_record(rec: CacheRecord) -> str:
    """The ``file_close`` record text in XRootD's key order (JSON-escaped strings)."""
    obj: dict[str, Any] = {"event": "file_close", "lfn": rec.lfn}
    obj.update({key: getattr(rec, key) for key in CACHE_INT_KEYS})
    obj["remotes"] = list(rec.remotes)
    obj.update({key: getattr(rec, key) for key in CACHE_BYTE_KEYS})
    obj.update({key: getattr(rec, key) for key in CACHE_OPTIONAL_KEYS if getattr(rec, key) is not None})
    obj["n_cks_errs"] = rec.n_cks_errs
    return json.dumps(obj, separators=(",", ":"))
