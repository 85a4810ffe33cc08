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


def _closes_by_server(dgrams, walk):
    """{sender: [(file id, read, readv, write)]} of every f CLOSE."""
    import struct

    out: dict = {}
    for d in dgrams:
        if d.payload[:1] == b"f":
            for t, _f, _s, ident, body in walk.f(d.payload)[1]:
                if t == 0:
                    out.setdefault(d.src, []).append((ident, *struct.unpack_from("!qqq", body, 8)))
    return out


def test_tpc_between_two_servers_puts_the_bytes_at_the_source_only(walk):
    """A TPC step at site 1 pulling from site 0 (``ofs.tpc pgm xrdcp``, real 5.5.3): the
    destination's CLOSE writes 0 and its P record has Size 0; at the source the client's
    probe and held opens read 0 and the daemon user's pgm session reads every byte."""
    import json

    mon = MonitorConfig(fstat_s=1.0, window_s=1.0, flush_s=2.0, lfn=True, ops=True,
                        dests=[DestConfig(events=[DestEvent.FSTAT, DestEvent.USER, DestEvent.TPC])])
    tpc = StepConfig("tpc", "/dst/copy.bin", size_bytes=20_000_000, source_lfn="/src/f.bin", source_site=0)
    cfg = SimConfig(duration_s=30, sites=[SiteConfig(name="A", servers=1, worker_nodes=1, xrootd_version="v5.5.3"),
                                          SiteConfig(name="B", servers=1, worker_nodes=1, xrootd_version="v5.5.3")],
                    workload=WorkloadConfig(jobs_per_hour=0, sessions=[SessionConfig(at_s=1, site=1, steps=[tpc])]), monitor=mon)
    run = simulate(cfg)
    dgrams = list(run.datagrams())
    src, dst = (run.servers[k].src[0] for k in (0, 1))
    closes = _closes_by_server(dgrams, walk)
    assert [c[1:] for c in closes[dst]] == [(0, 0, 0)]
    assert sorted(c[1] for c in closes[src]) == [0, 0, 20_000_000]
    users = [d.payload[12:].decode().split("\n")[0] for d in dgrams if d.payload[:1] == b"u"]
    assert sum(u.startswith("xroot/xrootd.") for u in users) == 1 and len(users) == 5  # 2 + 2 client links, 1 pgm
    (rec,) = [json.loads(d.payload[24:-1]) for d in dgrams if d.payload[:1] == b"g"]
    assert rec["Size"] == 0 and rec["Src"].endswith(":1094//src/f.bin") and rec["Dst"].startswith("xroot://")
    # the source's NIC sends the copy, the destination's receives it
    assert run.truth.transfers and any(t.tpc and t.read_bytes == 20_000_000 for t in run.truth.transfers)


def test_missing_file_redirected_only_under_the_enoent_paths(walk):
    """An open of a missing file: REDLOCAL|OPENR to the site's enoent target when the path
    is covered, nothing (but the error) otherwise; never an f OPEN."""
    from xrdsim.sim import EnoentRedirect

    mon = MonitorConfig(fstat_s=1.0, window_s=1.0, flush_s=2.0, lfn=True,
                        dests=[DestConfig(events=[DestEvent.FSTAT, DestEvent.USER, DestEvent.REDIR])])
    site = SiteConfig(name="S", servers=1, worker_nodes=1, enoent_redirect=EnoentRedirect("other.example.org", 1095, ["/data/"]))
    steps = [StepConfig("open", "/data/gone.bin", exists=False), StepConfig("open", "/elsewhere/gone.bin", exists=False)]
    cfg = SimConfig(duration_s=20, sites=[site], workload=WorkloadConfig(jobs_per_hour=0, sessions=[SessionConfig(at_s=1, steps=steps)]),
                    monitor=mon)
    dgrams = list(simulate(cfg).datagrams())
    slots = [d.payload[24:] for d in dgrams if d.payload[:1] == b"r"]
    recs = [(s[0], s[2:4], s[8:].rstrip(b"\0")) for p in slots for s in (p[i:i + 8 + 64] for i in range(0, len(p), 8)) if s[0] & 0xF0 == 0x90]
    assert [(r[0], int.from_bytes(r[1], "big")) for r in recs] == [(0x95, 1095)]
    assert b"other.example.org:/data/gone.bin" in recs[0][2]
    assert not [r for d in dgrams if d.payload[:1] == b"f" for r in walk.f(d.payload)[1] if r[0] == 1]


