"""Keeping state bounded: past a ``max_*`` limit the oldest entry goes, and never silently —
an open file becomes a record (``ended=evicted``), a session an anomaly, a path a count.

The victim is the oldest entry of the incarnation that grew, or of the fullest incarnation
when the one that grew holds almost nothing (so one noisy server cannot starve the rest).
The byte budgets (``max_*_bytes``) are enforced the same way by ``enforce``, which ``core``
calls after a datagram that took a budget past its limit.
"""

from __future__ import annotations

from collections import OrderedDict

from collector.build import from_open
from collector.records import Anomaly, AnomalyKind, Ended, Event
from collector.state import OpenFile, ServerState, Tables


def _victim(tables: Tables, server: ServerState, table: str) -> ServerState | None:
    if len(getattr(server, table)) > 1:
        return server
    victim = tables.fullest(table)
    if victim is not None:
        tables.touched[victim] = None  # a new front of its table may be due sooner (collector.expiry)
    return victim


def evict_open(tables: Tables, server: ServerState, t: float, out: list[Event]) -> None:
    """Emit the oldest open file (by last news) as ``ended=evicted``."""
    victim = _victim(tables, server, "open_files")
    if victim is None:
        return
    fid = next(iter(victim.open_files))
    of = victim.open_files.pop(fid)
    tables.n_open -= 1
    tables.evicted["open_files"] += 1
    out.append(from_open(victim, of, Ended.EVICTED, False, t))
    remember_expired(tables, victim, of)


def remember_expired(tables: Tables, server: ServerState, of: OpenFile) -> None:
    """``of`` was just recorded without its CLOSE (timeout, DISC, eviction): keep it so a
    later XFR or CLOSE completes the same transfer as its next revision. Past
    ``max_expired_files`` the oldest such memory goes (counted): its CLOSE would then
    make a ``close_without_open`` record."""
    of.revision += 1
    session = server.users.get(of.user) if of.user else None
    if session is not None:  # the session's set holds files still open: this one no longer is
        session.files.discard(of.file_id)
    if server.expired.pop(of.file_id, None) is None:
        tables.n_expired += 1
    server.expired[of.file_id] = of
    if tables.n_expired > tables.cfg.max_expired_files:
        forget_expired(tables, server)


def forget_expired(tables: Tables, server: ServerState) -> bool:
    """Forget the oldest memory of a file recorded before its CLOSE (counted)."""
    victim = _victim(tables, server, "expired")
    if victim is None or not victim.expired:
        return False
    victim.expired.popitem(last=False)
    tables.n_expired -= 1
    tables.evicted["expired_files"] += 1
    return True


def evict_session(tables: Tables, server: ServerState, t: float, out: list[Event]) -> None:
    """Forget the oldest session; its files keep their dictid but lose user details."""
    victim = _victim(tables, server, "users")
    if victim is None:
        return
    dictid = next(iter(victim.users))
    drop_session(tables, victim, dictid)
    tables.evicted["sessions"] += 1
    out.append(Anomaly(AnomalyKind.SESSION_EVICTED, victim.key, f"user dictid {dictid}", t))


def drop_session(tables: Tables, server: ServerState, dictid: int) -> None:
    """Remove one session from its incarnation's maps."""
    user = server.users.pop(dictid, None)
    if user is None:
        return
    tables.n_sessions -= 1
    if server.uid_index.get(user.userid_text) is user:
        del server.uid_index[user.userid_text]
    server.disc.pop(dictid, None)


def evict_path(tables: Tables, server: ServerState) -> None:
    """Forget the oldest ``d`` path (counted in the report's evictions)."""
    victim = _victim(tables, server, "paths")
    if victim is None:
        return
    del victim.paths[next(iter(victim.paths))]
    tables.n_paths -= 1
    tables.evicted["paths"] += 1


def _evict_tpc_path(tables: Tables, server: ServerState) -> bool:
    victim = server if server.tpc_paths else max(tables.servers.values(), key=lambda s: len(s.tpc_paths), default=None)
    if victim is None or not victim.tpc_paths:
        return False
    victim.tpc_paths.popitem(last=False)
    tables.evicted["tpc_paths"] += 1
    return True


def enforce(tables: Tables, server: ServerState, t: float, out: list[Event]) -> None:
    """Bring every byte budget back under its limit, oldest entries first (``server`` is the
    incarnation that grew): paths then TPC paths, sessions (an anomaly each), memories of
    expired files then open files (a record ``ended=evicted`` each)."""
    tables.over = False
    budgets = tables.budgets
    paths, sessions, opens = budgets["paths"], budgets["sessions"], budgets["open_files"]
    while paths.used > paths.limit:
        if tables.n_paths and _victim(tables, server, "paths") is not None:
            evict_path(tables, server)
        elif not _evict_tpc_path(tables, server):
            break
    while sessions.used > sessions.limit and tables.n_sessions:
        before = tables.n_sessions
        evict_session(tables, server, t, out)
        if tables.n_sessions == before:
            break
    while opens.used > opens.limit and tables.n_expired and forget_expired(tables, server):
        pass
    while opens.used > opens.limit and tables.n_open:
        before = tables.n_open
        evict_open(tables, server, t, out)
        if tables.n_open == before:
            break


def trim(table: OrderedDict, limit: int) -> None:
    """Keep a small side table (digests, cross-check totals) at ``limit`` entries."""
    while len(table) > limit:
        table.popitem(last=False)
