"""What real XRootD servers showed the collector must get right (issue: exact on real
XRootD): f packets are de-duplicated only when byte-identical, a CLOSE after the open-file
timeout completes the same transfer, t-stream I/O that a CLOSE denies is reported, and a
packet's server id decides its server whatever socket it came from."""

from __future__ import annotations

from collector import AnomalyKind, Collector, CollectorConfig, Ended, TransferRecord, current_records
from xrdsim.wire import FileClose, FileOpen, FileXfr, TraceClose, TraceIO, TraceOpen, TracePacket, TraceWindow, encode

from .conftest import Emitter


def records(events):
    return [e for e in events if type(e) is TransferRecord]


def anomalies(events):
    return [e for e in events if e.KIND == "anomaly"]


def t_packet(em, entries, start=1_700_000_200):
    body = [TraceWindow(em.sid, start, start), *entries, TraceWindow(em.sid, start + 1, start + 1)]
    pkt = encode(TracePacket(em.mseq & 255, em.stod, body))
    em.mseq += 1
    return pkt


# ---------------------------------------------------------------- f copies and bursts


def test_a_burst_past_the_pseq_cycle_in_one_second_loses_no_transfer():
    """600 f packets in one second: pseq wraps twice with equal TOD times and counts; every
    CLOSE is a record and the report counts no loss, duplicate or copy."""
    c = Collector(CollectorConfig(reorder_count=4))
    em = Emitter()
    out = em.send(c, [em.ident()])
    for k in range(600):
        fid = 100 + k
        out += em.send(c, [em.f([FileOpen(fid, 10, False, 0, f"/burst/{k}"), FileClose(fid, 1000 + k, 0, 0)], t_beg=1_700_000_100)], t0=2000 + k / 600)
    recs = records(out)
    assert sorted(r.file_lfn for r in recs) == sorted(f"/burst/{k}" for k in range(600))
    assert sum(r.read_bytes for r in recs) == sum(1000 + k for k in range(600))
    f = c.report().totals()["f"]
    assert (f["received"], f["lost"], f["duplicated"], f["copies"]) == (600, 0, 0, 0)


def test_an_f_packet_sent_to_two_destinations_is_applied_once_and_counted():
    c = Collector()
    dest1, dest2 = Emitter(port=40001), Emitter(port=40002)
    pkt = dest1.f([FileOpen(5, 10, False, 0, "/two"), FileClose(5, 77, 0, 0)])
    out = c.feed(pkt, dest1.src, 1.0) + c.feed(pkt, dest2.src, 1.01)
    assert [r.read_bytes for r in records(out)] == [77]
    rows = {g.socket: g for g in c.report().groups if g.group == "f"}
    assert (rows["192.0.2.10:40001"].copies, rows["192.0.2.10:40002"].copies) == (0, 1)
    assert rows["192.0.2.10:40002"].received == 1 and rows["192.0.2.10:40002"].lost == 0


def test_look_alike_f_packets_from_two_sockets_are_both_applied():
    """Same pseq, TOD and record counts, different records: not a copy."""
    c = Collector()
    a, b = Emitter(port=40001), Emitter(port=40002)
    p1 = a.f([FileOpen(5, 10, False, 0, "/a"), FileClose(5, 1, 0, 0)], pseq=3)
    p2 = b.f([FileOpen(6, 10, False, 0, "/b"), FileClose(6, 2, 0, 0)], pseq=3)
    out = c.feed(p1, a.src, 1.0) + c.feed(p2, b.src, 1.0)
    assert sorted(r.file_lfn for r in records(out)) == ["/a", "/b"]
    assert c.report().totals()["f"]["copies"] == 0


def test_a_late_network_duplicate_from_the_same_socket_counts_as_duplicated():
    c = Collector(CollectorConfig(dup_window=4))
    em = Emitter()
    first = em.f([FileOpen(5, 10, False, 0, "/a"), FileClose(5, 1, 0, 0)])
    out = c.feed(first, em.src, 1.0)
    for k in range(8):  # push it out of the group's duplicate window
        out += c.feed(em.f([FileXfr(900 + k, k, 0, 0)]), em.src, 1.1)
    out += c.feed(first, em.src, 2.0)
    assert len(records(out)) == 1
    f = c.report().totals()["f"]
    assert (f["received"], f["duplicated"], f["copies"]) == (9, 1, 0)


