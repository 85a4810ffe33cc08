"""What the collector emits: transfer, TPC and cache records, redirect events, summary
samples, anomalies and malformed-datagram events (DESIGN.md "Record" contract).

Value types only; no decoding and no state. ``to_dict()`` gives the JSON view with a
``kind`` field; the ``TransferRecord`` field names are the contract the scorer reads.
"""

from __future__ import annotations

import enum
import operator
from dataclasses import dataclass, fields
from collections.abc import Iterable
from typing import Any, Callable, TypeVar, Union


class Ended(str, enum.Enum):
    """How a transfer record came to be emitted (the collector's policies, visible)."""

    CLOSE = "close"
    FORCED_CLOSE = "forced_close"
    TIMEOUT = "timeout"
    CLOSE_WITHOUT_OPEN = "close_without_open"
    SERVER_RESTART = "server_restart"
    EVICTED = "evicted"
    COLLECTOR_SHUTDOWN = "collector_shutdown"


class AnomalyKind(str, enum.Enum):
    """Things the collector noticed that are not records but must not pass silently."""

    STREAM_MISMATCH = "stream_mismatch"  # f and t CLOSE totals of one file disagree
    IO_MISMATCH = "io_mismatch"  # a CLOSE's totals disagree with the t-stream's own I/O entries
    LATE_STREAM = "late_stream"  # an f CLOSE for a file already recorded from the t-stream
    SESSION_EVICTED = "session_evicted"
    SERVER_EVICTED = "server_evicted"
    SERVER_RESTART = "server_restart"
    AFTER_RESTART = "after_restart"  # a datagram of an incarnation that has been replaced
    SUMMARY_RESTART = "summary_restart"
    UNKNOWN_PAYLOAD = "unknown_payload"  # decoded, but nothing the collector can use
    LATE_OPEN = "late_open"  # an OPEN after its file was recorded close_without_open
    PSEQ_LOSS = "pseq_loss"  # datagrams of a counter group declared lost: detail "<group> <count>"


_VIEWS: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple], tuple[int, ...]]] = {}


def _view(cls: type) -> tuple[tuple[str, ...], Callable[[Any], tuple], tuple[int, ...]]:
    """Field names (``kind`` first), one getter of every value, positions of enum fields."""
    names = tuple(f.name for f in fields(cls))
    hints = {f.name: str(f.type) for f in fields(cls)}
    enums = tuple(i + 1 for i, n in enumerate(names) if hints[n] in ("Ended", "AnomalyKind"))
    view = _VIEWS[cls] = (("kind",) + names, operator.attrgetter(*names), enums)
    return view


def values_getter(cls: type) -> Callable[[Any], tuple]:
    """A function ``event -> its field values in field order``; ``cls(*values)`` rebuilds the event."""
    return (_VIEWS.get(cls) or _view(cls))[1]


class _Event:
    """Shared JSON view: every field, enums as their values, plus ``kind``."""

    __slots__ = ()
    KIND = "event"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field, with the event's ``kind`` first."""
        keys, get, enums = _VIEWS.get(type(self)) or _view(type(self))
        values = [self.KIND, *get(self)]
        for i in enums:
            values[i] = values[i].value
        return dict(zip(keys, values))


@dataclass(slots=True)
class TransferRecord(_Event):
    """One file transfer (open → close) as the WLCG/OSG transfer record, plus provenance.

    Times are Unix seconds (float): start/end interpolated by record position between the
    f TOD's tBeg and tEnd (t-stream: window start). ``t_emitted`` is the arrival time of the
    datagram that completed the record (or the ``now`` of flush/close). Statistics are None
    when the server sent no OPS/SSQ block or no operation of that kind.

    ``record_id`` is stable for one transfer (incarnation + file dictid): a record emitted
    again with a higher ``revision`` replaces the earlier one (a CLOSE after a ``timeout``
    record, t-stream figures that came after the f CLOSE), so a consumer that keeps the
    highest revision per id counts every byte once. ``t_read_bytes`` / ``t_write_bytes`` are
    what the t-stream's own I/O entries add up to (None without t-stream I/O for the file).
    """

    KIND = "transfer"

    server_key: str
    server_host: str
    server_ip: str
    server_port: int
    site: str
    user: str
    user_dn: str
    vo: str
    role: str
    client_host: str
    client_ip: str
    protocol: str
    ipv6: bool
    app_info: str
    file_lfn: str
    file_dictid: int
    file_size: int
    read_bytes: int
    read_single_bytes: int
    read_vector_bytes: int
    write_bytes: int
    read_ops: int | None
    readv_ops: int | None
    write_ops: int | None
    readv_segments: int | None
    read_min: int | None
    read_max: int | None
    read_sigma: float | None
    readv_min: int | None
    readv_max: int | None
    readv_sigma: float | None
    write_min: int | None
    write_max: int | None
    write_sigma: float | None
    start_time: float | None
    end_time: float | None
    operation_time: float | None
    ended: Ended
    lost_packets_around: bool
    source: str
    tpc: bool
    t_emitted: float
    user_dictid: int = 0
    auth_protocol: str = ""
    token_subject: str = ""
    experiment: str = ""
    activity: str = ""
    rw: bool = False
    record_id: str = ""
    revision: int = 0
    t_read_bytes: int | None = None
    t_write_bytes: int | None = None


