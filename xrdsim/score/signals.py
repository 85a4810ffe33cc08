"""Per-server detectors over what the collector gave back, beside its network counters:
arrival gaps (a server gone silent, or all of them: the collector was down), pseq loss
bursts, and configuration drift (a server that stops sending user maps or f packets).
Pure functions; ``xrdsim.score.anomaly`` types, merges and scores what they find.

Each reads only the collector's output (records, summary samples, ``pseq_loss`` events)
and the NIC counters, never the truth: the truth only scores them.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from xrdsim.score.digest import HostSignals
from xrdsim.score.volume import RATIO_FLOOR_BYTES, Bins

#: A server is silent when nothing of it arrives for this long (s) …
GAP_FLOOR_S = 900.0
#: … and for this many times its median time between arrivals …
GAP_K = 20.0
#: … and for this many times its reporting period (the 95th percentile of its spacing: a
#: server flushing its f-stream every 10 minutes is heard in bursts ten minutes apart) …
PERIOD_K = 2.5
#: … and so long that, heard as often as it is around the gap (``RATE_WINDOW_S`` each side:
#: rates follow the daily cycle), it would stay that quiet by chance less than once in
#: 1/SILENCE_ALPHA runs of as many arrivals as the run has (each arrival is one more chance
#: of a long gap: a day of 200 servers has ~200 000, and a gap of 1 in 10⁵ then comes by itself).
SILENCE_ALPHA = 0.01
RATE_WINDOW_S = 7200.0
#: Silences at this share of the servers (and at least two) at once are one collector outage.
OUTAGE_SERVER_SHARE = 0.5
#: A loss burst: at least this many datagrams of one counter group declared lost in a bin …
BURST_MIN = 8
#: … and this many times the run's 90th percentile of lost datagrams per group and bin.
BURST_K = 4.0
#: A bin whose share of records carrying a user DN lies this far below the server's usual
#: share is configuration drift (its u maps stopped) …
DN_DROP = 0.5
#: … when the bin holds at least this many records, for at least this many bins.
DN_MIN_RECORDS = 5
DRIFT_MIN_BINS = 3


@dataclass(frozen=True, slots=True)
class LossEvent:
    """``count`` datagrams of counter ``group`` of ``server`` (host name) declared lost at
    ``t`` (the collector's ``pseq_loss`` anomaly)."""

    server: str
    group: str
    t: float
    count: int


@dataclass(frozen=True, slots=True)
class Finding:
    """What one detector found at one server: kind, host, [start, end), value, detail."""

    kind: str
    server: str
    start: float
    end: float
    value: float
    detail: str = ""


def loss_event(server_key: str, detail: str, t: float) -> LossEvent | None:
    """The ``LossEvent`` of a ``pseq_loss`` anomaly (detail "<group> <count>", the count
    negative when late arrivals took told losses back), named by its server key; None when
    the detail says no count."""
    group, _, count = str(detail).rpartition(" ")
    number = count.removeprefix("-")  # negative: late arrivals took told losses back
    return LossEvent(server_key, group, float(t), int(count)) if number.isdigit() and group else None


def summary_host(server: str) -> str:
    """The host of a summary sample's ``server`` ("host:port" or a bare name)."""
    host, _, port = str(server).rpartition(":")
    return host if port.isdigit() and host else str(server)


def arrivals(hosts: Mapping[str, HostSignals], losses: Iterable[LossEvent]) -> dict[str, list[float]]:
    """Per host, the sorted times the collector heard of it: its records' emission and its
    declared losses (a loss, too, is a datagram that came after a gap)."""
    out: dict[str, list[float]] = defaultdict(list)
    for host, sig in hosts.items():
        if sig.arrivals:
            out[host].extend(sig.arrivals)
    for ev in losses:
        out[ev.server].append(ev.t)
    return {h: sorted(v) for h, v in out.items()}


def _busy(nic: list[float], bins: Bins, start: float, end: float) -> bool:
    """Whether the NIC moved data through [start, end] at least at the ratio floor per bin."""
    moved = 0.0
    for k in range(bins.index(start), bins.index(end) + 1):
        lo, hi = max(start, bins.t0 + k * bins.width_s), min(end, bins.t0 + (k + 1) * bins.width_s)
        moved += nic[k] * max(hi - lo, 0.0) / bins.width_s
    return moved >= RATIO_FLOOR_BYTES * max((end - start) / bins.width_s, 1.0)


def gaps(times: list[float], start: float, end: float, chances: int = 0) -> list[tuple[float, float]]:
    """Silences in ``times`` (sorted) longer than max(GAP_FLOOR_S, GAP_K × the median spacing,
    PERIOD_K × the 95th-percentile spacing), the last one running to ``end``; the time before
    the first arrival is start-up. With ``chances`` (arrivals of every server of the run), a
    silence must also be one that the server's arrival rate around it makes less likely than
    SILENCE_ALPHA / ``chances`` (a Poisson gap: exp(−rate × length))."""
    instants = sorted(set(times))  # records of one datagram arrive together: one arrival
    if len(instants) < 3:
        return []
    spacing = sorted(b - a for a, b in zip(instants, instants[1:]))
    period = spacing[min(len(spacing) - 1, int(0.95 * len(spacing)))]
    limit = max(GAP_FLOOR_S, GAP_K * statistics.median(spacing), PERIOD_K * period)
    points = [t for t in times if start <= t <= end] + [end]
    found = [(a, b) for a, b in zip(points, points[1:]) if b - a > limit]
    if not chances:
        return found
    need = math.log(chances / SILENCE_ALPHA)
    return [(a, b) for a, b in found if _unlikely(instants, a, b, start, end, need)]


def _unlikely(instants: list[float], a: float, b: float, start: float, end: float, need: float) -> bool:
    """Whether the gap (a, b) is longer than ``need`` mean spacings at the rate heard in the
    RATE_WINDOW_S before and after it (a server heard of nowhere near it: yes)."""
    lo, hi = max(start, a - RATE_WINDOW_S, instants[0]), min(end, b + RATE_WINDOW_S)
    left, right = bisect.bisect_left(instants, lo), bisect.bisect_right(instants, hi)
    heard = sum(1 for t in instants[left:right] if t < a or t > b)
    span = (a - lo) + max(hi - b, 0.0)
    return heard == 0 or span <= 0 or (b - a) * heard / span > need


def silences(heard: Mapping[str, list[float]], summaries: Mapping[str, list[float]], nic: Mapping[str, list[float]],
             bins: Bins, run_end: float) -> tuple[list[Finding], list[Finding]]:
    """(servers gone silent while their NIC was busy, shared silences = collector outages).

    A silence during which the server's summary reports still arrived is no silent server
    but one whose records stopped: ``config_drift`` (its f-stream is off)."""
    found: list[Finding] = []
    for host in sorted(set(nic) - set(heard) - set(summaries)):  # a server whose monitoring never came
        if _busy(nic[host], bins, bins.t0, run_end):
            found.append(Finding("server_silent", host, bins.t0, run_end, run_end - bins.t0, "never heard while its NIC moved data"))
    chances = sum(len(set(times)) for times in heard.values())
    for host, times in sorted(heard.items()):
        for a, b in gaps(times, bins.t0, run_end, chances):
            if host not in nic or not _busy(nic[host], bins, a, b):
                continue
            reports = [t for t in summaries.get(host, []) if a < t < b]
            if reports:
                found.append(Finding("config_drift", host, a, b, b - a, f"no record for {b - a:.0f} s while its summaries came"))
            else:
                found.append(Finding("server_silent", host, a, b, b - a, f"nothing arrived for {b - a:.0f} s"))
    silent = [f for f in found if f.kind == "server_silent"]
    need = max(2, math.ceil(OUTAGE_SERVER_SHARE * len(heard)))
    shared: list[Finding] = []
    for f in silent:
        together = [g for g in silent if g.start < f.end and g.end > f.start]
        if len(together) >= need and not any(s.start < f.end and s.end > f.start for s in shared):
            shared.append(Finding("collector_outage", "", max(g.start for g in together), min(g.end for g in together),
                                  float(len(together)), f"{len(together)} servers silent at once"))
    if shared:
        found = [f for f in found if not (f.kind == "server_silent" and any(s.start < f.end and s.end > f.start for s in shared))]
    return found, shared


def loss_bursts(losses: Iterable[LossEvent], bins: Bins, ok: list[bool]) -> tuple[list[Finding], list[Finding]]:
    """(bins where one server's counter group lost far more than the run's usual, bins where
    most servers did at once = collector outages). The usual is the 90th percentile of lost
    datagrams per (server, group) and bin, so a run whose whole path is lossy does not alarm
    everywhere."""
    per: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * bins.count)
    for ev in losses:
        per[(ev.server, ev.group)][bins.index(ev.t)] += ev.count
    if not per:
        return [], []
    every = sorted(c for row in per.values() for c in row)
    usual = every[min(len(every) - 1, int(0.9 * len(every)))]
    limit = max(BURST_MIN, BURST_K * usual)
    edges = bins.edges()
    hot: dict[int, set[str]] = defaultdict(set)
    found = []
    for (host, group), row in sorted(per.items()):
        for k, c in enumerate(row):
            if ok[k] and c >= limit:
                hot[k].add(host)
                found.append(Finding("loss_burst", host, edges[k], edges[k + 1], float(c), f"{group}: {c} lost"))
    servers = {h for h, _ in per}
    need = max(2, math.ceil(OUTAGE_SERVER_SHARE * len(servers)))
    shared_bins = {k for k, hosts in hot.items() if len(hosts) >= need}
    shared = [Finding("collector_outage", "", edges[k], edges[k + 1], float(len(hot[k])), f"{len(hot[k])} servers lost datagrams at once")
              for k in sorted(shared_bins)]
    return [f for f in found if bins.index(f.start) not in shared_bins], shared


