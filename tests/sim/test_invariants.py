"""Collector-independent invariants of the simulator's output, determinism by seed, and
conservation: monitored bytes equal truth, NIC counters equal payload plus the overhead
model (written out here by hand, spec §4 and the TCP/IP header sizes)."""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from collections import defaultdict

import pytest

from xrdsim.sim import (
    ConfigError,
    DestConfig,
    DestEvent,
    FaultConfig,
    FaultKind,
    MonitorConfig,
    SimConfig,
    WorkloadConfig,
    simulate,
)
from xrdsim.wire import decode

MON = MonitorConfig(fstat_s=30, lfn=True, ops=True, ssq=True, xfr=2, ident_s=300,
                    dests=[DestConfig("192.0.2.1", 9930, [DestEvent.FSTAT, DestEvent.USER, DestEvent.INFO, DestEvent.TPC]),
                           DestConfig("192.0.2.2", 9930, [DestEvent.FILES, DestEvent.USER])])
FAULTS = [FaultConfig(FaultKind.SERVER_RESTART, at_s=1500, duration_s=20),
          FaultConfig(FaultKind.CLIENT_CRASH, at_s=600, duration_s=600, fraction=0.3, detect_s=30)]
CFG = SimConfig(seed=11, duration_s=3600, site_count=2, servers_per_site=2, monitor=MON, faults=FAULTS,
                workload=WorkloadConfig(jobs_per_hour=300, files_per_vo=200, users_per_vo=5, median_size_bytes=2_000_000_000))


@pytest.fixture(scope="module")
def run_out():
    run = simulate(CFG)
    return run, list(run.datagrams())


def test_every_datagram_decodes(run_out):
    _, dgrams = run_out
    assert len(dgrams) > 500
    for d in dgrams:
        decode(d.payload)


def test_pseq_contiguous_per_server_incarnation_and_group(run_out):
    _, dgrams = run_out
    last: dict[tuple, int] = {}
    for d in dgrams:
        code, pseq, _, stod = struct.unpack_from("!BBHi", d.payload)
        group = {ord("f"): "f", ord("g"): ("g", d.payload[16])}.get(code, "shared")
        key = (d.src, d.dst, stod, group)
        if key in last:
            assert pseq == (last[key] + 1) % 256, key
        else:
            assert pseq == (1 if code == ord("g") else 0), key
        last[key] = pseq


def test_fstream_order_sizes_flags_and_tod_counts(run_out, walk):
    _, dgrams = run_out
    users, opened, closed = set(), set(), set()
    forced_pending: dict[tuple, set] = defaultdict(set)
    for d in dgrams:
        code, _, _, stod = struct.unpack_from("!BBHi", d.payload)
        if d.dst[0] != "192.0.2.1":
            continue
        if code == ord("u"):
            users.add((d.src, stod, struct.unpack_from("!I", d.payload, 8)[0]))
        if code != ord("f"):
            continue
        (flag, tsize, n_xfr, n_recs), recs = walk.f(d.payload)
        assert (flag, tsize) == (1, 24) and n_recs == len(recs) and n_xfr == sum(r[0] == 3 for r in recs)
        for t, f, s, ident, body in recs:
            key = (d.src, stod, ident)
            if t == 1:
                lfn = body[20:].rstrip(b"\0")
                assert s == (20 + len(lfn) + 8) & ~3 and f & 1
                assert (d.src, stod, struct.unpack_from("!I", body, 16)[0]) in users
                opened.add(key)
                forced_pending[(d.src, stod, struct.unpack_from("!I", body, 16)[0])].add(ident)
            elif t == 0:
                assert key in opened and key not in closed and s == 112 and f & 6 == 6
                closed.add(key)
                for pend in forced_pending.values():
                    pend.discard(ident)
            elif t == 3:
                assert key in opened and key not in closed and s == 32
            elif t == 4:
                assert s == 8 and not forced_pending[(d.src, stod, ident)]
    assert len(closed) > 100


