"""Why a transfer was missed, extra or wrong, read from the truth: a datagram lost on the path
or during a collector outage, a server restart, a TTL expiry, a file still open at the end.
Pure functions over the matching and the truth tables; the report lists what they find.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from xrdsim.score.match import Matching, Rec, truth_bytes
from xrdsim.sim import DatagramRow, FaultRow, TransferRow

#: A lost datagram counts against a transfer up to this long after its close: the f-stream
#: CLOSE waits for the next flush (``flush_s``, 600 s by default) plus the window.
AFTER_CLOSE_S = 660.0
#: path cause (``xrdsim.net``) → the words of the report.
LOSS_CAUSE = {"outage": "collector outage", "burst": "datagram lost on the path", "iid": "datagram lost on the path",
              "fragment": "datagram lost on the path (IP fragment)", "silent": "server's monitoring blocked on the path"}
#: record ``ended`` → the cause of its wrong bytes.
ENDED_CAUSE = {"timeout": "TTL expiry", "server_restart": "restart", "collector_shutdown": "open at the end of the run",
               "evicted": "state bound (eviction)", "forced_close": "forced close"}
#: Record fields compared with the truth for ``wrong``: (truth field, record field).
CHECKED = (("lfn", "file_lfn"), ("user_dn", "user_dn"), ("vo", "vo"), ("site", "site"))


@dataclass(frozen=True, slots=True)
class Miss:
    """One transfer the records got wrong: ``outcome`` missed, extra or wrong; its cause and
    what differs."""

    outcome: str
    server: str
    lfn: str
    time: float
    cause: str
    detail: str


class _Losses:
    """Lost datagrams per server, by send time (unix), with their path cause; and the lost
    u maps (a user's login) per server."""

    def __init__(self, datagrams: Iterable[DatagramRow], t0: float) -> None:
        lost: dict[str, list[tuple[float, str]]] = defaultdict(list)
        logins: dict[str, list[float]] = defaultdict(list)
        for d in datagrams:
            if d.fate == "lost":  # the datagram table keeps simulated seconds
                lost[d.server].append((t0 + d.t_send, d.cause))
                if d.code == "u":
                    logins[d.server].append(t0 + d.t_send)
        self.times = {s: [t for t, _ in sorted(v)] for s, v in lost.items()}
        self.causes = {s: [c for _, c in sorted(v)] for s, v in lost.items()}
        self.logins = {s: sorted(v) for s, v in logins.items()}

    def login_lost(self, server: str, before: float) -> bool:
        """Whether a u map of ``server`` was lost before ``before`` (a session's login: the
        records of its files can carry no user)."""
        times = self.logins.get(server, [])
        return bool(times) and times[0] <= before

    def cause(self, server: str, start: float, end: float) -> str:
        """The report's words for the first datagram of ``server`` lost in [start, end], or ''."""
        times = self.times.get(server, [])
        k = bisect_left(times, start)
        if k < len(times) and times[k] <= end:
            return LOSS_CAUSE.get(self.causes[server][k], "datagram lost on the path")
        return ""


def _no_fstream(faults: Iterable[FaultRow]) -> dict[str, float]:
    """Server → when a config_drift restart took its f-stream away."""
    return {f.target: f.start for f in faults if f.kind == "config_drift" and "fstat" in f.parameters.partition("drop=")[2].split(",")}


def _restarts(faults: Iterable[FaultRow]) -> dict[str, list[FaultRow]]:
    out: dict[str, list[FaultRow]] = defaultdict(list)
    for f in faults:
        if f.kind in ("server_restart", "config_drift"):  # a drift is a restart with another config
            out[f.target].append(f)
    return out


def cut_by_restart(t: TransferRow, restarts: dict[str, list[FaultRow]]) -> bool:
    """Whether a restart of ``t``'s server (or site) hit it while open."""
    return any(t.open_time <= f.start <= t.close_time + 1.0 for f in restarts.get(t.server, []) + restarts.get(t.site, []))


def _cause(t: TransferRow, losses: _Losses, restarts: dict[str, list[FaultRow]], no_f: dict[str, float]) -> str:
    if cut_by_restart(t, restarts):
        return "restart"
    if t.server in no_f and t.open_time >= no_f[t.server]:
        return "configuration drift (no f-stream)"
    return losses.cause(t.server, t.open_time - 1.0, t.close_time + AFTER_CLOSE_S) or "unexplained"


def _wrong(t: TransferRow, r: Rec) -> str:
    parts = []
    if truth_bytes(t) != r.total_bytes or (t.read_bytes, t.readv_bytes) != (r.read_bytes, r.readv_bytes):
        parts.append(f"bytes {r.total_bytes:,} of {truth_bytes(t):,}")
    for tf, rf in CHECKED:
        a, b = getattr(t, tf), getattr(r, rf)
        if (a or b) and a != b:
            parts.append(f"{rf} {b!r} for {a!r}")
    return "; ".join(parts)


def explain(m: Matching, datagrams: Iterable[DatagramRow], faults: Iterable[FaultRow], t0: float) -> list[Miss]:
    """Every missed, extra and wrong transfer with its cause, in time order per outcome;
    ``t0`` is the unix time of simulated second 0."""
    faults = list(faults)
    losses, restarts, no_f = _Losses(datagrams, t0), _restarts(faults), _no_fstream(faults)
    out = [Miss("missed", t.server, t.lfn, t.open_time, _cause(t, losses, restarts, no_f), f"{truth_bytes(t):,} bytes")
           for t in sorted(m.missed, key=lambda t: t.open_time)]
    for t, r in m.pairs:
        detail = _wrong(t, r)
        if detail:
            cause = ENDED_CAUSE.get(r.ended) or _cause(t, losses, restarts, no_f)
            if cause == "unexplained" and t.user_dn and not r.user_dn and losses.login_lost(t.server, t.open_time):
                cause = "user map lost on the path"
            out.append(Miss("wrong", t.server, t.lfn, t.open_time, cause, detail))
    dup = {id(r) for r in m.duplicated}
    for r in m.spurious:
        when = r.start_time if r.start_time is not None else (r.end_time or 0.0)
        cause = "duplicate record" if id(r) in dup else "no such transfer in the truth"
        out.append(Miss("extra", r.server_host or r.server_ip, r.file_lfn, when, cause, f"{r.total_bytes:,} bytes"))
    return out


#: Causes that name no fault of the run: the collector's own doing.
UNEXPLAINED = frozenset({"unexplained", "duplicate record", "no such transfer in the truth"})


def unexplained_rate(misses: Iterable[Miss], truth_transfers: int) -> float:
    """Missed, extra and wrong transfers the truth gives no cause for / truth transfers: an
    honest collector errs only where a datagram was lost, a server restarted or a policy
    (TTL) ended a file, so any other error is a bug; NaN without truth transfers."""
    bad = sum(x.cause in UNEXPLAINED for x in misses)
    return bad / truth_transfers if truth_transfers else math.nan


def cause_counts(misses: Iterable[Miss]) -> Counter[tuple[str, str]]:
    """(outcome, cause) → how many."""
    return Counter((x.outcome, x.cause) for x in misses)


def restart_cut(m: Matching, faults: Iterable[FaultRow]) -> tuple[int, int]:
    """(ended ``server_restart``, cut) of the truth transfers an injected restart cut: a
    missed one counts as not ended. Their ratio is ``restart_end_rate``."""
    restarts = _restarts(faults)
    if not restarts:
        return 0, 0
    cut = [(t, r.ended) for t, r in m.pairs if t.close_kind != "explicit" and cut_by_restart(t, restarts)]
    cut += [(t, "") for t in m.missed if t.close_kind != "explicit" and cut_by_restart(t, restarts)]
    return sum(e == "server_restart" for _, e in cut), len(cut)


__all__ = ["UNEXPLAINED", "Miss", "cause_counts", "cut_by_restart", "explain", "restart_cut", "unexplained_rate"]
