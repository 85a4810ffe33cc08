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

from xrdsim.gcpolicy import fewer_collections
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
from xrdsim.score.causes import Miss, unexplained_rate
from xrdsim.score.catalog import Metric, metric
from xrdsim.score.expectations import Expectation
from xrdsim.score.loss import LossRow, group_host, loss_metrics, loss_rows_of
from xrdsim.score.digest import RecordDigest, digest_records
from xrdsim.score.match import Rec
from xrdsim.score.metrics import (
    geometric_mean,
    ratio,
    site_byte_precision,
    site_byte_recall,
    transfer_metrics,
    volume_metrics,
    wape,
)
from xrdsim.score.signals import LossEvent, summary_host
from xrdsim.score.tally import SiteTally, TransferTally, record_host, tally_transfers
from xrdsim.score.volume import Bins, Overhead, VolumeSeries, by_site
from xrdsim.sim import CounterRow, DatagramRow, FaultRow, TransferRow


@dataclass(slots=True)
class RunInputs:
    """What a run left: truth tables, normalised records, the collector's view.

    ``groups`` is the collector report's ``GroupStats`` rows (None: no loss estimate);
    ``summaries`` the summary samples (``server``, ``link_in_delta``, ``link_out_delta``,
    ``t_emitted``); ``losses`` the collector's declared losses in time, each named by its
    server key (empty: the collector tells none). ``tally`` is the matching of ``transfers``
    with ``records`` already added up (a run merged from shards: ``xrdsim.score.tally``);
    ``transfers`` and ``datagrams`` may then be left empty. ``digest`` is ``records`` and
    ``counters`` digested the same way (``xrdsim.score.digest``; they may then be left empty).
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
    tally: TransferTally | None = None
    digest: RecordDigest | None = None


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


def per_site(tally: TransferTally, series: VolumeSeries) -> list[SiteScore]:
    """Agreement of every site, from its share of the matching and its volume series."""
    out = []
    for site in sorted(set(tally.sites) | set(series.sites)):
        p = tally.sites.get(site) or SiteTally()
        recall, precision = site_byte_recall(p), ratio(p.pairs, p.records)
        err = wape(series.monitored.get(site, []), series.nic.get(site, []))
        vol = math.nan if math.isnan(err) else max(0.0, 1.0 - err)
        score = geometric_mean([recall, site_byte_precision(p), precision, vol])
        out.append(SiteScore(site, score, recall, precision, vol, p.truth_transfers, p.records))
    return out


def _summary_ratio(summaries: list[Any], digest: RecordDigest) -> float:
    link: dict[str, int] = defaultdict(int)
    for s in summaries:
        link[summary_host(s.server)] += (s.link_in_delta or 0) + (s.link_out_delta or 0)
    seen = {h for h in link if h in digest.hosts} or set(link)
    if not link:
        return math.nan
    recorded = sum(sig.recorded_bytes for h, sig in digest.hosts.items() if h in seen)
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


def run_bins(t0: float, duration_s: float, bin_s: float) -> Bins:
    """The bins a run is scored in: ``bin_s`` wide from ``t0``, covering ``duration_s``."""
    return Bins(t0, bin_s, max(1, math.ceil(duration_s / bin_s)))


@fewer_collections()  # it makes many objects while the run's rows and records are alive (xrdsim.gcpolicy)
def score_run(inputs: RunInputs) -> ScoreCard:
    """Score one run: transfers, volume, summary link, loss, anomalies, headline."""
    t0 = float(inputs.t0)
    tally = inputs.tally or tally_transfers(inputs.transfers, inputs.records, inputs.datagrams, inputs.faults, t0)
    site_of, ip_hosts = tally.site_of, tally.ip_hosts
    bins = run_bins(t0, inputs.duration_s, inputs.bin_s)
    digest = inputs.digest or digest_records(((r, record_host(r, ip_hosts)) for r in inputs.records), bins, site_of,
                                             inputs.counters, inputs.overhead)
    loss = loss_rows_of(tally.sent, tally.lost, inputs.groups, group_host(inputs.record_hosts, ip_hosts))
    run_end = t0 + inputs.duration_s
    # each host's counters inverted once: the site series is the sum of its servers'
    servers = digest.series(site_of)
    series = by_site(servers, site_of)
    detections = detect(series, digest, site_of, run_end, servers, _losses(inputs), _summary_times(inputs))
    windows = fault_windows(inputs.faults, site_of, series.sites, run_end)
    context = loss_context(tally.f_lost, site_of, t0, GRACE_BINS * inputs.bin_s)
    context += put_context(digest.puts, GRACE_BINS * inputs.bin_s)
    metrics = transfer_metrics(tally) + volume_metrics(series)
    metrics.append(metric("summary_link_ratio", _summary_ratio(inputs.summaries, digest)))
    metrics += loss_metrics(loss) + anomaly_metrics(detections, windows, inputs.bin_s, context)
    metrics.append(metric("restart_end_rate", ratio(tally.restart_ended, tally.restart_cut)))
    total = tally.total
    metrics.append(metric("unexplained_rate", unexplained_rate(tally.misses, total.truth_transfers)))
    sites = per_site(tally, series)
    by_name = {x.name: x.value for x in metrics}
    head = geometric_mean([by_name[k] for k in ("byte_recall", "byte_precision", "transfer_precision", "volume_agreement")])
    worst = min((s.agreement for s in sites if not math.isnan(s.agreement)), default=math.nan)
    metrics[:0] = [metric("agreement", head), metric("min_site_agreement", worst)]
    pairs = [(true, got) for _, true, got in tally.byte_pairs]
    counts = {"truth_transfers": total.truth_transfers, "records": digest.records,
              "matched": total.pairs, "missed": total.missed, "spurious": total.spurious,
              "datagrams": tally.datagrams, "sites": len(sites)}  # fmt: skip
    return ScoreCard(metrics, sites, series, pairs, loss, detections, windows, counts,
                     kind_scores(detections, windows, inputs.bin_s, context), tally.misses)


def judge(card: ScoreCard, expect: Mapping[str, Expectation]) -> list[Verdict]:
    """One verdict per expectation, in the scenario's order."""
    units = {m.name: m.unit for m in card.metrics}
    out = []
    for name, exp in expect.items():
        value = card.value(name)
        out.append(Verdict(name, value, units.get(name, ""), exp.text, exp.check(value)))
    return out


__all__ = ["RunInputs", "ScoreCard", "SiteScore", "Verdict", "judge", "run_bins", "score_run"]
