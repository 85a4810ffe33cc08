"""Injected faults of the model: server restart, clock skew, client crash, collector outage,
a silent server, a loss burst on one server's path, and a configuration drift.

Each scenario ``FaultConfig`` (its target resolved by ``plan``) becomes a SimPy process
(or a window) and a truth row; the
collector outage, the silent server and the loss burst become windows of the path
(``xrdsim.net``), the last two for the server's address only. A configuration drift is a
restart that comes back with some ``xrootd.monitor`` dest events dropped: XRootD reads its
monitoring directives only at start. Path faults of the whole run are not here.
"""

from __future__ import annotations

import dataclasses
import random
from typing import TYPE_CHECKING, Iterator

from xrdsim.net import OutageConfig
from xrdsim.sim.config import DestEvent, FaultConfig, FaultKind, MonitorConfig
from xrdsim.sim.plan import RESTART_DOWNTIME_S, RESTARTING, RunPlan

if TYPE_CHECKING:
    from xrdsim.sim.client import Job
    from xrdsim.sim.run import RunContext
    from xrdsim.sim.server import Server


class Faults:
    """The scenario's faults (``plan.PlannedFault``) as they touch one site: processes on
    its own servers, the windows of its path, the client-crash windows of its jobs."""

    def __init__(self, ctx: "RunContext", plan: RunPlan) -> None:
        self.ctx, self.plan = ctx, plan
        self.crash_windows: list[FaultConfig] = plan.crash_windows
        self.outages: list[OutageConfig] = plan.outages
        self.restarts = any(pf.kind is FaultKind.SERVER_RESTART for pf in plan.faults)

    def schedule(self) -> None:
        """Start a process per fault on one of this site's servers (the run logs the
        truth's ``faults`` table: ``plan.fault_rows``)."""
        own = {s.name: s for s in self.ctx.servers}
        for pf in self.plan.faults:
            if pf.kind in PROCESSES and pf.server in own:
                self.ctx.env.process(PROCESSES[pf.kind](self.ctx, own[pf.server], pf.fault))

    def haunt(self, ghost: "Server") -> None:
        """Give a ghost (another site's server, made now) the restarts that site's own
        copy of it goes through, so a copy's two sides lose their links at the same time."""
        now = self.ctx.env.now
        for pf in self.plan.faults_of(ghost.name):
            if pf.kind not in RESTARTING:
                continue
            if pf.fault.at_s >= now:
                self.ctx.env.process(restart(ghost.ctx, ghost, pf.fault))
            elif pf.fault.at_s + pf.downtime_s > now:
                ghost.down_until = pf.fault.at_s + pf.downtime_s

    def maybe_crash(self, job: "Job", rng: random.Random) -> "Job":
        """Mark ``job`` to crash mid-transfer if it starts in a crash window."""
        now = self.ctx.env.now
        for w in self.crash_windows:
            in_window = w.at_s <= now < (w.at_s + w.duration_s if w.duration_s > 0 else float("inf"))
            if in_window and (not w.target or w.target in (job.server.name, job.server.site.name)) and rng.random() < w.fraction:
                job.crash_frac = rng.uniform(0.1, 0.9)
                job.crash_detect_s = w.detect_s
        return job


def restart(ctx: "RunContext", srv: "Server", fault: FaultConfig) -> Iterator:
    """Restart ``srv`` at ``at_s``: open files are lost (truth: close kind ``never``)."""
    yield ctx.env.timeout(max(0.0, fault.at_s - ctx.env.now))
    now = ctx.env.now
    for xfer in srv.restart(now, fault.duration_s or RESTART_DOWNTIME_S):
        ctx.record_lost(xfer, now)
    if fault.reboot:
        srv.octets.reset()


def drifted(cfg: MonitorConfig, drop: list[DestEvent]) -> MonitorConfig:
    """``cfg`` with the events ``drop`` removed from every dest (a dest left with none
    reports files: XRootD's default for a dest without events)."""
    gone = {DestEvent(e) for e in drop}
    dests = [dataclasses.replace(d, events=[e for e in d.events if DestEvent(e) not in gone]) for d in cfg.dests]
    return dataclasses.replace(cfg, dests=dests)


def drift(ctx: "RunContext", srv: "Server", fault: FaultConfig) -> Iterator:
    """Restart ``srv`` at ``at_s`` with its monitoring config drifted (``drop``)."""
    yield ctx.env.timeout(fault.at_s)
    srv.monitor_cfg = drifted(srv.monitor_cfg, fault.drop)
    now = ctx.env.now
    for xfer in srv.restart(now, fault.duration_s or RESTART_DOWNTIME_S):
        ctx.record_lost(xfer, now)


def skew(ctx: "RunContext", srv: "Server", fault: FaultConfig) -> Iterator:
    """Step the clock of ``srv`` by ``skew_s`` at ``at_s`` (back after ``duration_s`` if set)."""
    yield ctx.env.timeout(fault.at_s)
    srv.set_skew(fault.skew_s)
    if fault.duration_s > 0:
        yield ctx.env.timeout(fault.duration_s)
        srv.set_skew(-fault.skew_s)


#: Fault kinds that run as a process on their target server.
PROCESSES = {FaultKind.SERVER_RESTART: restart, FaultKind.CLOCK_SKEW: skew, FaultKind.CONFIG_DRIFT: drift}

__all__ = ["PROCESSES", "Faults", "drift", "drifted", "restart", "skew"]
