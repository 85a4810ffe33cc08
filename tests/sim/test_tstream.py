"""The simulated t-stream (spec §5) against rules written out here from the spec: window
framing, one client per ``io`` packet, the shared ``files`` buffer, I/O entries that add up
to the truth, CLOSE totals equal to the f-stream's within shift precision, buffer limits."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from itertools import pairwise

import pytest

from xrdsim.sim import DestConfig, DestEvent, FaultConfig, FaultKind, JobConfig, MonitorConfig, SimConfig, WorkloadConfig, simulate

F_DEST, IO_DEST = "192.0.2.1", "192.0.2.2"
CAP = 48
MON = MonitorConfig(fstat_s=30, lfn=True, ops=True, ssq=True, ident_s=600, io_entries_cap=CAP,
                    dests=[DestConfig(F_DEST, 9930, [DestEvent.FSTAT, DestEvent.USER, DestEvent.FILES]),
                           DestConfig(IO_DEST, 9930, [DestEvent.IOV, DestEvent.USER])])
CFG = SimConfig(seed=5, duration_s=2400, site_count=1, servers_per_site=2, monitor=MON,
                faults=[FaultConfig(FaultKind.CLIENT_CRASH, at_s=300, duration_s=600, fraction=0.3, detect_s=20)],
                workload=WorkloadConfig(jobs_per_hour=240, files_per_vo=60, users_per_vo=4, median_size_bytes=1_500_000_000,
                                        http_share=0.0, tpc=0.0))
ENTRIES_MAX = (16384 - 8) // 16  # default mbuff (spec §1.6)


@pytest.fixture(scope="module")
def out(walk):
    run = simulate(CFG)
    dgrams = list(run.datagrams())
    by_dest: dict[str, list] = defaultdict(list)
    for d in dgrams:
        code, _, _, stod = walk.header(d.payload)
        if code == "t":
            by_dest[d.dst[0]].append((d.src[0], stod, d.t_send, walk.t(d.payload), d.payload))
    return run, dgrams, by_dest


def _fcloses(dgrams, walk):
    out = {}
    for d in dgrams:
        if d.payload[:1] == b"f" and d.dst[0] == F_DEST:
            stod = walk.header(d.payload)[3]
            for t, _, _, ident, body in walk.f(d.payload)[1]:
                if t == 0:
                    rd, rv, wr = (int.from_bytes(body[o : o + 8], "big") for o in (8, 16, 24))
                    out[(d.src[0], stod, ident)] = (rd + rv, wr)
    return out


def _shifted(total: int) -> tuple[int, int]:
    shift = max(0, total.bit_length() - 32)  # "shifts right until the value fits in 32 bits"
    return shift, total >> shift


def test_tclose_totals_equal_fclose_within_shift(out, walk):
    _, dgrams, by_dest = out
    fclose = _fcloses(dgrams, walk)
    for dest in (F_DEST, IO_DEST):
        tclose = {(src, stod, e[5]): e[1:5] for src, stod, _, entries, _ in by_dest[dest] for e in entries if e[0] == "close"}
        # A session still open when the run ends never sends its own buffer; the shared one is flushed.
        assert tclose.keys() == fclose.keys() if dest == F_DEST else tclose.keys() <= fclose.keys(), dest
        assert len(tclose) > 0.95 * len(fclose)
        for key, (rshift, wshift, rv, wv) in tclose.items():
            rd, wr = fclose[key]
            assert (rshift, rv) == _shifted(rd) and (wshift, wv) == _shifted(wr), key
            assert 0 <= rd - (rv << rshift) < (1 << rshift) or rshift == 0
    assert any(e[1] for s, st, _, ents, _ in by_dest[IO_DEST] for e in ents if e[0] == "close"), "no file > 4 GiB"


def test_every_packet_framed_by_windows_in_time_order(out):
    _, _, by_dest = out
    for dest, packets in by_dest.items():
        for _, _, _, entries, payload in packets:
            assert len(payload) == 8 + 16 * len(entries) and len(entries) <= ENTRIES_MAX
            marks = [e for e in entries if e[0] == "window"]
            assert entries[0][0] == entries[-1][0] == "window"
            assert marks[-1][2] == marks[-1][3]
            for m1, m2 in pairwise(marks):
                assert m2[2] == m1[3] + 60, dest  # previous window's start + window size


def test_io_packet_is_one_client_session(out, walk):
    _, dgrams, by_dest = out
    owner, users = {}, {}
    for d in dgrams:
        code, _, _, stod = walk.header(d.payload)
        if d.dst[0] == IO_DEST and code in "du":
            userid = d.payload[12:].split(b"\n")[0]
            (owner if code == "d" else users)[(d.src[0], stod, int.from_bytes(d.payload[8:12], "big"))] = userid
    last_of = {}
    for src, stod, _, entries, _ in by_dest[IO_DEST]:
        ids = {owner[(src, stod, e[-1])] for e in entries if e[0] in ("io", "open", "readv", "readu", "close")}
        ids |= {users[(src, stod, e[3])] for e in entries if e[0] == "disc"}
        assert len(ids) == 1
        last_of[ids.pop()] = entries
    assert all(entries[-2][0] == "disc" for entries in last_of.values())


def test_shared_buffer_has_open_close_disc_of_every_session(out):
    _, _, by_dest = out
    shared = [e for _, _, _, entries, _ in by_dest[F_DEST] for e in entries if e[0] != "window"]
    io = [e for _, _, _, entries, _ in by_dest[IO_DEST] for e in entries if e[0] in ("open", "close", "disc")]
    assert {e[0] for e in shared} == {"open", "close", "disc"}
    assert not Counter(io) - Counter(shared) and len(io) > 0.95 * len(shared)


def test_io_entries_add_up_to_the_truth(out):
    run, _, by_dest = out
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # read, readv, write, entries
    for src, stod, _, entries, _ in by_dest[IO_DEST]:
        pending = 0
        for e in entries:
            if e[0] == "io" and pending:
                pending -= 1
            elif e[0] == "io":
                sums[(src, stod, e[3])][0 if e[2] > 0 else 2] += abs(e[2])
            elif e[0] in ("readv", "readu"):
                sums[(src, stod, e[4])][1] += e[3]
                pending = e[2] if e[0] == "readu" else 0
            if e[0] in ("io", "readv", "readu"):
                sums[(src, stod, e[-1])][3] += 1
        assert pending == 0, "a READU's segments must stay in its packet"
    closed = {(src, stod, e[5]) for src, stod, _, entries, _ in by_dest[IO_DEST] for e in entries if e[0] == "close"}
    rows = [r for r in run.truth.transfers if r.close_kind == "explicit" and (r.server_ip, r.stod, r.file_dictid) in closed]
    assert len(rows) > 50 and {r.readv_bytes > 0 for r in rows} == {True, False}
    for r in rows:
        assert sums[(r.server_ip, r.stod, r.file_dictid)][:3] == [r.read_bytes, r.readv_bytes, r.write_bytes], r.lfn
    assert max(s[3] for s in sums.values()) <= CAP


def test_readu_segments_follow_with_their_bytes(out):
    _, _, by_dest = out
    seen = 0
    for _, _, _, entries, _ in by_dest[IO_DEST]:
        for i, e in enumerate(entries):
            if e[0] == "readu":
                segs = entries[i + 1 : i + 1 + e[2]]
                assert [s[0] for s in segs] == ["io"] * e[2] and sum(s[2] for s in segs) == e[3]
                assert all(s[3] == e[4] for s in segs)
                seen += 1
    assert seen


def _long_read(**mon) -> list:
    mon_cfg = dataclasses.replace(MON, window_s=1, **mon)
    job = JobConfig(at_s=2, op="read", size_bytes=4_000_000_000, chunk_bytes=1 << 20, duration_s=20)
    cfg = SimConfig(seed=2, duration_s=40, site_count=1, servers_per_site=1, monitor=mon_cfg,
                    workload=WorkloadConfig(jobs_per_hour=0, scripted=[job]))
    return [d for d in simulate(cfg).datagrams() if d.payload[:1] == b"t" and d.dst[0] == IO_DEST]


def test_flush_io_sends_aged_buffers_before_session_end(walk):
    packets = _long_read(flush_io_s=4)
    assert len(packets) >= 4 and packets[0].t_send < 12
    for d in packets:
        marks = [e for e in walk.t(d.payload) if e[0] == "window"]
        assert marks[-1][2] - marks[0][3] <= 4 + 1  # from the first window to the end of the last
        assert d.t_send <= marks[-1][2] - 1_700_000_000 + 1


def test_small_mbuff_splits_packets_and_caps_entries(walk):
    packets = _long_read(mbuff_bytes=1100, io_entries_cap=500)
    entries = [walk.t(d.payload) for d in packets]
    assert max(len(d.payload) for d in packets) == 8 + 16 * 67  # mbuff rounded down to 1088: (1088-8)//16 entries
    ios = [e for ents in entries for e in ents if e[0] == "io"]
    assert len(ios) == 500 and sum(e[2] for e in ios) == 4_000_000_000
    assert [e[1] for e in ios] == [sum(x[2] for x in ios[:k]) for k in range(len(ios))]
