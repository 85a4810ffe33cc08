"""``score_run(inputs) -> ScoreCard``: every metric of one run, per-site agreement, and the
evidence the report plots; ``judge(card, expect)`` turns expectations into verdicts.

The headline ``agreement`` is the geometric mean of byte_recall, byte_precision,
transfer_precision and volume_agreement (components a run cannot measure are left out). Pure functions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xrdsim.score.anomaly import (
    GRACE_BINS,
    Detection,
    FaultWindow,
    KindScore,
    anomaly_metrics,
    detect,
    fault_windows,
    kind_scores,
    loss_context,
    put_context,
)
from xrdsim.score.causes import Miss, explain, restart_end_rate, unexplained_rate
from xrdsim.score.catalog import Metric, metric
from xrdsim.score.expectations import Expectation
from xrdsim.score.loss import LossRow, group_host, loss_metrics, loss_rows
from xrdsim.score.match import Matching, Rec, match, truth_bytes
from xrdsim.score.signals import LossEvent, summary_host
from xrdsim.score.metrics import (
    byte_precision,
    byte_recall,
    geometric_mean,
    ratio,
    transfer_metrics,
    volume_metrics,
    wape,
)
from xrdsim.score.volume import Bins, Overhead, VolumeSeries, by_site, volume_series
from xrdsim.sim import CounterRow, DatagramRow, FaultRow, TransferRow

#: At most this many (truth, recorded) byte pairs are kept for the scatter plot.
MAX_PAIRS_KEPT = 20_000


@dataclass(slots=True)
class RunInputs:
    """What a run left: truth tables, normalised records, the collector's view.

    ``groups`` is the collector report's ``GroupStats`` rows (None: no loss estimate);
    ``summaries`` the summary samples (``server``, ``link_in_delta``, ``link_out_delta``,
    ``t_emitted``); ``losses`` the collector's declared losses in time, each named by its
    server key (empty: the collector tells none).
    """

    transfers: list[TransferRow]
    datagrams: list[DatagramRow]
    faults: list[FaultRow]
    counters: list[CounterRow]
    records: list[Rec]
    t0: float
    duration_s: float
    bin_s: float = 600.0
    overhead: Overhead = field(default_factory=Overhead)
    groups: list[Any] | None = None
    summaries: list[Any] = field(default_factory=list)
    record_hosts: dict[str, str] = field(default_factory=dict)
    losses: list[LossEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SiteScore:
    """One site's agreement and its parts."""

    site: str
    agreement: float
    byte_recall: float
    precision: float
    volume_agreement: float
    transfers: int
    records: int


@dataclass(frozen=True, slots=True)
class Verdict:
    """One expectation checked: metric, value, what was expected, and why it failed."""

    name: str
    value: float
    unit: str
    expectation: str
    reason: str | None

    @property
    def passed(self) -> bool:
        """True when the expectation holds."""
        return self.reason is None


@dataclass(slots=True)
class ScoreCard:
    """Metrics, per-site scores and the evidence behind them."""

    metrics: list[Metric]
    sites: list[SiteScore]
    series: VolumeSeries
    byte_pairs: list[tuple[int, int]]
    loss: list[LossRow]
    detections: list[Detection]
    faults: list[FaultWindow]
    counts: dict[str, int]
    kinds: list[KindScore] = field(default_factory=list)
    misses: list[Miss] = field(default_factory=list)

    def value(self, name: str) -> float:
        """The value of metric ``name`` (NaN when absent)."""
        return next((m.value for m in self.metrics if m.name == name), math.nan)


def site_map(transfers: list[TransferRow]) -> tuple[dict[str, str], dict[str, str]]:
    """(host → site, ip → host) from the truth transfers."""
    sites, hosts = {}, {}
    for t in transfers:
        sites[t.server] = t.site
        hosts[t.server_ip] = t.server
    return sites, hosts


def _host(rec: Rec, ip_hosts: Mapping[str, str]) -> str:
    return rec.server_host or ip_hosts.get(rec.server_ip, rec.server_ip)


def per_site(m: Matching, series: VolumeSeries, site_of: Mapping[str, str], ip_hosts: Mapping[str, str]) -> list[SiteScore]:
    """Agreement of every site, from its share of the matching and its volume series."""
    parts: dict[str, Matching] = defaultdict(Matching)
    for t, r in m.pairs:
        parts[t.site].pairs.append((t, r))
    for t in m.missed:
        parts[t.site].missed.append(t)
    for r in m.spurious:
        parts[site_of.get(_host(r, ip_hosts), r.site)].spurious.append(r)
    out = []
    for site in sorted(set(parts) | set(series.sites)):
        p = parts[site]
        recall, precision = byte_recall(p), ratio(len(p.pairs), len(p.pairs) + len(p.spurious))
        err = wape(series.monitored.get(site, []), series.nic.get(site, []))
        vol = math.nan if math.isnan(err) else max(0.0, 1.0 - err)
        score = geometric_mean([recall, byte_precision(p), precision, vol])
        out.append(SiteScore(site, score, recall, precision, vol, len(p.pairs) + len(p.missed), len(p.pairs) + len(p.spurious)))
    return out


