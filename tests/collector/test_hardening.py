"""Hardening: every table bounded in entries and in bytes, evictions counted and emitted,
bad input from files and sinks counted instead of fatal. Each test reproduces one way the
collector used to grow without bound, lose a count or crash (figures: bench/flood.py)."""

from __future__ import annotations

import json
import os
import socket

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings

from collector import AnomalyKind, Collector, CollectorConfig, Ended, TransferRecord
from collector.sinks import ParquetSink
from collector.sources import ShovelerSource, UdpSource, proc_udp_drops
from xrdsim.wire import FileClose, FileOpen, FileXfr, GStreamPacket, TraceIO, TracePacket, TraceWindow, encode

from .conftest import SID
from .test_fuzz import DATAGRAMS


def _accounted(rep) -> int:
    return sum(g.received + g.duplicated + g.malformed for g in rep.groups) + rep.stale


# ---------------------------------------------------------------------------- servers


def test_hardening_a_new_server_never_evicts_itself(emitter):
    c = Collector(CollectorConfig(max_servers=1))
    a, b = emitter(sid=0x101, port=1001), emitter(sid=0x102, port=1002)
    a.send(c, [a.f([FileOpen(1, 0, False, 0, "/a")])], t0=100.0)
    evs = b.send(c, [b.f([FileOpen(1, 0, False, 0, "/b")])], t0=50.0)  # earlier clock than a's news
    assert [(e.file_lfn, e.ended) for e in evs if type(e) is TransferRecord] == [("/a", Ended.EVICTED)]
    left = c.close(200.0)
    assert [(e.file_lfn, e.ended) for e in left] == [("/b", Ended.COLLECTOR_SHUTDOWN)]


def test_hardening_server_eviction_follows_news_not_creation(emitter):
    c = Collector(CollectorConfig(max_servers=2))
    ems = [emitter(sid=0x200 + k, port=2000 + k) for k in range(3)]
    ems[0].send(c, [ems[0].ident()], t0=1.0)
    ems[1].send(c, [ems[1].ident()], t0=2.0)
    ems[0].send(c, [ems[0].ident()], t0=3.0)  # the first server has news again
    evs = ems[2].send(c, [ems[2].ident()], t0=4.0)
    evicted = [e.server_key for e in evs if getattr(e, "anomaly", None) is AnomalyKind.SERVER_EVICTED]
    assert evicted == [f"{0x201}#{ems[1].stod}"]


# ---------------------------------------------------------------------------- bytes


def test_hardening_paths_are_bounded_in_bytes_and_long_text_is_cut(emitter):
    budget = 1 << 20
    c = Collector(CollectorConfig(max_path_bytes=budget, max_text_bytes=4096))
    em = emitter()
    em.send(c, [em.path(i + 1, "/" + "p" * 60_000) for i in range(600)])  # 36 MB of paths
    rep = c.report()
    assert rep.evicted["text_truncated"] == 600
    assert rep.tables["path_bytes"] <= budget
    assert rep.evicted["paths"] == 600 - rep.tables["paths"] > 0


def test_hardening_open_files_bounded_in_bytes_emit_what_they_evict(emitter):
    c = Collector(CollectorConfig(max_open_bytes=200_000, open_ttl=1e9))
    em = emitter()
    evs = em.send(c, [em.f([FileOpen(i + 1, 0, False, 0, "/" + "x" * 3000)]) for i in range(200)])
    evicted = [e for e in evs if type(e) is TransferRecord]
    rep = c.report()
    assert rep.tables["open_file_bytes"] <= 200_000
    assert len(evicted) == rep.evicted["open_files"] == 200 - rep.tables["open_files"] > 0
    assert {e.ended for e in evicted} == {Ended.EVICTED}


