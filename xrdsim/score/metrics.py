"""Agreement metrics: transfers (recall, precision, bytes, fields, times, latency) from a
``Matching``, and volume (ratio, WAPE, MAPE, Pearson r, lag) from a ``VolumeSeries``.

Pure functions returning ``Metric``s (NaN when a run gives a metric no meaning).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence

from xrdsim.score.catalog import Metric, metric
from xrdsim.score.match import Matching, Rec, truth_bytes
from xrdsim.score.volume import RATIO_FLOOR_BYTES, VolumeSeries
from xrdsim.sim import TransferRow

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


def _exact(row: TransferRow, rec: Rec) -> bool:
    return (row.read_bytes, row.readv_bytes, row.write_bytes) == (rec.read_bytes, rec.readv_bytes, rec.write_bytes)


def _accuracy(pairs: list[tuple[TransferRow, Rec]], truth_field: str, rec_field: str) -> float:
    # Coverage counts: the truth holds only what the server sent, so a record without a field
    # the truth has is wrong (scoring only the records that carry it would reward blanking).
    given = [(getattr(t, truth_field), getattr(r, rec_field)) for t, r in pairs]
    given = [(a, b) for a, b in given if a or b]
    return ratio(sum(a == b for a, b in given), len(given))


def _fields_right(row: TransferRow, rec: Rec) -> bool:
    return all(getattr(row, t) == getattr(rec, r) for t, r in FIELDS.values() if getattr(row, t) or getattr(rec, r))


def _errors(pairs: list[tuple[TransferRow, Rec]], pick: Callable[[TransferRow, Rec], float | None]) -> list[float]:
    return [e for e in (pick(t, r) for t, r in pairs) if e is not None]


def _start_error(t: TransferRow, r: Rec) -> float | None:
    return None if r.start_time is None else abs(r.start_time - t.open_time)


def _end_error(t: TransferRow, r: Rec) -> float | None:
    return None if r.end_time is None else abs(r.end_time - t.close_time)


def _latency(t: TransferRow, r: Rec) -> float | None:
    ok = t.close_kind == "explicit" and r.ended in ("close", "") and r.t_emitted is not None
    return r.t_emitted - t.close_time if ok else None


def byte_recall(m: Matching) -> float:
    """Σ min(recorded, true) over matches / Σ true bytes of every truth transfer."""
    true = sum(truth_bytes(t) for t, _ in m.pairs) + sum(truth_bytes(t) for t in m.missed)
    return ratio(sum(min(truth_bytes(t), r.total_bytes) for t, r in m.pairs), true)


def byte_precision(m: Matching) -> float:
    """Σ min(recorded, true) over matches / Σ bytes of every record: over-counting, duplicates
    and records of no transfer lower it, as under-counting lowers ``byte_recall``."""
    recorded = sum(r.total_bytes for _, r in m.pairs) + sum(r.total_bytes for r in m.spurious)
    return ratio(sum(min(truth_bytes(t), r.total_bytes) for t, r in m.pairs), recorded)


def transfer_metrics(m: Matching) -> list[Metric]:
    """Recall, precision, byte recall, exactness, field accuracy, time errors, latency."""
    n_truth, n_rec = len(m.pairs) + len(m.missed), len(m.pairs) + len(m.spurious)
    latency = _errors(m.pairs, _latency)
    out = [
        metric("transfer_recall", ratio(len(m.pairs), n_truth)),
        metric("transfer_precision", ratio(len(m.pairs), n_rec)),
        metric("byte_recall", byte_recall(m)),
        metric("byte_precision", byte_precision(m)),
        metric("exact_bytes_rate", ratio(sum(_exact(t, r) for t, r in m.pairs), len(m.pairs))),
        # over every truth transfer: a collector that drops its incomplete records must not
        # score better than one that writes them
        metric("exact_bytes_recall", ratio(sum(_exact(t, r) for t, r in m.pairs), n_truth)),
        metric("fields_recall", ratio(sum(_fields_right(t, r) for t, r in m.pairs), n_truth)),
        metric("duplicate_records", m.duplicates),
    ]
    out += [metric(name, _accuracy(m.pairs, *pair)) for name, pair in FIELDS.items()]
    out += [
        metric("start_error_p99_s", quantile(_errors(m.pairs, _start_error), 0.99)),
        metric("end_error_p99_s", quantile(_errors(m.pairs, _end_error), 0.99)),
        metric("latency_p50_s", quantile(latency, 0.5)),
        metric("latency_p99_s", quantile(latency, 0.99)),
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


__all__ = ["FIELDS", "best_lag", "byte_precision", "byte_recall", "geometric_mean", "pearson", "quantile", "ratio", "transfer_metrics", "volume_metrics", "wape"]
