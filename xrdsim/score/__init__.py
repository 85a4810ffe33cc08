"""Scoring: collector output against the simulator's truth and the network's counters.

Pure functions from (truth rows, records, counters, collector report) to ``Metric`` values
and the evidence the report plots; expectations parsed from scenario strings.

    card = score_run(RunInputs(truth.transfers, truth.datagrams, truth.faults, truth.counters,
                               [to_rec(r) for r in records], t0, duration_s))
    verdicts = judge(card, scenario.expect)
"""

from xrdsim.score.anomaly import Detection, FaultWindow, KindScore, detect
from xrdsim.score.card import (
    RunInputs,
    ScoreCard,
    SiteScore,
    Verdict,
    judge,
    score_run,
)
from xrdsim.score.catalog import KNOWN_METRICS, METRICS, Metric, metric
from xrdsim.score.causes import Miss
from xrdsim.score.expectations import Expectation, parse_expectation
from xrdsim.score.formats import FieldPreset, RecordFormat
from xrdsim.score.loss import LossRow
from xrdsim.score.match import Matching, Rec, match, to_rec
from xrdsim.score.tally import TransferTally, site_map, tally_transfers
from xrdsim.score.volume import Bins, Overhead, VolumeSeries, cell_agreement

__all__ = [
    "KNOWN_METRICS",
    "METRICS",
    "Bins",
    "Detection",
    "Expectation",
    "FaultWindow",
    "FieldPreset",
    "KindScore",
    "LossRow",
    "Matching",
    "Metric",
    "Miss",
    "Overhead",
    "Rec",
    "RecordFormat",
    "RunInputs",
    "ScoreCard",
    "SiteScore",
    "TransferTally",
    "Verdict",
    "VolumeSeries",
    "cell_agreement",
    "detect",
    "judge",
    "match",
    "metric",
    "parse_expectation",
    "score_run",
    "site_map",
    "tally_transfers",
    "to_rec",
]
