"""score_run on a small hand-built run: the headline and per-site agreement by hand."""

from __future__ import annotations

import math

import pytest

from xrdsim.score import RunInputs, judge, parse_expectation, score_run
from xrdsim.sim import CounterRow

MSS = 1448


def counters(name, payload_per_bin, bins):
    """Host counters of ``payload_per_bin`` bytes sent per 60 s bin in full segments, ACKs back."""
    segs = payload_per_bin // MSS
    return [CounterRow(60.0 * k, "host", name, k * (segs // 2) * 52, k * segs * 1500, 0, 0, 0, 0, 0) for k in range(bins + 1)]


def test_headline_is_geometric_mean_of_parts(make_truth, make_rec):
    size = MSS * 1000
    truth = [make_truth(1, read=size, open_t=0.0, close_t=60.0), make_truth(2, fid=2, read=size, open_t=60.0, close_t=120.0)]
    records = [make_rec(read=size, start=0.0, end=60.0), make_rec(fid=99, lfn="/ghost", read=0)]  # one real, one spurious
    inputs = RunInputs(truth, [], [], counters("srv1", size, 2), records, 0.0, 120.0, bin_s=60.0)
    card = score_run(inputs)
    byte_recall, precision, volume = 0.5, 0.5, 1.0 - size / (2 * size)  # second bin: NIC saw it, monitoring did not
    assert card.value("byte_recall") == pytest.approx(byte_recall)
    assert card.value("transfer_precision") == pytest.approx(precision)
    assert card.value("volume_agreement") == pytest.approx(volume, rel=1e-6)
    assert card.value("byte_precision") == 1.0  # the one real record is exact, the spurious one has no bytes
    assert card.value("agreement") == pytest.approx((byte_recall * 1.0 * precision * volume) ** (1 / 4), rel=1e-6)
    assert [s.site for s in card.sites] == ["S1"]
    assert card.sites[0].agreement == pytest.approx(card.value("agreement"), rel=1e-6)
    assert math.isnan(card.value("summary_link_ratio"))
    verdicts = judge(card, {"byte_recall": parse_expectation(">= 0.9"), "transfer_precision": parse_expectation("== 0.5")})
    assert [v.passed for v in verdicts] == [False, True]
    assert verdicts[0].reason == "0.5 is not at least 0.9"
