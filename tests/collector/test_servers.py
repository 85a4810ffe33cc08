"""Server incarnations (spec §2.4–2.6): identity = 48-bit sid else sender IP, plus stod;
the two destinations of one server are one server; a new stod ends the old one."""

from __future__ import annotations

from collector import AnomalyKind, Ended, TransferRecord
from xrdsim.wire import FileClose, FileOpen


def records(events):
    return [e for e in events if type(e) is TransferRecord]


def test_servers_two_destinations_of_one_server_are_one_server(emitter, collector):
    dest1, dest2 = emitter(port=40001), emitter(port=40002)  # same sid, stod, host
    dest1.send(collector, [dest1.ident(), dest1.user(1), dest1.f([FileOpen(2, 0, False, 1, "/a")])])
    dest2.send(collector, [dest2.ident(), dest2.path(2, "/a")])
    (rec,) = records(dest1.send(collector, [dest1.f([FileClose(2, 9, 0, 0)])]))
    rep = collector.report()
    assert rep.tables["servers"] == 1
    assert {(g.socket, g.group) for g in rep.groups} == {(f"{dest1.ip}:40001", "map"), (f"{dest1.ip}:40001", "f"), (f"{dest1.ip}:40002", "map")}
    assert rec.user == "alice"


def test_servers_two_servers_on_one_host_same_stod_are_two_servers(emitter, collector):
    a, b = emitter(sid=0x111111111111, port=40001), emitter(sid=0x222222222222, port=40003)
    a.send(collector, [a.ident(site="A"), a.f([FileOpen(1, 0, False, 0, "/in-a")])])
    b.send(collector, [b.ident(site="B"), b.f([FileOpen(1, 0, False, 0, "/in-b")])])  # same dictid 1
    recs = records(a.send(collector, [a.f([FileClose(1, 1, 0, 0)])]) + b.send(collector, [b.f([FileClose(1, 2, 0, 0)])]))
    assert sorted((r.site, r.file_lfn, r.server_key) for r in recs) == [
        ("A", "/in-a", f"{0x111111111111}#{a.stod}"),
        ("B", "/in-b", f"{0x222222222222}#{b.stod}"),
    ]


def test_servers_without_sid_are_keyed_by_sender_ip(emitter, collector):
    em = emitter()
    from xrdsim.wire import FstreamPacket, encode, make_tod

    old_tod = encode(FstreamPacket(0, em.stod, make_tod([FileOpen(1, 0, False, 0, "/old")], 5, 5, None), [FileOpen(1, 0, False, 0, "/old")]))
    collector.feed(old_tod, em.src, 1.0)
    (rec,) = records(collector.close(2.0))
    assert rec.server_key == f"{em.ip}#{em.stod}"


def test_servers_new_stod_ends_old_incarnation_with_server_restart_records(emitter, collector):
    old = emitter(stod=1_700_000_000)
    old.send(collector, [old.ident(), old.user(1), old.f([FileOpen(5, 0, False, 1, "/open-at-restart")])])
    new = emitter(stod=1_700_000_500)
    evs = new.send(collector, [new.ident()], t0=2000.0)
    (rec,) = records(evs)
    assert (rec.ended, rec.file_lfn, rec.server_key, rec.user) == (Ended.SERVER_RESTART, "/open-at-restart", f"{old.sid}#1700000000", "alice")
    assert any(getattr(e, "anomaly", None) is AnomalyKind.SERVER_RESTART for e in evs)
    # dictids are scoped by incarnation: the new process's dictid 5 is another file
    (rec2,) = records(new.send(collector, [new.f([FileOpen(5, 0, False, 0, "/new")]), new.f([FileClose(5, 1, 0, 0)])], t0=2001.0))
    assert (rec2.file_lfn, rec2.ended, rec2.user) == ("/new", Ended.CLOSE, "")


def test_servers_datagram_of_replaced_incarnation_is_stale_not_a_new_server(emitter, collector):
    old, new = emitter(stod=100), emitter(stod=200)
    old.send(collector, [old.ident()])
    new.send(collector, [new.ident()])
    evs = old.send(collector, [old.f([FileClose(1, 1, 0, 0)])])
    assert not records(evs) and evs[0].anomaly is AnomalyKind.AFTER_RESTART
    rep = collector.report()
    assert rep.stale == 1 and rep.tables["servers"] == 1


def test_servers_idle_incarnation_is_ended_after_server_ttl(emitter):
    from collector import Collector, CollectorConfig

    c = Collector(CollectorConfig(server_ttl=50.0, open_ttl=1e9))
    em = emitter()
    em.send(c, [em.f([FileOpen(1, 0, False, 0, "/idle")])], t0=10.0)
    (rec,) = records(c.flush(61.0))
    assert rec.ended is Ended.TIMEOUT and c.report().tables["servers"] == 0
