"""Assemble a ``TransferRecord`` from what the state knows: server, session, file, close
statistics (spec §4.5, §9.2). Pure functions; the statistics rules live here only.

A min above its max (INT32_MAX min of a pg-only file, docs/spec-notes.md) or a zero count
means "no plain operations": min, max and σ are None then.
"""

from __future__ import annotations

import math

from collector.records import Ended, TransferRecord
from collector.state import OpenFile, ServerState, TraceFile
from collector.users import UserInfo
from xrdsim.wire import FileOps, FileSSQ

#: (read_ops, readv_ops, write_ops, readv_segments, read_min, read_max, read_sigma,
#:  readv_min, readv_max, readv_sigma, write_min, write_max, write_sigma)
Stats = tuple
NO_STATS: Stats = (None,) * 13
_NOBODY = UserInfo(0, "", 0.0)


def _spread(n: int, lo: int, hi: int, total: float, ssq: float | None) -> tuple:
    if n <= 0 or lo > hi:
        return None, None, None
    if ssq is None:
        return lo, hi, None
    mean = total / n
    var = ssq / n - mean * mean
    # σ² can come out slightly negative by rounding; NaN/inf only from a hostile SSQ block
    return lo, hi, math.sqrt(var) if var > 0.0 and math.isfinite(var) else (0.0 if var <= 0.0 else None)


def close_stats(ops: FileOps | None, ssq: FileSSQ | None, read: int, readv: int, write: int) -> Stats:
    """Statistics of an f-stream CLOSE: counts, min/max and σ (σ² = SSQ/n − mean²)."""
    if ops is None:
        return NO_STATS
    sr = sv = sw = None
    if ssq is not None:
        sr, sv, sw = ssq.read, ssq.readv, ssq.write
    return (
        (ops.read, ops.readv, ops.write, ops.rsegs)
        + _spread(ops.read, ops.rd_min, ops.rd_max, read, sr)
        + _spread(ops.readv, ops.rv_min, ops.rv_max, readv, sv)
        + _spread(ops.write, ops.wr_min, ops.wr_max, write, sw)
    )


def trace_stats(tf: TraceFile) -> Stats:
    """Statistics aggregated from t-stream I/O entries (spec §5.2)."""
    return (
        (tf.read_ops, tf.readv_ops, tf.write_ops, tf.rsegs)
        + _spread(tf.read_ops, tf.rd_min, tf.rd_max, tf.read, tf.rd_ssq)
        + _spread(tf.readv_ops, tf.rv_min, tf.rv_max, tf.readv, tf.rv_ssq)
        + _spread(tf.write_ops, tf.wr_min, tf.wr_max, tf.write, tf.wr_ssq)
    )


def transfer(
    server: ServerState,
    user: UserInfo | None,
    file: tuple[int, str, int, bool, int],
    moved: tuple[int, int, int],
    stats: Stats,
    times: tuple[float | None, float | None],
    how: tuple[Ended, bool, str],
    t_emitted: float,
    revision: int = 0,
    t_io: tuple[int, int] | None = None,
) -> TransferRecord:
    """One record. ``file`` = (dictid, lfn, size, opened rw, user dictid); ``moved`` = (read,
    readv, write) bytes; ``times`` = (start, end); ``how`` = (ended, lost around, source);
    ``revision`` counts the records of this transfer emitted before; ``t_io`` = (read+readv,
    write) summed from the t-stream's I/O entries."""
    u = user or _NOBODY
    fid, lfn, size, rw, user_dictid = file
    read, readv, write = moved
    start, end = times
    ended, lost, source = how
    return TransferRecord(
        server.key, server.host, server.ip, server.port, server.site,
        u.user, u.user_dn, u.vo, u.role, u.client_host, u.client_ip, u.protocol, u.ipv6, u.app_info,
        lfn, fid, size, read + readv, read, readv, write, *stats,
        start, end, None if start is None or end is None else end - start,
        ended, lost, source, lfn in server.tpc_paths if server.tpc_paths else False, t_emitted,
        user_dictid, u.auth_protocol, u.token_subject, u.experiment, u.activity, rw,
        f"{server.key}/{fid}", revision, *(t_io or (None, None)),  # record_id: incarnation + file dictid
    )  # fmt: skip


def from_open(server: ServerState, of: OpenFile, ended: Ended, lost: bool, t_emitted: float) -> TransferRecord:
    """A record for a file that did not close (timeout, eviction, restart, shutdown, a DISC
    without CLOSE): its last XFR counters, no statistics, end = the last news of it."""
    file = (of.file_id, of.lfn, of.size, of.rw, of.user)
    return transfer(
        server, server.user_for(of.user, of.file_id), file, (of.read, of.readv, of.write), NO_STATS,
        (of.t_open, of.t_event), (ended, lost or server.f_epoch != of.epoch, "f"), t_emitted, of.revision,
    )  # fmt: skip
