"""What a transfer's I/O adds up to at any point: op series in closed form (spec §4.5, §4.9).

A transfer does ``count`` requests of ``size`` bytes with a different ``last`` one; the
bytes, counts, min/max and sums of squares of the first k requests are O(1). XRootD's
rules live here: pg ops fold into read/write totals only at an explicit close, with
4 bytes of CRC per 4 KiB page for pgwrite, and never into min/max/SSQ.
"""

from __future__ import annotations

from dataclasses import dataclass

from xrdsim.wire import FileOps, FileSSQ

#: Builds a NamedTuple from a tuple without its Python-level ``__new__`` (one CLOSE per transfer).
_new_tuple = tuple.__new__
PAGE = 4096
CRC_BYTES = 4
INT_MAX = 0x7FFFFFFF
SHORT_MAX = 0x7FFF


@dataclass(frozen=True, slots=True)
class OpSeries:
    """``count`` requests of ``size`` bytes, the last one ``last`` bytes (segs: readv only)."""

    count: int = 0
    size: int = 0
    last: int = 0
    segs: int = 0
    last_segs: int = 0

    def done(self, frac: float) -> int:
        """Requests completed at fraction ``frac`` of the transfer."""
        return self.count if frac >= 1.0 else min(self.count, int(self.count * frac))

    def total(self, k: int) -> int:
        """Bytes of the first ``k`` requests."""
        return 0 if k <= 0 else (k - 1) * self.size + (self.last if k == self.count else self.size)

    def sizes(self, k: int) -> tuple[int, int, float]:
        """(min, max, Σsize²) of the first ``k`` requests (k ≥ 1)."""
        last = self.last if k == self.count else self.size
        if k == 1:
            return last, last, float(last * last)
        return min(self.size, last), max(self.size, last), float((k - 1) * self.size**2 + last * last)

    def seg_stats(self, k: int) -> tuple[int, int, int, float]:
        """(segments, min, max, Σsegs²) over the first ``k`` readv requests (k ≥ 1)."""
        last = self.last_segs if k == self.count else self.segs
        lo, hi = (last, last) if k == 1 else (min(self.segs, last), max(self.segs, last))
        return (k - 1) * self.segs + last, lo, hi, float((k - 1) * self.segs**2 + last * last)


#: The empty series (no requests), shared.
NO_OPS = OpSeries()


def series(total: int, chunk: int) -> OpSeries:
    """Requests of ``chunk`` bytes covering ``total`` bytes (the last one shorter)."""
    if total <= 0:
        return NO_OPS
    n = -(-total // chunk)
    return OpSeries(n, chunk, total - (n - 1) * chunk)


def readv_series(total: int, segs: int, seg_bytes: int) -> OpSeries:
    """Vector reads of ``segs`` segments of ``seg_bytes`` covering ``total`` bytes."""
    if total <= 0:
        return NO_OPS
    per = segs * seg_bytes
    n = -(-total // per)
    last = total - (n - 1) * per
    return OpSeries(n, per, last, segs, -(-last // seg_bytes))


def pg_bytes(nbytes: int, chunk: int) -> int:
    """Bytes XRootD reports for pgwrite of ``nbytes`` in requests of ``chunk``: + CRC per page."""
    if nbytes <= 0:
        return 0
    full, rest = divmod(nbytes, chunk)
    pages = full * -(-chunk // PAGE) + -(-rest // PAGE)
    return nbytes + CRC_BYTES * pages


@dataclass(slots=True)
class IoPlan:
    """The requests one open file will see: read, readv, write; ``pg`` = read/write via pg ops.
    One per transfer, so not frozen (STYLE §7.4); treat as immutable."""

    read: OpSeries = NO_OPS
    readv: OpSeries = NO_OPS
    write: OpSeries = NO_OPS
    pg: bool = False
    count_writes: bool = True  # False: an HTTP PUT before XRootD 5.7.3 (write 0, xrootd/xrootd#2368)

    def xfr_at(self, frac: float) -> tuple[int, int, int]:
        """Cumulative (read, readv, write) bytes an XFR record shows: pg ops excluded."""
        rd = 0 if self.pg else self.read.total(self.read.done(frac))
        wr = 0 if self.pg or not self.count_writes else self.write.total(self.write.done(frac))
        return rd, self.readv.total(self.readv.done(frac)), wr

    def moved_at(self, frac: float) -> tuple[int, int, int]:
        """Data bytes really moved by ``frac`` (read, readv, write), pg or not."""
        return tuple(s.total(s.done(frac)) for s in (self.read, self.readv, self.write))  # type: ignore[return-value]

    def close_at(self, frac: float, explicit: bool) -> tuple[tuple[int, int, int], FileOps, FileSSQ]:
        """Byte totals, OPS and SSQ of a CLOSE at ``frac`` (spec §4.5, §4.9, real 5.5.3 capture)."""
        kr, kv, kw = self.read.done(frac), self.readv.done(frac), self.write.done(frac)
        kw = kw if self.count_writes else 0
        counted = not self.pg or explicit
        plain_r, plain_w = (0, 0) if self.pg else (kr, kw)
        n_read, n_write = (kr, kw) if counted else (0, 0)
        rd = self.read.total(n_read)
        wr = pg_bytes(self.write.total(kw), self.write.size) if self.pg and counted else self.write.total(n_write)
        rd_min, rd_max, rd_ssq = self._minmax(self.read, plain_r, n_read, INT_MAX)
        wr_min, wr_max, wr_ssq = self._minmax(self.write, plain_w, n_write, INT_MAX)
        rv_min, rv_max, rv_ssq = self._minmax(self.readv, kv, kv, INT_MAX)
        segs, rs_min, rs_max, seg_ssq = self.readv.seg_stats(kv) if kv else (0, 0, 0, 0.0)
        ops = _new_tuple(FileOps, (n_read, kv, n_write, min(rs_min, SHORT_MAX), min(rs_max, SHORT_MAX), segs,
                                   rd_min, rd_max, rv_min, rv_max, wr_min, wr_max))
        return (rd, self.readv.total(kv), wr), ops, _new_tuple(FileSSQ, (rd_ssq, rv_ssq, seg_ssq, wr_ssq))

    @staticmethod
    def _minmax(s: OpSeries, plain: int, counted: int, init: int) -> tuple[int, int, float]:
        # XRootD zeroes min/max only when the (folded) count is 0; pg ops never touch
        # min/max, so an all-pg transfer shows min 0x7fffffff max 0 (real 5.5.3 capture).
        if counted == 0:
            return 0, 0, 0.0
        if plain == 0:
            return init, 0, 0.0
        return s.sizes(plain)


__all__ = ["NO_OPS", "IoPlan", "OpSeries", "pg_bytes", "readv_series", "series"]