def _summary_ratio(inputs: RunInputs, hosts: list[str]) -> float:
    link: dict[str, int] = defaultdict(int)
    for s in inputs.summaries:
        link[summary_host(s.server)] += (s.link_in_delta or 0) + (s.link_out_delta or 0)
    seen = {h for h in link if h in set(hosts)} or set(link)
    if not link:
        return math.nan
    recorded = sum(r.total_bytes for r, h in zip(inputs.records, hosts) if h in seen)
    return ratio(sum(link[h] for h in seen), recorded)


def _losses(inputs: RunInputs) -> list[LossEvent]:
    """The collector's declared losses, each named by its server's host."""
    return [LossEvent(inputs.record_hosts.get(ev.server, ev.server), ev.group, ev.t, ev.count) for ev in inputs.losses]


def _summary_times(inputs: RunInputs) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for s in inputs.summaries:
        t = getattr(s, "t_emitted", None)
        if t is not None:
            out[summary_host(s.server)].append(float(t))
    return out


def score_run(inputs: RunInputs) -> ScoreCard:
    """Score one run: transfers, volume, summary link, loss, anomalies, headline."""
    site_of, ip_hosts = site_map(inputs.transfers)
    m = match(inputs.transfers, inputs.records)
    hosts = [_host(r, ip_hosts) for r in inputs.records]
    bins = Bins(float(inputs.t0), inputs.bin_s, max(1, math.ceil(inputs.duration_s / inputs.bin_s)))
    loss = loss_rows(inputs.datagrams, inputs.groups, group_host(inputs.record_hosts, ip_hosts))
    run_end = float(inputs.t0) + inputs.duration_s
    # each host's counters inverted once: the site series is the sum of its servers'
    servers = volume_series(inputs.counters, zip(inputs.records, hosts), {h: h for h in site_of}, bins, inputs.overhead)
    series = by_site(servers, site_of)
    detections = detect(series, zip(inputs.records, hosts), site_of, run_end, servers, _losses(inputs), _summary_times(inputs))
    windows = fault_windows(inputs.faults, site_of, series.sites, run_end)
    context = loss_context(inputs.datagrams, site_of, float(inputs.t0), GRACE_BINS * inputs.bin_s)
    context += put_context(zip(inputs.records, hosts), site_of, GRACE_BINS * inputs.bin_s)
    metrics = transfer_metrics(m) + volume_metrics(series)
    metrics.append(metric("summary_link_ratio", _summary_ratio(inputs, hosts)))
    metrics += loss_metrics(loss) + anomaly_metrics(detections, windows, inputs.bin_s, context)
    metrics.append(metric("restart_end_rate", restart_end_rate(m, inputs.faults)))
    misses = explain(m, inputs.datagrams, inputs.faults, float(inputs.t0))
    metrics.append(metric("unexplained_rate", unexplained_rate(misses, len(m.pairs) + len(m.missed))))
    sites = per_site(m, series, site_of, ip_hosts)
    by_name = {x.name: x.value for x in metrics}
    head = geometric_mean([by_name[k] for k in ("byte_recall", "byte_precision", "transfer_precision", "volume_agreement")])
    worst = min((s.agreement for s in sites if not math.isnan(s.agreement)), default=math.nan)
    metrics[:0] = [metric("agreement", head), metric("min_site_agreement", worst)]
    pairs = [(truth_bytes(t), r.total_bytes) for t, r in m.pairs[:: max(1, len(m.pairs) // MAX_PAIRS_KEPT)]]
    counts = {"truth_transfers": len(m.pairs) + len(m.missed), "records": len(inputs.records),
              "matched": len(m.pairs), "missed": len(m.missed), "spurious": len(m.spurious),
              "datagrams": len(inputs.datagrams), "sites": len(sites)}  # fmt: skip
    return ScoreCard(metrics, sites, series, pairs, loss, detections, windows, counts,
                     kind_scores(detections, windows, inputs.bin_s, context), misses)


def judge(card: ScoreCard, expect: Mapping[str, Expectation]) -> list[Verdict]:
    """One verdict per expectation, in the scenario's order."""
    units = {m.name: m.unit for m in card.metrics}
    out = []
    for name, exp in expect.items():
        value = card.value(name)
        out.append(Verdict(name, value, units.get(name, ""), exp.text, exp.check(value)))
    return out


__all__ = ["RunInputs", "ScoreCard", "SiteScore", "Verdict", "judge", "score_run", "site_map"]
