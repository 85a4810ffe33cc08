"""Each site is simulated on its own: a run of some sites makes exactly their part of the
whole run (datagrams, truth rows, counters), TPC copies between two sites included, with a
restart hitting a copy's source, remote clients, a lossy path and a scripted cross-site TPC."""

from __future__ import annotations

import dataclasses

import pytest

from xrdsim.net import PathConfig
from xrdsim.sim import FaultConfig, FaultKind, SimConfig, WorkloadConfig
from xrdsim.sim.config import SessionConfig, StepConfig
from xrdsim.sim.plan import RunPlan, TpcFeed
from xrdsim.sim.run import SITE_ID_SHIFT, SimRun
from xrdsim.sim.uplinks import UplinkSum

SESSION = SessionConfig(at_s=600, site=0, server=0, steps=[
    StepConfig(op="tpc", lfn="/store/copy/a.root", size_bytes=300_000_000, source_site=2, source_server=1),
    StepConfig(op="sleep", duration_s=5),
])
CFG = SimConfig(
    seed=11, duration_s=2 * 3600, site_count=4,
    workload=WorkloadConfig(jobs_per_hour=300, tpc=0.4, remote_share=0.4, files_per_vo=200, users_per_vo=4,
                            sessions=[SESSION]),
    faults=[FaultConfig(FaultKind.SERVER_RESTART, at_s=2400)],
    path=PathConfig(loss=0.01, burst_enter=0.02, reorder=0.02),
)


def pulls_of(run: SimRun) -> list:
    """The source side of every TPC copy (the destination's daemon reading)."""
    servers = set(site_of(run))
    return [r for r in run.truth.transfers if r.tpc and r.client_host in servers]


@pytest.fixture(scope="module")
def cfg():
    """``CFG`` plus a restart of a copy's source in the middle of the copy: a probe run
    finds one (a restart changes nothing before it, so the copy is there when it comes)."""
    probe = SimRun(CFG)
    for _ in probe.datagrams():
        pass
    pull = max(pulls_of(probe), key=lambda r: r.close_time - r.open_time)
    mid = (pull.open_time + pull.close_time) / 2 - CFG.start_time
    return dataclasses.replace(CFG, faults=[*CFG.faults, FaultConfig(FaultKind.SERVER_RESTART, at_s=mid, target=pull.server)])


@pytest.fixture(scope="module")
def whole(cfg):
    run = SimRun(cfg)
    return run, list(run.delivered())


def site_of(run: SimRun) -> dict[str, int]:
    return {spec.host.name: site.index for site in run.world.sites for spec in site.servers}


@pytest.mark.parametrize("sites", [[0], [1, 2], [3]])
def test_a_shard_makes_exactly_its_sites_part(cfg, whole, sites):
    run, delivered = whole
    shard = SimRun(cfg, sites=sites)
    got = list(shard.delivered())
    names = site_of(run)
    mine = [d for d in delivered if d.ident >> SITE_ID_SHIFT in sites]
    assert [(d.ident, d.t_arrival, d.payload) for d in got] == [(d.ident, d.t_arrival, d.payload) for d in mine]
    for table in ("transfers", "datagrams"):
        assert getattr(shard.truth, table) == [r for r in getattr(run.truth, table) if names[r.server] in sites], table
    hosts = [r for r in run.truth.counters if r.kind == "host" and names.get(r.name, -1) in sites]
    assert shard.truth.counters == hosts


def test_the_run_has_what_a_shard_test_needs(whole):
    """The scenario exercises what couples sites: copies across sites (some refused or cut
    by the restarts), remote clients, path losses."""
    run, _ = whole
    names = site_of(run)
    tpc_sites = {names[r.server] for r in run.truth.transfers if r.tpc}
    assert len(tpc_sites) == 4
    end = run.config.start_time + run.config.duration_s
    assert any(r.close_kind == "never" and r.close_time < end for r in pulls_of(run)), "no copy cut by a restart"
    assert sum(1 for r in run.truth.datagrams if r.fate == "lost") > 10
    remote = [r for r in run.truth.transfers if not r.tpc and r.client_host.split(".", 1)[-1] != r.server.split(".", 1)[-1]]
    assert remote


def test_uplink_shares_sum_to_the_whole_runs_uplinks(cfg, whole):
    run, _ = whole
    plan = RunPlan(cfg)
    sums = UplinkSum([s.name for s in plan.world.sites], cfg.nic.wrap32)
    shards = [SimRun(cfg, sites=[k], plan=plan) for k in range(4)]
    for sh in shards:
        for _ in sh.datagrams():
            pass
    rows = [row for c in range(len(shards[0].uplink_parts)) for row in
            sums.rows(cfg.start_time, (p for sh in shards for p in sh.uplink_parts[c]))]
    assert rows == [r for r in run.truth.counters if r.kind == "uplink"]
    assert any(r.rx_bytes > 10**9 for r in rows)  # the uplinks carry the inter-site bytes


