"""One xrootd server: its incarnations (stod, pid, monitor), links, NIC and sockets.

A plain state object the SimPy processes drive: connect/open/close/disconnect, restart,
clock skew, the summary ``link`` totals (folded at link close unless ``sync``, spec §8.3)
and the timer processes (fstat, ident, report) of each incarnation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Iterator

from xrdsim.datagram import Address
from xrdsim.sim.iostats import IoPlan
from xrdsim.sim.monitor import MonFile, Monitor, MonSession
from xrdsim.sim.nic import Flow, Octets
from xrdsim.sim.servstats import ServerStats
from xrdsim.sim.site import ServerSpec, Site
from xrdsim.sim.sockets import dest_address
from xrdsim.sim.summary import report_payload
from xrdsim.wire import Dialect, RedirKind

if TYPE_CHECKING:
    from xrdsim.sim.run import RunContext


#: Payload of an open request at a redirector and of its kXR_redirect answer (+ host, + path).
REDIRECT_REQUEST = 24 + 16
REDIRECT_RESPONSE = 8 + 4


#: XRootD counts HTTP PUT bytes from this version on (xrootd/xrootd#2368).
HTTP_PUT_COUNTED = (5, 7, 3)


def version_tuple(ver: str) -> tuple[int, ...]:
    """``v5.6.9`` → (5, 6, 9)."""
    return tuple(int(p) for p in ver.lstrip("v").split(".") if p.isdigit())


@dataclass(slots=True)
class Transfer:
    """One open file on a server, with its flow and what the truth row needs."""

    ident: int
    conn: "Conn"
    mf: MonFile
    flow: Flow
    lfn: str
    size: int
    rw: bool
    t_open: float
    stod: int


@dataclass(slots=True)
class Conn:
    """A client link: monitor session, open transfers, payload folded so far."""

    mon: MonSession
    incarnation: int
    t0: float
    info: object
    transfers: dict[int, Transfer] = field(default_factory=dict)
    in_bytes: int = 0
    out_bytes: int = 0


@dataclass(slots=True)
class LinkTotals:
    """The summary ``link`` block (spec §8.3)."""

    num: int = 0
    maxn: int = 0
    tot: int = 0
    in_bytes: int = 0
    out_bytes: int = 0
    ctime: int = 0


class Server:
    """A server's state across restarts; see the module docstring."""

    def __init__(self, spec: ServerSpec, site: Site, ctx: "RunContext", rng: random.Random, ghost: bool = False) -> None:
        self.spec, self.site, self.ctx, self.rng = spec, site, ctx, rng
        self.name = spec.host.name
        self.octets = Octets()
        self.skew_s = 0.0
        self.incarnation = 0
        self.down_until = -1.0
        self.conns: dict[int, Conn] = {}
        self.pid = spec.pid
        self.links = LinkTotals()
        self.stats = ServerStats()
        self.sessions = 0
        ports = rng.sample(range(32768, 61000), len(ctx.cfg.monitor.dests) + 1)
        self.src: list[Address] = [(spec.host.ip4, p) for p in ports]
        self.dst: list[Address] = [dest_address(d.host, d.port) for d in ctx.cfg.monitor.dests]
        self.new_session_ids = version_tuple(spec.version) >= (5, 6, 5)
        # A config_drift restart replaces it. A ghost (another site's server in a TPC,
        # ``xrdsim.sim.run``) runs no timers and sends nothing: its own site monitors it, so
        # it monitors to no destination (else its f buffer would only grow, never flushed).
        self.monitor_cfg = replace(ctx.cfg.monitor, dests=[]) if ghost else ctx.cfg.monitor
        self.counts_http_puts = version_tuple(spec.version) >= HTTP_PUT_COUNTED
        self.monitor: Monitor = self._monitor(0.0)
        self.ghost = ghost

    # ---------------------------------------------------------------- incarnations

    def ident_text(self) -> str:
        """The ``=`` text: field order by dialect (spec §3.3)."""
        s = self.spec
        head = f"=/{s.unix_user}.{self.pid}:{self.monitor_sid()}@{s.host.name}\n"
        if self.ctx.cfg.dialect is Dialect.XROOTD_4:
            return head + f"&pgm=xrootd&inst={s.instance}&port={s.port}&site={s.site_name}&ver={s.version}"
        return head + f"&site={s.site_name}&port={s.port}&inst={s.instance}&pgm=xrootd&ver={s.version}"

    def monitor_sid(self) -> int:
        """48-bit sid; in 4.x it is ``pid<<16|port`` and so changes with each restart."""
        if self.ctx.cfg.dialect is Dialect.XROOTD_4:
            return ((self.pid << 16) | self.spec.port) & ((1 << 48) - 1)
        return self.spec.sid

    def wire_base(self) -> float:
        """Unix time at simulated 0 as this server's clock sees it."""
        return self.ctx.cfg.start_time + self.skew_s

    def _monitor(self, t: float) -> Monitor:
        self.monitor = Monitor(self.monitor_cfg, self.ctx.cfg.dialect, int(self.wire_base() + t),
                               self.monitor_sid(), self.wire_base(), "", t)
        self.monitor.ident_text = self.ident_text()
        return self.monitor

    def start(self, t: float) -> None:
        """Begin an incarnation at ``t``: ``=`` to every dest, then the timers."""
        if self.ghost:
            return
        if self.ctx.cfg.monitor.ident_s >= 0:
            self.monitor.ident(t)
        self.flush()
        for proc in (fstat_timer, ident_timer, report_timer, flush_timer, io_timer):
            self.ctx.env.process(proc(self, self.incarnation))

    def restart(self, t: float, downtime_s: float) -> list[Transfer]:
        """Stop and restart: the pending f, shared t, r and g buffers still go out, open files
        and session buffers are lost (no close, no DISC); then a new pid, stod, dictid and pseq
        counters."""
        self.monitor.stop(t)
        lost = [x for c in self.conns.values() for x in c.transfers.values()]
        self.conns.clear()
        self.incarnation += 1
        self.down_until = t + downtime_s
        self.pid = self.rng.randrange(1000, 60000)
        self.links = LinkTotals()
        self.stats = ServerStats()
        self.flush()
        self._monitor(t + downtime_s)
        self.ctx.env.process(_delayed_start(self, downtime_s))
        return lost

    def set_skew(self, skew_s: float) -> None:
        """Step this server's clock by ``skew_s`` (wire times only; stod stays)."""
        self.skew_s += skew_s
        self.monitor.wire_base = self.wire_base()

    # ---------------------------------------------------------------- sessions

    def userid(self, prot: str, login: str, client_pid: int | None, host: str) -> str:
        """``prot/user.pid:sid@host`` (spec §3.2); pid = session id from 5.6.5 on, and
        always for XrdHttp (``client_pid`` None: the server's connection number)."""
        self.sessions += 1
        pid = self.sessions if self.new_session_ids or client_pid is None else client_pid
        return f"{prot}/{login}.{pid}:{self.monitor.sid}@{host}"

    def connect(self, t: float, userid: str, login_info: str | None, info: object) -> Conn:
        """A client logged in (``u``)."""
        conn = Conn(self.monitor.login(t, userid, login_info), self.incarnation, t, info)
        self.stats.connected(userid.startswith("xroot/"), bool(getattr(info, "auth", False)))
        self.conns[id(conn)] = conn
        lk = self.links
        lk.num += 1
        lk.tot += 1
        lk.maxn = max(lk.maxn, lk.num)
        self.flush()
        return conn

    def open(self, t: float, conn: Conn, lfn: str, fsz: int, rw: bool, plan: IoPlan, t_end: float, flow: Flow, ident: int) -> Transfer:
        """A file opened on ``conn``; ``flow`` carries its payload."""
        mf = self.monitor.open(t, conn.mon, lfn, fsz, rw, plan, t_end)
        self.stats.opens += 1
        xfer = Transfer(ident, conn, mf, flow, lfn, fsz, rw, t, self.monitor.stod)
        conn.transfers[mf.file_id] = xfer
        self.ctx.flows[ident] = flow
        self.flush()
        return xfer

    def _settle(self, xfer: Transfer, t: float) -> tuple[int, int]:
        flow = xfer.flow
        down, up = flow.moved(t)
        self.ctx.nic.finish(flow, down, up)
        self.ctx.flows.pop(xfer.ident, None)
        xfer.conn.out_bytes += down
        xfer.conn.in_bytes += up
        return down, up

    def _count_requests(self, xfer: Transfer, t: float) -> None:
        """A generated transfer's requests into the summary counters when it ends (a
        scripted one counts each request as it is issued)."""
        self.stats.misc += 1  # kXR_close, or the server's own close at a disconnect
        plan = xfer.mf.plan
        if isinstance(plan, IoPlan):
            frac = xfer.mf.frac(t)
            k_v = plan.readv.done(frac)
            self.stats.reads += plan.read.done(frac)
            self.stats.readvs += k_v
            self.stats.readv_segs += plan.readv.seg_stats(k_v)[0] if k_v else 0
            self.stats.writes += plan.write.done(frac)

    def close(self, t: float, xfer: Transfer, forced: bool = False) -> tuple[tuple[int, int, int], tuple[int, int]]:
        """Close ``xfer``: monitored (read, readv, write) and booked (down, up) payload."""
        xfer.conn.transfers.pop(xfer.mf.file_id, None)
        totals = self.monitor.close(t, xfer.mf, forced)
        self._count_requests(xfer, t)
        self.flush()
        return totals, self._settle(xfer, t)

    def disconnect(self, t: float, conn: Conn) -> list[tuple[Transfer, tuple[int, int, int], tuple[int, int]]]:
        """Session end: forced closes, DISC, link totals folded (spec §4.7, §8.3)."""
        closed = []
        for mf, totals in self.monitor.disconnect(t, conn.mon):
            xfer = conn.transfers.pop(mf.file_id)
            self._count_requests(xfer, t)
            closed.append((xfer, totals, self._settle(xfer, t)))
        self.conns.pop(id(conn), None)
        lk = self.links
        lk.num -= 1
        lk.ctime += int(t - conn.t0)
        lk.in_bytes += conn.in_bytes
        lk.out_bytes += conn.out_bytes
        self.flush()
        return closed

    def unbind(self, t: float) -> None:
        """A bound secondary stream of a client ended (``Monitor.unbind``)."""
        self.monitor.unbind(t)
        self.flush()

    def redirect(self, t: float, conn: Conn, op: int, target: "Server", path: str) -> None:
        """As a redirector: send ``conn``'s client to ``target`` for ``path`` (r-stream, §6)."""
        self.send_away(t, conn, op, target.spec.host.name, target.spec.port, path, RedirKind.REDIRECT)

    def send_away(self, t: float, conn: Conn, op: int, host: str, port: int, path: str, kind: RedirKind) -> None:
        """Redirect ``conn``'s client to ``host:port`` for ``path`` (REDIRECT, or REDLOCAL for
        an ``enoent`` redirect of a data server); the request and the redirect response
        cross this host's NIC."""
        self.monitor.redirect(t, conn.mon, op, host, port, path, kind)
        down, up = REDIRECT_RESPONSE + len(host), REDIRECT_REQUEST + len(path)
        self.ctx.nic.finish(Flow(self.octets, self.ctx.uplinks_for(conn.info), None, down, up, t, t))
        conn.out_bytes += down
        conn.in_bytes += up
        self.flush()

    def crash_io(self, t: float, xfer: Transfer) -> None:
        """The client died at ``t``: its I/O and flow stop there (no close follows)."""
        xfer.mf.t_stop = t
        flow = xfer.flow
        if t < flow.t1:
            flow.down, flow.up = flow.moved(t)
            flow.t1 = t

    def lose(self, t: float, xfer: Transfer) -> tuple[int, int]:
        """A transfer lost in a restart: no close is ever sent; book its flow up to ``t``."""
        return self._settle(xfer, t)

    def alive(self, conn: Conn) -> bool:
        """Whether ``conn`` survived every restart so far."""
        return conn.incarnation == self.incarnation

    def link_now(self, t: float) -> LinkTotals:
        """The ``link`` block as a report at ``t`` shows it (live links only with ``sync``)."""
        lk = self.links
        if not self.ctx.cfg.report.sync:
            return LinkTotals(lk.num, lk.maxn, lk.tot, lk.in_bytes, lk.out_bytes, lk.ctime)
        moved = [x.flow.moved(t) for c in self.conns.values() for x in c.transfers.values()]
        live_in = sum(c.in_bytes for c in self.conns.values()) + sum(m[1] for m in moved)
        live_out = sum(c.out_bytes for c in self.conns.values()) + sum(m[0] for m in moved)
        return LinkTotals(lk.num, lk.maxn, lk.tot, lk.in_bytes + live_in, lk.out_bytes + live_out, lk.ctime)

    # ---------------------------------------------------------------- sending

    def flush(self) -> None:
        """Hand the monitor's packets to the sockets."""
        mon = self.monitor
        if not mon.out:
            return
        octets, src, dst, send = (self.octets, self.ctx.uplink_of(self.site.index)), self.src, self.dst, self.ctx.outbox.send
        for e in mon.drain():
            send(e.t, src[e.dest], dst[e.dest], e.payload, (self.name, e.group, e.code, e.pseq), octets)

    def send_report(self, t: float, payload: bytes) -> None:
        """Send one summary report from the report socket."""
        rep = self.ctx.cfg.report
        self.ctx.outbox.send(t, self.src[-1], dest_address(rep.host, rep.port), payload,
                             (self.name, "summary", "<", -1), (self.octets, self.ctx.uplink_of(self.site.index)))


