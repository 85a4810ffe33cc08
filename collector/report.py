"""``report()``: what the collector counted — per counter group, records by how they
ended, table sizes and evictions, summary link deltas — and its one-screen text form.

Invariant (checked by the fuzz test): every datagram fed is exactly one of a group's
received, duplicated or malformed, or a ``stale`` datagram of a replaced incarnation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from collector.sequence import GroupStats
from collector.state import ServerState

if TYPE_CHECKING:
    from collector.core import Collector

_COUNTS = ("received", "lost", "duplicated", "reordered", "late", "malformed", "pending", "copies")


@dataclass(slots=True)
class CollectorReport:
    """A snapshot of the collector's counters (see the module docstring)."""

    datagrams: int
    stale: int
    events: dict[str, int]
    records_by_ended: dict[str, int]
    groups: list[GroupStats]
    tables: dict[str, int]
    evicted: dict[str, int]
    summary: list[dict[str, Any]]
    io: dict[str, Any] = field(default_factory=dict)

    @property
    def malformed(self) -> int:
        """Malformed datagrams over all groups."""
        return sum(g.malformed for g in self.groups)

    def totals(self) -> dict[str, dict[str, int]]:
        """Counts summed per counter-group name (``map``, ``f``, ``g:P``, ``summary``...)."""
        out: dict[str, dict[str, int]] = {}
        for g in self.groups:
            row = out.setdefault(g.group, dict.fromkeys(_COUNTS, 0))
            for name in _COUNTS:
                row[name] += getattr(g, name)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with ``malformed`` and per-group ``totals``."""
        out = asdict(self)
        out["malformed"] = self.malformed
        out["totals"] = self.totals()
        return out

    def format_text(self) -> str:
        """The one-screen summary the CLI prints at the end."""
        ended = " ".join(f"{k}={v}" for k, v in sorted(self.records_by_ended.items())) or "none"
        lines = [
            f"datagrams {self.datagrams}  malformed {self.malformed}  stale {self.stale}",
            f"records {sum(self.records_by_ended.values())}: {ended}",
            "events " + (" ".join(f"{k}={v}" for k, v in sorted(self.events.items())) or "none"),
            f"{'group':<10}" + "".join(f"{n:>11}" for n in _COUNTS),
        ]
        for name, row in sorted(self.totals().items()):
            lines.append(f"{name:<10}" + "".join(f"{row[n]:>11}" for n in _COUNTS))
        lines.append("tables " + " ".join(f"{k}={v}" for k, v in self.tables.items()))
        if any(self.evicted.values()):
            lines.append("evicted " + " ".join(f"{k}={v}" for k, v in self.evicted.items() if v))
        for key, value in self.io.items():
            lines.append(f"{key}: {value}")
        return "\n".join(lines)


def group_rows(server: ServerState) -> list[GroupStats]:
    """The report rows of every counter group of one incarnation."""
    return [grp.stats(server.key, f"{src[0]}:{src[1]}", name) for (src, name), grp in server.groups.items()]


def fold_rows(rows: list[GroupStats]) -> list[GroupStats]:
    """Merge rows of one group name into one (bounds the history of ended incarnations)."""
    merged: dict[str, GroupStats] = {}
    for row in rows:
        into = merged.get(row.group)
        if into is None:
            merged[row.group] = GroupStats("*", "*", row.group, *(getattr(row, n) for n in _COUNTS))
            continue
        for name in _COUNTS:
            setattr(into, name, getattr(into, name) + getattr(row, name))
    return list(merged.values())


def build_report(c: Collector) -> CollectorReport:
    """Snapshot ``c``'s counters."""
    rows = list(c.retired)
    for server in c.tables.servers.values():
        rows.extend(group_rows(server))
    rows.extend(grp.stats("", f"{src[0]}:{src[1]}", "?") for src, grp in c.loose.items())
    rows.extend(c.summary.rows())
    tables = c.tables.sizes()
    tables.update(c.summary.sizes())
    by_ended = {ended.value: n for ended, n in c.by_ended.items()}
    events = dict(c.by_kind)
    if by_ended:
        events["transfer"] = sum(by_ended.values())
    return CollectorReport(
        c.datagrams, c.stale, events, by_ended, rows, tables,
        dict(c.tables.evicted), c.summary.totals(),
    )  # fmt: skip


#: ``io`` figures of a worker that are properties of the shared port, not counts to add.
_IO_SHARED = frozenset({"udp_sockets", "rcvbuf_requested", "rcvbuf_granted", "kernel_drops_from"})


def merge_reports(reports: list[CollectorReport]) -> CollectorReport:
    """One report of several collectors that shared the input (``collector.workers``):
    counts summed, counter-group rows and summary series side by side. In ``io``, a count
    is summed (None where no worker had it), a property of the shared port is kept once
    (the smallest buffer granted)."""
    events: dict[str, int] = {}
    by_ended: dict[str, int] = {}
    tables: dict[str, int] = {}
    evicted: dict[str, int] = {}
    io: dict[str, Any] = {}
    rows: list[GroupStats] = []
    summary: list[dict[str, Any]] = []
    for rep in reports:
        for into, part in ((events, rep.events), (by_ended, rep.records_by_ended), (tables, rep.tables), (evicted, rep.evicted)):
            for key, value in part.items():
                into[key] = into.get(key, 0) + value
        rows.extend(rep.groups)
        summary.extend(rep.summary)
        for key, value in rep.io.items():
            io[key] = _merge_io(key, io.get(key), value) if key in io else value
    return CollectorReport(sum(r.datagrams for r in reports), sum(r.stale for r in reports), events, by_ended, rows, tables, evicted, summary, io)


def _merge_io(key: str, old: Any, new: Any) -> Any:
    if key == "rcvbuf_granted":
        return min(old, new)
    if isinstance(old, bool) or isinstance(new, bool):
        return bool(old or new)
    if key not in _IO_SHARED and isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return old + new
    if old is None or old == new:
        return new
    return old if new is None else f"{old} {new}"  # text that differs between workers: both
