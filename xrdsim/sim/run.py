"""``simulate(config) -> SimRun``: builds the world and runs SimPy in chunks, lazily.

``SimRun.datagrams()`` yields datagrams in send order (``t_send`` = simulated seconds
since start; wire times inside are unix ``start_time + t``); ``SimRun.delivered()`` the
same through the configured ``xrdsim.net.Path``. Truth accumulates as iteration proceeds.
"""

from __future__ import annotations

import gc
import random
from collections import Counter
from contextlib import contextmanager
from pathlib import Path as FsPath
from typing import Iterator

import simpy

from xrdsim.datagram import Datagram
from xrdsim.net import Path
from xrdsim.sim.client import Job, transfer_row
from xrdsim.sim.config import SimConfig, check_config
from xrdsim.sim.faults import Faults
from xrdsim.sim.nic import NicModel, Octets
from xrdsim.sim.server import Server, Transfer
from xrdsim.sim.site import build_world
from xrdsim.sim.sockets import Outbox
from xrdsim.sim.truth import CounterRow, Truth
from xrdsim.sim.script import scripted_sessions
from xrdsim.sim.workload import JobMaker, arrivals, scripted


class RunContext:
    """Everything the processes of one run share."""

    def __init__(self, cfg: SimConfig, truth: Truth, carried: bool) -> None:
        self.cfg, self.truth = cfg, truth
        self.env = simpy.Environment()
        self.world = build_world(cfg)
        n = cfg.nic
        self.nic = NicModel(n.model(), self.rng("nic"))
        self.outbox = Outbox(truth, self.nic, carried)
        self.uplinks = [Octets() for _ in self.world.sites]
        self.flows: dict = {}
        self.stats: Counter[str] = Counter()
        self._transfers = 0
        self.servers: list[Server] = []
        self.by_site: list[list[Server]] = []
        self.redirectors: dict[int, Server] = {}
        for site in self.world.sites:
            srvs = [Server(spec, site, self, self.rng(f"server:{spec.host.name}")) for spec in site.servers]
            self.by_site.append(srvs)
            self.servers.extend(srvs)
            if site.redirector is not None:
                self.redirectors[site.index] = Server(site.redirector, site, self, self.rng(f"redirector:{site.name}"))
        self.faults = Faults(self, self.rng("faults"))

    def rng(self, name: str) -> random.Random:
        """A generator derived from the seed and a stable name."""
        return random.Random(f"{self.cfg.seed}:{name}")

    def next_transfer(self) -> int:
        """A fresh transfer id."""
        self._transfers += 1
        return self._transfers

    def uplinks_for(self, job: Job) -> tuple[Octets, ...]:
        """(server site uplink, client site uplink) for inter-site traffic, else ()."""
        a, b = job.server.site.index, job.client.site
        return () if a == b else (self.uplinks[a], self.uplinks[b])

    def record(self, xfer: Transfer, job: Job, totals, payload, kind: str, t: float) -> None:
        """Log one finished transfer in the truth."""
        self.stats[kind] += 1
        self.truth.add("transfers", transfer_row(self, xfer, job, totals, payload, kind, t))

    def record_lost(self, xfer: Transfer, t: float) -> None:
        """A transfer whose close will never be sent (restart, or still open at the end)."""
        payload = job_server(xfer).lose(t, xfer)
        self.record(xfer, xfer.conn.info, xfer.mf.plan.xfr_at(xfer.mf.frac(t)), payload, "never", t)

    def hosts(self) -> list[Server]:
        """Every xrootd host: data servers, then redirectors."""
        return self.servers + list(self.redirectors.values())

    def sample(self, t: float) -> None:
        """Book flow progress and background, then log every counter."""
        for flow in list(self.flows.values()):
            self.nic.progress(flow, t)
        bg = int(self.cfg.nic.background_bps / 8 * self.cfg.nic.sample_s)
        rows = [("host", s.name, s.octets) for s in self.hosts()]
        rows += [("uplink", site.name, up) for site, up in zip(self.world.sites, self.uplinks)]
        wrap = (1 << 32) if self.cfg.nic.wrap32 else 0
        for kind, name, o in rows:
            if bg and kind == "host" and t > 0:
                self.nic.background(o, bg)
            vals = (o.rx_bytes, o.tx_bytes, o.rx_packets, o.tx_packets, o.rx_payload_bytes, o.tx_payload_bytes, o.monitoring_bytes)
            vals = tuple(v % wrap for v in vals) if wrap else vals
            self.truth.add("counters", CounterRow(self.cfg.start_time + t, kind, name, *vals))


