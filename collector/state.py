"""Per-incarnation state (maps scoped to one server process: users, paths, open files,
t-stream files, counter groups) and the collector-wide table budget (spec §2.4–2.6, §9.1).

Plain containers; the stream modules change them, ``core`` owns them. Tables that lose
their oldest entries are ``OrderedDict``s ordered by last news: a plain dict emptied from the
front makes ``next(iter(d))`` walk its dead slots (quadratic under eviction).
"""

from __future__ import annotations

from collections import OrderedDict

from typing import TYPE_CHECKING

from collector.config import CollectorConfig
from collector.sequence import SeqGroup
from collector.users import UserInfo

if TYPE_CHECKING:
    from collector.records import TransferRecord


class OpenFile:
    """An f-stream OPEN waiting for its CLOSE: size, path, user, latest XFR counters."""

    __slots__ = ("file_id", "lfn", "size", "user", "rw", "t_open", "t_event", "t_last", "read", "readv", "write", "epoch", "revision")

    def __init__(self, file_id: int, lfn: str, size: int, user: int, rw: bool, t_open: float | None, t_last: float, epoch: int) -> None:
        self.file_id, self.lfn, self.size, self.user, self.rw = file_id, lfn, size, user, rw
        self.t_open = self.t_event = t_open
        self.t_last = t_last
        self.read = self.readv = self.write = 0
        self.epoch = epoch
        self.revision = 0  # records of this transfer already emitted (timeout, forced close, eviction)


class TraceFile:
    """A file as the t-stream tells it (spec §5): OPEN size, I/O aggregated, CLOSE totals."""

    __slots__ = (
        "file_id", "size", "t_open", "t_event", "t_last", "read", "readv", "write",
        "read_ops", "readv_ops", "write_ops", "rsegs", "rd_min", "rd_max", "rv_min", "rv_max",
        "wr_min", "wr_max", "rd_ssq", "rv_ssq", "wr_ssq", "close_read", "close_write",
        "close_precision", "closed", "closes", "epoch",
    )  # fmt: skip

    def __init__(self, file_id: int, size: int, t_open: float | None, t_last: float, epoch: int) -> None:
        self.file_id, self.size, self.t_open, self.t_event, self.t_last = file_id, size, t_open, t_open, t_last
        self.read = self.readv = self.write = self.read_ops = self.readv_ops = self.write_ops = self.rsegs = 0
        self.rd_min = self.rv_min = self.wr_min = 1 << 62
        self.rd_max = self.rv_max = self.wr_max = 0
        self.rd_ssq = self.rv_ssq = self.wr_ssq = 0.0
        self.close_read: int | None = None
        self.close_write: int | None = None
        self.close_precision = (1, 1)
        self.closed = False
        self.closes = 0  # t CLOSE entries seen: the session's io buffer and the shared files buffer each send one
        self.epoch = epoch

    def io_totals(self) -> tuple[int, int]:
        """(read + readv, write) summed from the I/O entries."""
        return self.read + self.readv, self.write


