"""Hand-built truth rows and records for the score tests."""

from __future__ import annotations

import pytest

from xrdsim.score import Rec
from xrdsim.sim import TransferRow


def truth_row(tid: int, server: str = "srv1", stod: int = 100, fid: int = 1, lfn: str = "/a", *, site: str = "S1",
              read: int = 0, readv: int = 0, write: int = 0, open_t: float = 1000.0, close_t: float = 1010.0,
              kind: str = "explicit", dn: str = "/CN=u", vo: str = "cms", client: str = "wn1") -> TransferRow:
    """A TransferRow with only what the scorer reads set meaningfully."""
    return TransferRow(tid, site, server, f"10.0.0.{tid % 250}", stod, fid, 7, lfn, read + readv + write, dn, vo, client,
                       "10.1.0.1", "xroot", False, open_t, close_t, read, readv, write, 1, 0, 0, 0, kind, False, "xrdcp",
                       0, 0)


def rec(server: str = "srv1", stod: int | None = 100, fid: int | None = 1, lfn: str = "/a", *, site: str = "S1",
        read: int = 0, readv: int = 0, write: int = 0, start: float | None = 1000.0, end: float | None = 1010.0,
        emitted: float | None = 1040.0, dn: str = "", vo: str = "", client: str = "wn1", ended: str = "close") -> Rec:
    """A Rec as the collector would give it."""
    return Rec(server, "", stod, fid, lfn, site, dn, vo, client, read, readv, write, start, end, emitted, ended)


@pytest.fixture
def make_truth():
    return truth_row


@pytest.fixture
def make_rec():
    return rec
