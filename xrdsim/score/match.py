"""Pairing truth transfers with collector records: by (server, stod, file dictid) first, else
by (server, lfn) with the nearest start inside a time window; one record per transfer.

Records arrive as collector ``TransferRecord``s or JSON dicts (an external collector's, with
a field map); both become the same ``Rec`` view. No metrics here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xrdsim.sim import TransferRow

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

    @property
    def total_bytes(self) -> int:
        """read + readv + write."""
        return self.read_bytes + self.readv_bytes + self.write_bytes


def _get(obj: Any, name: str, fields: Mapping[str, str], default: Any = None) -> Any:
    key = fields.get(name, name)
    value = obj.get(key, default) if isinstance(obj, Mapping) else getattr(obj, key, default)
    return getattr(value, "value", value)  # enums (Ended) as their text


def _stod(obj: Any, fields: Mapping[str, str]) -> int | None:
    stod = _get(obj, "stod", fields)
    if stod is None:
        key = str(_get(obj, "server_key", fields, "") or "")
        stod = key.rpartition("#")[2] if "#" in key else None
    try:
        return int(stod) if stod is not None else None
    except ValueError:
        return None


def to_rec(obj: Any, fields: Mapping[str, str] | None = None, time_scale: float = 1.0) -> Rec:
    """A ``Rec`` from a ``TransferRecord`` or a dict; ``fields`` maps our names to theirs,
    ``time_scale`` is seconds per unit of their times (0.001 for milliseconds)."""
    f = fields or {}

    def text(name: str) -> str:
        return str(_get(obj, name, f, "") or "")

    def num(name: str) -> int:
        return int(_get(obj, name, f, 0) or 0)

    def opt(name: str) -> float | None:
        value = _get(obj, name, f)
        return None if value is None else float(value) * time_scale

    dictid = _get(obj, "file_dictid", f)
    read_single = _get(obj, "read_single_bytes", f)
    read = num("read_bytes") - num("read_vector_bytes") if read_single is None else int(read_single)
    return Rec(
        text("server_host"), text("server_ip"), _stod(obj, f), None if dictid is None else int(dictid),
        text("file_lfn"), text("site"), text("user_dn"), text("vo"), text("client_host"),
        read, num("read_vector_bytes"), num("write_bytes"),
        opt("start_time"), opt("end_time"), opt("t_emitted"), text("ended"),
        text("record_id"), num("revision"),
    )  # fmt: skip


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

    def __init__(self, truth: Iterable[TransferRow]) -> None:
        self.by_key: dict[tuple, list[TransferRow]] = defaultdict(list)
        self.by_path: dict[tuple[str, str], list[TransferRow]] = defaultdict(list)
        self.hosts: dict[str, str] = {}
        self.taken: set[int] = set()
        for row in sorted(truth, key=lambda r: r.open_time):
            self.by_key[(row.server, row.stod, row.file_dictid)].append(row)
            self.by_path[(row.server, row.lfn)].append(row)
            self.hosts[row.server_ip] = row.server
            self.hosts[row.server] = row.server

    def host(self, rec: Rec) -> str:
        """The truth's name of a record's server (host name, else by IP)."""
        return self.hosts.get(rec.server_host) or self.hosts.get(rec.server_ip) or rec.server_host or rec.server_ip

    def by_dictid(self, rec: Rec, host: str) -> tuple[TransferRow | None, bool]:
        """(the first untaken transfer with the record's exact key, whether the key exists)."""
        rows = self.by_key.get((host, rec.stod, rec.file_dictid), [])
        return next((r for r in rows if r.transfer_id not in self.taken), None), bool(rows)

    def by_lfn(self, rec: Rec, host: str, window_s: float) -> tuple[TransferRow | None, bool]:
        """(the untaken transfer of the same server and path nearest in start time, whether a
        taken one was in the window)."""
        start = rec.start_time if rec.start_time is not None else rec.end_time
        near = [r for r in self.by_path.get((host, rec.file_lfn), []) if start is None or abs(r.open_time - start) <= window_s]
        free = [r for r in near if r.transfer_id not in self.taken]
        best = min(free, key=lambda r: abs(r.open_time - start) if start is not None else 0.0, default=None)
        return best, bool(near)


def match(truth: Iterable[TransferRow], records: Iterable[Rec], window_s: float = WINDOW_S) -> Matching:
    """Pair every record with at most one truth transfer (dictid key first, then path)."""
    index = _Index(truth)
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


__all__ = ["WINDOW_S", "Matching", "Rec", "match", "to_rec", "truth_bytes"]
