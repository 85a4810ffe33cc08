"""XRootD's monitoring emitter as a SimPy-free state object (spec §1–§7, §10, §11): per
server incarnation the dictid counter, pseq counter groups (per dest; f and each g provider
their own), ``=``/``u``/``i``/``d`` maps, the f-stream buffer (fstat flush, fbuff cut, TOD,
XFR) and the t/r/g buffers. Told what happened at ``t``, it piles packets up in ``out``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xrdsim.sim.config import DestEvent, MonitorConfig
from xrdsim.sim.gbuffer import GBuffer, gbuff_capacity
from xrdsim.sim.iostats import IoPlan
from xrdsim.sim.redir import RedirBuffers, redir_capacity
from xrdsim.sim.trace import TraceBuffer, TraceStreams
from xrdsim.sim.traceio import IoCursor
from xrdsim.wire import (
    Dialect,
    DiscFlag,
    FileClose,
    FileDisc,
    FileOpen,
    FileRecord,
    FileXfr,
    FstreamPacket,
    GProvider,
    GStreamPacket,
    MapPacket,
    Redirect,
    RedirKind,
    RedirPacket,
    TracePacket,
    encode,
    make_tod,
    record_size,
)

MAX_MAP_TEXT = 1280
F_HEADER = 8 + 24
_U, _D, _I, _EQ = ord("u"), ord("d"), ord("i"), ord("=")
FILE_EVENTS = frozenset({DestEvent.FILES, DestEvent.IO, DestEvent.IOV})


@dataclass(slots=True)
class Emission:
    """One datagram the server sends: to dest index ``dest`` in counter ``group``."""

    t: float
    dest: int
    group: str
    code: str
    pseq: int
    payload: bytes


@dataclass(slots=True)
class MonSession:
    """A client connection as the monitor knows it."""

    userid: str
    user_dictid: int
    t_login: float
    files: dict[int, "MonFile"] = field(default_factory=dict)
    trace: TraceBuffer | None = None
    readv_seq: int = 0

    def next_readv_seq(self) -> int:
        """The next readv request number of this session (uint8, wraps; spec §5.2). The
        real 5.5.3 server numbers a session's first readv 1, not 0."""
        self.readv_seq = (self.readv_seq + 1) & 0xFF
        return self.readv_seq


@dataclass(slots=True)
class MonFile:
    """An open file: its dictid, I/O plan and when the plan completes."""

    file_id: int
    session: MonSession
    plan: IoPlan
    t_open: float
    t_end: float
    last_xfr: tuple[int, int, int] = (0, 0, 0)
    t_stop: float = float("inf")
    io: IoCursor | None = None

    def frac(self, t: float) -> float:
        """How far the I/O plan has got at ``t`` (0..1; frozen after ``t_stop``)."""
        t = min(t, self.t_stop)
        span = self.t_end - self.t_open
        return 1.0 if span <= 0 or t >= self.t_end else max(0.0, (t - self.t_open) / span)


def _events(raw: list) -> frozenset[DestEvent]:
    evs = frozenset(DestEvent(e) if not isinstance(e, DestEvent) else e for e in raw)
    return evs or frozenset({DestEvent.FILES})


