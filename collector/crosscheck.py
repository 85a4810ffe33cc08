"""The f- and t-streams of one file, side by side (spec §4, §5): which one makes the record,
and whether they agree.

An incarnation that sends an f-stream gets its records from f, emitted at the f CLOSE; its
t side is compared when it is over: the t CLOSE totals against the f CLOSE (an anomaly
beyond the shift precision) and the t-stream's own I/O entries against the f CLOSE. XRootD
5.5.3 reports HTTP PUTs, and pg transfers ended by a disconnect, with 0 bytes in the CLOSE
while the I/O entries carry the real bytes (docs/spec-notes.md): such a disagreement is an
``io_mismatch`` anomaly naming the file, and the record is emitted again (next revision)
with both figures. One that sends only t (no f seen within ``t_hold`` of its first
datagram) gets records from t (source ``t``) whose bytes are the I/O sums.

With ``files`` and ``io`` on, XRootD sends a file's CLOSE twice: in the session's own
buffer after its I/O entries, and in the shared files buffer, which may be flushed first.
So the t side of a file is over at its second CLOSE, at a CLOSE whose I/O sums already
reach the totals, or ``session_grace`` after its first CLOSE.
"""

from __future__ import annotations

import dataclasses

from collector.bounds import trim
from collector.build import trace_stats, transfer
from collector.records import Anomaly, AnomalyKind, Ended, Event, TransferRecord
from collector.state import ServerState, Tables, TraceFile

_SIDE = 4096  # bound of the cross-check side tables per incarnation


def is_t_only(tables: Tables, server: ServerState, now: float) -> bool:
    """No f-stream seen, and ``t_hold`` has passed since the incarnation's first datagram."""
    return not server.f_seen and now - server.t_first >= tables.cfg.t_hold


def release_held(server: ServerState, t: float, out: list[Event]) -> None:
    """The first f packet: t transfers held for the f decision wait for their f CLOSE."""
    server.t_held.clear()


def f_closed(tables: Tables, server: ServerState, record: TransferRecord, t: float, out: list[Event]) -> None:
    """An f CLOSE made ``record``: emit it (with the t figures when the t side is over), or
    an anomaly instead when the file was already recorded from the t-stream."""
    fid = record.file_dictid
    done = server.t_done.get(fid) if server.t_done else None
    if done:
        del server.t_done[fid]
        out.append(Anomaly(AnomalyKind.LATE_STREAM, server.key, f"f CLOSE of {record.file_lfn or fid} recorded from the t-stream", t, fid))
        return
    tf = server.t_files.get(fid) if server.t_seen else None
    if tf is not None and tf.closed:
        if _over(server, tf, _f_totals(record)):
            out.append(_with_t(record, tf) if server.t_io else record)
            _compare(server, tf, record, t, out, revise=False)
            _finish(tables, server, fid, False)
            return
        server.t_held[fid] = t + tables.cfg.session_grace  # the rest of its I/O entries may follow
    out.append(record)
    if done is None and (server.t_seen or t - server.t_first < tables.cfg.t_hold):  # a t CLOSE may still come
        server.f_closed[fid] = record
        trim(server.f_closed, _SIDE)


def t_closed(tables: Tables, server: ServerState, tf: TraceFile, t: float, out: list[Event]) -> None:
    """A t CLOSE: compare with f, emit a t-only record, or wait (f decision, late I/O)."""
    fid = tf.file_id
    tf.closes += 1
    if server.f_seen:
        record = server.f_closed.get(fid)
        if record is None:
            return  # the f CLOSE finds it (or the t-only hold below is over)
        if _over(server, tf, _f_totals(record)):
            _compare(server, tf, record, t, out, revise=True)
            _finish(tables, server, fid, False)
        else:
            server.t_held[fid] = t + tables.cfg.session_grace
    elif is_t_only(tables, server, t):
        if _over(server, tf, (tf.close_read or 0, tf.close_write or 0)):
            _t_record(tables, server, tf, Ended.CLOSE, t, out)
        else:
            server.t_held[fid] = t + tables.cfg.session_grace
    else:
        server.t_held[fid] = max(server.t_first + tables.cfg.t_hold, t + tables.cfg.session_grace)


def is_done(server: ServerState, fid: int) -> bool:
    """The t side of ``fid`` is over: a repeated CLOSE or a late I/O entry changes nothing."""
    return bool(server.t_done) and fid in server.t_done


def _over(server: ServerState, tf: TraceFile, totals: tuple[int, int]) -> bool:
    if not server.t_io or tf.closes >= 2:
        return True
    read, write = tf.io_totals()
    return read >= totals[0] and write >= totals[1]


def _f_totals(record: TransferRecord) -> tuple[int, int]:
    return record.read_bytes, record.write_bytes


def _close_agrees(tf: TraceFile, read: int, write: int) -> tuple[bool, bool]:
    """Whether (read, write) fall within the shift precision of the t CLOSE totals (spec §5.2)."""
    step_r, step_w = tf.close_precision
    return tf.close_read <= read < tf.close_read + step_r, tf.close_write <= write < tf.close_write + step_w  # type: ignore[operator]


def _with_t(record: TransferRecord, tf: TraceFile, revise: bool = False) -> TransferRecord:
    read, write = tf.io_totals()
    return dataclasses.replace(record, t_read_bytes=read, t_write_bytes=write, revision=record.revision + revise)


