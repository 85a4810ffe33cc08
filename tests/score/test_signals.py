"""Per-server signals (``xrdsim.score.signals``) and how ``xrdsim.score.anomaly`` merges and
scores them, on hand-built inputs: silences, collector outages, loss bursts, DN drift."""

from __future__ import annotations

import math

import pytest

from xrdsim.score import Bins, VolumeSeries
from xrdsim.score.anomaly import Detection, anomaly_metrics, detect, explains, fault_windows, kind_scores, merged
from xrdsim.score.signals import (
    Finding,
    LossEvent,
    arrivals,
    dn_drift,
    gaps,
    loss_bursts,
    loss_event,
    silences,
    summary_host,
)
from xrdsim.score.digest import digest_records
from xrdsim.sim import FaultRow

BIN = 600.0
N = 18  # 3 h of 10-minute bins
RUN_END = BIN * N
BINS = Bins(0.0, BIN, N)
BUSY = 1e8  # NIC payload per bin, far above the ratio floor


def busy_nic(*hosts: str) -> dict[str, list[float]]:
    return {h: [BUSY] * N for h in hosts}


def steady(start: float = 0.0, end: float = RUN_END, every: float = 60.0) -> list[float]:
    out, t = [], start
    while t <= end + 1e-9:
        out.append(t)
        t += every
    return out


def with_gap(a: float, b: float, every: float = 60.0) -> list[float]:
    """Arrivals every ``every`` s over the run except strictly inside (a, b)."""
    return [t for t in steady(every=every) if t <= a or t >= b]


# ---------------------------------------------------------------- silences


def test_a_silence_while_the_nic_is_busy_is_a_silent_server():
    heard = {"a": with_gap(3600.0, 6000.0), "b": steady()}
    found, shared = silences(heard, {}, busy_nic("a", "b"), BINS, RUN_END)
    assert found == [Finding("server_silent", "a", 3600.0, 6000.0, 2400.0, "nothing arrived for 2400 s")]
    assert shared == []  # one server of two is no collector outage


def test_the_same_silence_with_an_idle_nic_is_nothing():
    heard = {"a": with_gap(3600.0, 6000.0), "b": steady()}
    idle = busy_nic("a", "b")
    idle["a"] = [0.0 if 6 <= k <= 9 else BUSY for k in range(N)]  # idle exactly over 3600–6000 s
    assert silences(heard, {}, idle, BINS, RUN_END) == ([], [])
    assert silences(heard, {}, {"b": [BUSY] * N}, BINS, RUN_END) == ([], [])  # no counters of a: no claim


def test_a_silence_whose_summaries_still_arrive_is_config_drift():
    heard = {"a": with_gap(3600.0, 6000.0), "b": steady()}
    summaries = {"a": [3000.0, 4200.0, 4800.0, 5400.0, 6600.0]}
    found, shared = silences(heard, summaries, busy_nic("a", "b"), BINS, RUN_END)
    assert found == [Finding("config_drift", "a", 3600.0, 6000.0, 2400.0, "no record for 2400 s while its summaries came")]
    assert shared == []
    # summaries only before and after the silence do not make it a drift
    around = {"a": [3000.0, 6600.0]}
    assert [f.kind for f in silences(heard, around, busy_nic("a", "b"), BINS, RUN_END)[0]] == ["server_silent"]


def test_silences_at_most_servers_at_once_fold_into_one_collector_outage():
    heard = {"a": with_gap(3600.0, 6000.0), "b": with_gap(3660.0, 6060.0), "c": steady()}
    found, shared = silences(heard, {}, busy_nic("a", "b", "c"), BINS, RUN_END)
    assert found == []  # the servers' own silences are the outage's
    assert shared == [Finding("collector_outage", "", 3660.0, 6000.0, 2.0, "2 servers silent at once")]


def test_silences_at_different_times_are_no_outage():
    heard = {"a": with_gap(1800.0, 4200.0), "b": with_gap(6000.0, 8400.0), "c": steady()}
    found, shared = silences(heard, {}, busy_nic("a", "b", "c"), BINS, RUN_END)
    assert shared == []
    assert [(f.kind, f.server, f.start, f.end) for f in found] == [("server_silent", "a", 1800.0, 4200.0),
                                                                    ("server_silent", "b", 6000.0, 8400.0)]


