"""Job arrivals and access patterns: Poisson with a daily cycle, per site, plus scripted jobs.

Patterns: full, partial and vector reads, writes (pgwrite for xroot clients that use it),
long sessions with idle gaps, third-party copies (``script.tpc_copy``: the pgm pull); xroot
and HTTP shares; concurrent transfers share the server NIC at start.
"""

from __future__ import annotations

import bisect
import itertools
import random
from typing import TYPE_CHECKING, Callable, Iterator

from xrdsim.sim.client import FileAccess, Job, session
from xrdsim.sim.config import JobConfig, WorkloadConfig
from xrdsim.sim.iostats import IoPlan, readv_series, series
from xrdsim.sim.plan import kind_weight_total, peak_rate, pick, pick_client, thinned_arrivals
from xrdsim.sim.server import Server
from xrdsim.sim.site import Host, User
from xrdsim.sim.spawn import spawn
from xrdsim.wire import Dialect

if TYPE_CHECKING:
    from xrdsim.sim.run import RunContext

XRDCP_CHUNK = 8 * 1024 * 1024


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
    """Draws jobs for a site from the world and the workload shares (TPC copies have their
    own stream: ``plan.RunPlan``)."""

    KINDS = ("full", "partial", "vector", "write", "session")

    def __init__(self, ctx: "RunContext", rng: random.Random) -> None:
        self.ctx, self.rng = ctx, rng
        wl = ctx.cfg.workload
        self.cum_weights = list(itertools.accumulate([wl.full_read, wl.partial_read, wl.vector_read, wl.write, wl.session]))

    def _client(self, site: int) -> Host:
        return pick_client(self.ctx.world, site, self.rng, self.ctx.cfg.workload.remote_share)

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

    def make(self) -> Job:
        """One job arriving at the site."""
        ctx, rng, wl = self.ctx, self.rng, self.ctx.cfg.workload
        srv = self.pick_server()
        kind = self.KINDS[bisect.bisect(self.cum_weights, rng.random() * self.cum_weights[-1])]
        user = pick(rng, ctx.world.users[pick(rng, wl.vos)])
        proto = "https" if rng.random() < wl.http_share else "xroot"
        nfiles = wl.session_files if kind == "session" else 1
        files = [self._file(user, "partial" if kind == "session" else kind, srv, proto) for _ in range(nfiles)]
        job = Job(srv, self._client(ctx.site_index), user, proto, rng.random() < wl.ipv6_share, files,
                  app="xrdcp" if proto == "xroot" else "davix/0.8.4", client_pid=1000 + int(rng.random() * (2**22 - 1000)),
                  idle_gap_s=rng.expovariate(1 / wl.idle_gap_s) if kind == "session" else 0.0,
                  auth=rng.random() < wl.auth_share,
                  app_info=f"{user.vo}-analysis" if kind == "session" and proto == "xroot" else "")
        return ctx.faults.maybe_crash(job, rng)

    def pick_server(self) -> Server:
        """A server of the site that is up (any, if all are down)."""
        servers = self.ctx.servers
        if self.ctx.faults.restarts:
            servers = [s for s in servers if s.down_until <= self.ctx.env.now] or servers
        return pick(self.rng, servers)


def arrivals(ctx: "RunContext", maker: JobMaker, rng: random.Random) -> Iterator:
    """Poisson arrivals at the site thinned by the daily cycle; a thinned-away candidate
    costs no event. TPC copies are not among them (``script.tpc_arrivals``)."""
    wl = ctx.cfg.workload
    total = kind_weight_total(ctx.cfg)
    peak = peak_rate(ctx.cfg, ctx.world.sites[ctx.site_index].weight, (total - wl.tpc) / total if total > 0 else 0.0)
    if peak <= 0 or not ctx.servers:
        return
    env = ctx.env
    for t in thinned_arrivals(ctx.cfg, peak, rng):
        yield env.timeout(t - env.now)
        spawn(session(ctx, maker.make()))


def scripted_job(ctx: "RunContext", jc: JobConfig, rng: random.Random) -> Job:
    """A job exactly as a scenario scripts it (realism tests, reproductions)."""
    srv = ctx.servers[jc.server]
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


def scripted(ctx: "RunContext") -> Iterator:
    """Start every scripted job of this site at its time, in time order (each with draws
    of its own, so a site's jobs do not depend on another's)."""
    mine = [(i, jc) for i, jc in enumerate(ctx.cfg.workload.scripted) if jc.site == ctx.site_index]
    for i, jc in sorted(mine, key=lambda p: p[1].at_s):
        if jc.at_s > ctx.env.now:
            yield ctx.env.timeout(jc.at_s - ctx.env.now)
        spawn(session(ctx, scripted_job(ctx, jc, ctx.rng(f"scripted:{i}"))))


__all__ = ["JobMaker", "arrivals", "scripted", "scripted_job"]
