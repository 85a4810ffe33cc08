"""Which data ports each monitored server listens on, and the protocol each port speaks: the
``=`` ident's (or summary src's) port is the xroot port; a port of another protocol (XrdHttp)
is learned from the transfer records of that protocol and the TCP connections a capture saw
opening to the server's IPs from the records' clients at the records' times; ``--data-port``
replaces both. Fills ``ServerFacts.protocols``; counts no bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from collector import TransferRecord
from replay import Listener
from xrdsim.validation.servers import XROOT, ServerFacts

#: The protocol of a port given on the command line that nothing else names.
UNKNOWN = "unknown"
#: Seconds a record's [start, end] is widened by when matched to a TCP connection (f-stream
#: times are whole seconds of the fstat interval).
SLACK_S = 2.0


def record_protocol(rec: TransferRecord) -> str:
    """The protocol a record's user names (``xroot`` without a user stream)."""
    return rec.protocol or XROOT


def bare_ip(ip: str) -> str:
    """An IP without the IPv4-mapped prefix XRootD writes for IPv4 clients (``::ffff:``)."""
    return ip[7:] if ip.lower().startswith("::ffff:") and "." in ip else ip


def _matches(rec: TransferRecord, listener: Listener) -> bool:
    """True when a connection to ``listener`` came from the record's client during the record."""
    end = rec.end_time if rec.end_time is not None else rec.t_emitted
    start = rec.start_time if rec.start_time is not None else end
    client = bare_ip(rec.client_ip)
    return any(bare_ip(c.client) == client and c.first_t <= end + SLACK_S and c.last_t >= start - SLACK_S
               for c in listener.connections)  # fmt: skip


def learn_ports(server: ServerFacts, records: Sequence[TransferRecord], listeners: Sequence[Listener]) -> dict[int, tuple[str, int]]:
    """Port → (protocol, records matched) of the server's non-xroot ports: a listener on one of its
    IPs, other than its xroot port, whose connections match more records of one other protocol
    than of any protocol else."""
    out: dict[int, tuple[str, int]] = {}
    for lst in listeners:
        ip, port = lst.address
        if bare_ip(ip) not in {bare_ip(i) for i in server.ips} or port == server.port:
            continue
        votes = Counter(record_protocol(r) for r in records if _matches(r, lst))
        ranked = votes.most_common(2)
        if ranked and ranked[0][0] != XROOT and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
            out[port] = ranked[0]
    return out


def assign_ports(servers: Sequence[ServerFacts], records_of: dict[str, list[TransferRecord]], listeners: Sequence[Listener],
                 given: Sequence[int]) -> dict[int, str]:
    """Set each server's ``protocols`` (port → protocol) and return port → where it came from:
    ``--data-port`` when given, else the idents (and summary sources) of the xrootd servers plus
    the learned ports."""
    sources: dict[int, str] = {}
    xroot_ports = {s.port for s in servers if s.port}
    for s in servers:
        mine = records_of.get(s.label, [])
        learned = learn_ports(s, mine, listeners)
        if given:
            claims = {p: _given(p, s, learned, mine, xroot_ports) for p in given}
            s.protocols = {p: proto for p, proto in claims.items() if proto}
            continue
        if s.port and s.pgm in ("xrootd", ""):
            s.protocols[s.port] = XROOT
            sources[s.port] = f"{s.port_source} of {s.label}"
        for p, (proto, n) in sorted(learned.items()):
            s.protocols[p] = proto
            sources[p] = f"{proto} of {s.label}: TCP connections of {n} {proto} transfers"
    return {p: "--data-port" for p in given} if given else sources


def _given(port: int, server: ServerFacts, learned: dict[int, tuple[str, int]], records: Sequence[TransferRecord],
           xroot_ports: set[int]) -> str | None:
    """The protocol of a ``--data-port`` on ``server``: xroot when the server names it (or names
    none), else the learned one; None when it is another server's xroot port; else the one
    non-xroot protocol of its records, else ``unknown``."""
    if port == server.port or not server.port:
        return XROOT
    if port in learned:
        return learned[port][0]
    if port in xroot_ports:
        return None
    other = {record_protocol(r) for r in records} - {XROOT}
    return other.pop() if len(other) == 1 else UNKNOWN


__all__ = ["SLACK_S", "UNKNOWN", "assign_ports", "bare_ip", "learn_ports", "record_protocol"]
