"""Summary reports (spec §8): what the simulator sends decodes with ``xrdsim.wire.decode``
and its ``link`` block agrees with the truth — payload folded in only at link close
without ``sync`` (§8.3), the live part too with it."""

from __future__ import annotations

import pytest

from xrdsim.sim import JobConfig, MonitorConfig, ReportConfig, SimConfig, SiteConfig, WorkloadConfig, simulate
from xrdsim.wire import SummaryPacket, decode, link_stats

JOBS = [JobConfig(at_s=5 + 10 * k, op="read" if k % 2 else "write", lfn=f"/f{k}", size_bytes=40_000_000 * (k + 1), duration_s=8)
        for k in range(4)]


def _reports(sync: bool) -> tuple:
    cfg = SimConfig(seed=6, duration_s=80, sites=[SiteConfig(servers=1, worker_nodes=2)], monitor=MonitorConfig(),
                    report=ReportConfig("192.0.2.9", 9931, every_s=10, sync=sync),
                    workload=WorkloadConfig(jobs_per_hour=0, scripted=JOBS))
    run = simulate(cfg)
    reports = [(d.t_send, decode(d.payload)) for d in run.datagrams() if d.dst == ("192.0.2.9", 9931)]
    return run, reports


@pytest.mark.parametrize("sync", [False, True])
def test_summary_decodes_and_link_matches_truth(sync):
    run, reports = _reports(sync)
    assert [t for t, _ in reports] == [10.0 * k for k in range(1, 8)]  # the run stops before t = 80
    rows = run.truth.transfers
    for t, pkt in reports:
        assert isinstance(pkt, SummaryPacket) and pkt.pgm == "xrootd" and pkt.tod == 1_700_000_000 + int(t)
        link = link_stats(pkt.stats)
        done = [r for r in rows if r.close_time - 1_700_000_000 <= t]
        assert link.tot == sum(r.open_time - 1_700_000_000 <= t for r in rows) and link.num == link.tot - len(done)
        if not sync or link.num == 0:
            assert (link.in_bytes, link.out_bytes) == (sum(r.payload_in_bytes for r in done), sum(r.payload_out_bytes for r in done))
        else:
            assert link.out_bytes > sum(r.payload_out_bytes for r in done)
        assert pkt.stats["sgen"]["as"] == (0 if sync else 1)
