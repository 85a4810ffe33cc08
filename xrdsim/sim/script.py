"""Scripted sessions (``workload.sessions``): a client's steps executed one by one at their
simulated times — opens, reads at offsets, readv segment lists, writes, idle gaps, app
info, closes, a client killed with its files open, HTTP GETs and PUTs.

Each request is booked when issued (``liveio``), so XFR records, window marks and link
counters follow what the client did, not an even spread. The real check (``xrdsim
fidelity``) drives a real server with the same steps.
"""

from __future__ import annotations

import dataclasses
import random
from typing import TYPE_CHECKING, Callable, Iterator

from xrdsim.netmodel import Framing, http_heads, xroot_close, xroot_open, xroot_request
from xrdsim.sim.client import FileAccess, Job, login
from xrdsim.sim.config import SessionConfig, StepConfig
from xrdsim.sim.iostats import IoPlan
from xrdsim.sim.liveio import LiveIo
from xrdsim.sim.nic import Flow
from xrdsim.sim.plan import TpcFeed, TpcJob
from xrdsim.sim.server import Conn, Server, Transfer
from xrdsim.sim.site import User
from xrdsim.sim.spawn import spawn
from xrdsim.sim.tpc import tpc_text, tpc_url
from xrdsim.wire import RedirKind, RedirOp

if TYPE_CHECKING:
    from xrdsim.sim.run import RunContext

#: Seconds one request takes besides its bytes on the wire (a loopback round trip and the disk).
REQUEST_S = 0.002
#: The TPC pgm copy (xrdcp run by the destination) reads with pgread in requests of this size.
PGREAD_CHUNK = 8 * 1024 * 1024
#: Seconds from the end of a TPC copy to the client's closes and logouts (real 5.5.3 with
#: ``xrdcp --tpc only``: they come 2–3 s after the copy).
TPC_LINGER_S = 2.3
#: The link number XRootD prints in a TPC record's ``Client`` (``user.pid:fd@host``): the fd
#: of the client's link, a small number the check normalises.
TPC_CLIENT_FD = 24


