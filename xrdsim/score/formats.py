"""Record adapters for scoring other collectors' records: which of their fields holds each
field the scorer reads, the unit of each (ms times, kB sizes), a value transform where their
value is not ours as it stands (``host:port``, the OSG ``serverID``), and several layouts in
one stream told apart by a field. ``collector: {format: osg}`` in a scenario scores the OSG
collector's raw records with no field map written by hand.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xrdsim.errors import UserError


class FormatError(UserError):
    """A field map that cannot be applied: an unknown field name, a unit of the wrong kind."""


class RecordFormat(enum.Enum):
    """A record layout the scorer can read."""

    OURS = "ours"  # the reference collector's JSON lines (our field names, seconds)
    OSG = "osg"  # the OSG collector's raw record (its ``xrd.detailed`` exchange)
    WLCG = "wlcg"  # the WLCG record (``xrd.wlcg_format``, read by CERN MONIT)


class Unit(enum.Enum):
    """The unit a foreign field is given in; each converts to seconds or bytes."""

    S = "s"
    MS = "ms"
    US = "us"
    NS = "ns"
    B = "B"
    KB = "kB"
    KIB = "KiB"
    MB = "MB"
    MIB = "MiB"


#: unit → (kind, our units per one of its).
UNIT_SCALE: dict[Unit, tuple[str, float]] = {
    Unit.S: ("time", 1.0), Unit.MS: ("time", 1e-3), Unit.US: ("time", 1e-6), Unit.NS: ("time", 1e-9),
    Unit.B: ("bytes", 1.0), Unit.KB: ("bytes", 1e3), Unit.KIB: ("bytes", 1024.0), Unit.MB: ("bytes", 1e6),
    Unit.MIB: ("bytes", float(1 << 20)),
}  # fmt: skip


class Transform(enum.Enum):
    """A value rewrite applied to a foreign field before it is read as ours."""

    HOST_OF = "host_of"  # "host:port", "[v6]:port" → the host
    SHORT_HOST = "short_host"  # "xrootd-01.example.org" → "xrootd-01"
    LOWER = "lower"
    BEFORE_HASH = "before_hash"  # "a#b#c" → "a" (the OSG serverID "stod#ip#port": its stod)
    AFTER_HASH = "after_hash"  # "a#b" → "b" (our server_key "identity#stod": its stod)
    ISO_TIME = "iso_time"  # "2024-05-01T10:00:00Z" → unix seconds


def _host_of(value: str) -> str:
    if value.startswith("["):
        return value[1:].partition("]")[0]
    host, sep, port = value.rpartition(":")
    # an IPv6 address without brackets has many colons and no port to strip
    return host if sep and port.isdigit() and ":" not in host else value


def _iso_time(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


#: transform → the function (text in; text or number out).
TRANSFORMS: dict[Transform, Callable[[str], Any]] = {
    Transform.HOST_OF: _host_of,
    Transform.SHORT_HOST: lambda v: v.split(".")[0],
    Transform.LOWER: str.lower,
    Transform.BEFORE_HASH: lambda v: v.split("#")[0],
    Transform.AFTER_HASH: lambda v: v.rpartition("#")[2],
    Transform.ISO_TIME: _iso_time,
}

#: Our field names a map may name, and what kind of value each is (units must fit it).
OUR_FIELDS: dict[str, str] = {
    "server_host": "text", "server_ip": "text", "server_key": "text", "stod": "number", "file_dictid": "number",
    "file_lfn": "text", "site": "text", "user_dn": "text", "vo": "text", "client_host": "text",
    "read_bytes": "bytes", "read_single_bytes": "bytes", "read_vector_bytes": "bytes", "write_bytes": "bytes",
    "start_time": "time", "end_time": "time", "t_emitted": "time", "ended": "text", "record_id": "text",
    "revision": "number", "kind": "text",
}  # fmt: skip
TIME_FIELDS = tuple(k for k, v in OUR_FIELDS.items() if v == "time")


@dataclass(frozen=True, slots=True)
class FieldPreset:
    """One layout: our field name → theirs (dotted for nested: ``metadata.timestamp``), the
    scale of each converted field (our units per one of theirs) and the value transforms."""

    fields: dict[str, str] = field(default_factory=dict)
    time_scale: float = 1.0
    scales: dict[str, float] = field(default_factory=dict)
    transforms: dict[str, Transform] = field(default_factory=dict)

    def scale(self, name: str) -> float:
        """Our units per one of theirs for field ``name`` (times default to ``time_scale``)."""
        return self.scales.get(name, self.time_scale if name in TIME_FIELDS else 1.0)


#: The presets. OSG raw: times in ms since the epoch, ``read`` single reads and ``readv``
#: vector reads apart, the client in ``host``, ``serverID`` = "stod#ip#port" (its stod
#: first); WLCG: seconds, ``read_bytes`` = single + vector beside ``read_vector_bytes``,
#: short host names (the scorer resolves the server by ``server_ip``), its emission time in
#: ``metadata.timestamp`` (ms).
PRESETS: dict[RecordFormat, FieldPreset] = {
    RecordFormat.OURS: FieldPreset(),
    RecordFormat.OSG: FieldPreset({
        "server_host": "server_hostname", "server_ip": "server_ip", "site": "site", "user_dn": "user_dn", "vo": "vo",
        "client_host": "host", "file_lfn": "filename", "read_single_bytes": "read", "read_vector_bytes": "readv",
        "write_bytes": "write", "start_time": "start_time", "end_time": "end_time", "t_emitted": "timestamp",
        "ended": "ended", "record_id": "unique_id", "revision": "revision", "stod": "serverID", "server_key": "no such field",
    }, time_scale=0.001, transforms={"stod": Transform.BEFORE_HASH}),
    RecordFormat.WLCG: FieldPreset({
        "server_host": "server_host", "server_ip": "server_ip", "site": "site_name", "user_dn": "user_dn", "vo": "vo",
        "client_host": "client_host", "file_lfn": "file_lfn", "read_bytes": "read_bytes",
        "read_single_bytes": "read_single_bytes", "read_vector_bytes": "read_vector_bytes", "write_bytes": "write_bytes",
        "start_time": "start_time", "end_time": "end_time", "t_emitted": "metadata.timestamp", "record_id": "unique_id",
        "revision": "metadata.revision", "server_key": "no such field",
    }, scales={"t_emitted": 0.001}),
}  # fmt: skip


def _known(names: Mapping[str, Any], what: str) -> None:
    for name in names:
        if name not in OUR_FIELDS:
            raise FormatError(f"collector.{what}: {name!r} is not a record field the scorer reads (one of {', '.join(OUR_FIELDS)})")


def field_map(fmt: RecordFormat, overrides: Mapping[str, str], units: Mapping[str, Unit] | None = None,
              transforms: Mapping[str, Transform] | None = None) -> FieldPreset:
    """The preset of ``fmt`` with the scenario's own ``fields``, ``units`` and ``transforms``
    laid over it; a field name we do not read or a unit of the wrong kind is a ``FormatError``."""
    units, transforms = units or {}, transforms or {}
    for what, names in (("fields", overrides), ("units", units), ("transforms", transforms)):
        _known(names, what)
    preset = PRESETS[fmt]
    scales = dict(preset.scales)
    for name, unit in units.items():
        kind, scale = UNIT_SCALE[unit]
        if OUR_FIELDS[name] != kind:
            raise FormatError(f"collector.units.{name}: {unit.value} is a unit of {kind}, but {name} is {OUR_FIELDS[name]}")
        scales[name] = scale
    return FieldPreset({**preset.fields, **overrides}, preset.time_scale, scales, {**preset.transforms, **transforms})


#: The layout-field value that picks a layout for every record carrying the field at all.
ANY_VALUE = "*"


@dataclass(frozen=True, slots=True)
class Adapter:
    """How a stream's records are read: a default layout, and others chosen by the value of
    ``layout_field`` (``*``: by its mere presence)."""

    default: FieldPreset
    layout_field: str = ""
    layouts: dict[str, FieldPreset] = field(default_factory=dict)

    def layout(self, obj: Mapping[str, Any]) -> FieldPreset:
        """The layout of record ``obj``."""
        if not self.layout_field:
            return self.default
        value = lookup(obj, self.layout_field)
        if value is None:
            return self.default
        return self.layouts.get(str(value)) or self.layouts.get(ANY_VALUE) or self.default


#: The second layout a preset's stream may carry, and the field that tells it: the OSG
#: collector publishes the WLCG record for some VOs beside its raw one (``site_name`` is in
#: the WLCG record only).
PRESET_LAYOUTS: dict[RecordFormat, tuple[str, dict[str, RecordFormat]]] = {
    RecordFormat.OSG: ("site_name", {ANY_VALUE: RecordFormat.WLCG}),
}


def adapter(fmt: RecordFormat, fields: Mapping[str, str], units: Mapping[str, Unit] | None = None,
            transforms: Mapping[str, Transform] | None = None, layout_field: str = "",
            layouts: Mapping[str, RecordFormat] | None = None) -> Adapter:
    """The adapter of a scenario's collector keys: ``fields``/``units``/``transforms`` refine
    the default layout ``fmt``; ``layouts`` maps values of ``layout_field`` to other presets."""
    if layouts and not layout_field:
        raise FormatError("collector.layouts needs collector.layout_field: the record field that tells the layouts apart")
    if not layout_field and fmt in PRESET_LAYOUTS:
        layout_field, layouts = PRESET_LAYOUTS[fmt]
    default = field_map(fmt, fields, units, transforms)
    return Adapter(default, layout_field, {value: PRESETS[f] for value, f in (layouts or {}).items()})


def lookup(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]``, following dots into nested mappings when ``key`` is not a key itself."""
    if not isinstance(obj, Mapping):
        return getattr(obj, key, default)
    if key in obj or "." not in key:
        return obj.get(key, default)
    node: Any = obj
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


__all__ = ["ANY_VALUE", "OUR_FIELDS", "PRESETS", "PRESET_LAYOUTS", "TRANSFORMS", "Adapter", "FieldPreset", "FormatError", "RecordFormat", "Transform", "Unit", "adapter", "field_map", "lookup"]  # fmt: skip
