"""The bus layouts (OSG raw, WLCG) and the on-disk spool, without a broker."""

from __future__ import annotations

import dataclasses

import pytest

from collector import Collector, TransferRecord
from collector.formats import osg_raw, unique_id, wlcg
from collector.run import run_offline
from collector.sinks import MemorySink
from collector.sources import pcap_datagrams
from collector.spool import Spool, SpoolError


@pytest.fixture(scope="module")
def records(real_capture_path) -> list[TransferRecord]:
    sink = MemorySink()
    run_offline(pcap_datagrams(str(real_capture_path)), Collector(), sink, strict=True)
    return sink.records


def test_osg_raw_times_are_ms_and_reads_split(records):
    rec = next(r for r in records if r.read_bytes)
    raw = osg_raw(rec)
    assert raw["start_time"] == round(rec.start_time * 1000) and raw["end_time"] == round(rec.end_time * 1000)
    assert raw["operation_time"] == int(rec.end_time - rec.start_time)
    assert (raw["read"], raw["readv"], raw["write"], raw["filename"], raw["site"]) == (
        rec.read_single_bytes, rec.read_vector_bytes, rec.write_bytes, rec.file_lfn, rec.site)  # fmt: skip
    assert raw["serverID"] == rec.server_key.partition("#")[0] and raw["HasFileCloseMsg"] == 1


def test_wlcg_counts_vector_reads_in_read_bytes_and_times_in_seconds(records):
    rec = dataclasses.replace(next(r for r in records if r.read_bytes), read_single_bytes=100, read_vector_bytes=900, read_bytes=1000)
    w = wlcg(rec)
    assert (w["read_bytes"], w["read_single_bytes"], w["read_vector_bytes"], w["operation"]) == (1000, 100, 900, "read")
    assert w["start_time"] == int(rec.start_time) and w["file_lfn"] == rec.file_lfn and w["metadata"]["_id"] == w["unique_id"]


def test_unique_id_is_stable_across_revisions_and_distinct_across_transfers(records):
    a, b = records[0], records[1]
    assert unique_id(a) == unique_id(dataclasses.replace(a, revision=3, read_bytes=1))
    assert unique_id(a) != unique_id(b)
    assert len({unique_id(r) for r in records}) == len(records)


def test_spool_is_a_fifo_that_resumes_after_its_cursor(tmp_path):
    spool = Spool(tmp_path / "s", segment_bytes=1024)
    spool.put([f"m{k}".encode() * 20 for k in range(100)])
    batch = spool.peek(30)
    assert [m for _, m, _ in batch] == [f"m{k}".encode() * 20 for k in range(30)]
    spool.ack(batch[-1][2], 30)
    spool.close()  # a restart: the 70 unconfirmed ones come first, in order
    again = Spool(tmp_path / "s", segment_bytes=1024)
    assert again.pending == 70
    assert [m for _, m, _ in again.peek(1000)] == [f"m{k}".encode() * 20 for k in range(30, 100)]
    assert not (tmp_path / "s" / "00000001.seg").exists()  # its 23 messages are all confirmed: deleted
    assert (tmp_path / "s" / "00000002.seg").exists()


def test_a_message_torn_by_a_crash_is_cut_at_start(tmp_path):
    spool = Spool(tmp_path / "s")
    spool.put([b"whole"])
    spool.close()
    seg = next((tmp_path / "s").glob("*.seg"))
    seg.write_bytes(seg.read_bytes() + b"\x00\x00\x01\x00half")  # a length of 256 and 4 bytes
    again = Spool(tmp_path / "s")
    assert (again.torn, again.pending, [m for _, m, _ in again.peek(10)]) == (1, 1, [b"whole"])


def test_past_its_bound_the_spool_drops_the_oldest_and_counts_them(tmp_path):
    spool = Spool(tmp_path / "s", max_bytes=4096, segment_bytes=1024)
    spool.put([bytes([k]) * 96 for k in range(200)])
    assert spool.bytes_on_disk <= 4096 + 1024 and spool.evicted > 0
    assert spool.pending + spool.evicted == 200
    kept = [m[0] for _, m, _ in spool.peek(1000)]
    assert kept == list(range(200 - len(kept), 200))  # the newest stay, in order


def test_an_unusable_spool_directory_is_a_spool_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SpoolError, match="file"):
        Spool(tmp_path / "file" / "spool")
