"""The simulator against the real XRootD 5.5.3 capture (tests/fixtures/real-xrootd-5.5.3):
a one-server scenario configured like that server, with the same five uploads and five
downloads, must send the same packet codes per destination, the same pseq grouping, the
same f-stream records (types, flags, sizes, byte counts) in the same order."""

from __future__ import annotations

import struct

import pytest

from xrdsim.sim import DestConfig, DestEvent, JobConfig, MonitorConfig, ReportConfig, SimConfig, SiteConfig, WorkloadConfig, simulate

START = 1795912899
DEST1, DEST2, REPORT = 21985, 21986, 21987
SERVER_PORT = 21885
# (at_s, op, lfn, bytes, duration_s) as the capture's clients did (truth.csv, packet times).
JOBS = [
    (3.02, "write", "/file1.bin", 701001, 0.02),
    (3.06, "write", "/file2.bin", 2801004, 0.02),
    (3.10, "write", "/file3.bin", 6301009, 0.02),
    (3.14, "write", "/file4.bin", 2201016, 0.02),
    (3.18, "write", "/file5.bin", 8501025, 0.03),
    (3.22, "read", "/file1.bin", 701001, 0.005),
    (3.24, "read", "/file2.bin", 2801004, 0.005),
    (3.26, "read", "/file3.bin", 6301009, 0.01),
    (3.285, "read", "/file5.bin", 8501025, 0.03),
    (3.285, "read", "/file4.bin", 2201016, 0.01),
]


def f_records(payload: bytes) -> tuple[tuple[int, int, int, int], list[tuple[int, int, int, bytes]]]:
    """TOD (type, flag, nXfr, nRecs) and every record (type, flag, recSize, body) by recSize."""
    rtype, flag, size, n_xfr, n_recs = struct.unpack_from("!BBhhh", payload, 8)
    recs, off = [], 8 + size
    while off < len(payload):
        t, f, s = struct.unpack_from("!BBh", payload, off)
        recs.append((t, f, s, payload[off : off + s]))
        off += s
    return (rtype, flag, n_xfr, n_recs), recs


def capture_like_config(duration_s: float = 9.0) -> SimConfig:
    """The capture server's configuration (README of the fixture) and its clients' jobs."""
    mon = MonitorConfig(
        all=True, auth=True, flush_s=2, window_s=1, fstat_s=1, lfn=True, ops=True, ssq=True, xfr=2, ident_s=5,
        dests=[
            DestConfig("127.0.0.1", DEST1, [DestEvent.FSTAT, DestEvent.INFO, DestEvent.USER, DestEvent.TPC]),
            DestConfig("127.0.0.1", DEST2, [DestEvent.FILES, DestEvent.IO, DestEvent.IOV, DestEvent.REDIR]),
        ],
    )
    jobs = [JobConfig(at_s=a, op=op, lfn=lfn, size_bytes=n, pg=True, duration_s=d) for a, op, lfn, n, d in JOBS]
    site = SiteConfig(name="SITE_A", servers=1, worker_nodes=1, xrootd_version="v5.5.3", data_port=SERVER_PORT, ipv4_prefix="127.0.0.0")
    return SimConfig(seed=3, duration_s=duration_s, start_time=START, sites=[site], monitor=mon,
                     report=ReportConfig("127.0.0.1", REPORT, every_s=2, sync=True),
                     workload=WorkloadConfig(jobs_per_hour=0, scripted=jobs))


@pytest.fixture(scope="module")
def real(real_capture) -> list[tuple[float, int, int, bytes]]:
    first = real_capture
    server1 = {sp for _, sp, dp, pl in first if pl[:1] == b"=" and b"port=21885" in pl}
    summary1 = {sp for _, sp, dp, pl in first if dp == REPORT and b'src="vm:21885"' in pl}
    return [(t - START, dp, pl[1], pl) for t, sp, dp, pl in first if (sp in server1 or sp in summary1) and t - START < 9.0]


@pytest.fixture(scope="module")
def sim() -> list[tuple[float, int, int, bytes]]:
    return [(d.t_send, d.dst[1], d.payload[1], d.payload) for d in simulate(capture_like_config()).datagrams()]


def codes_by_dest(stream, port: int) -> list[str]:
    return [chr(pl[0]) for _, dp, _, pl in stream if dp == port]


@pytest.mark.parametrize("port", [DEST1, DEST2])
def test_realism_same_codes_per_destination(real, sim, port):
    assert codes_by_dest(sim, port) == codes_by_dest(real, port)


@pytest.mark.parametrize("port", [DEST1, DEST2])
def test_realism_same_pseq_groups(real, sim, port):
    for stream in (real, sim):
        shared = [seq for _, dp, seq, pl in stream if dp == port and pl[:1] != b"f"]
        fseq = [seq for _, dp, seq, pl in stream if dp == port and pl[:1] == b"f"]
        assert shared == list(range(len(shared)))
        assert fseq == list(range(len(fseq)))


def test_realism_same_f_records(real, sim):
    def records(stream):
        out = []
        for _, dp, _, pl in stream:
            if pl[:1] == b"f":
                tod, recs = f_records(pl)
                assert tod[0] == 2 and tod[1] == 1 and tod[3] == len(recs) and tod[2] == sum(r[0] == 3 for r in recs)
                out.extend(recs)
        return out

    got, want = records(sim), records(real)
    assert [(t, f, s) for t, f, s, _ in got] == [(t, f, s) for t, f, s, _ in want]
    # OPEN: file size at open; CLOSE: the XFR and OPS blocks (ids and SSQ aside).
    strip = {0: lambda b: b[8:80], 1: lambda b: b[8:16], 4: lambda b: b""}
    assert [strip[t](b) for t, _, _, b in got] == [strip[t](b) for t, _, _, b in want]


def test_realism_summary_every_two_seconds(real, sim):
    times = [round(t, 1) for t, dp, _, _ in sim if dp == REPORT]
    assert times == [round(t) for t, dp, _, _ in real if dp == REPORT]
    assert all(pl.startswith(b"<statistics ") for _, dp, _, pl in sim if dp == REPORT)


@pytest.mark.parametrize("port", [DEST1, DEST2])
def test_realism_dictids_in_capture_order(real, sim, port):
    def maps(stream):
        return [(chr(pl[0]), struct.unpack_from("!I", pl, 8)[0]) for _, dp, _, pl in stream if dp == port and pl[:1] in b"ud"]

    assert maps(sim) == maps(real)


def test_realism_same_t_entries(real, sim, walk):
    """Entry for entry what the real server sent on its ``files io iov`` dest: per-client
    WINDOW/OPEN/I/O/CLOSE packets, then the shared buffer's OPEN/CLOSE/DISC (sid aside)."""

    def entries(stream):
        packets = [walk.t(pl) for _, dp, _, pl in stream if dp == DEST2 and pl[:1] == b"t"]
        return [[e if e[0] != "window" else ("window", e[2], e[3]) for e in p] for p in packets]

    got, want = entries(sim), entries(real)
    assert len(want) == 11 and got == want
