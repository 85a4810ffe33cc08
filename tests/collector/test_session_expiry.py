"""Sessions expire by idleness, not age: a session that keeps opening files keeps its user
map however old it is; one without file activity for ``session_ttl`` loses it."""

from __future__ import annotations

from collector import Collector, CollectorConfig, TransferRecord
from xrdsim.wire import FileClose, FileOpen

TTL = 600.0


def files(em, c, t, fid, user=0x40):
    evs = em.send(c, [em.f([FileOpen(fid, 10, False, user, f"/f{fid}"), FileClose(fid, 10, 0, 0)])], t0=t)
    (rec,) = [e for e in evs if type(e) is TransferRecord]
    return rec


def test_a_busy_session_older_than_the_ttl_keeps_its_user(emitter):
    c, em = Collector(CollectorConfig(session_ttl=TTL)), emitter()
    em.send(c, [em.ident(), em.user(0x40)], t0=0.0)
    t = 0.0
    for fid in range(1, 8):  # a file every 400 s: never idle for a TTL, alive for 2800 s
        t += 400.0
        c.flush(t)
        assert files(em, c, t, fid).user_dn == "/DC=org/CN=Alice", f"user lost at {t} s"


def test_an_idle_session_loses_its_user_within_two_ttls(emitter):
    c, em = Collector(CollectorConfig(session_ttl=TTL)), emitter()
    em.send(c, [em.ident(), em.user(0x40)], t0=0.0)
    assert files(em, c, 100.0, 1).user_dn == "/DC=org/CN=Alice"
    for t in range(110, 1300, 10):  # the collector's ticks, no file activity
        c.flush(float(t))
    assert files(em, c, 1300.0, 2).user_dn == ""