# ---------------------------------------------------------------- timeout, then CLOSE


def test_a_close_after_the_open_timeout_completes_the_same_transfer():
    c = Collector(CollectorConfig(open_ttl=100.0))
    em = Emitter()
    out = em.send(c, [em.ident(), em.user(0x20), em.f([FileOpen(7, 5000, False, 0x20, "/idle.root"), FileXfr(7, 1000, 0, 0)])], t0=0.0)
    out += c.flush(200.0)
    (timeout,) = records(out)
    assert (timeout.ended, timeout.read_bytes, timeout.revision) == (Ended.TIMEOUT, 1000, 0)
    later = em.send(c, [em.f([FileClose(7, 5000, 0, 0)])], t0=300.0)
    (closed,) = records(later)
    assert (closed.ended, closed.read_bytes, closed.file_lfn, closed.user, closed.site) == (Ended.CLOSE, 5000, "/idle.root", "alice", "SITE_A")
    assert closed.record_id == timeout.record_id and closed.revision == 1
    assert [r.read_bytes for r in current_records(out + later)] == [5000]  # every byte once
    assert c.report().records_by_ended.get("close_without_open", 0) == 0


def test_an_xfr_after_the_timeout_revives_the_file_and_the_close_is_its_next_revision():
    c = Collector(CollectorConfig(open_ttl=100.0))
    em = Emitter()
    out = em.send(c, [em.user(0x20), em.f([FileOpen(7, 5000, False, 0x20, "/idle.root")])], t0=0.0)
    out += c.flush(150.0)
    out += em.send(c, [em.f([FileXfr(7, 2000, 0, 0)])], t0=160.0)
    out += c.flush(300.0)  # idle again: a second timeout record, revision 1
    out += em.send(c, [em.f([FileClose(7, 5000, 0, 0)])], t0=310.0)
    recs = records(out)
    assert [(r.ended, r.read_bytes, r.revision) for r in recs] == [(Ended.TIMEOUT, 0, 0), (Ended.TIMEOUT, 2000, 1), (Ended.CLOSE, 5000, 2)]
    assert len({r.record_id for r in recs}) == 1
    assert c.report().tables["expired_files"] == 0 and c.report().tables["open_files"] == 0


def test_remembered_timeouts_are_bounded_and_their_eviction_counted():
    c = Collector(CollectorConfig(open_ttl=10.0, max_expired_files=5))
    em = Emitter()
    em.send(c, [em.f([FileOpen(100 + k, 1, False, 0, f"/f{k}") for k in range(8)])], t0=0.0)
    c.flush(20.0)
    rep = c.report()
    assert rep.tables["expired_files"] == 5 and rep.evicted["expired_files"] == 3


# ---------------------------------------------------------------- t I/O against the CLOSE


def test_a_close_that_denies_the_io_entries_raises_io_mismatch_and_keeps_both_figures():
    """XRootD 5.5.3 reports an HTTP PUT with write 0 in both CLOSEs; the t-stream's WRITE
    entries carry the bytes (docs/spec-notes.md)."""
    c = Collector()
    em = Emitter()
    out = em.send(c, [em.ident(), em.user(0x20, prot="http"), em.f([FileOpen(9, 0, True, 0x20, "/put.bin")])])
    out += em.send(c, [t_packet(em, [TraceOpen(0, 9), TraceIO(0, -3000, 9), TraceIO(3000, -1000, 9), TraceClose(0, 0, 0, 0, 9)])])
    out += em.send(c, [em.f([FileClose(9, 0, 0, 0)])])
    (rec,) = current_records(records(out))
    assert (rec.write_bytes, rec.t_read_bytes, rec.t_write_bytes) == (0, 0, 4000)
    (anomaly,) = [a for a in anomalies(out) if a.anomaly is AnomalyKind.IO_MISMATCH]
    assert "/put.bin" in anomaly.detail and anomaly.file_dictid == 9


