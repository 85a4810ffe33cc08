"""Site uplink counters summed from every site's share.

A remote client's transfer crosses two uplinks, its server's and its own site's, but only
the server's site simulates it. So each site reports, every counter sample, what its flows
moved on each uplink since the last sample (``UplinkPart``), and ``UplinkSum`` adds the parts
of all sites — in one process or after shards ran apart — into each uplink's cumulative row.
Integer sums: the order the parts come in does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter
from typing import Iterable, Iterator

from xrdsim.sim.truth import CounterRow

WRAP32 = 1 << 32


@dataclass(frozen=True, slots=True)
class UplinkPart:
    """What one site's flows moved on uplink ``site`` in the sample period ending at ``t``
    (simulated seconds): the seven counters of ``CounterRow``."""

    t: float
    site: int
    values: tuple[int, ...]


class UplinkSum:
    """Cumulative uplink counters of ``names`` (site order) from parts; ``wrap32`` as the
    NIC config says (the sum wraps, not the shares)."""

    def __init__(self, names: list[str], wrap32: bool = False) -> None:
        self.names = names
        self.totals = [[0] * 7 for _ in names]
        self.wrap = WRAP32 if wrap32 else 0

    def rows(self, start_time: float, parts: Iterable[UplinkPart]) -> Iterator[CounterRow]:
        """One row per uplink for each sample time among ``parts`` (time order)."""
        for t, same in groupby(sorted(parts, key=attrgetter("t")), key=attrgetter("t")):
            for p in same:
                tot = self.totals[p.site]
                for i, v in enumerate(p.values):
                    tot[i] += v
            for name, tot in zip(self.names, self.totals):
                vals = [v % self.wrap for v in tot] if self.wrap else tot
                yield CounterRow(start_time + t, "uplink", name, *vals)


__all__ = ["UplinkPart", "UplinkSum"]
