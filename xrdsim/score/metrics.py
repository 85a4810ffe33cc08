"""Agreement metrics: transfers (recall, precision, bytes, fields, times, latency) from a
``TransferTally``, and volume (ratio, WAPE, MAPE, Pearson r, lag) from a ``VolumeSeries``.

Pure functions returning ``Metric``s (NaN when a run gives a metric no meaning).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from typing import TYPE_CHECKING

from xrdsim.score.catalog import Metric, metric
from xrdsim.score.volume import RATIO_FLOOR_BYTES, VolumeSeries

if TYPE_CHECKING:  # the tally imports FIELDS from here
    from xrdsim.score.tally import SiteTally, TransferTally

NAN = math.nan
#: accuracy metric → (truth field, record field).
FIELDS: dict[str, tuple[str, str]] = {
    "path_accuracy": ("lfn", "file_lfn"),
    "user_accuracy": ("user_dn", "user_dn"),
    "vo_accuracy": ("vo", "vo"),
    "site_accuracy": ("site", "site"),
    "client_accuracy": ("client_host", "client_host"),
}

#: Largest lag tried by ``best_lag``, in bins either way.
MAX_LAG_BINS = 3


def ratio(num: float, den: float) -> float:
    """num / den, NaN when den is 0."""
    return num / den if den else NAN


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile, linear between order statistics; NaN for no values."""
    if not values:
        return NAN
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def site_byte_recall(t: SiteTally) -> float:
    """Σ min(recorded, true) over matches / Σ true bytes of every truth transfer."""
    return ratio(t.kept_bytes, t.true_bytes)


def site_byte_precision(t: SiteTally) -> float:
    """Σ min(recorded, true) over matches / Σ bytes of every record: over-counting, duplicates
    and records of no transfer lower it, as under-counting lowers ``byte_recall``."""
    return ratio(t.kept_bytes, t.recorded_bytes)


def transfer_metrics(tally: TransferTally) -> list[Metric]:
    """Recall, precision, byte recall, exactness, field accuracy, time errors, latency."""
    total = tally.total
    n_truth, pairs = total.truth_transfers, total.pairs
    out = [
        metric("transfer_recall", ratio(pairs, n_truth)),
        metric("transfer_precision", ratio(pairs, total.records)),
        metric("byte_recall", site_byte_recall(total)),
        metric("byte_precision", site_byte_precision(total)),
        metric("exact_bytes_rate", ratio(tally.exact, pairs)),
        # over every truth transfer: a collector that drops its incomplete records must not
        # score better than one that writes them
        metric("exact_bytes_recall", ratio(tally.exact, n_truth)),
        metric("fields_recall", ratio(tally.fields_right, n_truth)),
        metric("duplicate_records", tally.duplicates),
    ]
    # Coverage counts: the truth holds only what the server sent, so a record without a field
    # the truth has is wrong (scoring only the records that carry it would reward blanking).
    out += [metric(name, ratio(*tally.fields[name])) for name in FIELDS]
    out += [
        metric("start_error_p99_s", quantile(tally.start_errors, 0.99)),
        metric("end_error_p99_s", quantile(tally.end_errors, 0.99)),
        metric("latency_p50_s", quantile(tally.latencies, 0.5)),
        metric("latency_p99_s", quantile(tally.latencies, 0.99)),
    ]
    return out


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Pearson r; NaN for fewer than 3 points or a constant series."""
    if len(xs) < 3:
        return NAN
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else NAN


def best_lag(monitored: Sequence[float], nic: Sequence[float], max_lag: int = MAX_LAG_BINS) -> int | None:
    """The shift k (bins; positive = monitoring late) maximising r(monitored[t+k], nic[t])."""
    best, best_r = None, -2.0
    for k in range(-max_lag, max_lag + 1):
        xs = monitored[k:] if k >= 0 else monitored[: len(monitored) + k]
        ys = nic[: len(nic) - k] if k >= 0 else nic[-k:]
        r = pearson(xs, ys)
        if not math.isnan(r) and r > best_r + 1e-12:
            best, best_r = k, r
    return best


def wape(monitored: Sequence[float], nic: Sequence[float]) -> float:
    """Σ|m − n| / Σ n."""
    return ratio(sum(abs(m - n) for m, n in zip(monitored, nic)), sum(nic))


def _median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else NAN


def volume_metrics(series: VolumeSeries) -> list[Metric]:
    """Ratio, WAPE, MAPE, agreement, median per-site r and lag of the volume series."""
    sites = series.sites
    mon = [v for s in sites for v in series.monitored[s]]
    nic = [v for s in sites for v in series.nic[s]]
    err = wape(mon, nic)
    mape = [abs(m - n) / n for m, n in zip(mon, nic) if n >= RATIO_FLOOR_BYTES]
    lags = [best_lag(series.monitored[s], series.nic[s]) for s in sites]
    return [
        metric("volume_ratio", ratio(sum(mon), sum(nic))),
        metric("volume_wape", err),
        metric("volume_mape", sum(mape) / len(mape) if mape else NAN),
        metric("volume_agreement", NAN if math.isnan(err) else max(0.0, 1.0 - err)),
        metric("volume_pearson", _median([pearson(series.monitored[s], series.nic[s]) for s in sites])),
        metric("volume_lag_s", _median([k * series.bins.width_s for k in lags if k is not None])),
    ]


def geometric_mean(values: Sequence[float]) -> float:
    """The geometric mean of the values that are not NaN (each capped at 1); NaN if none,
    0 if any is ≤ 0."""
    known = [v for v in values if not math.isnan(v)]
    if not known:
        return NAN
    if any(v <= 0 for v in known):
        return 0.0
    return math.exp(sum(math.log(min(v, 1.0)) for v in known) / len(known))


__all__ = ["FIELDS", "best_lag", "geometric_mean", "pearson", "quantile", "ratio", "site_byte_precision", "site_byte_recall", "transfer_metrics", "volume_metrics", "wape"]
