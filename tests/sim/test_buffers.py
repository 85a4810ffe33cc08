"""The monitor's buffer objects alone: t WINDOW rules (spec §5.3), t I/O entries with
aggregation (§5.2), r round-robin and REDTIME framing (§6), g sizing and pseq (§7.1).
Expected values are worked out here from the spec or read off the real 5.5.3 capture."""

from __future__ import annotations

from xrdsim.sim.gbuffer import GBuffer, gbuff_capacity
from xrdsim.sim.iostats import IoPlan, readv_series, series
from xrdsim.sim.redir import RedirBuffers, redir_capacity
from xrdsim.sim.trace import TraceBuffer, trace_capacity
from xrdsim.sim.traceio import IoCursor
from xrdsim.wire import Redirect, RedirKind, RedirOp, RedirTime, TraceIO, TraceMarker, TraceOpen, TraceReadv, TraceWindow

SID = 0x123456789ABC


def _collect():
    sent = []
    return sent, lambda *args: sent.append(args)


def test_trace_capacity_from_mbuff():
    assert trace_capacity(16384) == 1023  # spec §1.6: 8 + 16·1023 = 16376 B
    assert trace_capacity(1100) == 67 and trace_capacity(100) == 63  # rounded down to 16, at least 1024


def test_trace_windows_marks_and_closing_mark():
    sent, send = _collect()
    buf = TraceBuffer(SID, 1023, 60, 0, send, 1000)
    buf.add([TraceOpen(5, 1)], 1000, 0.0)
    buf.add([TraceIO(0, 10, 1)], 1180, 1.0)  # three windows later: mark (prev end, new start)
    buf.add([TraceIO(10, 10, 1)], 1180, 2.0)
    buf.flush(1200, 3.0)
    (t, entries), = sent
    assert t == 3.0 and [type(e) for e in entries] == [TraceWindow, TraceOpen, TraceWindow, TraceIO, TraceIO, TraceWindow]
    assert [(e.prev_end, e.next_start) for e in entries if type(e) is TraceWindow] == [(1000, 1000), (1060, 1180), (1240, 1240)]
    buf.add([TraceIO(20, 10, 1)], 1200, 4.0)
    buf.flush(1200, 5.0)
    assert (sent[1][1][0].prev_end, sent[1][1][0].next_start, sent[1][1][-1].prev_end) == (1200, 1200, 1260)


def test_trace_mark_after_mark_only_moves_its_start():
    sent, send = _collect()
    buf = TraceBuffer(SID, 1023, 1, 0, send, 0, 0)  # the shared buffer as built at start-up
    buf.add([TraceOpen(0, 2)], 1795912902, 3.3)
    buf.flush(1795912903, 4.3)
    marks = [(e.prev_end, e.next_start) for e in sent[0][1] if type(e) is TraceWindow]
    assert marks == [(0, 1795912902), (1795912903, 1795912903)]  # real 5.5.3 capture, dest 2


def test_trace_full_buffer_and_flush_io_age():
    sent, send = _collect()
    buf = TraceBuffer(SID, 63, 1, 0, send, 10)
    for k in range(130):
        buf.add([TraceIO(k, 1, 1)], 10, 0.0)
    assert [len(e) for _, e in sent] == [63, 63] and len(buf) == 1 + 130 - 2 * 61
    aged, send = _collect()
    buf = TraceBuffer(SID, 1023, 1, 5, send, 10)
    for w in range(10, 30):
        buf.add([TraceIO(w, 1, 1)], w, float(w))
    assert [e[0] for e in aged] == [15.0, 20.0, 25.0]  # a record in a window ≥ 5 s after the first


def test_io_entries_pgwrite_lengths_match_capture():
    plan = IoPlan(write=series(8501025, 8 * 1024 * 1024), pg=True)
    cur = IoCursor(plan, 10, 0, 3.0, 3.5, 1024, False, 60, lambda: 0)
    due = cur.due(1.0, 4.0)
    assert [t for t, _ in due] == [3.25, 3.5]  # each request hands off when it completes
    assert [e for _, ents in due for e in ents] == [TraceIO(0, -8396800, 10), TraceIO(8388608, -112529, 10)]  # real 5.5.3
    assert cur.due(1.0, 5.0) == []  # nothing twice


