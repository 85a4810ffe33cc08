"""The t-stream into per-file aggregates (spec §5): OPEN size, READ/WRITE sums and sizes,
READV totals, CLOSE totals, DISC; window marks give the time. Records come from
``crosscheck`` (t-only servers), which also compares t with f.

READU (``iov``) is followed by one READ per segment: those are the vector's own segments,
counted once in the READV total and not again as single reads.
"""

from __future__ import annotations

from collector import crosscheck
from collector.records import Anomaly, AnomalyKind, Event
from collector.state import ServerState, Tables, TraceFile
from xrdsim.wire import TraceClose, TraceDisc, TraceIO, TraceMarker, TraceOpen, TracePacket, TraceReadv, TraceWindow

_MASK48 = (1 << 48) - 1
_READU = int(TraceMarker.READU)


def trace_sid(pkt: TracePacket) -> int | None:
    """The fingerprint of the first WINDOW mark (low 48 bits), or None."""
    for entry in pkt.entries:
        if type(entry) is TraceWindow:
            return (entry.sid & _MASK48) or None
    return None


def feed_trace(tables: Tables, server: ServerState, pkt: TracePacket, t: float, out: list[Event]) -> None:
    """Apply one t packet: entries in order, timed by the window they fall in."""
    server.t_seen = True
    files = server.t_files
    t_win: float | None = None
    skip = 0
    for e in pkt.entries:
        typ = type(e)
        if typ is TraceIO:
            server.t_io = True
            tf = files.get(e.file_id) or _touch(tables, server, e.file_id, t_win, t, out)
            if tf.t_last != t and e.file_id in files:  # first news in this datagram: to the end of the TTL order
                tf.t_last = t
                del files[e.file_id]
                files[e.file_id] = tf
            if skip:
                skip -= 1
            else:
                _io(tf, e.length)
        elif typ is TraceWindow:
            t_win = float(e.next_start)
        elif typ is TraceReadv:
            server.t_io = True
            tf = files.get(e.file_id) or _touch(tables, server, e.file_id, t_win, t, out)
            if e.total < 0:  # a READV total is a 32-bit signed field: below 0 it is no size
                out.append(Anomaly(AnomalyKind.UNKNOWN_PAYLOAD, server.key, f"t READV of file {e.file_id}: total {e.total} < 0, taken as 0", t, e.file_id))
                e.total = 0
            tf.readv += e.total
            tf.readv_ops += 1
            tf.rsegs += e.nsegs
            tf.rv_min, tf.rv_max = min(tf.rv_min, e.total), max(tf.rv_max, e.total)
            tf.rv_ssq += float(e.total) * e.total
            skip = e.nsegs if e.kind == _READU else 0
        else:
            _OTHER.get(typ, _ignore)(tables, server, e, t_win, t, out)


def _io(tf: TraceFile, length: int) -> None:
    if length >= 0:
        tf.read += length
        tf.read_ops += 1
        tf.rd_min, tf.rd_max = min(tf.rd_min, length), max(tf.rd_max, length)
        tf.rd_ssq += float(length) * length
    else:
        n = -length
        tf.write += n
        tf.write_ops += 1
        tf.wr_min, tf.wr_max = min(tf.wr_min, n), max(tf.wr_max, n)
        tf.wr_ssq += float(n) * n


def _touch(tables: Tables, server: ServerState, fid: int, t_win: float | None, t: float, out: list[Event]) -> TraceFile:
    """A t file first seen by an I/O entry (its OPEN was lost or came before we started).
    A file whose t side is over gets a scratch entry that is not kept. Such entries count
    against ``max_open_files`` like opened ones (I/O for never-opened files is unbounded)."""
    tf = TraceFile(fid, 0, None, t, -1)
    if crosscheck.is_done(server, fid):
        return tf
    server.t_files[fid] = tf
    tables.n_trace += 1
    if tables.n_trace > tables.cfg.max_open_files:
        _evict(tables, server, t, out)
    return tf


def _evict(tables: Tables, server: ServerState, t: float, out: list[Event]) -> None:
    """The oldest t file of ``server`` goes, or of the fullest incarnation when ``server``
    holds only the one just added."""
    victim = server if len(server.t_files) > 1 else tables.fullest("t_files")
    if victim is not None and victim.t_files:
        crosscheck.evict_oldest(tables, victim, t, out)


def _open(tables: Tables, server: ServerState, e: TraceOpen, t_win: float | None, t: float, out: list[Event]) -> None:
    fid = e.file_id
    known = server.t_files.get(fid)
    if known is not None:  # the same OPEN from the other buffer (session io, shared files)
        known.size = known.size or e.fsz
        if known.t_open is None:
            known.t_open = t_win
        return
    if crosscheck.is_done(server, fid):
        return
    server.t_files[fid] = TraceFile(fid, e.fsz, t_win, t, server.m_epoch)
    tables.n_trace += 1
    if tables.n_trace > tables.cfg.max_open_files:
        _evict(tables, server, t, out)


def _close(tables: Tables, server: ServerState, e: TraceClose, t_win: float | None, t: float, out: list[Event]) -> None:
    if crosscheck.is_done(server, e.file_id):
        return  # the second CLOSE of a file whose t side is over
    tf = server.t_files.get(e.file_id) or _touch(tables, server, e.file_id, t_win, t, out)
    tf.close_read, tf.close_write = e.read_bytes, e.write_bytes
    tf.close_precision = (1 << e.rshift, 1 << e.wshift)
    tf.closed = True
    tf.t_event = t_win
    crosscheck.t_closed(tables, server, tf, t, out)


def _disc(tables: Tables, server: ServerState, e: TraceDisc, t_win: float | None, t: float, out: list[Event]) -> None:
    server.end_session(e.user_id, t, tables.cfg.session_grace)


def _ignore(tables: Tables, server: ServerState, e: object, t_win: float | None, t: float, out: list[Event]) -> None:
    return None


#: the rarer entries, by type (READ/WRITE, WINDOW and READV are inlined above).
_OTHER = {TraceOpen: _open, TraceClose: _close, TraceDisc: _disc}
