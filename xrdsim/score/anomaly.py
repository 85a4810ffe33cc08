"""Typed anomaly detection across sites and servers, scored per kind against the faults
injected into the run (truth ``faults``). Pure functions, fixed thresholds, no per-scenario
tuning.

Signals and the kinds they raise:

- ``volume_drop`` / ``volume_excess``: a site's monitored/NIC ratio in a bin lies a robust
  distance (median and MAD, with an absolute floor) below or above the site's median;
- ``collector_outage``: ratio drops at most sites in the same bins (one receiving end);
- ``server_restart``: a server's records carry a new ``stod`` (a new incarnation), or records
  of its last incarnation ended ``server_restart``;
- ``clock_skew``: a server's record times sit off their arrival by far more than the run's
  typical lag (its clock, not the collector's, is wrong);
- per server (``xrdsim.score.signals``): its own ratio drops and excesses; ``server_silent``
  (nothing of it arrives while its NIC is busy); ``loss_burst`` (one counter group declares
  far more lost datagrams than the run's usual); ``config_drift`` (its records lose their
  user DN, or stop while its summaries keep coming). Silences or bursts at most servers at
  once fold into one ``collector_outage``.

A drop, burst or silence where the truth shows a datagram of that server (or, for a site's
drop, of that site) lost on the path is explained by that loss (``path_loss`` context): no
false alarm, and no fault a detector must find.

Edge bins never alarm: the last bin holds the files still open at the end (known only from
their last XFR), and a bin not wholly inside the run is partial by construction.

A detection is precise when some fault (or the path's loss) explains it (``EXPLAINS``); a
fault is found only by a detection of its own kind (``FINDS``): a restart seen as a ratio
drop is explained, but the restart was not recognised.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from xrdsim.score.catalog import Metric, metric
from xrdsim.score.digest import HostSignals, RecordDigest
from xrdsim.score.metrics import quantile, ratio
from xrdsim.score.signals import Finding, LossEvent, arrivals, dn_drift, loss_bursts, silences
from xrdsim.score.volume import RATIO_FLOOR_BYTES, VolumeSeries
from xrdsim.sim import FaultRow

#: A bin is anomalous when its ratio is this many scaled MADs from the site's median …
MAD_K = 5.0
#: … and at least this far in absolute terms. Loss on a WAN path alone moves a site's bin by
#: up to ~0.2 (a lost CLOSE of a large file: lossy-wan); a fault moves it further.
ABS_FLOOR = 0.30
#: A server's bins are noisier than its site's (fewer transfers, each one's bytes spread over
#: its life while the NIC counts them as they flow): its floor is higher. A silent server
#: falls to ~0, half its monitoring lost to ~0.5.
SERVER_ABS_FLOOR = 0.45
#: A server's bin whose neighbours give back at least this share of its excess or shortfall
#: is a shift in time, not in volume: a record's bytes are spread evenly over its life while
#: the NIC counts them as they flow, so one long transfer moves bytes between adjacent bins.
#: (At a thousand sites, 190 000 server-bins, the tail of that noise passes any fixed floor.)
SHIFT_BACK = 0.5
#: 1.4826·MAD estimates σ for normal data.
MAD_SCALE = 1.4826
#: A detection still counts for a fault this many bins after the fault's end.
GRACE_BINS = 2
#: Fault targets that hit every site.
EVERYWHERE = frozenset({"collector", "*", ""})
#: Ratio drops at this share of the sites (and at least two) in one bin are one outage.
OUTAGE_SITE_SHARE = 0.5
#: fault kind → the detection kinds that explain it.
EXPLAINS: dict[str, frozenset[str]] = {
    # when the collector is back, CLOSEs of files whose OPEN it missed carry no start: their
    # bytes land in the bin after the outage (an excess the outage explains)
    "collector_outage": frozenset({"collector_outage", "volume_drop", "volume_excess"}),
    "server_restart": frozenset({"server_restart", "volume_drop", "volume_excess"}),
    "clock_skew": frozenset({"clock_skew", "volume_drop", "volume_excess"}),
    "client_crash": frozenset({"volume_drop", "volume_excess"}),
    # a lost f packet takes records: the server's bytes drop, and it may fall silent a while
    "path_loss": frozenset({"volume_drop", "loss_burst", "server_silent"}),
    # XRootD before 5.7.3 closes an HTTP PUT with write 0: its bytes crossed the NIC only
    "http_put_write0": frozenset({"volume_drop"}),
    "server_silent": frozenset({"server_silent", "loss_burst", "volume_drop", "volume_excess"}),
    "loss_burst": frozenset({"loss_burst", "volume_drop", "volume_excess"}),
    # a drift is a restart with fewer monitoring events
    "config_drift": frozenset({"config_drift", "server_restart", "volume_drop", "volume_excess"}),
}
#: fault kind → the detection kinds that find it (recall); unlisted: its own kind.
FINDS: dict[str, frozenset[str]] = {"client_crash": frozenset({"volume_drop", "volume_excess"})}
#: Faults whose effect lasts to the end of the run (a changed configuration stays).
PERMANENT = frozenset({"config_drift"})
#: A server's median record time lags (or leads) its arrival by this much more than the run's
#: median: its clock is off. Without fstat a CLOSE waits up to a 600 s flush, so less is noise.
SKEW_FLOOR_S = 900.0
#: Records of one server in one bin needed for a median lag.
SKEW_MIN_RECORDS = 2
#: A lost f-stream datagram explains a site's drop this long before it was sent (its CLOSEs
#: carry bytes spread over each transfer's life).
LOSS_LOOKBACK_S = 3600.0


@dataclass(frozen=True, slots=True)
class Detection:
    """One typed detection: ``kind``, the site (``*`` for all) and server (``""`` when it is
    a site's), [start, end) unix seconds, its evidence value (the worst ratio, the new
    incarnation's stod, a clock offset, a silence's length, datagrams lost) and a detail."""

    kind: str
    site: str
    server: str
    start: float
    end: float
    value: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """An injected fault as the detector should see it: kind, sites hit, [start, end]."""

    kind: str
    target: str
    sites: tuple[str, ...]
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class KindScore:
    """Precision of one detection kind, or recall and delay of one fault kind."""

    kind: str
    role: str  # "detection" or "fault"
    count: int
    hits: int
    rate: float
    delay_s: float


def ratios(monitored: list[float], nic: list[float]) -> list[float]:
    """monitored/NIC per bin; NaN where the NIC saw too little traffic for a ratio."""
    return [m / n if n >= RATIO_FLOOR_BYTES else math.nan for m, n in zip(monitored, nic)]


def flagged(values: list[float], floor: float = ABS_FLOOR) -> list[int]:
    """Per bin: -1 (drop) or +1 (excess) beyond max(MAD_K·1.4826·MAD, ``floor``) from the
    median, else 0."""
    known = [v for v in values if not math.isnan(v)]
    if len(known) < 3:
        return [0] * len(values)
    med = statistics.median(known)
    mad = statistics.median(abs(v - med) for v in known)
    limit = max(MAD_K * MAD_SCALE * mad, floor)
    return [0 if math.isnan(v) or abs(v - med) <= limit else (1 if v > med else -1) for v in values]


def interior(series: VolumeSeries, run_end: float) -> list[bool]:
    """Bins that may alarm: wholly inside the run, and not its last bin."""
    edges = series.bins.edges()
    return [k < series.bins.count - 1 and edges[k + 1] <= run_end + 1e-6 for k in range(series.bins.count)]


def _runs(signs: list[int]) -> list[tuple[int, int, int]]:
    """(sign, first bin, last bin) of every run of equal non-zero signs."""
    out, k = [], 0
    while k < len(signs):
        if signs[k]:
            j = k
            while j + 1 < len(signs) and signs[j + 1] == signs[k]:
                j += 1
            out.append((signs[k], k, j))
            k = j + 1
        else:
            k += 1
    return out


def _signs(series: VolumeSeries, ok: list[bool], floor: float) -> tuple[dict[str, list[int]], dict[str, list[float]]]:
    """Per key of ``series``: the flagged sign and the ratio of every bin."""
    signs, values = {}, {}
    for key in series.sites:
        rs = ratios(series.monitored.get(key, []), series.nic[key])
        signs[key] = [s if good else 0 for s, good in zip(flagged(rs, floor), ok)]
        values[key] = rs
    return signs, values


def shifted(signs: list[int], monitored: list[float], nic: list[float]) -> list[int]:
    """``signs`` without the bins whose neighbours give back at least ``SHIFT_BACK`` of the
    bin's excess (monitored − NIC) or shortfall: bytes shifted in time, not lost or added."""
    out = list(signs)
    for k, sign in enumerate(signs):
        if not sign:
            continue
        own = monitored[k] - nic[k]
        around = sum(monitored[j] - nic[j] for j in (k - 1, k + 1) if 0 <= j < len(signs))
        if -around * (1 if own > 0 else -1) >= SHIFT_BACK * abs(own):
            out[k] = 0
    return out