def test_a_silence_to_the_end_of_the_run_runs_to_run_end():
    heard = {"a": [t for t in steady() if t <= 7200.0], "b": steady()}
    found, _ = silences(heard, {}, busy_nic("a", "b"), BINS, RUN_END)
    assert found == [Finding("server_silent", "a", 7200.0, RUN_END, RUN_END - 7200.0, f"nothing arrived for {RUN_END - 7200.0:.0f} s")]


# ---------------------------------------------------------------- gaps


def clumps(skip: set[int], n: int = 18, size: int = 10) -> list[float]:
    """A server flushing every 600 s: ``size`` datagrams a second apart per flush; the
    flushes numbered in ``skip`` never arrive."""
    return [k * 600.0 + j for k in range(n) if k not in skip for j in range(size)]


def test_a_bursty_sender_does_not_alarm_on_one_missed_flush_but_does_on_a_long_gap():
    # median spacing 1 s (GAP_K × 1 = 20 s) and the floor 900 s would flag a 1,191 s gap;
    # its 95th-percentile spacing (591 s) × PERIOD_K does not
    assert gaps(clumps({5}), 0.0, RUN_END) == []
    assert gaps(clumps({5, 6, 7, 8, 9}), 0.0, RUN_END) == [(2409.0, 6000.0)]


def test_the_same_gap_at_a_steady_sender_alarms():
    times = with_gap(3000.0, 4200.0, every=30.0)  # 1,200 s, about one missed flush of the bursty sender
    assert gaps(times, 0.0, RUN_END) == [(3000.0, 4200.0)]
    assert gaps(with_gap(3000.0, 3840.0, every=30.0), 0.0, RUN_END) == []  # under the 900 s floor


def test_a_gap_must_be_unlikely_at_the_rate_heard_around_it_among_the_runs_chances():
    """A day's quiet hours: a server heard every minute by day and every 3 minutes at night
    stays quiet for 27 minutes at night. Its day-long spacing makes that a silence, but at its
    night rate it is 9 mean spacings: among 200,000 arrivals of a run's servers, a gap of
    e^-9 comes by itself. A 40-minute silence in its busy hours is 40 spacings: not chance."""
    day = [k * 60.0 for k in range(720)]  # 12 h every minute
    night = [43_200.0 + k * 180.0 for k in range(120)]  # then 6 h every 3 minutes
    quiet = [t for t in night if not 50_000.0 < t < 51_320.0]
    gap = (49_860.0, 51_480.0)
    assert gap in gaps(day + quiet, 0.0, 64_800.0)  # the spacing alone flags it (limit 1,200 s) …
    assert gaps(day + quiet, 0.0, 64_800.0, chances=200_000) == []  # … its rate around it does not
    blocked = [t for t in day if not 20_000.0 < t < 22_400.0] + night
    assert gaps(blocked, 0.0, 64_800.0, chances=200_000) == [(19_980.0, 22_440.0)]


def test_gaps_need_three_arrivals_and_skip_start_up():
    assert gaps([100.0, 5000.0], 0.0, RUN_END) == []
    late_start = [t for t in steady() if t >= 3000.0]
    assert gaps(late_start, 0.0, RUN_END) == []  # silence before the first arrival is start-up


# ---------------------------------------------------------------- loss bursts

OK = [True] * (N - 1) + [False]


def uniform(hosts, per_bin: int, group: str = "f") -> list[LossEvent]:
    return [LossEvent(h, group, k * BIN + 30.0, per_bin) for h in hosts for k in range(N)]


def test_a_bin_far_above_the_runs_usual_loss_is_a_loss_burst():
    losses = uniform("abc", 1) + [LossEvent("a", "f", 5 * BIN + 100.0, 12), LossEvent("a", "f", 5 * BIN + 200.0, 8)]
    found, shared = loss_bursts(losses, BINS, OK)
    assert found == [Finding("loss_burst", "a", 3000.0, 3600.0, 21.0, "f: 21 lost")]
    assert shared == []


