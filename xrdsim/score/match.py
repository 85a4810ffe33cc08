"""Pairing truth transfers with collector records: by (server, stod, file dictid) first, else
by (server, lfn) with the nearest start inside a time window; one record per transfer.

Records arrive as collector ``TransferRecord``s or JSON dicts (an external collector's, with
a field map); both become the same ``Rec`` view. No metrics here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from xrdsim.score.formats import TRANSFORMS, FieldPreset, lookup
from xrdsim.sim import TransferRow

#: The layout of our own records: our names, seconds, bytes.
PLAIN = FieldPreset()
#: Default window of the (server, lfn) fallback, seconds between truth open and record start.
WINDOW_S = 300.0


@dataclass(frozen=True, slots=True)
class Rec:
    """The fields of a transfer record the scorer reads (names as in ``TransferRecord``)."""

    server_host: str
    server_ip: str
    stod: int | None
    file_dictid: int | None
    file_lfn: str
    site: str
    user_dn: str
    vo: str
    client_host: str
    read_bytes: int
    readv_bytes: int
    write_bytes: int
    start_time: float | None
    end_time: float | None
    t_emitted: float | None
    ended: str = ""
    record_id: str = ""
    revision: int = 0
    protocol: str = ""
    rw: bool = False

    @property
    def total_bytes(self) -> int:
        """read + readv + write."""
        return self.read_bytes + self.readv_bytes + self.write_bytes


def _get(obj: Any, name: str, fields: Mapping[str, str], default: Any = None) -> Any:
    value = lookup(obj, fields.get(name, name), default)
    return getattr(value, "value", value)  # enums (Ended) as their text


def stod_of(key: str) -> int | None:
    """The server start time in a server key: ours is "identity#stod" (last part), the OSG
    collector's ``serverID`` "stod#ip#port" (first part); anything else names none (the
    last part of the OSG key is a port, not a time)."""
    parts = key.split("#")
    stod = parts[1] if len(parts) == 2 else parts[0] if len(parts) == 3 else ""
    return int(stod) if stod.isdigit() else None


def _stod(obj: Any, fields: Mapping[str, str], preset: FieldPreset) -> int | None:
    stod = _value(obj, "stod", fields, preset)
    if stod is None:
        return stod_of(str(_get(obj, "server_key", fields, "") or ""))
    text = str(stod)
    return int(text) if text.isdigit() else stod_of(text)


def _value(obj: Any, name: str, fields: Mapping[str, str], preset: FieldPreset, default: Any = None) -> Any:
    """Field ``name`` of ``obj`` with the layout's transform applied (None stays None)."""
    value = _get(obj, name, fields, default)
    transform = preset.transforms.get(name)
    return TRANSFORMS[transform](str(value)) if transform is not None and value not in (None, "") else value


def to_rec(obj: Any, fields: Mapping[str, str] | None = None, time_scale: float = 1.0, preset: FieldPreset | None = None) -> Rec:
    """A ``Rec`` from a ``TransferRecord`` or a dict; ``fields`` maps our names to theirs,
    ``time_scale`` is seconds per unit of their times (0.001 for milliseconds); a ``preset``
    (a layout of ``xrdsim.score.formats``) gives both and per-field units and transforms.
    A value that is no number where one is needed raises ``ValueError``."""
    p = preset or (PLAIN if not fields and time_scale == 1.0 else FieldPreset(dict(fields or {}), time_scale))
    f = p.fields

    def text(name: str) -> str:
        return str(_value(obj, name, f, p, "") or "")

    def num(name: str) -> int:
        return int(round(float(_value(obj, name, f, p, 0) or 0) * p.scale(name)))

    def opt(name: str) -> float | None:
        value = _value(obj, name, f, p)
        return None if value in (None, "") else float(value) * p.scale(name)

    dictid = _get(obj, "file_dictid", f)
    read_single = _get(obj, "read_single_bytes", f)
    read = num("read_bytes") - num("read_vector_bytes") if read_single is None else num("read_single_bytes")
    return Rec(
        text("server_host"), text("server_ip"), _stod(obj, f, p), None if dictid is None else int(dictid),
        text("file_lfn"), text("site"), text("user_dn"), text("vo"), text("client_host"),
        read, num("read_vector_bytes"), num("write_bytes"),
        opt("start_time"), opt("end_time"), opt("t_emitted"), text("ended"),
        text("record_id"), num("revision"), text("protocol"), _get(obj, "rw", f) in (True, 1, "true", "True", "1"),
    )  # fmt: skip


def record_key(r: Rec) -> tuple:
    """A record's place in the canonical order of a run's records: by its contents alone (its
    emission, server, id and revision, file), not the order a collector met its servers in."""
    return (r.t_emitted if r.t_emitted is not None else -1.0, r.server_ip, r.server_host, r.record_id, r.revision,
            r.stod if r.stod is not None else -1, r.file_dictid if r.file_dictid is not None else -1, r.file_lfn,
            r.start_time if r.start_time is not None else -1.0)