def job_server(xfer: Transfer) -> Server:
    """The server a transfer runs on."""
    return xfer.conn.info.server


def sampler(ctx: RunContext) -> Iterator:
    """Counter samples every ``nic.sample_s``."""
    while True:
        ctx.sample(ctx.env.now)
        yield ctx.env.timeout(ctx.cfg.nic.sample_s)


#: gen-0 threshold while a chunk runs (default 700): the model makes millions of short-lived
#: objects with no cycles, and each young collection also walks every live truth row.
GC_GEN0 = 50_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the body with a high gen-0 GC threshold; the caller's setting comes back after."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], GC_GEN0), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


class SimRun:
    """A lazily running simulation; iterate ``datagrams()`` or ``delivered()`` once."""

    def __init__(self, config: SimConfig, stream_dir: str | FsPath | None = None) -> None:
        check_config(config)
        self.config = config
        self.truth = Truth(stream_dir)
        self.ctx: RunContext | None = None
        self.path: Path | None = None

    @property
    def now(self) -> float:
        """Simulated seconds reached so far."""
        return self.ctx.env.now if self.ctx else 0.0

    def _setup(self, carried: bool) -> RunContext:
        if self.ctx is not None:
            raise RuntimeError("a SimRun can be iterated once")
        ctx = self.ctx = RunContext(self.config, self.truth, carried)
        ctx.faults.schedule()
        for srv in ctx.hosts():
            srv.start(0.0)
        for k in range(len(ctx.world.sites)):
            ctx.env.process(arrivals(ctx, k, JobMaker(ctx, ctx.rng(f"jobs:{k}")), ctx.rng(f"arrivals:{k}")))
        ctx.env.process(scripted(ctx, ctx.rng("scripted")))
        if self.config.workload.sessions:
            ctx.env.process(scripted_sessions(ctx, ctx.rng("sessions")))
        ctx.env.process(sampler(ctx))
        return ctx

    def datagrams(self) -> Iterator[Datagram]:
        """Datagrams in send order, generated chunk by chunk (memory stays flat)."""
        return self._chunks(self._setup(carried=False))

    def _chunks(self, ctx: RunContext) -> Iterator[Datagram]:
        end, step, t = self.config.duration_s, self.config.step_s, 0.0
        while t < end:
            t = min(t + step, end)
            with fewer_collections():
                ctx.env.run(until=t)
            yield from ctx.outbox.take()
        self._finish(end)
        yield from ctx.outbox.take()

    def delivered(self) -> Iterator[Datagram]:
        """Datagrams as the collector receives them after the path's faults."""
        ctx = self._setup(carried=True)
        self.path = Path(self.config.path, ctx.rng("path"), ctx.outbox.fate, ctx.faults.outages)
        return self.path.carry(self._chunks(ctx))

    def _finish(self, t: float) -> None:
        # The run ends with one last flush of the shared buffers, so every close that happened is on the wire.
        ctx = self.ctx
        for srv in ctx.hosts():
            srv.monitor.stop(t)
            srv.flush()
            for conn in list(srv.conns.values()):
                for xfer in list(conn.transfers.values()):
                    ctx.record_lost(xfer, t)
        ctx.sample(t)

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


__all__ = ["GC_GEN0", "RunContext", "SimRun", "fewer_collections", "simulate"]
