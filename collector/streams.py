"""The routing table: for each binary packet type, its counter group (spec §2.3), where its
server fingerprint is (spec §2.6), and the module that applies it. Dispatch is data.

Packets with no route (summary XML, JSON) go to the summary tracker.
"""

from __future__ import annotations

from typing import Any, Callable

from collector.fstream import feed_fstream
from collector.gstream import feed_gstream, gstream_group, gstream_sid
from collector.maps import feed_map, map_sid
from collector.redir import feed_redir, redir_sid
from collector.state import ServerState, Tables
from collector.tstream import feed_trace, trace_sid
from xrdsim.wire import FstreamPacket, GStreamPacket, MapPacket, RedirPacket, TracePacket

_MASK48 = (1 << 48) - 1
Apply = Callable[[Tables, ServerState, Any, float, list], None]
Route = tuple[Callable[[Any], str], Callable[[Any], "int | None"], Apply]


def _shared(pkt: Any) -> str:
    return "map"


def _own_f(pkt: Any) -> str:
    return "f"


def _tod_sid(pkt: FstreamPacket) -> int | None:
    sid = pkt.tod.sid
    return sid & _MASK48 if sid else None


#: packet type → (counter group, server fingerprint, apply).
ROUTES: dict[type, Route] = {
    MapPacket: (_shared, map_sid, feed_map),
    FstreamPacket: (_own_f, _tod_sid, feed_fstream),
    TracePacket: (_shared, trace_sid, feed_trace),
    RedirPacket: (_shared, redir_sid, feed_redir),
    GStreamPacket: (gstream_group, gstream_sid, feed_gstream),
}


def group_of_payload(payload: bytes) -> str:
    """The counter group of a datagram whose body did not decode (header bytes only)."""
    code = payload[0]
    if code == ord("f"):
        return "f"
    if code == ord("g"):
        return f"g:{chr(payload[16])}" if len(payload) > 16 else "g:?"
    return "map"
