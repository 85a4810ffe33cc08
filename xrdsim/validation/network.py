"""The network side of a validation, per comparison subject, direction and time bin: TCP payload
bytes of the data ports counted in a capture (``replay.count_tcp_payload``), or interface
counters (``xrdsim.counters``) inverted to payload through the TCP/IP overhead model.
Attributes network traffic to monitored servers; never reads monitoring.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from replay import Direction, EndpointBytes, TcpAccounting
from xrdsim.counters import CounterTable
from xrdsim.errors import UserError
from xrdsim.netmodel import NetworkModel
from xrdsim.score import Bins
from xrdsim.validation.servers import XROOT, ServerFacts

DIRECTIONS = (Direction.IN, Direction.OUT)


class ValidationInputError(UserError):
    """Inputs that cannot be validated: no monitoring, no data port, no network side."""


@dataclass(slots=True)
class Subject:
    """What one row of the comparison covers: ``label``, the monitored ``servers`` in it (by
    label), how the network side was matched (``matched_by``), its bytes per direction and bin
    (``network``) and the ``protocol`` of the data ports counted (``all``: every protocol)."""

    label: str
    servers: list[str]
    matched_by: str
    network: dict[Direction, list[float]] = field(default_factory=dict)
    protocol: str = "all"
    ack_spread: dict[Direction, float] = field(default_factory=dict)


@dataclass(slots=True)
class NetworkSide:
    """Per-subject network bytes, plus traffic no monitored server accounts for
    (``unattributed``: label, direction, bytes) and a sentence on the method."""

    method: str
    subjects: list[Subject]
    unattributed: list[tuple[str, Direction, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _bin_rows(endpoints: Sequence[EndpointBytes], bins: Bins) -> dict[Direction, list[float]]:
    rows = {d: [0.0] * bins.count for d in DIRECTIONS}
    for e in endpoints:
        for start, n in e.bins:
            rows[Direction(e.direction)][bins.index(start + bins.width_s / 2)] += n
    return rows


def attribute(endpoints: Sequence[EndpointBytes], servers: Sequence[ServerFacts]) -> tuple[dict[str, list[EndpointBytes]], list[EndpointBytes]]:
    """Endpoints per server label, and those of no server.

    An endpoint (ip, port) belongs to the server with that data port (any of its protocols, or
    an unknown one) whose monitoring came from that IP. A server no endpoint matched by IP (its
    data flows over another address, e.g. IPv6) takes the remaining endpoints of its ports when
    it is their only claimant.
    """
    mine: dict[str, list[EndpointBytes]] = {s.label: [] for s in servers}
    rest = []
    for e in endpoints:
        owners = [s for s in servers if (e.server[1] in s.data_ports or not s.data_ports) and e.server[0] in s.ips]
        (mine[owners[0].label] if len(owners) == 1 else rest).append(e)
    by_ip = {label for label, eps in mine.items() if eps}
    left = []
    for e in rest:
        claim = [s for s in servers if e.server[1] in s.data_ports and s.label not in by_ip]
        claim = claim or [s for s in servers if not s.data_ports and s.label not in by_ip]
        (mine[claim[0].label] if len(claim) == 1 else left).append(e)
    return mine, left


def tcp_side(acct: TcpAccounting, servers: Sequence[ServerFacts], bins: Bins, source: str, ports: Collection[int]) -> NetworkSide:
    """Subjects = servers × the protocols of their data ports (xroot first); network = TCP payload
    of their endpoints of that protocol in ``source``."""
    mine, left = attribute(acct.endpoints, servers)
    side = NetworkSide(f"TCP payload bytes on data port(s) {', '.join(map(str, sorted(ports)))} counted in {source} "
                       f"from IP and TCP header lengths, retransmissions once", [])  # fmt: skip
    for s in servers:
        protocols = s.data_ports
        names = sorted(set(protocols.values()) or {XROOT}, key=lambda p: (p != XROOT, p))
        for proto in names:
            eps = [e for e in mine[s.label] if protocols.get(e.server[1], XROOT) == proto]
            how = ", ".join(sorted({f"{e.server[0]}:{e.server[1]}" for e in eps})) or "no TCP endpoint"
            side.subjects.append(Subject(s.label, [s.label], how, _bin_rows(eps, bins), proto))
    for e in left:
        side.unattributed.append((f"{e.server[0]}:{e.server[1]}", Direction(e.direction), float(e.payload_bytes)))
    if acct.cut_headers:
        side.notes.append(f"{acct.cut_headers} TCP segments had their header cut by the snap length and were not counted")
    return side


def utc(t: float) -> str:
    """A unix time as ``YYYY-MM-DD HH:MM:SS`` (UTC), or as seconds when no calendar holds it."""
    try:
        return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OverflowError, OSError):
        return f"{t:.0f} s"


def match_host(host: str, servers: Sequence[ServerFacts]) -> list[ServerFacts]:
    """The servers a counters host name stands for: same name, same short name, or an IP of theirs."""
    short = host.split(".")[0]
    return [s for s in servers if host and (host == s.host or host in s.ips or (short == s.host.split(".")[0] and not short.isdigit()))]


def counters_side(table: CounterTable, servers: Sequence[ServerFacts], bins: Bins, span: tuple[float, float],
                  overhead: NetworkModel, interfaces: Collection[str] | None = None) -> NetworkSide:
    """Subjects = counter hosts with monitored servers; network = payload bytes inverted from
    their rx/tx counters over the capture's ``span`` (bin edges clipped to it)."""
    table = table.placed(*span)
    start, end = span
    edges = [min(max(e, start), end) for e in bins.edges()]
    pairs = [(h, match_host(h, servers)) for h in table.hosts]
    if len(table.hosts) == 1 and not pairs[0][1] and len(servers) == 1:
        pairs = [(table.hosts[0], list(servers))]
    side = NetworkSide(f"payload bytes inverted from the interface counters in {table.path} ({table.form}; {overhead.describe()})", [])
    for host, matched in pairs:
        if not matched:
            side.notes.append(f"counters of host {host!r} match no monitored server")
            continue
        rx = table.deltas(host, Direction.IN, edges, interfaces=interfaces)
        tx = table.deltas(host, Direction.OUT, edges, interfaces=interfaces)
        payload = [overhead.payload(t, r) for t, r in zip(tx, rx)]
        network = {Direction.IN: [p[1] for p in payload], Direction.OUT: [p[0] for p in payload]}
        # the ACKs counted in one direction answer the data of the other
        spread = {Direction.IN: overhead.ack_spread(sum(network[Direction.OUT])), Direction.OUT: overhead.ack_spread(sum(network[Direction.IN]))}
        side.subjects.append(Subject(host, [s.label for s in matched], f"counters host {host}", network, ack_spread=spread))
    if not side.subjects:
        names = ", ".join(f"{s.label} ({', '.join(sorted(s.ips))})" for s in servers) or "none"
        raise ValidationInputError(f"{table.path}: counters name host(s) {', '.join(table.hosts)}; none is a monitored server ({names})")
    first, last = table.span
    if last < start or first > end:
        raise ValidationInputError(f"{table.path}: the counters cover {utc(first)} to {utc(last)}, the capture "
                                   f"{utc(start)} to {utc(end)} UTC: they do not overlap")  # fmt: skip
    return side


__all__ = ["DIRECTIONS", "NetworkSide", "Subject", "ValidationInputError", "attribute", "counters_side", "match_host", "tcp_side", "utc"]
