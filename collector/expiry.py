"""Endings driven by time or by a new incarnation: open-file TTL, the DISC grace period,
held t-stream records, idle sessions (by idleness, not age) and servers, and the end of an
incarnation (restart, eviction, shutdown) with a record for every file still open. Never
reads a clock.

A flush does not walk every incarnation: each has a due time (``next_deadline``, the
earliest moment one of its policies can fire) in a heap, and only those due are expired.
An incarnation changed since the last flush (``Tables.touched``: a datagram of its own, an
eviction from its tables) has its due time recomputed first, because a change can bring it
forward. Due times are taken a millisecond early, so the rounding of ``t + ttl`` against
``now - ttl`` can only wake an incarnation for nothing, never late.
"""

from __future__ import annotations

import heapq
from typing import Callable

from collector import crosscheck
from collector.bounds import drop_session, remember_expired
from collector.build import from_open
from collector.records import Anomaly, AnomalyKind, Ended, Event
from collector.sequence import SeqGroup
from collector.state import ServerState, Tables, max_deadlines

_EARLY = 1e-3  # seconds: far above the rounding of a Unix time, far below any policy
_NEVER = float("inf")


def next_deadline(tables: Tables, server: ServerState) -> float:
    """The earliest time at which ``expire_server`` (or the idle end) could change
    ``server``: each ordered table's front (the only entry its expiry looks at first), every
    held t-stream wait, every counter group's oldest pending gap."""
    cfg = tables.cfg
    due = server.last_seen + cfg.server_ttl
    if server.open_files:
        due = min(due, next(iter(server.open_files.values())).t_last + cfg.open_ttl)
    if server.disc:
        due = min(due, next(iter(server.disc.values())))
    if server.t_held:
        due = min(due, min(server.t_held.values()))
    if server.t_files:
        due = min(due, next(iter(server.t_files.values())).t_last + cfg.open_ttl)
    if server.users:
        due = min(due, next(iter(server.users.values())).t_seen + cfg.session_ttl)
    for grp in server.groups.values():
        if grp.pending:
            t_dead, n_dead = next(iter(grp.pending.values()))
            due = min(due, t_dead if grp.serial < n_dead else -_NEVER)
    return due - _EARLY


def schedule(tables: Tables, server: ServerState) -> None:
    """(Re)compute ``server``'s due time and keep the heap's entry of it current."""
    due = next_deadline(tables, server)
    if due == server.due:
        return
    server.due = due
    heap = tables.deadlines
    heapq.heappush(heap, (due, tables.next_serial(), server))
    if len(heap) > max_deadlines(len(tables.servers)):  # superseded entries: keep the live ones only
        heap[:] = [(s.due, tables.next_serial(), s) for s in tables.servers.values() if s.due < _NEVER]
        heapq.heapify(heap)


def due_servers(tables: Tables, now: float) -> list[ServerState]:
    """The incarnations due at ``now``, in the order of ``Tables.servers`` (least recently
    seen first, as a walk of every one would meet them); their heap entries are taken."""
    for server in tables.touched:
        if not server.ended:
            schedule(tables, server)
    tables.touched.clear()
    heap = tables.deadlines
    due = []
    while heap and heap[0][0] <= now:
        t_due, _, server = heapq.heappop(heap)
        if t_due == server.due and not server.ended:
            server.due = _NEVER  # no live entry until it is scheduled again
            due.append(server)
    due.sort(key=_news)
    return due


def _news(server: ServerState) -> int:
    return server.news


def flush_due(tables: Tables, now: float, end: Callable[[ServerState], None], out: list[Event]) -> None:
    """Apply every time-driven policy due at ``now``: an incarnation idle for ``server_ttl``
    is ended (``end``), every other due one expired and scheduled again."""
    idle = now - tables.cfg.server_ttl
    for server in due_servers(tables, now):
        if server.last_seen <= idle:
            end(server)
        else:
            expire_server(tables, server, now, out)
            schedule(tables, server)


def tell_loss(server: ServerState, group: str, grp: SeqGroup, now: float, out: list[Event]) -> None:
    """A ``pseq_loss`` event for what ``grp`` declared lost (or took back) since it last told."""
    if grp.lost != grp.told:
        out.append(Anomaly(AnomalyKind.PSEQ_LOSS, server.key, f"{group} {grp.news()}", now))


def expire_server(tables: Tables, server: ServerState, now: float, out: list[Event]) -> None:
    """Everything of one incarnation whose time is up at ``now``."""
    _expire_open(tables, server, now - tables.cfg.open_ttl, now, out)
    if server.disc:
        _expire_disc(tables, server, now, out)
    crosscheck.expire(tables, server, now, out)
    _expire_sessions(tables, server, now, now - tables.cfg.session_ttl)
    for (_, name), grp in server.groups.items():
        if grp.pending:
            grp.expire(now)
            tell_loss(server, name, grp, now, out)


def _expire_open(tables: Tables, server: ServerState, horizon: float, now: float, out: list[Event]) -> None:
    opens = server.open_files
    while opens:
        fid, of = next(iter(opens.items()))
        if of.t_last > horizon:
            break
        del opens[fid]
        tables.n_open -= 1
        out.append(from_open(server, of, Ended.TIMEOUT, False, now))
        remember_expired(tables, server, of)


def _expire_disc(tables: Tables, server: ServerState, now: float, out: list[Event]) -> None:
    """Sessions past their DISC grace go; a file they left open lost its CLOSE."""
    while server.disc:
        dictid, deadline = next(iter(server.disc.items()))
        if deadline > now:
            break
        user = server.users.get(dictid)
        for fid in sorted(user.files) if user is not None else ():
            of = server.open_files.pop(fid, None)
            if of is not None:
                tables.n_open -= 1
                out.append(from_open(server, of, Ended.FORCED_CLOSE, True, now))
                remember_expired(tables, server, of)
        drop_session(tables, server, dictid)


def _expire_sessions(tables: Tables, server: ServerState, now: float, horizon: float) -> None:
    """Sessions idle for ``session_ttl`` go; the maps stay ordered by when each was last seen
    busy. A session is busy when it has a file open or opened or closed one since it was last
    looked at: such a one is seen busy now and moves to the end, so a session is dropped only
    after a whole TTL without file activity (and at most two TTLs after its last)."""
    users = server.users
    while users:
        dictid, user = next(iter(users.items()))
        if user.t_seen > horizon:
            break
        files = user.files
        uses = getattr(files, "uses", user.seen_uses)
        if files or uses != user.seen_uses:
            user.t_seen, user.seen_uses = now, uses
            users[dictid] = users.pop(dictid)
            continue
        drop_session(tables, server, dictid)


def end_incarnation(tables: Tables, server: ServerState, ended: Ended, now: float, out: list[Event]) -> None:
    """The incarnation is over: every open file becomes a record ``ended``, held t-stream
    transfers are emitted, and its tables are released."""
    for of in server.open_files.values():
        out.append(from_open(server, of, ended, False, now))
    crosscheck.flush_all(tables, server, ended, now, out)
    tables.n_open -= len(server.open_files)
    tables.n_sessions -= len(server.users)
    tables.n_paths -= len(server.paths)
    server.open_files.clear()
    server.users.clear()
    server.uid_index.clear()
    server.paths.clear()
    server.disc.clear()
    tables.n_expired -= len(server.expired)
    server.expired.clear()
    server.f_closed.clear()
    for (_, name), grp in server.groups.items():
        grp.declare_all()
        tell_loss(server, name, grp, now, out)
    server.ended = True
