"""Wire-faithful delivery of simulated datagrams to a collector on this machine.

Each simulated sender socket gets a socket of its own, bound to a loopback alias of the
server's address (10.0.1.2 → 127.0.1.2: on Linux all of 127.0.0.0/8 is bindable without
configuring anything) and, where free, to the server's own source port; a collector that
names servers by sender address then sees every server apart. Where aliases cannot be bound
(IPv6 servers, other systems) senders share 127.0.0.1 with distinct ports. Each datagram goes
to the local port of the stream its simulated destination port belongs to: the summary
(``xrd.report``) port to the summary port, the others to the detailed port.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from xrdsim.datagram import Address, Datagram

#: Longest wait of the unpaced sender for a receiver that counts what it took.
LOCKSTEP_WAIT_S = 0.05
#: The loopback address every sender falls back to.
LOOPBACK = "127.0.0.1"


class Shows(Protocol):
    """What the sender reports progress to (``harness.Progress``)."""

    def show(self, phase: str, sim_s: float, datagrams: int, records: int, force: bool = False) -> None: ...


def _can_bind(ip: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((ip, 0))
        except OSError:
            return False
    return True


@dataclass(slots=True)
class AddressPlan:
    """Simulated sender IP → the loopback address it is sent from, and back."""

    aliases: bool = True
    local: dict[str, str] = field(default_factory=dict)
    simulated: dict[str, str] = field(default_factory=dict)

    @classmethod
    def probe(cls) -> AddressPlan:
        """A plan with aliases when this system binds 127.0.0.0/8 beyond 127.0.0.1."""
        return cls(aliases=_can_bind("127.0.1.2"))

    def local_ip(self, ip: str) -> str:
        """The loopback address for simulated ``ip`` (its low 24 bits kept when free)."""
        got = self.local.get(ip)
        if got is not None:
            return got
        got = LOOPBACK
        addr = ipaddress.ip_address(ip)
        if self.aliases and addr.version == 4:
            b = addr.packed
            got = f"127.{b[1]}.{b[2]}.{b[3]}"
            if got in self.simulated or b[1:3] == b"\0\0" or b[3] in (0, 255):
                n = len(self.local) + 1  # a collision: the next of a range no low-24 mapping uses
                got = f"127.254.{n >> 8 & 255}.{n & 255 or 1}"
            self.simulated[got] = ip
        self.local[ip] = got
        return got

    def to_simulated(self, ip: str) -> str:
        """The simulated address behind loopback address ``ip`` (``ip`` itself if none)."""
        return self.simulated.get(ip, ip)


@dataclass(frozen=True, slots=True)
class Ports:
    """Local ports of the collector: the detailed stream's, and the summary stream's for the
    simulated summary port ``summary_sim`` (0: no summary stream of its own)."""

    detailed: int
    summary: int
    summary_sim: int = 0

    def route(self, dst: Address) -> int:
        """The local port for a datagram to simulated ``dst``."""
        return self.summary if self.summary_sim and dst[1] == self.summary_sim else self.detailed


class SimClock:
    """Simulated unix time at a wall-clock instant: the time of the last datagram sent by
    then (the collector's "now"), or, after the last one, the run's end."""

    def __init__(self) -> None:
        self.walls: list[float] = []
        self.sims: list[float] = []
        self.end: float | None = None
        self.end_wall = float("inf")

    def mark(self, sim_t: float) -> None:
        """A datagram of simulated time ``sim_t`` is being sent now."""
        self.walls.append(time.monotonic())
        self.sims.append(sim_t)

    def finish(self, end: float) -> None:
        """Everything was sent; from now on it is ``end``."""
        self.end, self.end_wall = end, time.monotonic()

    def at(self, wall: float) -> float | None:
        """Simulated time at monotonic ``wall`` (None before the first datagram)."""
        if self.end is not None and wall >= self.end_wall:
            return self.end
        k = bisect_right(self.walls, wall)
        return self.sims[k - 1] if k else None


class Sender:
    """Sends datagrams to a collector on loopback from one socket per simulated sender, paced
    at ``speed`` simulated seconds per wall second (0: as fast as the receiver keeps up)."""

    def __init__(self, ports: Ports, speed: float, plan: AddressPlan | None = None,
                 received: Callable[[], int] | None = None, alive: Callable[[], None] | None = None) -> None:
        self.ports, self.speed, self.received, self.alive = ports, speed, received, alive
        self.plan = plan or AddressPlan(aliases=False)
        self.sockets: dict[Address, socket.socket] = {}
        self.clock = SimClock()
        self.now = 0.0
        self.sent = 0

    def _wait_for_receiver(self) -> None:
        """Unpaced, with a receiver count: wait until it has taken every datagram sent (at most
        ``LOCKSTEP_WAIT_S``: one the kernel dropped must not stall the run). The collector's
        clock is ``now``; were the sender ahead, each record would be stamped with a later
        datagram's time and its latency inflated by the backlog."""
        if self.received is None:
            return
        deadline = time.monotonic() + LOCKSTEP_WAIT_S
        while self.received() < self.sent and time.monotonic() < deadline:
            time.sleep(0.00005)

    def _socket(self, src: Address) -> socket.socket:
        sock = self.sockets.get(src)
        if sock is None:
            sock = self.sockets[src] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            ip = self.plan.local_ip(src[0])
            try:  # the server's own source port, so that ip:port is as on the wire
                sock.bind((ip, src[1] if ip != LOOPBACK else 0))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                sock.bind((ip, 0))
        return sock

    def send(self, stream: Iterable[Datagram], t0: float, progress: Shows) -> None:
        """Send every datagram at its (scaled) arrival time; ``now`` follows simulated time."""
        wall0, first = time.monotonic(), None
        for d in stream:
            t = d.t_arrival if d.t_arrival is not None else d.t_send
            first = t if first is None else first
            if self.speed > 0:
                ahead = (t - first) / self.speed - (time.monotonic() - wall0)
                if ahead > 0:
                    time.sleep(ahead)
            elif self.received is not None:
                self._wait_for_receiver()
            elif self.sent % 256 == 255:
                time.sleep(0.0005)  # unpaced: let the receiver keep up with loopback
            self.now = t0 + t
            self.clock.mark(self.now)
            self._socket(d.src).sendto(d.payload, (LOOPBACK, self.ports.route(d.dst)))
            self.sent += 1
            if self.sent % 2000 == 0:
                progress.show("run", t, self.sent, 0)
                if self.alive is not None:
                    self.alive()
        if self.speed <= 0:
            self._wait_for_receiver()  # the last datagram too, before ``now`` jumps to the run's end

    def close(self) -> None:
        """Close every socket."""
        for sock in self.sockets.values():
            sock.close()


def free_udp_port() -> int:
    """A UDP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def free_tcp_port() -> int:
    """A TCP port on loopback that was free a moment ago (for a collector's metrics server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def udp_bound(port: int) -> bool:
    """Whether some socket holds UDP ``port`` on loopback (or on every address): binding it
    ourselves fails then."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


PROC_UDP = (Path("/proc/net/udp"), Path("/proc/net/udp6"))


@dataclass(frozen=True, slots=True)
class SocketQueue:
    """Of the sockets bound to some ports: bytes waiting unread, datagrams the kernel dropped."""

    queued: int
    dropped: int


def udp_queue(ports: Iterable[int], tables: Iterable[Path] = PROC_UDP) -> SocketQueue | None:
    """The receive queues of the sockets bound to ``ports`` (Linux /proc), None where the
    kernel does not tell: a collector has consumed everything when ``queued`` is 0."""
    wanted, queued, dropped, seen = set(ports), 0, 0, False
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        seen = True
        for line in lines:
            cols = line.split()
            if int(cols[1].rpartition(":")[2], 16) in wanted:
                queued += int(cols[4].partition(":")[2], 16)
                dropped += int(cols[-1])
    return SocketQueue(queued, dropped) if seen else None


__all__ = ["LOCKSTEP_WAIT_S", "AddressPlan", "Ports", "Sender", "SimClock", "SocketQueue", "free_tcp_port", "free_udp_port", "udp_bound", "udp_queue"]  # fmt: skip