def test_run_wide_uniform_loss_is_no_burst():
    # 10 a bin at every server: above BURST_MIN, but the run's usual
    assert loss_bursts(uniform("abc", 10), BINS, OK) == ([], [])
    assert loss_bursts(uniform("abc", 1) + [LossEvent("a", "f", 5 * BIN, 6)], BINS, OK) == ([], [])  # 7: under BURST_MIN


def test_a_burst_counts_per_counter_group_and_only_in_interior_bins():
    losses = uniform("ab", 1) + [LossEvent("a", "map", 5 * BIN + 10.0, 20)]
    found, _ = loss_bursts(losses, BINS, OK)
    assert [(f.server, f.detail) for f in found] == [("a", "map: 20 lost")]
    edge = uniform("ab", 1) + [LossEvent("a", "f", (N - 1) * BIN + 10.0, 50)]
    assert loss_bursts(edge, BINS, OK) == ([], [])  # the last bin never alarms


def test_bursts_at_most_servers_at_once_are_a_collector_outage():
    losses = uniform("abc", 1) + [LossEvent("a", "f", 5 * BIN + 10.0, 30), LossEvent("b", "map", 5 * BIN + 20.0, 25)]
    found, shared = loss_bursts(losses, BINS, OK)
    assert found == []
    assert shared == [Finding("collector_outage", "", 3000.0, 3600.0, 2.0, "2 servers lost datagrams at once")]


def test_no_losses_no_bursts():
    assert loss_bursts([], BINS, OK) == ([], [])


# ---------------------------------------------------------------- DN drift


def hosts_of(records):
    """The per-host signals the detectors read, from (record, host) pairs."""
    return digest_records(records, BINS, {}).hosts


def dn_records(make_rec, low_bins: set[int], host: str = "a", per_bin: int = 10):
    out = []
    for k in range(N):
        for j in range(per_bin):
            t = k * BIN + 30.0 + j
            out.append((make_rec(server=host, start=t - 20.0, end=t, emitted=t + 30.0, dn="" if k in low_bins else "/CN=u"), host))
    return out


def test_a_lasting_fall_of_the_dn_share_is_config_drift(make_rec):
    found = dn_drift(hosts_of(dn_records(make_rec, set(range(8, N)))), BINS, OK)
    assert found == [Finding("config_drift", "a", 8 * BIN, (N - 1) * BIN, 0.0, "user DN on 0% of records, from 100%")]


def test_a_single_or_short_low_dn_run_is_no_drift(make_rec):
    assert dn_drift(hosts_of(dn_records(make_rec, {8})), BINS, OK) == []
    assert dn_drift(hosts_of(dn_records(make_rec, {8, 9})), BINS, OK) == []  # DRIFT_MIN_BINS is 3
    assert [f.start for f in dn_drift(hosts_of(dn_records(make_rec, {8, 9, 10})), BINS, OK)] == [8 * BIN]


def test_dn_drift_needs_records_with_dn_before_and_enough_records_a_bin(make_rec):
    assert dn_drift(hosts_of(dn_records(make_rec, set(range(N)))), BINS, OK) == []  # never had DNs: nothing fell
    assert dn_drift(hosts_of(dn_records(make_rec, set(range(8, N)), per_bin=4)), BINS, OK) == []  # under DN_MIN_RECORDS a bin


def test_dn_drift_is_per_server(make_rec):
    recs = dn_records(make_rec, set(range(8, N)), host="a") + dn_records(make_rec, set(), host="b")
    assert [f.server for f in dn_drift(hosts_of(recs), BINS, OK)] == ["a"]


# ---------------------------------------------------------------- parsing and helpers


@pytest.mark.parametrize(("detail", "expected"), [
    ("f 3", ("f", 3)), ("map 12", ("map", 12)), ("g:ccm 1", ("g:ccm", 1)),
    ("f -2", ("f", -2)), ("f", None), ("f x", None), ("", None), (" 5", None), ("f -", None),
])  # fmt: skip
def test_loss_event_parses_group_and_count(detail, expected):
    got = loss_event("123#1700000000", detail, 42)
    if expected is None:
        assert got is None
    else:
        assert got == LossEvent("123#1700000000", expected[0], 42.0, expected[1])
        assert isinstance(got.t, float)


