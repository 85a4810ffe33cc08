"""The r-stream into redirect events (spec §6): each REDIRECT / REDLOCAL entry, timed by
the REDTIME mark before it, with the user resolved from its dictid."""

from __future__ import annotations

from collector.records import Event, RedirectEvent
from collector.state import ServerState, Tables
from xrdsim.wire import RedirKind, RedirOp, RedirPacket, RedirTime

_MASK48 = (1 << 48) - 1


def redir_sid(pkt: RedirPacket) -> int | None:
    """The fingerprint in the r header's sID (low 48 bits), or None."""
    return (pkt.sid & _MASK48) or None


def feed_redir(tables: Tables, server: ServerState, pkt: RedirPacket, t: float, out: list[Event]) -> None:
    """One event per redirect entry."""
    when: float | None = None
    for e in pkt.slots:
        if type(e) is RedirTime:
            when = float(e.unix_time)
            continue
        user = server.users.get(e.user_id) if e.user_id else None
        op = e.op.name.lower() if isinstance(e.op, RedirOp) else str(e.op)
        out.append(
            RedirectEvent(
                server.key, server.site, when, e.kind == RedirKind.REDLOCAL, op, e.host, e.port, e.path,
                user.user if user is not None else "", e.user_id, user.client_host if user is not None else "", t,
            )  # fmt: skip
        )
