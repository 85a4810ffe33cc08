"""One binary g-stream provider's buffer as a SimPy-free state object (spec §1.6, §2.3, §7.1).

Text records are appended until the next would not fit ``gbuff`` (rounded down to a multiple
of 8, 1024..65536), then flushed; the ``flush`` timer sends what is at least ``flush`` old
(real 5.5.3: r and g records wait 1–2 intervals, not up to the next tick). pseq is the
provider's own counter, pre-incremented (first packet 1). Finished packets go to ``send``.
"""

from __future__ import annotations

from typing import Callable

#: ``send(t_send, pseq, t_beg, t_end, records)``.
GSend = Callable[[float, int, int, int, list], None]
#: Header (8) + ``XrdXrootdMonGS`` (tBeg, tEnd, sID: 16).
G_HEADER = 24


def gbuff_capacity(gbuff_bytes: int) -> int:
    """Bytes a g packet may hold: ``gbuff & ~7`` clamped to 1024..65536 (spec §1.2)."""
    return min(65536, max(1024, gbuff_bytes & ~7))


class GBuffer:
    """Records of one provider waiting to be sent; ``t_beg``/``t_end`` are the wire times of
    the first and last record inserted (spec §7.1)."""

    __slots__ = ("cap", "pseq", "records", "send", "size", "t_beg", "t_end", "t_first")

    def __init__(self, cap: int, send: GSend) -> None:
        self.cap, self.send = cap, send
        self.records: list[str] = []
        self.size = G_HEADER
        self.t_beg = self.t_end = 0
        self.t_first = 0.0
        self.pseq = 0

    def add(self, record: str, wire_t: int, t_send: float) -> None:
        """Append ``record`` inserted at wire time ``wire_t`` (its ``\\n`` or final NUL counted)."""
        n = len(record.encode()) + 1
        if self.records and self.size + n > self.cap:
            self.flush(t_send)
        if not self.records:
            self.t_beg, self.t_first = wire_t, t_send
        self.t_end = wire_t
        self.records.append(record)
        self.size += n

    def flush(self, t_send: float, min_age_s: float = 0.0) -> None:
        """Send the buffered records, if any and the first is ``min_age_s`` old, with the
        next pseq (the ``flush`` timer sends only what waited a whole interval)."""
        if not self.records or t_send - self.t_first < min_age_s - 1e-9:
            return
        self.pseq = (self.pseq + 1) & 0xFF
        self.send(t_send, self.pseq, self.t_beg, self.t_end, self.records)
        self.records, self.size = [], G_HEADER


__all__ = ["G_HEADER", "GBuffer", "GSend", "gbuff_capacity"]