def _ratio_runs(signs: list[int], values: list[float], edges: list[float], site: str, server: str) -> list[Detection]:
    out = []
    for sign, a, b in _runs(signs):
        worst = max((values[k] for k in range(a, b + 1)), key=lambda r: abs(r - 1.0))
        out.append(Detection("volume_drop" if sign < 0 else "volume_excess", site, server, edges[a], edges[b + 1], worst))
    return out


def ratio_detections(series: VolumeSeries, run_end: float, servers: VolumeSeries | None = None,
                     site_of: Mapping[str, str] | None = None) -> list[Detection]:
    """Drops and excesses of each site's ratio (drops shared by most sites fold into one
    ``collector_outage``) and, given the per-host ``servers`` series, of each server's; a
    site's run that one of its servers' runs of the same kind overlaps is left to the server
    (the more precise place)."""
    edges, ok = series.bins.edges(), interior(series, run_end)
    per_site, values = _signs(series, ok, ABS_FLOOR)
    sites = list(per_site)
    need = max(2, math.ceil(OUTAGE_SITE_SHARE * len(sites)))
    shared = [int(sum(per_site[s][k] == -1 for s in sites) >= need) for k in range(series.bins.count)]
    out = []
    for _, a, b in _runs(shared):
        lowest = min(values[s][k] for s in sites for k in range(a, b + 1) if per_site[s][k] == -1)
        out.append(Detection("collector_outage", "*", "", edges[a], edges[b + 1], lowest))
    per_server: list[Detection] = []
    if servers is not None:
        host_signs, host_values = _signs(servers, ok, SERVER_ABS_FLOOR)
        for host, signs in host_signs.items():
            signs = shifted(signs, servers.monitored[host], servers.nic[host])
            signs = [0 if shared[k] and v == -1 else v for k, v in enumerate(signs)]
            per_server += _ratio_runs(signs, host_values[host], edges, (site_of or {}).get(host, ""), host)
    for site in sites:
        signs = [0 if shared[k] and s == -1 else s for k, s in enumerate(per_site[site])]
        for d in _ratio_runs(signs, values[site], edges, site, ""):
            if not any(x.kind == d.kind and x.site == site and x.start < d.end and x.end > d.start for x in per_server):
                out.append(d)
    return out + per_server


