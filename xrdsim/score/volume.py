"""Monitored bytes against the network: NIC counters per host, unwrapped and cut into time
bins, inverted through the TCP overhead model to payload bytes, summed per site, beside the
record bytes spread over each record's [start, end]. Pure arithmetic on rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from xrdsim.sim import CounterRow

WRAP32 = 1 << 32
#: Cells with less NIC payload than this are too small for a ratio (bytes).
RATIO_FLOOR_BYTES = 1e6


@dataclass(frozen=True, slots=True)
class Overhead:
    """The overhead model the counters are inverted with (``xrdsim.sim.nic``'s parameters)."""

    mtu: int = 1500
    header_bytes: int = 52
    ack_every: int = 2

    def payload(self, tx_wire: float, rx_wire: float) -> tuple[float, float]:
        """(sent, received) TCP payload from IP bytes sent and received: data segments carry
        ``header`` bytes per MSS, and each direction's data draws one ACK per ``ack_every``
        segments the other way — two linear equations, solved exactly."""
        mss = self.mtu - self.header_bytes
        a, b = self.header_bytes / mss, self.header_bytes / (mss * self.ack_every)
        det = (1 + a) ** 2 - b * b
        sent = (tx_wire * (1 + a) - rx_wire * b) / det
        received = (rx_wire * (1 + a) - tx_wire * b) / det
        return max(sent, 0.0), max(received, 0.0)


@dataclass(frozen=True, slots=True)
class Bins:
    """``count`` bins of ``width_s`` seconds from unix time ``t0``."""

    t0: float
    width_s: float
    count: int

    def edges(self) -> list[float]:
        """The ``count + 1`` bin edges."""
        return [self.t0 + k * self.width_s for k in range(self.count + 1)]

    def index(self, t: float) -> int:
        """The bin holding ``t`` (times outside go to the first or last bin)."""
        return min(max(int((t - self.t0) // self.width_s), 0), self.count - 1)

    def _clip(self, start: float, end: float) -> tuple[float, float]:
        t_end = self.t0 + self.count * self.width_s
        start = min(max(start, self.t0), t_end)
        return start, min(max(end, start), t_end)

    def spread(self, row: list[float], start: float, end: float, amount: float) -> None:
        """Add ``amount`` to ``row`` uniformly over [start, end] clipped to the bins (all of it
        in one bin when the span is empty)."""
        start, end = self._clip(start, end)
        if end - start < 1e-9:
            row[self.index(start)] += amount
            return
        rate = amount / (end - start)
        for k in range(self.index(start), self.index(end) + 1):
            lo, hi = max(start, self.t0 + k * self.width_s), min(end, self.t0 + (k + 1) * self.width_s)
            row[k] += rate * max(hi - lo, 0.0)

    def spread_whole(self, row: list[int], start: float, end: float, amount: int) -> None:
        """``spread`` in whole bytes: each bin gets its share of ``amount`` rounded so that the
        shares add up to ``amount`` exactly. Integer cells add up alike in any order, so a row
        filled from records in any order (a run streamed in rounds, or cut into shards) is the
        same row."""
        start, end = self._clip(start, end)
        if end - start < 1e-9:
            row[self.index(start)] += amount
            return
        span, given = end - start, 0
        last = self.index(end)
        for k in range(self.index(start), last + 1):
            upto = amount if k == last else round(amount * (min(end, self.t0 + (k + 1) * self.width_s) - start) / span)
            row[k] += upto - given
            given = upto


@dataclass(slots=True)
class VolumeSeries:
    """Per site and bin: monitored bytes and payload bytes inverted from the NIC counters."""

    bins: Bins
    monitored: dict[str, list[float]] = field(default_factory=dict)
    nic: dict[str, list[float]] = field(default_factory=dict)

    @property
    def sites(self) -> list[str]:
        """Sites with counters, sorted."""
        return sorted(self.nic)


class Unwrapped:
    """A cumulative counter made monotone as its readings come: a drop is a 32-bit wrap when
    the counter was past 2³¹ (and fits in 32 bits), else a reset to 0 (reboot)."""

    __slots__ = ("offset", "prev")

    def __init__(self) -> None:
        self.offset, self.prev = 0, None

    def __call__(self, v: int) -> int:
        prev = self.prev
        if prev is not None and v < prev:
            self.offset += WRAP32 if WRAP32 // 2 <= prev < WRAP32 else prev
        self.prev = v
        return v + self.offset


def _between(t0: float, v0: int, t1: float, v1: int, t: float) -> float:
    return v0 + (v1 - v0) * (t - t0) / (t1 - t0)


class HostCounters:
    """One host's NIC counters read at the bin edges as its rows come, in time order: an
    edge is read (interpolated linearly between the rows on either side) as soon as a row past it arrives, so the rows
    need not be kept and a run streamed in rounds holds a few numbers per host and edge."""

    __slots__ = ("edges", "cum", "last", "tx", "rx", "mon")

    def __init__(self, bins: Bins) -> None:
        self.edges = bins.edges()
        self.cum: list[tuple[float, float]] = []  # (sent − monitoring, received) at the edges read so far
        self.last: tuple[float, int, int, int] | None = None  # (t, tx, rx, monitoring), unwrapped
        self.tx, self.rx, self.mon = Unwrapped(), Unwrapped(), Unwrapped()

    def add(self, row: CounterRow) -> None:
        """The next row of this host (rows come in time order)."""
        t, last, edges, cum = row.t, self.last, self.edges, self.cum
        if last is not None and t < last[0]:
            raise ValueError(f"host {row.name}: counter row at {t} after one at {last[0]}")
        tx, rx, mon = self.tx(row.tx_bytes), self.rx(row.rx_bytes), self.mon(row.monitoring_bytes)
        k = len(cum)
        while k < len(edges) and edges[k] < t:
            e = edges[k]
            if last is None:  # edges before the first row: held at its values
                cum.append((float(tx) - float(mon), float(rx)))
            else:
                t0, tx0, rx0, mon0 = last
                cum.append((_between(t0, tx0, t, tx, e) - _between(t0, mon0, t, mon, e), _between(t0, rx0, t, rx, e)))
            k += 1
        self.last = (t, tx, rx, mon)

    def payload(self, model: Overhead) -> list[float]:
        """Payload bytes (sent + received) per bin, monitoring UDP removed; edges past the
        last row are held at its values."""
        assert self.last is not None
        _, tx, rx, mon = self.last
        cum = self.cum + [(float(tx) - float(mon), float(rx))] * (len(self.edges) - len(self.cum))
        out = []
        for (tx0, rx0), (tx1, rx1) in pairwise(cum):
            sent, received = model.payload(tx1 - tx0, rx1 - rx0)
            out.append(sent + received)
        return out


def host_payload(rows: list[CounterRow], bins: Bins, model: Overhead) -> list[float]:
    """Payload bytes (sent + received) per bin of one host's counters, monitoring UDP removed."""
    series = HostCounters(bins)
    for row in sorted(rows, key=lambda r: r.t):
        series.add(row)
    return series.payload(model)


def by_site(servers: VolumeSeries, site_of: Mapping[str, str]) -> VolumeSeries:
    """The per-site series of a per-host one (``RecordDigest.series``: each host its own
    "site"): each host's cells added into its site's; a key that is no known host (records
    of an unknown server, filed under their own site) stays as it is."""
    bins = servers.bins
    series = VolumeSeries(bins)
    for key in servers.sites:
        site = site_of.get(key, key)
        for table, row in ((series.nic, servers.nic[key]), (series.monitored, servers.monitored.get(key, []))):
            cells = table.setdefault(site, [0.0] * bins.count)
            for k, v in enumerate(row):
                cells[k] += v
    return series


def cell_agreement(m: float, n: float) -> float:
    """1 − |m − n| / max(m, n) in [0, 1]; NaN when both are below the ratio floor."""
    top = max(m, n)
    return math.nan if top < RATIO_FLOOR_BYTES else 1.0 - abs(m - n) / top


__all__ = ["Bins", "HostCounters", "Overhead", "RATIO_FLOOR_BYTES", "Unwrapped", "VolumeSeries", "by_site", "cell_agreement", "host_payload"]
