"""Monitored bytes against the network side, per subject (server and protocol), direction and
time bin, and the verdict on each: ``in`` is Σ write_bytes against bytes into the server, ``out``
Σ read_bytes (read + readv) against bytes from it. A direction passes when |monitored − past-EOF
bytes − network| ≤ tolerance × network + allowance × requests (one request per transfer: its
protocol requests and replies). Pure arithmetic on records, summary samples and the network side.
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
from xrdsim.validation.ports import record_protocol
from xrdsim.validation.servers import ServerFacts

#: The protocol of a subject that counts every protocol of its servers (interface counters).
ALL = "all"
#: Seconds before the capture's first frame a server may have started for its first summary
#: report to count whole (``tos`` is in whole seconds).
STARTED_INSIDE_S = 1.0

#: direction → the record bytes that cross the network that way.
RECORD_BYTES = {Direction.IN: lambda r: r.write_bytes, Direction.OUT: lambda r: r.read_bytes}
#: direction → the summary link delta (spec §8.3) of it.
#: How many standard deviations of the pure-ACK model a counters comparison allows.
ACK_SIGMAS = 3.0
LINK_DELTA = {Direction.IN: lambda s: s.link_in_delta, Direction.OUT: lambda s: s.link_out_delta}


@dataclass(frozen=True, slots=True)
class Comparison:
    """One subject, protocol and direction: monitored bytes (records), network bytes, the summary
    ``link`` bytes of the same servers, every protocol together (None without summaries), how the
    network side was matched, per bin (bin start, monitored, network), the ``requests``
    (transfers) of the subject, the monitored ``past_eof_bytes`` no file could deliver and the
    ``margin_bytes`` the network side may be off by the pure-ACK model (counters: 3 σ over the
    subject's transfers, each a connection)."""

    subject: str
    direction: Direction
    monitored_bytes: int
    network_bytes: float
    summary_bytes: int | None
    matched_by: str
    bins: tuple[tuple[float, float, float], ...]
    protocol: str = ALL
    requests: int = 0
    past_eof_bytes: int = 0
    margin_bytes: float = 0.0

    @property
    def name(self) -> str:
        """``<subject> [<protocol>] <in|out>``: the verdict's and metric's name."""
        proto = "" if self.protocol == ALL else f" {self.protocol}"
        return f"{self.subject}{proto} {self.direction.value}"

    @property
    def ratio(self) -> float:
        """monitored / network; NaN when neither saw traffic, inf when only monitoring did."""
        return ratio(self.monitored_bytes, self.network_bytes)

    @property
    def judged_ratio(self) -> float:
        """(monitored − past-EOF bytes) / network: the ratio the verdict holds to the tolerance."""
        return ratio(self.monitored_bytes - self.past_eof_bytes, self.network_bytes)

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


def past_eof(rec: TransferRecord) -> int:
    """Read bytes a record claims that its file cannot have delivered: XRootD counts the bytes a
    read requests, so one request larger than the file (``xrdfs cat`` asks 8 MiB) counts at least
    its excess over the file size. 0 when no single read is known to be larger than the file."""
    size = rec.file_size
    if size <= 0 or rec.read_bytes <= size:
        return 0
    largest = rec.read_max if rec.read_max is not None else rec.read_single_bytes if rec.read_ops == 1 else 0
    return max(0, min(largest, rec.read_bytes) - size)


@dataclass(slots=True)
class Monitored:
    """Per (server label, protocol): record bytes per direction and bin, transfers, past-EOF bytes."""

    rows: dict[Direction, list[float]]
    transfers: int = 0
    past_eof: int = 0


def monitored_bins(records: Iterable[TransferRecord], servers: Sequence[ServerFacts], bins: Bins) -> dict[tuple[str, str], Monitored]:
    """Record bytes per (server label, protocol), spread evenly over each record's [start, end]."""
    out: dict[tuple[str, str], Monitored] = {}
    for rec in records:
        key = (server_label(rec, servers), record_protocol(rec))
        m = out.get(key) or out.setdefault(key, Monitored({d: [0.0] * bins.count for d in DIRECTIONS}))
        m.transfers += 1
        m.past_eof += past_eof(rec)
        end = rec.end_time if rec.end_time is not None else rec.t_emitted
        start = rec.start_time if rec.start_time is not None else end
        for d in DIRECTIONS:
            amount = RECORD_BYTES[d](rec)
            if amount:
                bins.spread(m.rows[d], start, end, amount)
    return out


def summary_bytes(samples: Iterable[SummarySample], capture_start: float | None = None) -> dict[tuple[str, Direction], int]:
    """Σ link deltas per (summary src, direction). A server's first report counts only when the
    server started inside the capture (``tos`` at most STARTED_INSIDE_S before ``capture_start``):
    its delta is the whole count since the start, else mostly from before the capture."""
    out: defaultdict[tuple[str, Direction], int] = defaultdict(int)
    for s in samples:
        inside = capture_start is not None and s.tos >= capture_start - STARTED_INSIDE_S
        for d in DIRECTIONS:
            out[(s.server, d)] += 0 if s.first and not inside else LINK_DELTA[d](s) or 0
    return out


def compare(side: NetworkSide, records: Sequence[TransferRecord], samples: Sequence[SummarySample],
            servers: Sequence[ServerFacts], bins: Bins, capture_start: float | None = None) -> list[Comparison]:
    """One comparison per subject of ``side`` and direction; a subject of protocol ``all`` takes
    the records of every protocol of its servers."""
    mon = monitored_bins(records, servers, bins)
    link = summary_bytes(samples, capture_start)
    has_link = {s.server for s in samples}
    starts = bins.edges()[:-1]
    out = []
    for sub in side.subjects:
        parts = [m for (label, proto), m in mon.items() if label in sub.servers and sub.protocol in (ALL, proto)]
        for d in DIRECTIONS:
            monitored = [sum(col) for col in zip(*(m.rows[d] for m in parts))] if parts else [0.0] * bins.count
            network = sub.network[d]
            summary = sum(link[(label, d)] for label in sub.servers) if has_link & set(sub.servers) else None
            eof = sum(m.past_eof for m in parts) if d is Direction.OUT else 0
            connections = sum(m.transfers for (label, _), m in mon.items() if label in sub.servers)
            margin = ACK_SIGMAS * sub.ack_spread.get(d, 0.0) / math.sqrt(max(connections, 1))
            out.append(Comparison(sub.label, d, round(sum(monitored)), sum(network), summary, sub.matched_by,
                                  tuple(zip(starts, monitored, network)), sub.protocol, sum(m.transfers for m in parts), eof, margin))  # fmt: skip
    return out


def tolerance_expectation(tolerance: float, allowance: float = 0.0, c: Comparison | None = None) -> Expectation:
    """The expectation a comparison's judged ratio is held to: within tolerance + allowance ×
    requests / network of 1 (without ``c``: the tolerance alone)."""
    extra = (allowance * c.requests + c.margin_bytes) / c.network_bytes if c is not None and c.network_bytes >= 0.5 else 0.0
    text = f"|1 − ratio| ≤ {tolerance:.3g}" + (f" + {allowance:,.0f} B × {c.requests} requests" if c is not None and allowance else "")
    text += f" + {c.margin_bytes:,.0f} B ACK margin" if c is not None and c.margin_bytes >= 0.5 else ""
    return Expectation(text, "..", 1.0 - tolerance - extra, 1.0 + tolerance + extra)


def verdicts(comparisons: Iterable[Comparison], tolerance: float, allowance: float = 0.0) -> list[Verdict]:
    """One verdict per comparison with traffic on either side, named ``Comparison.name``, on its
    judged ratio (past-EOF bytes left out)."""
    out = []
    for c in comparisons:
        if c.has_traffic:
            exp = tolerance_expectation(tolerance, allowance, c)
            out.append(Verdict(c.name, c.judged_ratio, "", exp.text, exp.check(c.judged_ratio)))
    return out


__all__ = ["ALL", "Comparison", "Monitored", "compare", "monitored_bins", "past_eof", "ratio", "server_label", "summary_bytes",
           "tolerance_expectation", "verdicts"]
