"""The replay error tree: a capture we cannot read is the user's input; a datagram we cannot
write is the caller's (simulator's or ours). Every message is one line naming the file."""

from __future__ import annotations

from os import PathLike

from xrdsim.errors import UserError, XrdsimError


class ReplayError(XrdsimError):
    """Base of the errors ``replay`` raises on purpose."""


class ReplayInputError(ReplayError, UserError):
    """A capture file that cannot be read: empty, truncated, not pcap/pcapng, unsupported link
    type, or without any matching UDP datagram. ``str()`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ReplayWriteError(ReplayError):
    """A datagram that cannot go into a capture: too large for UDP, mixed address families,
    a negative time or an unknown link type."""
