"""NIC and uplink octet/packet counters, booked with the one network model
(``xrdsim.netmodel``, which ``xrdsim validate`` and the scorer invert with the same parameters).

Counted bytes are what Linux interface counters count: TCP payload plus IP/TCP headers and the
Ethernet header per packet (segments of MSS = MTU − IP/TCP header); pure ACKs the other way at
a rate drawn once per connection from the model's ACK distribution; UDP datagrams per IP
fragment. Flows are booked in pieces through cumulative functions, so the sum over a flow
equals the model of its total exactly, however it was cut.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from xrdsim.netmodel import NetworkModel

WRAP32 = 1 << 32


def tcp_wire_bytes(payload_bytes: int, mtu: int = 1500, header_bytes: int = 52) -> tuple[int, int]:
    """(IP bytes, packets) carrying ``payload_bytes`` of TCP payload in full-MSS segments."""
    return NetworkModel(mtu, header_bytes, 0).data_wire(payload_bytes)


def ack_wire_bytes(segments: int, ack_every: float = 2, header_bytes: int = 52) -> tuple[int, int]:
    """(IP bytes, packets) of the pure ACKs answering ``segments`` data segments, one per ``ack_every``."""
    return NetworkModel(1500, header_bytes, 0).acks(segments, 1.0 / ack_every)


def retrans_wire_bytes(segments: int, rate: float, mtu: int = 1500) -> tuple[int, int]:
    """(IP bytes, packets) retransmitted: ⌊segments·rate⌋ full-size segments."""
    return NetworkModel(mtu, 52, 0, retrans_rate=rate).retransmitted(segments)


def udp_wire_bytes(payload_bytes: int, mtu: int = 1500) -> tuple[int, int]:
    """(IP bytes, packets) of one UDP datagram, IP-fragmented at ``mtu``."""
    return NetworkModel(mtu, 52, 0).udp_wire(payload_bytes)


@dataclass(slots=True)
class Octets:
    """Cumulative counters of one interface (host NIC or site uplink)."""

    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_packets: int = 0
    tx_packets: int = 0
    rx_payload_bytes: int = 0
    tx_payload_bytes: int = 0
    monitoring_bytes: int = 0

    def reset(self) -> None:
        """A reboot: every counter back to 0."""
        for name in self.__slots__:
            setattr(self, name, 0)


@dataclass(slots=True)
class Flow:
    """One TCP connection's data: ``down`` bytes server→client, ``up`` client→server.

    ``server`` is None for a connection that never leaves the host (a TPC destination's
    local writer): its bytes crossed the NIC once already, on the pull from the source.
    """

    server: Octets | None
    uplinks: tuple[Octets, ...]
    remote: Octets | None
    down: int
    up: int
    t0: float
    t1: float
    booked_down: int = 0
    booked_up: int = 0
    acks_per_segment: float = 0.0  # drawn at its first booking (0: not yet)

    def moved(self, t: float) -> tuple[int, int]:
        """(down, up) payload moved by ``t``, linear over [t0, t1]."""
        if t >= self.t1:
            return self.down, self.up
        frac = max(0.0, (t - self.t0) / (self.t1 - self.t0))
        return int(self.down * frac), int(self.up * frac)


class NicModel:
    """Books flows and datagrams on interfaces with ``model``; ``rng`` (from the scenario seed)
    draws each connection's ACK rate."""

    def __init__(self, model: NetworkModel, rng: random.Random) -> None:
        self.model, self.rng = model, rng
        self.mtu = model.mtu
        self._udp: dict[int, tuple[int, int]] = {}

    def share_acks(self, flow: Flow, rng: random.Random) -> None:
        """Draw ``flow``'s ACK rate from ``rng`` instead of this NIC's generator: a connection
        both sites of a run book (a TPC pull) draws it from the copy's own draws, so the pure
        ACKs the source counts in are the ones the destination counts out."""
        flow.acks_per_segment = 1.0 / self.model.ack.draw(rng)

    def _acks_of(self, flow: Flow) -> float:
        if not flow.acks_per_segment:
            flow.acks_per_segment = 1.0 / self.model.ack.draw(self.rng)
        return flow.acks_per_segment

    def book(self, flow: Flow, down: int, up: int) -> None:
        """Add ``down``/``up`` payload bytes of ``flow`` (past what it booked already) with their
        headers and ACKs: differences of the model's cumulative counts, so pieces sum exactly."""
        m, k = self.model, self._acks_of(flow)
        for server_sends, before, n in ((True, flow.booked_down, down), (False, flow.booked_up, up)):
            if n <= 0:
                continue
            w0, s0 = m.data_wire(before)
            w1, s1 = m.data_wire(before + n)
            a0, p0 = m.acks(s0, k)
            a1, p1 = m.acks(s1, k)
            self._move(flow, server_sends, n, w1 - w0, s1 - s0, a1 - a0, p1 - p0)
        flow.booked_down += max(down, 0)
        flow.booked_up += max(up, 0)

    def _move(self, flow: Flow, server_sends: bool, payload: int, wire: int, pkts: int, ack: int, acks: int) -> None:
        sender, receiver = (flow.server, flow.remote) if server_sends else (flow.remote, flow.server)
        if sender is not None:
            sender.tx_bytes += wire; sender.tx_packets += pkts; sender.rx_bytes += ack; sender.rx_packets += acks
            sender.tx_payload_bytes += payload
        if receiver is not None:
            receiver.rx_bytes += wire; receiver.rx_packets += pkts; receiver.tx_bytes += ack; receiver.tx_packets += acks
            receiver.rx_payload_bytes += payload
        if flow.uplinks:
            srv_up = flow.uplinks[0]
            fwd, back = (wire, ack) if server_sends else (ack, wire)
            fp, bp = (pkts, acks) if server_sends else (acks, pkts)
            srv_up.tx_bytes += fwd; srv_up.tx_packets += fp; srv_up.rx_bytes += back; srv_up.rx_packets += bp
            for o in flow.uplinks[1:]:
                o.rx_bytes += fwd; o.rx_packets += fp; o.tx_bytes += back; o.tx_packets += bp

    def progress(self, flow: Flow, t: float) -> None:
        """Book what ``flow`` moved by ``t``, in whole segments."""
        mss = self.model.mss
        down, up = flow.moved(t)
        d = down // mss * mss - flow.booked_down
        u = up // mss * mss - flow.booked_up
        if d > 0 or u > 0:
            self.book(flow, max(d, 0), max(u, 0))

    def finish(self, flow: Flow, down: int | None = None, up: int | None = None) -> None:
        """Book the rest of ``flow`` (or of a shortened ``down``/``up``) plus retransmissions."""
        total_d = flow.down if down is None else down
        total_u = flow.up if up is None else up
        self.book(flow, max(total_d - flow.booked_down, 0), max(total_u - flow.booked_up, 0))
        if self.model.retrans_rate > 0:
            for tx_side, nbytes in ((True, total_d), (False, total_u)):
                wire, n = self.model.retransmitted(self.model.segments(nbytes))
                if n:
                    self._move(flow, tx_side, 0, wire, n, 0, 0)

    def datagram(self, host: Octets, uplink: Octets | None, payload_bytes: int) -> None:
        """Book one monitoring datagram sent by ``host`` (and out of its site)."""
        sized = self._udp.get(payload_bytes)
        if sized is None:
            sized = self._udp[payload_bytes] = self.model.udp_wire(payload_bytes)
        wire, pkts = sized
        host.tx_bytes += wire; host.tx_packets += pkts; host.monitoring_bytes += wire
        if uplink is not None:
            uplink.tx_bytes += wire; uplink.tx_packets += pkts; uplink.monitoring_bytes += wire

    def background(self, host: Octets, nbytes: int) -> None:
        """Book ``nbytes`` of other traffic each way on ``host`` (full-MTU packets)."""
        pkts = -(-nbytes // (self.mtu + self.model.link_header_bytes))
        host.rx_bytes += nbytes; host.tx_bytes += nbytes; host.rx_packets += pkts; host.tx_packets += pkts


__all__ = ["Flow", "NicModel", "Octets", "ack_wire_bytes", "retrans_wire_bytes", "tcp_wire_bytes", "udp_wire_bytes"]
