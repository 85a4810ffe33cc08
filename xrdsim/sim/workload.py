"""Job arrivals and access patterns: Poisson with a daily cycle, per site, plus scripted jobs.

Patterns: full, partial and vector reads, writes (pgwrite for xroot clients that use it),
long sessions with idle gaps, third-party copies (``script.tpc_copy``: the pgm pull); xroot
and HTTP shares; concurrent transfers share the server NIC at start.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from typing import TYPE_CHECKING, Callable, Iterator

from xrdsim.sim.client import FileAccess, Job, session
from xrdsim.sim.config import JobConfig, WorkloadConfig
from xrdsim.sim.iostats import IoPlan, readv_series, series
from xrdsim.sim.script import generated_tpc
from xrdsim.sim.server import Server
from xrdsim.sim.site import Host, User
from xrdsim.sim.spawn import spawn
from xrdsim.wire import Dialect

if TYPE_CHECKING:
    from xrdsim.sim.run import RunContext

DAY = 86400.0
XRDCP_CHUNK = 8 * 1024 * 1024


def pick(rng: random.Random, seq):
    """``rng.choice(seq)`` at a tenth of its cost: one ``random()`` call, no rejection loop
    (the bias, below 2**-40 for the sizes here, does not matter to a workload)."""
    return seq[int(rng.random() * len(seq))]


def daily_factor(t_unix: float, amplitude: float, peak_hour: float) -> float:
    """Relative arrival rate at ``t_unix``: 1 ± amplitude, highest at ``peak_hour`` UTC."""
    phase = 2 * math.pi * ((t_unix % DAY) / 3600.0 - peak_hour) / 24.0
    return 1.0 + amplitude * math.cos(phase)


def duration(ctx: "RunContext", srv: Server, nbytes: int) -> float:
    """Seconds to move ``nbytes`` at the stream rate or the server NIC's fair share."""
    wl = ctx.cfg.workload
    share = srv.site.nic_bps / (1 + len(srv.conns))
    return 0.01 + nbytes * 8.0 / min(wl.stream_bps, share)


def _plan(kind: str, size: int, wl: WorkloadConfig, rng: random.Random, pg: bool) -> tuple[IoPlan, int, bool]:
    if kind == "write":
        return IoPlan(write=series(size, XRDCP_CHUNK if pg else wl.block_bytes), pg=pg), size, True
    if kind == "partial":
        part = max(1, int(size * rng.uniform(0.05, 0.5)))
        return IoPlan(read=series(part, wl.block_bytes)), part, False
    if kind == "vector":
        part = max(1, int(size * rng.uniform(0.1, 0.6)))
        return IoPlan(read=series(min(size, 65536), 65536), readv=readv_series(part, wl.readv_segments, wl.readv_segment_bytes)), part, False
    return IoPlan(read=series(size, XRDCP_CHUNK if pg else wl.block_bytes), pg=pg), size, False


