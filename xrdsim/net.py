"""The path between emitter and collector: deterministic faults on ``Datagram``s.

iid and Gilbert–Elliott loss, IP-fragment loss by datagram size and MTU, duplication,
reordering, delay and jitter, truncation, corruption and collector outage windows, all
drawn from one seeded ``random.Random``. Never decodes a payload; records each fate.
"""

from __future__ import annotations

import enum
import heapq
import math
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator

from xrdsim.datagram import Datagram

IP_HEADER = 20
UDP_HEADER = 8


class Fate(enum.Enum):
    """What the path did to one datagram (truth ``datagrams.fate``)."""

    DELIVERED = "delivered"
    LOST = "lost"
    DUPLICATED = "duplicated"
    TRUNCATED = "truncated"
    CORRUPTED = "corrupted"
    REORDERED = "reordered"


@dataclass(frozen=True, slots=True)
class OutageConfig:
    """A window during which the collector receives nothing (``source`` empty), or nothing
    of one sender address (a firewall, a broken route), each datagram lost with probability
    ``loss`` (1: all of them)."""

    start_s: float = 0.0
    end_s: float = 0.0
    source: str = ""
    loss: float = 1.0

    def cause(self, dgram: Datagram, rng: random.Random) -> str:
        """``outage`` (the collector's), ``silent`` (all of one sender's), ``burst`` (a share of
        one sender's) or '' when ``dgram`` passes."""
        if not self.start_s <= dgram.t_send < self.end_s or (self.source and dgram.src[0] != self.source):
            return ""
        if self.loss < 1.0:
            return "burst" if rng.random() < self.loss else ""
        return "silent" if self.source else "outage"


@dataclass(frozen=True, slots=True)
class PathConfig:
    """Path faults; all probabilities per datagram except ``fragment_loss`` (per IP fragment).

    Gilbert–Elliott: ``burst_enter`` = P(good→bad), ``burst_leave`` = P(bad→good),
    ``burst_loss`` = loss probability while bad.
    """

    loss: float = 0.0
    burst_enter: float = 0.0
    burst_leave: float = 0.3
    burst_loss: float = 1.0
    mtu: int = 1500
    fragment_loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay_s: float = 0.05
    delay_s: float = 0.001
    jitter_s: float = 0.0
    truncate: float = 0.0
    corrupt: float = 0.0
    outages: list[OutageConfig] = field(default_factory=list)


def fragment_count(payload_bytes: int, mtu: int) -> int:
    """IPv4 fragments of a UDP datagram: each carries ⌊(mtu−20)/8⌋·8 bytes of IP payload."""
    per = (mtu - IP_HEADER) // 8 * 8
    return max(1, math.ceil((payload_bytes + UDP_HEADER) / per))


#: (ident, fate, cause) → None; the truth sink's hook.
FateRecorder = Callable[[int, Fate, str], None]


class Path:
    """Carries datagrams through the configured faults, deterministically from ``rng``.

    ``carry`` yields delivered datagrams (``t_arrival`` set) in arrival order; lost ones
    never, duplicates twice. ``counts`` tallies fates; ``record`` receives each fate.

    >>> path = Path(PathConfig(loss=0.0), random.Random(1))
    >>> [d.t_arrival for d in path.carry([Datagram(1.0, ("a", 1), ("b", 2), b"x")])]
    [1.001]
    """

    def __init__(self, config: PathConfig, rng: random.Random, record: FateRecorder | None = None,
                 outages: Iterable[OutageConfig] = ()) -> None:
        self.config = config
        self.rng = rng
        self.record = record
        self.outages = sorted([*config.outages, *outages], key=lambda o: o.start_s)
        self.counts: Counter[str] = Counter()
        self._bad = False
        self._seq = 0

    def carry(self, datagrams: Iterable[Datagram]) -> Iterator[Datagram]:
        """Yield delivered datagrams in arrival order (a heap bounded by the max delay)."""
        heap: list[tuple[float, int, Datagram]] = []
        for dgram in datagrams:
            while heap and heap[0][0] <= dgram.t_send:
                yield heapq.heappop(heap)[2]
            for out in self.fates(dgram):
                self._seq += 1
                heapq.heappush(heap, (out.t_arrival, self._seq, out))
        while heap:
            yield heapq.heappop(heap)[2]

    def _note(self, dgram: Datagram, fate: Fate, cause: str = "") -> None:
        self.counts[fate.value] += 1
        if self.record is not None:
            self.record(dgram.ident, fate, cause)

    def _lost_cause(self, dgram: Datagram) -> str:
        cfg, rng = self.config, self.rng
        for o in self.outages:
            why = o.cause(dgram, rng)
            if why:
                return why
        if cfg.burst_enter > 0:
            self._bad = rng.random() >= cfg.burst_leave if self._bad else rng.random() < cfg.burst_enter
            if self._bad and rng.random() < cfg.burst_loss:
                return "burst"
        if cfg.loss > 0 and rng.random() < cfg.loss:
            return "iid"
        if cfg.fragment_loss > 0:
            n = fragment_count(len(dgram.payload), cfg.mtu)
            if n > 1 and any(rng.random() < cfg.fragment_loss for _ in range(n)):
                return "fragment"
        return ""

    def fates(self, dgram: Datagram) -> list[Datagram]:
        """What becomes of ``dgram``: nothing (lost), itself (perhaps truncated, corrupted,
        delayed) or two copies; its fate goes to ``record``. Call in send order."""
        cause = self._lost_cause(dgram)
        if cause:
            self._note(dgram, Fate.LOST, cause)
            return []
        cfg, rng = self.config, self.rng
        payload, fate = dgram.payload, Fate.DELIVERED
        if cfg.truncate > 0 and len(payload) > 1 and rng.random() < cfg.truncate:
            payload, fate = payload[: rng.randrange(1, len(payload))], Fate.TRUNCATED
        if cfg.corrupt > 0 and payload and rng.random() < cfg.corrupt:
            pos = rng.randrange(len(payload))
            payload = payload[:pos] + bytes([payload[pos] ^ (1 + rng.randrange(255))]) + payload[pos + 1 :]
            fate = Fate.CORRUPTED if fate is Fate.DELIVERED else fate
        delay = cfg.delay_s + (rng.uniform(0.0, cfg.jitter_s) if cfg.jitter_s > 0 else 0.0)
        if cfg.reorder > 0 and rng.random() < cfg.reorder:
            delay += cfg.reorder_delay_s
            fate = Fate.REORDERED if fate is Fate.DELIVERED else fate
        out = [replace(dgram, payload=payload, t_arrival=dgram.t_send + delay)]
        if cfg.duplicate > 0 and rng.random() < cfg.duplicate:
            out.append(replace(out[0], t_arrival=out[0].t_arrival + rng.uniform(0.0, max(cfg.jitter_s, 0.001))))
            fate = Fate.DUPLICATED if fate is Fate.DELIVERED else fate
        self._note(dgram, fate)
        return out


__all__ = ["Fate", "FateRecorder", "OutageConfig", "Path", "PathConfig", "fragment_count"]
