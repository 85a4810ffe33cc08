"""Monitoring sender sockets grouped into servers: one server per ``=`` ident (host, data port,
spec §3.3) or summary ``src`` (host:port, spec §8.1); sockets without either join the one server
of their IP. Names each server ``host:port`` and says where its data port came from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from collector.sources import split_hostport
from xrdsim.validation.probe import SocketFacts, SummaryFacts

#: The protocol of the port a server names in its ident (spec §3.3).
XROOT = "xroot"
#: Codes of detailed monitoring (``xrootd.monitor``), as opposed to summary reports.
DETAILED = frozenset("=udtirgfTUxp")


@dataclass(slots=True)
class ServerFacts:
    """One monitored server: ``label`` (``host:port``, or the sender IP when it never said its
    port), xroot data ``port`` (0 unknown) and where it came from (``port_source``), ``site``,
    program, sender ``ips``, the facts of its sockets and ``protocols``: every data port it
    serves → its protocol (``xrdsim.validation.ports`` fills it; empty: ``port`` is xroot)."""

    label: str
    host: str
    port: int
    site: str = ""
    pgm: str = ""
    port_source: str = ""
    ips: set[str] = field(default_factory=set)
    sockets: list[SocketFacts] = field(default_factory=list)
    protocols: dict[int, str] = field(default_factory=dict)

    @property
    def data_ports(self) -> dict[int, str]:
        """Port → protocol: ``protocols``, else the xroot ``port`` (empty when unknown: any port)."""
        return self.protocols or ({self.port: XROOT} if self.port else {})

    @property
    def version(self) -> str:
        """The XRootD version its ident says (``v5.5.3``), "" without an ident."""
        return next((k.ident.ver for k in self.sockets if k.ident is not None and k.ident.ver), "")

    @property
    def codes(self) -> Counter[str]:
        """Datagrams per code over every socket."""
        return sum((s.codes for s in self.sockets), Counter())

    @property
    def detailed(self) -> bool:
        """True when the server sends detailed monitoring (not only summary reports)."""
        return any(c in DETAILED for c in self.codes)

    @property
    def summaries(self) -> list[SummaryFacts]:
        """The summary-report facts of its sockets."""
        return [s.summary for s in self.sockets if s.summary is not None]

    @property
    def idents(self) -> int:
        """``=`` datagrams received."""
        return self.codes["="]

    def add(self, facts: SocketFacts) -> None:
        """Attach one socket."""
        self.sockets.append(facts)
        self.ips.add(facts.address[0])


def _split(hostport: str) -> tuple[str, int]:
    """A summary ``src`` as (host, port); port 0 when it names none."""
    try:
        return split_hostport(hostport)
    except ValueError:
        return hostport, 0


def _named(facts: SocketFacts) -> tuple[str, int, str, str, str] | None:
    """(host, port, site, program, port source) a socket says of itself, None when nothing."""
    if facts.ident is not None:
        i = facts.ident
        return i.host, i.port, i.site, i.pgm, "ident"
    if facts.summary is not None:
        s = facts.summary
        host, port = _split(s.src)
        return host, port, s.site, s.pgm, "summary src"
    return None


def group_servers(sockets: Iterable[SocketFacts]) -> list[ServerFacts]:
    """Servers by (host, port) from idents and summary sources; a socket that names nothing
    joins the only server of its IP, or a server of its own named by its IP."""
    named: dict[tuple[str, int], ServerFacts] = {}
    anonymous: list[SocketFacts] = []
    for facts in sockets:
        me = _named(facts)
        if me is None:
            anonymous.append(facts)
            continue
        host, port, site, pgm, source = me
        server = named.get((host, port))
        if server is None:
            server = named[(host, port)] = ServerFacts(f"{host}:{port}" if port else host, host, port, site, pgm, source)
        elif source == "ident" and server.port_source != "ident":
            server.port_source, server.pgm = source, pgm or server.pgm
        server.add(facts)
    for facts in anonymous:
        _by_ip(named, facts).add(facts)
    return sorted(named.values(), key=lambda s: s.label)


def _by_ip(named: dict[tuple[str, int], ServerFacts], facts: SocketFacts) -> ServerFacts:
    ip = facts.address[0]
    mine = [s for s in named.values() if ip in s.ips]
    if len(mine) == 1:
        return mine[0]
    return named.setdefault((ip, 0), ServerFacts(ip, ip, 0))


__all__ = ["DETAILED", "XROOT", "ServerFacts", "group_servers"]