class ScriptedClient:
    """One scripted session's state at its server: the link and its open files."""

    def __init__(self, job: Job, rng: random.Random) -> None:
        # The server's context: a ghost's links book only the real site's side of them
        self.ctx, self.job, self.srv, self.rng = job.server.ctx, job, job.server, rng
        self.conn: Conn | None = None
        self.files: list[Transfer] = []
        # Link bytes not yet on a transfer's flow (login, stat, kXR_set): the next open
        # carries them, as a generated session's first transfer carries its login, so the
        # truth's transfer payloads add up to the NIC's; the disconnect books what is left.
        self.pending = [0, 0]
        self.acks: random.Random | None = None  # a link both sites book: its flows' ACK rates (NicModel.share_acks)

    def _flow(self, down: int, up: int) -> Flow:
        """A flow of this link from now, its ACK rate shared when both sites book it."""
        flow = Flow(self.srv.octets, self.ctx.uplinks_for(self.job), self.job.remote, down, up, self.now, self.now)
        if self.acks is not None:
            self.ctx.nic.share_acks(flow, self.acks)
        return flow

    @property
    def now(self) -> float:
        return self.ctx.env.now

    @property
    def framing(self) -> Framing:
        """The scenario's protocol framing (``nic.framing``, ``xrdsim.netmodel``)."""
        return self.ctx.nic.model.framing

    def wait(self, nbytes: int) -> object:
        """The event of one request of ``nbytes`` completing."""
        return self.ctx.env.timeout(REQUEST_S + nbytes * 8.0 / self.ctx.cfg.workload.stream_bps)

    def book(self, xfer: Transfer | None, down: int, up: int) -> None:
        """Payload of one request: on its file's flow, or pending on the link."""
        if xfer is not None:
            flow = xfer.flow
            flow.down, flow.up, flow.t1 = flow.down + down, flow.up + up, self.now
            return
        self.pending[0] += down
        self.pending[1] += up

    def hand_over(self, other: "ScriptedClient") -> None:
        """Let ``other`` (a link of the same client to the same server) carry this link's
        pending bytes: the NIC sees the same endpoints either way."""
        other.pending = [other.pending[0] + self.pending[0], other.pending[1] + self.pending[1]]
        self.pending = [0, 0]

    def _book_pending(self) -> None:
        down, up = self.pending
        if down or up:
            self.ctx.nic.finish(self._flow(down, up))
            self.conn.out_bytes += down
            self.conn.in_bytes += up
        self.pending = [0, 0]

    def connect(self) -> None:
        """Log in (handshake and login on the wire for xroot)."""
        self.conn = login(self.ctx, self.srv, self.job)
        if self.job.proto == "xroot":
            self.book(None, *self.framing.session)

    def open(self, lfn: str, size: int, mode: str, uncounted_writes: bool = False) -> Transfer:
        """Open ``lfn``: ``d``, f OPEN and t OPEN now; its requests come later. Real 5.5.3
        flags an OPEN rw only for update/write access: a create (kXR_new) shows r."""
        io = LiveIo(count_writes=not uncounted_writes)
        flow = self._flow(*self.pending)
        self.pending = [0, 0]
        fsz = size if mode in ("read", "update") else 0
        xfer = self.srv.open(self.now, self.conn, lfn, fsz, mode in ("update", "write"), io, float("inf"), flow,
                             self.ctx.next_transfer())
        if self.job.proto == "xroot":
            self.book(xfer, *xroot_open(self.framing, lfn, create=mode in ("create", "write")))
        self.files.append(xfer)
        return xfer

    def request(self, kind: str, pieces: list[tuple[int, int]]) -> object:
        """Issue one request on the file opened last; the event of its completion."""
        xfer = self.files[-1]
        req = xfer.mf.plan.add(kind, self.now, pieces)
        n = req.nbytes
        self.srv.stats.request(kind, n, len(pieces))
        if self.job.proto != "xroot":
            self.book(xfer, n if kind != "write" else 0, n if kind == "write" else 0)
        else:
            pg = kind == "pgread"
            self.book(xfer, *xroot_request(self.framing, "read" if pg else kind, n, len(pieces), pg))
        return self.wait(n)

    def burst(self, kind: str, requests: list[list[tuple[int, int]]]) -> object:
        """Issue ``requests`` back to back on the file opened last, each at the time the one
        before completes; the event of the last completing. One SimPy event for them all:
        a TPC pull is hundreds of pgreads. Each is still its own request — its own time in
        the t-stream (whose cursor hands out only those due), its own count in the summary
        and its own framing on the wire — and the flow's bytes run linearly to the end."""
        xfer = self.files[-1]
        plan, stats, stream = xfer.mf.plan, self.srv.stats, self.ctx.cfg.workload.stream_bps
        pg = kind == "pgread"
        t = self.now
        stats.settle(t)  # what earlier bursts issued by now: the queue holds only what is to come
        down = up = 0
        framed: dict[tuple[int, int], tuple[int, int]] = {}  # a pull's hundreds of requests are of two sizes
        for pieces in requests:
            n = plan.add(kind, t, pieces).nbytes
            shape = (n, len(pieces))
            stats.request_at(t, kind, n, shape[1])
            wire = framed.get(shape)
            if wire is None:
                wire = framed[shape] = xroot_request(self.framing, "read" if pg else kind, n, shape[1], pg)
            down, up = down + wire[0], up + wire[1]
            t += REQUEST_S + n * 8.0 / stream
        flow = xfer.flow
        flow.down, flow.up, flow.t1 = flow.down + down, flow.up + up, t
        return self.ctx.env.timeout(t - self.now)

    def close(self, xfer: Transfer | None = None) -> None:
        """Close ``xfer`` (the file opened last): f and t CLOSE, truth row."""
        xfer = xfer or self.files[-1]
        self.files.remove(xfer)
        if not self.srv.alive(self.conn):  # lost in a restart: the restart accounted for it
            return
        if self.job.proto == "xroot":
            self.book(xfer, *xroot_close(self.framing))
        totals, payload = self.srv.close(self.now, xfer)
        self.ctx.record(xfer, self.job, totals, payload, "explicit", self.now)

    def open_missing(self, lfn: str) -> None:
        """Open a file the server does not have: no file, no record; REDLOCAL to the site's
        ``enoent_redirect`` target when it covers ``lfn`` (``xrootd.redirect … enoent``)."""
        srv, sites = self.srv, self.ctx.cfg.sites
        rule = sites[srv.site.index].enoent_redirect if sites else None
        srv.stats.errors += 1  # XRootD counts the error before it looks for a redirect
        if rule is not None and rule.covers(lfn):
            srv.send_away(self.now, self.conn, RedirOp.OPENR, rule.host, rule.port, lfn, RedirKind.REDLOCAL)
        else:
            self.book(None, self.framing.not_found_reply_bytes, self.framing.request_bytes + len(lfn))

    def peer(self, srv: Server, **job_fields) -> "ScriptedClient":
        """Another link of this client (or, with ``job_fields``, of another one) to ``srv``."""
        return ScriptedClient(dataclasses.replace(self.job, server=srv, **job_fields), self.rng)

    def disconnect(self) -> None:
        """The link ends: forced closes of what is still open, DISC."""
        if self.conn is None or not self.srv.alive(self.conn):
            return
        self._book_pending()
        for xfer, totals, payload in self.srv.disconnect(self.now, self.conn):
            self.ctx.record(xfer, self.job, totals, payload, "forced", self.now)
        self.files.clear()
        self.conn = None


