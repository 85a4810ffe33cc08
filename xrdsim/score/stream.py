"""A shard's tally and digest made while it runs, in rounds, holding only what can still change.

``tally_transfers`` and ``digest_records`` need the whole run's truth transfers and records at
once, so a run's memory grows with its simulated time. ``StreamTally`` takes the truth rows,
the datagram fates and the records as they come, and every round settles what can no longer
change: it matches what it holds (``match.match``), cuts the held rows and records into
groups that can touch each other — a record and the rows of its dictid key, a record and the
rows of its (server, path) within the fallback window, rows of one path within two windows
of each other — and adds up the groups where nothing can join any more. The rest waits for
the next round. Memory then depends on how much is open and on the horizon, not on how long
the run is: about three floats per transfer stay (its time errors), plus the misses, the lost
datagrams and the records no transfer matches. Host counter rows are read at the bin edges
as they come (``volume.HostCounters``) and not kept.

A group is settled when, ``now`` being the collector's time and ``horizon_s`` the longest a
record of a transfer (any revision of it) can come after the transfer's close:

- each of its rows closed more than ``horizon_s`` ago (no record of it can still come);
- each of its records was last revised more than ``horizon_s`` ago, and the simulator holds no
  open transfer of its dictid key (whose row would come at its close);
- the simulator holds no open transfer on the path of one of its rows or records within the
  window (whose row could still join the group).

Under that horizon the settled groups are exactly the groups of the whole run, so the
tally and the digest are exactly those of ``tally_transfers`` and ``digest_records``
(``tests/score/test_stream.py`` checks it on every shipped scenario). The horizon comes from
the collector's timeouts and the servers' flush interval (``xrdsim.shards.settle_horizon``):
a record the reference collector emits later than that would break it. A record no
transfer matches is settled but kept until the end, where the sites of every server are
known.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from xrdsim.score.causes import explain, restart_cut
from xrdsim.score.digest import RecordDigest
from xrdsim.score.match import WINDOW_S, Matching, Rec, match, record_key, server_of
from xrdsim.score.tally import MAX_PAIRS_KEPT, TransferTally, datagram_tally, record_host, tally_matching
from xrdsim.score.volume import Bins, HostCounters, Overhead
from xrdsim.sim import CounterRow, DatagramRow, FaultRow, TransferRow


@dataclass(slots=True)
class OpenTransfers:
    """What the simulator still holds open: the dictid keys (server, stod, file dictid) of its
    open transfers and their open times per (server, path), in the servers' wire clocks;
    ``skew_s`` is the largest clock skew of a server so far (row times are its wire clock)."""

    keys: set[tuple[str, int, int]] = field(default_factory=set)
    paths: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    skew_s: float = 0.0

    def near(self, path: tuple[str, str], t: float | None, window_s: float) -> bool:
        """Whether an open transfer on ``path`` opened within ``window_s`` of ``t`` (None: any)."""
        opens = self.paths.get(path)
        if not opens:
            return False
        return t is None or any(abs(o - t) <= window_s for o in opens)


#: A finished simulation: nothing open.
NOTHING_OPEN = OpenTransfers()


@dataclass(slots=True)
class _Slot:
    """One record id's current record (the highest revision) at the place of its first."""

    node: int  # its node in the groups
    pos: tuple
    rec: Rec
    last: float  # when it was last revised (t_emitted)
    key: tuple | None = None  # (host, stod, dictid) as ``match`` resolves it
    path: tuple[str, str] | None = None  # (host, lfn)
    start: float | None = None  # the time the path fallback compares


@dataclass(slots=True)
class _Row:
    node: int
    row: TransferRow
    key: tuple
    path: tuple[str, str]


