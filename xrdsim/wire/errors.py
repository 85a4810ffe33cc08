"""The wire error tree: whose fault a bad byte string or an unencodable value is.

    XrdsimError
    └── WireError
        ├── DecodeError            the bytes are wrong (the sender's fault)
        │   ├── TruncatedError     fewer bytes than a structure needs
        │   ├── LengthMismatchError  plen disagrees with the datagram size
        │   ├── UnknownCodeError   a code / record type this codec does not know
        │   ├── BadRecordError     a record whose fields contradict the spec
        │   └── BadTextError       map text, JSON or summary XML that does not parse
        └── EncodeError            a value cannot go on the wire (ours or the scenario's)
"""

from __future__ import annotations

from xrdsim.errors import XrdsimError


class WireError(XrdsimError):
    """Base of codec errors."""


class DecodeError(WireError):
    """Bytes that are not a valid XRootD monitoring datagram.

    Carries the byte ``offset`` where the problem was found, the packet ``code``
    (a one-character string, ``""`` when not known yet) and a ``path`` naming the
    field, e.g. ``f/CLOSE[3].ops``.
    """

    def __init__(self, reason: str, *, offset: int = 0, code: str = "", path: str = "") -> None:
        self.reason = reason
        self.offset = offset
        self.code = code
        self.path = path
        where = f" at {path}" if path else ""
        super().__init__(f"{reason}{where} (offset {offset}, code {code or '?'})")


class TruncatedError(DecodeError):
    """Fewer bytes than the structure at ``offset`` needs."""


class LengthMismatchError(DecodeError):
    """The header's ``plen`` disagrees with the datagram length."""


class UnknownCodeError(DecodeError):
    """A packet code, record type or entry marker this codec does not know."""


class BadRecordError(DecodeError):
    """A record whose fields contradict the spec (size, flags, counts)."""


class BadTextError(DecodeError):
    """Map text, JSON or summary XML that cannot be parsed."""


class EncodeError(WireError):
    """A value that cannot be put on the wire (out of range, too long, wrong type)."""
