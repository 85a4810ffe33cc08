"""Field-map presets for scoring other collectors' records: which of their fields holds each
field the scorer reads, and the unit of their times. ``collector: {format: osg}`` in a
scenario scores the OSG collector's raw records with no field map written by hand.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class RecordFormat(enum.Enum):
    """A record layout the scorer can read."""

    OURS = "ours"  # the reference collector's JSON lines (our field names, seconds)
    OSG = "osg"  # the OSG collector's raw record (its ``xrd.detailed`` exchange)
    WLCG = "wlcg"  # the WLCG record (``xrd.wlcg_format``, read by CERN MONIT)


@dataclass(frozen=True, slots=True)
class FieldPreset:
    """Our field name → theirs, and seconds per unit of their times."""

    fields: dict[str, str] = field(default_factory=dict)
    time_scale: float = 1.0


#: The presets. OSG raw: times in ms since the epoch, ``read`` single reads and ``readv``
#: vector reads apart, the client in ``host``; WLCG: seconds, ``read_bytes`` = single +
#: vector beside ``read_vector_bytes``, short host names (the scorer resolves the server by
#: ``server_ip``), no emission time (its latency metrics are undefined).
PRESETS: dict[RecordFormat, FieldPreset] = {
    RecordFormat.OURS: FieldPreset(),
    RecordFormat.OSG: FieldPreset({
        "server_host": "server_hostname", "server_ip": "server_ip", "site": "site", "user_dn": "user_dn", "vo": "vo",
        "client_host": "host", "file_lfn": "filename", "read_single_bytes": "read", "read_vector_bytes": "readv",
        "write_bytes": "write", "start_time": "start_time", "end_time": "end_time", "t_emitted": "timestamp",
        "ended": "ended", "record_id": "unique_id", "revision": "revision",
    }, time_scale=0.001),
    RecordFormat.WLCG: FieldPreset({
        "server_host": "server_host", "server_ip": "server_ip", "site": "site_name", "user_dn": "user_dn", "vo": "vo",
        "client_host": "client_host", "file_lfn": "file_lfn", "read_bytes": "read_bytes",
        "read_single_bytes": "read_single_bytes", "read_vector_bytes": "read_vector_bytes", "write_bytes": "write_bytes",
        "start_time": "start_time", "end_time": "end_time", "t_emitted": "no such field", "record_id": "unique_id",
    }),
}  # fmt: skip


def field_map(fmt: RecordFormat, overrides: dict[str, str]) -> FieldPreset:
    """The preset of ``fmt`` with the scenario's own ``fields`` laid over it."""
    preset = PRESETS[fmt]
    return FieldPreset({**preset.fields, **overrides}, preset.time_scale)


__all__ = ["PRESETS", "FieldPreset", "RecordFormat", "field_map"]