# -------------------------------------------------------------------- processes


def _delayed_start(srv: Server, delay: float) -> Iterator:
    yield srv.ctx.env.timeout(delay)
    srv.start(srv.ctx.env.now)


def _every(srv: Server, inc: int, period: float, action) -> Iterator:
    env = srv.ctx.env
    while True:
        yield env.timeout(period)
        if srv.incarnation != inc:
            return
        action(env.now)
        srv.flush()


def fstat_timer(srv: Server, inc: int) -> Iterator:
    """The f-stream flush clock (``fstat T``)."""
    period = srv.ctx.cfg.monitor.fstat_s
    if period > 0 and srv.monitor.fdests:
        yield from _every(srv, inc, period, srv.monitor.fstat_tick)


def flush_timer(srv: Server, inc: int) -> Iterator:
    """``flush T``: the shared t buffer, the r buffers and the g-stream (spec §1.2, §5.4, §6, §7.1)."""
    mon = srv.monitor
    if mon.trace.shared is not None or mon.rdests or mon.gdests:
        yield from _every(srv, inc, srv.ctx.cfg.monitor.flush_s, mon.flush_tick)


def io_timer(srv: Server, inc: int) -> Iterator:
    """With ``flush io``: session buffers caught up every window, so age flushes are timely."""
    mon = srv.monitor
    if mon.trace.iodests and srv.ctx.cfg.monitor.flush_io_s > 0:
        yield from _every(srv, inc, mon.window_s, mon.io_tick)


def ident_timer(srv: Server, inc: int) -> Iterator:
    """``=`` every ``ident`` seconds (0 = only at start, negative = off)."""
    period = srv.ctx.cfg.monitor.ident_s
    if period > 0:
        yield from _every(srv, inc, period, srv.monitor.ident)


def report_timer(srv: Server, inc: int) -> Iterator:
    """``xrd.report`` every ``every`` seconds."""
    rep = srv.ctx.cfg.report
    if rep.host:
        yield from _every(srv, inc, rep.every_s, lambda t: srv.send_report(t, report_payload(srv, t)))


__all__ = ["Conn", "LinkTotals", "Server", "Transfer", "flush_timer", "fstat_timer", "ident_timer", "io_timer", "report_timer",
           "HTTP_PUT_COUNTED", "version_tuple"]
