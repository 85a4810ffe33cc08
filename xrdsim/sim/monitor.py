"""XRootD's monitoring emitter as a SimPy-free state object (spec §1–§4, §10, §11).

One per server incarnation: the process-wide dictid counter, pseq counter groups per
destination (f its own), ``=`` idents, ``u``/``i``/``d`` map records, and the shared
f-stream buffer with its fstat flush, fbuff cut, TOD counts and XFR cadence. Callers tell
it what happened at simulated time ``t``; packets pile up in ``out`` for the caller to send.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xrdsim.sim.config import DestEvent, MonitorConfig
from xrdsim.sim.iostats import IoPlan
from xrdsim.wire import (
    Dialect,
    FileClose,
    FileDisc,
    FileOpen,
    FileRecord,
    FileXfr,
    FstreamPacket,
    MapPacket,
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

    def __init__(self, cfg: MonitorConfig, dialect: Dialect, stod: int, sid: int, wire_base: float, ident_text: str) -> None:
        self.cfg, self.dialect, self.stod, self.sid = cfg, dialect, stod, sid
        self.wire_base = wire_base
        self.ident_text = ident_text
        self.masks = [_events(d.events) for d in cfg.dests]
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

    def _dests(self, wanted: set | frozenset) -> list[int]:
        return [i for i, m in enumerate(self.masks) if m & wanted]

    def wire(self, t: float) -> int:
        """The wire time (unix seconds, skew included) of simulated time ``t``."""
        return int(self.wire_base + t)

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
        text = text[:MAX_MAP_TEXT]
        for d in dests:
            pseq = 0 if code == _EQ and self.dialect is Dialect.XROOTD_4 else self._pseq(d)
            payload = encode(MapPacket(code, pseq, self.stod, dictid, text))
            self.out.append(Emission(t, d, f"dest{d}", chr(code), pseq, payload))

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
        return MonSession(userid, user_dictid, t)

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
        session.files[file_id] = mf
        self.files[file_id] = mf
        if self.fdests:
            rec = FileOpen(file_id, fsz, rw, session.user_dictid, lfn) if self.cfg.lfn else FileOpen(file_id, fsz, rw)
            self._frecord(t, rec)
        return mf

    def close(self, t: float, mf: MonFile, forced: bool = False) -> tuple[int, int, int]:
        """A file closed (``forced`` at disconnect): f-stream CLOSE; returns its byte totals."""
        self.files.pop(mf.file_id, None)
        mf.session.files.pop(mf.file_id, None)
        totals, ops, ssq = mf.plan.close_at(mf.frac(t), explicit=not forced)
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
        return closed

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

    def drain(self) -> list[Emission]:
        """Take the packets produced so far."""
        out, self.out = self.out, []
        return out


__all__ = ["Emission", "MonFile", "MonSession", "Monitor"]
