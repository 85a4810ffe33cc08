"""r-stream redirect events (spec §6) and g-stream TPC / cache records (spec §7), each
provider its own counter group."""

from __future__ import annotations

import json

from collector import CacheRecord, RedirectEvent, TpcRecord, TransferRecord
from xrdsim.wire import FileClose, FileOpen, GStreamPacket, Redirect, RedirKind, RedirOp, RedirPacket, RedirTime, encode

TPC = {
    "TPC": "xroot", "Client": "cms.123:45@dtn1", "Xeq": {"Beg": "2024-01-01T00:00:00.123Z", "End": "2024-01-01T00:00:09.5Z",
    "RC": 0, "Strm": 2, "Type": "pull", "IPv": 6}, "Src": "root://src.example.org:1094//store/a", "Dst": "root://me:1094//store/a", "Size": 12345,
}  # fmt: skip
CACHE = {"event": "file_close", "lfn": "/store/c", "size": 100, "blk_size": 10, "n_blks": 10, "n_blks_done": 7, "access_cnt": 2,
         "attach_t": 50, "detach_t": 60, "remotes": ["o1:1094"], "b_hit": 30, "b_miss": 70, "b_bypass": 0, "b_todisk": 70,
         "b_prefetch": 0, "n_cks_errs": 0}  # fmt: skip


def g_packet(em, provider, records, pseq):
    return encode(GStreamPacket(pseq, em.stod, 10, 20, ord(provider), em.sid, [json.dumps(r) for r in records]))


def test_plugins_redirects_with_time_user_and_target(emitter, collector):
    em = emitter()
    slots = [RedirTime(1, 1_700_000_300), Redirect(RedirKind.REDIRECT, RedirOp.OPENR, 1095, 0x50, "disk7.example.org", "/store/x"),
             Redirect(RedirKind.REDLOCAL, RedirOp.STAT, 0, 0, "", "/local"), RedirTime(1, 1_700_000_301)]  # fmt: skip
    r_pkt = encode(RedirPacket(em.mseq, em.stod, em.sid, slots))
    evs = em.send(collector, [em.user(0x50), r_pkt])
    got = [(e.time, e.local, e.op, e.target_host, e.target_port, e.path, e.user) for e in evs if type(e) is RedirectEvent]
    assert got == [(1_700_000_300.0, False, "openr", "disk7.example.org", 1095, "/store/x", "alice"), (1_700_000_300.0, True, "stat", "", 0, "/local", "")]
    assert collector.report().totals()["map"]["lost"] == 0  # r shares the map counter


def test_plugins_tpc_and_cache_records_and_provider_groups(emitter, collector):
    em = emitter()
    evs = em.send(collector, [g_packet(em, "P", [TPC], 1), g_packet(em, "C", [CACHE], 1), g_packet(em, "P", [TPC], 3)])
    tpc = [e for e in evs if type(e) is TpcRecord]
    assert len(tpc) == 2
    t = tpc[0]
    assert (t.tpc_protocol, t.client, t.direction, t.return_code, t.streams, t.ip_version, t.size) == ("xroot", "cms.123:45@dtn1", "pull", 0, 2, 6, 12345)
    assert (t.source_url, t.destination_url, t.begin) == (TPC["Src"], TPC["Dst"], "2024-01-01T00:00:00.123Z")
    (c,) = [e for e in evs if type(e) is CacheRecord]
    assert (c.file_lfn, c.bytes_hit, c.bytes_miss, c.blocks_done, c.remotes, c.detach_time) == ("/store/c", 30, 70, 7, ["o1:1094"], 60.0)
    collector.close(2000.0)  # the gap (pseq 2 of P) is declared at shutdown
    totals = collector.report().totals()
    assert (totals["g:P"]["received"], totals["g:P"]["lost"], totals["g:C"]["received"]) == (2, 1, 1)


def test_plugins_tpc_path_flags_the_transfer_record(emitter, collector):
    em = emitter()
    evs = em.send(collector, [g_packet(em, "P", [TPC], 1), em.f([FileOpen(1, 0, True, 0, "/store/a"), FileClose(1, 0, 0, 12345)])])
    (rec,) = [e for e in evs if type(e) is TransferRecord]
    assert rec.tpc


def test_plugins_non_json_g_record_is_an_anomaly(emitter, collector):
    em = emitter()
    evs = em.send(collector, [encode(GStreamPacket(1, em.stod, 1, 2, ord("P"), em.sid, ["not json"]))])
    assert [e.anomaly.value for e in evs if e.KIND == "anomaly"] == ["unknown_payload"]