class Monitor:
    """The ``xrootd.monitor`` state of one server process (see module docstring)."""

    def __init__(self, cfg: MonitorConfig, dialect: Dialect, stod: int, sid: int, wire_base: float, ident_text: str,
                 t0: float = 0.0) -> None:  # fmt: skip
        self.cfg, self.dialect, self.stod, self.sid = cfg, dialect, stod, sid
        self.wire_base, self.t0 = wire_base, t0
        self.window_s = max(1, int(cfg.window_s))
        self.ident_text = ident_text
        self.masks = [_events(d.events) for d in cfg.dests]
        self.groups = [f"dest{d}" for d in range(len(self.masks))]
        self.pseq = [0] * len(self.masks)
        self._global_pseq = 0
        self.f_pseq = 0
        self.dictid = 0
        self.out: list[Emission] = []
        self.files: dict[int, MonFile] = {}
        self.fbuf: list[FileRecord] = []
        self.fsize = F_HEADER
        self.f_tbeg = 0
        self.fticks = 0
        self._cut_pending = False
        self.fdests = self._dests({DestEvent.FSTAT}) if cfg.fstat_s > 0 else []
        self.udests = self._dests({DestEvent.USER})
        self.ddests = self._dests(FILE_EVENTS)
        self.idests = self._dests({DestEvent.INFO})
        self.fmax = 65535 if dialect is Dialect.DCACHE else cfg.fbuff_bytes - 1
        self.trace = TraceStreams(cfg, self.masks, sid, self.window_at, self.next_tick, self._send_trace)
        self.tracing = bool(self.trace.iodests or self.trace.filedests)
        self.rdests = self._dests({DestEvent.REDIR})
        self.redir = RedirBuffers(redir_capacity(cfg.rbuff_bytes), self.window_s, cfg.rnums, self._send_redir)
        self.gdests = self._dests({DestEvent.TPC})
        self.tpc = GBuffer(gbuff_capacity(cfg.gbuff_bytes), self._send_tpc)

    def _dests(self, wanted: set | frozenset) -> list[int]:
        return [i for i, m in enumerate(self.masks) if m & wanted]

    def wire(self, t: float) -> int:
        """The wire time (unix seconds, skew included) of simulated time ``t``."""
        return int(self.wire_base + t)

    def window_at(self, t: float) -> int:
        """The monitor clock at ``t``: the wire time of its last tick, ticks every ``window``
        seconds from the incarnation's start (spec §5.3)."""
        w = self.window_s
        return int(self.wire_base + self.t0 + (t - self.t0) // w * w)

    def next_tick(self, t: float) -> float:
        """The simulated time of the monitor clock's next tick after ``t``."""
        w = self.window_s
        return self.t0 + ((t - self.t0) // w + 1) * w

    def next_dictid(self) -> int:
        """A fresh dictid from the process-wide counter (spec §2.5)."""
        self.dictid = (self.dictid + 1) & 0xFFFFFFFF
        return self.dictid

    def _pseq(self, dest: int) -> int:
        if self.dialect is Dialect.XROOTD_4:
            self._global_pseq = (self._global_pseq + 1) & 0xFF
            return self._global_pseq
        seq = self.pseq[dest]
        self.pseq[dest] = (seq + 1) & 0xFF
        return seq

    def _send_map(self, t: float, dests: list[int], code: int, dictid: int, text: str) -> None:
        text, letter, groups = text[:MAX_MAP_TEXT], chr(code), self.groups
        for d in dests:
            pseq = 0 if code == _EQ and self.dialect is Dialect.XROOTD_4 else self._pseq(d)
            self.out.append(Emission(t, d, groups[d], letter, pseq, encode(MapPacket(code, pseq, self.stod, dictid, text))))

    # ------------------------------------------------------------------ map records

    def ident(self, t: float) -> None:
        """Send ``=`` to every destination (start-up and every ``ident`` seconds)."""
        self._send_map(t, list(range(len(self.masks))), _EQ, 0, self.ident_text)

    def login(self, t: float, userid: str, info: str | None) -> MonSession:
        """A client logged in: ``u`` to the ``user`` dests (spec §3.4)."""
        user_dictid = 0
        if self.udests:
            user_dictid = self.next_dictid()
            self._send_map(t, self.udests, _U, user_dictid, userid if info is None else f"{userid}\n{info}")
        session = MonSession(userid, user_dictid, t)
        if self.tracing:
            self.trace.login(t, session)
        return session

    def app_info(self, t: float, session: MonSession, text: str) -> None:
        """``kXR_set monitor info``: an ``i`` record to the ``info`` dests (spec §3.5)."""
        if self.idests:
            self._send_map(t, self.idests, _I, self.next_dictid(), f"{session.userid}\n{text}")

    def open(self, t: float, session: MonSession, lfn: str, fsz: int, rw: bool, plan: IoPlan, t_end: float) -> MonFile:
        """A file opened: ``d`` when files/io is routed, f-stream OPEN (spec §3.5, §4.4)."""
        file_id = self.next_dictid()
        if self.ddests:
            self._send_map(t, self.ddests, _D, file_id, f"{session.userid}\n{lfn}")
        mf = MonFile(file_id, session, plan, t, t_end)
        if self.tracing:
            self.trace.open(t, mf, fsz)
        session.files[file_id] = mf
        self.files[file_id] = mf
        if self.fdests:
            padded = self.dialect is not Dialect.DCACHE  # the dCache plugin writes no NUL padding
            rec = FileOpen(file_id, fsz, rw, session.user_dictid, lfn, padded) if self.cfg.lfn else FileOpen(file_id, fsz, rw)
            self._frecord(t, rec)
        return mf

    def close(self, t: float, mf: MonFile, forced: bool = False) -> tuple[int, int, int]:
        """A file closed (``forced`` at disconnect): f-stream CLOSE; returns its byte totals."""
        totals, ops, ssq = mf.plan.close_at(mf.frac(t), explicit=not forced)
        if self.tracing:
            self.trace.close(t, mf, totals)
        self.files.pop(mf.file_id, None)
        mf.session.files.pop(mf.file_id, None)
        if self.fdests:
            cfg = self.cfg
            ops_out = ops if cfg.ops or cfg.ssq else None
            self._frecord(t, FileClose(mf.file_id, *totals, forced, ops_out, ssq if cfg.ssq else None))
        return totals

    def disconnect(self, t: float, session: MonSession) -> list[tuple[MonFile, tuple[int, int, int]]]:
        """Session end: forced CLOSE of each open file, then DISC (spec §4.7, §4.9)."""
        closed = [(mf, self.close(t, mf, forced=True)) for mf in list(session.files.values())]
        if self.fdests:
            self._frecord(t, FileDisc(session.user_dictid))
        if self.tracing:
            # Real 5.5.3: an xroot DISC has flags 0 even after forced closes (a SIGKILLed
            # client), an XrdHttp one always 0x01; seconds are whole-second clocks subtracted.
            flags = DiscFlag.FORCED if session.userid.startswith("http") else DiscFlag(0)
            self.trace.disconnect(t, session, flags, self.wire(t) - self.wire(session.t_login))
        return closed

    def unbind(self, t: float) -> None:
        """A client's bound data stream (xrdcp's second TCP stream) ended: an f DISC with user
        0, its link never having logged in; no t entry (real 5.5.3, the TPC pgm copy)."""
        if self.fdests:
            self._frecord(t, FileDisc(0))

    # ------------------------------------------------------------------ f-stream

    def _frecord(self, t: float, rec: FileRecord) -> None:
        size = record_size(rec)
        if self.fsize + size > self.fmax and self.fbuf:
            self._fflush(t, cut=True)
        if not self.fbuf and not self._cut_pending:
            self.f_tbeg = self.wire(t)
        self._cut_pending = False
        self.fbuf.append(rec)
        self.fsize += size

    def _fflush(self, t: float, cut: bool = False) -> None:
        t_end = self.wire(t)
        sid = None if self.dialect is Dialect.DCACHE else self.sid
        pkt = FstreamPacket(self.f_pseq, self.stod, make_tod(self.fbuf, self.f_tbeg, t_end, sid), self.fbuf)
        payload = encode(pkt)
        for d in self.fdests:
            self.out.append(Emission(t, d, "f", "f", self.f_pseq, payload))
        self.f_pseq = (self.f_pseq + 1) & 0xFF
        self.fbuf = []
        self.fsize = F_HEADER
        # A packet cut because it was full hands its tEnd on as the next tBeg (spec §4.3).
        self.f_tbeg = t_end
        self._cut_pending = cut

    def fstat_tick(self, t: float) -> None:
        """The fstat timer: XFR records every ``xfr`` ticks for active files, then flush."""
        self.fticks += 1
        dcache = self.dialect is Dialect.DCACHE
        if self.fdests and (dcache or (self.cfg.xfr and self.fticks % self.cfg.xfr == 0)):
            for mf in list(self.files.values()):
                now = mf.plan.xfr_at(mf.frac(t))
                if dcache or now != mf.last_xfr:
                    mf.last_xfr = now
                    self._frecord(t, FileXfr(mf.file_id, *now))
        if self.fbuf:
            self._fflush(t)

    # ------------------------------------------------------------------ t, r, g streams

    def _send_trace(self, t: float, dests: list[int], entries: list) -> None:
        for d in dests:
            pseq = self._pseq(d)
            self.out.append(Emission(t, d, self.groups[d], "t", pseq, encode(TracePacket(pseq, self.stod, entries))))

    def redirect(self, t: float, session: MonSession, op: int, host: str, port: int, path: str,
                 kind: RedirKind = RedirKind.REDIRECT) -> None:
        """A client was redirected to ``host:port`` for ``path``: REDIRECT record (spec §6), or
        REDLOCAL when a data server sends away an open of a file it does not have."""
        if self.rdests:
            self.redir.add(Redirect(kind, op, port, session.user_dictid, host, path), self.window_at(t), t)

    def _send_redir(self, t: float, slots: list) -> None:
        for d in self.rdests:
            pseq = self._pseq(d)
            self.out.append(Emission(t, d, self.groups[d], "r", pseq, encode(RedirPacket(pseq, self.stod, self.sid, slots))))

    def tpc_done(self, t: float, record: str) -> None:
        """A third-party copy ended here: its ``P`` record into the TPC g-stream (spec §7.3)."""
        if self.gdests:
            self.tpc.add(record, self.wire(t), t)

    def _send_tpc(self, t: float, pseq: int, t_beg: int, t_end: int, records: list) -> None:
        payload = encode(GStreamPacket(pseq, self.stod, t_beg, t_end, GProvider.TPC, self.sid, records))
        for d in self.gdests:
            self.out.append(Emission(t, d, "g:P", "g", pseq, payload))

    def flush_tick(self, t: float, aged: bool = True) -> None:
        """The ``flush`` timer: the shared t buffer, and the r buffers and the g-stream once
        their records are a whole ``flush`` old (``aged`` False: everything, at a stop)."""
        age = self.cfg.flush_s if aged else 0.0
        self.trace.flush_shared(t)
        self.redir.flush(self.window_at(t), t, age)
        self.tpc.flush(t, age)

    def io_tick(self, t: float) -> None:
        """Bring every session buffer up to ``t``, so ``flush io`` and full buffers are sent
        within a window of when XRootD would send them."""
        for session in {id(mf.session): mf.session for mf in self.files.values() if mf.session.trace}.values():
            self.trace.catch_up(t, session)

    def stop(self, t: float) -> None:
        """The process stops (restart, end of run): every pending shared buffer goes out."""
        if self.fbuf:
            self.fstat_tick(t)
        self.flush_tick(t, aged=False)

    def drain(self) -> list[Emission]:
        """Take the packets produced so far."""
        out, self.out = self.out, []
        return out


__all__ = ["Emission", "MonFile", "MonSession", "Monitor"]
