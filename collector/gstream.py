"""The g-stream into TPC records (provider ``P``) and cache records (``C``) (spec §7).

Each provider is its own counter group (``g:P``...). Records of other providers are
counted by their group and otherwise not used; a record that is not JSON is an anomaly.
"""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import urlsplit

from collector.bounds import trim
from collector.records import Anomaly, AnomalyKind, CacheRecord, Event, TpcRecord
from collector.state import ServerState, Tables
from xrdsim.wire import GStreamPacket

_MASK48 = (1 << 48) - 1


def gstream_group(pkt: GStreamPacket) -> str:
    """``g:`` + the provider character."""
    return f"g:{chr(pkt.provider)}" if isinstance(pkt.provider, int) else f"g:{pkt.provider}"


def gstream_sid(pkt: GStreamPacket) -> int | None:
    """The 48-bit fingerprint of the g header's sID, or None."""
    return (pkt.sid & _MASK48) or None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _tpc(server: ServerState, rec: dict, t: float) -> TpcRecord:
    xeq = rec.get("Xeq") if isinstance(rec.get("Xeq"), dict) else {}
    src, dst = str(rec.get("Src", "")), str(rec.get("Dst", ""))
    direction = str(xeq.get("Type", ""))
    local = dst if direction == "pull" else src
    path = urlsplit(local).path if "://" in local else local
    server.tpc_paths["/" + path.lstrip("/")] = None  # root://host//store/a names /store/a
    trim(server.tpc_paths, 4096)
    return TpcRecord(
        server.key, server.site, str(rec.get("TPC", "")), str(rec.get("Client", "")), str(xeq.get("Beg", "")),
        str(xeq.get("End", "")), _int(xeq.get("RC")), _int(xeq.get("Strm")), direction, _int(xeq.get("IPv")),
        src, dst, _int(rec.get("Size")), t,
    )  # fmt: skip


def _cache(server: ServerState, rec: dict, t: float) -> CacheRecord:
    remotes = rec.get("remotes")
    return CacheRecord(
        server.key, server.site, str(rec.get("lfn", "")), _int(rec.get("size")), _int(rec.get("blk_size")),
        _int(rec.get("n_blks")), _int(rec.get("n_blks_done")), _int(rec.get("access_cnt")),
        _float(rec.get("attach_t")), _float(rec.get("detach_t")), _int(rec.get("b_hit")), _int(rec.get("b_miss")),
        _int(rec.get("b_bypass")), _int(rec.get("b_todisk")), _int(rec.get("b_prefetch")), _int(rec.get("n_cks_errs")),
        [str(r) for r in remotes] if isinstance(remotes, list) else [], t,
    )  # fmt: skip


#: provider character → record builder.
PROVIDERS: dict[str, Callable[[ServerState, dict, float], Event]] = {"P": _tpc, "C": _cache}


def feed_gstream(tables: Tables, server: ServerState, pkt: GStreamPacket, t: float, out: list[Event]) -> None:
    """One record per JSON line of a TPC or cache packet."""
    build = PROVIDERS.get(gstream_group(pkt)[2:])
    if build is None:
        return
    for text in pkt.records:
        try:
            rec = json.loads(text)
        except (ValueError, RecursionError):
            rec = None
        if isinstance(rec, dict):
            out.append(build(server, rec, t))
        else:
            out.append(Anomaly(AnomalyKind.UNKNOWN_PAYLOAD, server.key, f"g record is not a JSON object: {text[:80]!r}", t))
