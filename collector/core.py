"""The sans-I/O collector: ``feed(payload, src, t_arrival) -> events``, ``flush(now)``,
``close(now)``, ``report()`` (STYLE §7.7; spec §2.3–2.6, §9, §11).

Bytes in, typed events out; time is always an argument. A datagram is decoded, routed to
its server incarnation and counter group (loss, duplicates, reordering), then applied by
the module of its stream. ``feed`` never raises on any bytes: a ``DecodeError`` becomes a
``Malformed`` event, anything else escaping is a bug.
"""

from __future__ import annotations

from collections import Counter
from hashlib import blake2b
from typing import Any, Callable

from collector import streams
from collector.config import CollectorConfig
from collector.expiry import end_incarnation, expire_server
from collector.records import Anomaly, AnomalyKind, Ended, Event, Malformed, TransferRecord
from collector.report import CollectorReport, build_report, fold_rows, group_rows
from collector.sequence import DUPLICATE, GAP, GroupStats, SeqGroup
from collector.state import ServerState, Tables
from collector.summary import SummaryTracker
from xrdsim.wire import DecodeError, decode

Address = tuple[str, int]
#: Binary codes whose header is trusted enough to attribute a malformed body to a group.
_BINARY = frozenset(b"=dfgiprtTuUx")
_MAX_LOOSE = 1024
_MAX_RETIRED = 20_000
_MAX_SOCKETS = 64  # sender sockets per incarnation (XRootD uses one per destination)
_F_DIGESTS = 1024  # recent f payloads per incarnation: copies to two destinations arrive together
_ROUTES = streams.ROUTES


