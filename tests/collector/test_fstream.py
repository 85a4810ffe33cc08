"""f-stream into records (spec §4, §9.1, §11.10): the join of OPEN, CLOSE, user and path;
forced close; close without open; XFR then timeout; DISC; times by record position;
statistics from OPS/SSQ."""

from __future__ import annotations

import math

import pytest

from collector import Ended, TransferRecord
from xrdsim.wire import FileClose, FileDisc, FileOpen, FileOps, FileSSQ, FileXfr

MiB = 1 << 20


def records(events):
    return [e for e in events if type(e) is TransferRecord]


def test_fstream_open_close_joins_user_path_and_server_ident(emitter, collector):
    em = emitter()
    evs = em.send(collector, [
        em.ident(site="T2_XX"),
        em.user(0x100),
        em.f([FileOpen(0x101, MiB, False, 0x100, "/store/a.root")], 1_700_000_100, 1_700_000_101),
        em.f([FileClose(0x101, 123_456, 789, 0)], 1_700_000_160, 1_700_000_161),
    ])  # fmt: skip
    (rec,) = records(evs)
    assert (rec.site, rec.server_host, rec.server_port) == ("T2_XX", "data.example.org", 1094)
    assert rec.server_key == f"{em.sid}#{em.stod}" and rec.server_ip == em.ip
    assert (rec.user, rec.user_dn, rec.vo, rec.role) == ("alice", "/DC=org/CN=Alice", "cms", "")
    assert (rec.protocol, rec.auth_protocol, rec.client_ip, rec.ipv6) == ("xroot", "gsi", "198.51.100.4", False)
    assert (rec.file_lfn, rec.file_dictid, rec.file_size) == ("/store/a.root", 0x101, MiB)
    assert (rec.read_bytes, rec.read_single_bytes, rec.read_vector_bytes, rec.write_bytes) == (124_245, 123_456, 789, 0)
    assert (rec.start_time, rec.end_time, rec.operation_time) == (1_700_000_100.0, 1_700_000_160.0, 60.0)
    assert rec.ended is Ended.CLOSE and rec.source == "f" and not rec.lost_packets_around
    assert rec.read_ops is None and rec.read_sigma is None  # no OPS block sent
    assert rec.t_emitted == pytest.approx(1000.03)


def test_fstream_record_times_interpolate_by_position_between_tbeg_and_tend(emitter, collector):
    em = emitter()
    opens = [FileOpen(i, 0, False, 0, f"/f{i}") for i in range(4)]
    closes = [FileClose(i, 1, 0, 0) for i in range(4)]
    evs = em.send(collector, [em.f(opens, 1000, 1040), em.f(closes, 2000, 2100)])
    got = sorted((r.file_dictid, r.start_time, r.end_time) for r in records(evs))
    # record i of n lies at tBeg + (tEnd - tBeg) * i / n
    assert got == [(0, 1000.0, 2000.0), (1, 1010.0, 2025.0), (2, 1020.0, 2050.0), (3, 1030.0, 2075.0)]


def test_fstream_statistics_from_ops_and_ssq(emitter, collector):
    em = emitter()
    # reads of 100, 200, 300 bytes; one readv of 1000 bytes in 4 segments; writes 10 and 30
    ops = FileOps(3, 1, 2, 4, 4, 4, 100, 300, 1000, 1000, 10, 30)
    ssq = FileSSQ(100.0**2 + 200.0**2 + 300.0**2, 1000.0**2, 16.0, 10.0**2 + 30.0**2)
    evs = em.send(collector, [em.f([FileOpen(5, 0, True, 0, "/s"), FileClose(5, 600, 1000, 40, False, ops, ssq)])])
    (rec,) = records(evs)
    assert (rec.read_ops, rec.readv_ops, rec.write_ops, rec.readv_segments) == (3, 1, 2, 4)
    assert (rec.read_min, rec.read_max, rec.write_min, rec.write_max) == (100, 300, 10, 30)
    assert rec.read_sigma == pytest.approx(math.sqrt(20000 / 3))  # population σ of 100, 200, 300
    assert rec.write_sigma == pytest.approx(10.0)
    assert rec.readv_sigma == pytest.approx(0.0, abs=1e-6)
    assert rec.rw


def test_fstream_pg_only_min_above_max_reports_no_min_max_sigma(emitter, collector):
    em = emitter()
    # the real 5.5.3 capture: pgwrite folded at close, plain min untouched (docs/spec-notes.md)
    ops = FileOps(0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x7FFFFFFF, 0)
    evs = em.send(collector, [em.f([FileOpen(5, 0, True, 0, "/w"), FileClose(5, 0, 0, 701_689, False, ops, FileSSQ(0.0, 0.0, 0.0, 0.0))])])
    (rec,) = records(evs)
    assert rec.write_ops == 1 and (rec.write_min, rec.write_max, rec.write_sigma) == (None, None, None)