def restart_detections(hosts: Mapping[str, HostSignals], site_of: Mapping[str, str]) -> list[Detection]:
    """A new incarnation (``stod``) of a server, or its last one ended by ``server_restart``."""
    out = []
    for host, sig in sorted(hosts.items()):
        if not sig.stods:
            continue
        order = sorted(sig.stods)
        site = site_of.get(host, "")
        for old, new in zip(order, order[1:]):
            start = min(sig.last_end.get(old, new), float(new))
            out.append(Detection("server_restart", site, host, start, float(new) + 1.0, float(new)))
        end = sig.restart_end.get(order[-1])
        if end is not None:  # the last incarnation ended by a restart whose successor sent nothing
            out.append(Detection("server_restart", site, host, end, end + 1.0, float(order[-1])))
    return out


def skew_detections(hosts: Mapping[str, HostSignals], site_of: Mapping[str, str], series: VolumeSeries,
                    run_end: float) -> list[Detection]:
    """Servers whose record end times sit off their arrival (``t_emitted``) by more than
    ``SKEW_FLOOR_S`` beyond the run's median lag, bin by bin (by arrival); the value is the
    clock offset (positive: the server's clock is ahead)."""
    bins, ok = series.bins, interior(series, run_end)
    every = [lag for sig in hosts.values() for lags in sig.lags.values() for lag in lags]
    if not every:
        return []
    typical = statistics.median(every)
    edges, out = bins.edges(), []
    for host, sig in sorted(hosts.items()):
        # the clock offset: a server stamping its records an hour ahead shows lags an hour short
        off = {k: typical - statistics.median(v) for k, v in sig.lags.items() if len(v) >= SKEW_MIN_RECORDS}
        signs = [int(ok[k] and abs(off.get(k, 0.0)) > SKEW_FLOOR_S) for k in range(bins.count)]
        for _, a, b in _runs(signs):
            worst = max((off[k] for k in range(a, b + 1)), key=abs)
            out.append(Detection("clock_skew", site_of.get(host, ""), host, edges[a], edges[b + 1], worst))
    return out


