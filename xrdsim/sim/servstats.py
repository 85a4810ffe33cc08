"""The summary counters besides ``link`` that move on a real server (spec §8.2), as a plain
state object the server bumps: buffer pool, poller, xrootd logins and request counts,
errors, and the ``oss`` block of the exported path. Measured on Debian's 5.5.3: XrdHttp
requests go through the xroot bridge and count in ``xrootd.ops`` and ``xrootd.num``; only
xroot logins count in ``lgn``. Values are a model; which counters move is XRootD's.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

#: The ``oss`` path record of a 1 TB export (sizes in KiB, as XRootD reports them).
OSS_TOTAL_KIB = 1 << 30
OSS_INODES = 1 << 24
BUFF_MIN = 4096


@dataclass(slots=True)
class ServerStats:
    """Counters one server incarnation accumulates for its summary reports."""

    sessions: int = 0
    logins: int = 0
    auth_logins: int = 0
    opens: int = 0
    reads: int = 0
    readvs: int = 0
    readv_segs: int = 0
    writes: int = 0
    misc: int = 0
    errors: int = 0
    buff_reqs: int = 0
    buffs: int = 0
    buff_mem: int = 0
    written_kib: int = 0
    syncs: int = 0
    tpc_grants: int = 0
    later: list[tuple[float, int, str, int, int]] = field(default_factory=list)  # requests not yet issued

    def request_at(self, t: float, kind: str, nbytes: int, segs: int = 0) -> None:
        """A request a burst will issue at ``t``: counted when a report reaches ``t``."""
        heapq.heappush(self.later, (t, len(self.later), kind, nbytes, segs))

    def settle(self, t: float) -> None:
        """Count every request issued by ``t``."""
        later = self.later
        while later and later[0][0] <= t:
            _, _, kind, nbytes, segs = heapq.heappop(later)
            self.request(kind, nbytes, segs)

    def connected(self, xroot: bool, auth: bool) -> None:
        """A link was accepted (``xroot``: a login followed; ``auth``: with credentials)."""
        self.sessions += 1
        if xroot:
            self.logins += 1
            self.auth_logins += auth
            self.misc += 1  # kXR_protocol

    def request(self, kind: str, nbytes: int, segs: int = 0) -> None:
        """One read/readv/write request: its counter and a buffer from the pool."""
        if kind in ("read", "pgread"):
            self.reads += 1
        elif kind == "readv":
            self.readvs += 1
            self.readv_segs += segs
        else:
            self.writes += 1
            self.written_kib += -(-nbytes // 1024)
        self.buff_reqs += 1
        size = max(BUFF_MIN, 1 << max(0, nbytes - 1).bit_length())
        if size > self.buff_mem // max(1, self.buffs):  # the pool keeps a buffer per size class
            self.buffs += 1
            self.buff_mem += size

    def blocks(self, t: float) -> dict:
        """The summary blocks these counters fill at ``t``, for ``build_summary``'s ``blocks``."""
        self.settle(t)
        return {
            "buff": {"reqs": self.buff_reqs, "mem": self.buff_mem, "buffs": self.buffs},
            "poll": {"en": self.sessions, "ev": self.sessions},
            "xrootd": {
                "num": self.sessions, "err": self.errors,
                "ops": {"open": self.opens, "rd": self.reads, "rv": self.readvs, "rs": self.readv_segs, "wr": self.writes,
                        "sync": self.syncs, "misc": self.misc},
                "lgn": {"num": self.logins, "au": self.auth_logins, "ua": self.logins - self.auth_logins},
            },
            "ofs": {"tpc": {"grnt": self.tpc_grants}},
            "oss": {"@v": "2", "paths": {"#text": 1, "stats": [{
                "@id": "0", "lp": "/", "rp": "/data/", "tot": OSS_TOTAL_KIB, "free": OSS_TOTAL_KIB // 2 - self.written_kib,
                "ino": OSS_INODES, "ifr": OSS_INODES - self.opens}]}, "space": 0},
        }


__all__ = ["ServerStats"]
