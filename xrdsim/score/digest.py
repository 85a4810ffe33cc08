"""What the scorer keeps of a run's records and NIC counters once the transfers are matched
(``xrdsim.score.tally``): per host, the record bytes spread over the bins, the NIC payload
per bin, and what the detectors read (arrival times, record lags, user-DN shares,
incarnations, HTTP uploads closed with write 0, recorded bytes). A few numbers per record
instead of the record, and the digest of two sets of servers is the sum of their digests.

A run cut into shards (``xrdsim.shards``) digests each shard where it ran, so neither its
records nor its counter rows travel, and a shard streamed in rounds (``xrdsim.score.stream``)
digests its records as they are settled. The digest is the same whatever order its records
come in: a record's bytes go into whole-byte cells (``Bins.spread_whole``: integers add up
alike in any order), the arrival and lag arrays are sorted, and what the bytes of a record
add to another host (a TPC pull read by a destination server, which moved them through its
own NIC too) is added in an order of those contributions alone.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from xrdsim.score.match import Rec
from xrdsim.score.volume import Bins, HostCounters, Overhead, VolumeSeries, host_payload
from xrdsim.sim import CounterRow

#: Record endings whose times are the server's own close (their lag tells its clock).
CLOSED = ("close", "forced_close")


@dataclass(slots=True)
class HostSignals:
    """What one host's records tell the detectors."""

    arrivals: array = field(default_factory=lambda: array("d"))  # t_emitted of each record
    lags: dict[int, array] = field(default_factory=dict)  # bin of arrival → t_emitted − end of closed records
    dn_count: list[int] = field(default_factory=list)  # records per bin of their end …
    dn_with: list[int] = field(default_factory=list)  # … and of those, the ones with a user DN
    stods: set[int] = field(default_factory=set)  # the incarnations its records name
    last_end: dict[int, float] = field(default_factory=dict)  # stod → latest record end of that incarnation
    restart_end: dict[int, float] = field(default_factory=dict)  # stod → latest end of its records ended server_restart
    recorded_bytes: int = 0