class ServerState:
    """One server incarnation: identity (sid or sender IP) + stod, ident fields, and every
    dictid map of that process life (spec §2.5: dictids restart with the process)."""

    __slots__ = (
        "key", "identity", "sid", "stod", "ip", "site", "host", "port", "inst", "pgm", "ver",
        "users", "uid_index", "paths", "open_files", "t_files", "t_held", "t_done",
        "f_closed", "f_seen", "f_digests", "t_first", "f_epoch", "groups", "last_seen", "ended",
        "disc", "tpc_paths", "sockets", "t_seen", "t_io", "m_epoch", "orphans", "expired",
    )  # fmt: skip

    def __init__(self, identity: str, stod: int, ip: str, t: float) -> None:
        self.key = f"{identity}#{stod}"
        self.identity, self.stod, self.ip = identity, stod, ip
        self.sid = 0  # the 48-bit server id, 0 for a server known by its sender address
        self.site = self.host = self.inst = self.pgm = self.ver = ""
        self.port = 0
        self.users: OrderedDict[int, UserInfo] = OrderedDict()
        self.uid_index: dict[str, UserInfo] = {}
        self.paths: OrderedDict[int, tuple[str, str]] = OrderedDict()  # file dictid -> (path, userid text)
        self.open_files: OrderedDict[int, OpenFile] = OrderedDict()
        self.t_files: OrderedDict[int, TraceFile] = OrderedDict()
        self.t_held: OrderedDict[int, float] = OrderedDict()  # t-closed fid -> when to stop waiting (f-stream, late I/O)
        self.t_done: OrderedDict[int, bool] = OrderedDict()  # fids whose t side is over -> recorded from t (bounded)
        self.f_closed: OrderedDict[int, TransferRecord] = OrderedDict()  # f records waiting for their t side
        self.f_seen = False
        self.f_digests: OrderedDict[bytes, tuple[str, int]] = OrderedDict()  # recent f payload digests -> sender (f sent to two dests)
        self.t_first = t
        self.f_epoch = 0  # pseq gaps seen in the f group (records compare it at OPEN and CLOSE)
        self.m_epoch = 0  # the same for the shared map/t/r group (t-stream records)
        self.t_seen = False
        self.t_io = False  # the t-stream carries I/O entries (an ``io`` dest), so its sums mean something
        self.expired: OrderedDict[int, OpenFile] = OrderedDict()  # files recorded before their CLOSE (bounded)
        self.orphans: OrderedDict[int, None] = OrderedDict()  # fids recorded close_without_open (bounded)
        self.groups: dict[tuple[tuple[str, int], str], SeqGroup] = {}
        self.last_seen = t
        self.ended = False
        self.disc: OrderedDict[int, float] = OrderedDict()  # user dictid -> when its DISC grace ends
        self.tpc_paths: OrderedDict[str, None] = OrderedDict()  # paths the TPC g-stream reported (bounded)
        self.sockets: set[tuple[str, int, int]] = set()  # (ip, port, stod) routed here

    def user_for(self, user_dictid: int, file_id: int) -> UserInfo | None:
        """The session of a file: its OPEN's user dictid, else the ``d`` record's userid."""
        user = self.users.get(user_dictid) if user_dictid else None
        if user is not None:
            return user
        path = self.paths.get(file_id)
        if path is None or not path[1]:
            return None
        return self.uid_index.get(path[1]) or UserInfo(0, path[1], self.last_seen)

    def end_session(self, user: int, t: float, grace: float) -> None:
        """A DISC: the session's maps stay ``grace`` seconds more for late packets."""
        if user and user in self.users and user not in self.disc:
            self.disc[user] = t + grace

    def group(self, socket: tuple[str, int], name: str, cfg: CollectorConfig) -> SeqGroup:
        """The counter group ``name`` of datagrams from ``socket`` (created on first use)."""
        grp = self.groups.get((socket, name))
        if grp is None:
            grp = self.groups[(socket, name)] = SeqGroup(cfg.reorder_count, cfg.reorder_seconds, cfg.dup_window)
        return grp


class Tables:
    """The collector-wide view of bounded state: every incarnation and the table totals
    the ``max_*`` bounds apply to."""

    __slots__ = ("cfg", "servers", "n_open", "n_sessions", "n_paths", "n_trace", "n_expired", "evicted")

    def __init__(self, cfg: CollectorConfig) -> None:
        self.cfg = cfg
        self.servers: dict[tuple[str, int], ServerState] = {}
        self.n_open = self.n_sessions = self.n_paths = self.n_trace = self.n_expired = 0
        self.evicted = {"open_files": 0, "sessions": 0, "paths": 0, "trace_files": 0, "servers": 0, "expired_files": 0}

    def fullest(self, table: str) -> ServerState | None:
        """The incarnation holding most entries of ``table`` (eviction of last resort)."""
        best, size = None, 0
        for server in self.servers.values():
            n = len(getattr(server, table))
            if n > size:
                best, size = server, n
        return best

    def sizes(self) -> dict[str, int]:
        """Size of every table, for ``report()``."""
        servers = self.servers.values()
        return {
            "servers": len(self.servers),
            "open_files": self.n_open,
            "sessions": self.n_sessions,
            "paths": self.n_paths,
            "trace_files": self.n_trace,
            "t_held": sum(len(s.t_held) for s in servers),
            "f_awaiting_t": sum(len(s.f_closed) for s in servers),
            "expired_files": self.n_expired,
            "counter_groups": sum(len(s.groups) for s in servers),
        }
