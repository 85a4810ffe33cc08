"""Site uplink counters summed from every site's share.

A remote client's transfer crosses two uplinks, its server's and its own site's, but only
the server's site simulates it. So each site reports, every counter sample, what its flows
moved on each uplink since the last sample (``UplinkPart``), and ``UplinkSum`` adds the parts
of all sites — in one process or after shards ran apart — into each uplink's cumulative row.
Integer sums: the order the parts come in does not matter.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
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


@dataclass(slots=True)
class PackedParts:
    """One chunk's uplink parts as a shard keeps and ships them: summed per (time, uplink),
    in flat arrays (a few numbers per uplink and sample, not objects); iterating gives them
    back as ``UplinkPart`` s. The sums are of integers, so ``UplinkSum`` gets the same rows."""

    t: array = field(default_factory=lambda: array("d"))
    site: array = field(default_factory=lambda: array("q"))
    values: array = field(default_factory=lambda: array("q"))  # seven per part

    @classmethod
    def of(cls, parts: Iterable[UplinkPart]) -> PackedParts:
        """The parts summed per (time, uplink), in the order each pair first came."""
        sums: dict[tuple[float, int], list[int]] = {}
        for p in parts:
            cell = sums.get((p.t, p.site))
            if cell is None:
                sums[(p.t, p.site)] = list(p.values)
            else:
                for i, v in enumerate(p.values):
                    cell[i] += v
        out = cls()
        for (t, site), vals in sums.items():
            out.t.append(t)
            out.site.append(site)
            out.values.extend(vals)
        return out

    def __iter__(self) -> Iterator[UplinkPart]:
        v = self.values
        for i, (t, site) in enumerate(zip(self.t, self.site)):
            yield UplinkPart(t, site, tuple(v[7 * i:7 * i + 7]))

    def __len__(self) -> int:
        return len(self.t)


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


__all__ = ["PackedParts", "UplinkPart", "UplinkSum"]
