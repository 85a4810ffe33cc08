"""Interface counters from outside a capture — a CSV (time,host,interface,rx_bytes,tx_bytes
[,rx_packets,tx_packets]) or Prometheus text (``node_network_*_total``, SNMP ``if*Octets``,
several scrapes concatenated) — as cumulative series per host, interface and direction,
unwrapped across 32/64-bit wraps and resets, and their deltas per time bin. Reads files only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

from replay import Direction
from xrdsim.errors import UserError

#: (host, interface, direction, unit, counter width in bits or 0 = infer) of one series.
SeriesKey = tuple[str, str, Direction, str, int]
#: One reading: (time in unix s, or the scrape index when the file has no timestamps, key, value).
Sample = tuple[float, SeriesKey, int]

CSV_REQUIRED = ("time", "host", "interface", "rx_bytes", "tx_bytes")
#: CSV column → (direction, unit).
CSV_COUNTERS: dict[str, tuple[Direction, str]] = {
    "rx_bytes": (Direction.IN, "bytes"),
    "tx_bytes": (Direction.OUT, "bytes"),
    "rx_packets": (Direction.IN, "packets"),
    "tx_packets": (Direction.OUT, "packets"),
}
#: Prometheus metric (``_total`` stripped) → (direction, unit, counter width; 0 = infer).
PROM_COUNTERS: dict[str, tuple[Direction, str, int]] = {
    "node_network_receive_bytes": (Direction.IN, "bytes", 64),
    "node_network_transmit_bytes": (Direction.OUT, "bytes", 64),
    "node_network_receive_packets": (Direction.IN, "packets", 64),
    "node_network_transmit_packets": (Direction.OUT, "packets", 64),
    "ifHCInOctets": (Direction.IN, "bytes", 64),
    "ifHCOutOctets": (Direction.OUT, "bytes", 64),
    "ifInOctets": (Direction.IN, "bytes", 32),
    "ifOutOctets": (Direction.OUT, "bytes", 32),
}
HOST_LABELS = ("instance", "host", "hostname", "nodename")
INTERFACE_LABELS = ("device", "ifName", "ifDescr", "interface")
LOOPBACK = frozenset({"lo", "lo0"})
_NUMBER = r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|Inf|NaN)"
_SAMPLE = re.compile(rf"([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{{(.*)\}})?\s+({_NUMBER})(?:\s+(-?\d+))?\s*")
_LABELLED = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*\s*\{")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


class CountersInputError(UserError):
    """A counters file that cannot be read; ``str()`` is ``"<path>[:<line>]: <reason>"``."""

    def __init__(self, path: str | Path, reason: str, line: int | None = None) -> None:
        self.path, self.reason, self.line = str(path), reason, line
        super().__init__(f"{self.path}{'' if line is None else f':{line}'}: {reason}")


@dataclass(frozen=True, slots=True)
class CounterSeries:
    """One cumulative counter, time-sorted and made monotone: ``values`` start at the first
    reading and grow by every positive step, by 2**width across a ``wraps``, and by the new
    reading across a ``resets`` (a reboot: the counter restarted from 0)."""

    host: str
    interface: str
    direction: Direction
    unit: str
    times: tuple[float, ...]
    values: tuple[int, ...]
    wraps: int = 0
    resets: int = 0

    def at(self, t: float) -> float:
        """The cumulative value at ``t``, linear between readings, flat outside them."""
        k = bisect_right(self.times, t)
        if k == 0 or k == len(self.times):
            return float(self.values[0 if k == 0 else -1])
        t0, t1, v0, v1 = self.times[k - 1], self.times[k], self.values[k - 1], self.values[k]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)

    def deltas(self, edges: Sequence[float]) -> list[float]:
        """What the counter grew by in each interval between consecutive ``edges``."""
        marks = [self.at(e) for e in edges]
        return [b - a for a, b in pairwise(marks)]


@dataclass(frozen=True, slots=True)
class CounterTable:
    """Every series of one counters file; ``timed`` is False for Prometheus scrapes without
    timestamps, whose ``times`` are then scrape indexes until ``placed`` on a time span."""

    path: str
    form: str
    series: tuple[CounterSeries, ...]
    timed: bool = True

    @property
    def hosts(self) -> list[str]:
        """The hosts named, sorted."""
        return sorted({s.host for s in self.series})

    @property
    def span(self) -> tuple[float, float]:
        """(first, last) reading time over all series."""
        return min(s.times[0] for s in self.series), max(s.times[-1] for s in self.series)

    def placed(self, start: float, end: float) -> CounterTable:
        """Untimed scrapes spread evenly over [start, end] (the first at start, the last at end)."""
        if self.timed:
            return self
        last = max(s.times[-1] for s in self.series) or 1.0
        moved = tuple(replace(s, times=tuple(start + (end - start) * k / last for k in s.times)) for s in self.series)
        return replace(self, series=moved, timed=True)

    def deltas(self, host: str, direction: Direction, edges: Sequence[float], *, unit: str = "bytes",
               interfaces: Collection[str] | None = None) -> list[float]:
        """Growth per interval between ``edges`` of ``host``'s counters in ``direction``, summed
        over ``interfaces`` (default: every interface but the loopback)."""
        total = [0.0] * (len(edges) - 1)
        for s in self.select(host, direction, unit, interfaces):
            total = [a + b for a, b in zip(total, s.deltas(edges))]
        return total

    def select(self, host: str, direction: Direction, unit: str = "bytes",
               interfaces: Collection[str] | None = None) -> list[CounterSeries]:
        """The series of ``host`` in ``direction`` and ``unit`` on the chosen interfaces."""
        def chosen(name: str) -> bool:
            return name in interfaces if interfaces else name not in LOOPBACK

        return [s for s in self.series if s.host == host and s.direction == direction and s.unit == unit and chosen(s.interface)]


def unwrap(values: Sequence[int], width: int = 0) -> tuple[list[int], int, int]:
    """(monotone values, wraps, resets) of a cumulative counter.

    A drop is a wrap when the previous reading was in the upper half of the counter's range
    (``width`` bits; 0: 64 when a reading reaches 2**32, else 32), otherwise a reset to 0.

    >>> unwrap([2**32 - 100, 50, 10])
    ([4294967196, 4294967346, 4294967356], 1, 1)
    """
    width = width or (64 if max(values, default=0) >= 1 << 32 else 32)
    out: list[int] = []
    offset = wraps = resets = 0
    for prev, v in pairwise([None, *values]):
        if prev is not None and v < prev:
            if prev >= 1 << (width - 1):
                offset, wraps = offset + (1 << width), wraps + 1
            else:
                offset, resets = offset + prev, resets + 1
        out.append(v + offset)
    return out, wraps, resets


def build_series(samples: Iterable[Sample]) -> tuple[CounterSeries, ...]:
    """Samples grouped into time-sorted, unwrapped series (a repeated time keeps the last)."""
    grouped: defaultdict[SeriesKey, dict[float, int]] = defaultdict(dict)
    for t, key, value in samples:
        grouped[key][t] = value
    out = []
    for (host, interface, direction, unit, width), readings in sorted(grouped.items(), key=lambda kv: kv[0][:4]):
        times = sorted(readings)
        values, wraps, resets = unwrap([readings[t] for t in times], width)
        out.append(CounterSeries(host, interface, direction, unit, tuple(times), tuple(values), wraps, resets))
    return tuple(out)


def read_counters(path: str | Path) -> CounterTable:
    """The counters of a CSV or Prometheus text file (the form is recognised from its first line).

    >>> read_counters("counters.csv").hosts  # doctest: +SKIP
    ['xrootd-01.example.org']

    Raises CountersInputError for a missing, empty, binary or unrecognised file, a bad line,
    or a file without any interface counter.
    """
    text = _text(path)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.startswith("#") or _LABELLED.match(first) or _SAMPLE.fullmatch(first):
        samples, timed, form = *parse_prometheus(text, path), "prometheus"
    elif "," in first:
        samples, timed, form = parse_csv(text, path), True, "csv"
    else:
        raise CountersInputError(path, f"neither a counters CSV (header {','.join(CSV_REQUIRED)}) nor Prometheus text", 1)
    series = build_series(samples)
    if not series:
        names = ", ".join(f"{n}_total" if n.startswith("node_") else n for n in PROM_COUNTERS)
        raise CountersInputError(path, f"no interface counters in the file (expected CSV rows or one of {names})")
    return CounterTable(str(path), form, series, timed)


def _text(path: str | Path) -> str:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CountersInputError(path, exc.strerror or str(exc)) from None
    if not raw.strip():
        raise CountersInputError(path, "empty file")
    if b"\0" in raw[:4096]:
        raise CountersInputError(path, "binary data, not a counters CSV or Prometheus text")
    return raw.decode("utf-8", "replace")


def parse_csv(text: str, path: str | Path = "<csv>") -> list[Sample]:
    """Samples of a counters CSV: a header naming at least ``time,host,interface,rx_bytes,
    tx_bytes``; ``time`` in unix seconds or ISO 8601 (UTC when no zone is given)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or ()]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise CountersInputError(path, f"CSV header lacks {', '.join(missing)} (has {','.join(header)})", 1)
    reader.fieldnames = header
    out: list[Sample] = []
    for row in reader:
        line = reader.line_num
        t = _csv_time(row.get("time"), path, line)
        host, interface = (row.get("host") or "").strip(), (row.get("interface") or "").strip()
        for column, (direction, unit) in CSV_COUNTERS.items():
            cell = (row.get(column) or "").strip()
            if cell or column in CSV_REQUIRED:
                out.append((t, (host, interface, direction, unit, 0), _count(cell, column, path, line)))
    return out