def test_bad_tpc_and_missing_open_steps_are_one_line_errors():
    cfg = SimConfig(workload=WorkloadConfig(sessions=[SessionConfig(steps=[StepConfig("tpc", "/d", source_lfn="rel.bin")])]))
    with pytest.raises(ConfigError, match=r"steps\[0\]\.source_lfn: expected an absolute path"):
        check_config(cfg)
    cfg = SimConfig(workload=WorkloadConfig(sessions=[SessionConfig(steps=[StepConfig("open", "/d", mode="write", exists=False)])]))
    with pytest.raises(ConfigError, match=r"steps\[0\]\.exists: expected false only for an open in mode read"):
        check_config(cfg)


@pytest.mark.parametrize(("version", "counted"), [("v5.6.9", False), ("v5.7.3", True)])
def test_generated_http_puts_follow_the_server_version(version, counted):
    """The PUT rule of scripted sessions holds for generated HTTP writes too: before 5.7.3
    their truth (what the server reports) is write 0 while their payload still crossed."""
    wl = WorkloadConfig(jobs_per_hour=3000, http_share=1.0, write=1.0, full_read=0, partial_read=0, vector_read=0, session=0, tpc=0,
                        files_per_vo=20, users_per_vo=2, median_size_bytes=2_000_000)
    cfg = SimConfig(duration_s=600, sites=[SiteConfig(name="S", servers=1, worker_nodes=2, xrootd_version=version)], workload=wl,
                    monitor=MonitorConfig(fstat_s=60, lfn=True, dests=[DestConfig(events=[DestEvent.FSTAT, DestEvent.USER])]))
    run = simulate(cfg)
    sum(1 for _ in run.datagrams())
    rows = [r for r in run.truth.transfers if r.close_kind == "explicit"]
    assert len(rows) > 50 and all(r.protocol == "https" for r in rows)
    assert all(r.payload_in_bytes > 1000 for r in rows)
    assert all((r.write_bytes > 0) == counted for r in rows)


def test_a_tpc_pulls_pgreads_count_in_the_summary_and_t_stream_as_they_happen():
    """The pgm copy's pgreads are issued as one burst, but each counts when it happens: the
    source's summary ``rd`` climbs report by report while the copy runs, and its t-stream
    READ entries come in many windows, not all at the start."""
    import re

    from xrdsim.sim import ReportConfig

    mon = MonitorConfig(fstat_s=1.0, window_s=1.0, flush_s=1.0, lfn=True, ops=True,
                        dests=[DestConfig(events=[DestEvent.FSTAT, DestEvent.USER, DestEvent.TPC]), FILES_IO])
    size = 400 * 1024 * 1024  # 50 pgreads of 8 MiB: ~8.5 s at 400 Mb/s
    tpc = StepConfig("tpc", "/dst/copy.bin", size_bytes=size, source_lfn="/src/f.bin", source_site=0)
    cfg = SimConfig(duration_s=40, sites=[SiteConfig(name="A", servers=1, worker_nodes=1, xrootd_version="v5.5.3"),
                                          SiteConfig(name="B", servers=1, worker_nodes=1, xrootd_version="v5.5.3")],
                    workload=WorkloadConfig(jobs_per_hour=0, sessions=[SessionConfig(at_s=1, site=1, steps=[tpc])]),
                    monitor=mon, report=ReportConfig("192.0.2.9", 9931, every_s=1))
    run = simulate(cfg)
    dgrams = list(run.datagrams())
    src = run.servers[0]
    reads = [int(m.group(1)) for d in dgrams if d.src == src.src[-1] and d.payload[:1] == b"<"
             for m in [re.search(rb"<rd>(\d+)</rd>", d.payload)] if m]
    assert reads[-1] == 50
    assert len({r for r in reads if 0 < r < 50}) >= 5  # counted as they happen, not all at once
    t_sent = [d.t_send for d in dgrams if d.src[0] == src.spec.host.ip4 and d.payload[:1] == b"t"]
    assert len(t_sent) >= 4 and max(t_sent) - min(t_sent) >= 5.0  # the READ entries go out over the copy
