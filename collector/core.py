"""The sans-I/O collector: ``feed(payload, src, t_arrival) -> events``, ``flush(now)``,
``close(now)``, ``report()`` (STYLE §7.7; spec §2.3–2.6, §9, §11).

Bytes in, typed events out; time is always an argument. A datagram is decoded, routed to
its server incarnation and counter group (loss, duplicates, reordering), then applied by
the module of its stream. ``feed`` never raises on any bytes: a ``DecodeError`` becomes a
``Malformed`` event, anything else escaping is a bug.

Every table is bounded (``CollectorConfig.max_*``, in entries and in bytes, see
``collector.bounds``): text longer than ``max_text_bytes`` is cut before it is stored;
incarnations are kept in order of last news so the least recently seen one is evicted in
O(1), never the one just started; counter groups past ``max_counter_groups`` per incarnation
are retired with their counts. Negative byte counts in f records (the wire's fields are
signed, XRootD's counters never are) are clamped to 0 with an ``unknown_payload`` anomaly
naming the field: rejecting the datagram instead would lose every other record in it.
"""

from __future__ import annotations

from collections import Counter
from hashlib import blake2b
from typing import Any, Callable

from collector import streams
from collector.bounds import enforce
from collector.config import CollectorConfig
from collector.maps import map_sid
from collector.expiry import end_incarnation, flush_due, tell_loss
from collector.records import Anomaly, AnomalyKind, Ended, Event, Malformed, TransferRecord
from collector.report import CollectorReport, build_report, fold_rows, group_rows
from collector.sequence import DUPLICATE, GAP, GroupStats, SeqGroup
from collector.state import ServerState, Tables
from collector.summary import SummaryTracker
from xrdsim.wire import DecodeError, FileClose, FileOpen, FileXfr, FstreamPacket, MapPacket, decode

