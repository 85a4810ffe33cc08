"""Map ("dictionary") packets: ``=`` ``u`` ``d`` ``i`` ``T`` ``U`` ``x`` ``p`` (spec §3).

A map packet is the header, a 4-byte dictid and text ``userid[\\npayload]``. The text is
kept as sent so that encoding gives the same bytes back; the views below parse it.
"""

from __future__ import annotations

from dataclasses import dataclass

from xrdsim.wire.codes import MAP_CODES
from xrdsim.wire.errors import EncodeError, TruncatedError, UnknownCodeError
from xrdsim.wire.header import HEADER_FIELDS, HEADER_SIZE, Header, compile_layout, encode_header

MAP_FIELDS = (("dictid", "I"),)
MAP_DICTID = compile_layout(MAP_FIELDS)
HEAD_DICTID = compile_layout(HEADER_FIELDS, MAP_FIELDS)
#: XRootD truncates the text region to this many bytes (spec §3.1).
MAX_MAP_TEXT = 1280


@dataclass(slots=True, frozen=True)
class UserId:
    """``prot/user.pid:sid@host`` (spec §3.2); parts absent from the text are ``""``.

    ``sid`` is the server fingerprint in decimal, ``pid`` the session id (5.6.5+) or
    the client's process id (before). FRM userids have no ``prot/``.
    """

    prot: str
    user: str
    pid: str
    sid: str
    host: str

    def __str__(self) -> str:
        prefix = f"{self.prot}/" if self.prot else ""
        return f"{prefix}{self.user}.{self.pid}:{self.sid}@{self.host}"


def parse_userid(text: str) -> UserId:
    """Split a userid from the right, as usernames may hold dots and hosts colons.

    Never raises: a part that is missing comes back empty.
    """
    left, at, host = text.rpartition("@")
    if not at:
        left, host = text, ""
    left, colon, sid = left.rpartition(":")
    if not colon:
        left, sid = sid, ""
    prot, slash, rest = left.partition("/")
    if not slash:
        prot, rest = "", left
    user, dot, pid = rest.rpartition(".")
    if not dot:
        user, pid = rest, ""
    return UserId(prot, user, pid, sid, host)


class Cgi:
    """``&key=value`` text as an ordered multimap (spec §3.3–3.6).

    Repeated keys keep every occurrence (``&I=6&I=6``); ``get`` answers the first, ``all``
    every one; ``words`` splits a space-separated multi-value (``o=cms cms``).
    """

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, key: str, default: str | None = None) -> str | None:
        """First value of ``key``, or ``default`` when absent."""
        for k, v in self.pairs:
            if k == key:
                return v
        return default

    def all(self, key: str) -> list[str]:
        """Every value given for ``key``, in order."""
        return [v for k, v in self.pairs if k == key]

    def words(self, key: str) -> list[str]:
        """The space-separated words of every value of ``key``."""
        return [w for v in self.all(key) for w in v.split()]

    def as_dict(self) -> dict[str, str]:
        """Last value wins; for JSON output."""
        return dict(self.pairs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cgi) and self.pairs == other.pairs

    def __repr__(self) -> str:
        return f"Cgi({self.pairs!r})"


def parse_cgi(text: str) -> Cgi:
    """Parse ``&k=v&k2=v2`` (a leading ``&`` optional, empty values kept). Never raises."""
    pairs = []
    for item in text.strip("\x00\n").split("&"):
        if item:
            key, _, value = item.partition("=")
            pairs.append((key, value))
    return Cgi(pairs)


@dataclass(slots=True)
class MapPacket:
    """``XrdXrootdMonMap``: header, dictid (4 B), text (plen−12 B, no NUL) — spec §3.1.

    ``code`` is the packet code byte (``ord('u')`` …). ``text`` is the whole text region as
    sent; other emitters' trailing NULs stay in it and are ignored by the views.
    """

    code: int
    pseq: int
    stod: int
    dictid: int
    text: str

    @property
    def userid_text(self) -> str:
        """The text up to the first newline: the userid."""
        return self.text.partition("\n")[0].rstrip("\x00")

    @property
    def userid(self) -> UserId:
        """The parsed userid."""
        return parse_userid(self.userid_text)

    @property
    def payload(self) -> str | None:
        """The text after the first newline, or None when there is no newline."""
        _, nl, rest = self.text.partition("\n")
        return rest.rstrip("\x00") if nl else None

    @property
    def info(self) -> Cgi:
        """The payload parsed as CGI keys (``u`` auth info, ``=`` ident, ``T``/``U``)."""
        payload = self.payload
        return parse_cgi(payload) if payload else Cgi([])


def decode_map(buf: memoryview | bytes, header: Header) -> MapPacket:
    """Decode a map packet whose header has been checked."""
    if header.code not in MAP_CODES:
        raise UnknownCodeError(f"code {header.code:#04x} is not a map code", offset=0, code=chr(header.code))
    if len(buf) < HEADER_SIZE + MAP_DICTID.size:
        raise TruncatedError(
            f"map packet needs 12 bytes, had {len(buf)}", offset=HEADER_SIZE, code=chr(header.code), path="map.dictid"
        )
    (dictid,) = MAP_DICTID.unpack_from(buf, HEADER_SIZE)
    text = bytes(buf[HEADER_SIZE + MAP_DICTID.size :]).decode("utf-8", "surrogateescape")
    return MapPacket(header.code, header.pseq, header.stod, dictid, text)


def decode_common_map(buf: bytes) -> MapPacket | None:
    """A map datagram with its length right, header and dictid in one unpack; None for
    anything else (``decode_map`` then decodes or rejects it, with its own errors)."""
    if len(buf) < 12:
        return None
    code, pseq, plen, stod, dictid = HEAD_DICTID.unpack_from(buf)
    if plen != len(buf) or code not in MAP_CODES:
        return None
    return MapPacket(code, pseq, stod, dictid, buf[12:].decode("utf-8", "surrogateescape"))


def encode_map(pkt: MapPacket) -> bytes:
    """Encode a map packet; the text goes as is, without a NUL (spec §11 for simulators)."""
    if pkt.code not in MAP_CODES:
        raise EncodeError(f"code {pkt.code!r} is not a map code")
    if not 0 <= pkt.dictid <= 0xFFFFFFFF:
        raise EncodeError(f"dictid {pkt.dictid} outside uint32")
    try:
        text = pkt.text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"map text cannot be encoded: {exc.reason}") from None
    body = MAP_DICTID.pack(pkt.dictid) + text
    return encode_header(pkt.code, pkt.pseq, pkt.stod, len(body)) + body


@dataclass(slots=True, frozen=True)
class ServerIdent:
    """What a ``=`` packet says of its server (spec §3.3): the ``&key=value`` fields and
    the userid parts (``server_pid`` is the xrootd process id, ``sid`` the fingerprint)."""

    site: str
    host: str
    port: int
    inst: str
    pgm: str
    ver: str
    server_pid: str
    sid: int


def server_ident(pkt: MapPacket) -> ServerIdent:
    """Read the server identity from a ``=`` packet; order-independent, missing keys empty."""
    uid = pkt.userid
    info = pkt.info
    port = info.get("port", "")
    return ServerIdent(
        site=info.get("site", "") or "",
        host=uid.host,
        port=int(port) if port and port.isdigit() else 0,
        inst=info.get("inst", "") or "",
        pgm=info.get("pgm", "") or "",
        ver=info.get("ver", "") or "",
        server_pid=uid.pid,
        sid=int(uid.sid) if uid.sid.isdigit() else 0,
    )
