"""Bounded state (DESIGN: "state is bounded and its size is reported"): past a limit the
oldest entry goes with a record or an anomaly, never silently."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collector import AnomalyKind, Collector, CollectorConfig, Ended, TransferRecord
from collector.state import RecentKeys
from xrdsim.wire import FileOpen


def test_bounds_opens_never_closed_stay_within_max_open_files(emitter):
    """240,000 opens through a table of 5,000: every one past the bound leaves as a record."""
    limit = 5_000
    c = Collector(CollectorConfig(max_open_files=limit, open_ttl=1e9))
    em = emitter()
    per_packet, packets = 4000, 60  # 16-byte OPENs without LFN: 64 kB datagrams
    evicted = 0
    for p in range(packets):
        base = p * per_packet
        payload = em.f([FileOpen(base + i + 1, 0) for i in range(per_packet)])
        for ev in c.feed(payload, em.src, float(p)):
            assert type(ev) is TransferRecord and ev.ended is Ended.EVICTED
            evicted += 1
        assert c.report().tables["open_files"] <= limit
    rep = c.report()
    assert evicted == per_packet * packets - limit == rep.evicted["open_files"] == rep.records_by_ended["evicted"]
    assert rep.tables["open_files"] == limit
    left = c.close(1e6)
    assert len(left) == limit and {e.ended for e in left} == {Ended.COLLECTOR_SHUTDOWN}


def test_bounds_sessions_evicted_with_an_anomaly(emitter):
    c = Collector(CollectorConfig(max_sessions=100))
    em = emitter()
    evs = em.send(c, [em.user(i + 1) for i in range(300)])
    assert sum(1 for e in evs if getattr(e, "anomaly", None) is AnomalyKind.SESSION_EVICTED) == 200
    assert c.report().tables["sessions"] == 100


def test_bounds_paths_evicted_and_counted(emitter):
    c = Collector(CollectorConfig(max_paths=50))
    em = emitter()
    em.send(c, [em.path(i + 1, f"/p{i}") for i in range(80)])
    rep = c.report()
    assert (rep.tables["paths"], rep.evicted["paths"]) == (50, 30)


def test_bounds_servers_evicted_emit_their_open_files(emitter):
    c = Collector(CollectorConfig(max_servers=3))
    evs = []
    for k in range(5):
        em = emitter(sid=0x100 + k, port=1000 + k)
        evs += em.send(c, [em.f([FileOpen(1, 0, False, 0, f"/s{k}")])], t0=float(k))
    recs = [e for e in evs if type(e) is TransferRecord]
    assert sorted(r.file_lfn for r in recs) == ["/s0", "/s1"] and {r.ended for r in recs} == {Ended.EVICTED}
    assert c.report().tables["servers"] == 3


def test_bounds_every_table_size_is_reported(collector):
    assert {"servers", "open_files", "sessions", "paths", "trace_files", "t_held", "counter_groups", "summary_series"} <= set(collector.report().tables)


def test_bounds_spoofed_source_ports_share_one_overflow_group(emitter):
    c = Collector()
    for port in range(200):
        em = emitter(port=10_000 + port)
        em.send(c, [em.ident()])
    rep = c.report()
    assert rep.tables["servers"] == 1 and rep.tables["counter_groups"] <= 65
    assert sum(g.received + g.duplicated for g in rep.groups) == 200  # identical '=' in the shared group


@given(st.integers(1, 8), st.lists(st.integers(0, 30), max_size=60))
def test_bounds_recent_keys_hold_the_last_size_added(size, keys):
    """The f-copy digests of an incarnation: the last ``size`` keys added, never more."""
    table, added = RecentKeys(size), []
    for k in keys:
        if table.get(k) is None:
            table.add(k, -k - 1)
            added.append(k)
        last = added[-size:]
        assert len(table) == len(last) <= size
        assert all(table.get(x) == -x - 1 for x in last)
        assert all(table.get(x) is None for x in set(added) - set(last))