def test_hardening_budgets_return_to_zero_when_everything_ended(emitter):
    c = Collector(CollectorConfig(open_ttl=10.0))
    em = emitter()
    em.send(c, [em.user(1), em.path(5, "/data/f"), em.info(1, "app"), em.token(2, 1, "&s=sub&n=bob"),
                em.f([FileOpen(5, 10, False, 1, "/data/f"), FileOpen(6, 10, False, 1, None)]),
                em.path(6, "/data/g"), em.f([FileClose(5, 10, 0, 0)])])  # fmt: skip
    assert c.report().tables["session_bytes"] > 0
    c.flush(5000.0)  # file 6 times out: remembered as expired (its bytes still held)
    c.close(6000.0)
    tables = c.report().tables
    assert (tables["path_bytes"], tables["session_bytes"], tables["open_file_bytes"]) == (0, 0, 0)


# ---------------------------------------------------------------------------- entries


def test_hardening_trace_io_of_never_opened_files_counts_against_max_open_files(emitter):
    c = Collector(CollectorConfig(max_open_files=10))
    em = emitter()
    entries = [TraceWindow(SID, 1, 2)] + [TraceIO(0, 100, fid) for fid in range(1, 101)]
    c.feed(encode(TracePacket(0, em.stod, entries)), em.src, 1.0)
    rep = c.report()
    assert rep.tables["trace_files"] == 10 and rep.evicted["trace_files"] == 90


def test_hardening_counter_groups_bounded_and_their_counts_kept(emitter):
    c = Collector(CollectorConfig(max_counter_groups=4))
    em = emitter()
    fed = 0
    for provider in range(40, 100):  # one counter group per provider code
        c.feed(encode(GStreamPacket(0, em.stod, 1, 2, provider, SID, ["{}"])), em.src, float(fed))
        fed += 1
    rep = c.report()
    assert rep.tables["counter_groups"] == 4 and rep.evicted["counter_groups"] == 56
    assert _accounted(rep) == rep.datagrams == fed


def test_hardening_summary_series_evicted_keep_their_counts():
    c = Collector(CollectorConfig(max_summary_series=3))
    for k in range(10):
        xml = (f'<statistics tod="1" ver="v5" src="h{k}:1094" tos="1" pgm="xrootd" ins="a" pid="1" site="">'
               '<stats id="link"><num>1</num><maxn>1</maxn><tot>1</tot><in>5</in><out>0</out><ctime>0</ctime>'
               "<tmo>0</tmo><stall>0</stall><sfps>0</sfps></stats></statistics>")  # fmt: skip
        c.feed(xml.encode(), ("192.0.2.1", 9000 + k), float(k))
    rep = c.report()
    assert rep.tables["summary_series"] == 3 and rep.evicted["summary_series"] == 7
    assert rep.totals()["summary"]["received"] == 10 == _accounted(rep)


def test_hardening_a_sessions_open_file_set_holds_only_open_files(emitter):
    c = Collector(CollectorConfig(max_open_files=5, open_ttl=1e9))
    em = emitter()
    em.send(c, [em.user(1)] + [em.f([FileOpen(fid, 0, False, 1, f"/f{fid}")]) for fid in range(1, 101)])
    (server,) = c.tables.servers.values()
    assert len(server.users[1].files) == 5  # evicted files left the session's set


# ---------------------------------------------------------------------------- negative bytes


def test_hardening_negative_byte_counts_never_reach_records(emitter):
    c = Collector()
    em = emitter()
    evs = em.send(c, [em.f([FileOpen(1, -7, False, 0, "/n"), FileXfr(1, -1, 0, 0), FileClose(1, -5, 3, -(1 << 40))])])
    (rec,) = [e for e in evs if type(e) is TransferRecord]
    assert (rec.file_size, rec.read_bytes, rec.read_vector_bytes, rec.write_bytes) == (0, 3, 3, 0)
    anomalies = [e.detail for e in evs if getattr(e, "anomaly", None) is AnomalyKind.UNKNOWN_PAYLOAD]
    assert len(anomalies) == 4 and all("< 0" in d for d in anomalies)


