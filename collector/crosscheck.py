"""The f- and t-streams of one file, side by side (spec §4, §5): which one makes the record,
and whether they agree.

An incarnation that sends an f-stream gets its records from f; its t CLOSE totals are only
compared (an anomaly beyond the CLOSE shift precision). One that sends only t (no f seen
within ``t_hold`` of its first datagram) gets records from t (source ``t``).
"""

from __future__ import annotations

from collector.bounds import trim
from collector.build import transfer, trace_stats
from collector.records import Anomaly, AnomalyKind, Ended, Event
from collector.state import ServerState, Tables, TraceFile

_SIDE = 4096  # bound of the cross-check side tables per incarnation


def is_t_only(tables: Tables, server: ServerState, now: float) -> bool:
    """No f-stream seen, and ``t_hold`` has passed since the incarnation's first datagram."""
    return not server.f_seen and now - server.t_first >= tables.cfg.t_hold


def release_held(server: ServerState, t: float, out: list[Event]) -> None:
    """The first f packet: held t transfers become shadows waiting for their f CLOSE."""
    server.t_held.clear()


def f_closed(tables: Tables, server: ServerState, fid: int, read: int, write: int, t: float, out: list[Event]) -> bool:
    """An f CLOSE of ``fid`` with (read+readv, write) totals; False when the file was already
    recorded from the t-stream (an anomaly then stands for the second record)."""
    if server.t_recorded and fid in server.t_recorded:
        del server.t_recorded[fid]
        out.append(Anomaly(AnomalyKind.LATE_STREAM, server.key, "f CLOSE of a file recorded from the t-stream", t, fid))
        return False
    tf = server.t_files.get(fid) if server.t_seen else None
    if tf is not None and tf.closed:
        _compare(server, tf, read, write, t, out)
        _drop(tables, server, fid)
    elif server.t_seen or t - server.t_first < tables.cfg.t_hold:  # a t CLOSE may still come
        server.f_closed[fid] = (read, write)
        trim(server.f_closed, _SIDE)
    return True


def t_closed(tables: Tables, server: ServerState, tf: TraceFile, t: float, out: list[Event]) -> None:
    """A t CLOSE: compare with f, emit a t-only record, or hold it for the f decision."""
    fid = tf.file_id
    if server.f_seen:
        totals = server.f_closed.pop(fid, None)
        if totals is not None:
            _compare(server, tf, totals[0], totals[1], t, out)
            _drop(tables, server, fid)
    elif is_t_only(tables, server, t):
        out.append(trace_record(server, tf, Ended.CLOSE, t))
        _drop(tables, server, fid)
        server.t_recorded[fid] = None
        trim(server.t_recorded, _SIDE)
    else:
        server.t_held[fid] = server.t_first + tables.cfg.t_hold


def _compare(server: ServerState, tf: TraceFile, read: int, write: int, t: float, out: list[Event]) -> None:
    if tf.close_read is None or tf.close_write is None:
        return
    step_r, step_w = tf.close_precision
    if not (tf.close_read <= read < tf.close_read + step_r and tf.close_write <= write < tf.close_write + step_w):
        detail = f"f read {read} write {write}; t read {tf.close_read}(+{step_r}) write {tf.close_write}(+{step_w})"
        out.append(Anomaly(AnomalyKind.STREAM_MISMATCH, server.key, detail, t, tf.file_id))


def _drop(tables: Tables, server: ServerState, fid: int) -> None:
    """The t side of a file is done (recorded, compared or expired): release its entries."""
    if server.t_files.pop(fid, None) is not None:
        tables.n_trace -= 1
    if server.paths.pop(fid, None) is not None:
        tables.n_paths -= 1
    server.t_held.pop(fid, None)


def trace_record(server: ServerState, tf: TraceFile, ended: Ended, t: float):  # -> TransferRecord
    """A record from the t-stream: exact I/O sums when they agree with the CLOSE totals,
    else the CLOSE totals (read split by the READV sum)."""
    read, readv, write = tf.read, tf.readv, tf.write
    if tf.close_read is not None and tf.close_write is not None:
        step_r, step_w = tf.close_precision
        if not tf.close_read <= read + readv < tf.close_read + step_r:
            readv = min(readv, tf.close_read)
            read = tf.close_read - readv
        if not tf.close_write <= write < tf.close_write + step_w:
            write = tf.close_write
    path = server.paths.get(tf.file_id)
    file = (tf.file_id, path[0] if path is not None else "", tf.size, write > 0, 0)
    lost = tf.epoch != server.m_epoch
    return transfer(server, server.user_for(0, tf.file_id), file, (read, readv, write), trace_stats(tf), (tf.t_open, tf.t_event), (ended, lost, "t"), t)


def expire(tables: Tables, server: ServerState, now: float, out: list[Event]) -> None:
    """Held transfers whose f decision is due; t files without news for ``open_ttl``."""
    if server.t_held and not server.f_seen:
        for fid, deadline in list(server.t_held.items()):
            if deadline > now:
                break
            tf = server.t_files.get(fid)
            if tf is not None:
                out.append(trace_record(server, tf, Ended.CLOSE, now))
                server.t_recorded[fid] = None
            _drop(tables, server, fid)
        trim(server.t_recorded, _SIDE)
    horizon = now - tables.cfg.open_ttl
    while server.t_files:
        fid, tf = next(iter(server.t_files.items()))
        if tf.t_last > horizon:
            break
        if not tf.closed and is_t_only(tables, server, now):
            out.append(trace_record(server, tf, Ended.TIMEOUT, now))
        tables.evicted["trace_expired"] = tables.evicted.get("trace_expired", 0) + 1
        _drop(tables, server, fid)


def evict_oldest(tables: Tables, server: ServerState, t: float, out: list[Event]) -> None:
    """Past ``max_open_files`` t files: the oldest goes (a record when it is t-only)."""
    fid, tf = next(iter(server.t_files.items()))
    if is_t_only(tables, server, t):
        out.append(trace_record(server, tf, Ended.CLOSE if tf.closed else Ended.EVICTED, t))
    tables.evicted["trace_files"] += 1
    _drop(tables, server, fid)


def flush_all(tables: Tables, server: ServerState, ended: Ended, now: float, out: list[Event]) -> None:
    """The incarnation ends: without an f-stream, every t transfer becomes a record."""
    for fid, tf in list(server.t_files.items()):
        if not server.f_seen:
            out.append(trace_record(server, tf, Ended.CLOSE if tf.closed else ended, now))
        _drop(tables, server, fid)