class Collector:
    """The reference collector's state machine (see the module docstring)."""

    def __init__(self, config: CollectorConfig | None = None) -> None:
        self.config = config or CollectorConfig()
        self.tables = Tables(self.config)
        self.datagrams = 0
        self.stale = 0
        self.by_kind: Counter[str] = Counter()
        self.by_ended: Counter[Ended] = Counter()
        self.loose: dict[Address, SeqGroup] = {}  # malformed datagrams of no known server
        self.summary = SummaryTracker()
        self._sockets: dict[tuple[str, int, int], ServerState] = {}
        self._current: dict[str, ServerState] = {}
        self.retired: list[GroupStats] = []  # counter groups of incarnations that ended

    # ------------------------------------------------------------------ feeding

    def feed(self, payload: bytes, src: Address, t_arrival: float) -> list[Event]:
        """Decode and apply one datagram from ``src`` arrived at ``t_arrival``; returns the
        events it completed (records, anomalies, a ``Malformed``...)."""
        self.datagrams += 1
        if type(payload) is not bytes:  # bytearray/memoryview are not hashable (dedup digest)
            payload = bytes(payload)
        out: list[Event] = []
        try:
            pkt = decode(payload)
        except DecodeError as exc:
            self._malformed(payload, src, t_arrival, exc, out)
        else:
            route = _ROUTES.get(type(pkt))
            if route is None:
                self.summary.feed(pkt, payload, src, t_arrival, out)
            else:
                group_of, sid_of, apply = route
                server = self._admit(pkt, group_of(pkt), sid_of, payload, src, t_arrival, out)
                if server is not None:
                    apply(self.tables, server, pkt, t_arrival, out)
        if out:
            self._count(out)
        return out

    def _admit(self, pkt: Any, group: str, sid_of: Callable[[Any], int | None], payload: bytes, src: Address, t: float, out: list[Event]) -> ServerState | None:
        """The incarnation of a binary packet, after its counter group has accounted it;
        None for a duplicate, the second copy of an f packet, or a datagram of an
        incarnation already replaced.

        A packet that carries a server id is routed by it (several servers may share one
        sender socket, e.g. a capture replayed from one socket); one without (u/d maps) goes
        where its socket's last server-id packet went."""
        sock = (src[0], src[1], pkt.stod)
        sid = sid_of(pkt)
        server = self._sockets.get(sock)
        if server is None or server.ended or (sid and sid != server.sid):  # not the socket's last server
            server = self.tables.servers.get((str(sid), pkt.stod)) if sid else None
            if server is None:
                server = self._resolve(sid, sock, t, out)
                if server is None:
                    return None
            else:
                self._bind(sock, server)
        server.last_seen = t
        if sock not in server.sockets:  # past _MAX_SOCKETS senders share one group
            src = ("*", 0)
        grp = server.groups.get((src, group)) or server.group(src, group, self.config)
        verdict = grp.accept(pkt.pseq, hash(payload), t)
        if verdict == DUPLICATE:
            return None
        if group == "f" and self._f_copy(server, grp, payload, src):
            return None
        if verdict == GAP:
            if group == "f":
                server.f_epoch += 1
            elif group == "map":
                server.m_epoch += 1
        return server

    @staticmethod
    def _f_copy(server: ServerState, grp: SeqGroup, payload: bytes, src: Address) -> bool:
        """XRootD sends one f packet byte for byte to every ``fstat`` destination: a copy
        seen from another sender socket is counted (``copies``) and not applied again.
        Only byte-identical payloads match (a 128-bit digest), never a look-alike."""
        digest = blake2b(payload, digest_size=16).digest()
        first = server.f_digests.get(digest)
        if first is None:
            server.f_digests[digest] = src
            if len(server.f_digests) > _F_DIGESTS:
                server.f_digests.popitem(last=False)
            return False
        if first == src:  # the same socket again, beyond the group's duplicate window
            grp.received -= 1
            grp.duplicated += 1
        else:
            grp.copies += 1
        return True

    def _resolve(self, sid: int | None, sock: tuple[str, int, int], t: float, out: list[Event]) -> ServerState | None:
        """Find or start the incarnation (identity = sid, else sender IP; plus stod)."""
        identity = str(sid) if sid else sock[0]
        stod = sock[2]
        server = self.tables.servers.get((identity, stod))
        if server is None:
            current = self._current.get(identity)
            if current is not None and current.stod > stod:
                self.stale += 1
                out.append(Anomaly(AnomalyKind.AFTER_RESTART, current.key, f"datagram with stod {stod} from {sock[0]}:{sock[1]}", t))
                return None
            if current is not None:
                out.append(Anomaly(AnomalyKind.SERVER_RESTART, current.key, f"new stod {stod}", t))
                self._end(current, Ended.SERVER_RESTART, t, out)
            server = self._start(identity, sid, sock, t, out)
        self._bind(sock, server)
        return server

    def _bind(self, sock: tuple[str, int, int], server: ServerState) -> None:
        """Route the sender socket ``sock`` to ``server`` (its server-less packets follow)."""
        if sock in server.sockets or len(server.sockets) < _MAX_SOCKETS:  # spoofed source ports cannot grow the tables
            self._sockets[sock] = server
            server.sockets.add(sock)

    def _start(self, identity: str, sid: int | None, sock: tuple[str, int, int], t: float, out: list[Event]) -> ServerState:
        server = ServerState(identity, sock[2], sock[0], t)
        server.sid = sid or 0
        self.tables.servers[(identity, sock[2])] = server
        self._current[identity] = server
        if len(self.tables.servers) > self.config.max_servers:
            victim = min(self.tables.servers.values(), key=lambda s: s.last_seen)
            out.append(Anomaly(AnomalyKind.SERVER_EVICTED, victim.key, "max_servers reached", t))
            self.tables.evicted["servers"] += 1
            self._end(victim, Ended.EVICTED, t, out)
        return server

    def _end(self, server: ServerState, ended: Ended, t: float, out: list[Event]) -> None:
        end_incarnation(self.tables, server, ended, t, out)
        self.tables.servers.pop((server.identity, server.stod), None)
        if self._current.get(server.identity) is server:
            del self._current[server.identity]
        for sock in server.sockets:
            if self._sockets.get(sock) is server:
                del self._sockets[sock]
        self.retired.extend(group_rows(server))
        if len(self.retired) > _MAX_RETIRED:
            self.retired[:] = fold_rows(self.retired)

    def _malformed(self, payload: bytes, src: Address, t: float, exc: DecodeError, out: list[Event]) -> None:
        """Count a rejected datagram in its counter group when the header names one."""
        server = None
        if len(payload) >= 8 and payload[0] in _BINARY:
            stod = int.from_bytes(payload[4:8], "big", signed=True)
            server = self._sockets.get((src[0], src[1], stod))
        if server is not None:
            group = streams.group_of_payload(payload)
            grp = server.groups.get((src, group)) or server.group(src, group, self.config)
            grp.accept_malformed(payload[1], hash(payload), t)
        else:
            grp = self.loose.get(src) or self._loose(src)
            grp.malformed += 1
        key = server.key if server is not None else ""
        code = chr(payload[0]) if payload else ""
        out.append(Malformed(f"{src[0]}:{src[1]}", code, exc.reason, exc.offset, exc.path, len(payload), t, key))

    def _loose(self, src: Address) -> SeqGroup:
        if len(self.loose) >= _MAX_LOOSE:
            src = ("*", 0)
            if src in self.loose:
                return self.loose[src]
        grp = self.loose[src] = SeqGroup(0, 0.0, 0)
        return grp

    def _count(self, out: list[Event]) -> None:
        by_kind, by_ended = self.by_kind, self.by_ended
        for ev in out:
            if type(ev) is TransferRecord:
                by_ended[ev.ended] += 1
            else:
                by_kind[ev.KIND] += 1

    # ------------------------------------------------------------------ time

    def flush(self, now: float) -> list[Event]:
        """Apply every time-driven policy at ``now``: open-file TTL, DISC grace, held
        t-stream records, reorder-window expiry, idle sessions and servers."""
        out: list[Event] = []
        idle = now - self.config.server_ttl
        for server in list(self.tables.servers.values()):
            if server.last_seen <= idle:
                self._end(server, Ended.TIMEOUT, now, out)
            else:
                expire_server(self.tables, server, now, out)
        if out:
            self._count(out)
        return out

    def close(self, now: float) -> list[Event]:
        """Shutdown: every open file (and held t-stream transfer) is emitted with
        ``ended=collector_shutdown``; pending gaps are declared lost."""
        out: list[Event] = []
        for server in list(self.tables.servers.values()):
            self._end(server, Ended.COLLECTOR_SHUTDOWN, now, out)
        if out:
            self._count(out)
        return out

    def tick(self, now: float) -> list[Event]:
        """Same as ``flush`` (the name STYLE §7.7 uses)."""
        return self.flush(now)

    def report(self) -> CollectorReport:
        """Counters per counter group, records by ``ended``, table sizes, summary deltas."""
        return build_report(self)
