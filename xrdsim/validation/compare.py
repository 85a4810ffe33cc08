"""Monitored bytes against the network side, per subject, direction and time bin, and the
verdict on each: ``in`` is Σ write_bytes against bytes into the server, ``out`` Σ read_bytes
(read + readv) against bytes from it; ratio = monitored / network must be within the
tolerance of 1. Pure arithmetic on records, summary samples and the network side.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from collector import SummarySample, TransferRecord
from replay import Direction
from xrdsim.score import Bins, Expectation, Verdict
from xrdsim.validation.network import DIRECTIONS, NetworkSide
from xrdsim.validation.servers import ServerFacts

#: direction → the record bytes that cross the network that way.
RECORD_BYTES = {Direction.IN: lambda r: r.write_bytes, Direction.OUT: lambda r: r.read_bytes}
#: direction → the summary link delta (spec §8.3) of it.
LINK_DELTA = {Direction.IN: lambda s: s.link_in_delta, Direction.OUT: lambda s: s.link_out_delta}


@dataclass(frozen=True, slots=True)
class Comparison:
    """One subject and direction: monitored bytes (records), network bytes, the summary
    ``link`` bytes of the same servers (None without summaries), how the network side was
    matched, and per bin (bin start, monitored, network)."""

    subject: str
    direction: Direction
    monitored_bytes: int
    network_bytes: float
    summary_bytes: int | None
    matched_by: str
    bins: tuple[tuple[float, float, float], ...]

    @property
    def ratio(self) -> float:
        """monitored / network; NaN when neither saw traffic, inf when only monitoring did."""
        return ratio(self.monitored_bytes, self.network_bytes)

    @property
    def has_traffic(self) -> bool:
        """True when either side saw bytes."""
        return bool(self.monitored_bytes or self.network_bytes >= 0.5)


def ratio(monitored: float, network: float) -> float:
    """monitored / network with the conventions of ``Comparison.ratio``."""
    if network >= 0.5:
        return monitored / network
    return math.inf if monitored else math.nan


def server_label(rec: TransferRecord, servers: Sequence[ServerFacts]) -> str:
    """The label of the server a record came from: by (host, data port), else by sender IP."""
    for s in servers:
        if s.host == rec.server_host and s.port == rec.server_port and rec.server_port:
            return s.label
    mine = [s for s in servers if rec.server_ip in s.ips]
    return mine[0].label if len(mine) == 1 else rec.server_ip


def monitored_bins(records: Iterable[TransferRecord], servers: Sequence[ServerFacts], bins: Bins) -> dict[tuple[str, Direction], list[float]]:
    """Record bytes per (server label, direction), spread evenly over each record's [start, end]."""
    rows: defaultdict[tuple[str, Direction], list[float]] = defaultdict(lambda: [0.0] * bins.count)
    for rec in records:
        label = server_label(rec, servers)
        end = rec.end_time if rec.end_time is not None else rec.t_emitted
        start = rec.start_time if rec.start_time is not None else end
        for d in DIRECTIONS:
            amount = RECORD_BYTES[d](rec)
            if amount:
                bins.spread(rows[(label, d)], start, end, amount)
    return rows


def summary_bytes(samples: Iterable[SummarySample]) -> dict[tuple[str, Direction], int]:
    """Σ link deltas per (summary src, direction), leaving out each server's first report (whose
    delta is the whole count since its start, mostly before the capture)."""
    out: defaultdict[tuple[str, Direction], int] = defaultdict(int)
    for s in samples:
        for d in DIRECTIONS:
            out[(s.server, d)] += 0 if s.first else LINK_DELTA[d](s) or 0
    return out


def compare(side: NetworkSide, records: Sequence[TransferRecord], samples: Sequence[SummarySample],
            servers: Sequence[ServerFacts], bins: Bins) -> list[Comparison]:
    """One comparison per subject of ``side`` and direction."""
    mon = monitored_bins(records, servers, bins)
    link = summary_bytes(samples)
    has_link = {s.server for s in samples}
    starts = bins.edges()[:-1]
    out = []
    for sub in side.subjects:
        for d in DIRECTIONS:
            rows = [mon.get((label, d), [0.0] * bins.count) for label in sub.servers]
            monitored = [sum(col) for col in zip(*rows)] if rows else [0.0] * bins.count
            network = sub.network[d]
            summary = sum(link[(label, d)] for label in sub.servers) if has_link & set(sub.servers) else None
            out.append(Comparison(sub.label, d, round(sum(monitored)), sum(network), summary, sub.matched_by,
                                  tuple(zip(starts, monitored, network))))  # fmt: skip
    return out


def tolerance_expectation(tolerance: float) -> Expectation:
    """The expectation every ratio is held to: 1 − tolerance ≤ ratio ≤ 1 + tolerance."""
    return Expectation(f"|1 − ratio| ≤ {tolerance:.3g}", "..", 1.0 - tolerance, 1.0 + tolerance)


def verdicts(comparisons: Iterable[Comparison], tolerance: float) -> list[Verdict]:
    """One verdict per comparison with traffic on either side, named ``<subject> <in|out>``."""
    exp = tolerance_expectation(tolerance)
    return [Verdict(f"{c.subject} {c.direction.value}", c.ratio, "", exp.text, exp.check(c.ratio)) for c in comparisons if c.has_traffic]


__all__ = ["Comparison", "compare", "monitored_bins", "ratio", "server_label", "summary_bytes", "tolerance_expectation", "verdicts"]
