"""A shard streamed in rounds (``xrdsim.score.stream``) tallies and digests exactly what the
whole run's rows and records give at the end, while holding only a horizon of them."""

from __future__ import annotations

import dataclasses

import pytest

from xrdsim import shards
from xrdsim.scenario import parse_scenario
from xrdsim.score.card import run_bins
from xrdsim.score.stream import NOTHING_OPEN, OpenTransfers, StreamTally
from xrdsim.shards import run_shard, settle_horizon
from xrdsim.sim.plan import RunPlan

# Short file timeout (a short horizon, so rounds settle much of the run before it ends),
# restarts and a clock skew (records long after the close, times off the collector's
# clock), bursty loss (misses and their causes), copies and long sessions.
SCENARIO = """
name: stream
seed: 21
duration: 5h
sites:
  generate: {count: 3, servers: 2}
workload:
  jobs_per_hour: 300
  tpc: 15%
  session: 30%
  idle_gap_s: 10m
  median_size_bytes: 2GB
monitoring:
  flush_s: 2m
path:
  burst_enter: 0.5%
  burst_leave: 30%
  burst_loss: 100%
faults:
  - {kind: server_restart, at_s: 2h, duration_s: 2m}
  - {kind: clock_skew, at_s: 1h, duration_s: 1h, skew_s: 10m}
collector:
  config: {open_ttl: 15m}
report:
  bin_s: 15m
"""


@pytest.fixture(scope="module")
def scenario():
    return parse_scenario(SCENARIO)


@pytest.fixture(scope="module")
def batch(scenario):
    plan = RunPlan(scenario.sim)
    return run_shard(scenario, range(3), keep_truth=True, plan=plan)


@pytest.fixture(scope="module")
def streamed(scenario):
    return run_shard(scenario, range(3), plan=RunPlan(scenario.sim))


def test_rounds_give_the_tally_and_digest_of_the_whole(batch, streamed):
    assert streamed.tally == batch.tally
    assert streamed.digest == batch.digest
    t = batch.tally
    # the run has what a round settled too early would get wrong: misses with causes, a
    # restart's cut transfers, records ended by timeout, losses
    assert t.misses and t.restart_cut > 0 and sum(t.lost.values()) > 10
    assert streamed.collected.record_count == batch.collected.record_count


def test_a_streamed_shard_holds_a_horizon_not_the_run(streamed):
    held = streamed.held
    assert held["rounds"] >= 5
    assert held["peak"] < 0.6 * held["of"]
    assert streamed.tables["transfers"] == [] and streamed.collected.records == []


def test_a_horizon_shorter_than_the_records_lateness_would_change_the_tally(scenario, batch, monkeypatch):
    """The equality above is not vacuous: settling after 60 s instead of the horizon pairs
    records that come later (a restart's, a timeout's) with nothing."""
    monkeypatch.setattr(shards, "settle_horizon", lambda sc: 60.0)
    early = run_shard(scenario, range(3), plan=RunPlan(scenario.sim))
    assert early.tally != batch.tally
    assert early.tally.total.spurious > batch.tally.total.spurious


def test_the_horizon_covers_the_file_timeout_and_the_flush(scenario):
    h = settle_horizon(scenario)
    assert 15 * 60 + 2 * 60 < h < 15 * 60 + 2 * 60 + 300


def test_a_record_of_a_transfer_still_open_waits_for_its_row(make_truth, make_rec):
    st = StreamTally(run_bins(900.0, 7200.0, 900.0), [], 0.0, horizon_s=600.0, peer_hosts=set())
    # a timeout record long before the transfer closes: its key is open in the simulator
    st.add_records([make_rec(read=50, start=1000.0, end=1500.0, emitted=1600.0, ended="timeout")])
    still_open = OpenTransfers(keys={("srv1", 100, 1)}, paths={("srv1", "/a"): [1000.0]})
    st.settle(5000.0, still_open)
    assert st.held == 1 and not st.extra
    st.add_rows([make_truth(1, read=80, open_t=1000.0, close_t=6000.0)])
    st.settle(6300.0, NOTHING_OPEN)
    assert st.held == 2  # closed less than a horizon ago: a later revision may still come
    st.settle(7000.0, NOTHING_OPEN)
    assert st.held == 0
    tally, _ = st.finish()
    assert tally.total.pairs == 1 and tally.total.spurious == 0 and tally.total.missed == 0


def test_a_later_revision_replaces_the_record_at_the_place_of_the_first(make_truth, make_rec):
    st = StreamTally(run_bins(900.0, 7200.0, 900.0), [], 0.0, horizon_s=600.0, peer_hosts=set())
    first = make_rec(read=50, emitted=1040.0, ended="timeout")
    st.add_rows([make_truth(1, read=80)])
    st.add_records([_with(first, record_id="s/1", revision=0)])
    st.add_records([_with(first, record_id="s/1", revision=1, read_bytes=80, t_emitted=1300.0, ended="close")])
    st.settle(1500.0, NOTHING_OPEN)
    assert st.held == 2  # revised 200 s ago: within the horizon
    st.settle(2000.0, NOTHING_OPEN)
    assert st.held == 0
    tally, digest = st.finish()
    assert tally.exact == 1 and digest.records == 1 and tally.total.recorded_bytes == 80


def test_rows_on_one_path_settle_together(make_truth, make_rec):
    """A record with no dictid falls back to its path: it may take either of two transfers
    of that path opened close together, so neither settles before the other can."""
    st = StreamTally(run_bins(900.0, 7200.0, 900.0), [], 0.0, horizon_s=600.0, peer_hosts=set())
    st.add_rows([make_truth(1, fid=1, read=10, open_t=1000.0, close_t=1010.0),
                 make_truth(2, fid=2, read=10, open_t=1100.0, close_t=3000.0)])
    st.add_records([make_rec(fid=None, read=10, start=1000.0, end=1010.0, emitted=1040.0)])
    st.settle(2000.0, NOTHING_OPEN)  # the first row and the record are old, the second row is not
    assert st.held == 3
    st.settle(4000.0, NOTHING_OPEN)
    assert st.held == 0


def _with(rec, **changes):
    return dataclasses.replace(rec, **changes)
