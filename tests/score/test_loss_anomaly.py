"""Loss per (server, counter group) and the ratio anomaly detector, on hand-built inputs."""

from __future__ import annotations

import math
import dataclasses
from dataclasses import dataclass

import pytest

from xrdsim.score import Bins, VolumeSeries
from xrdsim.score.anomaly import (
    Detection,
    anomaly_metrics,
    detect,
    fault_windows,
    flagged,
    kind_scores,
    loss_context,
    restart_detections,
    skew_detections,
)
from xrdsim.score.loss import group_host, loss_metrics, loss_rows
from xrdsim.score.digest import digest_records
from xrdsim.sim import DatagramRow, FaultRow


@dataclass
class Group:
    server_key: str
    socket: str
    group: str
    lost: int


def dgram(i, server, code, fate="delivered"):
    return DatagramRow(i, 0.0, server, "dest0", code, i % 256, 100, fate, "")


def test_loss_rows_fold_codes_into_counter_groups():
    rows_in = [dgram(0, "a", "f", "lost"), dgram(1, "a", "f"), dgram(2, "a", "="), dgram(3, "a", "u", "lost"),
               dgram(4, "b", "t"), dgram(5, "b", "<", "lost")]  # fmt: skip
    groups = [Group("1#5", "10.0.0.1:4000", "f", 1), Group("1#5", "10.0.0.1:4000", "map", 0), Group("2#5", "10.0.0.2:4001", "map", 2)]
    host_of = group_host({"1#5": "a"}, {"10.0.0.2": "b"})
    rows = loss_rows(rows_in, groups, host_of)
    got = {(r.server, r.group): (r.sent, r.lost, r.estimated) for r in rows}
    assert got == {("a", "f"): (2, 1, 1), ("a", "map"): (2, 1, 0), ("b", "map"): (1, 0, 2)}  # summary '<' not scored
    m = {x.name: x.value for x in loss_metrics(rows)}
    assert m["loss_rate_truth"] == pytest.approx(2 / 5)
    assert m["loss_rate_estimated"] == pytest.approx(3 / 5)
    assert m["loss_error"] == pytest.approx((0 + 1 + 2) / 5)


def test_loss_without_collector_report_is_undefined():
    m = {x.name: x.value for x in loss_metrics(loss_rows([dgram(0, "a", "f")], None, lambda g: ""))}
    assert m["loss_rate_truth"] == 0.0 and math.isnan(m["loss_error"])


def test_flagged_uses_median_mad_with_an_absolute_floor_both_ways():
    steady = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0]
    assert flagged(steady) == [0] * 7
    assert flagged(steady + [0.5]) == [0] * 7 + [-1]
    assert flagged(steady + [1.5]) == [0] * 7 + [1]  # over-reporting is flagged too
    assert flagged([1.0, 1.0, 1.0, 1.25, 0.8]) == [0] * 5  # within the 0.30 floor (path loss moves a bin this far)


MB = 1e8


def series_of(monitored, nic=None, width=100.0):
    n = len(next(iter(monitored.values())))
    nic = nic or {s: [MB] * n for s in monitored}
    return VolumeSeries(Bins(0.0, width, n), monitored, nic)


def test_drops_and_excesses_are_typed_and_the_last_bin_never_alarms():
    series = series_of({"S1": [MB] * 4 + [0.2 * MB, 0.3 * MB] + [MB] * 3 + [0.1 * MB],
                        "S2": [MB] * 2 + [2.0 * MB] + [MB] * 7,
                        "S3": [MB] * 10})
    found = detect(series)
    assert found == [Detection("volume_excess", "S2", "", 200.0, 300.0, 2.0), Detection("volume_drop", "S1", "", 400.0, 600.0, 0.2)]


def test_a_bin_past_the_run_end_is_partial_and_never_alarms():
    series = series_of({"S1": [MB] * 5 + [0.1 * MB], "S2": [MB] * 6})
    assert detect(series, run_end=550.0) == []  # bin 5 covers 500–600 s of a 550 s run
    assert detect(series, run_end=600.0) == []  # and is the last bin anyway


def test_drops_at_most_sites_at_once_are_one_collector_outage():
    drop = [MB] * 3 + [0.0, 0.0] + [MB] * 5
    series = series_of({"S1": list(drop), "S2": list(drop), "S3": [MB] * 10})
    found = detect(series)
    assert found == [Detection("collector_outage", "*", "", 300.0, 500.0, 0.0)]
    windows = fault_windows([FaultRow("collector_outage", "collector", 320.0, 480.0, "")], {}, series.sites)
    m = {x.name: x.value for x in anomaly_metrics(found, windows, 100.0)}
    assert (m["anomaly_precision"], m["anomaly_recall"], m["anomaly_delay_s"], m["anomaly_false_alarms"]) == (1.0, 1.0, 0.0, 0)


def test_restarts_are_read_from_new_stods_and_ended_incarnations(make_rec):
    recs = [(make_rec(stod=100, start=110.0, end=500.0), "srv1"), (make_rec(stod=100, end=900.0, ended="server_restart"), "srv1"),
            (make_rec(stod=1000, start=1010.0, end=1100.0), "srv1"),
            (make_rec(server="srv2", stod=50, end=700.0, ended="server_restart"), "srv2")]  # fmt: skip
    found = restart_detections(digest_records(recs, Bins(0.0, 100.0, 12), {}).hosts, {"srv1": "S1", "srv2": "S2"})
    assert sorted(found, key=lambda d: d.server) == [
        Detection("server_restart", "S1", "srv1", 900.0, 1001.0, 1000.0),
        Detection("server_restart", "S2", "srv2", 700.0, 701.0, 50.0),  # no record of its next incarnation
    ]


