"""Third-party copies (spec §7.1, §7.3): the destination's TPC g-stream ``P`` records agree
with the truth of the pull (source read, destination write), the g header is walked by hand,
and each provider counts its own pseq from 1."""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime

import pytest

from xrdsim.sim import DestConfig, DestEvent, MonitorConfig, SimConfig, WorkloadConfig, simulate

MON = MonitorConfig(fstat_s=60, lfn=True, ops=True, flush_s=300, gbuff_bytes=4096,
                    dests=[DestConfig("192.0.2.1", 9930, [DestEvent.FSTAT, DestEvent.USER, DestEvent.TPC])])
CFG = SimConfig(seed=4, duration_s=3600, site_count=3, servers_per_site=1, monitor=MON,
                workload=WorkloadConfig(jobs_per_hour=120, tpc=0.6, files_per_vo=50, users_per_vo=3, median_size_bytes=200_000_000))


def iso(text: str) -> float:
    """XRootD's TPC time: the digits after the dot are microseconds printed with %03u."""
    head, frac = text.rstrip("Z").split(".")
    return datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp() + int(frac) / 1e6


@pytest.fixture(scope="module")
def out():
    run = simulate(CFG)
    return run, list(run.datagrams())


def test_tpc_records_agree_with_the_pull(out, walk):
    """Each ``P`` record (``ofs.tpc pgm xrdcp``, real 5.5.3): Size 0, xroot:// URLs, IPv 6;
    the destination's truth has the write-opened file with write 0, the source's the
    daemon user's pgread of every byte, between the record's Beg and End."""
    run, dgrams = out
    host_of = {s.spec.host.ip4: s.spec.host.name for s in run.servers}
    servers = set(host_of.values())
    dests = [r for r in run.truth.transfers if r.tpc and r.client_host not in servers and r.write_bytes == 0 and r.lfn]
    pulls = [r for r in run.truth.transfers if r.tpc and r.client_host in servers]
    seen, last_pseq = 0, {}
    for d in dgrams:
        code, pseq, plen, stod = walk.header(d.payload)
        if code != "g":
            continue
        t_beg, t_end, provider = struct.unpack_from("!iiB", d.payload, 8)
        assert chr(provider) == "P" and d.payload[17] == 0 and d.payload[-1] == 0 and plen <= 4096
        assert pseq == last_pseq.get((d.src, stod), 0) + 1
        last_pseq[(d.src, stod)] = pseq
        recs = [json.loads(r) for r in d.payload[24:-1].decode().split("\n")]
        assert (t_beg, t_end) == (int(iso(recs[0]["Xeq"]["End"])), int(iso(recs[-1]["Xeq"]["End"])))
        for rec in recs:
            assert rec["Dst"].startswith("xroot://") and rec["Src"].startswith("xroot://")
            dst_host, dst_path = rec["Dst"].removeprefix("xroot://").split("/", 1)
            src_host, src_path = rec["Src"].removeprefix("xroot://").split("/", 1)
            assert dst_host == f"{host_of[d.src[0]]}:1094" and src_path == dst_path
            assert (rec["Size"], rec["Xeq"]["RC"], rec["Xeq"]["Type"], rec["Xeq"]["IPv"]) == (0, 0, "pull", 6)
            beg, end = iso(rec["Xeq"]["Beg"]), iso(rec["Xeq"]["End"])
            assert any((w.server, w.lfn) == (host_of[d.src[0]], dst_path) and w.open_time < beg and w.close_time > end for w in dests)
            (pull,) = [p for p in pulls if (p.server, p.client_host, p.lfn) == (src_host.split(":")[0], host_of[d.src[0]], dst_path)
                       and beg - 1e-3 <= p.open_time and p.close_time <= end + 1e-3]
            assert pull.read_bytes > 0 and pull.user_dn == "" and pull.app_info == "xrdcp"
            seen += 1
    assert seen == len(pulls) > 20 and max(last_pseq.values()) > 1


def test_tpc_bytes_cross_the_destination_nic_once(out):
    # The pgm pull moves the bytes source → destination once: its flow books them on both
    # NICs; the client's own links to either server are ordinary client traffic.
    run, _ = out
    servers = {s.spec.host.name for s in run.servers}
    last = {}
    for row in run.truth.counters:
        if row.kind == "host" and row.name in servers and row.t >= last.get(row.name, row).t:
            last[row.name] = row
    rx = sum(r.rx_payload_bytes for r in last.values())
    tx = sum(r.tx_payload_bytes for r in last.values())
    pulls = [t for t in run.truth.transfers if t.tpc and t.client_host in servers]
    clients = [t for t in run.truth.transfers if t.client_host not in servers]
    assert pulls and any(t.tpc for t in clients)
    assert sum(t.read_bytes for t in pulls) > 10 * sum(t.read_bytes + t.write_bytes for t in clients if t.tpc)
    assert rx == sum(t.payload_in_bytes for t in clients) + sum(t.payload_out_bytes + t.payload_in_bytes for t in pulls)
    assert tx == sum(t.payload_out_bytes for t in clients) + sum(t.payload_in_bytes + t.payload_out_bytes for t in pulls)


def test_the_queue_of_burst_requests_holds_only_what_is_still_to_come(out):
    """Without summary reports nothing else settles the pgreads a TPC burst queued for their
    time: each new burst settles what earlier ones issued, so the queue does not grow with
    the run (it did: every pgread of the run stayed queued)."""
    run, _ = out
    pulls = sum(-(-t.read_bytes // (8 << 20)) for t in run.truth.transfers if t.tpc and t.read_bytes)  # pgreads of 8 MiB
    queued = [len(s.stats.later) for s in run.servers]
    assert pulls > 200
    assert max(queued) <= 0.25 * pulls
    end = CFG.duration_s
    for s in run.servers:  # what is left was issued by the run's last bursts
        assert all(t >= end - 3600 for t, *_ in s.stats.later)