# ---------------------------------------------------------------------- steps

Step = Callable[[ScriptedClient, StepConfig], Iterator]


def _open(c: ScriptedClient, st: StepConfig) -> Iterator:
    if st.exists:
        c.open(st.lfn, st.size_bytes, st.mode)
    else:
        c.open_missing(st.lfn)
    yield c.wait(0)


def _read(c: ScriptedClient, st: StepConfig) -> Iterator:
    yield c.request("read", [(st.offset_bytes, st.size_bytes)])


def _readv(c: ScriptedClient, st: StepConfig) -> Iterator:
    yield c.request("readv", [(int(o), int(n)) for o, n in st.segments])


def _write(c: ScriptedClient, st: StepConfig) -> Iterator:
    yield c.request("write", [(st.offset_bytes, st.size_bytes)])


def _sleep(c: ScriptedClient, st: StepConfig) -> Iterator:
    yield c.ctx.env.timeout(st.duration_s)


def _sendinfo(c: ScriptedClient, st: StepConfig) -> Iterator:
    c.srv.monitor.app_info(c.now, c.conn.mon, st.text)
    c.srv.stats.misc += 1  # kXR_set
    c.srv.flush()
    c.book(None, c.framing.response_bytes, c.framing.request_bytes + len(st.text))
    yield c.wait(0)


def _close(c: ScriptedClient, st: StepConfig) -> Iterator:
    c.close()
    yield c.wait(0)


def _http(c: ScriptedClient, st: StepConfig) -> Iterator:
    """One curl: connect, open, one request for the whole body, close, disconnect."""
    put = st.op == "put"
    c.connect()
    uncounted = put and not c.srv.counts_http_puts
    xfer = c.open(st.lfn, st.size_bytes, "write" if put else "read", uncounted_writes=uncounted)
    c.book(xfer, *http_heads(c.framing, st.lfn, st.size_bytes, put))
    yield c.request("write" if put else "read", [(0, st.size_bytes)])
    c.close(xfer)
    c.disconnect()