def dn_drift(hosts: Mapping[str, HostSignals], bins: Bins, ok: list[bool]) -> list[Finding]:
    """Runs of at least ``DRIFT_MIN_BINS`` bins (or to the run's last interior bin) in which a
    server's share of records with a user DN lies ``DN_DROP`` below its share before (the
    median over earlier bins not flagged): it stopped sending u maps (a drifted
    ``xrootd.monitor``), or the collector lost its users. A drift lasts; a burst of lost u
    maps only strips the sessions that logged in during it. Binned by record end."""
    count = {h: s.dn_count for h, s in hosts.items() if any(s.dn_count)}
    with_dn = {h: s.dn_with for h, s in hosts.items()}
    edges, found = bins.edges(), []
    last_ok = max((k for k, good in enumerate(ok) if good), default=-1)
    for host in sorted(count):
        before: list[float] = []
        low = [False] * bins.count
        for k, n in enumerate(count[host]):
            if n < DN_MIN_RECORDS:
                continue
            share = with_dn[host][k] / n
            usual = statistics.median(before) if len(before) >= 3 else math.nan
            if not math.isnan(usual) and usual >= DN_DROP and share <= usual - DN_DROP:
                low[k] = ok[k]
            else:
                before.append(share)
        k = 0
        while k < bins.count:
            if not low[k]:
                k += 1
                continue
            j = k
            while j + 1 < bins.count and (low[j + 1] or (not ok[j + 1] and j + 1 <= last_ok)):
                j += 1
            if j - k + 1 >= DRIFT_MIN_BINS or j >= last_ok:
                share = with_dn[host][k] / max(count[host][k], 1)
                found.append(Finding("config_drift", host, edges[k], edges[j + 1], share, f"user DN on {share:.0%} of records, from {statistics.median(before):.0%}"))
            k = j + 1
    return found


__all__ = ["BURST_K", "BURST_MIN", "DN_DROP", "GAP_FLOOR_S", "GAP_K", "PERIOD_K", "Finding", "LossEvent", "arrivals", "dn_drift", "gaps", "loss_event",
           "loss_bursts", "silences", "summary_host"]
