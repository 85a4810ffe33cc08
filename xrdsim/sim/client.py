"""Client sessions as SimPy processes: login, open, I/O, close, idle gaps, disconnect.

A session is a few events whatever its size: its I/O is an ``IoPlan`` the monitor reads
at flush time. Also the TCP payload model of a transfer (xroot and HTTP request and
response framing, pg CRCs) and the truth row each transfer leaves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from xrdsim.netmodel import FileIo, Framing, file_payload
from xrdsim.sim.iostats import IoPlan
from xrdsim.sim.liveio import LiveIo
from xrdsim.sim.nic import Flow, Octets
from xrdsim.sim.server import Conn, Server, Transfer
from xrdsim.sim.site import Host, User
from xrdsim.sim.truth import TransferRow
from xrdsim.wire import RedirOp

if TYPE_CHECKING:
    from xrdsim.sim.run import RunContext

@dataclass(slots=True)
class FileAccess:
    """One open–I/O–close on a file (one per transfer: not frozen, STYLE §7.4)."""

    lfn: str
    size: int
    plan: IoPlan
    duration_s: float
    rw: bool


@dataclass(slots=True)
class Job:
    """A client session planned by the workload."""

    server: Server
    client: Host
    user: User
    proto: str
    ipv6: bool
    files: list[FileAccess]
    app: str = "xrdcp"
    client_release: str = ""  # the login's &R=; "" = the server's version (clients come with it)
    idle_gap_s: float = 0.0
    login_s: float = 0.0
    tpc: bool = False
    remote: Octets | None = None
    crash_frac: float | None = None
    crash_detect_s: float = 60.0
    auth: bool = False
    client_pid: int = 0
    host_text: str = ""
    tpc_source: Server | None = None
    app_info: str = ""


def transfer_payload(plan: IoPlan, proto: str, lfn: str, framing: Framing = Framing()) -> tuple[int, int]:
    """(down, up) TCP payload of one file access: data plus the protocol's framing (``xrdsim.netmodel``)."""
    segs = plan.readv.seg_stats(plan.readv.count)[0] if plan.readv.count else 0
    io = FileIo(plan.read.total(plan.read.count), plan.read.count, plan.readv.total(plan.readv.count), plan.readv.count, segs,
                plan.write.total(plan.write.count), plan.write.count, plan.pg)
    return file_payload(framing, proto, lfn, io)


def login_text(job: Job, auth_on: bool, host: str = "") -> str | None:
    """The ``u`` payload after the userid (spec §3.4): auth fields, then the login CGI.

    Real 5.5.3 XrdHttp: nothing without ``auth``; with it and no credentials the auth
    fields are present and empty, ``&p=http&n=&h=[host]&o=&r=&g=&m=&I=4``.
    """
    ip = "&I=6" if job.ipv6 else "&I=4"
    if job.proto != "xroot":
        if not auth_on:
            return None
        if not job.auth:
            return f"&p=http&n=&h={host or job.client.name}&o=&r=&g=&m={ip}"
    cgi = f"&R={job.client_release or job.server.spec.version}&x={job.app}&y={ip}" if job.proto == "xroot" else ip
    if auth_on and job.auth:
        u = job.user
        prot = "gsi" if job.proto == "xroot" else "ztn"
        return f"&p={prot}&n={u.login}&h={job.client.name}&o={u.vo}&r={u.role}&g=/{u.vo}&m={u.dn}{cgi}"
    return cgi


def session(ctx: "RunContext", job: Job) -> Iterator:
    """One client session from login to disconnect (or crash, or server restart); through
    the site's redirector when it has one."""
    rdr = ctx.redirectors.get(job.server.site.index)
    if rdr is None:
        return data_session(ctx, job, None, None)
    return redirected_session(ctx, job, rdr)


def login(ctx: "RunContext", srv: Server, job: Job) -> Conn:
    """Log ``job``'s client in at ``srv``: its userid (``http/`` for plain HTTP, ``https/``
    for TLS; XrdHttp's pid is the server's connection number) and ``u`` record."""
    xroot = job.proto == "xroot"
    host = job.host_text or job.client.name
    userid = srv.userid(job.proto, job.user.login if xroot else "unknown", job.client_pid if xroot else None, host)
    return srv.connect(ctx.env.now, userid, login_text(job, ctx.cfg.monitor.auth, host), job)



def redirected_session(ctx: "RunContext", job: Job, rdr: Server) -> Iterator:
    """The client logs in at the redirector, which redirects each open (spec §6); it keeps
    that link until its data session ends."""
    if rdr.down_until > ctx.env.now:
        yield from data_session(ctx, job, None, None)
        return
    rconn = login(ctx, rdr, job)
    yield from data_session(ctx, job, rdr, rconn)
    if rdr.alive(rconn):
        rdr.disconnect(ctx.env.now, rconn)


