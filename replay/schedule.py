"""When each datagram of a replay is due: pure schedule arithmetic, no sockets and no clock.

The original inter-arrival times scaled by ``speed``, or a fixed ``rate_pps``, repeated
``loop`` times. ``replay.sender`` follows this plan against a clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from xrdsim.datagram import Datagram


@dataclass(frozen=True, slots=True)
class Planned:
    """One send: ``at_s`` seconds after the replay starts, ``datagram`` to send."""

    at_s: float
    datagram: Datagram


def capture_time(dgram: Datagram) -> float:
    """The time a datagram was seen on the wire: ``t_arrival`` when the path set it, else ``t_send``."""
    return dgram.t_send if dgram.t_arrival is None else dgram.t_arrival


def plan(datagrams: Iterable[Datagram], *, speed: float = 1.0, rate_pps: float | None = None, loop: int = 1) -> Iterator[Planned]:
    """The replay schedule of ``datagrams``.

    With ``rate_pps`` the n-th send is at n/rate_pps; otherwise at (t - t_first)/speed, where
    ``speed=math.inf`` means all at once. Each further pass of ``loop`` starts one mean gap
    after the previous pass's last send. ``loop > 1`` holds the datagrams in memory.

    >>> [p.at_s for p in plan([Datagram(10.0, ("a", 1), ("b", 2), b""), Datagram(12.0, ("a", 1), ("b", 2), b"")], speed=2)]
    [0.0, 1.0]
    """
    _check(speed, rate_pps, loop)
    if loop == 1:
        yield from _one_pass(datagrams, speed, rate_pps, 0.0)
        return
    items = list(datagrams)
    period = _period(items, speed, rate_pps)
    for n in range(loop):
        yield from _one_pass(items, speed, rate_pps, n * period)


def _check(speed: float, rate_pps: float | None, loop: int) -> None:
    if not speed > 0:
        raise ValueError(f"speed must be > 0 (math.inf: as fast as possible), got {speed}")
    if rate_pps is not None and not 0 < rate_pps < math.inf:
        raise ValueError(f"rate_pps must be a positive finite rate, got {rate_pps}")
    if loop < 1:
        raise ValueError(f"loop must be >= 1, got {loop}")


def _one_pass(datagrams: Iterable[Datagram], speed: float, rate_pps: float | None, start_s: float) -> Iterator[Planned]:
    first = None
    for n, dgram in enumerate(datagrams):
        if rate_pps is not None:
            yield Planned(start_s + n / rate_pps, dgram)
            continue
        t = capture_time(dgram)
        first = t if first is None else first
        yield Planned(start_s + (0.0 if speed == math.inf else (t - first) / speed), dgram)


def _period(items: Sequence[Datagram], speed: float, rate_pps: float | None) -> float:
    """How far apart two passes start: the pass's span plus one mean gap."""
    if rate_pps is not None:
        return len(items) / rate_pps
    if len(items) < 2 or speed == math.inf:
        return 0.0
    span = (capture_time(items[-1]) - capture_time(items[0])) / speed
    return span + span / (len(items) - 1)
