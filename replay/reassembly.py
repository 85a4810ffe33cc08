"""IP fragment reassembly (IPv4 and IPv6) with a bounded buffer, as a receiving kernel does it.

Fragments are keyed by (IP version, src, dst, id, protocol). A datagram still incomplete after
``timeout_s`` of capture time (Linux ``ipfrag_time``: 30 s), or pushed out when more than
``max_pending`` are open, is dropped and counted. Knows nothing of UDP or TCP.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

FragmentKey = tuple[int, bytes, bytes, int, int]


@dataclass(slots=True)
class _Pending:
    first_ts: float
    #: offset → (length the IP header claims, captured bytes: shorter when the snap length cut it)
    parts: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    total: int = -1  # known once the last fragment (no MF) has arrived
    claimed: int = 0


class Reassembler:
    """Collects fragments and hands back each datagram's data once it is complete.

    >>> r = Reassembler()
    >>> r.add((4, b"a", b"b", 7, 17), 8, False, 4, b"5678", ts=0.0)
    >>> r.add((4, b"a", b"b", 7, 17), 0, True, 8, b"12345678", ts=0.0)
    (b'123456785678', 12)

    Counters: ``completed``, ``incomplete`` (datagrams dropped unfinished) and
    ``fragments_dropped`` (the fragments they held).
    """

    def __init__(self, max_pending: int = 4096, timeout_s: float = 30.0) -> None:
        self.max_pending = max_pending
        self.timeout_s = timeout_s
        self.completed = 0
        self.incomplete = 0
        self.fragments_dropped = 0
        self._pending: OrderedDict[FragmentKey, _Pending] = OrderedDict()

    def __len__(self) -> int:
        """Datagrams waiting for fragments."""
        return len(self._pending)

    def add(self, key: FragmentKey, offset: int, more: bool, length: int, data: bytes, ts: float) -> tuple[bytes, int] | None:
        """Add a fragment of ``length`` bytes at byte ``offset`` (``data`` may be shorter when
        the capture cut it). When this fragment completes the datagram, returns its data and
        its length (the data is shorter when a fragment was cut); None while incomplete."""
        self._expire(ts)
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = _Pending(ts)
            if len(self._pending) > self.max_pending:
                self._drop(next(iter(self._pending)))
        if offset not in entry.parts:
            entry.claimed += length
        entry.parts[offset] = (length, data)
        if not more:
            entry.total = offset + length
        if entry.total < 0 or entry.claimed < entry.total:
            return None
        whole = _assemble(entry)
        if whole is None:
            return None
        del self._pending[key]
        self.completed += 1
        return whole, entry.total

    def flush(self) -> int:
        """Drop every incomplete datagram (end of capture); returns how many were dropped."""
        dropped = len(self._pending)
        while self._pending:
            self._drop(next(iter(self._pending)))
        return dropped

    def _expire(self, now: float) -> None:
        while self._pending:
            key, entry = next(iter(self._pending.items()))
            if now - entry.first_ts <= self.timeout_s:
                return
            self._drop(key)

    def _drop(self, key: FragmentKey) -> None:
        entry = self._pending.pop(key)
        self.incomplete += 1
        self.fragments_dropped += len(entry.parts)


def _assemble(entry: _Pending) -> bytes | None:
    """The datagram's bytes when the fragments cover 0..total without a gap, else None.
    Overlaps keep the earlier offset's bytes; a fragment cut by the capture ends the data."""
    if not _covered(entry):
        return None
    chunks, pos = [], 0
    for offset in sorted(entry.parts):
        length, data = entry.parts[offset]
        if offset + length <= pos:
            continue
        chunks.append(data[pos - offset :])
        if len(data) < length:
            break
        pos = offset + length
    return b"".join(chunks)


def _covered(entry: _Pending) -> bool:
    """Whether the claimed fragment lengths leave no gap from 0 to the datagram's end."""
    pos = 0
    for offset in sorted(entry.parts):
        if offset > pos:
            return False
        pos = max(pos, offset + entry.parts[offset][0])
    return pos >= entry.total
