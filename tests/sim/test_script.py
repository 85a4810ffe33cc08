"""Scripted sessions (``workload.sessions``): each step's monitoring, read back with the
spec-table walkers of conftest (not with ``xrdsim.wire``). Expected values are the ones the
real 5.5.3 server sent for the same steps (tests/fixtures/real-xrootd-5.5.3-fidelity and
tests/fidelity/test_real_server.py), or follow from the steps by hand."""

from __future__ import annotations

import pytest

from xrdsim.cli import main
from xrdsim.sim import (
    ConfigError,
    DestConfig,
    DestEvent,
    MonitorConfig,
    SessionConfig,
    SimConfig,
    SiteConfig,
    StepConfig,
    WorkloadConfig,
    check_config,
    simulate,
)

FILES_IO = DestConfig(events=[DestEvent.FILES, DestEvent.IO, DestEvent.IOV, DestEvent.USER])


def _run(sessions, version="v5.5.3", monitor=None, duration=30.0):
    mon = monitor or MonitorConfig(fstat_s=1.0, xfr=1, window_s=1.0, flush_s=2.0, lfn=True, ops=True,
                                   dests=[DestConfig(events=[DestEvent.FSTAT, DestEvent.USER, DestEvent.INFO]), FILES_IO])
    cfg = SimConfig(duration_s=duration, sites=[SiteConfig(name="S", servers=1, worker_nodes=1, xrootd_version=version)],
                    workload=WorkloadConfig(jobs_per_hour=0, sessions=sessions), monitor=mon)
    return list(simulate(cfg).datagrams())


def _t_entries(dgrams, walk):
    return [e for d in dgrams if d.payload[:1] == b"t" for e in walk.t(d.payload)]


def _u_texts(dgrams):
    return [d.payload[12:].decode() for d in dgrams if d.payload[:1] == b"u"]


def test_one_trace_entry_per_request_without_a_cap(walk):
    """1500 reads of 4 KiB: 1500 READ entries (the generated model caps at io_entries_cap)."""
    steps = [StepConfig("open", "/f", size_bytes=1500 * 4096)]
    steps += [StepConfig("read", offset_bytes=k * 4096, size_bytes=4096) for k in range(1500)]
    reads = [e for e in _t_entries(_run([SessionConfig(at_s=1, steps=steps + [StepConfig("close")])]), walk) if e[0] == "io"]
    # the shared files buffer carries no I/O: these are the session buffer's, one per request
    assert len(reads) == 1500
    assert [e[1] for e in reads[:3]] == [0, 4096, 8192] and {e[2] for e in reads} == {4096}


def test_readv_seq_starts_at_one_and_iov_unrolls_segments(walk):
    steps = [StepConfig("open", "/f", size_bytes=10_000), StepConfig("readv", segments=[[0, 100], [1000, 200]]),
             StepConfig("readv", segments=[[5, 5]]), StepConfig("close")]
    es = [e for e in _t_entries(_run([SessionConfig(at_s=1, steps=steps)]), walk) if e[0] in ("readu", "io")]
    assert [e[0] for e in es] == ["readu", "io", "io", "readu", "io"]
    heads = [e[1:4] for e in es if e[0] == "readu"]
    assert heads == [(1, 2, 300), (2, 1, 5)]
    assert [e[1:3] for e in es if e[0] == "io"] == [(0, 100), (1000, 200), (5, 5)]


def test_killed_xroot_client_disc_flag_zero_http_disc_forced(walk):
    """Real 5.5.3: DISC 0x00 after a SIGKILL (with the forced CLOSE), 0x01 for XrdHttp."""
    killed = SessionConfig(at_s=1, steps=[StepConfig("open", "/f", size_bytes=10_000), StepConfig("read", size_bytes=3000),
                                          StepConfig("kill")])
    http = SessionConfig(at_s=5, proto="http", steps=[StepConfig("get", "/f", size_bytes=10_000)])
    discs = [e for e in _t_entries(_run([killed, http]), walk) if e[0] == "disc"]
    assert sorted({e[1] for e in discs}) == [0x00, 0x01]
    assert [e[1] for e in discs if e[3] == 1] == [0x00, 0x00]  # user dictid 1: the killed session


def test_disc_seconds_are_whole_second_clocks_subtracted(walk):
    """A 1.5 s session from t=0.9 to 2.4 spans wire seconds 0 → 2: DISC says 2 (real
    5.5.3, 'seconds=2' for a 1.5 s killed client), not int(1.5) = 1."""
    ses = SessionConfig(at_s=0.9, steps=[StepConfig("sleep", duration_s=1.5)])
    discs = [e for e in _t_entries(_run([ses]), walk) if e[0] == "disc"]
    assert discs and {e[2] for e in discs} == {2}