class JobMaker:
    """Draws jobs for a site from the world and the workload shares."""

    KINDS = ("full", "partial", "vector", "write", "session", "tpc")

    def __init__(self, ctx: "RunContext", rng: random.Random) -> None:
        self.ctx, self.rng = ctx, rng
        wl = ctx.cfg.workload
        self.cum_weights = list(itertools.accumulate([wl.full_read, wl.partial_read, wl.vector_read, wl.write, wl.session, wl.tpc]))

    def _client(self, site: int) -> Host:
        sites, rng = self.ctx.world.sites, self.rng
        if len(sites) > 1 and rng.random() < self.ctx.cfg.workload.remote_share:
            other = int(rng.random() * (len(sites) - 1))
            site = other + (other >= site)
        workers = sites[site].workers
        return pick(rng, workers) if workers else sites[site].servers[0].host

    def _file(self, user: User, kind: str, srv: Server, proto: str = "xroot") -> FileAccess:
        wl, rng = self.ctx.cfg.workload, self.rng
        lfn, size = pick(rng, self.ctx.world.catalogue[user.vo])
        # pgread/pgwrite are xroot requests: an HTTP transfer never uses them (the draw
        # stays, so the seed's other choices do not move)
        pg = kind in ("full", "write") and rng.random() < wl.pg_share and proto == "xroot"
        if kind == "write":
            lfn = lfn.rsplit("/", 1)[0] + f"/out_{rng.getrandbits(40):010x}.root"
        plan, moved, rw = _plan(kind, size, wl, rng, pg)
        if rw and proto != "xroot" and not srv.counts_http_puts and self.ctx.cfg.dialect is not Dialect.DCACHE:
            plan.count_writes = False
        return FileAccess(lfn, size, plan, duration(self.ctx, srv, moved), rw)

    def make(self, site: int) -> list[Job]:
        """One or two (TPC) jobs arriving at ``site``."""
        ctx, rng, wl = self.ctx, self.rng, self.ctx.cfg.workload
        srv = self.pick_server(site)
        kind = self.KINDS[bisect.bisect(self.cum_weights, rng.random() * self.cum_weights[-1])]
        user = pick(rng, ctx.world.users[pick(rng, wl.vos)])
        proto = "https" if rng.random() < wl.http_share else "xroot"
        if kind == "tpc":
            return self._tpc(srv, user)
        nfiles = wl.session_files if kind == "session" else 1
        files = [self._file(user, "partial" if kind == "session" else kind, srv, proto) for _ in range(nfiles)]
        job = Job(srv, self._client(site), user, proto, rng.random() < wl.ipv6_share, files,
                  app="xrdcp" if proto == "xroot" else "davix/0.8.4", client_pid=1000 + int(rng.random() * (2**22 - 1000)),
                  idle_gap_s=rng.expovariate(1 / wl.idle_gap_s) if kind == "session" else 0.0,
                  auth=rng.random() < wl.auth_share,
                  app_info=f"{user.vo}-analysis" if kind == "session" and proto == "xroot" else "")
        return [ctx.faults.maybe_crash(job, rng)]

    def pick_server(self, site: int) -> Server:
        """A server of ``site`` that is up (any, if all are down)."""
        servers = self.ctx.by_site[site]
        if self.ctx.faults.restarts:
            servers = [s for s in servers if s.down_until <= self.ctx.env.now] or servers
        return pick(self.rng, servers)

    def _tpc(self, dst: Server, user: User) -> list[Job]:
        """``xrdcp --tpc only`` from a worker node: ``dst`` pulls a file of another site's
        server (``script.tpc_copy``, as XRootD's ``ofs.tpc pgm xrdcp`` does)."""
        ctx, rng = self.ctx, self.rng
        others = [s for s in ctx.servers if s.site.index != dst.site.index] or ctx.servers
        src = others[rng.randrange(len(others))]
        lfn, size = rng.choice(ctx.world.catalogue[user.vo])
        # only the path and size: the copy's requests and their times are tpc_copy's
        copy = FileAccess(lfn, size, IoPlan(), 0.0, True)
        return [Job(dst, self._client(dst.site.index), user, "xroot", rng.random() < ctx.cfg.workload.ipv6_share, [copy],
                    app="xrdcp", tpc=True, auth=True, client_pid=rng.randrange(1000, 2**22), tpc_source=src)]


def arrivals(ctx: "RunContext", site: int, maker: JobMaker, rng: random.Random) -> Iterator:
    """Poisson arrivals at ``site`` thinned by the daily cycle; a thinned-away candidate
    costs no event."""
    wl = ctx.cfg.workload
    peak = wl.jobs_per_hour / 3600.0 * ctx.world.sites[site].weight * (1 + wl.daily_amplitude)
    if peak <= 0:
        return
    env, t, base, top = ctx.env, ctx.env.now, ctx.cfg.start_time, 1 + wl.daily_amplitude
    while True:
        t += rng.expovariate(peak)
        if rng.random() * top <= daily_factor(base + t, wl.daily_amplitude, wl.peak_hour):
            yield env.timeout(t - env.now)
            for job in maker.make(site):
                spawn(generated_tpc(ctx, job, rng) if job.tpc_source is not None else session(ctx, job))


def scripted_job(ctx: "RunContext", jc: JobConfig, rng: random.Random) -> Job:
    """A job exactly as a scenario scripts it (realism tests, reproductions)."""
    srv = ctx.by_site[jc.site][jc.server]
    kind = {"read": "full", "readv": "vector"}.get(jc.op, jc.op)
    chunk = jc.chunk_bytes
    plans: dict[str, Callable[[], IoPlan]] = {
        "full": lambda: IoPlan(read=series(jc.size_bytes, chunk), pg=jc.pg),
        "partial": lambda: IoPlan(read=series(jc.size_bytes // 2, chunk), pg=jc.pg),
        "vector": lambda: IoPlan(readv=readv_series(jc.size_bytes, 64, max(1, chunk // 64))),
        "write": lambda: IoPlan(write=series(jc.size_bytes, chunk), pg=jc.pg),
    }
    fa = FileAccess(jc.lfn, jc.size_bytes, plans[kind](), jc.duration_s, kind == "write")
    user = ctx.world.users[ctx.cfg.workload.vos[0]][0]
    client = srv.site.workers[0] if srv.site.workers else srv.spec.host
    return Job(srv, client, user, "xroot", False, [fa], app=jc.app, client_pid=rng.randrange(1000, 2**22), login_s=jc.login_s)


def scripted(ctx: "RunContext", rng: random.Random) -> Iterator:
    """Start every scripted job at its time, in time order."""
    for jc in sorted(ctx.cfg.workload.scripted, key=lambda j: j.at_s):
        if jc.at_s > ctx.env.now:
            yield ctx.env.timeout(jc.at_s - ctx.env.now)
        spawn(session(ctx, scripted_job(ctx, jc, rng)))


__all__ = ["JobMaker", "arrivals", "daily_factor", "pick", "scripted", "scripted_job"]