def test_a_copy_books_each_side_once(whole):
    """The pull of a TPC crosses the source's NIC out and the destination's NIC in; each
    site books its own side (the other's server is a ghost there): the hosts' payload is
    that of the transfers plus, the other way round, that of each pull at its destination."""
    run, _ = whole
    last = {}
    for r in run.truth.counters:
        if r.kind == "host":
            last[r.name] = r
    pulls = pulls_of(run)
    assert len(pulls) > 20
    tx = sum(r.tx_payload_bytes for r in last.values())
    rx = sum(r.rx_payload_bytes for r in last.values())
    want_tx = sum(r.payload_out_bytes for r in run.truth.transfers) + sum(r.payload_in_bytes for r in pulls)
    want_rx = sum(r.payload_in_bytes for r in run.truth.transfers) + sum(r.payload_out_bytes for r in pulls)
    # hosts also book link bytes no transfer row carries (logins, stats): a few kB either way;
    # a side booked twice or not at all would be off by the pulls' bytes, most of ``rx``
    assert tx == pytest.approx(want_tx, rel=1e-4) and rx == pytest.approx(want_rx, rel=1e-4)
    assert sum(r.payload_out_bytes for r in pulls) > rx / 2


def test_the_same_seed_gives_the_same_plan():
    a, b = RunPlan(CFG), RunPlan(dataclasses.replace(CFG))
    copies = [list(a.tpc_arrivals(k)) for k in range(CFG.site_count)]
    assert copies == [list(b.tpc_arrivals(k)) for k in range(CFG.site_count)] and a.faults == b.faults
    assert sum(map(len, copies)) > 20


@pytest.mark.parametrize("sites", [[0], [1, 2], [0, 1, 2, 3]])
def test_the_feed_hands_each_site_its_copies_in_order_and_holds_few(sites):
    """Every copy a site takes part in, as destination or source, in (time, destination)
    order, whichever sites share the feed; drawn as the sites go, so the feed holds a few
    copies at a time, not the run's."""
    plan = RunPlan(CFG)
    every = [j for k in range(CFG.site_count) for j in plan.tpc_arrivals(k)]
    want = {k: sorted((j for j in every if k in (j.dst[0], j.src[0])), key=lambda j: (j.t, j.dst)) for k in sites}
    feed = TpcFeed(plan, sites)
    got: dict[int, list] = {k: [] for k in sites}
    nxt = {k: feed.next_for(k) for k in sites}
    most = 0
    while any(nxt.values()):  # the sites take their copies in time order, as their processes do
        k = min((k for k in sites if nxt[k]), key=lambda k: nxt[k].t)
        got[k].append(nxt[k])
        nxt[k] = feed.next_for(k)
        most = max(most, feed.held())
    assert got == want
    total = sum(map(len, want.values()))
    assert total > 300 and most < total / 20


def test_a_shards_ghosts_keep_no_monitoring(cfg):
    """A ghost (the other site's server of a copy) runs no timers and its own site sends
    its monitoring: it buffers no f records and no datagrams, however long the run."""
    shard = SimRun(cfg, sites=[0])
    for _ in shard.datagrams():
        pass
    ghosts = [g for ctx in shard.ctxs for g in ctx.ghosts.values()]
    assert ghosts and sum(g.sessions for g in ghosts) > 0  # they served copies
    assert all(not g.monitor.fbuf and not g.monitor.out for g in ghosts)


def test_both_sides_of_a_pull_count_the_same_acks(cfg, monkeypatch):
    """A pull's connection is booked twice, by the source's site (its NIC's transmit) and
    by the destination's (its receive); both draw its ACK rate from the copy's own draws,
    so the pure ACKs the source counts in are those the destination counts out."""
    from collections import defaultdict

    from xrdsim.sim.nic import NicModel

    sides: dict[tuple, list] = defaultdict(list)
    finish = NicModel.finish

    def noted(self, flow, down=None, up=None):
        finish(self, flow, down, up)
        if flow.server is not None and flow.remote is not None:  # a connection between two servers
            sides[(flow.t0, flow.t1, flow.down, flow.up)].append(flow.acks_per_segment)

    monkeypatch.setattr(NicModel, "finish", noted)
    for _ in SimRun(cfg).datagrams():
        pass
    twice = [rates for rates in sides.values() if len(rates) == 2]
    assert len(twice) > 20
    assert all(a == b for a, b in twice)
