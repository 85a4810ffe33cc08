"""Timed replay: send datagram payloads to one UDP endpoint on the schedule of ``replay.schedule``.

Owns the sockets (only to the given target) and the clock; reports what was sent and how late
against the schedule. ``clock`` and ``sleep`` are arguments, so tests drive time themselves.

Each sender of the capture gets a socket of its own (up to ``MAX_SENDERS``, then they share
round-robin): XRootD sends each destination's stream from its own socket with its own pseq
counter, and a collector tells those counter groups apart by the sender's port.
"""

from __future__ import annotations

import math
import socket
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from replay.schedule import Planned, plan
from xrdsim.datagram import Address, Datagram

#: Sockets one replay opens at most, one per sender of the capture.
MAX_SENDERS = 256


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What a replay did: ``sent`` datagrams of ``bytes_sent`` payload bytes in ``wall_s``
    seconds; ``send_errors`` sends the kernel refused (counted, not retried); lateness is
    |actual − scheduled| send time in seconds: mean, 99th percentile and maximum."""

    sent: int
    bytes_sent: int
    wall_s: float
    send_errors: int
    lateness_mean_s: float
    lateness_p99_s: float
    lateness_max_s: float
    senders: int = 1

    @property
    def rate_pps(self) -> float:
        """Datagrams sent per wall-clock second."""
        return self.sent / self.wall_s if self.wall_s > 0 else math.inf


def dry_run(datagrams: Iterable[Datagram], *, speed: float = 1.0, rate_pps: float | None = None, loop: int = 1) -> Iterator[Planned]:
    """What ``replay`` would send and when (seconds after its start), without a socket or a clock."""
    return plan(datagrams, speed=speed, rate_pps=rate_pps, loop=loop)


def replay(
    datagrams: Iterable[Datagram],
    to: Address,
    *,
    speed: float = 1.0,
    rate_pps: float | None = None,
    loop: int = 1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayReport:
    """Send each datagram's payload to ``to`` = (host, port) over UDP (IPv4 or IPv6 as the
    target resolves), from one local socket per original sender, keeping the original inter-arrival times divided by ``speed``
    (``math.inf``: as fast as possible) or a fixed ``rate_pps``, ``loop`` times over.

    >>> replay(read_datagrams("monitoring.pcap"), ("127.0.0.1", 9930), speed=10)  # doctest: +SKIP
    ReplayReport(sent=56, ...)

    Raises ValueError for a bad speed, rate or loop and OSError when the target does not resolve.
    """
    schedule = plan(datagrams, speed=speed, rate_pps=rate_pps, loop=loop)
    family, _, _, _, sockaddr = socket.getaddrinfo(to[0], to[1], type=socket.SOCK_DGRAM)[0]
    senders = _Senders(family)
    try:
        return _send_all(senders, sockaddr, schedule, clock, sleep)
    finally:
        senders.close()


class _Senders:
    """One UDP socket per original sender address, opened on first use."""

    def __init__(self, family: int) -> None:
        self.family = family
        self.by_src: dict[Address, socket.socket] = {}
        self.pool: list[socket.socket] = []

    def of(self, src: Address) -> socket.socket:
        sock = self.by_src.get(src)
        if sock is None:
            if len(self.pool) < MAX_SENDERS:
                sock = socket.socket(self.family, socket.SOCK_DGRAM)
                self.pool.append(sock)
            else:
                sock = self.pool[len(self.by_src) % MAX_SENDERS]
            self.by_src[src] = sock
        return sock

    def close(self) -> None:
        for sock in self.pool:
            sock.close()


def _send_all(senders: _Senders, sockaddr: tuple, schedule: Iterator[Planned], clock: Callable[[], float], sleep: Callable[[float], None]) -> ReplayReport:
    lateness = array("d")
    sent = bytes_sent = errors = 0
    start = clock()
    for item in schedule:
        due = start + item.at_s
        if (wait := due - clock()) > 0:
            sleep(wait)
        lateness.append(abs(clock() - due))
        try:
            bytes_sent += senders.of(item.datagram.src).sendto(item.datagram.payload, sockaddr)
            sent += 1
        except OSError:  # ENOBUFS and the like: the datagram is lost, as it would be on a path
            errors += 1
    return ReplayReport(sent, bytes_sent, clock() - start, errors, *_lateness_figures(lateness), len(senders.pool))


def _lateness_figures(lateness: array) -> tuple[float, float, float]:
    """(mean, p99, max) of the lateness samples; zeros when there are none."""
    if not lateness:
        return 0.0, 0.0, 0.0
    ordered = sorted(lateness)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return sum(ordered) / len(ordered), p99, ordered[-1]
