"""A robust detector over each site's monitored/NIC ratio series (median and MAD, fixed
thresholds, no per-scenario tuning) and its precision, recall and delay against the faults
injected into the run (truth ``faults``). Pure functions.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from xrdsim.score.catalog import Metric, metric
from xrdsim.score.metrics import quantile, ratio
from xrdsim.score.volume import RATIO_FLOOR_BYTES, VolumeSeries
from xrdsim.sim import FaultRow

#: A bin is anomalous when its ratio is this many scaled MADs from the site's median …
MAD_K = 5.0
#: … and at least this far in absolute terms (a perfect site has MAD ≈ 0).
ABS_FLOOR = 0.10
#: 1.4826·MAD estimates σ for normal data.
MAD_SCALE = 1.4826
#: A detection still counts for a fault this many bins after the fault's end.
GRACE_BINS = 2
#: Fault targets that hit every site.
EVERYWHERE = frozenset({"collector", "*", ""})


@dataclass(frozen=True, slots=True)
class Detection:
    """A run of anomalous bins of one site: [start, end) unix seconds, the worst ratio."""

    site: str
    start: float
    end: float
    worst_ratio: float


@dataclass(frozen=True, slots=True)
class FaultWindow:
    """An injected fault as the detector should see it: kind, sites hit, [start, end]."""

    kind: str
    target: str
    sites: tuple[str, ...]
    start: float
    end: float


def ratios(monitored: list[float], nic: list[float]) -> list[float]:
    """monitored/NIC per bin; NaN where the NIC saw too little traffic for a ratio."""
    return [m / n if n >= RATIO_FLOOR_BYTES else math.nan for m, n in zip(monitored, nic)]


def flagged(values: list[float]) -> list[bool]:
    """Bins whose ratio lies beyond max(MAD_K·1.4826·MAD, ABS_FLOOR) from the median."""
    known = [v for v in values if not math.isnan(v)]
    if len(known) < 3:
        return [False] * len(values)
    med = statistics.median(known)
    mad = statistics.median(abs(v - med) for v in known)
    limit = max(MAD_K * MAD_SCALE * mad, ABS_FLOOR)
    return [not math.isnan(v) and abs(v - med) > limit for v in values]


def detect(series: VolumeSeries) -> list[Detection]:
    """Every run of consecutive flagged bins of every site."""
    out: list[Detection] = []
    edges = series.bins.edges()
    for site in series.sites:
        rs = ratios(series.monitored.get(site, []), series.nic[site])
        run: list[int] = []
        for k, bad in enumerate(flagged(rs) + [False]):
            if bad:
                run.append(k)
            elif run:
                worst = max((rs[i] for i in run), key=lambda r: abs(r - 1.0))
                out.append(Detection(site, edges[run[0]], edges[run[-1] + 1], worst))
                run = []
    return out


def fault_windows(faults: Iterable[FaultRow], site_of: Mapping[str, str], sites: list[str]) -> list[FaultWindow]:
    """Each fault with the sites it hits: a server's site, a named site, or all of them."""
    out = []
    for f in faults:
        if f.target in EVERYWHERE:
            hit = tuple(sites)
        else:
            hit = (site_of.get(f.target, f.target),)
        out.append(FaultWindow(f.kind, f.target, hit, f.start, max(f.end, f.start)))
    return out


def _overlaps(d: Detection, w: FaultWindow, grace_s: float) -> bool:
    return d.site in w.sites and d.start < w.end + grace_s and d.end > w.start


def anomaly_metrics(detections: list[Detection], windows: list[FaultWindow], bin_s: float) -> list[Metric]:
    """Precision (detections near a fault), recall (faults detected), median delay, false alarms."""
    grace = GRACE_BINS * bin_s
    true_hits = [d for d in detections if any(_overlaps(d, w, grace) for w in windows)]
    delays = []
    for w in windows:
        starts = [d.start for d in detections if _overlaps(d, w, grace)]
        if starts:
            delays.append(max(min(starts) - w.start, 0.0))
    return [
        metric("anomaly_precision", ratio(len(true_hits), len(detections))),
        metric("anomaly_recall", ratio(len(delays), len(windows))),
        metric("anomaly_delay_s", quantile(delays, 0.5)),
        metric("anomaly_false_alarms", len(detections) - len(true_hits)),
    ]


__all__ = ["ABS_FLOOR", "MAD_K", "Detection", "FaultWindow", "anomaly_metrics", "detect", "fault_windows", "flagged", "ratios"]
