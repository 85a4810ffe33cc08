"""Map records into incarnation state (spec §3, §9.1): ``=`` ident, ``u`` sessions, ``d``
paths, ``i`` app info, ``T`` tokens and ``U`` experiment/activity (both via ``Uc``).

Dispatch by code byte; FRM ``x``/``p`` are counted by the caller and not used.
A ``u`` arriving after its OPEN still enriches the record, because users are resolved at
CLOSE time.
"""

from __future__ import annotations

from typing import Callable

from collector.bounds import drop_session, evict_path, evict_session
from collector.records import Event
from collector.state import ServerState, Tables, open_size, user_size
from collector.users import user_from_login
from xrdsim.wire import MapPacket, server_ident


def _ident(tables: Tables, server: ServerState, pkt: MapPacket, t: float, out: list[Event]) -> None:
    try:
        ident = server_ident(pkt)
    except ValueError:  # a non-ASCII digit in sid or port (wire's views use isdigit)
        return
    server.site, server.host, server.port = ident.site, ident.host, ident.port
    server.inst, server.pgm, server.ver = ident.inst, ident.pgm, ident.ver


def _user(tables: Tables, server: ServerState, pkt: MapPacket, t: float, out: list[Event]) -> None:
    user = user_from_login(pkt, t)
    old = server.users.get(pkt.dictid)
    if old is not None:
        user.files = old.files
        drop_session(tables, server, pkt.dictid)
    server.users[pkt.dictid] = user
    server.uid_index[user.userid_text] = user
    tables.n_sessions += 1
    if tables.n_sessions > tables.cfg.max_sessions:
        evict_session(tables, server, t, out)


def _path(tables: Tables, server: ServerState, pkt: MapPacket, t: float, out: list[Event]) -> None:
    userid, _, path = pkt.text.partition("\n")
    path = path.rstrip("\x00")
    if server.paths.pop(pkt.dictid, None) is None:
        tables.n_paths += 1
    server.paths[pkt.dictid] = (path, userid.rstrip("\x00"))
    of = server.open_files.get(pkt.dictid)
    if of is not None and not of.lfn:
        before = open_size(pkt.dictid, of)
        of.lfn = path
        server.open_files.resized(pkt.dictid, of, before)  # type: ignore[attr-defined]
    if tables.n_paths > tables.cfg.max_paths:
        evict_path(tables, server)


def _info(tables: Tables, server: ServerState, pkt: MapPacket, t: float, out: list[Event]) -> None:
    user = server.uid_index.get(pkt.userid_text)
    if user is not None:
        before = user_size(user.dictid, user)
        user.app_info = pkt.payload or ""
        server.users.resized(user.dictid, user, before)  # type: ignore[attr-defined]


def _by_uc(server: ServerState, pkt: MapPacket):  # -> UserInfo | None
    info = pkt.info
    uc = info.get("Uc", "") or ""
    user = server.users.get(int(uc)) if uc.isascii() and uc.isdigit() else None
    return user, info


def _token(tables: Tables, server: ServerState, pkt: MapPacket, t: float, out: list[Event]) -> None:
    user, info = _by_uc(server, pkt)
    if user is not None:
        before = user_size(user.dictid, user)
        user.apply_token(info)
        server.users.resized(user.dictid, user, before)  # type: ignore[attr-defined]


def _activity(tables: Tables, server: ServerState, pkt: MapPacket, t: float, out: list[Event]) -> None:
    user, info = _by_uc(server, pkt)
    if user is not None:
        before = user_size(user.dictid, user)
        user.apply_activity(info)
        server.users.resized(user.dictid, user, before)  # type: ignore[attr-defined]


def _ignore(tables: Tables, server: ServerState, pkt: MapPacket, t: float, out: list[Event]) -> None:
    return None


MapHandler = Callable[[Tables, ServerState, MapPacket, float, list], None]
#: code byte → what a map record does to the incarnation.
MAP_HANDLERS: dict[int, MapHandler] = {
    ord("="): _ident,
    ord("u"): _user,
    ord("d"): _path,
    ord("i"): _info,
    ord("T"): _token,
    ord("U"): _activity,
    ord("x"): _ignore,
    ord("p"): _ignore,
}


def feed_map(tables: Tables, server: ServerState, pkt: MapPacket, t: float, out: list[Event]) -> None:
    """Apply one map record to its incarnation."""
    MAP_HANDLERS.get(pkt.code, _ignore)(tables, server, pkt, t, out)


def map_sid(pkt: MapPacket) -> int | None:
    """The server fingerprint in a map record's userid (decimal ``sid``), or None."""
    text = pkt.text  # on every map packet (it routes them): find() instead of building the userid
    end = text.find("\n")
    at = text.rfind("@", 0, end if end >= 0 else len(text))
    colon = text.rfind(":", 0, at) if at > 0 else -1
    sid = text[colon + 1 : at] if colon >= 0 else ""
    return int(sid) & 0xFFFFFFFFFFFF if sid.isascii() and sid.isdigit() and len(sid) <= 20 else None