def test_summary_host_strips_a_numeric_port_only():
    assert summary_host("xrootd-01.example.org:1094") == "xrootd-01.example.org"
    assert summary_host("xrootd-01.example.org") == "xrootd-01.example.org"
    assert summary_host("host:http") == "host:http"
    assert summary_host(":1094") == ":1094"


def test_arrivals_join_records_and_losses_per_host(make_rec):
    recs = [(make_rec(emitted=300.0), "a"), (make_rec(emitted=100.0), "a"), (make_rec(emitted=None), "a"), (make_rec(emitted=50.0), "b")]
    got = arrivals(hosts_of(recs), [LossEvent("a", "f", 200.0, 2), LossEvent("c", "map", 10.0, 1)])
    assert got == {"a": [100.0, 200.0, 300.0], "b": [50.0], "c": [10.0]}


# ---------------------------------------------------------------- scoring: FINDS vs EXPLAINS


def test_a_drift_seen_only_as_its_restart_is_explained_but_not_found():
    restart = Detection("server_restart", "S1", "srv1", 3599.0, 3601.0, 3600.0)
    windows = fault_windows([FaultRow("config_drift", "srv1", 3600.0, 3660.0, "drop=user")], {"srv1": "S1"}, ["S1"], RUN_END)
    m = {x.name: x.value for x in anomaly_metrics([restart], windows, BIN)}
    assert (m["anomaly_precision"], m["anomaly_recall"], m["anomaly_false_alarms"]) == (1.0, 0.0, 0)
    assert math.isnan(m["anomaly_delay_s"])
    kinds = {(k.role, k.kind): (k.count, k.hits) for k in kind_scores([restart], windows, BIN)}
    assert kinds == {("detection", "server_restart"): (1, 1), ("fault", "config_drift"): (1, 0)}


def test_a_drift_is_found_by_a_config_drift_detection_until_the_run_end():
    late = Detection("config_drift", "S1", "srv1", 7200.0, 9000.0, 0.0)
    faults = [FaultRow("config_drift", "srv1", 3600.0, 3660.0, "drop=user")]
    windows = fault_windows(faults, {"srv1": "S1"}, ["S1"], RUN_END)
    assert windows[0].end == RUN_END  # a drift lasts
    m = {x.name: x.value for x in anomaly_metrics([late], windows, BIN)}
    assert (m["anomaly_precision"], m["anomaly_recall"], m["anomaly_delay_s"]) == (1.0, 1.0, 3600.0)
    # without the run end the drift window closes at its restart: the same detection is late and false
    short = fault_windows(faults, {"srv1": "S1"}, ["S1"])
    m = {x.name: x.value for x in anomaly_metrics([late], short, BIN)}
    assert (m["anomaly_precision"], m["anomaly_recall"], m["anomaly_false_alarms"]) == (0.0, 0.0, 1)


def test_a_server_silent_fault_is_found_by_server_silent_not_by_a_volume_drop():
    windows = fault_windows([FaultRow("server_silent", "srv1", 3600.0, 6000.0, "")], {"srv1": "S1"}, ["S1"], RUN_END)
    drop = Detection("volume_drop", "S1", "srv1", 3600.0, 6000.0, 0.1)
    kinds = {(k.role, k.kind): (k.count, k.hits) for k in kind_scores([drop], windows, BIN)}
    assert kinds == {("detection", "volume_drop"): (1, 1), ("fault", "server_silent"): (1, 0)}
    silent = Detection("server_silent", "S1", "srv1", 3650.0, 6000.0, 2350.0)
    kinds = {(k.role, k.kind): (k.count, k.hits, k.delay_s) for k in kind_scores([drop, silent], windows, BIN) if k.role == "fault"}
    assert kinds == {("fault", "server_silent"): (1, 1, 50.0)}