def _pgm_copy(c: ScriptedClient, src: Server, dst: Server, lfn: str, size: int) -> Iterator:
    """What ``ofs.tpc pgm xrdcp`` does at the source: the destination runs xrdcp as its
    daemon user, which logs in, reads ``lfn`` with pgread, closes, drops its bound second
    stream (an f DISC of user 0) and logs out. The bytes cross from source to destination."""
    daemon = User(dst.spec.unix_user, "", "", "")
    pgm = c.peer(src, client=dst.spec.host, user=daemon, app="xrdcp", auth=False, ipv6=False, tpc=True,
                 client_pid=c.rng.randrange(1000, 2**22), client_release=dst.spec.version,
                 remote=None if src is dst else dst.octets, host_text="", tpc_source=None)
    if src is not dst:  # the pull crosses both servers' NICs, each booked by its own site
        pgm.acks = random.Random(c.rng.getrandbits(64))
    pgm.connect()
    pgm.open(lfn, size, "read")
    yield pgm.wait(0)
    yield pgm.burst("pgread", [[(off, min(PGREAD_CHUNK, size - off))] for off in range(0, size, PGREAD_CHUNK)])
    pgm.close()
    src.unbind(pgm.now)
    pgm.disconnect()


def _tpc(c: ScriptedClient, st: StepConfig) -> Iterator:
    src = c.ctx.server_at(st.source_site, st.source_server)
    yield from tpc_copy(c, src, st.source_lfn or st.lfn, st.lfn, st.size_bytes)


def tpc_copy(c: ScriptedClient, src: Server, src_lfn: str, lfn: str, size: int) -> Iterator:
    """``xrdcp --tpc only`` run by ``c``'s client, ``c``'s server pulling ``src_lfn`` of
    ``src`` into ``lfn`` through ``ofs.tpc pgm xrdcp`` (real 5.5.3): the client logs in twice
    at each server, probes and then holds the source open, opens the destination for write
    (fsz 0), waits for the copy, closes both, logs out. The destination's CLOSE shows write
    0 and its ``P`` record ``Size`` 0: only the source's pgread record carries the bytes.
    Scripted ``tpc`` steps and generated TPC jobs both copy this way."""
    ctx, dst = c.ctx, c.srv
    if src.down_until > ctx.env.now or dst.down_until > ctx.env.now:
        ctx.stats["refused"] += 1
        return
    fields = dict(tpc=True, app="xrdcp", tpc_source=None)
    # One server: two links, the second doing everything. Two servers: the source's opening
    # link logs in first, the destination's stat-only link first (real 5.5.3 dictid order).
    if src is dst:
        aux, main = c.peer(dst, **fields), c.peer(dst, **fields)
        links, s_main, s_aux = [aux, main], main, None
    else:
        s_main, aux, s_aux, main = (c.peer(srv, **fields) for srv in (src, dst, src, dst))
        links = [s_main, aux, s_aux, main]
    for link in links:
        link.connect()
    aux.book(None, aux.framing.not_found_reply_bytes, aux.framing.request_bytes + len(lfn))  # stat: not there yet
    aux.hand_over(main)
    if s_aux is not None:
        s_aux.hand_over(s_main)
    s_main.open(src_lfn, size, "read")
    yield s_main.wait(0)
    s_main.close()
    held_dst = main.open(lfn, 0, "write")
    held_src = s_main.open(src_lfn, size, "read")
    yield s_main.wait(0)
    # XrdCl syncs the destination twice (start the copy, wait for it); the copy is a grant
    dst.stats.syncs += 2
    dst.stats.tpc_grants += 1
    begin = ctx.env.now
    yield from _pgm_copy(c, src, dst, src_lfn, size)
    client = main.conn.mon.userid.split("/", 1)[1].split(":", 1)[0]
    host = main.job.host_text or main.job.client.name
    base = dst.wire_base()
    text = tpc_text(f"{client}:{TPC_CLIENT_FD}@{host}", base + begin, base + ctx.env.now,
                    tpc_url(src.spec.host.name, src.spec.port, src_lfn), tpc_url(dst.spec.host.name, dst.spec.port, lfn), 0)
    dst.monitor.tpc_done(ctx.env.now, text)
    dst.flush()
    yield ctx.env.timeout(TPC_LINGER_S)
    s_main.close(held_src)
    main.close(held_dst)
    for link in ([aux, main] if s_aux is None else [s_aux, s_main, aux, main]):
        link.disconnect()