def test_io_entries_aggregate_to_the_cap_with_exact_bytes():
    size = 20_000_000_000
    cur = IoCursor(IoPlan(read=series(size, 1 << 20)), 7, size, 0.0, 100.0, 50, False, 60, lambda: 0)
    half = [e for _, ents in cur.due(0.5, 50.0) for e in ents]
    rest = [e for _, ents in cur.due(1.0, 100.0) for e in ents]
    entries = half + rest
    assert len(entries) == 50 and 20 <= len(half) <= 25
    assert sum(e.length for e in entries) == size and max(e.length for e in entries) < 2**31
    assert [e.offset for e in entries] == [sum(x.length for x in entries[:k]) for k in range(50)]


def test_io_entries_readv_and_readu():
    seq = iter(range(1000))
    plan = IoPlan(readv=readv_series(10 * 64 * 16384 + 3 * 16384, 64, 16384))
    cur = IoCursor(plan, 3, 10**9, 0.0, 1.0, 10_000, False, 60, lambda: next(seq))
    entries = [e for _, ents in cur.due(1.0, 1.0) for e in ents]
    assert [(e.kind, e.seq, e.nsegs, e.total) for e in entries] == [(TraceMarker.READV, k, 64, 1 << 20) for k in range(10)] + [
        (TraceMarker.READV, 10, 3, 3 * 16384)]
    cur = IoCursor(plan, 3, 10**9, 0.0, 1.0, 10_000, True, 60, lambda: 0)
    entries = [e for _, ents in cur.due(0.5, 0.5) for e in ents]
    heads = [e for e in entries if type(e) is TraceReadv]
    assert len(heads) == 5 and all(h.kind is TraceMarker.READU and h.nsegs == 60 for h in heads)
    assert len(entries) == 5 * 61 and sum(e.length for e in entries if type(e) is TraceIO) == 5 << 20


def test_redir_round_robin_and_redtime_framing():
    sent, send = _collect()
    bufs = RedirBuffers(redir_capacity(32768), 60, 3, send)
    recs = [Redirect(RedirKind.REDIRECT, RedirOp.OPENR, 1094, k, "xrootd-01.example.org", f"/f{k}") for k in range(7)]
    for k, rec in enumerate(recs):
        bufs.add(rec, 1000 if k < 5 else 1060, float(k))
    bufs.flush(1120, 9.0)
    assert [[s.user_id if type(s) is Redirect else s.unix_time for s in slots] for _, slots in sent] == [
        [1000, 0, 3, 1060, 6, 1120], [1000, 1, 4, 1120], [1000, 2, 1060, 5, 1120]]
    assert all(s.window_s == 60 for _, slots in sent for s in slots if type(s) is RedirTime)


def test_redir_flushes_before_overflowing_rbuff():
    sent, send = _collect()
    cap = redir_capacity(2048)
    assert cap == (2048 - 24) // 8  # plen = 16 + 8·(n+1) ≤ rbuff (spec §1.6)
    bufs = RedirBuffers(cap, 60, 1, send)
    rec = Redirect(RedirKind.REDIRECT, RedirOp.OPENW, 1094, 1, "h", "/" + "x" * 60)  # "h:/x…" 63 B + NUL: 1 + 8 slots
    for _ in range(30):
        bufs.add(rec, 1000, 0.0)
    assert [len(slots) for _, slots in sent] == [1 + 28 + 1]  # 1 + 28·9 = 253 slots: plen 16 + 8·254 = 2048


def test_gbuffer_sizes_and_pseq_from_one():
    assert gbuff_capacity(32768) == 32768 and gbuff_capacity(5003) == 5000 and gbuff_capacity(10) == 1024
    sent, send = _collect()
    buf = GBuffer(1024, send)
    for k in range(20):
        buf.add("x" * 99, 1000 + k, float(k))  # 100 bytes each with its separator
    buf.flush(30.0)
    assert [(p[1], p[2], p[3], len(p[4])) for p in sent] == [(1, 1000, 1009, 10), (2, 1010, 1019, 10)]
