"""What every site of a run must agree on before any of them runs: the world, where each
fault lands, and every third-party copy between two sites.

A site is simulated on its own (``xrdsim.sim.run``): its processes, generators and counters
are its own, so a run cut into shards of sites gives the same bytes however it is cut. The
one traffic that couples two sites is a TPC pull, which touches the destination and the
source server at once. Its arrivals are therefore drawn here, per destination site, from a
stream of their own (a Poisson stream thinned by job kind is two independent Poisson
streams, so this changes no rate), and both sites run the same copy from the same draw.
The plan is a pure function of the configuration: every shard computes the same one. The
copies themselves are drawn as the run goes (``TpcFeed``), not held for the whole run.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator

from xrdsim.net import OutageConfig
from xrdsim.sim.config import DestEvent, FaultConfig, FaultKind, SimConfig
from xrdsim.sim.site import Host, ServerSpec, User, World, build_world
from xrdsim.sim.truth import FaultRow

DAY = 86400.0

#: Faults after which a server is down for a while (its TPCs are refused, jobs go elsewhere).
RESTARTING = (FaultKind.SERVER_RESTART, FaultKind.CONFIG_DRIFT)
RESTART_DOWNTIME_S = 30.0


def pick(rng: random.Random, seq):
    """``rng.choice(seq)`` at a tenth of its cost: one ``random()`` call, no rejection loop
    (the bias, below 2**-40 for the sizes here, does not matter to a workload)."""
    return seq[int(rng.random() * len(seq))]


def daily_factor(t_unix: float, amplitude: float, peak_hour: float) -> float:
    """Relative arrival rate at ``t_unix``: 1 ± amplitude, highest at ``peak_hour`` UTC."""
    phase = 2 * math.pi * ((t_unix % DAY) / 3600.0 - peak_hour) / 24.0
    return 1.0 + amplitude * math.cos(phase)


def peak_rate(cfg: SimConfig, weight: float, share: float) -> float:
    """Arrivals per second at the daily peak of a site of ``weight``, for the jobs that
    make up ``share`` of its workload."""
    wl = cfg.workload
    return wl.jobs_per_hour / 3600.0 * weight * (1 + wl.daily_amplitude) * share


def thinned_arrivals(cfg: SimConfig, peak: float, rng: random.Random) -> Iterator[float]:
    """Arrival times (simulated seconds from 0, without end) of a Poisson stream of rate
    ``peak`` thinned by the daily cycle: two draws per candidate, the job's draws between."""
    wl = cfg.workload
    t, top = 0.0, 1 + wl.daily_amplitude
    while True:
        t += rng.expovariate(peak)
        if rng.random() * top <= daily_factor(cfg.start_time + t, wl.daily_amplitude, wl.peak_hour):
            yield t


def pick_client(world: World, site: int, rng: random.Random, remote_share: float) -> Host:
    """The host a job of ``site`` runs on: a worker node there, or with ``remote_share`` one
    of another site."""
    sites = world.sites
    if len(sites) > 1 and rng.random() < remote_share:
        other = int(rng.random() * (len(sites) - 1))
        site = other + (other >= site)
    workers = sites[site].workers
    return pick(rng, workers) if workers else sites[site].servers[0].host


@dataclass(frozen=True, slots=True)
class PlannedFault:
    """One scenario fault with its target resolved: a server's host name, or ``""`` for a
    fault of no one server (collector outage, client crash)."""

    index: int
    fault: FaultConfig
    kind: FaultKind
    server: str
    target: str  # as the truth's faults table names it

    @property
    def end_s(self) -> float:
        return self.fault.at_s + self.fault.duration_s

    @property
    def downtime_s(self) -> float:
        return self.fault.duration_s or RESTART_DOWNTIME_S


@dataclass(frozen=True, slots=True)
class TpcJob:
    """One generated ``xrdcp --tpc only``: at ``t`` a client of the destination's site has
    server ``dst`` pull ``lfn`` from server ``src``; ``seed`` seeds the copy's own draws."""

    t: float
    dst: tuple[int, int]  # (site, server index)
    src: tuple[int, int]
    user: User
    lfn: str
    size: int
    client: Host
    ipv6: bool
    client_pid: int
    seed: int