def test_same_seed_same_bytes_other_seed_other_bytes():
    small = dataclasses.replace(CFG, duration_s=900)

    def digest(cfg):
        h = hashlib.sha256()
        for d in simulate(cfg).datagrams():
            h.update(repr(d.t_send).encode() + d.payload)
        return h.hexdigest()

    assert digest(small) == digest(small)
    assert digest(small) != digest(dataclasses.replace(small, seed=12))


def test_monitored_close_bytes_equal_truth(run_out, walk):
    run, dgrams = run_out
    seen = {}
    for d in dgrams:
        if d.payload[:1] == b"f" and d.dst[0] == "192.0.2.1":
            stod = struct.unpack_from("!i", d.payload, 4)[0]
            for t, f, _, ident, body in walk.f(d.payload)[1]:
                if t == 0:
                    seen[(stod, ident, d.src[0])] = struct.unpack_from("!qqq", body, 8) + (bool(f & 1),)
    truth = {(r.stod, r.file_dictid, r.server_ip): (r.read_bytes, r.readv_bytes, r.write_bytes, r.close_kind == "forced")
             for r in run.truth.transfers if r.close_kind != "never"}
    assert seen == truth
    assert any(r.close_kind == "forced" for r in run.truth.transfers)
    assert any(r.close_kind == "never" for r in run.truth.transfers)


def _tcp(payload: int) -> tuple[int, int]:
    segs = -(-payload // 1448)  # MSS = 1500 − 20 (IP) − 32 (TCP with timestamps)
    return payload + 66 * segs, segs  # counters also count the 14-byte Ethernet header


def test_nic_counters_equal_payload_plus_overhead(run_out):
    """Data packets and datagrams are exact; what is left of each counter is pure ACKs: only
    whole 66-byte packets, between one per 64 and one per data segment of the other way."""
    run, dgrams = run_out
    want = defaultdict(lambda: [0, 0, 0, 0])  # tx bytes, tx packets, rx bytes, rx packets
    segs_to = defaultdict(lambda: [0, 0])  # data segments the host received, sent (what its ACKs and the peer's answer)
    servers = {r.server for r in run.truth.transfers}
    for r in run.truth.transfers:
        out_b, out_s = _tcp(r.payload_out_bytes)
        in_b, in_s = _tcp(r.payload_in_bytes)
        sent = (out_b, out_s, in_b, in_s)
        hosts = [(r.server, sent, (in_s, out_s))]
        if r.tpc and r.client_host in servers:  # the TPC pgm copy: the other end is a server too
            hosts.append((r.client_host, sent[2:] + sent[:2], (out_s, in_s)))
        for host, counts, segs in hosts:
            for k, v in enumerate(counts):
                want[host][k] += v
            for k, v in enumerate(segs):
                segs_to[host][k] += v
    names = {r.server_ip: r.server for r in run.truth.transfers}
    for d in dgrams:
        frags = -(-(len(d.payload) + 8) // 1480)
        want[names[d.src[0]]][0] += len(d.payload) + 8 + 34 * frags
        want[names[d.src[0]]][1] += frags
    final = {c.name: c for c in run.truth.counters if c.kind == "host" and c.t == CFG.start_time + CFG.duration_s}
    assert len(want) == 4 and any(r.tpc for r in run.truth.transfers)
    for name, (txb, txp, rxb, rxp) in want.items():
        c = final[name]
        acks_tx, acks_rx = c.tx_packets - txp, c.rx_packets - rxp
        assert (c.tx_bytes - txb, c.rx_bytes - rxb) == (66 * acks_tx, 66 * acks_rx), name
        received, sent = segs_to[name]
        assert received / 64 <= acks_tx <= received and sent / 64 <= acks_rx <= sent, name


def test_bad_setting_names_key_and_accepted_values():
    bad = dataclasses.replace(CFG, monitor=dataclasses.replace(MON, dests=[DestConfig(events=["fstat", "bogus"])]))
    with pytest.raises(ConfigError, match=r"monitor\.dests\[0\]\.events: expected one of files, io.*got 'bogus'"):
        simulate(bad)
