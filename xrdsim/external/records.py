"""An external collector's records read back through a record adapter: JSON lines (or the
Parquet ``xrdsim collect`` writes) → ``Rec``s and summary samples.

Only lines of ``kind: transfer`` are transfers; a line without ``kind`` is one when it has
the layout's transfer fields (a path and a byte count), anything else — TPC or summary
messages of a collector that mixes them in — is counted as skipped, never as a record.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xrdsim.external.errors import RecordsError
from xrdsim.score import Rec, to_rec
from xrdsim.score.formats import Adapter, FieldPreset, lookup
from xrdsim.score.signals import LossEvent, loss_event

#: Fields one of which a record without ``kind`` must carry to be read as a transfer.
BYTE_FIELDS = ("read_bytes", "read_single_bytes", "read_vector_bytes", "write_bytes")


@dataclass(frozen=True, slots=True)
class Sample:
    """A summary sample read back from JSON: the fields the scorer reads."""

    server: str
    link_in_delta: int | None
    link_out_delta: int | None
    t_emitted: float | None = None


@dataclass(slots=True)
class ExternalRecords:
    """What was read: transfer records, summary samples, each record's server by key, and
    how many lines were no transfer."""

    records: list[Rec] = field(default_factory=list)
    summaries: list[Sample] = field(default_factory=list)
    record_hosts: dict[str, str] = field(default_factory=dict)
    losses: list[LossEvent] = field(default_factory=list)
    skipped: int = 0


def _is_transfer(obj: dict[str, Any], layout: FieldPreset) -> bool:
    kind = obj.get("kind")
    if kind is not None:
        return kind == "transfer"
    f = layout.fields
    has_path = lookup(obj, f.get("file_lfn", "file_lfn")) not in (None, "")
    return has_path and any(lookup(obj, f.get(name, name)) is not None for name in BYTE_FIELDS)


def rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line or row number, object) of a JSON-lines file or of the Parquet ``collect`` writes."""
    if not path.is_file():
        raise RecordsError(f"no records file {path}")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow's errors: ArrowInvalid, OSError, …
            raise RecordsError(f"{path}: not a readable Parquet file: {exc}") from None
        for n, row in enumerate(table, 1):
            yield n, {"kind": "transfer", **row}
        return
    with path.open(encoding="utf-8", errors="strict") as fh:
        try:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield n, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RecordsError(f"{path}:{n}: not JSON: {exc.msg}") from None
        except UnicodeDecodeError:
            raise RecordsError(f"{path}: neither JSON lines (UTF-8) nor Parquet") from None


def read_records(path: Path, adapt: Adapter, received: Callable[[int], float | None] | None = None,
                 local_ip: Callable[[str], str] | None = None) -> ExternalRecords:
    """The records of ``path`` read through ``adapt``. ``received`` gives the simulated time
    xrdsim received line ``n`` (it replaces the collector's own emission stamp, which is
    wall-clock time in most collectors); ``local_ip`` turns a loopback alias a collector saw
    as sender back into the simulated server address."""
    out = ExternalRecords()
    for n, obj in rows(path):
        if not isinstance(obj, dict):
            raise RecordsError(f"{path}:{n}: not a JSON object")
        layout = adapt.layout(obj)
        kind = obj.get("kind")
        if kind in ("summary", "anomaly"):
            t = received(n) if received is not None else obj.get("t_emitted")
            t = float(t) if isinstance(t, (int, float)) else None
            if kind == "summary":
                out.summaries.append(Sample(str(obj.get("server", "")), obj.get("link_in_delta"), obj.get("link_out_delta"), t))
            elif obj.get("anomaly") == "pseq_loss" and t is not None:  # our collector's losses in time
                ev = loss_event(str(obj.get("server_key", "")), str(obj.get("detail", "")), t)
                if ev is not None:
                    out.losses.append(ev)
            else:
                out.skipped += 1
            continue
        if not _is_transfer(obj, layout):
            out.skipped += 1
            continue
        try:
            rec = to_rec(obj, preset=layout)
        except (TypeError, ValueError) as exc:
            raise RecordsError(f"{path}:{n}: a field the scorer reads is not a number: {exc}") from None
        rec = _localised(rec, local_ip, received(n) if received is not None else None, received is not None)
        out.records.append(rec)
        key = str(lookup(obj, layout.fields.get("server_key", "server_key"), "") or "")
        out.record_hosts.setdefault(key, rec.server_host or rec.server_ip)
    return out


def _localised(rec: Rec, local_ip: Callable[[str], str] | None, t_received: float | None, stamped: bool) -> Rec:
    changes: dict[str, Any] = {}
    if local_ip is not None:
        for name in ("server_ip", "server_host"):
            value = getattr(rec, name)
            if local_ip(value) != value:
                changes[name] = local_ip(value)
    if stamped:
        changes["t_emitted"] = t_received
    return dataclasses.replace(rec, **changes) if changes else rec


def window_misfits(records: Iterable[Rec], t0: float, t1: float, slack_s: float) -> tuple[int, int]:
    """(records with a time outside [t0 − slack, t1 + slack], records with a time): many
    misfits mean a wrong time unit (ms read as s), which the volume bins would otherwise
    silently clamp into their first or last bin."""
    timed = out = 0
    for r in records:
        t = r.end_time if r.end_time is not None else r.start_time
        if t is None:
            continue
        timed += 1
        out += not (t0 - slack_s <= t <= t1 + slack_s)
    return out, timed


__all__ = ["BYTE_FIELDS", "ExternalRecords", "Sample", "read_records", "rows", "window_misfits"]
