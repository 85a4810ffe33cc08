"""The transfer side of a score as sums that add: what matching a run's truth transfers with
its records comes to (counts and bytes per site, right fields, time errors, misses and their
causes, a sample of byte pairs, datagrams sent and lost), in a form where the tally of two
parts is the sum of their tallies.

A run cut into shards of sites (``xrdsim.shards``) matches each shard where it ran: a
server's transfers and records are all in its own shard, so a shard's matching is exactly
its part of the whole one. The merge then only adds. Every sum is of integers, every list is
put in an order of its contents and the byte-pair sample keeps the pairs of the smallest
keys, so the score is the one of one process however the run was cut, and the scorer needs
neither the truth transfers nor the datagram rows of the whole run.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from xrdsim.score.causes import Miss, explain, restart_cut
from xrdsim.score.loss import datagram_counts
from xrdsim.score.match import Matching, Rec, match, truth_bytes
from xrdsim.score.metrics import FIELDS
from xrdsim.sim import DatagramRow, FaultRow, TransferRow

#: At most this many (truth, recorded) byte pairs are kept for the scatter plot.
MAX_PAIRS_KEPT = 20_000
#: The order misses are listed in: outcome first, then time.
OUTCOMES = {"missed": 0, "wrong": 1, "extra": 2}
_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: spreads consecutive transfer ids over the key space
_MASK = (1 << 64) - 1


@dataclass(slots=True)
class SiteTally:
    """One site's share of the matching: transfers, records and bytes."""

    pairs: int = 0
    missed: int = 0
    spurious: int = 0
    true_bytes: int = 0  # Σ truth bytes over pairs and missed transfers
    kept_bytes: int = 0  # Σ min(truth, recorded) over pairs
    recorded_bytes: int = 0  # Σ recorded bytes over pairs and spurious records

    def add(self, other: SiteTally) -> None:
        """Add ``other`` into this tally."""
        self.pairs += other.pairs
        self.missed += other.missed
        self.spurious += other.spurious
        self.true_bytes += other.true_bytes
        self.kept_bytes += other.kept_bytes
        self.recorded_bytes += other.recorded_bytes

    @property
    def truth_transfers(self) -> int:
        """Truth transfers: matched or missed."""
        return self.pairs + self.missed

    @property
    def records(self) -> int:
        """Records: matched or spurious."""
        return self.pairs + self.spurious


@dataclass(slots=True)
class TransferTally:
    """A run's (or a shard's) matching added up; ``add`` merges another part into it."""

    sites: dict[str, SiteTally] = field(default_factory=dict)
    duplicates: int = 0
    exact: int = 0  # pairs whose read, readv and write bytes are all right
    fields_right: int = 0  # pairs whose every checked field is right
    fields: dict[str, list[int]] = field(default_factory=lambda: {name: [0, 0] for name in FIELDS})  # [right, given]
    start_errors: array = field(default_factory=lambda: array("d"))
    end_errors: array = field(default_factory=lambda: array("d"))
    latencies: array = field(default_factory=lambda: array("d"))
    restart_ended: int = 0  # of the transfers a restart cut, those whose record ended server_restart
    restart_cut: int = 0
    misses: list[Miss] = field(default_factory=list)
    byte_pairs: list[tuple[int, int, int]] = field(default_factory=list)  # (key, truth bytes, recorded bytes)
    site_of: dict[str, str] = field(default_factory=dict)  # server host → site (servers with truth transfers)
    ip_hosts: dict[str, str] = field(default_factory=dict)  # server ip → host
    sent: dict[tuple[str, str], int] = field(default_factory=dict)  # (server, counter group) → datagrams sent
    lost: dict[tuple[str, str], int] = field(default_factory=dict)  # … lost on the path
    f_lost: list[DatagramRow] = field(default_factory=list)  # the f-stream datagrams the path lost
    datagrams: int = 0

    @property
    def total(self) -> SiteTally:
        """The sum over every site."""
        out = SiteTally()
        for part in self.sites.values():
            out.add(part)
        return out

    def add(self, other: TransferTally) -> None:
        """Add ``other`` (the tally of other servers) into this one; ``canonical`` after the last."""
        for site, part in other.sites.items():
            self.sites.setdefault(site, SiteTally()).add(part)
        self.duplicates += other.duplicates
        self.exact += other.exact
        self.fields_right += other.fields_right
        for name, (right, given) in other.fields.items():
            self.fields[name][0] += right
            self.fields[name][1] += given
        self.start_errors.extend(other.start_errors)
        self.end_errors.extend(other.end_errors)
        self.latencies.extend(other.latencies)
        self.restart_ended += other.restart_ended
        self.restart_cut += other.restart_cut
        self.misses.extend(other.misses)
        self.byte_pairs.extend(other.byte_pairs)
        self.site_of.update(other.site_of)
        self.ip_hosts.update(other.ip_hosts)
        for mine, theirs in ((self.sent, other.sent), (self.lost, other.lost)):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n
        self.f_lost.extend(other.f_lost)
        self.datagrams += other.datagrams

    def canonical(self) -> TransferTally:
        """Put every list and map in an order of its contents alone (after the last ``add``):
        the tally is then the same however the run was cut. Returns itself."""
        self.sites = dict(sorted(self.sites.items()))
        self.start_errors, self.end_errors, self.latencies = (array("d", sorted(a)) for a in (self.start_errors, self.end_errors, self.latencies))
        self.misses.sort(key=_miss_key)
        self.byte_pairs = heapq.nsmallest(MAX_PAIRS_KEPT, self.byte_pairs)
        self.site_of = dict(sorted(self.site_of.items()))
        self.ip_hosts = dict(sorted(self.ip_hosts.items()))
        self.sent, self.lost = dict(sorted(self.sent.items())), dict(sorted(self.lost.items()))
        self.f_lost.sort(key=lambda d: (d.t_send, d.server, d.id))
        return self


