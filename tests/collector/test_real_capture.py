"""The real XRootD 5.5.3 capture through the offline path (pcap → collector): ten transfers
with the bytes of truth.csv (writes + 4 B CRC per 4 KiB page, fixture README), zero loss,
and what the capture shows about server identity (spec §2.3, §2.6)."""

from __future__ import annotations

import math

import pytest

from collector import Collector, Ended
from collector.run import run_offline
from collector.sinks import MemorySink
from collector.sources import pcap_datagrams


@pytest.fixture(scope="module")
def collected(real_capture_path):
    path = real_capture_path
    sink = MemorySink()
    report = run_offline(pcap_datagrams(str(path)), Collector(), sink, strict=True)
    return sink, report


def test_real_capture_ten_records_with_truth_bytes(collected, real_truth):
    sink, _ = collected
    recs = sink.records
    assert len(recs) == 10
    got = sorted(("write" if r.write_bytes else "read", r.server_port, r.file_lfn, r.write_bytes or r.read_bytes) for r in recs)
    want = []
    for row in real_truth:
        size = int(row["bytes"])
        moved = size + 4 * math.ceil(size / 4096) if row["op"] == "write" else size
        want.append((row["op"], int(row["server_port"]), row["path"], moved))
    assert got == sorted(want)
    for r in recs:
        assert (r.ended, r.source, r.site, r.protocol, r.client_ip, r.user) == (Ended.CLOSE, "f", "SITE_A", "xroot", "127.0.0.1", "root")
        assert not r.lost_packets_around and r.start_time <= r.end_time


def test_real_capture_zero_loss_and_nothing_malformed(collected):
    _, report = collected
    assert report.malformed == 0 and report.stale == 0
    for g in report.groups:
        assert (g.lost, g.duplicated, g.pending) == (0, 0, 0), g
    totals = report.totals()
    assert totals["f"]["received"] == 1
    counted = sum(g.received + g.duplicated + g.malformed for g in report.groups)
    assert counted == report.datagrams == 56


def test_real_capture_two_servers_same_host_same_stod_are_two(collected):
    _, report = collected
    # both servers of the capture started in the same second on host "vm" (fixture README)
    keys = {g.server_key for g in report.groups if g.group in ("map", "f")}
    assert keys == {"101157319074353#1795912899", "142211717556586#1795912899"}


def _replayed_from_one_socket(path) -> MemorySink:
    """The capture as ``xrdsim replay`` delivers it: every datagram from one sender socket."""
    sink = MemorySink()
    items = ((payload, ("127.0.0.1", 50000), t) for payload, _, t in pcap_datagrams(str(path)))
    run_offline(items, Collector(), sink, strict=True)
    return sink


def test_real_capture_replayed_from_one_socket_gives_the_same_records(collected, real_capture_path):
    """Two servers that started in the same second, replayed from one socket: the server id
    in every packet keeps them apart, so the records are those of the capture itself."""
    sink, _ = collected
    replayed = _replayed_from_one_socket(real_capture_path)

    def view(records):
        return sorted((r.server_key, r.site, r.file_lfn, r.read_bytes, r.write_bytes, r.ended, r.user) for r in records)

    assert view(replayed.records) == view(sink.records)
    assert not [e for e in replayed.events if e.KIND == "anomaly"]
