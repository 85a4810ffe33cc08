"""The servers' UDP sockets: monitor emissions become ``Datagram``s in send order.

Each dest gets its own source port (a real 5.5.3 server does, spec §1.1), the summary
report another. Every datagram gets a run-wide id, is booked on the sender's NIC and
uplink, and gets a truth row — with its fate once the path has decided it.
"""

from __future__ import annotations

import hashlib
import ipaddress

from xrdsim.datagram import Address, Datagram
from xrdsim.net import Fate
from xrdsim.sim.nic import NicModel, Octets
from xrdsim.sim.truth import DatagramRow, Truth


def dest_address(host: str, port: int) -> Address:
    """An IP literal for ``host``: itself, or a stable address in 198.18.0.0/15 for a name."""
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        h = hashlib.sha256(host.encode()).digest()
        return f"198.18.{h[0]}.{h[1] or 1}", port


class Outbox:
    """Collects the datagrams of a site's servers in send order and books them."""

    def __init__(self, truth: Truth, nic: NicModel, carried: bool = False, first_id: int = 0) -> None:
        self.truth = truth
        self.nic = nic
        self.queue: list[Datagram] = []
        self.next_id = first_id
        self.carried = carried
        self.pending: dict[int, tuple] = {}
        self.sent = 0
        self.sent_bytes = 0

    def send(self, t: float, src: Address, dst: Address, payload: bytes, meta: tuple, octets: tuple[Octets, Octets | None]) -> None:
        """Queue one datagram; ``meta`` = (server, group, code, pseq) for truth."""
        ident, size = self.next_id, len(payload)
        self.next_id += 1
        self.queue.append(Datagram(t, src, dst, payload, None, ident))
        self.nic.datagram(octets[0], octets[1], size)
        self.sent += 1
        self.sent_bytes += size
        if self.carried:
            self.pending[ident] = (t, *meta, size)
        else:
            self.truth.add("datagrams", DatagramRow(ident, t, *meta, size, "sent", ""))

    def fate(self, ident: int, fate: Fate, cause: str) -> None:
        """The path's verdict on datagram ``ident`` (a ``net.FateRecorder``)."""
        t, server, group, code, pseq, size = self.pending.pop(ident)
        self.truth.add("datagrams", DatagramRow(ident, t, server, group, code, pseq, size, fate.value, cause))

    def take(self) -> list[Datagram]:
        """The datagrams queued so far, in send order."""
        out, self.queue = self.queue, []
        return out


class NullOutbox:
    """The sockets of a ghost server (``xrdsim.sim.run.GhostContext``): its own site sends
    what it sends."""

    def send(self, t: float, src: Address, dst: Address, payload: bytes, meta: tuple, octets: tuple) -> None:
        """Nothing leaves."""


__all__ = ["NullOutbox", "Outbox", "dest_address"]
