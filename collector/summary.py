"""Summary monitoring (``xrd.report``, spec §8): cumulative ``link`` and ``xrootd`` counters
per reporting server, turned into deltas; a new process (tos or pid change, or a counter
that went down) restarts the series. Also counts JSON datagrams (summary add-ons, text
g-streams) so that every datagram lands in a report row.

Bounded: at most ``max_series`` series (the least recently reporting one goes, its counts
folded into one ``summary:*`` row so none is lost), text from the report cut at
``_MAX_TEXT`` characters, and at most ``_MAX_OPS`` ``ops`` counters kept per series.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from collector.records import Anomaly, AnomalyKind, Event, SummarySample
from collector.sequence import GroupStats
from xrdsim.wire import SummaryPacket

_MAX_SERIES = 10_000
_MAX_TEXT = 256  # host:port, program, site
_MAX_OPS = 64
_MAX_OP_NAME = 32


class _Series:
    __slots__ = ("sender", "key", "program", "site", "tos", "pid", "link", "ops", "digest", "received", "duplicated", "samples", "restarts", "sums")

    def __init__(self, sender: str, key: str, program: str) -> None:
        self.sender, self.key, self.program, self.site = sender, key, program, ""
        self.tos = self.pid = 0
        self.link: tuple[int, ...] | None = None
        self.ops: dict[str, int] = {}
        self.digest = 0
        self.received = self.duplicated = self.samples = self.restarts = 0
        self.sums = [0, 0, 0]  # Σ link in, out, tot deltas


def _ops(stats: dict[str, Any]) -> dict[str, int]:
    """The cumulative ``xrootd`` ops counters of a report (integer children only)."""
    block = stats.get("xrootd")
    ops = block.get("ops") if isinstance(block, dict) else None
    if not isinstance(ops, dict):
        return {}
    out: dict[str, int] = {}
    for k, v in ops.items():
        if type(v) is int and len(k) <= _MAX_OP_NAME:
            out[k] = v
            if len(out) >= _MAX_OPS:
                break
    return out


class SummaryTracker:
    """Series of summary reports keyed by (reporting ``src`` host:port, program)."""

    def __init__(self, max_series: int = _MAX_SERIES, evicted: dict[str, int] | None = None) -> None:
        self.max_series = max_series
        self.series: OrderedDict[tuple[str, str], _Series] = OrderedDict()  # least recently reporting first
        self.json: dict[str, list[int]] = {}  # sender -> [received, duplicated]
        self.retired = [0, 0]  # received, duplicated of evicted series
        self.evicted = evicted if evicted is not None else {}

    def feed(self, pkt: Any, payload: bytes, src: tuple[str, int], t: float, out: list[Event]) -> None:
        """One summary XML report; JSON (and anything else without a binary route) is counted."""
        sender = f"{src[0]}:{src[1]}"
        if type(pkt) is not SummaryPacket:
            key = sender if sender in self.json or len(self.json) < self.max_series else "*"
            self.json.setdefault(key, [0, 0])[0] += 1
            return
        key = ((pkt.src or sender)[:_MAX_TEXT], pkt.pgm[:_MAX_TEXT])
        series = self.series.get(key)
        if series is None:
            if len(self.series) >= self.max_series:
                self._evict()
            series = self.series[key] = _Series(sender, key[0], key[1])
        else:
            self.series.move_to_end(key)
        digest = hash(payload)
        if digest == series.digest:
            series.duplicated += 1
            return
        series.digest = digest
        series.received += 1
        sample = self._sample(series, pkt, t)
        if sample.restart:
            out.append(Anomaly(AnomalyKind.SUMMARY_RESTART, series.key, f"tos {sample.tos} pid {sample.pid}", t))
        out.append(sample)

    def _sample(self, series: _Series, pkt: SummaryPacket, t: float) -> SummarySample:
        link = pkt.link
        values = (link.in_bytes, link.out_bytes, link.tot) if link is not None else None
        ops = _ops(pkt.stats)
        first = not series.samples
        restart = not first and ((pkt.tos, pkt.pid) != (series.tos, series.pid) or _decreased(series.link, values))
        base = (0, 0, 0) if first or restart or series.link is None else series.link
        deltas = tuple(v - b for v, b in zip(values, base)) if values is not None else (None, None, None)
        base_ops = {} if first or restart else series.ops
        if values is not None:
            series.sums = [s + d for s, d in zip(series.sums, deltas)]
            series.link = values
        series.tos, series.pid, series.ops, series.site = pkt.tos, pkt.pid, ops, pkt.site[:_MAX_TEXT]
        series.samples += 1
        series.restarts += restart
        return SummarySample(
            series.key, series.program, series.site, pkt.tod, pkt.tos, pkt.pid, *(values or (None, None, None)),
            *deltas, {k: v - base_ops.get(k, 0) for k, v in ops.items()}, restart, first, t,
        )  # fmt: skip

    def _evict(self) -> None:
        _, old = self.series.popitem(last=False)
        self.retired[0] += old.received
        self.retired[1] += old.duplicated
        self.evicted["summary_series"] = self.evicted.get("summary_series", 0) + 1

    def rows(self) -> list[GroupStats]:
        """Report rows: one per summary series (evicted ones folded into ``summary:*``) and
        per JSON sender."""
        rows = [GroupStats(f"summary:{s.key}", s.sender, "summary", s.received, 0, s.duplicated, 0, 0, 0, 0) for s in self.series.values()]
        if any(self.retired):
            rows.append(GroupStats("summary:*", "*", "summary", self.retired[0], 0, self.retired[1], 0, 0, 0, 0))
        rows += [GroupStats("", sender, "json", n, 0, d, 0, 0, 0, 0) for sender, (n, d) in self.json.items()]
        return rows

    def sizes(self) -> dict[str, int]:
        """Table sizes."""
        return {"summary_series": len(self.series)}

    def totals(self) -> list[dict[str, Any]]:
        """Per reporting server: samples, restarts and Σ link deltas (in, out, tot)."""
        return [
            {"server": s.key, "program": s.program, "site": s.site, "samples": s.samples, "restarts": s.restarts,
             "link_in": s.sums[0], "link_out": s.sums[1], "link_tot": s.sums[2]}
            for s in self.series.values()
        ]  # fmt: skip


def _decreased(before: tuple[int, ...] | None, now: tuple[int, ...] | None) -> bool:
    return before is not None and now is not None and any(n < b for n, b in zip(now, before))
