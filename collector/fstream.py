"""The f-stream into records (spec §4, §9.1): OPEN → open table, XFR → latest counters,
CLOSE → one record joining session and path, DISC → the session ends.

Record times are interpolated by position between the TOD's tBeg and tEnd (spec §4.3).
An XFR or CLOSE for a file never seen open still ends in a record (close_without_open).
"""

from __future__ import annotations

from collector import crosscheck
from collector.bounds import evict_open, trim
from collector.build import close_stats, transfer
from collector.records import Anomaly, AnomalyKind, Ended, Event
from collector.state import OpenFile, ServerState, Tables
from xrdsim.wire import FileClose, FileDisc, FileOpen, FileXfr, FstreamPacket


def feed_fstream(tables: Tables, server: ServerState, pkt: FstreamPacket, t: float, out: list[Event]) -> None:
    """Apply every record of one f packet, in order."""
    if not server.f_seen:
        server.f_seen = True
        crosscheck.release_held(server, t, out)
    recs = pkt.records
    n = len(recs)
    t0 = float(pkt.tod.t_beg)
    step = (pkt.tod.t_end - pkt.tod.t_beg) / n if n else 0.0
    for i, rec in enumerate(recs):
        typ = type(rec)
        if typ is FileClose:
            _close(tables, server, rec, t0 + step * i, t, out)  # type: ignore[arg-type]
        elif typ is FileOpen:
            _open(tables, server, rec, t0 + step * i, t, out)  # type: ignore[arg-type]
        elif typ is FileXfr:
            _xfr(tables, server, rec, t0 + step * i, t, out)  # type: ignore[arg-type]
        elif typ is FileDisc:
            server.end_session(rec.user, t, tables.cfg.session_grace)  # type: ignore[union-attr]


def _open(tables: Tables, server: ServerState, rec: FileOpen, t_evt: float, t: float, out: list[Event]) -> None:
    fid = rec.file_id
    if server.orphans and fid in server.orphans:  # reordered: its CLOSE already made the record
        del server.orphans[fid]
        out.append(Anomaly(AnomalyKind.LATE_OPEN, server.key, f"OPEN of {rec.lfn or ''} after its CLOSE", t, fid))
        return
    lfn = rec.lfn
    if lfn is None:
        path = server.paths.get(fid)
        lfn = path[0] if path is not None else ""
    user = rec.user or 0
    if server.open_files.pop(fid, None) is None:
        tables.n_open += 1
    server.open_files[fid] = OpenFile(fid, lfn, rec.fsz, user, rec.rw, t_evt, t, server.f_epoch)
    if user:
        session = server.users.get(user)
        if session is not None:
            session.files.add(fid)
    if tables.n_open > tables.cfg.max_open_files:
        evict_open(tables, server, t, out)


def _xfr(tables: Tables, server: ServerState, rec: FileXfr, t_evt: float, t: float, out: list[Event]) -> None:
    opens = server.open_files
    of = opens.get(rec.file_id)
    if of is not None:
        opens.move_to_end(rec.file_id)  # the table stays ordered by news (no re-accounting of its bytes)
    else:
        of = server.expired.pop(rec.file_id, None) if server.expired else None  # news of a file recorded by timeout
        if of is not None:
            tables.n_expired -= 1
        else:  # an XFR whose OPEN we never saw: tracked so a timeout still reports it
            of = OpenFile(rec.file_id, _path(server, rec.file_id), 0, 0, False, None, t, -1)
        tables.n_open += 1
        opens[rec.file_id] = of
    of.read, of.readv, of.write = rec.read, rec.readv, rec.write
    of.t_event, of.t_last = t_evt, t
    if tables.n_open > tables.cfg.max_open_files:
        evict_open(tables, server, t, out)


def _close(tables: Tables, server: ServerState, rec: FileClose, t_evt: float, t: float, out: list[Event]) -> None:
    fid = rec.file_id
    of = server.open_files.pop(fid, None)
    if of is not None:
        tables.n_open -= 1
    elif server.expired:
        of = server.expired.pop(fid, None)  # recorded before its CLOSE: this completes the same transfer
        if of is not None:
            tables.n_expired -= 1
    if of is not None:
        ended = Ended.FORCED_CLOSE if rec.forced else Ended.CLOSE
        if of.t_open is None:
            ended = Ended.CLOSE_WITHOUT_OPEN
        user = server.user_for(of.user, fid)
        if user is not None:
            user.files.discard(fid)
        lfn = of.lfn or _path(server, fid)
        file = (fid, lfn, of.size, of.rw, of.user)
        lost = of.epoch != server.f_epoch
    else:
        ended, user, lost = Ended.CLOSE_WITHOUT_OPEN, server.user_for(0, fid), server.f_epoch > 0
        server.orphans[fid] = None
        trim(server.orphans, 4096)
        file = (fid, _path(server, fid), 0, False, 0)
    record = transfer(
        server, user, file, (rec.read, rec.readv, rec.write), close_stats(rec.ops, rec.ssq, rec.read, rec.readv, rec.write),
        (of.t_open if of is not None else None, t_evt), (ended, lost, "f"), t, of.revision if of is not None else 0,
    )  # fmt: skip
    if server.paths.pop(fid, None) is not None:  # the d map of a file ends with its record
        tables.n_paths -= 1
    crosscheck.f_closed(tables, server, record, t, out)


def _path(server: ServerState, fid: int) -> str:
    path = server.paths.get(fid)
    return path[0] if path is not None else ""
