"""Loss accounting per (incarnation, socket, counter group) through the core (spec §2.3,
§9.3, §11.1): shared map/t/r counter, own f counter, duplicates dropped, reorders healed."""

from __future__ import annotations

from collector import Malformed, TransferRecord
from xrdsim.wire import FileClose, FileOpen


def records(events):
    return [e for e in events if type(e) is TransferRecord]


def totals(c):
    return c.report().totals()


def test_loss_interleaved_u_d_and_ident_share_one_counter_without_phantom_loss(emitter, collector):
    em = emitter()
    # the real 5.5.3 order: =0 u1 u2 ... on one destination; per-code tracking would see gaps
    em.send(collector, [em.ident(), em.user(1), em.path(2, "/a"), em.user(3), em.info(4, "x"), em.path(5, "/b"), em.ident()])
    row = totals(collector)["map"]
    assert (row["received"], row["lost"], row["reordered"], row["duplicated"]) == (7, 0, 0, 0)


def test_loss_lost_f_packet_is_counted_and_flags_records_around_it(emitter, collector):
    em = emitter()
    opens = em.f([FileOpen(1, 0, False, 0, "/spans-gap"), FileOpen(2, 0, False, 0, "/after")])
    em.f([FileOpen(99, 0, False, 0, "/lost")])  # pseq 1 never delivered
    rest = [em.f([FileClose(1, 1, 0, 0)])] + [em.f([]) for _ in range(5)]
    evs = em.send(collector, [opens] + rest)
    assert totals(collector)["f"]["lost"] == 1
    (rec,) = records(evs)
    assert rec.lost_packets_around


def test_loss_no_gap_no_flag(emitter, collector):
    em = emitter()
    (rec,) = records(em.send(collector, [em.f([FileOpen(1, 0, False, 0, "/a")]), em.f([FileClose(1, 1, 0, 0)])]))
    assert not rec.lost_packets_around


def test_loss_duplicated_close_packet_gives_one_record(emitter, collector):
    em = emitter()
    close = em.f([FileClose(1, 1, 0, 0)])
    evs = em.send(collector, [em.f([FileOpen(1, 0, False, 0, "/a")]), close, close])
    assert len(records(evs)) == 1
    row = totals(collector)["f"]
    assert (row["received"], row["duplicated"], row["lost"]) == (2, 1, 0)


def test_loss_ident_heartbeats_differ_in_pseq_and_are_not_duplicates(emitter, collector):
    em = emitter()
    em.send(collector, [em.ident(), em.ident(), em.ident()])
    assert totals(collector)["map"]["duplicated"] == 0


def test_loss_reordered_f_packets_heal_and_still_join(emitter, collector):
    em = emitter()
    p_open, p_close = em.f([FileOpen(1, 0, False, 0, "/r")]), em.f([FileClose(1, 7, 0, 0)])
    evs = em.send(collector, [p_close, p_open])
    # the CLOSE came first: one close-without-open record; the late OPEN opens nothing
    row = totals(collector)["f"]
    assert (row["received"], row["lost"], row["reordered"]) == (2, 0, 1)
    (rec,) = records(evs)
    assert (rec.file_dictid, rec.ended.value, rec.read_bytes) == (1, "close_without_open", 7)
    assert [e.anomaly.value for e in evs if e.KIND == "anomaly"] == ["late_open"]
    assert not records(collector.close(9999.0))


def test_loss_same_pseq_from_another_destination_is_its_own_group(emitter, collector):
    d1, d2 = emitter(port=1), emitter(port=2)
    d1.send(collector, [d1.ident(), d1.user(1)])
    d2.send(collector, [d2.ident(), d2.path(2, "/x")])
    rows = [g for g in collector.report().groups if g.group == "map"]
    assert sorted((g.socket, g.received, g.lost, g.duplicated) for g in rows) == [(f"{d1.ip}:1", 2, 0, 0), (f"{d1.ip}:2", 2, 0, 0)]


def test_loss_f_routed_to_two_destinations_is_applied_once(emitter, collector):
    d1, d2 = emitter(port=1), emitter(port=2)
    pkt_open = d1.f([FileOpen(1, 0, False, 0, "/both")])
    pkt_close = d1.f([FileClose(1, 3, 0, 0)])
    evs = d1.send(collector, [pkt_open]) + d2.send(collector, [pkt_open]) + d1.send(collector, [pkt_close]) + d2.send(collector, [pkt_close])
    assert len(records(evs)) == 1


def test_loss_malformed_body_is_counted_in_its_group_and_takes_its_pseq(emitter, collector):
    em = emitter()
    good = em.f([FileOpen(1, 0, False, 0, "/m")])
    bad = bytearray(em.f([FileClose(1, 1, 0, 0)]))
    bad[32] = 9  # record type 9 does not exist
    evs = em.send(collector, [good, bytes(bad), em.f([])] + [em.f([]) for _ in range(5)])
    (mal,) = [e for e in evs if type(e) is Malformed]
    assert mal.code == "f" and mal.offset == 32 and mal.server_key.startswith(str(em.sid))
    row = totals(collector)["f"]
    assert (row["malformed"], row["lost"], row["received"]) == (1, 0, 7)


def test_loss_garbage_from_unknown_sender_is_malformed_and_other_state_intact(emitter, collector):
    em = emitter()
    em.send(collector, [em.f([FileOpen(1, 0, False, 0, "/keep")])])
    for junk in (b"", b"\x00", b"f\x00\x00\x08", b"<not xml", b"z" * 40):
        (ev,) = collector.feed(junk, ("203.0.113.9", 9), 1001.0)
        assert type(ev) is Malformed
    (rec,) = records(em.send(collector, [em.f([FileClose(1, 1, 0, 0)])]))
    assert rec.file_lfn == "/keep"
    rep = collector.report()
    assert rep.malformed == 5 and rep.datagrams == 7
