"""``pseq_loss`` anomalies: the collector tells, as it happens, each pseq gap of a counter
group it declares lost (detail "<group> <count>"), once; a reorder healed inside the window
tells nothing (the fixture's collector waits 4 datagrams or 5 s)."""

from __future__ import annotations

import pytest

from collector import Anomaly, AnomalyKind, TransferRecord
from xrdsim.score.signals import loss_event
from xrdsim.wire import FileClose, FileOpen


def pseq_losses(events) -> list[Anomaly]:
    return [e for e in events if type(e) is Anomaly and e.anomaly is AnomalyKind.PSEQ_LOSS]


def reported_lost(collector) -> int:
    report = collector.report()
    assert all(g.pending == 0 for g in report.groups)  # every gap is decided
    return sum(g.lost for g in report.groups)


def skip(em, n: int) -> None:
    """The emitter's next ``n`` map datagrams are lost on the way (their pseqs are used)."""
    em.mseq += n


def test_a_lost_f_packet_is_told_once_with_its_group_and_count(emitter, collector):
    em = emitter()
    f = [em.f([]) for _ in range(10)]
    evs = em.send(collector, [em.ident()] + f[:3] + f[4:])  # pseq 3 of the f group never arrives
    (ev,) = pseq_losses(evs)
    assert ev.detail == "f 1"
    assert ev.server_key.endswith(f"#{em.stod}")
    # declared when the 4th datagram after the one that showed the gap (pseq 4, 5th fed) came
    assert ev.t_emitted == pytest.approx(1000.0 + 8 * 0.01)
    assert loss_event(ev.server_key, ev.detail, ev.t_emitted).count == 1
    assert reported_lost(collector) == 1


def test_a_gap_of_several_datagrams_is_one_event_with_their_count(emitter, collector):
    em = emitter()
    f = [em.f([]) for _ in range(12)]
    evs = em.send(collector, f[:2] + f[5:])  # pseqs 2, 3, 4 lost together
    assert [e.detail for e in pseq_losses(evs)] == ["f 3"]
    assert reported_lost(collector) == 3


def test_map_group_losses_are_told_as_map(emitter, collector):
    em = emitter()
    first = [em.ident(), em.user(1)]
    skip(em, 2)
    rest = [em.path(10 + k, f"/f{k}") for k in range(6)]
    evs = em.send(collector, first + rest)
    assert [e.detail for e in pseq_losses(evs)] == ["map 2"]
    assert reported_lost(collector) == 2


def test_a_datagram_reordered_inside_the_window_tells_no_loss(emitter, collector):
    em = emitter()
    f = [em.f([]) for _ in range(10)]
    evs = em.send(collector, f[:2] + [f[3], f[2]] + f[4:])
    assert pseq_losses(evs) == []
    assert reported_lost(collector) == 0
    assert collector.report().totals()["f"]["reordered"] == 1


def test_no_gap_no_event(emitter, collector):
    em = emitter()
    evs = em.send(collector, [em.ident(), em.user(1), em.f([FileOpen(1, 0, False, 0, "/a")]), em.f([FileClose(1, 5, 0, 0)])] + [em.f([]) for _ in range(5)])
    assert [e for e in evs if type(e) is TransferRecord]
    assert pseq_losses(evs) == []


def test_a_gap_with_nothing_after_it_is_told_when_its_time_runs_out(emitter, collector):
    em = emitter()
    f = [em.f([]) for _ in range(4)]
    evs = em.send(collector, f[:2] + f[3:])  # the gap waits: no 4 later datagrams come
    assert pseq_losses(evs) == []
    assert pseq_losses(collector.flush(1002.0)) == []  # still inside the 5 s window
    (ev,) = pseq_losses(collector.flush(1010.0))
    assert (ev.detail, ev.t_emitted) == ("f 1", 1010.0)
    assert pseq_losses(collector.flush(1020.0)) == []  # told once
    assert reported_lost(collector) == 1


def test_the_counts_of_all_events_add_up_to_the_reports_lost(emitter, collector):
    a, b = emitter(), emitter(sid=0x5C0FFEE54321, ip="192.0.2.11")
    stream = []
    f = [a.f([]) for _ in range(40)]
    stream += [(a, d) for d in f[:5] + f[7:20] + f[21:30] + f[34:]]  # 2 + 1 + 4 lost
    stream += [(b, b.ident()), (b, b.user(1))]
    skip(b, 3)
    stream += [(b, b.path(10 + k, f"/p{k}")) for k in range(8)]
    skip(b, 1)
    stream += [(b, b.path(30 + k, f"/q{k}")) for k in range(6)]  # 3 + 1 lost
    evs = []
    for i, (em, d) in enumerate(stream):
        evs += collector.feed(d, em.src, 1000.0 + i * 0.01)
    told = [loss_event(e.server_key, e.detail, e.t_emitted) for e in pseq_losses(evs)]
    assert sorted((ev.group, ev.count) for ev in told) == [("f", 1), ("f", 2), ("f", 4), ("map", 1), ("map", 3)]
    assert sum(ev.count for ev in told) == reported_lost(collector) == 11
    assert len({ev.server for ev in told}) == 2  # each named by its own server


def test_a_gap_still_pending_when_the_collector_closes_is_told(emitter, collector):
    em = emitter()
    f = [em.f([]) for _ in range(4)]
    evs = em.send(collector, f[:2] + f[3:])  # pseq 2 lost; nothing after to decide it
    evs += collector.close(1001.0)
    assert [e.detail for e in pseq_losses(evs)] == ["f 1"]
    assert sum(g.lost for g in collector.report().groups) == 1


def test_a_late_arrival_takes_a_told_loss_back_and_the_next_loss_is_told_at_its_time(emitter, collector):
    em = emitter()
    f = [em.f([]) for _ in range(20)]
    # pseq 2 is declared lost, then arrives late; later pseq 12 is really lost
    order = f[:2] + f[3:8] + [f[2]] + f[8:12] + f[13:]
    evs = []
    for i, d in enumerate(order):
        evs += [(1000.0 + i * 0.01, e) for e in collector.feed(d, em.src, 1000.0 + i * 0.01)]
    told = [(t, e.detail) for t, e in evs if type(e) is Anomaly and e.anomaly is AnomalyKind.PSEQ_LOSS]
    assert [d for _, d in told] == ["f 1", "f -1", "f 1"]
    assert told[-1][0] > told[1][0]  # pseq 12's loss is told after the late pseq 2, not hidden by it
    assert sum(loss_event("k", d, 0).count for _, d in told) == sum(g.lost for g in collector.report().groups) == 1


def test_a_loss_on_a_second_destination_socket_is_told(emitter, collector):
    em = emitter()
    f = [em.f([]) for _ in range(10)]
    other = (em.src[0], em.src[1] + 1)  # the same packets sent to a second destination, from its own socket
    evs = []
    for i, d in enumerate(f):
        evs += collector.feed(d, em.src, 1000.0 + i * 0.02)
        if i != 3:  # pseq 3 lost on the second path only
            evs += collector.feed(d, other, 1000.0 + i * 0.02 + 0.01)
    assert [e.detail for e in pseq_losses(evs)] == ["f 1"]
    assert sum(g.lost for g in collector.report().groups) == 1
