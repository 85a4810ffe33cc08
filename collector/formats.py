"""Transfer records in the layouts the field's collectors publish on the message bus: the OSG
collector's raw record, the WLCG record (the CERN MONIT "GenericFileMonitoring" fields) and
our own full record. Pure functions from a ``TransferRecord`` to a JSON-ready dict.

Units and meanings follow those collectors: OSG raw times are milliseconds since the epoch
(``timestamp``, ``start_time``, ``end_time``) and ``operation_time`` whole seconds; ``read``
is single reads only and ``readv`` vector reads; WLCG ``read_bytes`` is read + readv and its
times are seconds. Unlike them, the id is stable: ``unique_id`` is a UUID derived from the
record's ``record_id``, so a transfer written again (a higher ``revision``) keeps its id and
a consumer can keep the latest copy.
"""

from __future__ import annotations

import enum
import uuid
from typing import Any, Callable

from collector.records import TransferRecord

#: Namespace of the ``unique_id`` UUIDs (uuid5 of the record_id).
ID_NAMESPACE = uuid.UUID("6f1d3c52-8a0e-5b7e-9f43-2d6a1c0b7e15")


class Layout(str, enum.Enum):
    """A record layout on the bus."""

    OSG = "osg"
    WLCG = "wlcg"
    FULL = "full"


def unique_id(rec: TransferRecord) -> str:
    """The stable id of ``rec``'s transfer (the same for every revision)."""
    return str(uuid.uuid5(ID_NAMESPACE, rec.record_id or f"{rec.server_key}/{rec.file_dictid}/{rec.start_time}"))


def _span(rec: TransferRecord) -> tuple[float, float]:
    """(start, end) of a record, a missing end taken as its emission and a missing start as its end."""
    end = rec.end_time if rec.end_time is not None else rec.t_emitted
    return (rec.start_time if rec.start_time is not None else end), end


def _ms(t: float | None) -> int:
    return int(round(t * 1000)) if t is not None else 0


def _avg(total: int, n: int | None) -> float:
    return total / n if n else 0.0


def _domain(host: str) -> str:
    parts = host.split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else ""


def osg_raw(rec: TransferRecord) -> dict[str, Any]:
    """The OSG collector's raw record (its ``xrd.detailed`` exchange)."""
    read_ops, readv_ops, write_ops = rec.read_ops or 0, rec.readv_ops or 0, rec.write_ops or 0
    start, end = _span(rec)
    out: dict[str, Any] = {
        "timestamp": _ms(end),
        "start_time": _ms(start),
        "end_time": _ms(end),
        "operation_time": int(end - start),
        "HasFileCloseMsg": int(rec.ended.value in ("close", "forced_close")),
        "server_hostname": rec.server_host,
        "server_ip": rec.server_ip,
        "serverID": rec.server_key.partition("#")[0],
        "server": rec.server_ip,
        "site": rec.site,
        "user": rec.user,
        "host": rec.client_host,
        "user_domain": _domain(rec.client_host),
        "protocol": rec.protocol,
        "ipv6": rec.ipv6,
        "user_dn": rec.user_dn,
        "vo": rec.vo,
        "appinfo": rec.app_info,
        "filename": rec.file_lfn,
        "filesize": rec.file_size,
        "dirname1": "/".join(rec.file_lfn.split("/", 2)[:2]),
        "dirname2": "/".join(rec.file_lfn.split("/", 3)[:3]),
        "read": rec.read_single_bytes,
        "readv": rec.read_vector_bytes,
        "write": rec.write_bytes,
        "read_operations": read_ops + readv_ops,
        "read_average": _avg(rec.read_bytes, read_ops + readv_ops),
        "read_bytes_at_close": rec.read_bytes,
        "read_single_operations": read_ops,
        "read_single_average": _avg(rec.read_single_bytes, read_ops),
        "read_single_bytes": rec.read_single_bytes,
        "read_single_min": rec.read_min or 0,
        "read_single_max": rec.read_max or 0,
        "read_vector_operations": readv_ops,
        "read_vector_average": _avg(rec.read_vector_bytes, readv_ops),
        "read_vector_min": rec.readv_min or 0,
        "read_vector_max": rec.readv_max or 0,
        "read_vector_count_average": _avg(rec.readv_segments or 0, readv_ops),
        "write_operations": write_ops,
        "write_average": _avg(rec.write_bytes, write_ops),
        "write_bytes_at_close": rec.write_bytes,
        "write_min": rec.write_min or 0,
        "write_max": rec.write_max or 0,
        "unique_id": unique_id(rec),
        "revision": rec.revision,
        "ended": rec.ended.value,
    }
    return out


def wlcg(rec: TransferRecord) -> dict[str, Any]:
    """The WLCG record (the OSG collector's ``xrd.wlcg_format`` exchange, read by MONIT)."""
    start, end = _span(rec)
    rid = unique_id(rec)
    operation = "read" if rec.read_bytes else "write" if rec.write_bytes else "unknown"
    return {
        "site_name": rec.site,
        "server_site": rec.site,
        "fallback": True,
        "user_dn": rec.user_dn,
        "user": rec.user_dn.split("CN=")[1] if "CN=" in rec.user_dn else rec.user,
        "vo": rec.vo,
        "user_protocol": rec.protocol,
        "client_host": rec.client_host.split(".")[0],
        "client_domain": _domain(rec.client_host),
        "server_host": rec.server_host.split(".")[0],
        "server_domain": _domain(rec.server_host),
        "server_ip": rec.server_ip,
        "unique_id": rid,
        "file_lfn": rec.file_lfn,
        "file_size": rec.file_size,
        "read_bytes": rec.read_bytes,
        "read_single_bytes": rec.read_single_bytes,
        "read_vector_bytes": rec.read_vector_bytes,
        "read_single_operations": rec.read_ops or 0,
        "read_vector_operations": rec.readv_ops or 0,
        "write_bytes": rec.write_bytes,
        "write_operations": rec.write_ops or 0,
        "ipv6": rec.ipv6,
        "start_time": int(start),
        "end_time": int(end),
        "operation_time": int(end - start),
        "operation": operation,
        "metadata": {"producer": "xrdsim", "type": "aaa-ng", "type_prefix": "raw", "_id": rid,
                     "timestamp": _ms(rec.t_emitted), "revision": rec.revision},  # fmt: skip
    }


def full(rec: TransferRecord) -> dict[str, Any]:
    """Every field of our record, plus ``unique_id``."""
    out = rec.to_dict()
    out["unique_id"] = unique_id(rec)
    return out


#: layout → its converter.
CONVERTERS: dict[Layout, Callable[[TransferRecord], dict[str, Any]]] = {Layout.OSG: osg_raw, Layout.WLCG: wlcg, Layout.FULL: full}

__all__ = ["CONVERTERS", "ID_NAMESPACE", "Layout", "full", "osg_raw", "unique_id", "wlcg"]