STEPS: dict[str, Step] = {
    "open": _open, "read": _read, "readv": _readv, "write": _write, "sleep": _sleep,
    "sendinfo": _sendinfo, "close": _close, "tpc": _tpc, "get": _http, "put": _http,
}


def run_session(ctx: "RunContext", sc: SessionConfig, rng: random.Random) -> Iterator:
    """One scripted session from its first step to its disconnect (or its client's death:
    the server notices at once, as on loopback, and force-closes what was open). Run by its
    own site and by the source site of each of its TPC steps (its server a ghost there)."""
    srv = ctx.server_at(sc.site, sc.server)
    job = session_job(ctx, sc, srv, rng)
    client = ScriptedClient(job, rng)
    # A TPC runs xrdcp, with links of its own: a session of TPC steps (and pauses) alone
    # never logs in itself.
    tpc_only = any(st.op == "tpc" for st in sc.steps) and all(st.op in ("tpc", "sleep") for st in sc.steps)
    linked = sc.proto == "xroot" and not tpc_only
    if linked:
        client.connect()
    for st in sc.steps:
        if st.op == "kill":
            break
        yield from STEPS[st.op](client, st)
    if linked:
        client.disconnect()


def session_job(ctx: "RunContext", sc: SessionConfig, srv: Server, rng: random.Random) -> Job:
    """The ``Job`` a scripted session logs in as (user, client host, app, release)."""
    user = ctx.world.users[ctx.cfg.workload.vos[0]][0]
    client = srv.site.workers[0] if srv.site.workers else srv.spec.host
    return Job(srv, client, user, sc.proto, sc.ipv6, [], app=sc.app, client_release=sc.client_release or srv.spec.version,
               auth=sc.auth, client_pid=rng.randrange(1000, 2**22))


def session_sites(sc: SessionConfig) -> set[int]:
    """The sites a scripted session runs in: its own and its TPC steps' sources."""
    return {sc.site} | {st.source_site for st in sc.steps if st.op == "tpc"}


def scripted_sessions(ctx: "RunContext") -> Iterator:
    """Start every scripted session this site takes part in at its time, in time order;
    each session draws from a generator of its own."""
    mine = [(i, sc) for i, sc in enumerate(ctx.cfg.workload.sessions) if ctx.site_index in session_sites(sc)]
    for i, sc in sorted(mine, key=lambda p: p[1].at_s):
        if sc.at_s > ctx.env.now:
            yield ctx.env.timeout(sc.at_s - ctx.env.now)
        spawn(run_session(ctx, sc, ctx.rng(f"session:{i}")))


def generated_tpc(ctx: "RunContext", tj: TpcJob) -> Iterator:
    """A generated TPC job: its client copies its one file from the source to the
    destination exactly as a scripted ``tpc`` step does; run by both sites, each with the
    other's server a ghost."""
    rng = random.Random(tj.seed)
    dst, src = ctx.server_at(*tj.dst), ctx.server_at(*tj.src)
    copy = FileAccess(tj.lfn, tj.size, IoPlan(), 0.0, True)  # the copy's requests and times are tpc_copy's
    job = Job(dst, tj.client, tj.user, "xroot", tj.ipv6, [copy], app="xrdcp", tpc=True, auth=True,
              client_pid=tj.client_pid, tpc_source=src)
    yield from tpc_copy(ScriptedClient(job, rng), src, tj.lfn, tj.lfn, tj.size)


def tpc_arrivals(ctx: "RunContext", feed: TpcFeed, site: int) -> Iterator:
    """Start each TPC copy ``site`` takes part in at its time (``plan.TpcFeed``)."""
    while (tj := feed.next_for(site)) is not None:
        if tj.t > ctx.env.now:
            yield ctx.env.timeout(tj.t - ctx.env.now)
        spawn(generated_tpc(ctx, tj))


__all__ = ["REQUEST_S", "STEPS", "ScriptedClient", "generated_tpc", "run_session", "scripted_sessions", "session_job",
           "session_sites", "tpc_arrivals", "tpc_copy"]