def _csv_time(cell: str | None, path: str | Path, line: int) -> float:
    text = (cell or "").strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CountersInputError(path, f"time {text!r} is neither unix seconds nor ISO 8601", line) from None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)).timestamp()


def _count(cell: str, column: str, path: str | Path, line: int) -> int:
    try:
        value = float(cell)
    except ValueError:
        raise CountersInputError(path, f"{column} {cell!r} is not a number", line) from None
    if not math.isfinite(value) or value < 0:
        raise CountersInputError(path, f"{column} {cell!r} is not a counter value (finite, ≥ 0)", line)
    return int(value)


def parse_prometheus(text: str, path: str | Path = "<prometheus>") -> tuple[list[Sample], bool]:
    """(samples, timed) of Prometheus text exposition: interface counters only, comments and
    other metrics skipped. Without timestamps a sample's time is its scrape index (the n-th
    reading of one series); a file must not mix the two."""
    out: list[Sample] = []
    seen: defaultdict[SeriesKey, int] = defaultdict(int)
    stamped: set[bool] = set()
    for line_no, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.fullmatch(line)
        if m is None:
            raise CountersInputError(path, f"not a Prometheus sample: {line[:60]!r}", line_no)
        name, labels, value, stamp = m.groups()
        kind = PROM_COUNTERS.get(name.removesuffix("_total"))
        if kind is None:
            continue
        key = _prom_key(_labels(labels or "", path, line_no), kind)
        stamped.add(stamp is not None)
        t = int(stamp) / 1000.0 if stamp is not None else float(seen[key])
        seen[key] += 1
        out.append((t, key, _count(value, name, path, line_no)))
    if len(stamped) > 1:
        raise CountersInputError(path, "mixes samples with and without timestamps")
    return out, stamped != {False}