Address = tuple[str, int]
#: Binary codes whose header is trusted enough to attribute a malformed body to a group.
_BINARY = frozenset(b"=dfgiprtTuUx")
_MAX_LOOSE = 1024
_MAX_RETIRED = 20_000
_MAX_SOCKETS = 64  # sender sockets per incarnation (XRootD uses one per destination)
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
        self.summary = SummaryTracker(self.config.max_summary_series, self.tables.evicted)
        self._sockets: dict[tuple[str, int, int], ServerState] = {}
        self._current: dict[str, ServerState] = {}
        self.retired: list[GroupStats] = []  # counter groups of incarnations that ended (or evicted)
        self._last: ServerState | None = None  # the incarnation of the last datagram (already last in order)

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
                    if len(payload) > self.config.max_text_bytes:
                        self._cap_text(pkt)
                    if type(pkt) is FstreamPacket:
                        _clamp_negative(pkt, server, t_arrival, out)
                    apply(self.tables, server, pkt, t_arrival, out)
                    if self.tables.over:
                        enforce(self.tables, server, t_arrival, out)
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
        server = self._sockets.get(sock)
        if server is not None and sid_of is map_sid and server.sid_mark and server.sid_mark in pkt.text.partition("\n")[0]:
            sid = server.sid  # the userid names the socket's server: no need to parse the number out
        else:
            sid = sid_of(pkt)
        if server is None or server.ended or (sid and sid != server.sid):  # not the socket's last server
            server = self.tables.servers.get((str(sid), pkt.stod)) if sid else None
            if server is None:
                server = self._resolve(sid, sock, t, out)
                if server is None:
                    return None
            else:
                self._bind(sock, server)
        server.last_seen = t
        tables = self.tables
        tables.touched[server] = None  # its due time may come forward (collector.expiry)
        if server is not self._last:  # least recently seen first: O(1) eviction
            tables.servers.move_to_end((server.identity, server.stod))
            server.news = tables.next_serial()
            self._last = server
        if sock not in server.sockets:  # past _MAX_SOCKETS senders share one group
            src = ("*", 0)
        grp = self._group(server, src, group, t, out)
        verdict = grp.accept(pkt.pseq, hash(payload), t)
        if grp.lost != grp.told:  # a gap declared lost (or taken back): when it happened is a signal (score.anomaly)
            tell_loss(server, group, grp, t, out)
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

    def _group(self, server: ServerState, src: Address, name: str, t: float, out: list[Event]) -> SeqGroup:
        """The counter group ``name`` of ``src`` at ``server``, moved to the end of the use
        order; past ``max_counter_groups`` the least recently used one is retired (its
        pending gaps declared lost and told, its counts kept in ``retired``)."""
        groups = server.groups
        grp = groups.get((src, name))
        if grp is not None:
            groups.move_to_end((src, name))
            return grp
        grp = server.group(src, name, self.config)
        if len(groups) > self.config.max_counter_groups:
            (old_src, old_name), old = groups.popitem(last=False)
            old.declare_all()
            tell_loss(server, old_name, old, t, out)
            self.tables.evicted["counter_groups"] += 1
            self._retire([old.stats(server.key, f"{old_src[0]}:{old_src[1]}", old_name)])
        return grp

    def _retire(self, rows: list[GroupStats]) -> None:
        self.retired.extend(rows)
        if len(self.retired) > _MAX_RETIRED:
            self.retired[:] = fold_rows(self.retired)

    def _cap_text(self, pkt: Any) -> None:
        """Cut text beyond ``max_text_bytes`` (a map record, OPEN paths), counted."""
        cap = self.config.max_text_bytes
        if type(pkt) is MapPacket:
            if len(pkt.text) > cap:
                pkt.text = pkt.text[:cap]
                self.tables.evicted["text_truncated"] += 1
        elif type(pkt) is FstreamPacket:
            for rec in pkt.records:
                if type(rec) is FileOpen and rec.lfn is not None and len(rec.lfn) > cap:
                    rec.lfn = rec.lfn[:cap]
                    self.tables.evicted["text_truncated"] += 1

    @staticmethod
    def _f_copy(server: ServerState, grp: SeqGroup, payload: bytes, src: Address) -> bool:
        """XRootD sends one f packet byte for byte to every ``fstat`` destination: a copy
        seen from another sender socket is counted (``copies``) and not applied again.
        Only byte-identical payloads match (a 128-bit digest), never a look-alike."""
        digest = blake2b(payload, digest_size=16).digest()
        first = server.f_digests.get(digest)
        if first is None:
            server.f_digests.add(digest, src)
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
        server = ServerState(identity, sock[2], sock[0], t, self.tables)
        server.sid = sid or 0
        server.sid_mark = f":{sid}@" if sid else ""  # how its userids name it (user.pid:sid@host)
        self.tables.servers[(identity, sock[2])] = server  # last in the order of news
        server.news = self.tables.next_serial()
        self._current[identity] = server
        if len(self.tables.servers) > self.config.max_servers:
            victim = next(iter(self.tables.servers.values()))  # least recently seen, never ``server``
            if victim is server:
                return server
            out.append(Anomaly(AnomalyKind.SERVER_EVICTED, victim.key, "max_servers reached", t))
            self.tables.evicted["servers"] += 1
            self._end(victim, Ended.EVICTED, t, out)
        return server

    def _end(self, server: ServerState, ended: Ended, t: float, out: list[Event]) -> None:
        end_incarnation(self.tables, server, ended, t, out)
        server.tpc_paths.clear()  # releases its bytes from the paths budget
        self.tables.servers.pop((server.identity, server.stod), None)
        if self._current.get(server.identity) is server:
            del self._current[server.identity]
        for sock in server.sockets:
            if self._sockets.get(sock) is server:
                del self._sockets[sock]
        if self._last is server:
            self._last = None
        self._retire(group_rows(server))

    def _malformed(self, payload: bytes, src: Address, t: float, exc: DecodeError, out: list[Event]) -> None:
        """Count a rejected datagram in its counter group when the header names one."""
        server = None
        if len(payload) >= 8 and payload[0] in _BINARY:
            stod = int.from_bytes(payload[4:8], "big", signed=True)
            server = self._sockets.get((src[0], src[1], stod))
        if server is not None:
            group = streams.group_of_payload(payload)
            grp = self._group(server, src, group, t, out)
            grp.accept_malformed(payload[1], hash(payload), t)
            self.tables.touched[server] = None
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
        t-stream records, reorder-window expiry, idle sessions and servers — to the
        incarnations due by then only (``collector.expiry``: a heap of deadlines)."""
        out: list[Event] = []
        flush_due(self.tables, now, lambda server: self._end(server, Ended.TIMEOUT, now, out), out)
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


_BYTE_FIELDS = ("read", "readv", "write")


def _clamp_negative(pkt: FstreamPacket, server: ServerState, t: float, out: list[Event]) -> None:
    """Byte counts below 0 (and an OPEN's size) become 0, each with an anomaly."""
    for rec in pkt.records:
        typ = type(rec)
        if typ is FileClose or typ is FileXfr:
            if rec.read < 0 or rec.readv < 0 or rec.write < 0:  # type: ignore[union-attr]
                for name in _BYTE_FIELDS:
                    value = getattr(rec, name)
                    if value < 0:
                        setattr(rec, name, 0)
                        out.append(Anomaly(AnomalyKind.UNKNOWN_PAYLOAD, server.key, f"{typ.__name__} of file {rec.file_id}: {name} {value} < 0, taken as 0", t, rec.file_id))  # type: ignore[union-attr]
        elif typ is FileOpen and rec.fsz < 0:  # type: ignore[union-attr]
            out.append(Anomaly(AnomalyKind.UNKNOWN_PAYLOAD, server.key, f"FileOpen of file {rec.file_id}: size {rec.fsz} < 0, taken as 0", t, rec.file_id))  # type: ignore[union-attr]
            rec.fsz = 0  # type: ignore[union-attr]