def test_a_detection_is_explained_up_to_one_bin_before_its_fault_and_only_at_its_server():
    (w,) = fault_windows([FaultRow("config_drift", "srv1", 3600.0, 3660.0, "")], {"srv1": "S1", "srv2": "S1"}, ["S1"], RUN_END)
    grace = 2 * BIN
    assert explains(w, Detection("server_restart", "S1", "srv1", 3100.0, 3101.0, 0.0), grace)
    assert not explains(w, Detection("server_restart", "S1", "srv1", 2900.0, 2901.0, 0.0), grace)
    assert not explains(w, Detection("server_restart", "S1", "srv2", 3599.0, 3601.0, 0.0), grace)  # another server of the site
    assert not explains(w, Detection("clock_skew", "S1", "srv1", 3599.0, 3601.0, 0.0), grace)  # no kind a drift explains


# ---------------------------------------------------------------- merged


def test_merged_joins_overlapping_or_touching_same_kind_same_place_only():
    a = Detection("volume_drop", "S1", "srv1", 600.0, 1800.0, 0.2, "first")
    b = Detection("volume_drop", "S1", "srv1", 1200.0, 2400.0, 0.1, "second")  # overlaps a
    c = Detection("volume_drop", "S1", "srv1", 2400.0, 3000.0, 0.3)  # touches a+b
    d = Detection("volume_drop", "S1", "srv1", 4200.0, 4800.0, 0.3)  # apart
    e = Detection("volume_drop", "S1", "srv2", 1200.0, 2400.0, 0.1)  # another server
    f = Detection("volume_drop", "S2", "srv1", 1200.0, 2400.0, 0.1)  # another site
    g = Detection("loss_burst", "S1", "srv1", 1200.0, 1800.0, 9.0)  # another kind
    joined = Detection("volume_drop", "S1", "srv1", 600.0, 3000.0, 0.2, "first")  # a's value and detail
    assert merged([d, c, g, b, e, f, a]) == [joined, g, e, f, d]  # by start, then kind, site, server
    assert merged([a, d]) == [a, d]
    assert merged([]) == []


# ---------------------------------------------------------------- detect: the signals wired in


def test_detect_types_per_server_signals_with_their_site():
    site = VolumeSeries(BINS, {"S1": [BUSY] * N}, {"S1": [BUSY] * N})
    servers = VolumeSeries(BINS, {"a": [BUSY / 2] * N, "b": [BUSY / 2] * N}, {"a": [BUSY / 2] * N, "b": [BUSY / 2] * N})
    losses = uniform("ab", 1) + [LossEvent("b", "f", 5 * BIN + 10.0, 30)]
    found = detect(site, None, {"a": "S1", "b": "S1"}, RUN_END, servers, losses, {})
    assert found == [Detection("loss_burst", "S1", "b", 3000.0, 3600.0, 31.0, "f: 31 lost")]
    assert detect(site, None, {"a": "S1", "b": "S1"}, RUN_END, servers, uniform("ab", 1), {}) == []


# ---------------------------------------------------------------- per-server ratios: shifts in time


def test_bytes_shifted_between_adjacent_bins_are_no_volume_anomaly():
    """One long transfer's bytes spread evenly while the NIC counted them as they flowed: an
    excess its neighbour gives back is a shift, not bytes added; the same excess alone is."""
    from xrdsim.score.anomaly import ratio_detections

    nic = [BUSY * 10] * N
    site = VolumeSeries(BINS, {"S1": list(nic)}, {"S1": list(nic)})

    def found(monitored):
        servers = VolumeSeries(BINS, {"a": monitored}, {"a": list(nic)})
        return [(d.kind, d.server, d.start) for d in ratio_detections(site, RUN_END, servers, {"a": "S1"}) if d.server]

    shift = list(nic)
    shift[4], shift[5] = nic[4] * 1.6, nic[5] * 0.4
    assert found(shift) == []
    alone = list(nic)
    alone[4] = nic[4] * 1.6
    assert found(alone) == [("volume_excess", "a", 4 * BIN)]
    half = list(nic)  # a neighbour that gives back less than half: still an excess
    half[4], half[5] = nic[4] * 1.6, nic[5] * 0.8
    assert found(half) == [("volume_excess", "a", 4 * BIN)]
    gone = list(nic)  # a lasting drop: its neighbours are short too
    gone[4] = gone[5] = gone[6] = 0.0
    assert found(gone) == [("volume_drop", "a", 4 * BIN)]
