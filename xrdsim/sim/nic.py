"""NIC and uplink octet/packet counters, and the overhead model as pure functions.

Wire bytes are counted at the IP layer: TCP payload plus ``header`` bytes (IP 20 + TCP 32
with timestamps = 52) per segment of MSS = MTU − header; one pure ACK per ``ack_every``
segments the other way; UDP datagrams plus 8 + 20 per IP fragment. Flows are booked in
chunks of whole ACK groups, so the sum over a flow equals the model of its total exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from xrdsim.net import IP_HEADER, UDP_HEADER, fragment_count

WRAP32 = 1 << 32


def tcp_wire_bytes(payload_bytes: int, mtu: int = 1500, header_bytes: int = 52) -> tuple[int, int]:
    """(IP bytes, packets) carrying ``payload_bytes`` of TCP payload in full-MSS segments."""
    segs = -(-payload_bytes // (mtu - header_bytes))
    return payload_bytes + segs * header_bytes, segs


def ack_wire_bytes(segments: int, ack_every: int = 2, header_bytes: int = 52) -> tuple[int, int]:
    """(IP bytes, packets) of the pure ACKs answering ``segments`` data segments."""
    acks = -(-segments // ack_every)
    return acks * header_bytes, acks


def retrans_wire_bytes(segments: int, rate: float, mtu: int = 1500) -> tuple[int, int]:
    """(IP bytes, packets) retransmitted: ⌊segments·rate⌋ full-size segments."""
    n = int(segments * rate)
    return n * mtu, n


def udp_wire_bytes(payload_bytes: int, mtu: int = 1500) -> tuple[int, int]:
    """(IP bytes, packets) of one UDP datagram, IP-fragmented at ``mtu``."""
    n = fragment_count(payload_bytes, mtu)
    return payload_bytes + UDP_HEADER + IP_HEADER * n, n


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

    def moved(self, t: float) -> tuple[int, int]:
        """(down, up) payload moved by ``t``, linear over [t0, t1]."""
        if t >= self.t1:
            return self.down, self.up
        frac = max(0.0, (t - self.t0) / (self.t1 - self.t0))
        return int(self.down * frac), int(self.up * frac)


class NicModel:
    """Books flows and datagrams on interfaces with the configured overhead model."""

    def __init__(self, mtu: int, header_bytes: int, ack_every: int, retrans_rate: float) -> None:
        self.mtu, self.header, self.ack_every, self.retrans = mtu, header_bytes, ack_every, retrans_rate
        self.unit = (mtu - header_bytes) * ack_every
        self._udp: dict[int, tuple[int, int]] = {}

    def book(self, flow: Flow, down: int, up: int) -> None:
        """Add ``down``/``up`` payload bytes of ``flow`` with their headers and ACKs
        (``tcp_wire_bytes`` and ``ack_wire_bytes``, inlined: this runs for every transfer)."""
        mss, header, every = self.mtu - self.header, self.header, self.ack_every
        if down > 0:
            segs = -(-down // mss)
            acks = -(-segs // every)
            self._move(flow, True, down, down + segs * header, segs, acks * header, acks)
        if up > 0:
            segs = -(-up // mss)
            acks = -(-segs // every)
            self._move(flow, False, up, up + segs * header, segs, acks * header, acks)

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
        """Book what ``flow`` moved by ``t``, in whole ACK groups (exact in sum)."""
        down, up = flow.moved(t)
        d = down // self.unit * self.unit - flow.booked_down
        u = up // self.unit * self.unit - flow.booked_up
        if d > 0 or u > 0:
            self.book(flow, max(d, 0), max(u, 0))
            flow.booked_down += max(d, 0)
            flow.booked_up += max(u, 0)

    def finish(self, flow: Flow, down: int | None = None, up: int | None = None) -> None:
        """Book the rest of ``flow`` (or of a shortened ``down``/``up``) plus retransmissions."""
        total_d = flow.down if down is None else down
        total_u = flow.up if up is None else up
        self.book(flow, max(total_d - flow.booked_down, 0), max(total_u - flow.booked_up, 0))
        if self.retrans > 0:
            for tx_side, nbytes in ((True, total_d), (False, total_u)):
                segs = tcp_wire_bytes(nbytes, self.mtu, self.header)[1]
                wire, n = retrans_wire_bytes(segs, self.retrans, self.mtu)
                if n:
                    self._move(flow, tx_side, 0, wire, n, 0, 0)

    def datagram(self, host: Octets, uplink: Octets | None, payload_bytes: int) -> None:
        """Book one monitoring datagram sent by ``host`` (and out of its site)."""
        sized = self._udp.get(payload_bytes)
        if sized is None:
            sized = self._udp[payload_bytes] = udp_wire_bytes(payload_bytes, self.mtu)
        wire, pkts = sized
        host.tx_bytes += wire; host.tx_packets += pkts; host.monitoring_bytes += wire
        if uplink is not None:
            uplink.tx_bytes += wire; uplink.tx_packets += pkts; uplink.monitoring_bytes += wire

    def background(self, host: Octets, nbytes: int) -> None:
        """Book ``nbytes`` of other traffic each way on ``host`` (full-MTU packets)."""
        pkts = -(-nbytes // self.mtu)
        host.rx_bytes += nbytes; host.tx_bytes += nbytes; host.rx_packets += pkts; host.tx_packets += pkts


__all__ = ["Flow", "NicModel", "Octets", "ack_wire_bytes", "retrans_wire_bytes", "tcp_wire_bytes", "udp_wire_bytes"]
