"""A validation's reports, written like a scenario run's: score.json, junit.xml, report.md and
report.html with plots, through the writers of ``xrdsim.report``. Formats; computes no metric.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from xrdsim.report import render_html, render_junit, render_markdown
from xrdsim.report import Section, Table, clean_json, fmt
from xrdsim.score import Metric, ScoreCard, SiteScore, VolumeSeries
from xrdsim.validation.compare import Comparison, ratio, server_label
from xrdsim.validation.findings import sessions_never_closed
from xrdsim.validation.network import utc
from xrdsim.validation.result import Validation

#: Rows of the long tables shown before "… and N more in score.json".
MAX_ROWS = 40
#: Shared plots drawn for a validation (``xrdsim.report.plots.PLOTS`` names) and their captions.
PLOT_CAPTIONS = {
    "volume.png": "Monitored bytes (dashed) against the network side (solid) per time bin; panels are server and direction",
    "agreement_heatmap.png": "Agreement 1 − |monitored − network| / max per server, direction and time bin",
}
HOW = ("**How we compare.** *in* is the bytes into the server (client writes), compared with Σ write_bytes of "
       "its transfer records; *out* is the bytes from it (reads), compared with Σ read_bytes (read + readv). "
       "The ratio is monitored / network. TCP payload also carries XRootD requests and responses, so a healthy "
       "server sits a little below 1 (the pgwrite CRCs are in write_bytes already); counters are first inverted "
       "to payload through the TCP/IP overhead model. Each protocol of a server (xroot on the ident's port, http on "
       "XrdHttp ports) is its own row. A direction passes when |monitored − network| is within the tolerance × network "
       "plus the allowance per request (transfer) for protocol replies; bytes a read requested past the end of its "
       "file (XRootD counts requested bytes) are left out of the judged ratio and named in a finding. Directions "
       "where neither side saw a byte are not judged.")  # fmt: skip


def metrics(v: Validation) -> list[Metric]:
    """The ratio of every comparison, as metrics."""
    return [Metric(c.name, c.judged_ratio, "",
                   f"Σ {'write' if c.direction.value == 'in' else 'read'} bytes monitored / {c.direction.value} bytes on the network")
            for c in v.comparisons]  # fmt: skip


def _comparison_json(c: Comparison, verdict: dict[str, Any]) -> dict[str, Any]:
    bins = [{"start": t, "monitored_bytes": m, "network_bytes": n, "ratio": ratio(m, n)} for t, m, n in c.bins]
    return {"server": c.subject, "protocol": c.protocol, "direction": c.direction.value, "monitored_bytes": c.monitored_bytes,
            "network_bytes": c.network_bytes, "ratio": c.ratio, "past_eof_bytes": c.past_eof_bytes, "judged_ratio": c.judged_ratio,
            "requests": c.requests, "summary_link_bytes": c.summary_bytes, "matched_by": c.matched_by,
            "passed": verdict.get(c.name), "bins": bins}  # fmt: skip


def _transfer_json(v: Validation) -> list[dict[str, Any]]:
    return [{"server": server_label(r, v.servers), "protocol": r.protocol, "lfn": r.file_lfn,
             "read_bytes": r.read_bytes, "write_bytes": r.write_bytes, "ended": r.ended.value, "start": r.start_time,
             "end": r.end_time, "user": r.user, "client_host": r.client_host} for r in v.records]  # fmt: skip


def score_document(v: Validation) -> dict[str, Any]:
    """The score.json content of a validation."""
    passed = {x.name: x.passed for x in v.verdicts}
    verdicts = {x.name: x for x in v.verdicts}
    rows = [{"name": m.name, "value": m.value, "unit": m.unit, "description": m.description,
             "expectation": verdicts[m.name].expectation if m.name in verdicts else None,
             "passed": passed.get(m.name), "reason": verdicts[m.name].reason if m.name in verdicts else None}
            for m in metrics(v)]  # fmt: skip
    ended = v.report.records_by_ended
    return clean_json({
        "validation": v.name, "capture": v.capture, "passed": v.passed, "tolerance": v.options.tolerance,
        "allowance_bytes_per_request": v.options.allowance,
        "network_side": v.method, "span": list(v.span), "bin_s": v.bins.width_s, "data_ports": v.data_ports,
        "failures": [{"name": x.name, "value": x.value, "expectation": x.expectation, "reason": x.reason} for x in v.failures],
        "metrics": rows, "servers": [_comparison_json(c, passed) for c in v.comparisons],
        "transfers": _transfer_json(v), "closes_without_open": ended.get("close_without_open", 0),
        "files_never_closed": ended.get("collector_shutdown", 0) + ended.get("timeout", 0),
        "sessions_never_closed": {s.label: sessions_never_closed(s) for s in v.servers},
        "loss": [asdict(g) | {"server": v.socket_labels.get(g.socket, g.socket)} for g in v.report.groups],
        "findings": [asdict(f) | {"severity": f.severity.value} for f in v.findings],
        "collector": v.report.to_dict(), "capture_stats": asdict(v.capture_stats), "phases_s": v.phases,
    })  # fmt: skip


def _intro(v: Validation) -> Section:
    state = "passed" if v.passed else f"FAILED ({len(v.failures)} of {len(v.verdicts)} directions)"
    ports = ", ".join(f"{p} ({src})" for p, src in sorted(v.data_ports.items())) or "none"
    text = (f"Capture {v.capture}, {utc(v.span[0])} to {utc(v.span[1])} UTC; {len(v.records):,} transfers from "
            f"{v.report.datagrams:,} monitoring datagrams. Network side: {v.method}. Data ports: {ports}. "
            f"Tolerance {v.options.tolerance:.3%} + {v.options.allowance:,.0f} B per request.")  # fmt: skip
    return Section(f"Validation {v.name}: {state}", [text, HOW])


def _verdicts(v: Validation) -> Section:
    judged = {x.name: x for x in v.verdicts}
    rows = []
    for c in v.comparisons:
        x = judged.get(c.name)
        result, why = ("pass" if x.passed else "FAIL", x.reason or "") if x else ("—", "no traffic on either side")
        rows.append((c.subject, c.protocol, c.direction.value, fmt(c.monitored_bytes, "B"), fmt(round(c.network_bytes), "B"),
                     fmt(c.ratio), fmt(c.past_eof_bytes, "B"), fmt(c.judged_ratio), fmt(c.summary_bytes, "B"), c.matched_by, result, why))  # fmt: skip
    header = ("server", "protocol", "direction", "monitored", "network", "ratio", "past EOF", "judged ratio",
              "summary link (server)", "network matched by", "result", "why")
    return Section("Monitored against network bytes", tables=[Table(header, rows)])


def _bins(v: Validation) -> Section:
    rows = [(c.subject, c.protocol, c.direction.value, utc(t), fmt(round(m), "B"), fmt(round(n), "B"), fmt(ratio(m, n)))
            for c in v.comparisons for t, m, n in c.bins if m or n]  # fmt: skip
    header = ("server", "protocol", "direction", "bin start (UTC)", "monitored", "network", "ratio")
    sec = Section(f"Per time bin ({fmt(v.bins.width_s, 's')})", tables=[Table(header, rows[:MAX_ROWS])])
    if len(rows) > MAX_ROWS:
        sec.paragraphs.append(f"… and {len(rows) - MAX_ROWS} more bins in score.json.")
    return sec


def _findings(v: Validation) -> Section:
    order = {"problem": 0, "warning": 1, "info": 2}
    found = sorted(v.findings, key=lambda f: order[f.severity.value])
    sec = Section("Configuration and capture findings")
    if found:
        sec.tables.append(Table(("severity", "about", "finding", "detail"), [(f.severity.value, f.subject, f.kind, f.detail) for f in found]))
    else:
        sec.paragraphs.append("Nothing to report: every server sends f, u, ident and synchronised summary reports, and nothing was lost.")
    return sec


def _transfers(v: Validation) -> Section:
    rows = [(t["server"], t["protocol"], t["lfn"], fmt(t["read_bytes"], "B"), fmt(t["write_bytes"], "B"), t["ended"],
             utc(t["start"]) if t["start"] else "—") for t in _transfer_json(v)]  # fmt: skip
    ended = ", ".join(f"{k} {n:,}" for k, n in sorted(v.report.records_by_ended.items())) or "none"
    sec = Section("Transfers seen", [f"{len(rows):,} transfer records: {ended}."])
    sec.tables.append(Table(("server", "protocol", "path", "read", "written", "ended", "start (UTC)"), rows[:MAX_ROWS]))
    if len(rows) > MAX_ROWS:
        sec.paragraphs.append(f"… and {len(rows) - MAX_ROWS} more transfers in score.json.")
    return sec


def _loss(v: Validation) -> Section:
    rows = [(v.socket_labels.get(g.socket, g.socket), g.socket, g.group, fmt(g.received), fmt(g.lost), fmt(g.duplicated),
             fmt(g.reordered), fmt(g.malformed)) for g in v.report.groups]  # fmt: skip
    header = ("server", "socket", "group", "received", "lost", "duplicated", "reordered", "malformed")
    return Section("Datagrams per counter group (loss estimated from pseq)", tables=[Table(header, rows)])


def _servers(v: Validation) -> Section:
    rows = [(s.label, s.site, s.pgm, ", ".join(f"{p} {proto}" for p, proto in sorted(s.data_ports.items())) or "—", ", ".join(sorted(s.ips)),
             " ".join(f"{c}={n}" for c, n in sorted(s.codes.items())), fmt(sessions_never_closed(s))) for s in v.servers]  # fmt: skip
    header = ("server", "site", "program", "data ports", "sender IPs", "datagrams per code", "sessions never closed")
    return Section("Servers", tables=[Table(header, rows)])


def _run(v: Validation) -> Section:
    rows = [("capture", v.capture_stats.summary()), ("collector", f"{v.report.datagrams:,} datagrams, {v.report.malformed:,} malformed")]
    rows += [(f"wall time: {k}", f"{s:.2f} s") for k, s in v.phases.items()]
    return Section("Run", tables=[Table(("quantity", "value"), rows)])


def sections(v: Validation, images: list[tuple[str, str]]) -> list[Section]:
    """Every section of the validation report."""
    plots = [Section("Plots", images=images)] if images else []
    return [_intro(v), _verdicts(v), *plots, _findings(v), _bins(v), _transfers(v), _loss(v), _servers(v), _run(v)]


def plot_card(v: Validation) -> ScoreCard:
    """The shared plots' input: one 'site' per server and direction with traffic, monitored
    against network."""
    series = VolumeSeries(v.bins)
    sites = []
    for c in (c for c in v.comparisons if c.has_traffic):
        key = c.name
        series.monitored[key] = [m for _, m, _ in c.bins]
        series.nic[key] = [n for _, _, n in c.bins]
        agree = 1.0 - abs(1.0 - c.judged_ratio) if math.isfinite(c.judged_ratio) else math.nan
        sites.append(SiteScore(key, agree, math.nan, math.nan, agree, 0, 0))
    return ScoreCard([], sites, series, [], [], [], [], {})


def render_plots(v: Validation, out: Path) -> list[tuple[str, str]]:
    """Draw the shared heatmap and, over two bins or more, volume plots; (file name, caption) pairs."""
    from xrdsim.report.plots import PLOTS

    card = plot_card(v)
    if not card.sites:
        return []
    names = [n for n in PLOT_CAPTIONS if v.bins.count > 1 or n != "volume.png"]
    return [(PLOTS[name][0](card, out / name), PLOT_CAPTIONS[name]) for name in names]


def write_reports(v: Validation, out_dir: str | Path, plots: bool = True) -> list[Path]:
    """Write score.json, junit.xml, report.md and report.html (with PNG plots) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    v.out_dir = out
    parts = sections(v, render_plots(v, out) if plots else [])
    texts = {"score.json": json.dumps(score_document(v), indent=2, allow_nan=False) + "\n", "junit.xml": render_junit(v),
             "report.md": render_markdown(parts), "report.html": render_html(parts)}  # fmt: skip
    for name, text in texts.items():
        (out / name).write_text(text)
    return [out / name for name in texts]


__all__ = ["PLOT_CAPTIONS", "metrics", "plot_card", "render_plots", "score_document", "sections", "write_reports"]
