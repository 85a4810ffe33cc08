"""A bounded on-disk FIFO of messages: what a sink has accepted but the broker has not yet
confirmed waits here, across a broker outage, a SIGKILL and a restart (the shoveler's disk
queue plays this part in front of the collector).

Layout of the directory: segment files ``00000001.seg`` … of length-prefixed messages
(4-byte big-endian length, then the bytes), appended to and flushed to the kernel on every
``put`` (so a killed process loses nothing; ``fsync=True`` also survives a power cut), and a
``cursor`` file naming the first unconfirmed message (segment, offset), replaced atomically
on ``ack``. Messages after the cursor are sent again after a restart: at least once. Past
``max_bytes`` the oldest segment goes whole, and its messages are counted in ``evicted``.
A message torn by a crash in the middle of a write is cut off at start-up (``torn``).
"""

from __future__ import annotations

import os
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

_LEN = struct.Struct(">I")
_SUFFIX = ".seg"


class SpoolError(OSError):
    """The spool directory cannot be used (not writable, full, not a spool)."""


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a message starts: segment number and byte offset."""

    segment: int
    offset: int


@dataclass(slots=True)
class _Segment:
    number: int
    size: int
    count: int


class Spool:
    """A FIFO of ``bytes`` messages in ``directory`` (created), at most ``max_bytes`` on disk."""

    def __init__(self, directory: str | Path, max_bytes: int = 1 << 30, segment_bytes: int = 8 << 20, fsync: bool = False) -> None:
        if max_bytes < 2 * segment_bytes:
            segment_bytes = max(1024, max_bytes // 2)
        self.dir = Path(directory)
        self.max_bytes, self.segment_bytes, self.fsync = max_bytes, segment_bytes, fsync
        self.evicted = self.torn = 0
        self._lock = threading.Lock()
        self._rcache: tuple[int, bytes] = (0, b"")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = self.dir / ".probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise SpoolError(exc.errno, f"spool {self.dir}: {exc.strerror or exc}") from None
        self._segments = [self._scan(n) for n in self._numbers()]
        self.cursor = self._read_cursor()
        self._writer = None
        if not self._segments:
            self._segments.append(_Segment(1, 0, 0))
        self.pending = self._count_from(self.cursor)

    # ------------------------------------------------------------------ layout

    def _path(self, number: int) -> Path:
        return self.dir / f"{number:08d}{_SUFFIX}"

    def _numbers(self) -> list[int]:
        return sorted(int(p.stem) for p in self.dir.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    def _scan(self, number: int) -> _Segment:
        """Count a segment's messages; cut a torn last message."""
        path = self._path(number)
        data = path.read_bytes()
        off = count = 0
        while off + _LEN.size <= len(data):
            (n,) = _LEN.unpack_from(data, off)
            if off + _LEN.size + n > len(data):
                break
            off += _LEN.size + n
            count += 1
        if off != len(data):
            self.torn += 1
            with path.open("r+b") as fh:
                fh.truncate(off)
        return _Segment(number, off, count)

    def _read_cursor(self) -> Position:
        first = Position(self._segments[0].number if self._segments else 1, 0)
        try:
            seg, off = (int(x) for x in (self.dir / "cursor").read_text().split())
        except (OSError, ValueError):
            return first
        return max(Position(seg, off), first)

    def _count_from(self, pos: Position) -> int:
        return sum(self._unsent(seg, pos) for seg in self._segments)

    def _unsent(self, seg: _Segment, pos: Position) -> int:
        """Messages of ``seg`` at or after ``pos``."""
        if seg.number > pos.segment:
            return seg.count
        if seg.number == pos.segment:
            return sum(1 for _ in self._iter_segment(seg.number, pos.offset))
        return 0

    def _data(self, number: int) -> bytes:
        """A segment's bytes, read once and then only its new tail (the reader's cache)."""
        cached_no, cached = self._rcache
        if cached_no != number:
            cached = b""
        try:
            with self._path(number).open("rb") as fh:
                fh.seek(len(cached))
                cached += fh.read()
        except FileNotFoundError:
            cached = b""
        self._rcache = (number, cached)
        return cached

    def _iter_segment(self, number: int, offset: int):
        data = self._data(number)
        off = offset
        while off + _LEN.size <= len(data):
            (n,) = _LEN.unpack_from(data, off)
            if off + _LEN.size + n > len(data):
                return
            yield Position(number, off), data[off + _LEN.size : off + _LEN.size + n], off + _LEN.size + n
            off += _LEN.size + n

    @property
    def bytes_on_disk(self) -> int:
        """Bytes of every segment file."""
        return sum(s.size for s in self._segments)

    # ------------------------------------------------------------------ writing

    def put(self, messages: list[bytes]) -> None:
        """Append ``messages`` (durable against a process kill when this returns).

        Raises SpoolError when the disk refuses the write (full, read-only)."""
        if not messages:
            return
        with self._lock:
            try:
                self._append(messages)
            except OSError as exc:
                self._close_writer()
                raise SpoolError(exc.errno, f"spool {self.dir}: {exc.strerror or exc}") from None

    def _append(self, messages: list[bytes]) -> None:
        i = 0
        while i < len(messages):
            last = self._segments[-1]
            if last.size >= self.segment_bytes:
                self._close_writer()
                last = _Segment(last.number + 1, 0, 0)
                self._segments.append(last)
            room, j, chunk = self.segment_bytes - last.size, i, []
            while j < len(messages) and (not chunk or room > 0):  # at least one message per segment
                framed = _LEN.pack(len(messages[j])) + messages[j]
                chunk.append(framed)
                room -= len(framed)
                j += 1
            self._write_segment(last, b"".join(chunk), j - i)
            i = j
        while self.bytes_on_disk > self.max_bytes and len(self._segments) > 1:
            self._evict_oldest()

    def _write_segment(self, seg: _Segment, blob: bytes, count: int) -> None:
        if self._writer is None:
            self._writer = self._path(seg.number).open("ab")
        self._writer.write(blob)
        self._writer.flush()
        if self.fsync:
            os.fsync(self._writer.fileno())
        seg.size += len(blob)
        seg.count += count
        self.pending += count

    def _evict_oldest(self) -> None:
        seg = self._segments.pop(0)
        unsent = self._unsent(seg, self.cursor)
        self.evicted += unsent
        self.pending -= unsent
        self._path(seg.number).unlink(missing_ok=True)
        if self.cursor.segment <= seg.number:
            self.cursor = Position(self._segments[0].number, 0)
            self._write_cursor()

    def _close_writer(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError:
                pass
            self._writer = None

    # ------------------------------------------------------------------ reading

    def peek(self, limit: int) -> list[tuple[Position, bytes, Position]]:
        """Up to ``limit`` unconfirmed messages from the cursor: (start, bytes, next position)."""
        out: list[tuple[Position, bytes, Position]] = []
        with self._lock:
            pos = self.cursor
            for seg in self._segments:
                if seg.number < pos.segment:
                    continue
                start = pos.offset if seg.number == pos.segment else 0
                for at, msg, end in self._iter_segment(seg.number, start):
                    out.append((at, msg, Position(seg.number, end)))
                    if len(out) >= limit:
                        return out
        return out

    def ack(self, upto: Position, count: int) -> None:
        """The ``count`` messages before ``upto`` (as ``peek`` gave them) are confirmed: move
        the cursor, delete the segments that are done. A position behind the cursor (its
        segment was evicted meanwhile) changes nothing."""
        with self._lock:
            if upto <= self.cursor:
                return
            self.cursor = upto
            self.pending = max(0, self.pending - count)
            while len(self._segments) > 1 and self._segments[0].number < upto.segment:
                self._path(self._segments.pop(0).number).unlink(missing_ok=True)
            self._write_cursor()

    def _write_cursor(self) -> None:
        tmp = self.dir / "cursor.tmp"
        tmp.write_text(f"{self.cursor.segment} {self.cursor.offset}\n")
        os.replace(tmp, self.dir / "cursor")

    def close(self) -> None:
        """Close the segment being written (the spool stays on disk)."""
        with self._lock:
            self._close_writer()


__all__ = ["Position", "Spool", "SpoolError"]