@pytest.mark.parametrize(("version", "written"), [("v5.5.3", 0), ("v5.7.2", 0), ("v5.7.3", 250_000)])
def test_http_put_write_accounting_follows_the_server_version(walk, version, written):
    put = SessionConfig(at_s=1, proto="http", steps=[StepConfig("put", "/up", size_bytes=250_000)])
    closes = [e for e in _t_entries(_run([put], version), walk) if e[0] == "close"]
    assert closes and {e[4] for e in closes} == {written}
    writes = [e for e in _t_entries(_run([put], version), walk) if e[0] == "io" and e[2] < 0]
    assert [e[2] for e in writes] == [-250_000]  # the t WRITE entry has the bytes either way


@pytest.mark.parametrize(("proto", "prefix"), [("http", "http/unknown.1:"), ("https", "https/unknown.1:")])
def test_http_userid_prefix_and_no_login_info_without_auth(proto, prefix):
    ses = SessionConfig(at_s=1, proto=proto, steps=[StepConfig("get", "/f", size_bytes=10)])
    texts = _u_texts(_run([ses]))
    assert texts and all(t.startswith(prefix) and "\n" not in t for t in texts)


def test_http_login_with_auth_configured_has_empty_auth_fields():
    mon = MonitorConfig(auth=True, dests=[DestConfig(events=[DestEvent.USER])])
    ses = SessionConfig(at_s=1, proto="http", steps=[StepConfig("get", "/f", size_bytes=10)])
    (text,) = _u_texts(_run([ses], monitor=mon))
    assert text.split("\n")[1].startswith("&p=http&n=&h=")
    assert text.endswith("&o=&r=&g=&m=&I=4")


def test_xroot_login_release_follows_the_configured_version():
    ses = SessionConfig(at_s=1, app="python3.11", steps=[StepConfig("sleep", duration_s=1)])
    (text,) = _u_texts(_run([ses], "v5.6.2", monitor=MonitorConfig(dests=[DestConfig(events=[DestEvent.USER])])))
    assert text.split("\n")[1] == "&R=v5.6.2&x=python3.11&y=&I=4"


def test_xfr_follows_activity_not_an_even_spread(walk):
    """An open with a read, 10 s idle, a read: XFR only at the fstat ticks after each read
    (xfr 1), none for the idle seconds, whose totals did not change."""
    steps = [StepConfig("open", "/f", size_bytes=100_000), StepConfig("read", size_bytes=1000), StepConfig("sleep", duration_s=10),
             StepConfig("read", offset_bytes=1000, size_bytes=1000), StepConfig("sleep", duration_s=3), StepConfig("close")]
    dgrams = _run([SessionConfig(at_s=1.5, steps=steps)])
    xfr = [r for d in dgrams if d.payload[:1] == b"f" for r in walk.f(d.payload)[1] if r[0] == 3]
    assert len(xfr) == 2


def test_bad_steps_are_one_line_config_errors():
    bad = SessionConfig(proto="xroot", steps=[StepConfig("get", "/f")])
    cfg = SimConfig(workload=WorkloadConfig(sessions=[bad]))
    with pytest.raises(ConfigError, match=r"^workload.sessions\[0\].steps\[0\].op: expected one of open, read, .* for xroot, got 'get'$"):
        check_config(cfg)
    no_segs = SimConfig(workload=WorkloadConfig(sessions=[SessionConfig(steps=[StepConfig("readv")])]))
    with pytest.raises(ConfigError, match="segments: expected at least one segment"):
        check_config(no_segs)


def test_scenario_with_a_bad_step_exits_2_on_one_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("duration: 10s\nworkload:\n  sessions:\n    - steps: [{op: opne, lfn: /f}]\n")
    assert main(["simulate", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "workload.sessions[0].steps[0].op" in err and "'opne'" in err


def test_generated_xroot_logins_carry_the_server_version_as_release():
    """&R= follows the configured version for generated jobs too (it was a fixed v5.6.3)."""
    cfg = SimConfig(duration_s=300, sites=[SiteConfig(name="S", servers=1, xrootd_version="v5.6.2")],
                    workload=WorkloadConfig(jobs_per_hour=3600, http_share=0.0, tpc=0.0))
    releases = {t.split("&R=")[1].split("&")[0] for t in _u_texts(list(simulate(cfg).datagrams())) if "&R=" in t}
    assert releases == {"v5.6.2"}