def _labels(text: str, path: str | Path, line: int) -> dict[str, str]:
    labels, pos = {}, 0
    while pos < len(text.rstrip()):
        m = _LABEL.match(text, pos)
        if m is None:
            raise CountersInputError(path, f"bad label set {{{text[:60]}}}", line)
        labels[m.group(1)] = re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1), m.group(2))
        pos = m.end()
    return labels


def _prom_key(labels: dict[str, str], kind: tuple[Direction, str, int]) -> SeriesKey:
    host = next((labels[k] for k in HOST_LABELS if labels.get(k)), "")
    if host == labels.get("instance"):
        host = _strip_port(host)
    interface = next((labels[k] for k in INTERFACE_LABELS if labels.get(k)), "")
    return (host, interface, *kind)


def _strip_port(instance: str) -> str:
    """``host:9100`` → ``host``; ``[2001:db8::1]:9100`` → ``2001:db8::1``."""
    if instance.startswith("["):
        return instance[1:].partition("]")[0]
    host, colon, port = instance.rpartition(":")
    return host if colon and port.isdigit() and ":" not in host else instance


__all__ = [
    "CounterSeries",
    "CounterTable",
    "CountersInputError",
    "build_series",
    "parse_csv",
    "parse_prometheus",
    "read_counters",
    "unwrap",
]