def _miss_key(x: Miss) -> tuple:
    return OUTCOMES.get(x.outcome, 3), x.time, x.server, x.lfn, x.cause, x.detail


def site_map(transfers: Iterable[TransferRow]) -> tuple[dict[str, str], dict[str, str]]:
    """(host → site, ip → host) from the truth transfers, in host and ip order."""
    sites, hosts = {}, {}
    for t in transfers:
        sites[t.server] = t.site
        hosts[t.server_ip] = t.server
    return dict(sorted(sites.items())), dict(sorted(hosts.items()))


def record_host(rec: Rec, ip_hosts: Mapping[str, str]) -> str:
    """The truth's name of a record's server: its host name, else its IP's host."""
    return rec.server_host or ip_hosts.get(rec.server_ip, rec.server_ip)


def _exact(row: TransferRow, rec: Rec) -> bool:
    return (row.read_bytes, row.readv_bytes, row.write_bytes) == (rec.read_bytes, rec.readv_bytes, rec.write_bytes)


def _latency(t: TransferRow, r: Rec) -> float | None:
    ok = t.close_kind == "explicit" and r.ended in ("close", "") and r.t_emitted is not None
    return r.t_emitted - t.close_time if ok else None


def _site(tally: TransferTally, name: str) -> SiteTally:
    part = tally.sites.get(name)
    if part is None:
        part = tally.sites[name] = SiteTally()
    return part


def tally_matching(m: Matching, site_of: Mapping[str, str], ip_hosts: Mapping[str, str]) -> TransferTally:
    """The sums of a matching alone (no causes, no datagrams): per site, fields, times."""
    out = TransferTally(site_of=dict(site_of), ip_hosts=dict(ip_hosts), duplicates=m.duplicates)
    fields = [(out.fields[name], tf, rf) for name, (tf, rf) in FIELDS.items()]
    sample: list[tuple[int, int, int]] = []
    for t, r in m.pairs:
        true, got = truth_bytes(t), r.total_bytes
        part = _site(out, t.site)
        part.pairs += 1
        part.true_bytes += true
        part.kept_bytes += min(true, got)
        part.recorded_bytes += got
        out.exact += _exact(t, r)
        right = True
        for counts, tf, rf in fields:
            a, b = getattr(t, tf), getattr(r, rf)
            if a or b:
                counts[1] += 1
                if a == b:
                    counts[0] += 1
                else:
                    right = False
        out.fields_right += right
        if r.start_time is not None:
            out.start_errors.append(abs(r.start_time - t.open_time))
        if r.end_time is not None:
            out.end_errors.append(abs(r.end_time - t.close_time))
        lag = _latency(t, r)
        if lag is not None:
            out.latencies.append(lag)
        sample.append(((t.transfer_id * _MIX) & _MASK, true, got))
    out.byte_pairs = heapq.nsmallest(MAX_PAIRS_KEPT, sample)
    for t in m.missed:
        part = _site(out, t.site)
        part.missed += 1
        part.true_bytes += truth_bytes(t)
    for r in m.spurious:
        part = _site(out, site_of.get(record_host(r, ip_hosts), r.site))
        part.spurious += 1
        part.recorded_bytes += r.total_bytes
    return out


def tally_transfers(transfers: list[TransferRow], records: list[Rec], datagrams: Iterable[DatagramRow],
                    faults: list[FaultRow], t0: float) -> TransferTally:
    """Match ``records`` with the truth ``transfers`` and add it all up, with the causes of
    every miss and the datagrams sent and lost per (server, counter group); ``t0`` is the
    unix time of simulated second 0."""
    datagrams = list(datagrams) if not isinstance(datagrams, list) else datagrams
    site_of, ip_hosts = site_map(transfers)
    m = match(transfers, records)
    out = tally_matching(m, site_of, ip_hosts)
    out.restart_ended, out.restart_cut = restart_cut(m, faults)
    out.misses = explain(m, datagrams, faults, t0)
    out.add(datagram_tally(datagrams))
    return out.canonical()


def datagram_tally(datagrams: list[DatagramRow]) -> TransferTally:
    """The datagram side of a tally alone: datagrams sent and lost per (server, counter
    group), the f-stream datagrams the path lost, how many there were."""
    out = TransferTally()
    out.sent, out.lost = datagram_counts(datagrams)
    out.f_lost = [d for d in datagrams if d.fate == "lost" and d.code == "f"]
    out.datagrams = len(datagrams)
    return out


__all__ = ["MAX_PAIRS_KEPT", "SiteTally", "TransferTally", "datagram_tally", "record_host", "site_map", "tally_matching", "tally_transfers"]
