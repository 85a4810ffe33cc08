"""Shoveler JSON lines (spec §9.4): ``{"remote": "ip:port", "version": .., "data": base64}``
from a file or stdin (``-``). Lines that are no such message are counted, not fatal."""

from __future__ import annotations

import base64
import binascii
import json
import math
import sys
import time
from typing import Callable, Iterable, Iterator

from collector.sources.address import split_hostport

Item = tuple[bytes, tuple[str, int], float]


#: A shoveler message is one flat object; a line nesting deeper, longer than a base64 64 kB
#: datagram could make, or with a number longer than a time needs, is no such message (a
#: deep nesting overflows the JSON decoder's stack, a 400-digit time overflows ``float``).
MAX_LINE = 1 << 20
MAX_BRACKETS = 16
MAX_NUMBER = 40


def _number(text: str) -> float:
    if len(text) > MAX_NUMBER:
        raise ValueError(f"number of {len(text)} characters")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is not finite")
    return value


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not a time")


def _loads(line: str) -> object:
    if len(line) > MAX_LINE:
        raise ValueError(f"line of {len(line)} characters")
    if line.count("{") + line.count("[") > MAX_BRACKETS:
        raise ValueError("nested deeper than a shoveler message")
    return json.loads(line, parse_int=_number, parse_float=_number, parse_constant=_constant)


def parse_shoveler(line: str) -> tuple[bytes, tuple[str, int], float | None]:
    """One message: (datagram, sender, time if the message carries one; always finite).

    Raises ValueError for a line that is not a shoveler message (not JSON, too long, too
    deeply nested, a number too long or not finite, no ``data``/``remote``).
    """
    try:
        msg = _loads(line)
        payload = base64.b64decode(msg["data"], validate=True)  # type: ignore[index]
        src = split_hostport(str(msg["remote"]))  # type: ignore[index]
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError) as exc:
        raise ValueError(f"not a shoveler message: {exc}") from None
    t = msg.get("t", msg.get("timestamp"))  # type: ignore[union-attr]
    return payload, src, float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else None


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