def server_of(rec: Rec, hosts: Mapping[str, str]) -> str:
    """The truth's name of a record's server: its host name or its IP as ``hosts`` (server
    name or IP → name) knows them, else the record's own host name or IP."""
    return hosts.get(rec.server_host) or hosts.get(rec.server_ip) or rec.server_host or rec.server_ip


def truth_bytes(row: TransferRow) -> int:
    """The bytes a record should report for ``row``: read + readv + write."""
    return row.read_bytes + row.readv_bytes + row.write_bytes


@dataclass(slots=True)
class Matching:
    """The outcome: pairs, truth transfers without a record, records without a transfer."""

    pairs: list[tuple[TransferRow, Rec]] = field(default_factory=list)
    missed: list[TransferRow] = field(default_factory=list)
    spurious: list[Rec] = field(default_factory=list)
    duplicates: int = 0
    duplicated: list[Rec] = field(default_factory=list)  # the spurious records that repeat a matched transfer


class _Index:
    """Unmatched truth transfers by exact key and by (server, lfn)."""

    def __init__(self, truth: Iterable[TransferRow], hosts: Mapping[str, str] | None = None) -> None:
        self.by_key: dict[tuple, list[TransferRow]] = defaultdict(list)
        self.by_path: dict[tuple[str, str], list[TransferRow]] = defaultdict(list)
        self.hosts: dict[str, str] = dict(hosts or {})
        self.taken: set[int] = set()
        by_key, by_path, hosts = self.by_key, self.by_path, self.hosts
        for row in sorted(truth, key=attrgetter("open_time")):
            server = row.server
            by_key[(server, row.stod, row.file_dictid)].append(row)
            by_path[(server, row.lfn)].append(row)
            hosts[row.server_ip] = server
            hosts[server] = server

    def host(self, rec: Rec) -> str:
        """The truth's name of a record's server (host name, else by IP)."""
        return server_of(rec, self.hosts)

    def by_dictid(self, rec: Rec, host: str) -> tuple[TransferRow | None, bool]:
        """(the first untaken transfer with the record's exact key, whether the key exists)."""
        rows = self.by_key.get((host, rec.stod, rec.file_dictid))
        if not rows:
            return None, False
        taken = self.taken
        for r in rows:
            if r.transfer_id not in taken:
                return r, True
        return None, True

    def by_lfn(self, rec: Rec, host: str, window_s: float) -> tuple[TransferRow | None, bool]:
        """(the untaken transfer of the same server and path nearest in start time, whether a
        taken one was in the window)."""
        start = rec.start_time if rec.start_time is not None else rec.end_time
        near = [r for r in self.by_path.get((host, rec.file_lfn), []) if start is None or abs(r.open_time - start) <= window_s]
        free = [r for r in near if r.transfer_id not in self.taken]
        # The record's client first (a TPC opens one path at one server three times within
        # milliseconds: the client's probe and held opens, the daemon's copy), then time.
        client = rec.client_host

        def rank(r: TransferRow) -> tuple[bool, float]:
            other = bool(client) and client not in (r.client_host, r.client_ip)
            return other, abs(r.open_time - start) if start is not None else 0.0

        best = min(free, key=rank, default=None)
        return best, bool(near)


def match(truth: Iterable[TransferRow], records: Iterable[Rec], window_s: float = WINDOW_S,
          hosts: Mapping[str, str] | None = None) -> Matching:
    """Pair every record with at most one truth transfer (dictid key first, then path);
    ``hosts`` (server name or IP → name) names servers besides those of ``truth`` (a part
    of a run matched apart: the servers of its earlier rows)."""
    index = _Index(truth, hosts)
    out = Matching()
    pending: list[tuple[Rec, str, bool]] = []
    for rec in records:
        host = index.host(rec)
        row, known = index.by_dictid(rec, host) if rec.file_dictid is not None else (None, False)
        if row is None:
            pending.append((rec, host, known))
            continue
        index.taken.add(row.transfer_id)
        out.pairs.append((row, rec))
    for rec, host, known in pending:
        row, near = index.by_lfn(rec, host, window_s) if rec.file_lfn else (None, False)
        if row is not None:
            index.taken.add(row.transfer_id)
            out.pairs.append((row, rec))
        elif known or near:
            out.duplicates += 1
            out.duplicated.append(rec)
            out.spurious.append(rec)
        else:
            out.spurious.append(rec)
    out.missed = [r for rows in index.by_key.values() for r in rows if r.transfer_id not in index.taken]
    return out


__all__ = ["WINDOW_S", "Matching", "Rec", "match", "record_key", "server_of", "stod_of", "to_rec", "truth_bytes"]
