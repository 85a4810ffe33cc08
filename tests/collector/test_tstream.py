"""t-stream aggregation (spec §5): records from files/io when a server sends no f-stream,
READU segments counted once, CLOSE totals with their shift, and the f/t cross-check."""

from __future__ import annotations

from collector import AnomalyKind, Collector, CollectorConfig, Ended, TransferRecord
from xrdsim.wire import (
    FileClose,
    FileOpen,
    TraceClose,
    TraceDisc,
    TraceIO,
    TraceMarker,
    TraceOpen,
    TracePacket,
    TraceReadv,
    TraceWindow,
    encode,
)


def records(events):
    return [e for e in events if type(e) is TransferRecord]


def anomalies(events):
    return [e.anomaly for e in events if e.KIND == "anomaly"]


def t_packet(em, entries, start=1_700_000_200, end=1_700_000_201):
    """A t datagram framed by WINDOW marks, on the emitter's shared map/t counter."""
    body = [TraceWindow(em.sid, start, start), *entries, TraceWindow(em.sid, end, end)]
    pkt = encode(TracePacket(em.mseq & 255, em.stod, body))
    em.mseq += 1
    return pkt


def io_session(em, fid=0x21):
    """u, d, then OPEN, reads 100 and 300, a READU of 2 segments (1000 B) with its segment
    READs (400 + 600), a write of 50, CLOSE with the exact totals."""
    return [
        em.user(0x20),
        em.path(fid, "/t/file.root"),
        t_packet(em, [
            TraceOpen(4096, fid), TraceIO(0, 100, fid), TraceIO(100, 300, fid),
            TraceReadv(TraceMarker.READU, 1, 2, 1000, fid), TraceIO(0, 400, fid), TraceIO(500, 600, fid),
            TraceIO(0, -50, fid), TraceClose(0, 0, 1400, 50, fid),
        ]),  # fmt: skip
    ]


def test_tstream_only_server_yields_records_after_the_hold(emitter):
    c = Collector(CollectorConfig(t_hold=30.0))
    em = emitter()
    assert not records(em.send(c, io_session(em), t0=1000.0))  # held: an f-stream may still come
    (rec,) = records(c.flush(1031.0))
    assert (rec.source, rec.ended, rec.file_lfn, rec.file_size, rec.user) == ("t", Ended.CLOSE, "/t/file.root", 4096, "alice")
    assert (rec.read_single_bytes, rec.read_vector_bytes, rec.read_bytes, rec.write_bytes) == (400, 1000, 1400, 50)
    assert (rec.read_ops, rec.readv_ops, rec.write_ops, rec.readv_segments) == (2, 1, 1, 2)
    assert (rec.read_min, rec.read_max, rec.write_min, rec.write_max) == (100, 300, 50, 50)
    assert rec.start_time == rec.end_time == 1_700_000_200.0


def test_tstream_after_the_hold_records_come_at_close(emitter):
    c = Collector(CollectorConfig(t_hold=30.0))
    em = emitter()
    em.send(c, [em.ident()], t0=1000.0)
    (rec,) = records(em.send(c, io_session(em), t0=1040.0))
    assert rec.source == "t" and rec.t_emitted == 1040.02


def test_tstream_close_totals_are_used_when_io_entries_are_missing(emitter):
    c = Collector(CollectorConfig(t_hold=0.0))
    em = emitter()
    big = 5 * 2**32 + 12345  # needs a shift of 3: low bits lost
    close = TraceClose(3, 0, big >> 3, 0, 7)
    (rec,) = records(em.send(c, [em.path(7, "/files-only"), t_packet(em, [TraceOpen(0, 7), close])]))
    assert rec.read_bytes == (big >> 3) << 3 and rec.read_ops == 0


def test_tstream_with_fstream_the_record_comes_from_f_and_t_agrees(emitter, collector):
    em = emitter()
    evs = em.send(collector, io_session(em) + [em.f([FileOpen(0x21, 4096, True, 0x20, "/t/file.root"), FileClose(0x21, 400, 1000, 50)])])
    (rec,) = records(evs)
    assert rec.source == "f" and not anomalies(evs)
    assert collector.report().tables["trace_files"] == 0


def test_tstream_disagreeing_close_totals_raise_a_stream_mismatch(emitter, collector):
    em = emitter()
    evs = em.send(collector, [em.f([FileOpen(9, 0, False, 0, "/x"), FileClose(9, 5000, 0, 0)]), t_packet(em, [TraceOpen(0, 9), TraceClose(0, 0, 4000, 0, 9)])])
    assert len(records(evs)) == 1 and anomalies(evs) == [AnomalyKind.STREAM_MISMATCH]


def test_tstream_within_shift_precision_is_agreement(emitter, collector):
    em = emitter()
    evs = em.send(collector, [t_packet(em, [TraceOpen(0, 9), TraceClose(4, 0, 5000 >> 4, 0, 9)]), em.f([FileOpen(9, 0, False, 0, "/x"), FileClose(9, 5000, 0, 0)])])
    assert len(records(evs)) == 1 and not anomalies(evs)


def test_tstream_late_f_close_for_a_t_recorded_file_is_an_anomaly_not_a_second_record(emitter):
    c = Collector(CollectorConfig(t_hold=0.0))
    em = emitter()
    evs = em.send(c, io_session(em) + [em.f([FileClose(0x21, 400, 1000, 50)])])
    assert len(records(evs)) == 1 and anomalies(evs) == [AnomalyKind.LATE_STREAM]


def test_tstream_shares_the_map_counter_without_phantom_loss(emitter, collector):
    em = emitter()
    em.send(collector, [em.ident(), *io_session(em), em.ident()])
    row = collector.report().totals()["map"]
    assert (row["received"], row["lost"]) == (5, 0)


def test_tstream_disc_ends_the_session_after_grace(emitter, collector):
    em = emitter()
    em.send(collector, [em.user(0x20), t_packet(em, [TraceDisc(0, 60, 0x20)])])
    assert collector.report().tables["sessions"] == 1
    collector.flush(1000.0 + 2.5)
    assert collector.report().tables["sessions"] == 0


def test_tstream_shutdown_without_f_emits_open_t_files(emitter):
    c = Collector(CollectorConfig(t_hold=1e9))
    em = emitter()
    em.send(c, [em.path(3, "/open"), t_packet(em, [TraceOpen(10, 3), TraceIO(0, 7, 3)])])
    (rec,) = records(c.close(2000.0))
    assert (rec.ended, rec.source, rec.read_bytes, rec.file_lfn) == (Ended.COLLECTOR_SHUTDOWN, "t", 7, "/open")
