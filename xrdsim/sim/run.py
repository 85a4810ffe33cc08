"""``simulate(config) -> SimRun``: builds the world and runs SimPy in chunks, lazily.

Each site runs on its own (a ``RunContext``: its SimPy environment, generators, NIC model,
sockets and path); nothing of one site's state is read by another. A TPC copy between two
sites is the one coupling: both run the copy (``plan.TpcJob``), each with the other's server
as a *ghost* (a ``Server`` of a ``GhostContext``, whose datagrams, truth and counters go
nowhere), and each books only its own side. So a run of some sites (``SimRun(..., sites=)``,
a shard) gives exactly those sites' part of the whole run's bytes, truth and counters.

Sites advance together chunk by chunk (``step_s``); within a chunk they run in site order,
so the truth comes in (chunk, site) order, and datagrams leave in (send time, site) order.

``SimRun.datagrams()`` yields datagrams in send order (``t_send`` = simulated seconds
since start; wire times inside are unix ``start_time + t``); ``SimRun.delivered()`` the
same through each site's ``xrdsim.net.Path``. Truth accumulates as iteration proceeds.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from operator import attrgetter
from pathlib import Path as FsPath
from typing import Iterable, Iterator, Sequence

import simpy

from xrdsim.datagram import Datagram
from xrdsim.gcpolicy import fewer_collections
from xrdsim.net import Path
from xrdsim.sim.client import Job, transfer_row
from xrdsim.sim.config import SimConfig, check_config
from xrdsim.sim.faults import Faults
from xrdsim.sim.nic import NicModel, Octets
from xrdsim.sim.plan import RunPlan, TpcFeed, fault_rows
from xrdsim.sim.server import Server, Transfer
from xrdsim.sim.sockets import NullOutbox, Outbox
from xrdsim.sim.truth import CounterRow, Truth
from xrdsim.sim.script import scripted_sessions, tpc_arrivals
from xrdsim.sim.uplinks import PackedParts, UplinkPart, UplinkSum
from xrdsim.sim.workload import JobMaker, arrivals, scripted

#: Bits of a site-local id (transfer, datagram) below the site index: ids stay unique
#: across sites without any site counting another's.
SITE_ID_SHIFT = 40


class RunContext:
    """Everything the processes of one site share."""

    def __init__(self, cfg: SimConfig, truth: Truth, carried: bool, site: int, plan: RunPlan) -> None:
        self.cfg, self.truth, self.plan = cfg, truth, plan
        self.site_index = site
        self.env = simpy.Environment()
        self.world = plan.world
        self.nic = NicModel(cfg.nic.model(), self.rng(f"nic:{site}"))
        self.outbox = Outbox(truth, self.nic, carried, site << SITE_ID_SHIFT)
        self.uplink = Octets()
        self.foreign_uplinks: dict[int, Octets] = {}
        self.flows: dict = {}
        self.stats: Counter[str] = Counter()
        self.sample_parts: list[UplinkPart] = []  # uplink shares sampled, until the run sums them
        self._transfers = site << SITE_ID_SHIFT
        here = self.world.sites[site]
        self.servers = [Server(spec, here, self, self.rng(f"server:{spec.host.name}")) for spec in here.servers]
        self.redirectors: dict[int, Server] = {}
        if here.redirector is not None:
            self.redirectors[site] = Server(here.redirector, here, self, self.rng(f"redirector:{here.name}"))
        self.ghost_ctx = GhostContext(self)
        self.ghosts: dict[tuple[int, int], Server] = {}
        self.faults = Faults(self, plan)

    def rng(self, name: str) -> random.Random:
        """A generator derived from the seed and a stable name."""
        return random.Random(f"{self.cfg.seed}:{name}")

    def next_transfer(self) -> int:
        """A fresh transfer id (unique in the run: the site's index is in its high bits)."""
        self._transfers += 1
        return self._transfers

    def uplink_of(self, site: int) -> Octets:
        """This site's own uplink, or its share of another site's (what its servers sent there)."""
        if site == self.site_index:
            return self.uplink
        o = self.foreign_uplinks.get(site)
        if o is None:
            o = self.foreign_uplinks[site] = Octets()
        return o

    def uplinks_for(self, job: Job) -> tuple[Octets, ...]:
        """(server site uplink, client site uplink) for inter-site traffic, else ()."""
        a, b = job.server.site.index, job.client.site
        return () if a == b else (self.uplink_of(a), self.uplink_of(b))

    def server_at(self, site: int, index: int) -> Server:
        """Data server ``index`` of ``site``: this site's own, or a ghost of another's."""
        if site == self.site_index:
            return self.servers[index]
        ghost = self.ghosts.get((site, index))
        if ghost is None:
            spec = self.plan.spec(site, index)
            ghost = Server(spec, self.world.sites[site], self.ghost_ctx, self.rng(f"ghost:{spec.host.name}"), ghost=True)
            self.faults.haunt(ghost)
            self.ghosts[(site, index)] = ghost
        return ghost

    def record(self, xfer: Transfer, job: Job, totals, payload, kind: str, t: float) -> None:
        """Log one finished transfer in the truth."""
        self.stats[kind] += 1
        self.truth.add("transfers", transfer_row(self, xfer, job, totals, payload, kind, t))

    def record_lost(self, xfer: Transfer, t: float) -> None:
        """A transfer whose close will never be sent (restart, or still open at the end)."""
        payload = job_server(xfer).lose(t, xfer)
        self.record(xfer, xfer.conn.info, xfer.mf.plan.xfr_at(xfer.mf.frac(t)), payload, "never", t)

    def hosts(self) -> list[Server]:
        """Every xrootd host of the site: data servers, then its redirector."""
        return self.servers + list(self.redirectors.values())

    def sample(self, t: float) -> list[UplinkPart]:
        """Book flow progress and background, log every host counter; this site's shares
        of the uplinks (its own and those of its remote clients' sites) for the run to sum."""
        for flow in list(self.flows.values()):
            self.nic.progress(flow, t)
        bg = int(self.cfg.nic.background_bps / 8 * self.cfg.nic.sample_s)
        wrap = (1 << 32) if self.cfg.nic.wrap32 else 0
        base = self.cfg.start_time + t
        for s in self.hosts():
            o = s.octets
            if bg and t > 0:
                self.nic.background(o, bg)
            vals = (o.rx_bytes, o.tx_bytes, o.rx_packets, o.tx_packets, o.rx_payload_bytes, o.tx_payload_bytes, o.monitoring_bytes)
            vals = tuple(v % wrap for v in vals) if wrap else vals
            self.truth.add("counters", CounterRow(base, "host", s.name, *vals))
        # Shares are sent as what moved since the last sample, and then zeroed: a site keeps
        # no history of another's uplink, and the sum needs none.
        parts = [UplinkPart(t, self.site_index, _take(self.uplink))]
        for k, o in self.foreign_uplinks.items():
            if o.tx_bytes or o.rx_bytes:
                parts.append(UplinkPart(t, k, _take(o)))
        return parts


def _take(o: Octets) -> tuple[int, ...]:
    vals = (o.rx_bytes, o.tx_bytes, o.rx_packets, o.tx_packets, o.rx_payload_bytes, o.tx_payload_bytes, o.monitoring_bytes)
    o.reset()
    return vals


class GhostContext:
    """What a ghost server (another site's, in a TPC) runs in: the real site's clock and
    the flows it books, but no truth, no sockets, no uplinks of its own. Its links book only
    the real site's side of a connection (``Flow.remote``): the other site books the rest."""

    def __init__(self, real: RunContext) -> None:
        self.real = real
        self.cfg, self.env, self.world, self.plan = real.cfg, real.env, real.world, real.plan
        self.nic, self.flows = real.nic, real.flows
        self.outbox = NullOutbox()
        self.stats: Counter[str] = Counter()
        self.redirectors: dict[int, Server] = {}
        self._nowhere = Octets()
        self._transfers = 0

    def next_transfer(self) -> int:
        self._transfers -= 1
        return self._transfers

    def uplink_of(self, site: int) -> Octets:
        return self._nowhere

    def uplinks_for(self, job: Job) -> tuple[Octets, ...]:
        return ()

    def server_at(self, site: int, index: int) -> Server:
        return self.real.server_at(site, index)

    def record(self, xfer: Transfer, job: Job, totals, payload, kind: str, t: float) -> None:
        """The other site logs its own transfers."""

    def record_lost(self, xfer: Transfer, t: float) -> None:
        job_server(xfer).lose(t, xfer)


def summed(counters: Iterable[Counter[str]]) -> Counter[str]:
    """The sum of ``counters`` (zero counts kept, unlike ``+``)."""
    out: Counter[str] = Counter()
    for c in counters:
        out.update(c)
    return out


def job_server(xfer: Transfer) -> Server:
    """The server a transfer runs on."""
    return xfer.conn.info.server


def sampler(ctx: RunContext) -> Iterator:
    """Counter samples every ``nic.sample_s`` (the uplink shares wait in ``sample_parts``)."""
    while True:
        ctx.sample_parts.extend(ctx.sample(ctx.env.now))
        yield ctx.env.timeout(ctx.cfg.nic.sample_s)


class SimRun:
    """A lazily running simulation of every site, or of ``sites`` only (a shard, whose
    uplink shares another process sums: ``uplink_parts``); iterate ``datagrams()`` or
    ``delivered()`` once. ``marks`` note where each chunk's rows end in the truth."""

    def __init__(self, config: SimConfig, stream_dir: str | FsPath | None = None, sites: Sequence[int] | None = None,
                 plan: RunPlan | None = None) -> None:
        check_config(config)
        self.config = config
        self.truth = Truth(stream_dir)
        self.plan = plan
        self.sites = None if sites is None else sorted(set(sites))
        self.ctxs: list[RunContext] = []
        self.paths: list[Path] = []
        self.uplink_parts: list[PackedParts] = []  # per chunk, for a shard
        self.marks: list[dict[str, int]] = []
        self._sums: UplinkSum | None = None
        self._carrying: list[list[Datagram]] = []  # per site of the chunk: what its path delivers
        self._now = 0.0

    # ------------------------------------------------------------ views of the whole run

    @property
    def now(self) -> float:
        """Simulated seconds reached so far."""
        return self._now

    @property
    def world(self):
        return self.plan.world if self.plan else None

    @property
    def servers(self) -> list[Server]:
        """The data servers simulated here, in site order."""
        return [s for ctx in self.ctxs for s in ctx.servers]

    @property
    def redirectors(self) -> dict[int, Server]:
        return {k: r for ctx in self.ctxs for k, r in ctx.redirectors.items()}

    @property
    def stats(self) -> Counter[str]:
        """Transfers by close kind and refusals, summed over the sites."""
        return summed(ctx.stats for ctx in self.ctxs)

    @property
    def sent(self) -> tuple[int, int]:
        """(datagrams, bytes) the servers sent."""
        return sum(c.outbox.sent for c in self.ctxs), sum(c.outbox.sent_bytes for c in self.ctxs)

    @property
    def path_counts(self) -> Counter[str]:
        """Path fates summed over the sites (empty without ``delivered()``)."""
        return summed(p.counts for p in self.paths)

    @property
    def events(self) -> int:
        """SimPy events scheduled so far, over every site."""
        return sum(next(c.env._eid) - 1 for c in self.ctxs)

    def open_transfers(self) -> Iterator[tuple[str, int, int, str, float]]:
        """(server, stod, file dictid, path, open time on the server's wire clock) of every
        transfer open now on the data servers simulated here: the truth rows still to come."""
        for ctx in self.ctxs:
            for srv in ctx.servers:
                base = srv.wire_base()
                for conn in srv.conns.values():
                    for x in conn.transfers.values():
                        yield srv.name, x.stod, x.mf.file_id, x.lfn, base + x.t_open

    @property
    def max_skew_s(self) -> float:
        """The largest clock skew of a data server simulated here, now."""
        return max((abs(srv.skew_s) for srv in self.servers), default=0.0)

    # ------------------------------------------------------------ running

    def _setup(self, carried: bool) -> list[RunContext]:
        if self.ctxs:
            raise RuntimeError("a SimRun can be iterated once")
        cfg = self.config
        if self.plan is None:
            self.plan = RunPlan(cfg)
        sites = range(len(self.plan.world.sites)) if self.sites is None else self.sites
        if self.sites is None:
            self._sums = UplinkSum([s.name for s in self.plan.world.sites], cfg.nic.wrap32)
            for row in fault_rows(cfg, self.plan.faults):
                self.truth.add("faults", row)
        feed = TpcFeed(self.plan, sites)
        for k in sites:
            ctx = RunContext(cfg, self.truth, carried, k, self.plan)
            ctx.faults.schedule()
            for srv in ctx.hosts():
                srv.start(0.0)
            ctx.env.process(arrivals(ctx, JobMaker(ctx, ctx.rng(f"jobs:{k}")), ctx.rng(f"arrivals:{k}")))
            ctx.env.process(scripted(ctx))
            if cfg.workload.sessions:
                ctx.env.process(scripted_sessions(ctx))
            ctx.env.process(tpc_arrivals(ctx, feed, k))
            ctx.env.process(sampler(ctx))
            self.ctxs.append(ctx)
        return self.ctxs

    def _chunks(self, ctxs: list[RunContext]) -> Iterator[tuple[float, list[list[Datagram]]]]:
        """(chunk end, each site's datagrams of the chunk) while the sites advance together;
        with paths, each site's path decides its datagrams' fates right after its part."""
        end, step, t = self.config.duration_s, self.config.step_s, 0.0
        while t < end:
            t = min(t + step, end)
            per_site = []
            with fewer_collections():
                for i, ctx in enumerate(ctxs):
                    ctx.env.run(until=t)
                    per_site.append(self._site_done(i, ctx))
            self._now = t
            self._chunk_done()
            yield t, per_site
        per_site = []
        for i, ctx in enumerate(ctxs):
            self._finish(ctx, end)
            per_site.append(self._site_done(i, ctx))
        self._chunk_done()
        yield end, per_site

    def _site_done(self, i: int, ctx: RunContext) -> list[Datagram]:
        # Fates are decided here, in the site's own order, so the truth's datagram rows stay
        # in (chunk, site) order; the arrivals wait in ``_carrying`` for ``_arrivals``.
        dgrams = ctx.outbox.take()
        if self.paths:
            path = self.paths[i]
            self._carrying.append([out for d in dgrams for out in path.fates(d)])
        return dgrams

    def _chunk_done(self) -> None:
        parts = [p for ctx in self.ctxs for p in ctx.sample_parts]
        for ctx in self.ctxs:
            ctx.sample_parts.clear()
        if self._sums is not None:
            for row in self._sums.rows(self.config.start_time, parts):
                self.truth.add("counters", row)
        else:
            self.uplink_parts.append(PackedParts.of(parts))
        self.marks.append(dict(self.truth.totals))

    def datagrams(self) -> Iterator[Datagram]:
        """Datagrams in send order (ties in site order), chunk by chunk (memory stays flat)."""
        ctxs = self._setup(carried=False)
        for _, per_site in self._chunks(ctxs):
            yield from heapq.merge(*per_site, key=attrgetter("t_send"))

    def delivered(self) -> Iterator[Datagram]:
        """Datagrams as the collector receives them after each site's path, in arrival
        order (ties by site, then by the site's own order)."""
        ctxs = self._setup(carried=True)
        self.paths = [Path(self.config.path, ctx.rng(f"path:{ctx.site_index}"), ctx.outbox.fate, ctx.faults.outages)
                      for ctx in ctxs]
        return self._arrivals(ctxs)

    def _arrivals(self, ctxs: list[RunContext]) -> Iterator[Datagram]:
        heap: list[tuple[float, int, int, Datagram]] = []
        seqs = [0] * len(ctxs)
        for t_end, _ in self._chunks(ctxs):
            for i, carried in enumerate(self._carrying):
                site = ctxs[i].site_index
                for out in carried:
                    seqs[i] += 1
                    heapq.heappush(heap, (out.t_arrival, site, seqs[i], out))
            self._carrying = []
            while heap and heap[0][0] <= t_end:
                yield heapq.heappop(heap)[3]
        while heap:
            yield heapq.heappop(heap)[3]

    def _finish(self, ctx: RunContext, t: float) -> None:
        # The run ends with one last flush of the shared buffers, so every close that happened is on the wire.
        for srv in ctx.hosts():
            srv.monitor.stop(t)
            srv.flush()
            for conn in list(srv.conns.values()):
                for xfer in list(conn.transfers.values()):
                    ctx.record_lost(xfer, t)
        ctx.sample_parts.extend(ctx.sample(t))

    def run(self, out_dir: str | FsPath | None = None) -> "SimRun":
        """Run to the end without keeping datagrams; write the truth if ``out_dir``."""
        for _ in self.datagrams():
            pass
        if out_dir is not None:
            self.truth.write(out_dir)
        return self


def simulate(config: SimConfig, stream_dir: str | FsPath | None = None) -> SimRun:
    """Prepare a run of ``config``; nothing happens until its datagrams are iterated.

    >>> run = simulate(SimConfig(duration_s=120, site_count=1))
    >>> sum(1 for _ in run.datagrams()) > 0
    True
    """
    return SimRun(config, stream_dir)


__all__ = ["SITE_ID_SHIFT", "GhostContext", "RunContext", "SimRun", "simulate",
           "summed"]
