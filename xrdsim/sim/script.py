"""Scripted sessions (``workload.sessions``): a client's steps executed one by one at their
simulated times — opens, reads at offsets, readv segment lists, writes, idle gaps, app
info, closes, a client killed with its files open, HTTP GETs and PUTs.

Each request is booked when issued (``liveio``), so XFR records, window marks and link
counters follow what the client did, not an even spread. The real check (``xrdsim
fidelity``) drives a real server with the same steps.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Callable, Iterator

from xrdsim.sim.client import XROOT_REQUEST, XROOT_RESPONSE, XROOT_SESSION, Job, login
from xrdsim.sim.config import SessionConfig, StepConfig
from xrdsim.sim.liveio import LiveIo
from xrdsim.sim.nic import Flow
from xrdsim.sim.server import Conn, Server, Transfer, version_tuple
from xrdsim.sim.spawn import spawn

if TYPE_CHECKING:
    from xrdsim.sim.run import RunContext

#: Seconds one request takes besides its bytes on the wire (a loopback round trip and the disk).
REQUEST_S = 0.002
#: XRootD counts HTTP PUT bytes from this version on (xrootd/xrootd#2368).
HTTP_PUT_COUNTED = (5, 7, 3)
READV_ELEMENT = 16
HTTP_HEADERS = (320, 420)


class ScriptedClient:
    """One scripted session's state at its server: the link and its open files."""

    def __init__(self, ctx: "RunContext", sc: SessionConfig, job: Job) -> None:
        self.ctx, self.sc, self.job, self.srv = ctx, sc, job, job.server
        self.conn: Conn | None = None
        self.files: list[Transfer] = []

    @property
    def now(self) -> float:
        return self.ctx.env.now

    def wait(self, nbytes: int) -> object:
        """The event of one request of ``nbytes`` completing."""
        return self.ctx.env.timeout(REQUEST_S + nbytes * 8.0 / self.ctx.cfg.workload.stream_bps)

    def book(self, xfer: Transfer | None, down: int, up: int) -> None:
        """Payload of one request: on its file's flow, or straight on the link."""
        if xfer is not None:
            flow = xfer.flow
            flow.down, flow.up, flow.t1 = flow.down + down, flow.up + up, self.now
            return
        self.ctx.nic.finish(Flow(self.srv.octets, self.ctx.uplinks_for(self.job), None, down, up, self.now, self.now))
        self.conn.out_bytes += down
        self.conn.in_bytes += up

    def connect(self) -> None:
        """Log in (handshake and login on the wire for xroot)."""
        self.conn = login(self.ctx, self.srv, self.job)
        if self.job.proto == "xroot":
            self.book(None, *XROOT_SESSION)

    def open(self, lfn: str, size: int, mode: str, uncounted_writes: bool = False) -> Transfer:
        """Open ``lfn``: ``d``, f OPEN and t OPEN now; its requests come later. Real 5.5.3
        flags an OPEN rw only for update/write access: a create (kXR_new) shows r."""
        io = LiveIo(count_writes=not uncounted_writes)
        flow = Flow(self.srv.octets, self.ctx.uplinks_for(self.job), None, 0, 0, self.now, self.now)
        fsz = size if mode in ("read", "update") else 0
        xfer = self.srv.open(self.now, self.conn, lfn, fsz, mode in ("update", "write"), io, float("inf"), flow,
                             self.ctx.next_transfer())
        if self.job.proto == "xroot":
            self.book(xfer, XROOT_RESPONSE + 4, XROOT_REQUEST + len(lfn))
        self.files.append(xfer)
        return xfer

    def request(self, kind: str, pieces: list[tuple[int, int]]) -> object:
        """Issue one request on the file opened last; the event of its completion."""
        xfer = self.files[-1]
        req = xfer.mf.plan.add(kind, self.now, pieces)
        n, extra = req.nbytes, READV_ELEMENT * len(pieces) if kind == "readv" else 0
        self.srv.stats.request(kind, n, len(pieces))
        if self.job.proto != "xroot":
            self.book(xfer, n if kind != "write" else 0, n if kind == "write" else 0)
        elif kind == "write":
            self.book(xfer, XROOT_RESPONSE, XROOT_REQUEST + n)
        else:
            self.book(xfer, XROOT_RESPONSE + n + extra, XROOT_REQUEST + extra)
        return self.wait(n)

    def close(self, xfer: Transfer | None = None) -> None:
        """Close ``xfer`` (the file opened last): f and t CLOSE, truth row."""
        xfer = xfer or self.files[-1]
        self.files.remove(xfer)
        if self.job.proto == "xroot":
            self.book(xfer, XROOT_RESPONSE, XROOT_REQUEST)
        totals, payload = self.srv.close(self.now, xfer)
        self.ctx.record(xfer, self.job, totals, payload, "explicit", self.now)

    def disconnect(self) -> None:
        """The link ends: forced closes of what is still open, DISC."""
        if self.conn is None or not self.srv.alive(self.conn):
            return
        for xfer, totals, payload in self.srv.disconnect(self.now, self.conn):
            self.ctx.record(xfer, self.job, totals, payload, "forced", self.now)
        self.files.clear()
        self.conn = None


