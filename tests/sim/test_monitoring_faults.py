"""Monitoring faults of the simulator (``xrdsim.sim.faults``): a silent server and a loss
burst on one server's path, and a configuration drift (a restart whose ``xrootd.monitor``
dests lack some events). Small runs: one site, two servers, an hour or two."""

from __future__ import annotations

import dataclasses

import pytest

from xrdsim.sim import DestEvent, FaultConfig, FaultKind, SimConfig, WorkloadConfig, simulate, wlcg_monitor

START = 1_700_000_000
AT, LONG = 1200.0, 1200.0  # the fault window of the path faults: [AT, AT + LONG)


def run_with(faults: list[FaultConfig], duration: float = 3600.0, seed: int = 7, jobs: int = 300):
    mon = dataclasses.replace(wlcg_monitor(), auth=True)
    cfg = SimConfig(seed=seed, duration_s=duration, start_time=START, site_count=1, servers_per_site=2, monitor=mon, faults=faults,
                    workload=WorkloadConfig(jobs_per_hour=jobs))  # fmt: skip
    run = simulate(cfg)
    delivered = list(run.delivered())
    return run, delivered


def servers_of(run) -> dict[str, str]:
    """host name → IPv4 address of the run's data servers."""
    return {t.server: t.server_ip for t in run.truth.transfers}


def inside(d, start: float, end: float) -> bool:
    return start <= d.t_send < end


@pytest.fixture(scope="module")
def silent():
    run, delivered = run_with([FaultConfig(FaultKind.SERVER_SILENT, at_s=AT, duration_s=LONG)])
    return run, delivered, run.truth.faults[0].target


@pytest.fixture(scope="module")
def burst():
    run, delivered = run_with([FaultConfig(FaultKind.LOSS_BURST, at_s=AT, duration_s=1800.0, fraction=0.5)], jobs=400)
    return run, delivered, run.truth.faults[0].target


def test_a_silent_server_loses_every_datagram_of_its_own_in_the_window(silent):
    run, _, target = silent
    mine = [d for d in run.truth.datagrams if d.server == target and inside(d, AT, AT + LONG)]
    assert len(mine) > 20
    assert {(d.fate, d.cause) for d in mine} == {("lost", "silent")}
    # before and after the window, it is heard again
    outside = [d for d in run.truth.datagrams if d.server == target and not inside(d, AT, AT + LONG)]
    assert outside and all(d.fate == "delivered" for d in outside)


def test_a_silent_server_leaves_the_other_server_alone(silent):
    run, delivered, target = silent
    others = [d for d in run.truth.datagrams if d.server != target]
    assert any(inside(d, AT, AT + LONG) for d in others)
    assert all(d.fate == "delivered" for d in others)
    # and what reaches the collector has nothing from the silent server's address in the window
    ip = servers_of(run)[target]
    assert not [d for d in delivered if d.src[0] == ip and inside(d, AT, AT + LONG)]
    assert [d for d in delivered if d.src[0] == ip and d.t_send >= AT + LONG]
    other_ip = next(v for k, v in servers_of(run).items() if k != target)
    assert [d for d in delivered if d.src[0] == other_ip and inside(d, AT, AT + LONG)]


def test_a_loss_burst_loses_about_its_fraction_of_the_targets_datagrams_in_the_window(burst):
    run, _, target = burst
    mine = [d for d in run.truth.datagrams if d.server == target and inside(d, AT, AT + 1800.0)]
    assert len(mine) > 60
    lost = sum(d.fate == "lost" for d in mine)
    assert 0.3 <= lost / len(mine) <= 0.7
    assert {d.cause for d in mine if d.fate == "lost"} == {"burst"}  # lost on the path, not a blocked server
    outside = [d for d in run.truth.datagrams if d.server == target and not inside(d, AT, AT + 1800.0)]
    assert outside and all(d.fate == "delivered" for d in outside)
    assert all(d.fate == "delivered" for d in run.truth.datagrams if d.server != target)


