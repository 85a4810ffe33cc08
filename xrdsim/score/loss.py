"""The collector's loss estimate against the truth's datagram fates, per server and counter
group (``map``: the shared pseq of maps, t and r streams; ``f``; ``g``; ``summary``).

Pure counting over truth rows and the collector report's group rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from xrdsim.score.catalog import Metric, metric
from xrdsim.score.metrics import ratio
from xrdsim.sim import DatagramRow

#: truth packet code → counter group (spec §2.3); anything else shares the map pseq.
CODE_GROUP = {"f": "f", "g": "g", "<": "summary", "{": "summary"}
#: Groups without a sequence number: their loss cannot be estimated, so it is not scored.
UNSEQUENCED = frozenset({"summary", "json"})
#: The group of an estimate that counts all of a server's groups together (a foreign
#: collector's per-host loss counter): the truth is then folded per server too.
ALL_GROUPS = "*"


def truth_group(code: str) -> str:
    """The counter group a datagram with this code belongs to."""
    return CODE_GROUP.get(code, "map")


def collector_group(name: str) -> str:
    """A collector group name folded to the truth's groups (``g:P`` → ``g``)."""
    return "g" if name.startswith("g:") else name


@dataclass(frozen=True, slots=True)
class LossRow:
    """One (server, counter group): datagrams sent, lost on the path, lost as estimated."""

    server: str
    group: str
    sent: int
    lost: int
    estimated: int | None


def datagram_counts(datagrams: Iterable[DatagramRow]) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """(sent, lost on the path) per (server, counter group) of the sequenced groups."""
    sent: dict[tuple[str, str], int] = defaultdict(int)
    lost: dict[tuple[str, str], int] = defaultdict(int)
    for d in datagrams:
        key = (d.server, truth_group(d.code))
        if key[1] in UNSEQUENCED:
            continue
        sent[key] += 1
        lost[key] += d.fate == "lost"
    return dict(sent), dict(lost)


def loss_rows(datagrams: Iterable[DatagramRow], groups: Iterable[Any] | None, host_of: Callable[[Any], str]) -> list[LossRow]:
    """Rows per (server, group); ``groups`` are the collector report's ``GroupStats`` (None for
    a collector that reports no loss), ``host_of`` names a group row's server."""
    return loss_rows_of(*datagram_counts(datagrams), groups, host_of)


def loss_rows_of(sent: Mapping[tuple[str, str], int], lost: Mapping[tuple[str, str], int], groups: Iterable[Any] | None,
                 host_of: Callable[[Any], str]) -> list[LossRow]:
    """``loss_rows`` from the truth's counts per (server, group) (``datagram_counts``)."""
    est: dict[tuple[str, str], int] | None = None
    if groups is not None:
        est = defaultdict(int)
        for g in groups:
            if collector_group(g.group) in UNSEQUENCED:
                continue
            est[(host_of(g), collector_group(g.group))] += g.lost
        if any(group == ALL_GROUPS for _, group in est):
            sent, lost = _per_server(sent), _per_server(lost)
    keys = sorted(set(sent) | set(est or {}))
    return [LossRow(s, g, sent.get((s, g), 0), lost.get((s, g), 0), None if est is None else est.get((s, g), 0)) for s, g in keys]


def _per_server(counts: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = defaultdict(int)
    for (server, _), n in counts.items():
        out[(server, ALL_GROUPS)] += n
    return out


def loss_metrics(rows: list[LossRow]) -> list[Metric]:
    """True and estimated loss rates and the summed per-row error, over datagrams sent."""
    sent = sum(r.sent for r in rows)
    out = [metric("loss_rate_truth", ratio(sum(r.lost for r in rows), sent))]
    if rows and all(r.estimated is not None for r in rows):
        out.append(metric("loss_rate_estimated", ratio(sum(r.estimated or 0 for r in rows), sent)))
        out.append(metric("loss_error", ratio(sum(abs((r.estimated or 0) - r.lost) for r in rows), sent)))
    else:
        out += [metric("loss_rate_estimated", float("nan")), metric("loss_error", float("nan"))]
    return out


def group_host(record_hosts: Mapping[str, str], ip_hosts: Mapping[str, str]) -> Callable[[Any], str]:
    """Names a ``GroupStats`` row's server: by its server key (from records), else by the
    sender IP of its socket (from the truth)."""

    def host_of(g: Any) -> str:
        ip = g.socket.rpartition(":")[0].strip("[]")
        return record_hosts.get(g.server_key) or ip_hosts.get(ip) or ip or g.server_key

    return host_of


__all__ = ["ALL_GROUPS", "CODE_GROUP", "LossRow", "collector_group", "datagram_counts", "group_host", "loss_metrics", "loss_rows", "loss_rows_of", "truth_group"]