# ---------------------------------------------------------------------- steps

Step = Callable[[ScriptedClient, StepConfig], Iterator]


def _open(c: ScriptedClient, st: StepConfig) -> Iterator:
    c.open(st.lfn, st.size_bytes, st.mode)
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
    c.book(None, XROOT_RESPONSE, XROOT_REQUEST + len(st.text))
    yield c.wait(0)


def _close(c: ScriptedClient, st: StepConfig) -> Iterator:
    c.close()
    yield c.wait(0)


def _http(c: ScriptedClient, st: StepConfig) -> Iterator:
    """One curl: connect, open, one request for the whole body, close, disconnect."""
    put = st.op == "put"
    c.connect()
    uncounted = put and version_tuple(c.srv.spec.version) < HTTP_PUT_COUNTED
    xfer = c.open(st.lfn, st.size_bytes, "write" if put else "read", uncounted_writes=uncounted)
    c.book(xfer, HTTP_HEADERS[0], HTTP_HEADERS[1] + len(st.lfn))
    yield c.request("write" if put else "read", [(0, st.size_bytes)])
    c.close(xfer)
    c.disconnect()


STEPS: dict[str, Step] = {
    "open": _open, "read": _read, "readv": _readv, "write": _write, "sleep": _sleep,
    "sendinfo": _sendinfo, "close": _close, "get": _http, "put": _http,
}


def run_session(ctx: "RunContext", sc: SessionConfig, rng: random.Random) -> Iterator:
    """One scripted session from its first step to its disconnect (or its client's death:
    the server notices at once, as on loopback, and force-closes what was open)."""
    srv = ctx.by_site[sc.site][sc.server]
    job = session_job(ctx, sc, srv, rng)
    client = ScriptedClient(ctx, sc, job)
    if sc.proto == "xroot":
        client.connect()
    for st in sc.steps:
        if st.op == "kill":
            break
        yield from STEPS[st.op](client, st)
    if sc.proto == "xroot":
        client.disconnect()


def session_job(ctx: "RunContext", sc: SessionConfig, srv: Server, rng: random.Random) -> Job:
    """The ``Job`` a scripted session logs in as (user, client host, app, release)."""
    user = ctx.world.users[ctx.cfg.workload.vos[0]][0]
    client = srv.site.workers[0] if srv.site.workers else srv.spec.host
    return Job(srv, client, user, sc.proto, sc.ipv6, [], app=sc.app, client_release=sc.client_release or srv.spec.version,
               auth=sc.auth, client_pid=rng.randrange(1000, 2**22))


def scripted_sessions(ctx: "RunContext", rng: random.Random) -> Iterator:
    """Start every scripted session at its time, in time order."""
    for sc in sorted(ctx.cfg.workload.sessions, key=lambda s: s.at_s):
        if sc.at_s > ctx.env.now:
            yield ctx.env.timeout(sc.at_s - ctx.env.now)
        spawn(run_session(ctx, sc, rng))


__all__ = ["HTTP_PUT_COUNTED", "REQUEST_S", "STEPS", "ScriptedClient", "run_session", "scripted_sessions", "session_job"]
