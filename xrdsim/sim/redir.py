"""XRootD's r-stream buffers as a SimPy-free state object (spec §1.6, §6).

``rnums`` buffers filled round-robin, each opened by a REDTIME before the first record of a
window and closed by a REDTIME of the tick it is sent in; flushed when the next record would
not fit ``rbuff`` and on the ``flush`` timer once at least ``flush`` old. Finished slot lists go to a ``send`` callback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from xrdsim.wire import Redirect, RedirTime

#: ``send(t_send, slots)``: one packet's slots, first and last a REDTIME.
RedirSend = Callable[[float, list], None]
SLOT = 8


def redir_capacity(rbuff_bytes: int) -> int:
    """Slots a packet holds before its closing REDTIME: ``rbuff`` (at least 2048) less the
    header, server id and closing mark, in 8-byte slots — plen = 16 + 8·(n+1) (spec §1.6)."""
    return (max(2048, rbuff_bytes) - 24) // SLOT


def record_slots(rec: Redirect) -> int:
    """Slots of a REDIRECT: itself plus ``host:path`` with at least one NUL (spec §6)."""
    return 1 + (len(f"{rec.host}:{rec.path}".encode()) + SLOT) // SLOT


@dataclass(slots=True)
class RedirBuffer:
    """One of the ``rnums`` buffers: its slots, how many 8-byte slots they use, its window."""

    slots: list = field(default_factory=list)
    used: int = 0
    window: int | None = None
    t_first: float = 0.0


class RedirBuffers:
    """The r-stream of one server (see the module docstring); windows are wire times."""

    __slots__ = ("buffers", "cap", "next", "send", "window_s")

    def __init__(self, cap: int, window_s: int, rnums: int, send: RedirSend) -> None:
        self.cap, self.window_s, self.send = cap, window_s, send
        self.buffers = [RedirBuffer() for _ in range(rnums)]
        self.next = 0

    def add(self, rec: Redirect, window: int, t_send: float) -> None:
        """Put ``rec`` (made in ``window``) into the next buffer in turn."""
        buf = self.buffers[self.next]
        self.next = (self.next + 1) % len(self.buffers)
        size = record_slots(rec)
        if buf.used + size + (buf.window != window) > self.cap:
            self._flush(buf, window, t_send)
        if not buf.slots:
            buf.t_first = t_send
        if buf.window != window:
            buf.slots.append(RedirTime(self.window_s, window))
            buf.used += 1
            buf.window = window
        buf.slots.append(rec)
        buf.used += size

    def flush(self, window: int, t_send: float, min_age_s: float = 0.0) -> None:
        """The ``flush`` timer: send every buffer whose first record is ``min_age_s`` old,
        closed by a REDTIME at ``window``."""
        for buf in self.buffers:
            if t_send - buf.t_first >= min_age_s - 1e-9:
                self._flush(buf, window, t_send)

    def _flush(self, buf: RedirBuffer, window: int, t_send: float) -> None:
        if not buf.slots:
            return
        buf.slots.append(RedirTime(self.window_s, window))
        self.send(t_send, buf.slots)
        buf.slots, buf.used, buf.window = [], 0, None


__all__ = ["RedirBuffer", "RedirBuffers", "RedirSend", "record_slots", "redir_capacity"]
