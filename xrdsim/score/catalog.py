"""The names, units and definitions of every scenario-level metric, in one table.

Scenario ``expect:`` keys are checked against it; the report's definitions come from it.
It computes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    """One scored quantity; ``value`` is NaN when the run gives it no meaning."""

    name: str
    value: float
    unit: str
    description: str


#: name → (unit, definition). Order is the report's order.
METRICS: dict[str, tuple[str, str]] = {
    "agreement": ("", "headline: geometric mean of byte_recall, byte_precision, transfer_precision and volume_agreement"),
    "min_site_agreement": ("", "the lowest per-site agreement (same definition, one site's transfers and bins)"),
    "transfer_recall": ("", "truth transfers with a matching record / truth transfers"),
    "transfer_precision": ("", "records matching a truth transfer / records"),
    "byte_recall": ("", "Σ min(recorded, true) bytes over matches / Σ true bytes (read+readv+write)"),
    "byte_precision": ("", "Σ min(recorded, true) bytes over matches / Σ bytes of every record (over-counting lowers it)"),
    "exact_bytes_rate": ("", "matches whose read, readv and write bytes all equal the truth"),
    "exact_bytes_recall": ("", "truth transfers recorded with exactly their read, readv and write bytes / truth transfers (a dropped record counts as wrong)"),
    "fields_recall": ("", "truth transfers recorded with every field the truth has (path, user, VO, site, client) right / truth transfers"),
    "duplicate_records": ("", "records beyond the first for one truth transfer"),
    "path_accuracy": ("", "matches whose file_lfn equals the truth, of those where the truth or the record has one (a missing one is wrong)"),
    "user_accuracy": ("", "matches whose user_dn equals the truth, of those where the truth or the record has one (a missing one is wrong)"),
    "vo_accuracy": ("", "matches whose vo equals the truth, of those where the truth or the record has one (a missing one is wrong)"),
    "site_accuracy": ("", "matches whose site equals the truth, of those where the truth or the record has one (a missing one is wrong)"),
    "client_accuracy": ("", "matches whose client_host equals the truth, of those where the truth or the record has one (a missing one is wrong)"),
    "start_error_p99_s": ("s", "99th percentile of |record start − truth open|"),
    "end_error_p99_s": ("s", "99th percentile of |record end − truth close|"),
    "latency_p50_s": ("s", "median of record t_emitted − truth close, explicit closes"),
    "latency_p99_s": ("s", "99th percentile of record t_emitted − truth close, explicit closes"),
    "volume_ratio": ("", "Σ monitored bytes / Σ payload bytes inverted from NIC counters, all sites"),
    "volume_wape": ("", "Σ|monitored − NIC| / Σ NIC over (site, time bin)"),
    "volume_mape": ("", "mean |monitored − NIC| / NIC over (site, bin) with NIC traffic"),
    "volume_agreement": ("", "max(0, 1 − volume_wape)"),
    "volume_pearson": ("", "median over sites of Pearson r between monitored and NIC bin series"),
    "volume_lag_s": ("s", "median over sites of the lag maximising the cross-correlation"),
    "summary_link_ratio": ("", "Σ summary link in+out deltas / Σ record bytes of the same servers"),
    "loss_rate_truth": ("", "datagrams the path lost / datagrams sent"),
    "loss_rate_estimated": ("", "datagrams the collector declared lost / datagrams sent"),
    "loss_error": ("", "Σ over (server, counter group) |estimated − true lost| / datagrams sent"),
    "anomaly_precision": ("", "detected ratio anomalies overlapping an injected fault / detections"),
    "anomaly_recall": ("", "injected faults overlapped by a detection / injected faults"),
    "anomaly_delay_s": ("s", "median of detection start − fault start over detected faults"),
    "anomaly_false_alarms": ("", "detections overlapping no injected fault"),
    "unexplained_rate": ("", "missed, extra and wrong transfers with no cause in the truth (lost datagram, outage, restart, TTL) / truth transfers"),
    "restart_end_rate": ("", "transfers cut by an injected restart whose record ended server_restart / such transfers"),
}

KNOWN_METRICS: tuple[str, ...] = tuple(METRICS)


def metric(name: str, value: float) -> Metric:
    """A ``Metric`` with its unit and definition from ``METRICS``."""
    unit, description = METRICS[name]
    return Metric(name, float(value), unit, description)


__all__ = ["KNOWN_METRICS", "METRICS", "Metric", "metric"]