@dataclass(slots=True)
class TpcRecord(_Event):
    """A third-party copy reported by the TPC g-stream provider ``P`` (spec §7.3)."""

    KIND = "tpc"

    server_key: str
    site: str
    tpc_protocol: str
    client: str
    begin: str
    end: str
    return_code: int | None
    streams: int | None
    direction: str
    ip_version: int | None
    source_url: str
    destination_url: str
    size: int | None
    t_emitted: float


@dataclass(slots=True)
class CacheRecord(_Event):
    """A cache file detach reported by the pfc g-stream provider ``C`` (spec §7.3)."""

    KIND = "cache"

    server_key: str
    site: str
    file_lfn: str
    size: int | None
    block_size: int | None
    blocks: int | None
    blocks_done: int | None
    access_count: int | None
    attach_time: float | None
    detach_time: float | None
    bytes_hit: int | None
    bytes_miss: int | None
    bytes_bypass: int | None
    bytes_to_disk: int | None
    bytes_prefetch: int | None
    checksum_errors: int | None
    remotes: list[str]
    t_emitted: float


@dataclass(slots=True)
class RedirectEvent(_Event):
    """One r-stream REDIRECT / REDLOCAL entry (spec §6); ``time`` from the last REDTIME."""

    KIND = "redirect"

    server_key: str
    site: str
    time: float | None
    local: bool
    op: str
    target_host: str
    target_port: int
    path: str
    user: str
    user_dictid: int
    client_host: str
    t_emitted: float


@dataclass(slots=True)
class SummarySample(_Event):
    """One summary report (``xrd.report``): cumulative counters and deltas since the
    previous report of the same server (spec §8.3). ``restart`` marks a new process
    (tos/pid change or a counter decrease): its deltas count from zero. ``first`` marks the
    first report seen of the server: its deltas are the cumulative values."""

    KIND = "summary"

    server: str
    program: str
    site: str
    tod: int
    tos: int
    pid: int
    link_in: int | None
    link_out: int | None
    link_tot: int | None
    link_in_delta: int | None
    link_out_delta: int | None
    link_tot_delta: int | None
    xrootd_ops_delta: dict[str, int]
    restart: bool
    first: bool
    t_emitted: float


@dataclass(slots=True)
class Anomaly(_Event):
    """Something the collector noticed that is no record (see ``AnomalyKind``)."""

    KIND = "anomaly"

    anomaly: AnomalyKind
    server_key: str
    detail: str
    t_emitted: float
    file_dictid: int | None = None


@dataclass(slots=True)
class Malformed(_Event):
    """A datagram the codec rejected: reason, offset, field path, sender (spec §7.6)."""

    KIND = "malformed"

    src: str
    code: str
    reason: str
    offset: int
    path: str
    size: int
    t_emitted: float
    server_key: str = ""


Event = Union[TransferRecord, TpcRecord, CacheRecord, RedirectEvent, SummarySample, Anomaly, Malformed]

_R = TypeVar("_R")


def current_records(records: Iterable[_R]) -> list[_R]:
    """One record per transfer: where records share a ``record_id``, the highest
    ``revision`` stands at the place of the first; records without an id all stay. Works on
    ``TransferRecord``s and on anything with those two attributes."""
    out: list[_R] = []
    where: dict[str, int] = {}
    for rec in records:
        rid = getattr(rec, "record_id", "")
        if not rid:
            out.append(rec)
            continue
        at = where.get(rid)
        if at is None:
            where[rid] = len(out)
            out.append(rec)
        elif getattr(rec, "revision", 0) >= getattr(out[at], "revision", 0):
            out[at] = rec
    return out
