"""Endings driven by time or by a new incarnation: open-file TTL, the DISC grace period,
held t-stream records, idle sessions (by idleness, not age) and servers, and the end of an
incarnation (restart, eviction, shutdown) with a record for every file still open. Never
reads a clock.
"""

from __future__ import annotations

from collector import crosscheck
from collector.bounds import drop_session, remember_expired
from collector.build import from_open
from collector.records import Ended, Event
from collector.state import ServerState, Tables


def expire_server(tables: Tables, server: ServerState, now: float, out: list[Event]) -> None:
    """Everything of one incarnation whose time is up at ``now``."""
    _expire_open(tables, server, now - tables.cfg.open_ttl, now, out)
    if server.disc:
        _expire_disc(tables, server, now, out)
    crosscheck.expire(tables, server, now, out)
    _expire_sessions(tables, server, now, now - tables.cfg.session_ttl)
    for grp in server.groups.values():
        if grp.pending:
            grp.expire(now)


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
    for grp in server.groups.values():
        grp.declare_all()
    server.ended = True
