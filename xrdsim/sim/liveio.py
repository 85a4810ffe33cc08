"""The I/O of a scripted open file, request by request as the client issues it (spec §4.5,
§5.2): the duck-typed counterpart of ``IoPlan`` for the monitor, and the t entries of each
request, one per request with no cap (the real 5.5.3 server adds one per request).

Requests are appended when they happen, so "done by now" is every request appended so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from xrdsim.wire import FileOps, FileSSQ, TraceIO, TraceMarker, TraceReadv

SHORT_MAX = 0x7FFF
INT_MAX = 0x7FFFFFFF


@dataclass(slots=True)
class Request:
    """One client request: ``kind`` read/readv/write, at ``t``, its (offset, length) pieces."""

    kind: str  # read, readv, write; pgread (xrdcp 5.x and the TPC pgm copy)
    t: float
    pieces: list[tuple[int, int]]
    nbytes: int = -1  # bytes asked for (XRootD counts what is requested, docs/spec-notes.md)

    def __post_init__(self) -> None:
        if self.nbytes < 0:
            pieces = self.pieces
            self.nbytes = pieces[0][1] if len(pieces) == 1 else sum(n for _, n in pieces)


def _stats(sizes: list[int]) -> tuple[int, int, int, float]:
    """(count, min, max, Σ²) with XRootD's 0 min/max for no requests."""
    if not sizes:
        return 0, 0, 0, 0.0
    return len(sizes), min(sizes), max(sizes), float(sum(s * s for s in sizes))


@dataclass(slots=True)
class LiveIo:
    """Requests of one open file so far; ``count_writes`` False for XRootD's uncounted HTTP
    PUTs (before 5.7.3: write 0 in the f and t CLOSE, xrootd/xrootd#2368)."""

    requests: list[Request] = field(default_factory=list)
    count_writes: bool = True
    pg: bool = False
    # bytes per kind so far: XFR records and the NIC ask often, a file may have thousands
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("read", "readv", "write", "pgread"), 0))

    def add(self, kind: str, t: float, pieces: list[tuple[int, int]]) -> Request:
        """Record a request issued at ``t``."""
        req = Request(kind, t, pieces)
        self.requests.append(req)
        self.totals[kind] += req.nbytes
        return req

    def _sizes(self, kind: str) -> list[int]:
        return [r.nbytes for r in self.requests if r.kind == kind]

    def xfr_at(self, frac: float) -> tuple[int, int, int]:
        """Cumulative (read, readv, write) bytes, as an XFR record shows them."""
        tot = self.totals
        return tot["read"], tot["readv"], tot["write"] if self.count_writes else 0

    def moved_at(self, frac: float) -> tuple[int, int, int]:
        """Data bytes requested so far (read and pgread, readv, write)."""
        tot = self.totals
        return tot["read"] + tot["pgread"], tot["readv"], tot["write"]

    def close_at(self, frac: float, explicit: bool) -> tuple[tuple[int, int, int], FileOps, FileSSQ]:
        """Totals, OPS and SSQ of the CLOSE: every plain request counts, forced close or not;
        pgreads only at an explicit close, in the count and bytes but never in min/max/SSQ
        (real 5.5.3: one pgread shows read 1, min 0x7fffffff, max 0)."""
        reads, readvs = self._sizes("read"), self._sizes("readv")
        pg = self._sizes("pgread") if explicit else []
        writes = self._sizes("write") if self.count_writes else []
        segs = [len(r.pieces) for r in self.requests if r.kind == "readv"]
        n_r, r_min, r_max, r_ssq = _stats(reads)
        if pg:
            n_r, r_min = n_r + len(pg), r_min if reads else INT_MAX
            reads = reads + pg
        n_v, v_min, v_max, v_ssq = _stats(readvs)
        n_w, w_min, w_max, w_ssq = _stats(writes)
        _, s_min, s_max, s_ssq = _stats(segs)
        ops = FileOps(n_r, n_v, n_w, min(s_min, SHORT_MAX), min(s_max, SHORT_MAX), sum(segs), r_min, r_max, v_min, v_max, w_min, w_max)
        return (sum(reads), sum(readvs), sum(writes)), ops, FileSSQ(r_ssq, v_ssq, s_ssq, w_ssq)

    def cursor(self, file_id: int, iov: bool, next_seq: Callable[[], int]) -> "LiveCursor":
        """The t-stream cursor over this file's requests."""
        return LiveCursor(self, file_id, iov, next_seq)


class LiveCursor:
    """The t entries of requests not yet handed to the session buffer (``IoCursor``'s role)."""

    __slots__ = ("file_id", "io", "iov", "next", "next_seq")

    def __init__(self, io: LiveIo, file_id: int, iov: bool, next_seq: Callable[[], int]) -> None:
        self.io, self.file_id, self.iov, self.next_seq, self.next = io, file_id, iov, next_seq, 0

    def entries(self, req: Request) -> list:
        """The entries of one request: READ/WRITE, or READV — with ``iov`` a READU and one
        READ per segment (real 5.5.3: ``files io iov``)."""
        fid = self.file_id
        if req.kind in ("read", "pgread"):
            return [TraceIO(req.pieces[0][0], req.nbytes, fid)]
        if req.kind == "write":
            return [TraceIO(req.pieces[0][0], -req.nbytes, fid)]
        kind = TraceMarker.READU if self.iov else TraceMarker.READV
        head = TraceReadv(kind, self.next_seq(), len(req.pieces), req.nbytes, fid)
        return [head] + ([TraceIO(o, n, fid) for o, n in req.pieces] if self.iov else [])

    def due(self, frac: float, t: float) -> list[tuple[float, list]]:
        """Requests issued by ``t`` and not handed out yet, with their times."""
        reqs = self.io.requests
        out = []
        while self.next < len(reqs) and reqs[self.next].t <= t:
            req = reqs[self.next]
            out.append((req.t, self.entries(req)))
            self.next += 1
        return out


__all__ = ["LiveCursor", "LiveIo", "Request"]
