"""An external collector's own loss estimate, read from its Prometheus endpoint: the counter
the scenario names (the OSG collector's ``missing_packets{host}``) summed per server label,
as server-total rows the scorer compares with the truth's losses of that server.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from xrdsim.external.errors import RecordsError
from xrdsim.score.loss import ALL_GROUPS

#: A sample line of the Prometheus text format: name, optional {labels}, value.
_SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True, slots=True)
class EstimateRow:
    """One server's estimated lost datagrams, shaped like a collector report's group row."""

    server_key: str
    socket: str
    group: str
    lost: int


def parse_counter(text: str, metric: str, label: str) -> dict[str, float]:
    """Σ of ``metric`` (and its ``_total`` form) per value of ``label`` in Prometheus text."""
    out: dict[str, float] = defaultdict(float)
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if not m or m.group(1) not in (metric, f"{metric}_total"):
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        try:
            out[labels.get(label, "")] += float(m.group(3))
        except ValueError:
            continue
    return dict(out)


def scrape(url: str, metric: str, label: str, simulated: Callable[[str], str], timeout_s: float = 5.0) -> list[EstimateRow]:
    """The estimate rows at ``url``; ``simulated`` turns a loopback alias in a label back into
    the simulated server address. An endpoint that cannot be read is a ``RecordsError``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (a URL of the scenario's own)
            text = resp.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise RecordsError(f"collector.loss_url {url}: cannot read the collector's metrics: {getattr(exc, 'reason', exc)}") from None
    rows = []
    for host, lost in sorted(parse_counter(text, metric, label).items()):
        name = simulated(host.rpartition(":")[0] if host.count(":") == 1 else host)
        rows.append(EstimateRow(f"prometheus:{host}", f"{name}:0", ALL_GROUPS, int(round(lost))))
    return rows


__all__ = ["EstimateRow", "parse_counter", "scrape"]
