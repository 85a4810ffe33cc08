"""Shoveler JSON lines (spec §9.4): ``{"remote": "ip:port", "version": .., "data": base64}``
from a file or stdin (``-``). Lines that are no such message are counted, not fatal."""

from __future__ import annotations

import base64
import binascii
import json
import sys
import time
from typing import Callable, Iterable, Iterator

from collector.sources.address import split_hostport

Item = tuple[bytes, tuple[str, int], float]


def parse_shoveler(line: str) -> tuple[bytes, tuple[str, int], float | None]:
    """One message: (datagram, sender, time if the message carries one).

    Raises ValueError for a line that is not a shoveler message.
    """
    try:
        msg = json.loads(line)
        payload = base64.b64decode(msg["data"], validate=True)
        src = split_hostport(str(msg["remote"]))
    except (json.JSONDecodeError, KeyError, TypeError, binascii.Error) as exc:
        raise ValueError(f"not a shoveler message: {exc}") from None
    t = msg.get("t", msg.get("timestamp"))
    return payload, src, float(t) if isinstance(t, (int, float)) else None


class ShovelerSource:
    """Iterates the messages of ``lines``; ``bad`` counts lines that were not messages.
    Messages without a time get ``clock()`` (wall clock by default)."""

    def __init__(self, lines: Iterable[str], clock: Callable[[], float] = time.time) -> None:
        self._lines = lines
        self._clock = clock
        self.bad = 0

    def __iter__(self) -> Iterator[Item]:
        for line in self._lines:
            if not line.strip():
                continue
            try:
                payload, src, t = parse_shoveler(line)
            except ValueError:
                self.bad += 1
                continue
            yield payload, src, t if t is not None else self._clock()


def open_shoveler(path: str, clock: Callable[[], float] = time.time) -> ShovelerSource:
    """A source over a file of shoveler lines, or stdin for ``-``."""
    if path == "-":
        return ShovelerSource(sys.stdin, clock)
    return ShovelerSource(_lines(path), clock)


def _lines(path: str) -> Iterator[str]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        yield from fh