def _detections(found: Iterable[Finding], site_of: Mapping[str, str]) -> list[Detection]:
    return [Detection(f.kind, site_of.get(f.server, "") if f.server else "*", f.server, f.start, f.end, f.value, f.detail)
            for f in found]


def merged(found: Iterable[Detection]) -> list[Detection]:
    """Detections of one kind at one place that overlap or touch, as one (the first's value
    and detail), sorted by start."""
    out: list[Detection] = []
    last: dict[tuple[str, str, str], int] = {}
    for d in sorted(found, key=lambda d: (d.start, d.kind, d.site, d.server)):
        key = (d.kind, d.site, d.server)
        k = last.get(key)
        if k is not None and d.start <= out[k].end:
            prev = out[k]
            out[k] = Detection(prev.kind, prev.site, prev.server, prev.start, max(prev.end, d.end), prev.value, prev.detail)
            continue
        last[key] = len(out)
        out.append(d)
    return out


def detect(series: VolumeSeries, records: RecordDigest | None = None, site_of: Mapping[str, str] | None = None,
           run_end: float | None = None, servers: VolumeSeries | None = None, losses: Iterable[LossEvent] = (),
           summaries: Mapping[str, list[float]] | None = None) -> list[Detection]:
    """Every detection of the run, merged and sorted by start. ``records`` is the digest of
    the run's records (``xrdsim.score.digest``), ``servers`` the per-host volume series,
    ``losses`` the collector's declared losses and ``summaries`` the arrival times of each
    host's summary reports (each signal is skipped when absent)."""
    end = run_end if run_end is not None else series.bins.t0 + series.bins.count * series.bins.width_s
    hosts, lost, where = records.hosts if records is not None else {}, list(losses), site_of or {}
    ok = interior(series, end)
    found = ratio_detections(series, end, servers, where) + restart_detections(hosts, where) + skew_detections(hosts, where, series, end)
    if servers is not None:
        silent, outages = silences(arrivals(hosts, lost), summaries or {}, servers.nic, series.bins, end)
        found += _detections(silent + outages, where)
    bursts, outages = loss_bursts(lost, series.bins, ok)
    found += _detections(bursts + outages + dn_drift(hosts, series.bins, ok), where)
    return merged(found)


def fault_windows(faults: Iterable[FaultRow], site_of: Mapping[str, str], sites: list[str],
                  run_end: float = math.inf) -> list[FaultWindow]:
    """Each fault with the sites it hits: a server's site, a named site, or all of them; a
    ``PERMANENT`` one lasts to ``run_end``."""
    out = []
    for f in faults:
        if f.target in EVERYWHERE:
            hit = tuple(sites)
        else:
            hit = (site_of.get(f.target, f.target),)
        end = max(run_end, f.end) if f.kind in PERMANENT and math.isfinite(run_end) else max(f.end, f.start)
        out.append(FaultWindow(f.kind, f.target, hit, f.start, end))
    return out


def loss_context(datagrams: Iterable[Any], site_of: Mapping[str, str], t0: float, grace_s: float) -> list[FaultWindow]:
    """Windows of kind ``path_loss``: each f-stream datagram the path lost, at its server's
    site. They explain a drop (the records it carried are gone) but are no fault to find:
    a detection they explain is no false alarm, and they count in no recall."""
    out = []
    for d in datagrams:
        if d.fate == "lost" and d.code == "f":  # the datagram table keeps simulated seconds
            t = t0 + d.t_send
            out.append(FaultWindow("path_loss", d.server, (site_of.get(d.server, d.server),), t - LOSS_LOOKBACK_S, t + grace_s))
    return out