def test_io_arriving_after_the_f_close_revises_the_record():
    c = Collector()
    em = Emitter()
    out = em.send(c, [em.ident(), em.f([FileOpen(9, 0, False, 0, "/r.bin"), FileClose(9, 0, 0, 0)])])
    (first,) = records(out)
    assert first.revision == 0 and first.t_read_bytes is None
    later = em.send(c, [t_packet(em, [TraceOpen(0, 9), TraceIO(0, 8192, 9), TraceClose(0, 0, 0, 0, 9)])])
    (revised,) = records(later)
    assert (revised.record_id, revised.revision, revised.read_bytes, revised.t_read_bytes) == (first.record_id, 1, 0, 8192)
    assert [a.anomaly for a in anomalies(later)] == [AnomalyKind.IO_MISMATCH]


def test_agreeing_io_makes_no_anomaly_and_no_revision():
    c = Collector()
    em = Emitter()
    out = em.send(c, [em.ident(), em.f([FileOpen(9, 0, False, 0, "/ok"), FileClose(9, 8192, 0, 0)])])
    out += em.send(c, [t_packet(em, [TraceOpen(0, 9), TraceIO(0, 8192, 9), TraceClose(0, 0, 8192, 0, 9)])])
    assert len(records(out)) == 1 and not anomalies(out)


def test_the_shared_buffer_close_before_the_session_io_waits_for_the_io():
    """The files buffer's OPEN/CLOSE may arrive before the session buffer with the I/O;
    the second CLOSE ends the t side, and no anomaly is raised for an agreeing file."""
    c = Collector()
    em = Emitter()
    out = em.send(c, [em.ident(), em.f([FileOpen(9, 0, False, 0, "/late-io"), FileClose(9, 6000, 0, 0)])])
    out += em.send(c, [t_packet(em, [TraceOpen(0, 9), TraceClose(0, 0, 6000, 0, 9)])])  # shared buffer
    out += em.send(c, [t_packet(em, [TraceOpen(0, 9), TraceIO(0, 4000, 9), TraceIO(4000, 2000, 9), TraceClose(0, 0, 6000, 0, 9)])])
    assert len(records(out)) == 1 and not anomalies(out)
    assert c.report().tables["trace_files"] == 0 and c.report().tables["f_awaiting_t"] == 0


def test_t_only_server_records_the_io_sums_once_despite_two_closes():
    c = Collector(CollectorConfig(t_hold=0.0))
    em = Emitter()
    session = [TraceOpen(0, 9), TraceIO(0, 500, 9), TraceClose(0, 0, 0, 0, 9)]  # pg transfer ended by a disconnect: CLOSE says 0
    out = em.send(c, [em.ident(), em.path(9, "/pg.bin"), t_packet(em, session), t_packet(em, [TraceOpen(0, 9), TraceClose(0, 0, 0, 0, 9)])])
    (rec,) = records(out)
    assert (rec.source, rec.read_bytes, rec.t_read_bytes, rec.file_lfn) == ("t", 500, 500, "/pg.bin")
    assert [a.anomaly for a in anomalies(out)] == [AnomalyKind.IO_MISMATCH]
    assert c.report().tables["trace_files"] == 0


# ---------------------------------------------------------------- server identity


def test_servers_replayed_from_one_socket_are_told_apart_by_their_server_id():
    """Two servers' datagrams interleaved from one sender socket (a replayed capture):
    every packet names its server id (the TOD, the userid of a map), which routes it."""
    c = Collector()
    one, two = Emitter(sid=0x111111111111), Emitter(sid=0x222222222222)  # started in the same second
    two.ip, two.port = one.ip, one.port
    feed = [one.ident("SITE_A"), two.ident("SITE_B"), one.user(0x20), two.user(0x20, info="&p=gsi&n=bob&h=wn2.example.org&o=atlas&r=NULL&g=/atlas&m=/DC=org/CN=Bob&I=4", user="bob")]
    for k in range(20):
        feed += [one.f([FileOpen(k + 1, 1, False, 0x20, f"/a/{k}"), FileClose(k + 1, 10, 0, 0)]),
                 two.f([FileOpen(k + 1, 1, False, 0x20, f"/b/{k}"), FileClose(k + 1, 20, 0, 0)])]  # fmt: skip
    out = one.send(c, feed)
    recs = records(out)
    assert sorted((r.site, r.file_lfn[:3], r.read_bytes, r.user) for r in recs) == sorted(
        [("SITE_A", "/a/", 10, "alice")] * 20 + [("SITE_B", "/b/", 20, "bob")] * 20)  # fmt: skip
    rep = c.report()
    assert all(g.lost == 0 for g in rep.groups) and rep.records_by_ended == {"close": 40}
