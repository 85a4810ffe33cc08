"""IP fragment reassembly (IPv4 and IPv6) with a bounded buffer, as a receiving kernel does it.

Fragments are keyed by (IP version, src, dst, id, protocol). A datagram still incomplete after
``timeout_s`` of capture time (Linux ``ipfrag_time``: 30 s), or pushed out when more than
``max_pending`` are open or their fragments hold more than ``max_bytes``, is dropped and
counted; so is one whose fragments hold more than ``max_datagram_bytes`` (only overlapping
fragments can: an IP datagram is at most 64 KiB). Knows nothing of UDP or TCP.

Coverage is kept as it grows (the end of the gap-free run from offset 0, over offsets kept
sorted), so each fragment costs its insertion, not a sort of all the others: a re-sort per
fragment made many overlapping fragments quadratic (bench/flood.py).
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import OrderedDict
from dataclasses import dataclass, field

FragmentKey = tuple[int, bytes, bytes, int, int]


@dataclass(slots=True)
class _Pending:
    first_ts: float
    #: offset → (length the IP header claims, captured bytes: shorter when the snap length cut it)
    parts: dict[int, tuple[int, bytes]] = field(default_factory=dict)
    total: int = -1  # known once the last fragment (no MF) has arrived
    offsets: list[int] = field(default_factory=list)  # sorted keys of ``parts``
    covered: int = 0  # fragments cover 0..covered without a gap (claimed lengths)
    held: int = 0  # captured bytes held

    def put(self, offset: int, length: int, data: bytes) -> None:
        """Keep one fragment (a repeated offset replaces the earlier one) and extend the
        covered run."""
        old = self.parts.get(offset)
        self.parts[offset] = (length, data)
        self.held += len(data) - (len(old[1]) if old is not None else 0)
        if old is None:
            insort(self.offsets, offset)
        elif length < old[0]:  # the run may shrink: count it again (rare)
            self.covered = 0
            self._extend(0, 0)
            return
        if offset <= self.covered:
            start = bisect_right(self.offsets, self.covered)
            self.covered = max(self.covered, offset + length)
            self._extend(start, self.covered)

    def _extend(self, i: int, pos: int) -> None:
        offsets, parts = self.offsets, self.parts
        while i < len(offsets) and offsets[i] <= pos:
            pos = max(pos, offsets[i] + parts[offsets[i]][0])
            i += 1
        self.covered = max(self.covered, pos)


class Reassembler:
    """Collects fragments and hands back each datagram's data once it is complete.

    >>> r = Reassembler()
    >>> r.add((4, b"a", b"b", 7, 17), 8, False, 4, b"5678", ts=0.0)
    >>> r.add((4, b"a", b"b", 7, 17), 0, True, 8, b"12345678", ts=0.0)
    (b'123456785678', 12)

    Counters: ``completed``, ``incomplete`` (datagrams dropped unfinished) and
    ``fragments_dropped`` (the fragments they held).
    """

    def __init__(self, max_pending: int = 4096, timeout_s: float = 30.0, max_bytes: int = 64 << 20, max_datagram_bytes: int = 256 << 10) -> None:
        self.max_pending = max_pending
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.max_datagram_bytes = max_datagram_bytes
        self.held = 0  # captured bytes of every pending fragment
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
        before = entry.held
        entry.put(offset, length, data)
        self.held += entry.held - before
        if not more:
            entry.total = offset + length
        if entry.held > self.max_datagram_bytes:
            self._drop(key)
            return None
        while self.held > self.max_bytes and len(self._pending) > 1:
            oldest = next(iter(self._pending))
            self._drop(oldest if oldest != key else list(self._pending)[1])
        if entry.total < 0 or entry.covered < entry.total or entry.offsets[-1] > entry.covered:
            return None  # a gap, or a fragment beyond a gap (as the full scan had it)
        whole = _assemble(entry)
        del self._pending[key]
        self.held -= entry.held
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
        self.held -= entry.held
        self.incomplete += 1
        self.fragments_dropped += len(entry.parts)


def _assemble(entry: _Pending) -> bytes:
    """The datagram's bytes (its fragments cover 0..total without a gap). Overlaps keep
    the earlier offset's bytes; a fragment cut by the capture ends the data."""
    chunks, pos = [], 0
    for offset in entry.offsets:
        length, data = entry.parts[offset]
        if offset + length <= pos:
            continue
        chunks.append(data[pos - offset :])
        if len(data) < length:
            break
        pos = offset + length
    return b"".join(chunks)