#: Context windows: conditions of the run that explain detections but are no fault to find.
CONTEXT = frozenset({"path_loss", "http_put_write0"})


def put_context(puts: Iterable[tuple[float, float, str, str]], grace_s: float) -> list[FaultWindow]:
    """Windows of kind ``http_put_write0``: each HTTP upload a record closes with write 0 (what
    XRootD before 5.7.3 reports for every PUT, measured on 5.5.3), at its server; ``puts``
    are their (start, end, host, site) (``RecordDigest.puts``). Its bytes crossed the NIC and
    no record can count them, so a drop there is the server's, not the collector's. Read from
    the records alone: a collector that zeroed writes would still fail the byte metrics
    against the truth."""
    return [FaultWindow("http_put_write0", host, (site,), start, end + grace_s) for start, end, host, site in puts]


def explains(w: FaultWindow, d: Detection, grace_s: float, kinds: Mapping[str, frozenset[str]] = EXPLAINS) -> bool:
    """Whether fault ``w`` accounts for detection ``d``: a compatible kind (by ``kinds``), the
    same place (site, or server when the detection names one), overlapping time (plus grace)."""
    if d.kind not in kinds.get(w.kind, frozenset({w.kind})):
        return False
    names_server = w.target not in EVERYWHERE and w.target not in w.sites
    if w.kind in CONTEXT:  # a condition of one server explains what is seen of that server, or of its site
        where = d.server == w.target if d.server else d.site in w.sites
    elif d.server and names_server:
        where = d.server == w.target
    else:
        where = d.site == "*" or d.site in w.sites
    # a detection may reach back one bin before its fault: a restart is dated by the last
    # record of the incarnation it ended
    return where and d.start < w.end + grace_s and d.end > w.start - grace_s / GRACE_BINS


def kind_scores(detections: list[Detection], windows: list[FaultWindow], bin_s: float,
                context: list[FaultWindow] | None = None) -> list[KindScore]:
    """Precision per detection kind and recall (with median delay) per fault kind;
    ``context`` windows (path loss) explain detections but are not scored for recall."""
    grace = GRACE_BINS * bin_s
    every = windows + (context or [])
    out = []
    for kind in sorted({d.kind for d in detections}):
        mine = [d for d in detections if d.kind == kind]
        hits = sum(any(explains(w, d, grace) for w in every) for d in mine)
        out.append(KindScore(kind, "detection", len(mine), hits, ratio(hits, len(mine)), math.nan))
    for kind in sorted({w.kind for w in windows}):
        mine = [w for w in windows if w.kind == kind]
        delays = _delays(detections, mine, grace)
        out.append(KindScore(kind, "fault", len(mine), len(delays), ratio(len(delays), len(mine)), quantile(delays, 0.5)))
    return out


def _delays(detections: list[Detection], windows: list[FaultWindow], grace_s: float) -> list[float]:
    delays = []
    for w in windows:
        starts = [d.start for d in detections if explains(w, d, grace_s, FINDS)]
        if starts:
            delays.append(max(min(starts) - w.start, 0.0))
    return delays


def anomaly_metrics(detections: list[Detection], windows: list[FaultWindow], bin_s: float,
                    context: list[FaultWindow] | None = None) -> list[Metric]:
    """Precision (detections a fault or the ``context`` explains), recall (faults detected),
    median delay, false alarms."""
    grace = GRACE_BINS * bin_s
    every = windows + (context or [])
    true_hits = [d for d in detections if any(explains(w, d, grace) for w in every)]
    delays = _delays(detections, windows, grace)
    return [
        metric("anomaly_precision", ratio(len(true_hits), len(detections))),
        metric("anomaly_recall", ratio(len(delays), len(windows))),
        metric("anomaly_delay_s", quantile(delays, 0.5)),
        metric("anomaly_false_alarms", len(detections) - len(true_hits)),
    ]


__all__ = ["ABS_FLOOR", "CONTEXT", "EXPLAINS", "FINDS", "MAD_K", "PERMANENT", "SERVER_ABS_FLOOR", "SHIFT_BACK", "Detection", "FaultWindow", "KindScore", "anomaly_metrics", "detect", "explains",
           "fault_windows", "flagged", "kind_scores", "loss_context", "merged", "put_context", "ratio_detections", "ratios", "restart_detections", "shifted", "skew_detections"]
