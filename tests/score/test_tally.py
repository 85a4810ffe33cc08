"""The matching added up: the tallies of a run's servers taken apart add into the tally of the
whole, in any order, so a run scored shard by shard scores as one process."""

from __future__ import annotations

import copy
import math

import pytest

from collector import current_records
from xrdsim.harness import score_inputs, simulate_and_collect
from xrdsim.scenario import parse_scenario
from xrdsim.score import Matching, TransferTally, score_run, tally_transfers
from xrdsim.score.metrics import transfer_metrics
from xrdsim.score.card import run_bins
from xrdsim.score.digest import RecordDigest, digest_records
from xrdsim.score.tally import MAX_PAIRS_KEPT, record_host, tally_matching

SCENARIO = """
name: tally
seed: 11
duration: 90m
sites:
  generate: {count: 3, servers: 2}
workload:
  jobs_per_hour: 200
  tpc: 0.2
path:
  loss: 0.02
faults:
  - {kind: server_restart, at_s: 30m}
report:
  bin_s: 15m
"""


@pytest.fixture(scope="module")
def run():
    scenario = parse_scenario(SCENARIO)
    sim, got = simulate_and_collect(scenario)
    return scenario, sim, current_records(got.records), score_inputs(sim, got, scenario)


def _part(sim, records, servers, t0):
    truth = sim.truth
    return tally_transfers([t for t in truth.transfers if t.server in servers], [r for r in records if r.server_host in servers],
                           [d for d in truth.datagrams if d.server in servers], truth.faults, t0)


def test_the_tallies_of_servers_apart_add_into_the_whole(run):
    scenario, sim, records, inputs = run
    t0 = float(scenario.sim.start_time)
    whole = tally_transfers(sim.truth.transfers, records, sim.truth.datagrams, sim.truth.faults, t0)
    # the run has what a wrong merge would get wrong: misses with causes, restart cuts, losses
    assert whole.misses and whole.restart_cut > 0 and sum(whole.lost.values()) > 5 and whole.f_lost
    hosts = sorted({t.server for t in sim.truth.transfers})
    groups = [set(hosts[0::3]), set(hosts[1::3]), set(hosts[2::3])]
    for order in ([0, 1, 2], [2, 0, 1]):
        merged = TransferTally()
        for k in order:
            merged.add(_part(sim, records, groups[k], t0))
        assert merged.canonical() == whole


def test_a_score_from_a_merged_tally_is_the_score_of_the_whole(run):
    scenario, sim, records, inputs = run
    t0 = float(scenario.sim.start_time)
    hosts = sorted({t.server for t in sim.truth.transfers})
    merged = TransferTally()
    for group in (set(hosts[:2]), set(hosts[2:])):
        merged.add(_part(sim, records, group, t0))
    apart = copy.copy(inputs)
    apart.transfers, apart.datagrams, apart.tally = [], [], merged.canonical()
    assert score_run(apart) == score_run(inputs)


def _digest(scenario, sim, records, tally, servers=None):
    mine = [r for r in records if servers is None or r.server_host in servers]
    counters = [c for c in sim.truth.counters if servers is None or c.name in servers]
    bins = run_bins(float(scenario.sim.start_time), scenario.sim.duration_s, scenario.report.bin_s)
    peers = {t.server for t in sim.truth.transfers}
    return digest_records([(r, record_host(r, tally.ip_hosts)) for r in mine], bins, tally.site_of, counters,
                          scenario.sim.nic.model(), peer_hosts=peers)


def test_the_digests_of_servers_apart_add_into_the_whole(run):
    """Records and counters digested per set of servers, then added, give the per-host
    series and signals of the whole, copies read across sets included."""
    scenario, sim, records, inputs = run
    tally = tally_transfers(sim.truth.transfers, records, sim.truth.datagrams, sim.truth.faults, float(scenario.sim.start_time))
    whole = _digest(scenario, sim, records, tally)
    assert whole.peers and whole.puts == [] and any(s.restart_end or len(s.stods) > 1 for s in whole.hosts.values())
    hosts = sorted(tally.site_of)
    merged = RecordDigest(whole.bins)
    for group in (set(hosts[1::2]), set(hosts[0::2])):
        merged.add(_digest(scenario, sim, records, tally, group))
    assert merged.canonical() == whole
    assert merged.series(tally.site_of) == whole.series(tally.site_of)
    apart = copy.copy(inputs)
    apart.records, apart.counters, apart.digest, apart.tally = [], [], merged, tally
    assert score_run(apart) == score_run(inputs)


def test_the_byte_pair_sample_is_the_same_subset_however_cut(make_truth, make_rec):
    """The sample keeps the pairs of the smallest keys: the sample of a merge is the sample of
    the whole, not a stride over whichever part came first."""
    n = MAX_PAIRS_KEPT + 500
    truth = [make_truth(k, fid=k, read=k) for k in range(1, n + 1)]
    pairs = [(t, make_rec(fid=t.file_dictid, read=t.read_bytes)) for t in truth]
    whole = tally_matching(Matching(pairs=pairs), {}, {})
    merged = TransferTally()
    for part in (pairs[1::2], pairs[0::2]):
        merged.add(tally_matching(Matching(pairs=part), {}, {}))
    merged.canonical()
    assert len(whole.byte_pairs) == MAX_PAIRS_KEPT
    assert merged.byte_pairs == whole.byte_pairs
    # spread over the run, not its first transfers
    assert max(b for _, b, _ in whole.byte_pairs) > 0.9 * n


def test_site_tallies_give_byte_recall_and_precision(make_truth, make_rec):
    t1, t2 = make_truth(1, read=100), make_truth(2, fid=2, read=300)
    m = Matching(pairs=[(t1, make_rec(read=200))], missed=[t2], spurious=[make_rec(fid=9, read=100)])
    tally = tally_matching(m, {}, {})
    v = {x.name: x.value for x in transfer_metrics(tally)}
    assert v["byte_recall"] == pytest.approx(100 / 400)
    assert v["byte_precision"] == pytest.approx(100 / 300)
    assert tally.total.truth_transfers == 2 and tally.total.records == 2
    assert math.isnan({x.name: x.value for x in transfer_metrics(TransferTally())}["byte_recall"])