@dataclass(slots=True)
class RecordDigest:
    """A run's (or a shard's) records and counters, digested; ``add`` merges another set of
    servers into it, ``canonical`` after the last."""

    bins: Bins
    records: int = 0
    monitored: dict[str, list[int]] = field(default_factory=dict)  # key → record bytes per bin (own records, whole bytes)
    nic: dict[str, list[float]] = field(default_factory=dict)  # counted host → NIC payload per bin
    peers: list[tuple[str, float, float, int]] = field(default_factory=list)  # (peer host, start, end, bytes)
    hosts: dict[str, HostSignals] = field(default_factory=dict)
    puts: list[tuple[float, float, str, str]] = field(default_factory=list)  # (start, end, host, site) of write-0 HTTP uploads

    def add(self, other: RecordDigest) -> None:
        """Add the digest of other servers (another shard's)."""
        self.records += other.records
        for key, row in other.monitored.items():
            mine = self.monitored.get(key)
            self.monitored[key] = list(row) if mine is None else [a + b for a, b in zip(mine, row)]
        self.nic.update(other.nic)
        self.peers.extend(other.peers)
        self.hosts.update(other.hosts)
        self.puts.extend(other.puts)

    def canonical(self) -> RecordDigest:
        """Every map and list in an order of its contents alone. Returns itself."""
        self.monitored = dict(sorted(self.monitored.items()))
        self.nic = dict(sorted(self.nic.items()))
        self.peers.sort()
        self.hosts = dict(sorted(self.hosts.items()))
        for s in self.hosts.values():
            s.arrivals = array("d", sorted(s.arrivals))
            s.lags = {k: array("d", sorted(s.lags[k])) for k in sorted(s.lags)}
        self.puts.sort()
        return self

    def take_counters(self, counters: Iterable[CounterRow], site_of: Mapping[str, str], model: Overhead | None = None) -> None:
        """The NIC payload per bin of every host of ``site_of`` among the host ``counters``
        (a host's whole run of rows at once, in any order)."""
        by_host: dict[str, list[CounterRow]] = {}
        for row in counters:
            if row.kind == "host" and row.name in site_of:
                by_host.setdefault(row.name, []).append(row)
        for host, rows in by_host.items():
            self.nic[host] = host_payload(rows, self.bins, model or Overhead())

    def take_read(self, counters: Mapping[str, HostCounters], site_of: Mapping[str, str], model: Overhead | None = None) -> None:
        """``take_counters`` from counters already read at the bin edges (a run streamed in
        rounds: ``StreamTally.add_counters``)."""
        for host, series in counters.items():
            if host in site_of:
                self.nic[host] = series.payload(model or Overhead())

    def take_records(self, records: Iterable[tuple[Rec, str]], site_of: Mapping[str, str], peer_hosts: Collection[str]) -> None:
        """Digest ``records`` ((record, truth host) pairs, in any order): ``site_of`` maps the
        servers with truth transfers to their sites, ``peer_hosts`` are the hosts a record's
        client may be for its bytes to count there too."""
        bins, n = self.bins, self.bins.count
        for rec, host in records:
            self.records += 1
            s = _signals(self, host)
            nbytes = rec.total_bytes
            s.recorded_bytes += nbytes
            end = rec.end_time if rec.end_time is not None else (rec.t_emitted or bins.t0)
            start = rec.start_time if rec.start_time is not None else end
            place = host if host in site_of else rec.site  # a record of no known server: under its own site
            row = self.monitored.get(place)
            if row is None:
                row = self.monitored[place] = [0] * n
            if nbytes:
                bins.spread_whole(row, start, end, nbytes)
                peer = rec.client_host
                if peer != host and peer in peer_hosts:
                    self.peers.append((peer, start, end, nbytes))
            if rec.t_emitted is not None:
                s.arrivals.append(rec.t_emitted)
                if rec.end_time is not None and rec.ended in CLOSED:
                    s.lags.setdefault(bins.index(rec.t_emitted), array("d")).append(rec.t_emitted - rec.end_time)
            t = rec.end_time if rec.end_time is not None else rec.t_emitted
            if t is not None:
                k = bins.index(t)
                s.dn_count[k] += 1
                s.dn_with[k] += bool(rec.user_dn)
                if rec.stod is not None:
                    s.last_end[rec.stod] = max(t, s.last_end.get(rec.stod, t))
                    if rec.ended == "server_restart":
                        s.restart_end[rec.stod] = max(t, s.restart_end.get(rec.stod, t))
            if rec.stod is not None:
                s.stods.add(rec.stod)
            if rec.rw and rec.write_bytes == 0 and rec.protocol.startswith("http") and rec.end_time is not None:
                self.puts.append((start, end, host, site_of.get(host, rec.site)))  # end is the record's end_time here

    def series(self, site_of: Mapping[str, str]) -> VolumeSeries:
        """The per-host volume series: NIC payload beside record bytes, each host its own
        "site" (``volume.by_site`` sums them per site); the bytes of a record whose client is
        another counted host of a known site count at that host too."""
        n = self.bins.count
        out = VolumeSeries(self.bins)
        for host, row in self.nic.items():
            out.nic[host] = list(row)
            out.monitored[host] = [0.0] * n
        for key, row in self.monitored.items():
            cells = out.monitored.setdefault(key, [0.0] * n)
            for k, v in enumerate(row):
                cells[k] += v
            out.nic.setdefault(key, [0.0] * n)
        for peer, start, end, nbytes in self.peers:
            if peer in self.nic and site_of.get(peer) is not None:
                self.bins.spread(out.monitored.setdefault(peer, [0.0] * n), start, end, nbytes)
        return out


def _signals(digest: RecordDigest, host: str) -> HostSignals:
    s = digest.hosts.get(host)
    if s is None:
        n = digest.bins.count
        s = digest.hosts[host] = HostSignals(dn_count=[0] * n, dn_with=[0] * n)
    return s


def digest_records(records: Iterable[tuple[Rec, str]], bins: Bins, site_of: Mapping[str, str],
                   counters: Iterable[CounterRow] = (), model: Overhead | None = None,
                   peer_hosts: Collection[str] | None = None) -> RecordDigest:
    """The digest of ``records`` ((record, truth host) pairs, in any order) and of the host
    ``counters`` of the hosts in ``site_of`` (host → site: the servers with truth
    transfers). ``peer_hosts`` are the hosts a record's client may be for its bytes to count
    there too (default: the counted hosts)."""
    out = RecordDigest(bins)
    out.take_counters(counters, site_of, model)
    out.take_records(records, site_of, set(out.nic) if peer_hosts is None else peer_hosts)
    return out.canonical()


__all__ = ["HostSignals", "RecordDigest", "digest_records"]
