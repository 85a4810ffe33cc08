"""Per-incarnation state (maps scoped to one server process: users, paths, open files,
t-stream files, counter groups) and the collector-wide table budget (spec §2.4–2.6, §9.1).

Plain containers; the stream modules change them, ``core`` owns them. Tables that lose
their oldest entries are ``OrderedDict``s ordered by last news: a plain dict emptied from the
front makes ``next(iter(d))`` walk its dead slots (quadratic under eviction).

Tables that hold text from the wire are ``SizedTable``s: besides their entry count they sum
the bytes of what they hold into a ``Budget`` shared by every incarnation (``max_*_bytes``),
because a bound in entries alone lets one 60 kB path per entry make ``max_paths`` worth 11 GB.
"""

from __future__ import annotations


from collections import OrderedDict
from operator import attrgetter

from typing import TYPE_CHECKING

from collector.config import CollectorConfig
from collector.sequence import SeqGroup
from collector.users import UserInfo

if TYPE_CHECKING:
    from collector.records import TransferRecord


_MISSING = object()
#: Recent f payloads remembered per incarnation: copies to two destinations arrive together.
F_DIGESTS = 1024
_od_setitem, _od_pop = OrderedDict.__setitem__, OrderedDict.pop
_str_size = len  # text bytes (ASCII in practice); the object overhead is in ENTRY_BYTES


class Budget:
    """Bytes held by one kind of table over every incarnation, and their bound. ``alarm``
    is the ``Tables`` told when a budget is exceeded (``core`` then evicts)."""

    __slots__ = ("name", "used", "limit", "alarm")

    def __init__(self, name: str, limit: int, alarm: Tables | None = None) -> None:
        self.name, self.used, self.limit, self.alarm = name, 0, limit, alarm

    def add(self, n: int) -> None:
        """Account ``n`` more bytes (negative: released)."""
        self.used += n
        if self.used > self.limit and self.alarm is not None:
            self.alarm.over = True


class RecentKeys:
    """The last ``size`` keys added, each with a value: a ring of the keys beside a plain dict,
    so the oldest leaves in one step. Half the bytes of an ``OrderedDict`` per entry (no
    linked node), for a table that is always full and turns over with every datagram."""

    __slots__ = ("size", "ring", "at", "values")

    def __init__(self, size: int) -> None:
        self.size, self.ring, self.at = size, [], 0
        self.values: dict = {}

    def get(self, key: object) -> object | None:
        """The value of ``key``, None when it is not among the last ``size``."""
        return self.values.get(key)

    def add(self, key: object, value: object) -> None:
        """Add ``key`` (not held: ``get`` first), the oldest leaving when full."""
        if len(self.ring) < self.size:
            self.ring.append(key)
        else:
            del self.values[self.ring[self.at]]
            self.ring[self.at] = key
            self.at = (self.at + 1) % self.size
        self.values[key] = value

    def __len__(self) -> int:
        return len(self.values)


