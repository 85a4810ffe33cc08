"""Injected faults of the model: server restart, clock skew, client crash, collector outage,
a silent server, a loss burst on one server's path, and a configuration drift.

Each scenario ``FaultConfig`` becomes a SimPy process (or a window) and a truth row; the
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
from xrdsim.sim.truth import FaultRow

if TYPE_CHECKING:
    from xrdsim.sim.client import Job
    from xrdsim.sim.run import RunContext
    from xrdsim.sim.server import Server

RESTART_DOWNTIME_S = 30.0


class Faults:
    """The scenario's faults, scheduled on a run."""

    def __init__(self, ctx: "RunContext", rng: random.Random) -> None:
        self.ctx, self.rng = ctx, rng
        self.crash_windows: list[FaultConfig] = []
        self.outages: list[OutageConfig] = []
        self.restarts = any(FaultKind(f.kind) is FaultKind.SERVER_RESTART for f in ctx.cfg.faults)

    def target(self, fault: FaultConfig) -> "Server":
        """The server a fault hits: by host or site name, else one drawn from the seed."""
        servers = self.ctx.servers
        named = [s for s in servers if fault.target in (s.name, s.site.name)] if fault.target else []
        return named[0] if named else servers[self.rng.randrange(len(servers))]

    def schedule(self) -> None:
        """Start a process per fault and log each in the truth ``faults`` table."""
        ctx = self.ctx
        base = ctx.cfg.start_time
        for fault in ctx.cfg.faults:
            kind = fault.kind if isinstance(fault.kind, FaultKind) else FaultKind(fault.kind)
            end = fault.at_s + fault.duration_s
            target = ""
            if kind in PROCESSES:
                srv = self.target(fault)
                target = srv.name
                ctx.env.process(PROCESSES[kind](ctx, srv, fault))
            elif kind in (FaultKind.SERVER_SILENT, FaultKind.LOSS_BURST):
                srv = self.target(fault)
                target = srv.name
                share = 1.0 if kind is FaultKind.SERVER_SILENT else fault.fraction
                self.outages.append(OutageConfig(fault.at_s, end, srv.spec.host.ip4, share))
            elif kind is FaultKind.CLIENT_CRASH:
                self.crash_windows.append(fault)
                target = fault.target or "*"
            else:
                self.outages.append(OutageConfig(fault.at_s, end))
                target = "collector"
            params = f"skew_s={fault.skew_s}&fraction={fault.fraction}&detect_s={fault.detect_s}&reboot={fault.reboot}"
            if fault.drop:
                params += "&drop=" + ",".join(DestEvent(e).value for e in fault.drop)
            ctx.truth.add("faults", FaultRow(kind.value, target, base + fault.at_s, base + end, params))

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
    yield ctx.env.timeout(fault.at_s)
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