def _kind_of(fault: FaultConfig) -> FaultKind:
    return fault.kind if isinstance(fault.kind, FaultKind) else FaultKind(fault.kind)


def plan_faults(cfg: SimConfig, world: World) -> list[PlannedFault]:
    """Every fault with its target: by host or site name, else one drawn from the seed
    (over the data servers of the whole world, in site order)."""
    rng = random.Random(f"{cfg.seed}:faults")
    servers = [s for site in world.sites for s in site.servers]
    out = []
    for i, fault in enumerate(cfg.faults):
        kind = _kind_of(fault)
        if kind in (FaultKind.CLIENT_CRASH, FaultKind.COLLECTOR_OUTAGE):
            out.append(PlannedFault(i, fault, kind, "", (fault.target or "*") if kind is FaultKind.CLIENT_CRASH else "collector"))
            continue
        named = [s for s in servers if fault.target in (s.host.name, s.site_name)] if fault.target else []
        spec = named[0] if named else servers[rng.randrange(len(servers))]
        out.append(PlannedFault(i, fault, kind, spec.host.name, spec.host.name))
    return out


def fault_rows(cfg: SimConfig, faults: list[PlannedFault]) -> list[FaultRow]:
    """The truth's ``faults`` table: one row per fault, in the scenario's order."""
    base = cfg.start_time
    rows = []
    for pf in faults:
        f = pf.fault
        params = f"skew_s={f.skew_s}&fraction={f.fraction}&detect_s={f.detect_s}&reboot={f.reboot}"
        if f.drop:
            params += "&drop=" + ",".join(DestEvent(e).value for e in f.drop)
        rows.append(FaultRow(pf.kind.value, pf.target, base + f.at_s, base + pf.end_s, params))
    return rows


class RunPlan:
    """The world, the resolved faults and the TPC copies of one run (see the module doc)."""

    def __init__(self, cfg: SimConfig, world: World | None = None) -> None:
        self.cfg = cfg
        self.world = world if world is not None else build_world(cfg)
        self.faults = plan_faults(cfg, self.world)
        self._down: dict[str, list[tuple[float, float]]] = {}
        for pf in self.faults:
            if pf.kind in RESTARTING:
                self._down.setdefault(pf.server, []).append((pf.fault.at_s, pf.fault.at_s + pf.downtime_s))
        self.outages = _outages(self.world, self.faults)
        self.crash_windows = [pf.fault for pf in self.faults if pf.kind is FaultKind.CLIENT_CRASH]
        # every data server in site order, and where each site's own begin: a copy's source
        # is drawn among the others' without a list per site
        self._servers = [(s.index, i) for s in self.world.sites for i in range(len(s.servers))]
        self._first = [0] * len(self.world.sites)
        for n, (k, i) in enumerate(self._servers):
            if i == 0:
                self._first[k] = n

    def down(self, server: str, t: float) -> bool:
        """Whether ``server`` is restarting at ``t`` (a restart's down time)."""
        return any(a <= t < b for a, b in self._down.get(server, ()))

    def faults_of(self, server: str) -> list[PlannedFault]:
        """The faults that hit ``server``."""
        return [pf for pf in self.faults if pf.server == server]

    def tpc_arrivals(self, k: int) -> Iterator[TpcJob]:
        """The TPC copies whose destination is a server of site ``k``, in time order, drawn
        one by one from the site's own stream (the same copies whoever draws them)."""
        cfg, world = self.cfg, self.world
        wl = cfg.workload
        specs = world.sites[k].servers
        peak = peak_rate(cfg, world.sites[k].weight, wl.tpc / kind_weight_total(cfg))
        if peak <= 0 or not specs:
            return
        rng = random.Random(f"{cfg.seed}:tpc:{k}")
        own, first = len(specs), self._first[k]
        others = len(self._servers) - own
        every = list(range(own))
        restarting = any(s.host.name in self._down for s in specs)  # else every server is always up
        for t in thinned_arrivals(cfg, peak, rng):
            if t >= cfg.duration_s:
                return
            up = every
            if restarting:
                up = [i for i, s in enumerate(specs) if not self.down(s.host.name, t)] or every
            dst = (k, pick(rng, up))
            user = pick(rng, world.users[pick(rng, wl.vos)])
            if others:  # the n-th server of the other sites, in site order
                n = rng.randrange(others)
                src = self._servers[n if n < first else n + own]
            else:
                src = (k, rng.randrange(own))
            lfn, size = rng.choice(world.catalogue[user.vo])
            client = pick_client(world, k, rng, wl.remote_share)
            ipv6 = rng.random() < wl.ipv6_share
            yield TpcJob(t, dst, src, user, lfn, size, client, ipv6, rng.randrange(1000, 2**22), rng.getrandbits(64))

    def spec(self, site: int, index: int) -> ServerSpec:
        return self.world.sites[site].servers[index]


