"""What a run's report says, as format-neutral sections (paragraphs, tables, images) that the
Markdown and HTML writers render the same way. Formats numbers; computes no metric.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from xrdsim.score.anomaly import ABS_FLOOR, MAD_K

#: Rows of the long tables (sites, loss) shown before "… and N more".
MAX_ROWS = 25

HEADLINE = (
    "**Agreement** is the geometric mean of three fractions, each 1 when monitoring and reality "
    "agree: *byte recall* (Σ min(recorded, true) bytes / Σ true bytes), *transfer precision* "
    "(records that match a real transfer / records) and *volume agreement* (1 − Σ|monitored − "
    "NIC| / Σ NIC over site × time bins, NIC payload inverted from interface counters through "
    "the TCP/IP overhead model). A site's agreement is the same over its transfers and bins."
)


@dataclass(frozen=True, slots=True)
class Table:
    """A header row and rows of text cells."""

    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass(slots=True)
class Section:
    """A titled part of the report."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (file name, caption)
    preformatted: str = ""


def fmt(value: float | None, unit: str = "") -> str:
    """A number for people: 6 significant digits, '—' for none, units attached."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        text = f"{int(value):,}"
    else:
        text = f"{value:.6g}"
    return f"{text} {unit}".strip()


def _verdicts(result: Any) -> Section:
    sec = Section("Expectations")
    if not result.verdicts:
        sec.paragraphs.append("The scenario sets no expectations.")
        return sec
    rows = [(v.name, fmt(v.value, v.unit), v.expectation, "pass" if v.passed else "FAIL", v.reason or "")
            for v in result.verdicts]  # fmt: skip
    sec.tables.append(Table(("metric", "value", "expected", "result", "why"), rows))
    return sec


def _metrics(result: Any) -> Section:
    rows = [(m.name, fmt(m.value, m.unit), m.description) for m in result.card.metrics]
    return Section("Metrics", [HEADLINE], [Table(("metric", "value", "definition"), rows)])


def _sites(result: Any) -> Section:
    sites = sorted(result.card.sites, key=lambda s: (math.isnan(s.agreement), s.agreement))
    rows = [(s.site, fmt(s.agreement), fmt(s.byte_recall), fmt(s.precision), fmt(s.volume_agreement), fmt(s.transfers), fmt(s.records))
            for s in sites[:MAX_ROWS]]  # fmt: skip
    sec = Section("Sites, worst first", tables=[Table(("site", "agreement", "byte recall", "precision", "volume", "transfers", "records"), rows)])
    if len(sites) > MAX_ROWS:
        sec.paragraphs.append(f"… and {len(sites) - MAX_ROWS} more sites in score.json.")
    return sec


def _loss(result: Any) -> Section:
    rows = sorted(result.card.loss, key=lambda r: -(r.lost + (r.estimated or 0)))
    shown = [(r.server, r.group, fmt(r.sent), fmt(r.lost), fmt(r.estimated)) for r in rows[:MAX_ROWS] if r.lost or r.estimated]
    sec = Section("Datagram loss per server and counter group")
    if shown:
        sec.tables.append(Table(("server", "group", "sent", "lost (truth)", "lost (collector)"), shown))
    else:
        sec.paragraphs.append("No datagram was lost, and the collector estimated no loss.")
    return sec


def _time(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _anomalies(result: Any) -> Section:
    card = result.card
    sec = Section("Anomalies against injected faults")
    sec.paragraphs.append(f"Detector: per site, bins whose monitored/NIC ratio is more than max({MAD_K:g} × 1.4826 × MAD, "
                          f"{ABS_FLOOR:g}) from the site's median ratio; consecutive bins form one detection.")
    faults = [(f.kind, f.target, _time(f.start), _time(f.end)) for f in card.faults]
    if faults:
        sec.tables.append(Table(("fault", "target", "start (UTC)", "end (UTC)"), faults))
    found = [(d.site, _time(d.start), _time(d.end), fmt(d.worst_ratio)) for d in card.detections[:MAX_ROWS]]
    if found:
        sec.tables.append(Table(("site", "from (UTC)", "to (UTC)", "worst ratio"), found))
    else:
        sec.paragraphs.append("No ratio anomaly was detected.")
    return sec


def _run(result: Any) -> Section:
    stats = result.sim_stats
    rows = [(k.replace("_", " "), fmt(v) if isinstance(v, (int, float)) else str(v)) for k, v in stats.items()]
    rows += [(f"wall time: {k}", f"{v:.2f} s") for k, v in result.phases.items()]
    sim_s = result.scenario.sim.duration_s
    total = sum(result.phases.values())
    if total:
        rows.append(("simulated / wall", f"{sim_s / total:,.0f}×"))
    return Section("Run", tables=[Table(("quantity", "value"), rows)])


def sections(result: Any, images: list[tuple[str, str]]) -> list[Section]:
    """Every section of the report of ``result`` (a ``harness.RunResult``)."""
    sc = result.scenario
    verdict = "passed" if result.passed else f"FAILED ({len(result.failures)} of {len(result.verdicts)} expectations)"
    intro = Section(f"Scenario {sc.name}: {verdict}",
                    [(f"Seed {sc.seed}, {fmt(sc.sim.duration_s, 's')} simulated, collector {sc.collector.mode.value}, "
                      f"headline agreement {fmt(result.card.value('agreement'))}.")],
                    preformatted=sc.description)  # fmt: skip
    plots = Section("Plots", images=images) if images else None
    parts = [intro, _verdicts(result), plots, _metrics(result), _sites(result), _loss(result), _anomalies(result), _run(result)]
    return [p for p in parts if p is not None]


__all__ = ["HEADLINE", "Section", "Table", "fmt", "sections"]
