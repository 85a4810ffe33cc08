"""What a run's report says, as format-neutral sections (paragraphs, tables, images) that the
Markdown and HTML writers render the same way. Formats numbers; computes no metric.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from xrdsim.score.anomaly import ABS_FLOOR, MAD_K, SERVER_ABS_FLOOR
from xrdsim.score.causes import UNEXPLAINED, cause_counts

#: Rows of the long tables (sites, loss) shown before "… and N more".
MAX_ROWS = 25

HEADLINE = (
    "**Agreement** is the geometric mean of four fractions, each 1 when monitoring and reality "
    "agree: *byte recall* (Σ min(recorded, true) bytes / Σ true bytes), *byte precision* "
    "(Σ min(recorded, true) bytes / Σ recorded bytes: over-counting lowers it), *transfer precision* "
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
    shown = [(r.server, "all" if r.group == "*" else r.group, fmt(r.sent), fmt(r.lost), fmt(r.estimated))
             for r in rows[:MAX_ROWS] if r.lost or r.estimated]  # fmt: skip
    sec = Section("Datagram loss per server and counter group")
    estimated = any(r.estimated is not None for r in rows)
    if not estimated:
        sec.paragraphs.append("The collector gives no loss estimate (an external one without a mapped loss counter, "
                              "`collector.loss_url`): only the truth's loss is shown.")  # fmt: skip
    elif any(r.group == "*" for r in rows):
        sec.paragraphs.append("The collector estimates loss per server, not per counter group: the truth is summed per server.")
    if shown:
        sec.tables.append(Table(("server", "group", "sent", "lost (truth)", "lost (collector)"), shown))
    else:
        sec.paragraphs.append("No datagram was lost" + (", and the collector estimated no loss." if estimated else "."))
    return sec


def _external(result: Any) -> Section | None:
    """How an external collector ran: its command, log, what was skipped, and why latency
    is measured on receipt."""
    info = result.collected.report.get("external") if isinstance(result.collected.report, dict) else None
    if not info:
        return None
    sec = Section("External collector")
    sec.paragraphs.append("Latency is measured when xrdsim received each record (the simulated time of the last "
                          "datagram sent by then), not from the collector's own stamps; unpaced (`speed: 0`) it also "
                          "holds the time the collector takes to catch up, so pace the run for a latency that means "
                          "what it would on the wire.")  # fmt: skip
    rows = [("command", " ".join(info["argv"])), ("stderr log", info["log"]), ("records read from", info["records_file"]),
            ("datagrams sent", fmt(info["datagrams_sent"])), ("dropped by the kernel (socket full)", fmt(info["datagrams_dropped_by_kernel"])),
            ("lines that were no transfer record (skipped)", fmt(info["lines_skipped"])), ("loss estimate", info["loss_estimate"])]  # fmt: skip
    rows += [("note", n) for n in info.get("notes", [])]
    sec.tables.append(Table(("quantity", "value"), rows))
    return sec


def _time(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _anomalies(result: Any) -> Section:
    card = result.card
    sec = Section("Anomalies against injected faults")
    sec.paragraphs.append(f"Detector: per site and per server, bins whose monitored/NIC ratio is more than max({MAD_K:g} × 1.4826 × "
                          f"MAD, {ABS_FLOOR:g} for a site or {SERVER_ABS_FLOOR:g} for a server) from the median ratio, either way (volume_drop, volume_excess); drops at most "
                          "sites, or silences or loss bursts at most servers, at once (collector_outage); a server's new stod or "
                          "an incarnation ended by a restart (server_restart); record times far off their arrival (clock_skew); "
                          "nothing of a server arriving while its NIC is busy (server_silent); one counter group declaring far "
                          "more lost datagrams than the run's usual (loss_burst); records that stop while summaries come, or "
                          "that lose their user DN for good (config_drift). The run's last bin never alarms (files still open "
                          "at the end are known only from their last XFR). A fault is found only by a detection of its own kind.")
    faults = [(f.kind, f.target, _time(f.start), _time(f.end)) for f in card.faults]
    if faults:
        sec.tables.append(Table(("fault", "target", "start (UTC)", "end (UTC)"), faults))
    found = [(d.kind, d.site, d.server or "—", _time(d.start), _time(d.end), _evidence(d)) for d in card.detections[:MAX_ROWS]]
    if found:
        sec.tables.append(Table(("kind", "site", "server", "from (UTC)", "to (UTC)", "ratio / evidence"), found))
    else:
        sec.paragraphs.append("No anomaly was detected.")
    kinds = [(k.role, k.kind, fmt(k.count), fmt(k.hits), fmt(k.rate), fmt(k.delay_s, "s")) for k in card.kinds]
    if kinds:
        sec.tables.append(Table(("scored as", "kind", "count", "explained / detected", "precision / recall", "median delay"), kinds))
    return sec


def _evidence(d: Any) -> str:
    """A detection's value in words: a ratio, the new incarnation's stod, a clock offset."""
    if d.kind == "server_restart":
        return f"stod {fmt(d.value)}"
    if d.kind == "clock_skew":
        return f"clock off by {fmt(round(d.value), 's')}"
    if d.detail:
        return d.detail
    return f"ratio {fmt(d.value)}"


def _causes(result: Any) -> Section:
    """Every missed, extra or wrong transfer (capped), with counts per cause."""
    misses = result.card.misses
    sec = Section("Missed, extra and wrong transfers, and why")
    if not misses:
        sec.paragraphs.append("Every transfer was recorded once, with the truth's bytes, path, user, VO and site.")
        return sec
    # the collector's own errors first: they are what a developer has to fix
    counts = sorted(cause_counts(misses).items(), key=lambda kv: (kv[0][1] not in UNEXPLAINED, -kv[1]))
    sec.paragraphs.append("The cause is read from the truth: a datagram of the server lost on the path (or during a "
                          "collector outage) between the transfer's open and the flush after its close, a restart that "
                          "cut it, or the record's own ending (TTL expiry, end of the run). *unexplained*, *duplicate "
                          "record* and *no such transfer* name no fault of the run: they are the collector's.")
    sec.tables.append(Table(("outcome", "cause", "transfers"), [(o, c, fmt(n)) for (o, c), n in counts]))
    shown = _examples(misses, [key for key, _ in counts])
    rows = [(x.outcome, x.cause, x.server, x.lfn, _time(x.time), x.detail) for x in shown]
    sec.tables.append(Table(("outcome", "cause", "server", "file", "time (UTC)", "what differs"), rows))
    if len(misses) > len(shown):
        sec.paragraphs[0] += (f" The second table shows {len(shown)} of the {len(misses):,}, a few of each cause; "
                              "score.json lists up to 1,000.")
    return sec


def _examples(misses: list[Any], order: list[tuple[str, str]]) -> list[Any]:
    """Up to ``MAX_ROWS`` misses, a few of every (outcome, cause) so none is hidden by a big one."""
    per = max(1, MAX_ROWS // max(len(order), 1))
    by: dict[tuple[str, str], list[Any]] = {}
    for x in misses:
        group = by.setdefault((x.outcome, x.cause), [])
        if len(group) < per:
            group.append(x)
    return [x for key in order for x in by.get(key, [])][:MAX_ROWS]


def _run(result: Any) -> Section:
    stats = result.sim_stats
    rows = [(k.replace("_", " "), fmt(v) if isinstance(v, (int, float)) else str(v)) for k, v in stats.items()]
    rows += [(f"wall time: {k}", f"{v:.2f} s") for k, v in result.phases.items()]
    speed = result.speed
    if not math.isnan(speed):
        rows.append(("simulated / wall (simulate + collect + score)", f"{speed:,.0f}×"))
    return Section("Run", tables=[Table(("quantity", "value"), rows)])


def sections(result: Any, images: list[tuple[str, str]]) -> list[Section]:
    """Every section of the report of ``result`` (a ``harness.RunResult``)."""
    sc = result.scenario
    verdict = "passed" if result.passed else f"FAILED ({len(result.failures)} of {len(result.verdicts)} expectations)"
    intro = Section(f"Scenario {sc.name}: {verdict}",
                    [(f"Seed {sc.seed}, {fmt(sc.sim.duration_s, 's')} simulated, collector {result.collector or sc.collector.mode.value}, "
                      f"headline agreement {fmt(result.card.value('agreement'))}.")],
                    preformatted=sc.description)  # fmt: skip
    plots = Section("Plots", images=images) if images else None
    parts = [intro, _verdicts(result), plots, _metrics(result), _sites(result), _loss(result), _external(result), _causes(result),
             _anomalies(result), _run(result)]
    return [p for p in parts if p is not None]


__all__ = ["HEADLINE", "Section", "Table", "fmt", "sections"]