def data_session(ctx: "RunContext", job: Job, rdr: Server | None, rconn: Conn | None) -> Iterator:
    """The session at the data server; ``rdr``/``rconn`` redirect each open first."""
    env, srv = ctx.env, job.server
    if srv.down_until > env.now:
        ctx.stats["refused"] += 1
        return
    conn = login(ctx, srv, job)
    # ``i`` only from an xroot client that sends kXR_set monitor info (analysis frameworks
    # do): XrdHttp has no such request and real 5.5.3 sends no ``i`` for curl sessions.
    if job.app_info and job.proto == "xroot":
        srv.monitor.app_info(env.now, conn.mon, job.app_info)
    if job.login_s:
        yield env.timeout(job.login_s)
    for k, fa in enumerate(job.files):
        if k and job.idle_gap_s:
            yield env.timeout(job.idle_gap_s)
        if not srv.alive(conn):
            return
        if rconn is not None and rdr.alive(rconn):
            rdr.redirect(env.now, rconn, RedirOp.OPENW if fa.rw else RedirOp.OPENR, srv, fa.lfn)
        xfer = open_file(ctx, job, conn, fa, first=k == 0)
        if job.crash_frac is not None and k == len(job.files) - 1:
            yield env.timeout(fa.duration_s * job.crash_frac)
            if srv.alive(conn):
                srv.crash_io(env.now, xfer)
                yield env.timeout(job.crash_detect_s)
            break
        yield env.timeout(fa.duration_s)
        if not srv.alive(conn):
            return
        totals, payload = srv.close(env.now, xfer)
        ctx.record(xfer, job, totals, payload, "explicit", env.now)
    if srv.alive(conn):
        for xfer, totals, payload in srv.disconnect(env.now, conn):
            ctx.record(xfer, job, totals, payload, "forced", env.now)


def open_file(ctx: "RunContext", job: Job, conn, fa: FileAccess, first: bool) -> Transfer:
    """Open ``fa`` on the job's server with a flow carrying its payload (the first one
    also carries the session's handshake and login)."""
    now = ctx.env.now
    down, up = transfer_payload(fa.plan, job.proto, fa.lfn, ctx.nic.model.framing)
    if first and job.proto == "xroot":
        down, up = down + ctx.nic.model.framing.session[0], up + ctx.nic.model.framing.session[1]
    flow = Flow(job.server.octets, ctx.uplinks_for(job), job.remote, down, up, now, now + fa.duration_s)
    fsz = 0 if fa.rw else fa.size
    return job.server.open(now, conn, fa.lfn, fsz, fa.rw, fa.plan, now + fa.duration_s, flow, ctx.next_transfer())


def _request_counts(plan: IoPlan | LiveIo, frac: float, kind: str) -> tuple[tuple[int, int, int], int, int]:
    """((read, readv, write) requests, readv segments, bytes written) of a transfer so far."""
    if isinstance(plan, LiveIo):  # a scripted file: every request it issued
        ops = plan.close_at(1.0, kind == "explicit")[1]
        return (ops.read, ops.readv, ops.write), ops.rsegs, plan.moved_at(1.0)[2]
    n = (plan.read.done(frac), plan.readv.done(frac), plan.write.done(frac))
    if plan.pg and kind != "explicit":
        n = (0, n[1], 0)
    segs = plan.readv.seg_stats(n[1])[0] if n[1] else 0
    return n, segs, plan.write.total(plan.write.count)


def transfer_row(ctx: "RunContext", xfer: Transfer, job: Job, totals: tuple[int, int, int], payload: tuple[int, int], kind: str, t: float) -> TransferRow:
    """The truth row of one transfer; times are the server's unix wire clock."""
    srv, plan, mf = job.server, xfer.mf.plan, xfer.mf
    base = srv.wire_base()
    n, segs, written = _request_counts(plan, mf.frac(t), kind)
    ip = job.client.ip6 if job.ipv6 else job.client.ip4
    # The truth holds what the server sent: a session logged in without auth has no `&m=`
    # DN nor `&o=` VO in its u map (login_text), so a record cannot know them either; nor
    # has any session of a server that sends no u maps at all (a config_drift without user).
    sent_auth = ctx.cfg.monitor.auth and mf.session.user_dictid != 0 and job.auth  # dictid 0: no u map sent
    dn, vo = (job.user.dn, job.user.vo) if sent_auth else ("", "")
    return TransferRow(
        xfer.ident, srv.site.name, srv.name, srv.spec.host.ip4, xfer.stod, mf.file_id, mf.session.user_dictid,
        xfer.lfn, xfer.size if not xfer.rw else written, dn, vo,
        job.client.name, ip, job.proto, job.ipv6, base + xfer.t_open, base + t, *totals, n[0], n[1], segs, n[2],
        kind, job.tpc, job.app, payload[1], payload[0],
    )


__all__ = ["FileAccess", "Job", "data_session", "login", "login_text", "redirected_session", "session", "transfer_payload",
           "transfer_row"]
