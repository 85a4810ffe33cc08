"""Loss per (server, counter group) and the ratio anomaly detector, on hand-built inputs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from xrdsim.score import Bins, VolumeSeries
from xrdsim.score.anomaly import (
    Detection,
    anomaly_metrics,
    detect,
    fault_windows,
    flagged,
)
from xrdsim.score.loss import group_host, loss_metrics, loss_rows
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


def test_flagged_uses_median_mad_with_an_absolute_floor():
    steady = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0]
    assert flagged(steady) == [False] * 7
    assert flagged(steady + [0.5]) == [False] * 7 + [True]
    assert flagged([1.0, 1.0, 1.0, 1.08]) == [False] * 4  # within the 0.10 floor


def test_detection_and_scoring_against_faults():
    mb = 1e8
    nic = [mb] * 10
    series = VolumeSeries(Bins(0.0, 100.0, 10), {"S1": [mb] * 4 + [0.2 * mb, 0.3 * mb] + [mb] * 4, "S2": [mb] * 10},
                          {"S1": nic, "S2": list(nic)})
    found = detect(series)
    assert found == [Detection("S1", 400.0, 600.0, 0.2)]
    faults = [FaultRow("collector_outage", "srv1", 420.0, 500.0, ""), FaultRow("server_restart", "S2", 100.0, 100.0, "")]
    windows = fault_windows(faults, {"srv1": "S1"}, series.sites)
    m = {x.name: x.value for x in anomaly_metrics(found, windows, 100.0)}
    assert (m["anomaly_precision"], m["anomaly_recall"], m["anomaly_delay_s"], m["anomaly_false_alarms"]) == (1.0, 0.5, 0.0, 0)