def test_fstream_forced_close_flag_is_kept(emitter, collector):
    em = emitter()
    evs = em.send(collector, [em.f([FileOpen(9, 0, False, 0, "/x"), FileClose(9, 10, 0, 0, forced=True), FileDisc(0)])])
    (rec,) = records(evs)
    assert rec.ended is Ended.FORCED_CLOSE


def test_fstream_close_without_open_is_a_flagged_record_with_unknown_name(emitter, collector):
    em = emitter()
    evs = em.send(collector, [em.user(0x10), em.f([FileClose(0x77, 5, 0, 0)])])
    (rec,) = records(evs)
    assert rec.ended is Ended.CLOSE_WITHOUT_OPEN
    assert (rec.file_lfn, rec.file_dictid, rec.start_time) == ("", 0x77, None)
    assert rec.read_bytes == 5


def test_fstream_close_without_open_takes_the_path_of_its_d_record(emitter, collector):
    em = emitter()
    evs = em.send(collector, [em.user(0x10), em.path(0x77, "/store/known.root"), em.f([FileClose(0x77, 5, 0, 0)])])
    (rec,) = records(evs)
    assert (rec.ended, rec.file_lfn, rec.user) == (Ended.CLOSE_WITHOUT_OPEN, "/store/known.root", "alice")


def test_fstream_user_arriving_after_open_still_enriches_the_record(emitter, collector):
    em = emitter()
    evs = em.send(collector, [em.f([FileOpen(1, 0, False, 0x20, "/late-user")]), em.user(0x20), em.f([FileClose(1, 1, 0, 0)])])
    (rec,) = records(evs)
    assert (rec.user, rec.vo, rec.user_dictid) == ("alice", "cms", 0x20)


def test_fstream_lfn_less_open_takes_the_path_of_the_d_record(emitter, collector):
    em = emitter()
    evs = em.send(collector, [em.path(3, "/from/d"), em.f([FileOpen(3, 50, False), FileClose(3, 50, 0, 0)])])
    (rec,) = records(evs)
    assert rec.file_lfn == "/from/d" and rec.user == "alice"  # user from the d record's userid
    assert collector.report().tables["paths"] == 0  # the d map of the file ends with its record


def test_fstream_open_never_closed_times_out_with_its_last_xfr_counters(emitter, collector):
    em = emitter()
    assert not records(em.send(collector, [em.f([FileOpen(4, 0, False, 0, "/never")], 100), em.f([FileXfr(4, 4096, 0, 0)], 130)], t0=1000.0))
    assert not records(collector.flush(1099.0))  # TTL 100 s counts from the last news (t=1000.01)
    (rec,) = records(collector.flush(1100.5))
    assert (rec.ended, rec.read_bytes, rec.file_lfn, rec.end_time) == (Ended.TIMEOUT, 4096, "/never", 130.0)
    assert rec.t_emitted == 1100.5
    assert collector.report().tables["open_files"] == 0


def test_fstream_xfr_without_open_still_ends_in_a_record(emitter, collector):
    em = emitter()
    em.send(collector, [em.f([FileXfr(8, 1, 2, 3)])])
    (rec,) = records(collector.close(2000.0))
    assert (rec.ended, rec.read_bytes, rec.write_bytes, rec.start_time) == (Ended.COLLECTOR_SHUTDOWN, 3, 3, None)
    rec2 = records(em.send(collector, [em.f([FileXfr(9, 1, 0, 0)]), em.f([FileClose(9, 2, 0, 0)])]))
    assert rec2[0].ended is Ended.CLOSE_WITHOUT_OPEN


def test_fstream_disc_ends_session_and_file_left_open_becomes_forced_close(emitter, collector):
    em = emitter()
    em.send(collector, [em.user(0x30), em.f([FileOpen(6, 0, False, 0x30, "/orphan"), FileXfr(6, 10, 0, 0), FileDisc(0x30)])])
    assert collector.report().tables["sessions"] == 1  # kept for the grace period
    (rec,) = records(collector.flush(1000.0 + 2.5))
    assert (rec.ended, rec.read_bytes, rec.user, rec.lost_packets_around) == (Ended.FORCED_CLOSE, 10, "alice", True)
    assert collector.report().tables["sessions"] == 0


def test_fstream_shutdown_emits_every_open_file(emitter, collector):
    em = emitter()
    em.send(collector, [em.f([FileOpen(i, 0, False, 0, f"/o{i}") for i in range(5)])])
    recs = records(collector.close(5000.0))
    assert sorted(r.file_dictid for r in recs) == [0, 1, 2, 3, 4]
    assert {r.ended for r in recs} == {Ended.COLLECTOR_SHUTDOWN}
