"""Sinks: JSON lines with a kind per line, Parquet records table, Prometheus text endpoint."""

from __future__ import annotations

import json
import urllib.request

import pyarrow.parquet as pq

from collector import Anomaly, AnomalyKind, Ended, TransferRecord
from collector.sinks import JsonlSink, MetricsServer, ParquetSink, render_metrics
from xrdsim.wire import FileClose, FileOpen

NAMES = (
    "server_key server_host server_ip server_port site user user_dn vo role client_host client_ip protocol ipv6 "
    "app_info file_lfn file_dictid file_size read_bytes read_single_bytes read_vector_bytes write_bytes read_ops "
    "readv_ops write_ops readv_segments read_min read_max read_sigma readv_min readv_max write_min write_max "
    "write_sigma start_time end_time operation_time ended lost_packets_around source tpc t_emitted"
).split()  # the scorer's contract (the task's record field list)


def some_events(emitter, collector):
    em = emitter()
    evs = em.send(collector, [em.ident(site="S\"1"), em.user(1), em.f([FileOpen(2, 9, False, 1, "/caf\u00e9 \"q\".root")]), em.f([FileClose(2, 100, 20, 0)])])
    return evs + [Anomaly(AnomalyKind.LATE_OPEN, "k", "d", 1.0, 2)]


def test_sinks_jsonl_one_object_per_line_with_kind(tmp_path, emitter, collector):
    out = tmp_path / "r.jsonl"
    sink = JsonlSink(out)
    sink.write(some_events(emitter, collector))
    sink.close()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["kind"] for d in lines] == ["transfer", "anomaly"]
    rec = lines[0]
    assert set(NAMES) <= set(rec)
    assert (rec["file_lfn"], rec["site"], rec["read_bytes"], rec["ended"], rec["read_ops"]) == ("/caf\u00e9 \"q\".root", 'S"1', 120, "close", None)
    assert lines[1] == {"kind": "anomaly", "anomaly": "late_open", "server_key": "k", "detail": "d", "t_emitted": 1.0, "file_dictid": 2}


def test_sinks_parquet_records_table_and_side_events(tmp_path, emitter, collector):
    out = tmp_path / "r.parquet"
    sink = ParquetSink(out, batch=1)
    sink.write(some_events(emitter, collector))
    sink.close()
    table = pq.read_table(out)
    assert set(NAMES) <= set(table.column_names) and table.num_rows == 1
    row = table.to_pylist()[0]
    assert (row["file_lfn"], row["read_single_bytes"], row["ended"], row["start_time"]) == ("/caf\u00e9 \"q\".root", 100, "close", 1_700_000_100.0)
    side = [json.loads(x) for x in (tmp_path / "r.parquet.events.jsonl").read_text().splitlines()]
    assert [d["kind"] for d in side] == ["anomaly"]


def test_sinks_prometheus_text_has_collector_and_data_metrics(emitter, collector):
    server = MetricsServer("127.0.0.1", 0)
    try:
        server.write(some_events(emitter, collector))
        server.publish(collector.report())
        host, port = server.address
        text = urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5).read().decode()
    finally:
        server.close()
    assert "xrdsim_collector_datagrams_total 4" in text
    assert 'xrdsim_collector_records_total{ended="close"} 1' in text
    assert 'xrdsim_collector_group_datagrams_total{group="map",outcome="received"} 2' in text
    assert 'xrdsim_collector_group_datagrams_total{group="f",outcome="lost"} 0' in text
    assert 'xrdsim_collector_table_entries{table="sessions"} 1' in text
    assert 'xrdsim_transfer_bytes_total{site="S\\"1",vo="cms",direction="read"} 120' in text


def test_sinks_render_metrics_escapes_labels(collector):
    rep = collector.report()
    rep.records_by_ended["a\nb"] = 1
    assert 'ended="a\\nb"' in render_metrics(rep)


def test_sinks_records_keep_enum_values_plain_in_dicts():
    rec = TransferRecord(*(["x"] * 3), 1, "s", *(["u"] * 7), False, "", "/p", 1, 1, *([0] * 4), *([None] * 13), None, None, None, Ended.TIMEOUT, False, "f", False, 1.0)
    assert rec.to_dict()["ended"] == "timeout" and type(rec.to_dict()["ended"]) is str
