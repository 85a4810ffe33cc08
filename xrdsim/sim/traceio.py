"""The I/O t entries of one open file, due as its ``IoPlan`` runs (spec §5.2): request k of n
completes at ``t_open + span·k/n``. Past its share of ``cap``, runs of requests become one
entry of their summed bytes (READV: segments; READU: fewer, merged segment READs), so a
transfer adds at most ``cap`` I/O entries (more only if int32/uint16 limits force it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from xrdsim.sim.iostats import CRC_BYTES, INT_MAX, PAGE, IoPlan, OpSeries
from xrdsim.wire import TraceIO, TraceMarker, TraceReadv

USHORT_MAX = 0xFFFF
#: Multiplier that scatters READU segment offsets over the file (Knuth's golden ratio).
_SCATTER = 2654435761

#: A due run: (time it completed, the entries that describe it, kept together).
Due = tuple[float, list]


def _pages(nbytes: int) -> int:
    return -(-nbytes // PAGE)


def wire_total(s: OpSeries, k: int, pg: bool) -> int:
    """Bytes the first ``k`` requests put in I/O entries: pgwrite adds each page's CRC."""
    total = s.total(k)
    if not pg or k <= 0:
        return total
    full = k if k < s.count else s.count - 1
    return total + CRC_BYTES * (full * _pages(s.size) + (_pages(s.last) if k == s.count else 0))


def seg_total(s: OpSeries, k: int) -> int:
    """Readv segments of the first ``k`` requests."""
    return s.seg_stats(k)[0] if k > 0 else 0


@dataclass(slots=True)
class Run:
    """One series cut into ``groups`` runs, run i ending after request (i+1)·count//groups;
    ``make(a, b)`` gives the entries of requests a..b-1; ``next`` is the first not handed out."""

    series: OpSeries
    groups: int
    make: Callable[[int, int], list]
    next: int = 0


def run_count(n: int, per_run_entries: int, budget: int, max_requests: int) -> int:
    """Runs for ``n`` requests: as many as the entry budget allows, but none longer than
    ``max_requests`` (int32 / uint16 limits), and never more than one per request."""
    runs = min(n, max(1, budget // per_run_entries))
    return min(n, max(runs, -(-n // max(1, max_requests))))


class IoCursor:
    """The I/O entries of one open file not yet handed to its session's buffer."""

    __slots__ = ("file_id", "fsz", "max_segs", "next_seq", "pg", "runs", "span", "t_open")

    # ``max_segs``: READ entries after one READU, at most; a READU and its READs share a packet.

    def __init__(self, plan: IoPlan, file_id: int, fsz: int, t_open: float, t_end: float, cap: int,
                 iov: bool, max_segs: int, next_seq: Callable[[], int]) -> None:  # fmt: skip
        self.file_id, self.fsz, self.t_open, self.span, self.pg = file_id, fsz, t_open, t_end - t_open, plan.pg
        self.max_segs, self.next_seq = min(max_segs, max(1, cap - 1)), next_seq
        present = [s for s in (plan.read, plan.readv, plan.write) if s.count]
        budget = cap // max(1, len(present))
        self.runs: list[Run] = []
        if plan.read.count:
            self._add(plan.read, 1, budget, INT_MAX // max(1, plan.read.size), self._read)
        if plan.readv.count:
            self._add_readv(plan.readv, iov, budget)
        if plan.write.count:
            self._add(plan.write, 1, budget, INT_MAX // max(1, wire_total(plan.write, 1, plan.pg)), self._write)

    def _add(self, s: OpSeries, per_run: int, budget: int, max_requests: int, make: Callable) -> None:
        self.runs.append(Run(s, run_count(s.count, per_run, budget, max_requests), lambda a, b, s=s: make(s, a, b)))

    def _add_readv(self, s: OpSeries, iov: bool, budget: int) -> None:
        max_requests = INT_MAX // max(1, s.size)
        if iov:
            segs = min(max(s.segs, s.last_segs), self.max_segs)
            runs = run_count(s.count, 1 + segs, budget, max_requests)
            self.max_segs = max(1, min(segs, budget // runs - 1))
            self.runs.append(Run(s, runs, lambda a, b: self._readu(s, a, b)))
        else:
            self._add(s, 1, budget, min(max_requests, USHORT_MAX // max(1, s.segs)), self._readv)

    def _read(self, s: OpSeries, a: int, b: int) -> list:
        start = a * s.size  # a < count: every request before it is full-size
        return [TraceIO(start, (b * s.size if b < s.count else s.total(b)) - start, self.file_id)]

    def _write(self, s: OpSeries, a: int, b: int) -> list:
        return [TraceIO(s.total(a), wire_total(s, a, self.pg) - wire_total(s, b, self.pg), self.file_id)]

    def _readv(self, s: OpSeries, a: int, b: int) -> list:
        nsegs = seg_total(s, b) - seg_total(s, a)
        return [TraceReadv(TraceMarker.READV, self.next_seq(), nsegs, s.total(b) - s.total(a), self.file_id)]

    def _readu(self, s: OpSeries, a: int, b: int) -> list:
        total = s.total(b) - s.total(a)
        n = max(1, min(seg_total(s, b) - seg_total(s, a), self.max_segs))
        head = TraceReadv(TraceMarker.READU, self.next_seq(), n, total, self.file_id)
        q, r = divmod(total, n)
        room = max(0, self.fsz - q - 1)
        offsets = [((a * n + j) * _SCATTER) % (room + 1) & ~(PAGE - 1) for j in range(n)]
        return [head] + [TraceIO(offsets[j], q + (j < r), self.file_id) for j in range(n)]

    def due(self, frac: float, t: float) -> list[Due]:
        """The runs completed by plan fraction ``frac`` (at ``t``) and not yet handed out."""
        out: list[Due] = []
        t_open, span = self.t_open, self.span
        for run in self.runs:
            n, m = run.series.count, run.groups
            # runs k with (k+1)·n//m ≤ done, i.e. k < ((done+1)·m − 1)//n
            finished = ((run.series.done(frac) + 1) * m - 1) // n
            a = run.next * n // m
            for k in range(run.next, finished):
                b = (k + 1) * n // m
                out.append((min(t, t_open + span * b / n), run.make(a, b)))
                a = b
            run.next = max(run.next, finished)
        return out


__all__ = ["Due", "IoCursor", "Run", "run_count", "seg_total", "wire_total"]