def _compare(server: ServerState, tf: TraceFile, record: TransferRecord, t: float, out: list[Event], revise: bool) -> None:
    """The t side of an f-recorded file is over: anomalies where they disagree; with
    ``revise``, a disagreeing I/O sum re-emits the record with the t figures."""
    read, write = _f_totals(record)
    fid, name = tf.file_id, record.file_lfn or str(tf.file_id)
    if tf.close_read is not None and tf.close_write is not None and not all(_close_agrees(tf, read, write)):
        step_r, step_w = tf.close_precision
        detail = f"{name}: f read {read} write {write}; t read {tf.close_read}(+{step_r}) write {tf.close_write}(+{step_w})"
        out.append(Anomaly(AnomalyKind.STREAM_MISMATCH, server.key, detail, t, fid))
    io_r, io_w = tf.io_totals()
    if server.t_io and (io_r, io_w) != (read, write):
        detail = f"{name}: f CLOSE read {read} write {write}; t I/O entries read {io_r} write {io_w}"
        out.append(Anomaly(AnomalyKind.IO_MISMATCH, server.key, detail, t, fid))
        if revise:
            out.append(_with_t(record, tf, revise=True))


def _finish(tables: Tables, server: ServerState, fid: int, recorded_from_t: bool) -> None:
    """The t side of a file is over (recorded, compared or expired): release its entries."""
    if server.t_files.pop(fid, None) is not None:
        tables.n_trace -= 1
    if server.paths.pop(fid, None) is not None:
        tables.n_paths -= 1
    server.t_held.pop(fid, None)
    server.f_closed.pop(fid, None)
    server.t_done[fid] = recorded_from_t
    trim(server.t_done, _SIDE)


def _t_record(tables: Tables, server: ServerState, tf: TraceFile, ended: Ended, t: float, out: list[Event]) -> None:
    out.extend(trace_record(server, tf, ended, t))
    _finish(tables, server, tf.file_id, True)


def trace_record(server: ServerState, tf: TraceFile, ended: Ended, t: float) -> list[Event]:
    """A record from the t-stream, with its anomaly when the CLOSE totals disagree with the
    I/O entries. Bytes are the I/O sums; the CLOSE totals stand in where the stream has no
    I/O entries, or where packets were lost around the file and the CLOSE says more."""
    out: list[Event] = []
    read, readv, write = tf.read, tf.readv, tf.write
    lost = tf.epoch != server.m_epoch
    path = server.paths.get(tf.file_id)
    name = path[0] if path is not None and path[0] else str(tf.file_id)
    if tf.close_read is not None and tf.close_write is not None:
        step_r, step_w = tf.close_precision
        read_ok, write_ok = _close_agrees(tf, read + readv, write)
        if server.t_io and not (read_ok and write_ok):
            detail = f"{name}: t CLOSE read {tf.close_read}(+{step_r}) write {tf.close_write}(+{step_w}); I/O entries read {read + readv} write {write}"
            out.append(Anomaly(AnomalyKind.IO_MISMATCH, server.key, detail, t, tf.file_id))
        if not read_ok and (not server.t_io or (lost and tf.close_read > read + readv)):
            readv = min(readv, tf.close_read)
            read = tf.close_read - readv
        if not write_ok and (not server.t_io or (lost and tf.close_write > write)):
            write = tf.close_write
    file = (tf.file_id, path[0] if path is not None else "", tf.size, write > 0, 0)
    t_io = tf.io_totals() if server.t_io else None
    out.append(transfer(server, server.user_for(0, tf.file_id), file, (read, readv, write), trace_stats(tf),
                        (tf.t_open, tf.t_event), (ended, lost, "t"), t, 0, t_io))  # fmt: skip
    return out


def expire(tables: Tables, server: ServerState, now: float, out: list[Event]) -> None:
    """Waits that are due (the f decision, late I/O); t files without news for ``open_ttl``."""
    if server.t_held:
        for fid, deadline in list(server.t_held.items()):
            if deadline > now:
                continue
            tf = server.t_files.get(fid)
            record = server.f_closed.get(fid)
            if tf is not None and record is not None:
                _compare(server, tf, record, now, out, revise=True)
                _finish(tables, server, fid, False)
            elif tf is not None and not server.f_seen:
                _t_record(tables, server, tf, Ended.CLOSE, now, out)
            else:  # gone, or an f-stream without this file's CLOSE yet: that CLOSE compares when it comes
                server.t_held.pop(fid, None)
    horizon = now - tables.cfg.open_ttl
    while server.t_files:
        fid, tf = next(iter(server.t_files.items()))
        if tf.t_last > horizon:
            break
        if is_t_only(tables, server, now):
            _t_record(tables, server, tf, Ended.CLOSE if tf.closed else Ended.TIMEOUT, now, out)
        else:
            _finish(tables, server, fid, False)
        tables.evicted["trace_expired"] = tables.evicted.get("trace_expired", 0) + 1


def evict_oldest(tables: Tables, server: ServerState, t: float, out: list[Event]) -> None:
    """Past ``max_open_files`` t files: the oldest goes (a record when it is t-only)."""
    fid, tf = next(iter(server.t_files.items()))
    tables.evicted["trace_files"] += 1
    if is_t_only(tables, server, t):
        _t_record(tables, server, tf, Ended.CLOSE if tf.closed else Ended.EVICTED, t, out)
    else:
        _finish(tables, server, fid, False)


def flush_all(tables: Tables, server: ServerState, ended: Ended, now: float, out: list[Event]) -> None:
    """The incarnation ends: pending comparisons are made, and without an f-stream every t
    transfer becomes a record."""
    for fid, tf in list(server.t_files.items()):
        record = server.f_closed.get(fid)
        if record is not None and tf.closed:
            _compare(server, tf, record, now, out, revise=True)
            _finish(tables, server, fid, False)
        elif not server.f_seen:
            _t_record(tables, server, tf, Ended.CLOSE if tf.closed else ended, now, out)
        else:
            _finish(tables, server, fid, False)