def test_the_faults_table_names_each_fault_and_its_target():
    probe, _ = run_with([FaultConfig(FaultKind.SERVER_SILENT, at_s=AT, duration_s=LONG)])
    seeded = probe.truth.faults[0].target
    other = next(s for s in servers_of(probe) if s != seeded)
    faults = [FaultConfig(FaultKind.SERVER_SILENT, at_s=AT, duration_s=LONG, target=other),
              FaultConfig(FaultKind.LOSS_BURST, at_s=600.0, duration_s=900.0, fraction=0.25, target=seeded),
              FaultConfig(FaultKind.CONFIG_DRIFT, at_s=2400.0, duration_s=60.0, drop=[DestEvent.USER, DestEvent.FSTAT], target=other)]
    run, _ = run_with(faults)
    rows = run.truth.faults
    assert [(r.kind, r.target, r.start, r.end) for r in rows] == [
        ("server_silent", other, START + AT, START + AT + LONG),
        ("loss_burst", seeded, START + 600.0, START + 1500.0),
        ("config_drift", other, START + 2400.0, START + 2460.0),
    ]
    assert "fraction=0.25" in rows[1].parameters
    assert "drop=user,fstat" in rows[2].parameters and "drop=" not in rows[0].parameters
    # the named target, not the seed's, went silent
    assert all(d.fate == "lost" for d in run.truth.datagrams if d.server == other and inside(d, AT, AT + LONG))


DRIFT_AT = 1800.0


@pytest.fixture(scope="module")
def drift_user():
    run, _ = run_with([FaultConfig(FaultKind.CONFIG_DRIFT, at_s=DRIFT_AT, duration_s=60.0, drop=[DestEvent.USER])], duration=5400.0)
    return run, run.truth.faults[0].target


@pytest.fixture(scope="module")
def drift_fstat():
    run, _ = run_with([FaultConfig(FaultKind.CONFIG_DRIFT, at_s=DRIFT_AT, duration_s=60.0, drop=[DestEvent.FSTAT])], duration=5400.0)
    return run, run.truth.faults[0].target


def codes(run, server: str, after: bool) -> set[str]:
    return {d.code for d in run.truth.datagrams if d.server == server and (d.t_send > DRIFT_AT) == after}


def test_a_drift_without_user_sends_no_u_maps_after_its_restart(drift_user):
    run, target = drift_user
    assert "u" in codes(run, target, after=False)
    assert "u" not in codes(run, target, after=True)
    assert "f" in codes(run, target, after=True)  # only the user event was dropped
    other = next(s for s in servers_of(run) if s != target)
    assert "u" in codes(run, other, after=True)


def test_a_drift_without_user_leaves_transfers_opened_after_it_without_a_dn(drift_user):
    run, target = drift_user
    restart = START + DRIFT_AT
    before = [t for t in run.truth.transfers if t.server == target and t.open_time < restart]
    after = [t for t in run.truth.transfers if t.server == target and t.open_time > restart]
    assert len(before) >= 10 and len(after) >= 10
    assert sum(bool(t.user_dn) for t in before) > len(before) / 2  # monitoring auth on: DNs sent
    assert all(t.user_dn == "" and t.vo == "" for t in after)
    other_after = [t for t in run.truth.transfers if t.server != target and t.open_time > restart]
    assert sum(bool(t.user_dn) for t in other_after) > len(other_after) / 2


def test_a_drift_without_fstat_sends_no_f_stream_after_its_restart(drift_fstat):
    run, target = drift_fstat
    assert "f" in codes(run, target, after=False)
    assert "f" not in codes(run, target, after=True)
    assert "u" in codes(run, target, after=True)  # the other events stay
    assert [t for t in run.truth.transfers if t.server == target and t.open_time > START + DRIFT_AT]  # it still serves files
    other = next(s for s in servers_of(run) if s != target)
    assert "f" in codes(run, other, after=True)


def test_a_drift_restarts_its_target_once_with_a_new_stod(drift_fstat):
    run, target = drift_fstat
    stods = {t.stod for t in run.truth.transfers if t.server == target}
    assert len(stods) == 2
    assert max(stods) >= START + DRIFT_AT
    other = next(s for s in servers_of(run) if s != target)
    assert len({t.stod for t in run.truth.transfers if t.server == other}) == 1
