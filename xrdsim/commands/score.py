"""``xrdsim score``: score outputs already on disk — a truth directory from ``xrdsim simulate``
and records from any collector as JSON lines — against the scenario's expectations."""

from __future__ import annotations

import argparse

EPILOG = """examples:
  xrdsim simulate scenarios/lossy-wan.yaml -o out/
  xrdsim collect --pcap out/datagrams.pcap --out out/records.jsonl --report out/collector.json
  xrdsim score scenarios/lossy-wan.yaml --truth out/ --records out/records.jsonl --collector-report out/collector.json
exit status: 0 all expectations met, 1 an expectation failed, 2 a mistake in the inputs
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``score``."""
    p = sub.add_parser(
        "score",
        help="score saved truth + records against a scenario's expectations",
        description="Match records to the truth, compare volumes with the NIC counters, check the "
        "collector's loss estimate, and write the reports, without simulating again.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", metavar="SCENARIO.yaml", help="the scenario the truth came from (expectations, bins, field map)")
    p.add_argument("--truth", required=True, metavar="DIR", help="directory with transfers/datagrams/faults/counters.parquet")
    p.add_argument("--records", required=True, metavar="FILE", help="collector records, JSON lines")
    p.add_argument("--collector-report", metavar="FILE", help="the collector's report JSON (for the loss metrics)")
    p.add_argument("-o", "--out", metavar="DIR", help="report directory (default: reports/NAME)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Score, report; 0 when every expectation holds, else 1."""
    from xrdsim.commands.run import conclude, report_dir
    from xrdsim.harness import score_saved
    from xrdsim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    return conclude(score_saved(args.truth, args.records, scenario, args.collector_report, report_dir(args, scenario)))
