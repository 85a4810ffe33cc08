"""Configuration and capture findings: what a server's datagrams say about its ``xrootd.monitor``
and ``xrd.report`` settings (spec §1.2, §1.5, §1.6, §8.3), what the capture and the collector saw
go wrong, and why a comparison's volumes disagree where XRootD is known to count otherwise
(requested bytes past EOF, HTTP PUTs reported as 0). Server rules are a table; each returns a
sentence or None. Passes no verdict.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise

from collector import CollectorReport, TransferRecord
from replay import CaptureStats, Direction
from xrdsim.validation.compare import ALL, Comparison, past_eof, server_label
from xrdsim.validation.network import NetworkSide
from xrdsim.validation.ports import record_protocol
from xrdsim.validation.probe import MAX_UNFRAGMENTED
from xrdsim.validation.servers import ServerFacts
from xrdsim.wire import LinkStats

#: code → how to keep its datagrams below MAX_UNFRAGMENTED (spec §1.2, §1.6).
SIZE_HINTS = {
    "f": "`xrootd.monitor fbsz 1472`",
    "t": "`xrootd.monitor mbuff 1472`",
    "g": "`xrootd.monitor gbuff 1472`",
    "r": "nothing (rbuff is at least 2048)",
    "<": "fewer `xrd.report` categories",
}


#: Codes only a server with client sessions sends (spec §3.4, §3.5, §4, §5, §6).
ACTIVITY = "udtfr"


class Severity(str, enum.Enum):
    """How much a finding matters: ``problem`` loses monitoring, ``warning`` risks it, ``info`` explains."""

    PROBLEM = "problem"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Seen:
    """What the rules know beside a server's datagrams: the capture's length and whether the
    server moved data (records, network bytes or session traffic: an idle server sends no f
    or u packets whatever its configuration)."""

    span_s: float
    active: bool


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding: a ``kind`` id, its severity, what it is about (a server label or
    ``capture``) and one sentence."""

    kind: str
    severity: Severity
    subject: str
    detail: str


def _fstat_off(s: ServerFacts, seen: Seen) -> str | None:
    if not seen.active or s.codes["f"]:
        return None
    return "no f packets: `fstat` is off or routed to no destination in the capture, so transfers come from the t-stream at best"


def _user_off(s: ServerFacts, seen: Seen) -> str | None:
    if not seen.active:
        return None
    if not s.codes["u"]:
        return "no u packets: no destination has `user`, so records carry no user, DN, VO or client"
    opens = sum(k.opens for k in s.sockets)
    blank = sum(k.opens_without_user for k in s.sockets)
    return f"{blank} of {opens} OPEN records carry user dictid 0 (no `user` stream for them)" if blank else None


def _fragmenting(s: ServerFacts, seen: Seen) -> str | None:
    big = sum((k.oversize for k in s.sockets), Counter())
    if not big:
        return None
    largest = {c: max(k.largest.get(c, 0) for k in s.sockets) for c in big}
    parts = [f"{c}: {n} of {s.codes[c]} (largest {largest[c]} B; cap with {SIZE_HINTS.get(c, 'a smaller buffer')})" for c, n in sorted(big.items())]
    return f"datagrams above {MAX_UNFRAGMENTED} B are IP-fragmented at MTU 1500 and lost whole when one fragment is: " + "; ".join(parts)


def steps_only_at_disconnect(links: Sequence[LinkStats]) -> bool:
    """True when link in/out stay flat across ≥ 2 report intervals with the same links open
    (num > 0, no new link) yet grow in an interval where links closed: no ``sync`` (§8.3)."""
    flat_open = grew_open = grew_closing = 0
    for a, b in pairwise(links):
        moved = (b.in_bytes, b.out_bytes) != (a.in_bytes, a.out_bytes)
        if a.num > 0 and b.num == a.num and b.tot == a.tot:
            flat_open += not moved
            grew_open += moved
        elif moved:
            grew_closing += 1
    return flat_open >= 2 and not grew_open and grew_closing > 0


def _no_sync(s: ServerFacts, seen: Seen) -> str | None:
    for rep in s.summaries:
        if rep.unsynced:
            return f"{rep.unsynced} of {rep.reports} summary reports say sgen as=1: link counters not synchronised, add `sync` to `xrd.report`"
        if rep.no_sgen == rep.reports and steps_only_at_disconnect(rep.links):
            return "summary link in/out stay flat while links are open and step when they close: `xrd.report` without `sync`"
    return None


def _no_summary(s: ServerFacts, seen: Seen) -> str | None:
    if not s.detailed or s.summaries:
        return None
    return "no summary reports (`xrd.report`): no link counters to cross-check"