class SizedTable(OrderedDict):
    """An ``OrderedDict`` whose entries' sizes (``size_of(key, value)``, bytes) are summed in
    ``budget``. A value changed in place is re-accounted with ``resized``. Each entry's size
    is computed once, when it is stored, and kept beside it (``_sizes``): removing an entry
    costs a dict pop, not a second walk over its text (these tables sit on the f-stream's path)."""

    def __init__(self, budget: Budget | None = None, size_of=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.budget, self.size_of = budget, size_of  # None while unpickling: the budget is restored as saved
        self._sizes: dict = {}

    # The budget's ``add`` is inlined below: these run several times per f record.
    def __setitem__(self, key, value) -> None:  # type: ignore[no-untyped-def]
        size_of = self.size_of
        if size_of is not None:
            sizes = self._sizes
            new = size_of(key, value)
            old = sizes.get(key, 0)
            sizes[key] = new
            budget = self.budget
            if budget is not None:
                budget.used += new - old
                if budget.used > budget.limit and budget.alarm is not None:
                    budget.alarm.over = True
        _od_setitem(self, key, value)

    def __delitem__(self, key) -> None:  # type: ignore[no-untyped-def]
        self.pop(key)  # KeyError when absent, as ``del`` raises it

    def pop(self, key, default=_MISSING):  # type: ignore[no-untyped-def, override]
        value = _od_pop(self, key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        budget = self.budget
        if budget is not None:
            budget.used -= self._sizes.pop(key, 0)
            if budget.used > budget.limit and budget.alarm is not None:  # as ``Budget.add`` does
                budget.alarm.over = True
        else:
            self._sizes.pop(key, None)
        return value

    def popitem(self, last: bool = True):  # type: ignore[no-untyped-def, override]
        if not self:
            raise KeyError("popitem(): table is empty")
        key = next(reversed(self)) if last else next(iter(self))
        return key, self.pop(key)

    def clear(self) -> None:
        if self.budget is not None:
            self.budget.add(-sum(self._sizes.values()))
        self._sizes.clear()
        OrderedDict.clear(self)

    def resized(self, key, value, before: int) -> None:  # type: ignore[no-untyped-def]
        """``value``, held at ``key``, was changed in place (``before``: its size then)."""
        if self.size_of is not None and OrderedDict.get(self, key) is value:
            new = self.size_of(key, value)
            old = self._sizes.get(key, before)
            self._sizes[key] = new
            if self.budget is not None:
                self.budget.add(new - old)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (SizedTable, (), {"budget": self.budget, "size_of": self.size_of}, None, iter(list(self.items())))

    def __setstate__(self, state: dict) -> None:
        # pickle stores the items (without a size_of, so unaccounted) before this state:
        # account their sizes now, the budget itself comes back as it was saved
        self.__dict__.update(state)
        if self.size_of is not None:
            self._sizes = {k: self.size_of(k, v) for k, v in self.items()}


#: Fixed bytes of one entry (dict slot, int key, the value's object and tuple, each str's
#: header) beside its text.
ENTRY_BYTES = 300
USER_BYTES = 400  # a UserInfo: 17 slots, its file set when empty


def path_size(key: object, value: tuple[str, str]) -> int:
    """Bytes of a ``paths`` entry: (path, userid text)."""
    return ENTRY_BYTES + _str_size(value[0]) + _str_size(value[1])


def key_size(key: str, value: object) -> int:
    """Bytes of an entry whose text is its key (``tpc_paths``)."""
    return ENTRY_BYTES + _str_size(key)


def open_size(key: object, of: OpenFile) -> int:
    """Bytes of an open (or expired) file: its path."""
    return ENTRY_BYTES + _str_size(of.lfn)


_USER_TEXT = ("userid_text", "user", "user_dn", "vo", "role", "client_host", "client_ip", "protocol",
              "app_info", "auth_protocol", "token_subject", "experiment", "activity")  # fmt: skip


_user_text = attrgetter(*_USER_TEXT)


def user_size(key: object, user: UserInfo) -> int:
    """Bytes of a session: its text fields (files are bounded by ``max_open_files``)."""
    return USER_BYTES + sum(map(_str_size, _user_text(user)))


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
        "key", "identity", "sid", "sid_mark", "stod", "ip", "site", "host", "port", "inst", "pgm", "ver",
        "users", "uid_index", "paths", "open_files", "t_files", "t_held", "t_done",
        "f_closed", "f_seen", "f_digests", "t_first", "f_epoch", "groups", "last_seen", "ended",
        "disc", "tpc_paths", "sockets", "t_seen", "t_io", "m_epoch", "orphans", "expired", "due", "news",
    )  # fmt: skip

    def __init__(self, identity: str, stod: int, ip: str, t: float, tables: Tables | None = None) -> None:
        self.key = f"{identity}#{stod}"
        self.identity, self.stod, self.ip = identity, stod, ip
        self.sid = 0  # the 48-bit server id, 0 for a server known by its sender address
        self.sid_mark = ""  # ":<sid>@", as the userids of its map records carry it
        self.site = self.host = self.inst = self.pgm = self.ver = ""
        self.port = 0
        b = tables.budgets if tables is not None else {}
        self.users: OrderedDict[int, UserInfo] = SizedTable(b.get("sessions"), user_size)
        self.uid_index: dict[str, UserInfo] = {}
        self.paths: OrderedDict[int, tuple[str, str]] = SizedTable(b.get("paths"), path_size)  # file dictid -> (path, userid text)
        self.open_files: OrderedDict[int, OpenFile] = SizedTable(b.get("open_files"), open_size)
        self.t_files: OrderedDict[int, TraceFile] = OrderedDict()
        self.t_held: OrderedDict[int, float] = OrderedDict()  # t-closed fid -> when to stop waiting (f-stream, late I/O)
        self.t_done: OrderedDict[int, bool] = OrderedDict()  # fids whose t side is over -> recorded from t (bounded)
        self.f_closed: OrderedDict[int, TransferRecord] = OrderedDict()  # f records waiting for their t side
        self.f_seen = False
        self.f_digests = RecentKeys(F_DIGESTS)  # recent f payload digests -> sender (f sent to two dests)
        self.t_first = t
        self.f_epoch = 0  # pseq gaps seen in the f group (records compare it at OPEN and CLOSE)
        self.m_epoch = 0  # the same for the shared map/t/r group (t-stream records)
        self.t_seen = False
        self.t_io = False  # the t-stream carries I/O entries (an ``io`` dest), so its sums mean something
        self.expired: OrderedDict[int, OpenFile] = SizedTable(b.get("open_files"), open_size)  # files recorded before their CLOSE (bounded)
        self.orphans: OrderedDict[int, None] = OrderedDict()  # fids recorded close_without_open (bounded)
        self.groups: OrderedDict[tuple[tuple[str, int], str], SeqGroup] = OrderedDict()  # by last use
        self.last_seen = t
        self.ended = False
        self.disc: OrderedDict[int, float] = OrderedDict()  # user dictid -> when its DISC grace ends
        self.tpc_paths: OrderedDict[str, None] = SizedTable(b.get("paths"), key_size)  # paths the TPC g-stream reported (bounded)
        self.sockets: set[tuple[str, int, int]] = set()  # (ip, port, stod) routed here
        self.due = float("inf")  # when the expiry must look at it next (``expiry.next_deadline``)
        self.news = 0  # its place in ``Tables.servers`` (a serial bumped at each move to the end)

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


def max_deadlines(max_servers: int) -> int:
    """Bound of the expiry heap: one live entry per incarnation, as many superseded."""
    return 2 * max_servers + 64


class Tables:
    """The collector-wide view of bounded state: every incarnation (ordered by last news),
    the table totals the ``max_*`` bounds apply to, and the byte budgets of the tables that
    hold text (``over`` once one is exceeded, until ``bounds.enforce`` brought it back)."""

    __slots__ = ("cfg", "servers", "n_open", "n_sessions", "n_paths", "n_trace", "n_expired", "evicted", "budgets", "over",
                 "deadlines", "touched", "serial")  # fmt: skip

    def __init__(self, cfg: CollectorConfig) -> None:
        self.cfg = cfg
        self.servers: OrderedDict[tuple[str, int], ServerState] = OrderedDict()
        # The expiry's schedule (``collector.expiry``): a heap of (due, serial, server), one
        # live entry per incarnation plus superseded ones (rebuilt past twice the servers),
        # and the incarnations changed since the last flush, whose due time is recomputed.
        self.deadlines: list[tuple[float, int, ServerState]] = []
        self.touched: dict[ServerState, None] = {}
        self.serial = 0
        self.n_open = self.n_sessions = self.n_paths = self.n_trace = self.n_expired = 0
        self.evicted = {"open_files": 0, "sessions": 0, "paths": 0, "trace_files": 0, "servers": 0, "expired_files": 0,
                        "tpc_paths": 0, "counter_groups": 0, "summary_series": 0, "text_truncated": 0}  # fmt: skip
        self.over = False
        self.budgets = {
            "paths": Budget("paths", cfg.max_path_bytes, self),
            "sessions": Budget("sessions", cfg.max_session_bytes, self),
            "open_files": Budget("open_files", cfg.max_open_bytes, self),
        }

    def next_serial(self) -> int:
        """A number larger than every one handed out before (orders news and heap entries)."""
        self.serial += 1
        return self.serial

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
            "deadlines": len(self.deadlines),
            "path_bytes": self.budgets["paths"].used,
            "session_bytes": self.budgets["sessions"].used,
            "open_file_bytes": self.budgets["open_files"].used,
        }

    def bounds(self) -> dict[str, int]:
        """Every table bound, in entries and in bytes (for ``report()`` readers and bench)."""
        cfg = self.cfg
        return {
            "max_servers": cfg.max_servers, "max_open_files": cfg.max_open_files, "max_sessions": cfg.max_sessions,
            "max_paths": cfg.max_paths, "max_expired_files": cfg.max_expired_files,
            "max_counter_groups": cfg.max_counter_groups, "max_summary_series": cfg.max_summary_series,
            "max_text_bytes": cfg.max_text_bytes, "max_path_bytes": cfg.max_path_bytes,
            "max_session_bytes": cfg.max_session_bytes, "max_open_bytes": cfg.max_open_bytes,
            "max_deadlines": max_deadlines(cfg.max_servers),
        }  # fmt: skip