def test_scoring_per_kind_against_faults():
    found = [Detection("server_restart", "S1", "srv1", 900.0, 1001.0, 1000.0),
             Detection("volume_drop", "S2", "", 400.0, 600.0, 0.2),
             Detection("server_restart", "S1", "srv9", 900.0, 1001.0, 1000.0)]  # fmt: skip
    faults = [FaultRow("server_restart", "srv1", 950.0, 1000.0, ""), FaultRow("collector_outage", "collector", 420.0, 500.0, ""),
              FaultRow("server_restart", "srv3", 100.0, 100.0, "")]  # fmt: skip
    windows = fault_windows(faults, {"srv1": "S1", "srv3": "S1", "srv9": "S1"}, ["S1", "S2"])
    m = {x.name: x.value for x in anomaly_metrics(found, windows, 100.0)}
    # srv9's restart is no fault of the run: a false alarm even though srv1 (same site) restarted;
    # the outage explains S2's drop, but a drop is no outage found: only srv1's restart is
    assert (m["anomaly_precision"], m["anomaly_recall"], m["anomaly_false_alarms"]) == (pytest.approx(2 / 3), pytest.approx(1 / 3), 1)
    assert m["anomaly_delay_s"] == 0.0
    kinds = {(k.role, k.kind): (k.count, k.hits) for k in kind_scores(found, windows, 100.0)}
    assert kinds == {("detection", "server_restart"): (2, 1), ("detection", "volume_drop"): (1, 1),
                     ("fault", "server_restart"): (2, 1), ("fault", "collector_outage"): (1, 0)}


def test_a_drop_that_lost_f_datagrams_explain_is_no_false_alarm():
    found = [Detection("volume_drop", "S1", "", 400.0, 600.0, 0.4)]
    lost = DatagramRow(1, 550.0, "srv1", "f", "f", 3, 60000, "lost", "fragment")
    context = loss_context([lost, dgram(2, "srv1", "f")], {"srv1": "S1"}, 0.0, 200.0)
    assert len(context) == 1
    m = {x.name: x.value for x in anomaly_metrics(found, [], 100.0, context)}
    assert (m["anomaly_false_alarms"], m["anomaly_precision"]) == (0, 1.0)
    assert math.isnan(m["anomaly_recall"])  # path loss is no fault to find
    assert {x.name: x.value for x in anomaly_metrics(found, [], 100.0)}["anomaly_false_alarms"] == 1


def test_a_server_whose_record_times_sit_an_hour_off_their_arrival_has_a_skewed_clock(make_rec):
    series = series_of({"S1": [MB] * 10})
    recs = []
    for k in range(10):  # two records per bin per server, 30 s after their close; srv2 stamps -3600 s in bins 3–5
        for server in ("srv1", "srv2"):
            skew = -3600.0 if server == "srv2" and 3 <= k <= 5 else 0.0
            for j in range(2):
                t = k * 100.0 + 40.0 + j
                recs.append((make_rec(server=server, start=t - 35.0 + skew, end=t - 30.0 + skew, emitted=t), server))
    found = skew_detections(digest_records(recs, series.bins, {}).hosts, {"srv1": "S1", "srv2": "S1"}, series, 1000.0)
    assert found == [Detection("clock_skew", "S1", "srv2", 300.0, 600.0, -3600.0)]
    windows = fault_windows([FaultRow("clock_skew", "srv2", 300.0, 600.0, "skew_s=-3600")], {"srv2": "S1"}, ["S1"])
    m = {x.name: x.value for x in anomaly_metrics(found, windows, 100.0)}
    assert (m["anomaly_precision"], m["anomaly_recall"]) == (1.0, 1.0)


def test_an_http_upload_closed_with_write_0_explains_a_drop_at_its_server(make_rec):
    from xrdsim.score.anomaly import put_context

    put = dataclasses.replace(make_rec(write=0, start=1000.0, end=1100.0), protocol="https", rw=True)
    xroot = dataclasses.replace(put, protocol="xroot")
    counted = dataclasses.replace(put, write_bytes=5_000_000)
    digest = digest_records([(put, "srv1"), (xroot, "srv2"), (counted, "srv3")], Bins(0.0, 600.0, 4), {"srv1": "S1", "srv2": "S1", "srv3": "S2"})
    windows = put_context(digest.puts, 200.0)
    assert [(w.kind, w.target, w.sites) for w in windows] == [("http_put_write0", "srv1", ("S1",))]
    drop = Detection("volume_drop", "S1", "srv1", 1000.0, 1600.0, 0.4)
    elsewhere = Detection("volume_drop", "S1", "srv2", 1000.0, 1600.0, 0.4)
    m = {x.name: x.value for x in anomaly_metrics([drop, elsewhere], [], 600.0, windows)}
    assert m["anomaly_false_alarms"] == 1  # srv2's drop has no write-0 upload of its own
    assert m["anomaly_precision"] == 0.5
