"""Cases that need a server (and collector) of their own: two sites with link counters,
long idle opens, no ``fstat`` (t-stream records), an IPv6 monitoring destination, a
restart with a file held open across it, and a burst of f packets with a small ``fbsz``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from collector import CollectorConfig, Ended, SummarySample
from xrdsim.wire import FileClose, FileOpen, FileXfr
from tests.real_xrootd.harness import (
    CLIENTS,
    SYSTEM_PYTHON,
    assert_records,
    await_records,
    describe,
    final_records,
    pgwrite_bytes,
    read_line,
    run_ops,
    spawn_ops,
    wait_for,
    xrdcp,
)

SIZES = {"/a.bin": 700_001, "/b.bin": 2_500_003, "/c.bin": 40_000, "/d.bin": 1_300_017}


def test_xrdcp_two_sites_and_link_counters(world):
    """The former test_against_real_xrootd.py: concurrent uploads and downloads on two
    servers, one record per transfer, summary link deltas consistent with the records."""
    mon = world.collector()
    s1, s2 = world.server("s1", "SITE_A", mon), world.server("s2", "SITE_B", mon)
    tmp = world.root
    for path, size in SIZES.items():
        (tmp / path.lstrip("/")).write_bytes(os.urandom(size))
    uploads = [(s1, "/a.bin"), (s1, "/b.bin"), (s1, "/c.bin"), (s2, "/d.bin")]
    with ThreadPoolExecutor(2) as pool:  # two concurrent uploads, then the rest
        list(pool.map(lambda t: xrdcp(str(tmp / t[1].lstrip("/")), t[0].url(t[1])), uploads[:2]))
    for srv, path in uploads[2:]:
        xrdcp(str(tmp / path.lstrip("/")), srv.url(path))
    downloads = [(s1, "/a.bin"), (s1, "/a.bin"), (s1, "/b.bin"), (s2, "/d.bin")]  # a.bin read twice
    for srv, path in downloads:
        xrdcp(srv.url(path), os.devnull)

    # xrdcp 5.5 uploads with pgwrite: XRootD counts a 4-byte CRC per 4 KiB page (spec §4.9)
    expected = [(p, 0, 0, pgwrite_bytes(SIZES[p]), Ended.CLOSE) for _, p in uploads]
    expected += [(p, SIZES[p], 0, 0, Ended.CLOSE) for _, p in downloads]
    recs = assert_records(mon, expected, exclusive=True)
    by_port = {s1.port: ("SITE_A", s1), s2.port: ("SITE_B", s2)}
    want = sorted((s.port, p) for s, p in uploads + downloads)
    assert sorted((r.server_port, r.file_lfn) for r in recs) == want, describe(recs)
    for r in recs:
        assert r.source == "f" and not r.lost_packets_around, describe([r])
        assert (r.protocol, r.client_ip, r.ipv6) == ("xroot", "127.0.0.1", False), describe([r])
        assert r.site == by_port[r.server_port][0]
    assert len({r.server_key for r in recs}) == 2
    time.sleep(2.5)  # one more synced summary report after the last transfer
    mon.stop()
    links: dict[str, list[int]] = {}
    for s in (e for e in mon.events() if type(e) is SummarySample):
        row = links.setdefault(s.server.rpartition(":")[2], [0, 0])
        row[0] += s.link_in_delta or 0
        row[1] += s.link_out_delta or 0
    for port in (s1.port, s2.port):
        link_in, link_out = links[str(port)]
        mine = [r for r in recs if r.server_port == port]
        assert link_in >= sum(r.write_bytes for r in mine) > 0
        assert link_out >= sum(r.read_bytes for r in mine) > 0
        # payload overhead of the xroot protocol on a few MB stays small (README: ~0.1 %)
        assert link_in <= 1.05 * sum(r.write_bytes for r in mine) + 200_000


def _xfrs(mon, file_id: int) -> list[FileXfr]:
    return [r for _, p in mon.f_packets() for r in p.records if isinstance(r, FileXfr) and r.file_id == file_id]


IDLE_OPS = [["open", "r"], ["read", 0, 10_000], ["sleep", 3.5], ["read", 10_000, 5000], ["sleep", 5], ["read", 20_000, 1000], ["close"]]


def test_long_idle_open_with_xfr(shared, case_dir, bindings):
    """An open file idle for seconds between reads: XFR records carry its progress, and the
    transfer is still one record at its CLOSE (default open_ttl)."""
    mon, srv = shared
    path = f"{case_dir}/f.bin"
    srv.put_file(path, os.urandom(100_000))
    truth = run_ops(srv.url(path), IDLE_OPS)
    recs = assert_records(mon, [(path, truth["read"], 0, 0, Ended.CLOSE)])
    xfrs = _xfrs(mon, recs[0].file_dictid)
    assert xfrs and {x.read for x in xfrs} <= {10_000, 15_000, 16_000}, xfrs


def test_idle_open_longer_than_open_ttl(world, bindings):
    """The idle gap (5 s) is longer than the collector's open_ttl (2 s): the collector may
    emit a timeout record in the gap, but the later XFR and CLOSE complete the same
    transfer — one transfer (last revision: the CLOSE with every byte), never a second."""
    mon = world.collector(config=CollectorConfig(reorder_seconds=1.0, open_ttl=2.0))
    srv = world.server("idle", "SITE_I", mon)
    srv.put_file("/idle.bin", os.urandom(100_000))
    truth = run_ops(srv.url("/idle.bin"), IDLE_OPS)
    recs = assert_records(mon, [("/idle.bin", truth["read"], 0, 0, Ended.CLOSE)], exclusive=True)
    assert _xfrs(mon, recs[0].file_dictid)


def test_no_fstat_records_from_t_stream(world, bindings):
    """A server without ``fstat``: no f-stream, the t-stream (files io iov) is the record."""
    mon = world.collector(config=CollectorConfig(reorder_seconds=1.0, t_hold=1.5, session_grace=2.0))
    srv = world.server("nof", "SITE_T", mon, fstat=False)
    data = os.urandom(200_000)
    for p in ("/t/a.bin", "/t/b.bin"):
        srv.put_file(p, data)
    ta = run_ops(srv.url("/t/a.bin"), [["open", "r"], ["read", 0, 50_000], ["read", 100_000, 7], ["close"]])
    tb = run_ops(srv.url("/t/b.bin"), [["open", "r"], ["readv", [[0, 10], [1000, 4000]]], ["close"]])
    local = world.root / "up.bin"
    local.write_bytes(os.urandom(77_777))
    xrdcp(str(local), srv.url("/t/up.bin"))
    expected = [
        ("/t/a.bin", ta["read"], 0, 0, Ended.CLOSE),
        ("/t/b.bin", 0, tb["readv"], 0, Ended.CLOSE),
        # XRootD quirk: the t-stream WRITE entries of a pgwrite count the 4-byte CRC of
        # every 4 KiB page too, like the f CLOSE (docs/spec-notes.md)
        ("/t/up.bin", 0, 0, pgwrite_bytes(77_777), Ended.CLOSE),
    ]
    recs = assert_records(mon, expected, exclusive=True)
    assert not mon.f_packets()
    assert {r.source for r in recs} == {"t"}, describe(recs)


def test_ipv6_monitoring_destination(world, bindings):
    """Both detailed destinations on ::1 (the summary stays on 127.0.0.1: 5.5.3's
    ``xrd.report`` rejects an IPv6 literal); an IPv6 client too."""
    mon = world.collector(host="::1", summary_host="127.0.0.1")
    srv = world.server("v6", "SITE_6", mon)
    srv.put_file("/v6.bin", os.urandom(50_000))
    truth = run_ops(srv.url("/v6.bin", host="::1"), [["open", "r"], ["read", 0, 50_000], ["close"]])
    recs = assert_records(mon, [("/v6.bin", truth["read"], 0, 0, Ended.CLOSE)], exclusive=True)
    assert {src[0] for _, src, p in mon.raw if p[:1] != b"<"} == {"::1"}
    assert (recs[0].client_ip, recs[0].ipv6) == ("::1", True), describe(recs)


def test_restart_with_file_held_open(world, bindings):
    """A client holds a file open across a server restart (SIGTERM, same port). The old
    incarnation never sends a CLOSE: its transfer ends ``server_restart`` with the bytes of
    its last XFR; XrdCl reopens the file on the new incarnation, which reports the rest."""
    mon = world.collector()
    srv = world.server("rs", "SITE_R", mon)
    srv.put_file("/held.bin", os.urandom(100_000))
    go = world.root / "go"
    proc = spawn_ops(
        srv.url("/held.bin"),
        [["open", "r"], ["read", 0, 30_000], ["mark", "before"], ["wait_file", str(go)], ["read", 30_000, 20_000], ["close"]],
    )
    before = read_line(proc, "before")
    # the XFR of the first read must be out before the restart (fstat 1s, xfr 2)
    wait_for(lambda: any(isinstance(r, FileXfr) and r.read == 30_000 for _, p in mon.f_packets() for r in p.records), 8)
    srv.stop(signal.SIGTERM)
    srv.start()
    go.touch()
    done = read_line(proc, "done", 60)
    proc.wait(10)
    assert all(s[1] for s in done["statuses"]), done
    assert done["read"] - before["read"] == 20_000
    assert_records(mon, [("/held.bin", 30_000, 0, 0, Ended.SERVER_RESTART), ("/held.bin", 20_000, 0, 0, Ended.CLOSE)], exclusive=True)


def test_burst_of_f_packets_small_fbsz(world, bindings):
    """More than 256 f packets within one second: the smallest ``fbsz`` XRootD accepts
    (1024) and paths of ~950 characters, so every OPEN record fills a packet by itself;
    the 8-bit pseq wraps inside the second and no packet may be taken for a duplicate or
    lost — every transfer one record."""
    mon = world.collector()
    srv = world.server("burst", "SITE_B", mon, fbsz=1024)
    n = 600
    long = "/".join(c * 240 for c in "def")
    paths = [f"/burst/{long}/{i:04d}{'g' * 190}.bin" for i in range(n)]
    for p in paths:
        srv.put_file(p, b"z" * 1000)
    halves = [paths[: n // 2], paths[n // 2 :]]  # two clients at once
    procs = [
        subprocess.Popen([SYSTEM_PYTHON, str(CLIENTS / "burst.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in halves
    ]
    for proc, half in zip(procs, halves):
        proc.stdin.write(json.dumps({"base": srv.url(""), "paths": half, "read": 1000}))
        proc.stdin.close()
    truth = {}
    for proc in procs:
        out = proc.stdout.read()
        proc.wait(120)
        truth.update(json.loads(out.strip().splitlines()[-1])["read"])
    assert truth == dict.fromkeys(paths, 1000)
    wait_for(lambda: sum(isinstance(r, FileClose) for _, p in mon.f_packets() for r in p.records) >= n, 20)
    per_second: dict[int, int] = {}
    for t, _p in mon.f_packets():
        per_second[int(t)] = per_second.get(int(t), 0) + 1
    assert max(per_second.values()) > 256, f"the workload made no burst: f packets per second {per_second}"
    records = [r for _, p in mon.f_packets() for r in p.records]
    opens, closes = (sum(isinstance(r, k) for r in records) for k in (FileOpen, FileClose))
    assert (opens, closes) == (n, n), "the server did not report every transfer"
    recs = await_records(mon, [(p, 1000, 0, 0, Ended.CLOSE) for p in paths], seconds=10)
    finals = final_records(recs)
    missing = sorted(set(paths) - {r.file_lfn for r in finals})
    report = mon.live_report()
    assert not missing and len(finals) == n, (
        f"{len(finals)} of {n} transfers recorded; f packets per second {per_second}; "
        f"collector report {report.totals()['f']}; first missing {[m.rsplit('/', 1)[1][:4] for m in missing[:5]]}"
    )
    assert_records(mon, [(p, 1000, 0, 0, Ended.CLOSE) for p in paths], recs, exclusive=True)
    print(f"burst: f packets per second {per_second}")