def _summary_only(s: ServerFacts, seen: Seen) -> str | None:
    return None if s.detailed else "only summary reports: no detailed monitoring (`xrootd.monitor`) in the capture"


def _ident_off(s: ServerFacts, seen: Seen) -> str | None:
    if not s.detailed or s.idents:
        return None
    known = f"data port {s.port} from the {s.port_source}" if s.port else "data port unknown"
    return f"no `=` ident in {seen.span_s:.0f} s of capture: `ident off`, or a period (default 3600 s) longer than the capture; {known}"


#: kind → (severity, rule on one server).
SERVER_RULES: dict[str, tuple[Severity, Callable[[ServerFacts, Seen], str | None]]] = {
    "fstat_off": (Severity.PROBLEM, _fstat_off),
    "user_off": (Severity.WARNING, _user_off),
    "fragmenting": (Severity.WARNING, _fragmenting),
    "no_sync": (Severity.WARNING, _no_sync),
    "no_summary": (Severity.INFO, _no_summary),
    "summary_only": (Severity.INFO, _summary_only),
    "ident_off": (Severity.WARNING, _ident_off),
}


def server_findings(servers: Sequence[ServerFacts], span_s: float, active: Collection[str]) -> list[Finding]:
    """Every rule of SERVER_RULES on every server; ``active`` are the labels of servers that
    moved data (see ``Seen``)."""
    out = []
    for s in servers:
        seen = Seen(span_s, s.label in active or bool(set(s.codes) & set(ACTIVITY)))
        for kind, (severity, rule) in SERVER_RULES.items():
            detail = rule(s, seen)
            if detail:
                out.append(Finding(kind, severity, s.label, detail))
    return out


def sessions_never_closed(s: ServerFacts) -> int:
    """``u`` logins without a DISC (f or t stream); 0 when the server sends neither stream."""
    if not (s.codes["f"] or s.codes["t"]):
        return 0
    logins = set().union(*(k.logins for k in s.sockets))
    discs = set().union(*(k.discs for k in s.sockets))
    return len(logins - discs)


def capture_findings(stats: CaptureStats, other_udp: dict[int, int]) -> list[Finding]:
    """What the capture file itself lost or held besides monitoring."""
    out = []
    if stats.truncated:
        out.append(Finding("snaplen", Severity.PROBLEM, "capture",
                           f"{stats.truncated} UDP datagrams were cut by the capture's snap length and not read: capture with `-s 0`"))
    if stats.incomplete:
        out.append(Finding("fragments_lost", Severity.WARNING, "capture",
                           f"{stats.incomplete} fragmented datagrams miss a fragment in the capture and were not read"))
    if other_udp:
        ports = ", ".join(f"{p} ({n})" for p, n in sorted(other_udp.items()))
        out.append(Finding("other_udp", Severity.INFO, "capture", f"UDP that never decoded as monitoring, left out: port {ports}"))
    return out


def collector_findings(report: CollectorReport, servers: Sequence[ServerFacts]) -> list[Finding]:
    """Loss, malformed datagrams, closes without opens, files and sessions left open."""
    out = []
    for group, row in sorted(report.totals().items()):
        if row["lost"]:
            seen = row["received"] + row["lost"]
            out.append(Finding("loss", Severity.WARNING, f"group {group}",
                               f"{row['lost']} of {seen} datagrams lost ({row['lost'] / seen:.2%}), estimated from pseq gaps"))
    if report.malformed:
        out.append(Finding("malformed", Severity.WARNING, "capture", f"{report.malformed} monitoring datagrams did not decode"))
    ended = report.records_by_ended
    for kind, text in ENDED_NOTES.items():
        if ended.get(kind):
            out.append(Finding(kind, Severity.INFO, "capture", f"{ended[kind]} {text}"))
    for s in servers:
        n = sessions_never_closed(s)
        if n:
            out.append(Finding("session_never_closed", Severity.INFO, s.label, f"{n} sessions logged in (u) without a DISC in the capture"))
    return out


#: record end → what it means for a capture (spec §9.1).
ENDED_NOTES = {
    "close_without_open": "transfers closed without an OPEN in the capture (opened before it began, or the OPEN was lost): "
                          "their bytes may predate the capture",
    "collector_shutdown": "files still open when the capture ended: only bytes of their last XFR are counted",
    "timeout": "files without news for the collector's open TTL: only bytes of their last XFR are counted",
}


#: Record protocols of XrdHttp (the u-stream userid's protocol, spec §3.4).
HTTP = frozenset({"http", "https"})
#: The first XRootD release whose f-stream CLOSE counts the bytes of an HTTP PUT.
PUT_FIXED = (5, 7, 3)


