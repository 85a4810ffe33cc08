"""XRootD's t-stream buffers as SimPy-free state (spec §1.6, §5.1–§5.4). ``TraceBuffer``:
WINDOW marks, flush when full, on ``flush io`` age and on demand. ``TraceStreams``: a buffer
per client session for ``io``/``iov`` dests, one shared buffer for ``files`` dests; finished
packets go to a ``send`` callback as entry lists. Never encodes.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Callable

from xrdsim.sim.config import DestEvent, MonitorConfig
from xrdsim.sim.traceio import IoCursor
from xrdsim.wire import DiscFlag, TraceDisc, TraceOpen, TraceWindow, encode_trace_close

if TYPE_CHECKING:
    from xrdsim.sim.monitor import MonFile, MonSession

#: ``send(t_send, entries)``: a full packet body, first and last entry WINDOW marks.
TraceSend = Callable[[float, list], None]
#: A mark is not added with fewer free slots than this; the buffer is flushed instead (§5.4).
MARK_ROOM = 8


def trace_capacity(mbuff_bytes: int) -> int:
    """Entries per t packet, both WINDOW marks included: ``mbuff`` rounded down to a multiple
    of 16 and at least 1024, less the 8-byte header, in 16-byte entries (spec §1.2, §1.6)."""
    mbuff = max(1024, mbuff_bytes & ~15)
    return (mbuff - 8) // 16


class TraceBuffer:
    """One t buffer. Window values are the monitor clock's integer wire times.

    ``flush_age`` (``flush io``, 0 = off) flushes when a record arrives in a window at least
    that much younger than the buffer's first one. ``prev`` is the previous-window field of
    the opening mark: the shared buffer is built at start-up with 0 there (real 5.5.3 capture:
    its first packet opens with WINDOW(0, start of the first record's window)).
    """

    __slots__ = ("cap", "entries", "first_window", "flush_age", "last_window", "send", "sid", "window_s")

    def __init__(self, sid: int, cap: int, window_s: int, flush_age: int, send: TraceSend, window: int, prev: int | None = None) -> None:
        self.sid, self.cap, self.window_s, self.flush_age, self.send = sid, cap, window_s, flush_age, send
        self._reset(window, window if prev is None else prev)

    def _reset(self, window: int, prev: int) -> None:
        self.entries: list = [TraceWindow(self.sid, prev, window)]
        self.last_window = self.first_window = window

    def __len__(self) -> int:
        return len(self.entries)

    def has_records(self) -> bool:
        """True when something besides the opening mark is buffered."""
        return len(self.entries) > 1

    def add(self, entries: list, window: int, t_send: float) -> None:
        """Append ``entries`` (kept in one packet: a READU with its segment READs) made in
        ``window``; a flush it causes is sent at ``t_send``."""
        if window != self.last_window:
            self._mark(window, t_send)
        if len(self.entries) + len(entries) > self.cap - 1:
            self.flush(window, t_send)
        self.entries.extend(entries)

    def _mark(self, window: int, t_send: float) -> None:
        last = self.entries[-1]
        if self.flush_age and window - self.first_window >= self.flush_age:
            self.flush(window, t_send)
        elif type(last) is TraceWindow:
            last.next_start = window
        elif len(self.entries) + MARK_ROOM > self.cap:
            self.flush(window, t_send)
        else:
            self.entries.append(TraceWindow(self.sid, self.last_window + self.window_s, window))
        self.last_window = window

    def flush(self, window: int, t_send: float) -> None:
        """Send what is buffered, closed by a mark at the end of the last window used; the
        next packet opens with a mark at ``window`` (the monitor clock now)."""
        if len(self.entries) <= 1:
            return
        end = self.last_window + self.window_s
        self.entries.append(TraceWindow(self.sid, end, end))
        self.send(t_send, self.entries)
        self._reset(window, window)


IO_EVENTS = frozenset({DestEvent.IO, DestEvent.IOV})
_when = itemgetter(0)


class TraceStreams:
    """The t-stream of one server process: who gets which buffer and what goes in it.

    With ``io``/``iov`` each session's buffer holds OPEN, the I/O the model really did
    (``traceio``), CLOSE, and DISC when an io dest also has ``user``; it is sent when full,
    on ``flush io`` age and at session end. With ``files`` one shared buffer holds OPEN,
    CLOSE and, when any dest has ``user``, DISC; it is sent when full and on the ``flush``
    timer. Both are what the real 5.5.3 capture shows on its ``files io iov`` dest, where
    only the shared buffer carries DISC. ``window(t)`` is the monitor clock, ``next_tick(t)``
    the simulated time it next moves.
    """

    def __init__(self, cfg: MonitorConfig, masks: list[frozenset], sid: int, window: Callable[[float], int],
                 next_tick: Callable[[float], float], send: Callable[[float, list[int], list], None]) -> None:  # fmt: skip
        self.iodests = [i for i, m in enumerate(masks) if m & IO_EVENTS]
        self.filedests = [i for i, m in enumerate(masks) if DestEvent.FILES in m]
        self.iov = any(DestEvent.IOV in masks[i] for i in self.iodests)
        self.io_disc = any(DestEvent.USER in masks[i] for i in self.iodests)
        self.disc = any(DestEvent.USER in m for m in masks)
        self.sid, self.cfg, self.window, self.next_tick, self.send = sid, cfg, window, next_tick, send
        self.cap = trace_capacity(cfg.mbuff_bytes)
        self.window_s = max(1, int(cfg.window_s))
        self.shared = TraceBuffer(sid, self.cap, self.window_s, 0, self._to(self.filedests), 0, 0) if self.filedests else None

    def _to(self, dests: list[int]) -> TraceSend:
        return lambda t, entries: self.send(t, dests, entries)

    def login(self, t: float, session: "MonSession") -> None:
        """A session starts: its own buffer when an io dest exists."""
        if self.iodests:
            session.trace = TraceBuffer(self.sid, self.cap, self.window_s, int(self.cfg.flush_io_s),
                                        self._to(self.iodests), self.window(t))

    def open(self, t: float, mf: "MonFile", fsz: int) -> None:
        """OPEN into both buffers; the file's I/O entries become due from now on."""
        entry, w, buf = TraceOpen(fsz, mf.file_id), self.window(t), mf.session.trace
        if buf is not None:
            self.catch_up(t, mf.session)
            buf.add([entry], w, t)
            make = getattr(mf.plan, "cursor", None)  # a scripted file's requests (``liveio``)
            mf.io = make(mf.file_id, self.iov, mf.session.next_readv_seq) if make else IoCursor(
                mf.plan, mf.file_id, fsz, mf.t_open, mf.t_end, self.cfg.io_entries_cap, self.iov, self.cap - 3,
                mf.session.next_readv_seq)
        if self.shared is not None:
            self.shared.add([TraceOpen(fsz, mf.file_id)], w, t)

    def close(self, t: float, mf: "MonFile", totals: tuple[int, int, int]) -> None:
        """The file's remaining I/O, then CLOSE with the f-stream's totals, shifted (§5.2)."""
        w, buf = self.window(t), mf.session.trace
        if buf is not None:
            self.catch_up(t, mf.session)
            mf.io = None
            buf.add([encode_trace_close(mf.file_id, totals[0] + totals[1], totals[2])], w, t)
        if self.shared is not None:
            self.shared.add([encode_trace_close(mf.file_id, totals[0] + totals[1], totals[2])], w, t)

    def disconnect(self, t: float, session: "MonSession", flags: DiscFlag, seconds: int) -> None:
        """Session end (after its forced closes): DISC where ``user`` asks, session buffer sent."""
        w, buf = self.window(t), session.trace
        if buf is not None:
            if self.io_disc:
                buf.add([TraceDisc(flags, seconds, session.user_dictid)], w, t)
            buf.flush(w, t)
            session.trace = None
        if self.shared is not None and self.disc:
            self.shared.add([TraceDisc(flags, seconds, session.user_dictid)], w, t)

    def catch_up(self, t: float, session: "MonSession") -> None:
        """Move the I/O entries due by ``t`` of every open file of ``session`` into its
        buffer, in completion order, each in the window it completed in."""
        due = [d for mf in session.files.values() if mf.io is not None for d in mf.io.due(mf.frac(t), t)]
        due.sort(key=_when)
        add, window, w, w_until = session.trace.add, self.window, 0, -1.0
        for t_done, entries in due:
            if t_done >= w_until:  # times ascend: a new window only past the next tick
                w, w_until = window(t_done), self.next_tick(t_done)
            add(entries, w, t)

    def flush_shared(self, t: float) -> None:
        """The ``flush`` timer: send the shared buffer if it holds records."""
        if self.shared is not None:
            self.shared.flush(self.window(t), t)


__all__ = ["IO_EVENTS", "MARK_ROOM", "TraceBuffer", "TraceSend", "TraceStreams", "trace_capacity"]
