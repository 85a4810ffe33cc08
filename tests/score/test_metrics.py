"""Transfer and series metrics on hand-built matchings and series with known answers."""

from __future__ import annotations

import math

import pytest

from xrdsim.score import Matching
from xrdsim.score.metrics import (
    best_lag,
    geometric_mean,
    pearson,
    quantile,
    transfer_metrics,
    wape,
)
from xrdsim.score.tally import tally_matching


def values(metrics):
    return {m.name: m.value for m in metrics}


def tallied(m: Matching):
    return transfer_metrics(tally_matching(m, {}, {}))


def test_transfer_metrics_known_answers(make_truth, make_rec):
    t1 = make_truth(1, read=100, close_t=1010.0, dn="/CN=a", vo="cms")
    t2 = make_truth(2, fid=2, read=300, write=100, open_t=2000.0, close_t=2010.0)
    t3 = make_truth(3, fid=3, read=600)
    m = Matching(
        pairs=[(t1, make_rec(read=100, dn="/CN=a", vo="atlas", emitted=1070.0)),
               (t2, make_rec(fid=2, read=250, write=100, start=2004.0, end=2010.0, emitted=2030.0, client="other"))],
        missed=[t3], spurious=[make_rec(fid=9)])  # fmt: skip
    v = values(tallied(m))
    assert v["transfer_recall"] == pytest.approx(2 / 3)
    assert v["transfer_precision"] == pytest.approx(2 / 3)
    assert v["byte_recall"] == pytest.approx((100 + 350) / (100 + 400 + 600))
    assert v["exact_bytes_rate"] == 0.5
    assert v["byte_precision"] == 1.0  # nothing recorded beyond the truth (the spurious record has 0 bytes)
    assert v["user_accuracy"] == 0.5  # t2's record lacks the DN its truth has: a missing field is wrong
    assert v["vo_accuracy"] == 0.0
    assert v["client_accuracy"] == 0.5
    assert v["latency_p50_s"] == pytest.approx((60.0 + 20.0) / 2)
    assert v["start_error_p99_s"] == pytest.approx(0.0 + (4.0 - 0.0) * 0.99)


def test_over_counting_lowers_byte_precision_not_recall(make_truth, make_rec):
    t1, t2 = make_truth(1, read=100), make_truth(2, fid=2, read=300)
    m = Matching(pairs=[(t1, make_rec(read=200)), (t2, make_rec(fid=2, read=300))], spurious=[make_rec(fid=9, read=100)])
    v = values(tallied(m))
    assert v["byte_recall"] == 1.0
    assert v["byte_precision"] == pytest.approx((100 + 300) / (200 + 300 + 100))


def test_accuracy_counts_coverage_both_ways(make_truth, make_rec):
    """A blank field where the truth has one is wrong; a field where the truth has none is wrong
    too; both blank (a session without auth sends no DN) is no evidence either way."""
    truth = [make_truth(k, fid=k, dn="/CN=a" if k < 3 else "") for k in range(1, 5)]
    recs = [make_rec(fid=1, dn="/CN=a"), make_rec(fid=2, dn=""), make_rec(fid=3, dn="/CN=x"), make_rec(fid=4, dn="")]
    v = values(tallied(Matching(pairs=list(zip(truth, recs)))))
    assert v["user_accuracy"] == pytest.approx(1 / 3)


def test_quantile_and_geometric_mean():
    assert quantile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert math.isnan(quantile([], 0.5))
    assert geometric_mean([1.0, 0.25]) == pytest.approx(0.5)
    assert geometric_mean([0.81, math.nan]) == pytest.approx(0.81)
    assert geometric_mean([0.5, 0.0]) == 0.0


def test_pearson_lag_and_wape():
    xs = [0.0, 1.0, 5.0, 2.0, 0.0, 0.0, 3.0, 1.0]
    assert pearson(xs, [2 * x + 1 for x in xs]) == pytest.approx(1.0)
    assert pearson(xs, [-x for x in xs]) == pytest.approx(-1.0)
    late = [0.0] + xs[:-1]  # monitoring one bin behind the NIC
    assert best_lag(late, xs) == 1
    assert wape([90.0, 110.0], [100.0, 100.0]) == pytest.approx(0.1)