# ---------------------------------------------------------------------------- fuzz with tiny bounds

_TINY = CollectorConfig(max_servers=2, max_open_files=3, max_sessions=2, max_paths=2, max_expired_files=2,
                        max_counter_groups=2, max_summary_series=1, max_text_bytes=8, max_path_bytes=600,
                        max_session_bytes=1500, max_open_bytes=700, reorder_count=2)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(DATAGRAMS)
def test_hardening_tiny_bounds_keep_accounting_exact_and_budgets_balanced(datagrams):
    c = Collector(_TINY)
    for i, (payload, src) in enumerate(datagrams):
        c.feed(payload, src, float(i))
        if i % 5 == 4:
            c.flush(float(i) + 10_000.0)
    c.close(1e9)
    rep = c.report()
    assert _accounted(rep) == rep.datagrams == len(datagrams)
    assert (rep.tables["path_bytes"], rep.tables["session_bytes"], rep.tables["open_file_bytes"]) == (0, 0, 0)


# ---------------------------------------------------------------------------- sinks and sources


def _record(**fields) -> TransferRecord:
    import dataclasses

    blank = {"str": "", "int": 0, "bool": False, "float": 0.0, "Ended": Ended.CLOSE}
    values = {f.name: blank.get(str(f.type)) for f in dataclasses.fields(TransferRecord)}
    return TransferRecord(**{**values, **fields})


def test_hardening_parquet_keeps_the_file_despite_bad_text_and_huge_ints(tmp_path):
    out = tmp_path / "r.parquet"
    sink = ParquetSink(out, batch=10)
    bad = b"/bad\xff".decode("utf-8", "surrogateescape")
    sink.write([_record(file_lfn="/ok"), _record(file_lfn=bad), _record(read_bytes=1 << 70), _record(file_lfn="/ok2")])
    sink.close()
    rows = pq.read_table(out).to_pylist()
    assert [r["file_lfn"] for r in rows] == ["/ok", "/bad\ufffd", "", "/ok2"]
    assert rows[2]["read_bytes"] == (1 << 63) - 1
    assert sink.io() == {"parquet_written": 4, "parquet_sanitised_text": 1, "parquet_clamped_ints": 1, "parquet_dropped": 0}


def test_hardening_shoveler_lines_that_break_json_are_counted_and_times_finite():
    good = {"remote": "192.0.2.1:9930", "version": 1, "data": "AA==", "t": 12.5}
    line = json.dumps(good)
    bad = [
        "[" * 100_000 + "]" * 100_000,  # deeper than the JSON decoder's stack
        line.replace("12.5", "9" * 400),  # overflows float
        line.replace("12.5", "1" + "0" * 5000),  # beyond int's digit limit
        line.replace("12.5", "NaN"),
        line.replace("12.5", "Infinity"),
        line.replace("12.5", "1e400"),
    ]
    source = ShovelerSource(bad + [line], clock=lambda: 0.0)
    assert list(source) == [(b"\x00", ("192.0.2.1", 9930), 12.5)]
    assert source.bad == len(bad)


@pytest.mark.skipif(not os.path.exists("/proc/net/udp"), reason="needs /proc/net/udp")
def test_hardening_kernel_drops_after_the_last_datagram_read_are_counted():
    source = UdpSource([("127.0.0.1", 0)], rcvbuf=4096)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        got: list[bytes] = []
        for _ in range(2):  # the second burst's datagrams carry the first burst's drops only
            for _ in range(3000):
                tx.sendto(b"x" * 200, source.addresses[0])
            source.drain(lambda d, s, t: got.append(d), lambda: 0.0)
        proc = proc_udp_drops({os.fstat(source.sockets[0].fileno()).st_ino})
        io = source.io()
        assert proc > 0 and io["kernel_drops"] == proc == io["kernel_drops_proc_net_udp"]
        assert got and len(got) + proc == 6000
    finally:
        tx.close()
        source.close()