def version(text: str) -> tuple[int, ...] | None:
    """``v5.5.3`` → (5, 5, 3); None when it does not read as a version."""
    parts = text.lstrip("vV").split("-")[0].split(".")
    return tuple(int(p) for p in parts) if parts and all(p.isdigit() for p in parts) else None


def _past_eof(label: str, records: Sequence[TransferRecord]) -> Finding | None:
    over = [(past_eof(r), r) for r in records]
    over = [(n, r) for n, r in over if n]
    if not over:
        return None
    n, big = max(over, key=lambda x: x[0])
    return Finding("past_eof", Severity.WARNING, label,
                   f"{len(over)} transfers report more bytes read than their file holds, {sum(x for x, _ in over):,} B in all "
                   f"(largest: {big.file_lfn}, {big.read_bytes:,} B read of a {big.file_size:,} B file): XRootD counts the bytes "
                   f"a read requests, not those it sends, so a read past EOF (`xrdfs cat` asks 8 MiB) counts in full; these "
                   f"bytes never crossed the network and the ratio is judged without them")  # fmt: skip


def _put_zero(s: ServerFacts, records: Sequence[TransferRecord], rows: dict[tuple[str, str], Comparison], allowance: float) -> Finding | None:
    puts = [r for r in records if record_protocol(r) in HTTP and r.rw and not r.write_bytes]
    if not puts:
        return None
    moved = []
    for proto in sorted({record_protocol(r) for r in puts}):
        c = rows.get((proto, Direction.IN.value)) or rows.get((ALL, Direction.IN.value))
        if c is not None and c.network_bytes - c.monitored_bytes > allowance * c.requests:
            moved.append(f"{c.network_bytes - c.monitored_bytes:,.0f} B more into {c.matched_by} than monitored")
    if not moved:
        return None
    ver = version(s.version)
    why = (f"XRootD before {'.'.join(map(str, PUT_FIXED))} reports an HTTP PUT with write 0 in the f-stream CLOSE"
           + (f" and this server is {s.version}: upgrade" if ver and ver < PUT_FIXED else
              f"; the server says {s.version}, so this is not that known bug" if ver else ""))  # fmt: skip
    paths = ", ".join(sorted({r.file_lfn for r in puts})[:5])
    return Finding("http_put_unreported", Severity.PROBLEM, s.label,
                   f"{len(puts)} HTTP uploads (PUT) closed with 0 bytes written ({paths}) while TCP carried "
                   f"{'; '.join(moved)}: {why}")  # fmt: skip


def _unported(label: str, records: Sequence[TransferRecord], covered: set[str]) -> Finding | None:
    if ALL in covered:
        return None
    left = [r for r in records if record_protocol(r) not in covered]
    if not left:
        return None
    protos = ", ".join(sorted({record_protocol(r) for r in left}))
    return Finding("protocol_without_port", Severity.WARNING, label,
                   f"{len(left)} {protos} transfers ({sum(r.read_bytes for r in left):,} B read, {sum(r.write_bytes for r in left):,} B "
                   f"written) have no data port of their protocol in the capture, so no comparison holds them: capture that "
                   f"port too (its TCP connections teach it) or give it with --data-port")  # fmt: skip


def volume_findings(comparisons: Sequence[Comparison], records: Sequence[TransferRecord], servers: Sequence[ServerFacts],
                    allowance: float) -> list[Finding]:
    """Per server: reads counted past EOF, HTTP PUTs reported as 0 while the network carried them,
    transfers of a protocol whose data port no comparison holds."""
    out = []
    for s in servers:
        mine = [r for r in records if server_label(r, servers) == s.label]
        rows = {(c.protocol, c.direction.value): c for c in comparisons if c.subject == s.label or s.label in c.matched_by}
        found = (_past_eof(s.label, mine), _put_zero(s, mine, rows, allowance),
                 _unported(s.label, mine, {c.protocol for c in comparisons if c.subject == s.label}))  # fmt: skip
        out += [f for f in found if f is not None]
    return out


def network_findings(side: NetworkSide) -> list[Finding]:
    """Traffic no monitored server accounts for, and the network side's own notes."""
    out = [Finding("network", Severity.INFO, "network", note) for note in side.notes]
    if side.unattributed:
        rows = ", ".join(f"{label} {d.value} {n:,.0f} B" for label, d, n in side.unattributed)
        out.append(Finding("unmonitored_traffic", Severity.WARNING, "network",
                           f"data-port traffic of no monitored server (a server without monitoring, or a TPC peer): {rows}"))
    return out


__all__ = [
    "ACTIVITY",
    "ENDED_NOTES",
    "SERVER_RULES",
    "Finding",
    "Seen",
    "Severity",
    "capture_findings",
    "collector_findings",
    "network_findings",
    "server_findings",
    "sessions_never_closed",
    "steps_only_at_disconnect",
    "version",
    "volume_findings",
]
