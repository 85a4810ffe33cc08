"""Record adapters: units, value transforms, layouts chosen by a field, the OSG serverID,
and lines that are no transfer."""

from __future__ import annotations

import json

import pytest

from xrdsim.external.records import read_records
from xrdsim.score.formats import FormatError, RecordFormat, Transform, Unit, adapter
from xrdsim.score.match import stod_of, to_rec

OSG = {"timestamp": 1_700_000_070_500, "start_time": 1_700_000_010_000, "end_time": 1_700_000_040_000,
       "server_hostname": "127.0.1.2", "server_ip": "127.0.1.2", "serverID": "1700000000#127.0.1.2#41896",
       "site": "T2_T_One", "host": "wn1", "filename": "/store/a.root", "read": 1000, "readv": 500, "write": 0}  # fmt: skip
WLCG = {"site_name": "T2_T_One", "server_host": "xrootd-01", "server_ip": "10.0.1.2", "file_lfn": "/store/b.root",
        "read_bytes": 700, "read_single_bytes": 600, "read_vector_bytes": 100, "write_bytes": 0,
        "start_time": 1_700_000_020, "end_time": 1_700_000_030, "metadata": {"timestamp": 1_700_000_090_000, "revision": 3}}  # fmt: skip


def write(tmp_path, *objs):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in objs))
    return path


def test_the_osg_serverid_gives_its_stod_not_its_port():
    rec = to_rec(OSG, preset=adapter(RecordFormat.OSG, {}).default)
    assert rec.stod == 1_700_000_000
    assert stod_of("10.0.1.2:41896#1700000000") == 1_700_000_000  # ours: identity#stod
    assert stod_of("1700000000#10.0.1.2#41896") == 1_700_000_000  # OSG: stod#ip#port
    assert stod_of("a#b#c#d") is None and stod_of("no-hash") is None


def test_one_osg_stream_carries_both_layouts_and_each_is_read_in_its_own(tmp_path):
    got = read_records(write(tmp_path, OSG, WLCG), adapter(RecordFormat.OSG, {}))
    osg, wlcg = got.records
    assert (osg.file_lfn, osg.read_bytes, osg.readv_bytes, osg.start_time) == ("/store/a.root", 1000, 500, 1_700_000_010.0)
    assert (wlcg.file_lfn, wlcg.read_bytes, wlcg.readv_bytes, wlcg.start_time) == ("/store/b.root", 600, 100, 1_700_000_020.0)
    assert (wlcg.t_emitted, wlcg.revision) == (1_700_000_090.0, 3)  # nested metadata, in ms


def test_units_and_transforms_over_a_field_map(tmp_path):
    line = {"srv": "xrootd-01.example.org:1094", "path": "/x", "kB": 2.5, "t0": "2023-11-14T22:13:30Z", "t1": 1_700_000_020_000_000}
    adapt = adapter(RecordFormat.OURS, {"server_host": "srv", "file_lfn": "path", "write_bytes": "kB", "start_time": "t0", "end_time": "t1"},
                    units={"write_bytes": Unit.KB, "end_time": Unit.US},
                    transforms={"server_host": Transform.HOST_OF, "start_time": Transform.ISO_TIME})  # fmt: skip
    (rec,) = read_records(write(tmp_path, line), adapt).records
    assert (rec.server_host, rec.write_bytes, rec.start_time, rec.end_time) == ("xrootd-01.example.org", 2500, 1_700_000_010.0, 1_700_000_020.0)


def test_lines_without_kind_are_transfers_only_with_a_path_and_bytes(tmp_path):
    got = read_records(write(tmp_path, {"tpc": "src", "bytes": 9}, {"kind": "summary", "server": "s:1"}, OSG), adapter(RecordFormat.OSG, {}))
    assert [r.file_lfn for r in got.records] == ["/store/a.root"] and got.skipped == 1 and len(got.summaries) == 1


def test_receipt_time_and_sender_alias_replace_the_collectors_own(tmp_path):
    got = read_records(write(tmp_path, OSG), adapter(RecordFormat.OSG, {}), received=lambda n: 1_700_000_045.0,
                       local_ip={"127.0.1.2": "10.0.1.2"}.get)
    (rec,) = got.records
    assert (rec.t_emitted, rec.server_ip, rec.server_host) == (1_700_000_045.0, "10.0.1.2", "10.0.1.2")


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"overrides": {"file_path": "x"}}, "collector.fields: 'file_path' is not a record field"),
    ({"overrides": {}, "units": {"write_bytes": Unit.MS}}, "ms is a unit of time, but write_bytes is bytes"),
    ({"overrides": {}, "layouts": {"x": RecordFormat.WLCG}}, "needs collector.layout_field"),
])  # fmt: skip
def test_a_field_map_that_cannot_apply_is_one_line(kwargs, says):
    fields = kwargs.pop("overrides")
    with pytest.raises(FormatError, match=".*") as exc:
        adapter(RecordFormat.OURS, fields, **kwargs)
    assert says in str(exc.value) and "\n" not in str(exc.value)


def test_a_byte_count_that_is_no_number_names_the_line(tmp_path):
    from xrdsim.external import RecordsError

    with pytest.raises(RecordsError, match=r"r.jsonl:1: a field the scorer reads is not a number"):
        read_records(write(tmp_path, {**OSG, "read": "lots"}), adapter(RecordFormat.OSG, {}))


def test_our_collectors_pseq_losses_and_summary_times_are_read_back_in_time(tmp_path):
    """``xrdsim score`` on our collector's JSON lines keeps its losses as they happened (the
    loss_burst detector's signal) and each summary's arrival (the silence detector's); other
    anomalies are skipped, not read as records."""
    lines = [{"kind": "anomaly", "anomaly": "pseq_loss", "server_key": "k#1", "detail": "f 3", "t_emitted": 1_700_000_100.0},
             {"kind": "anomaly", "anomaly": "pseq_loss", "server_key": "k#1", "detail": "map -1", "t_emitted": 1_700_000_200.0},
             {"kind": "anomaly", "anomaly": "server_restart", "server_key": "k#1", "detail": "new stod 2", "t_emitted": 1.0},
             {"kind": "summary", "server": "h:1094", "link_in_delta": 5, "link_out_delta": 6, "t_emitted": 1_700_000_300.0}]
    got = read_records(write(tmp_path, *lines), adapter(RecordFormat.OURS, {}))
    assert [(e.server, e.group, e.t, e.count) for e in got.losses] == [("k#1", "f", 1_700_000_100.0, 3), ("k#1", "map", 1_700_000_200.0, -1)]
    assert [(s.server, s.t_emitted) for s in got.summaries] == [("h:1094", 1_700_000_300.0)]
    assert got.records == [] and got.skipped == 1