class _Groups:
    """Union–find over the held rows and records, as they come; a settled group leaves whole."""

    def __init__(self) -> None:
        self.up: dict[int, int] = {}
        self.next = 0

    def new(self) -> int:
        node = self.next
        self.next += 1
        self.up[node] = node
        return node

    def find(self, i: int) -> int:
        up = self.up
        while up[i] != i:
            up[i] = up[up[i]]
            i = up[i]
        return i

    def join(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.up[max(a, b)] = min(a, b)

    def drop(self, nodes: Iterable[int]) -> None:
        for node in nodes:
            del self.up[node]

    def compact(self) -> None:
        """Copy the parents' table, sized for the nodes left (``StreamTally._compact``)."""
        self.up = dict(self.up)


class StreamTally:
    """The tally and digest of a shard's transfers and records, made in rounds: ``add_*``
    what came since the last round, ``settle`` at the collector's time, ``finish`` at the end."""

    def __init__(self, bins: Bins, faults: list[FaultRow], t0: float, horizon_s: float,
                 peer_hosts: Collection[str], window_s: float = WINDOW_S) -> None:
        self.bins, self.faults, self.t0, self.horizon_s, self.window_s = bins, faults, t0, horizon_s, window_s
        self.peer_hosts = peer_hosts
        self.rows: dict[int, _Row] = {}  # in the truth's order
        self.slots: dict[object, _Slot] = {}  # record id → slot, in the order of their first records
        self.groups = _Groups()
        # The indexes hold their members as dict keys: ordered, and each leaves in one step.
        self.rows_by_key: dict[tuple, dict[int, None]] = defaultdict(dict)
        self.rows_by_path: dict[tuple[str, str], dict[int, None]] = defaultdict(dict)
        self.slots_by_key: dict[tuple, dict[object, None]] = defaultdict(dict)
        self.slots_by_path: dict[tuple[str, str], dict[object, None]] = defaultdict(dict)
        self.unnamed: dict[str, list[object]] = defaultdict(list)  # server ip → records naming no known server
        self.lost: list[DatagramRow] = []  # every datagram the path lost (the causes of misses)
        self.counters: dict[str, HostCounters] = {}  # host → its NIC counters read at the bin edges so far
        self.site_of: dict[str, str] = {}
        self.ip_hosts: dict[str, str] = {}
        self.hosts: dict[str, str] = {}  # server name or ip → name, as ``match`` resolves a record's server
        self.tally = TransferTally()
        self.pairs: list[tuple[int, int, int]] = []  # a max-heap of (−key, truth bytes, recorded bytes)
        self.digest = RecordDigest(bins)
        self.extra: list[tuple[Rec, bool]] = []  # settled records no transfer matched (duplicate?)
        self.rounds = 0
        self.peak_held = 0  # most rows + records held after a round
        self._anon = 0

    @property
    def held(self) -> int:
        """Rows and records held, waiting to be settled."""
        return len(self.rows) + len(self.slots)

    def add_rows(self, rows: Iterable[TransferRow]) -> None:
        """Truth transfers, in the truth's order."""
        w2 = 2 * self.window_s
        w = self.window_s
        site_of, ip_hosts, hosts, held, slots = self.site_of, self.ip_hosts, self.hosts, self.rows, self.slots
        rows_by_key, rows_by_path, slots_by_key, slots_by_path = self.rows_by_key, self.rows_by_path, self.slots_by_key, self.slots_by_path
        new, join = self.groups.new, self.groups.join
        for row in rows:
            server, t = row.server, row.open_time
            site_of[server] = row.site
            ip_hosts[row.server_ip] = server
            if row.server_ip not in hosts:
                hosts[row.server_ip] = server
                for rid in self.unnamed.pop(row.server_ip, ()):  # their server has a name now
                    if rid in slots:
                        self._link(rid)
            hosts[server] = server
            node = new()
            key, path = (server, row.stod, row.file_dictid), (server, row.lfn)
            held[node] = _Row(node, row, key, path)
            for rid in slots_by_key.get(key, ()):
                join(node, slots[rid].node)
            for rid in slots_by_path.get(path, ()):
                slot = slots[rid]
                if slot.start is None or abs(slot.start - t) <= w:
                    join(node, slot.node)
            for other in rows_by_path.get(path, ()):
                if abs(held[other].row.open_time - t) <= w2:
                    join(node, other)
            rows_by_key[key][node] = None
            rows_by_path[path][node] = None

    def add_datagrams(self, rows: Iterable[DatagramRow]) -> None:
        """Datagram rows with their fates: counted per (server, group), the lost ones kept."""
        rows = list(rows)
        self.tally.add(datagram_tally(rows))
        self.lost.extend(d for d in rows if d.fate == "lost")

    def add_counters(self, rows: Iterable[CounterRow]) -> None:
        """Host counter rows, in time order: read at the bin edges as they come, not kept."""
        for row in rows:
            if row.kind == "host":
                series = self.counters.get(row.name)
                if series is None:
                    series = self.counters[row.name] = HostCounters(self.bins)
                series.add(row)

    def add_records(self, records: Iterable[Rec]) -> None:
        """Records as the collector emitted them since the last round: a record id seen before
        takes its new revision (``current_records``), at the place of its first."""
        for rec in sorted(records, key=record_key):
            rid: object = rec.record_id
            if not rid:
                self._anon += 1
                rid = ("", self._anon)
            slot = self.slots.get(rid)
            if slot is None:
                self.slots[rid] = _Slot(self.groups.new(), record_key(rec), rec, rec.t_emitted or 0.0)
            elif rec.revision >= slot.rec.revision:
                slot.rec, slot.last = rec, max(slot.last, rec.t_emitted or 0.0)
            else:
                continue
            self._link(rid)

    def _link(self, rid: object) -> None:
        """Join a record's slot with every row it can touch (its key, its path in the window);
        a new revision or a new name of its server only adds joins."""
        slot = self.slots[rid]
        rec, w = slot.rec, self.window_s
        host = server_of(rec, self.hosts)
        if not rec.server_host and rec.server_ip not in self.hosts:
            self.unnamed[rec.server_ip].append(rid)
        if rec.file_dictid is not None:
            key = (host, rec.stod, rec.file_dictid)
            if key != slot.key:
                _unlist(self.slots_by_key, slot.key, rid)
                slot.key = key
                self.slots_by_key[key][rid] = None
                for node in self.rows_by_key.get(key, ()):
                    self.groups.join(slot.node, node)
        if rec.file_lfn:
            path, start = (host, rec.file_lfn), rec.start_time if rec.start_time is not None else rec.end_time
            if (path, start) != (slot.path, slot.start):
                if path != slot.path:
                    _unlist(self.slots_by_path, slot.path, rid)
                slot.path, slot.start = path, start
                self.slots_by_path[path][rid] = None
                for node in self.rows_by_path.get(path, ()):
                    if start is None or abs(self.rows[node].row.open_time - start) <= w:
                        self.groups.join(slot.node, node)

    def settle(self, now: float, open_: OpenTransfers) -> None:
        """Add up every group that nothing can join any more, at collector time ``now``."""
        self.rounds += 1
        cut, w, find = now - self.horizon_s, self.window_s, self.groups.find
        row_cut = cut - open_.skew_s
        waiting = {find(r.node) for r in self.rows.values()
                   if r.row.close_time >= row_cut or open_.near(r.path, r.row.open_time, 2 * w)}
        waiting.update(find(s.node) for s in self.slots.values()
                       if s.last >= cut or s.key in open_.keys or (s.path is not None and open_.near(s.path, s.start, w)))
        rows = [r for r in self.rows.values() if find(r.node) not in waiting]
        slots = sorted(((rid, s) for rid, s in self.slots.items() if find(s.node) not in waiting), key=lambda kv: kv[1].pos)
        if rows or slots:
            # The settled groups touch nothing else: matched on their own, they match as in the whole.
            m = match([r.row for r in rows], [s.rec for _, s in slots], self.window_s, self.hosts)
            dup = {id(r) for r in m.duplicated}
            self.extra.extend((r, id(r) in dup) for r in m.spurious)
            self._add(Matching(pairs=m.pairs, missed=m.missed))
            self._forget(rows, slots)
        self.peak_held = max(self.peak_held, self.held)

    def _forget(self, rows: list[_Row], slots: list[tuple[object, _Slot]]) -> None:
        for r in rows:
            del self.rows[r.node]
            _unlist(self.rows_by_key, r.key, r.node)
            _unlist(self.rows_by_path, r.path, r.node)
        for rid, s in slots:
            del self.slots[rid]
            _unlist(self.slots_by_key, s.key, rid)
            _unlist(self.slots_by_path, s.path, rid)
        self.groups.drop([r.node for r in rows] + [s.node for _, s in slots])
        self._compact()

    def _compact(self) -> None:
        """Copy the big tables after a round took members out: a dict keeps the table of the
        most it ever held (deleting never shrinks it, and a table that filled with deleted
        slots doubles on its next insert), so over a long run they grow with time, not with
        what is held. A copy is sized for what is left (measured: 6 MiB of a 16-hour 10-site
        run's 178 MiB peak; bench/scale.py)."""
        self.rows, self.slots = dict(self.rows), dict(self.slots)
        self.groups.compact()
        self.rows_by_key, self.rows_by_path = defaultdict(dict, self.rows_by_key), defaultdict(dict, self.rows_by_path)
        self.slots_by_key, self.slots_by_path = defaultdict(dict, self.slots_by_key), defaultdict(dict, self.slots_by_path)

    def _add(self, part: Matching) -> None:
        if not part.pairs and not part.missed and not part.spurious:
            return
        got = tally_matching(part, self.site_of, self.ip_hosts)
        got.restart_ended, got.restart_cut = restart_cut(part, self.faults)
        got.misses = explain(part, self.lost, self.faults, self.t0)
        pairs, got.byte_pairs = got.byte_pairs, []
        self.tally.add(got)
        heap = self.pairs  # the byte-pair sample kept at its bound: the smallest keys so far
        for key, true, recorded in pairs:
            if len(heap) < MAX_PAIRS_KEPT:
                heapq.heappush(heap, (-key, true, recorded))
            elif key < -heap[0][0]:
                heapq.heapreplace(heap, (-key, true, recorded))
        recs = [r for _, r in part.pairs] + list(part.spurious)
        self.digest.take_records(((r, record_host(r, self.ip_hosts)) for r in recs), self.site_of, self.peer_hosts)

    def finish(self, model: Overhead | None = None) -> tuple[TransferTally, RecordDigest]:
        """Settle everything (the run is over) and return the tally and the digest, with the
        NIC payload of the host counters (``add_counters``)."""
        self.settle(float("inf"), NOTHING_OPEN)
        dups = [r for r, d in self.extra if d]
        self._add(Matching(spurious=[r for r, _ in self.extra], duplicates=len(dups), duplicated=dups))
        self.tally.site_of, self.tally.ip_hosts = dict(self.site_of), dict(self.ip_hosts)
        self.tally.byte_pairs = [(-key, true, recorded) for key, true, recorded in self.pairs]
        self.digest.take_read(self.counters, self.site_of, model)
        return self.tally.canonical(), self.digest.canonical()


def _unlist(index: dict, key: object, item: object) -> None:
    """Take ``item`` out of ``index[key]`` (the key goes with its last item)."""
    members = index.get(key)
    if members is not None:
        members.pop(item, None)
        if not members:
            del index[key]


__all__ = ["NOTHING_OPEN", "OpenTransfers", "StreamTally"]
