"""A run cut into shards, collected apart and merged, scores exactly as the one process:
the same truth, the same records and the same score card, however many shards or workers."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from xrdsim.harness import run_scenario, score_inputs, sim_stats, simulate_and_collect
from xrdsim.report import score_document
from xrdsim.scenario import load_scenario, parse_scenario
from xrdsim.score import score_run
from xrdsim.shards import merge, run_here, run_shard, run_sharded, shard_ranges

SCENARIO = """
name: shards
seed: 5
duration: 2h
sites:
  generate: {count: 5, servers: 2}
workload:
  jobs_per_hour: 150
  tpc: 0.3
  remote_share: 0.4
path:
  loss: 0.01
  reorder: 0.02
faults:
  - {kind: server_restart, at_s: 40m}
  - {kind: collector_outage, at_s: 70m, duration_s: 5m}
report:
  bin_s: 15m
"""


@pytest.fixture(scope="module")
def scenario():
    return parse_scenario(SCENARIO)


@pytest.fixture(scope="module")
def one_process(scenario):
    sim, got = simulate_and_collect(scenario)
    return sim, got, score_run(score_inputs(sim, got, scenario))


def test_ranges_cover_every_site_once():
    for sites in (1, 5, 17):
        for shards in (1, 2, 3, 8, 40):
            ranges = shard_ranges(sites, shards)
            assert [k for r in ranges for k in r] == list(range(sites))
            assert max(map(len, ranges)) - min(map(len, ranges)) <= 1


@pytest.mark.parametrize("shards", [1, 2, 5])
def test_shards_merge_into_the_one_process_run(scenario, one_process, shards):
    sim, got, card = one_process
    msim, mgot = run_sharded(scenario, shards, keep_truth=True)
    for table in ("transfers", "datagrams", "faults", "counters"):
        assert getattr(msim.truth, table) == getattr(sim.truth, table), table
    assert mgot.records == got.records
    assert (mgot.summaries, mgot.losses, mgot.groups) == (got.summaries, got.losses, got.groups)
    # every count agrees; the expiry heap's size is its own (it drops stale deadlines lazily)
    one, merged = (dict(r, tables={k: v for k, v in r["tables"].items() if k != "deadlines"}) for r in (got.report, mgot.report))
    assert merged == one
    assert sim_stats(msim, mgot) == sim_stats(sim, got)
    assert dataclasses.asdict(score_run(score_inputs(msim, mgot, scenario))) == dataclasses.asdict(card)


def test_the_run_is_one_that_sharding_could_get_wrong(one_process):
    """Copies between sites, path losses and an outage: what a merge that lost a shard's
    rows, doubled a copy's bytes or mixed the collectors' output would show."""
    sim, got, card = one_process
    assert sum(1 for r in sim.truth.transfers if r.tpc) > 20
    assert sim.path_counts["lost"] > 50
    assert len(got.records) > 1000 and card.value("transfer_recall") < 1.0


def test_a_missing_or_repeated_shard_is_refused(scenario):
    parts = run_here(scenario, shard_ranges(5, 3)[:2], lambda k, n: None)
    with pytest.raises(ValueError, match="not each of 5 once"):
        merge(scenario, parts)
    with pytest.raises(ValueError, match="not each of 5 once"):
        merge(scenario, parts + parts + [run_shard(scenario, range(4, 5))])


def test_dask_workers_give_the_one_process_scores(scenario, one_process):
    pytest.importorskip("dask.distributed")
    from xrdsim.cluster import dask_runner

    sim, got, card = one_process
    msim, mgot = run_sharded(scenario, 3, dask_runner(workers=2))
    assert dataclasses.asdict(score_run(score_inputs(msim, mgot, scenario))) == dataclasses.asdict(card)
    assert sim_stats(msim, mgot) == sim_stats(sim, got)
    # the shards scored their transfers, records and counters where they ran: none came back
    assert not (msim.truth.transfers or msim.truth.datagrams or mgot.records)
    assert {r.kind for r in msim.truth.counters} == {"uplink"}


def test_cli_run_with_workers_or_shards_writes_the_same_score_json(tmp_path):
    """Plain ``xrdsim run`` streams the run as one shard, ``--workers 2`` and ``--shards 3``
    cut it: each writes the score.json of the one process that holds every row."""
    pytest.importorskip("dask.distributed")
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("duration: 2h", "duration: 30m"))
    batch = score_document(run_scenario(load_scenario(path)))
    batch.pop("phases_s")
    docs = []
    for extra, out in (([], "one"), (["--workers", "2"], "two"), (["--shards", "3"], "three")):
        proc = subprocess.run([sys.executable, "-m", "xrdsim", "run", str(path), "-o", str(tmp_path / out), "-q", *extra],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode in (0, 1), proc.stderr
        doc = json.loads((tmp_path / out / "score.json").read_text())
        assert "shard_tally" in doc.pop("phases_s")  # streamed, also without options
        docs.append(doc)
    assert docs[0] == docs[1] == docs[2] == batch


@pytest.mark.parametrize("args, says", [
    (["--workers", "0"], "--workers: expected at least 1, got 0"),
    (["--workers", "2", "--collector", "udp"], "in-process collector only"),
    (["--shards", "0"], "--shards: expected at least 1, got 0"),
    (["--shards", "2", "--collector", "external"], "in-process collector only"),
    (["--scheduler", "tcp://127.0.0.1:1", "--scheduler-timeout", "1"], "--scheduler tcp://127.0.0.1:1: cannot connect"),
    (["--scheduler", "tcp://127.0.0.1:1", "--scheduler-timeout", "0"], "--scheduler-timeout: expected more than 0 seconds, got 0"),
])
def test_cli_refuses_what_cannot_be_sharded_in_one_line(tmp_path, args, says):
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("duration: 2h", "duration: 10m"))
    proc = subprocess.run([sys.executable, "-m", "xrdsim", "run", str(path), "-o", str(tmp_path / "r"), "-q", *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_shard_result_travels_whole(scenario):
    """What a Dask worker sends back (rows packed as tuples) is what it had."""
    import pickle

    sh = run_shard(scenario, range(1, 3), keep_truth=True)
    back = pickle.loads(pickle.dumps(sh))
    assert back.tables == sh.tables and back.collected.records == sh.collected.records and back.tally == sh.tally
    assert (back.marks, back.uplink_parts, back.stats, back.sent) == (sh.marks, sh.uplink_parts, sh.stats, sh.sent)
    assert len(back.tables["transfers"]) > 100