class TpcFeed:
    """The TPC copies a set of sites takes part in (as destination or source), each site's
    in (time, destination) order, drawn while the run goes instead of for the whole run
    up front: a month of copies of every site would sit in every shard's memory.

    A copy's source may be any site, so every site's arrival stream is drawn and merged in
    that order; a copy is handed to the queue of each of ``sites`` it touches. A queue holds
    what was drawn ahead of its site's time, while another site of the set looked for its
    own next copy: the copies of about a chunk, not of the run."""

    def __init__(self, plan: RunPlan, sites: Iterable[int]) -> None:
        self._queues: dict[int, deque[TpcJob]] = {k: deque() for k in sites}
        streams = [plan.tpc_arrivals(k) for k in range(len(plan.world.sites))]
        self._merged = heapq.merge(*streams, key=_copy_order)

    def next_for(self, site: int) -> TpcJob | None:
        """The next copy ``site`` takes part in; None when there are no more."""
        queue, queues = self._queues[site], self._queues
        while not queue:
            job = next(self._merged, None)
            if job is None:
                return None
            dst, src = job.dst[0], job.src[0]
            if dst in queues:
                queues[dst].append(job)
            if src != dst and src in queues:
                queues[src].append(job)
        return queue.popleft()

    def held(self) -> int:
        """Copies drawn and not yet taken (a bound the tests check)."""
        return sum(len(q) for q in self._queues.values())


def _copy_order(job: TpcJob) -> tuple[float, tuple[int, int]]:
    return job.t, job.dst


def _outages(world: World, faults: list[PlannedFault]) -> list[OutageConfig]:
    """The path windows of the faults: a collector outage for every datagram, a silent
    server or a loss burst for its server's address only."""
    ips = {s.host.name: s.host.ip4 for site in world.sites for s in site.servers}
    out = []
    for pf in faults:
        if pf.kind is FaultKind.COLLECTOR_OUTAGE:
            out.append(OutageConfig(pf.fault.at_s, pf.end_s))
        elif pf.kind in (FaultKind.SERVER_SILENT, FaultKind.LOSS_BURST):
            share = 1.0 if pf.kind is FaultKind.SERVER_SILENT else pf.fault.fraction
            out.append(OutageConfig(pf.fault.at_s, pf.end_s, ips[pf.server], share))
    return out


def kind_weight_total(cfg: SimConfig) -> float:
    """The sum of the workload's job-kind shares (TPC included)."""
    wl = cfg.workload
    return wl.full_read + wl.partial_read + wl.vector_read + wl.write + wl.session + wl.tpc


__all__ = ["RESTARTING", "RESTART_DOWNTIME_S", "PlannedFault", "RunPlan", "TpcFeed", "TpcJob", "daily_factor", "fault_rows",
           "kind_weight_total", "peak_rate", "pick", "pick_client", "plan_faults", "thinned_arrivals"]
