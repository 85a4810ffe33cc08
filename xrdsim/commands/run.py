"""``xrdsim run``: simulate a scenario, collect, score it against truth and network counters,
write the reports and exit 0 when every expectation holds, 1 when one fails."""

from __future__ import annotations

import argparse
import sys

EPILOG = """examples:
  xrdsim run scenarios/quickstart.yaml
  xrdsim run scenarios/wlcg-day.yaml -o reports/wlcg-day --progress
  xrdsim run scenarios/lossy-wan.yaml --collector udp --speed 200
  xrdsim run scenarios/wlcg-day.yaml --workers 2          # shards on a local Dask cluster
  xrdsim run scenarios/wlcg-day.yaml --shards 25          # 25 shards in turn: one shard's memory
  xrdsim run scenarios/wlcg-day.yaml --scheduler tcp://10.0.0.5:8786
exit status: 0 all expectations met, 1 an expectation failed, 2 a mistake in the scenario or arguments;
  an external collector that 3 died or failed, 4 never bound its port, 5 did not stop at SIGTERM
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``run``."""
    p = sub.add_parser(
        "run",
        help="simulate, collect, score and report one scenario",
        description="Run a scenario end to end and check its expectations. Reports go to "
        "reports/NAME/ (score.json, junit.xml, report.md, report.html, plots).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", metavar="SCENARIO.yaml", help="scenario file")
    p.add_argument("-o", "--out", metavar="DIR", help="report directory (default: the scenario's report.out, else reports/NAME)")
    p.add_argument("--collector", choices=("inprocess", "udp", "external"), help="override the scenario's collector mode")
    p.add_argument("--speed", type=float, metavar="X", help="udp/external: simulated seconds per wall second (0 = unpaced)")
    p.add_argument("--workers", type=int, metavar="N", help="shard the run by site over a local Dask cluster of N worker "
                   "processes (same scores as one process; in-process collector only)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="shard the run over the running dask.distributed cluster at ADDRESS")
    p.add_argument("--scheduler-timeout", type=float, default=10.0, metavar="SECONDS",  # cluster.SCHEDULER_TIMEOUT_S
                   help="how long to try to reach --scheduler before giving up (default %(default)g)")
    p.add_argument("--shards", type=int, metavar="K", help="cut the run into K shards of sites (same scores as one run); alone: "
                   "one after another in this process, each streamed (a horizon of one shard's rows and records held; without it the "
                   "in-process collector's run is one streamed shard); with --workers/--scheduler: the tasks (default 4 per worker)")
    p.add_argument("--progress", action="store_true", help="progress on stderr even when it is not a terminal")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress and no table; only failures and the exit status")
    p.set_defaults(handler=run)


def report_dir(args: argparse.Namespace, scenario) -> str:
    """``-o``, else the scenario's ``report.out``, else ``reports/NAME``."""
    return args.out or scenario.report.out or f"reports/{scenario.name}"


def conclude(result, quiet: bool = False) -> int:
    """Print the table (or, quiet, only the failures); 0 when every expectation holds, else 1."""
    from xrdsim.report import render_terminal

    if not quiet:
        try:
            print(render_terminal(result), flush=True)
        except (BrokenPipeError, OSError):  # stdout closed: the verdict still reaches the exit status
            print(f"{result.scenario.name}: {'PASS' if result.passed else 'FAIL'} (stdout closed; reports written)", file=sys.stderr)
    for v in result.failures if quiet else ():
        print(f"{result.scenario.name}: FAIL {v.name}: {v.reason}", file=sys.stderr)
    return 0 if result.passed else 1


def run(args: argparse.Namespace) -> int:
    """Load, run, report; the exit status of ``conclude``."""
    from xrdsim.harness import run_scenario
    from xrdsim.scenario import CollectorMode, load_scenario

    from xrdsim.report import report_folder

    scenario = load_scenario(args.scenario)
    mode = CollectorMode(args.collector) if args.collector else None
    show = not args.quiet and (args.progress or sys.stderr.isatty())
    out = report_folder(report_dir(args, scenario))  # before minutes of simulation, not after
    how = None
    if args.workers is not None or args.scheduler:
        from xrdsim.cluster import sharded

        how = sharded(args.workers, args.scheduler, args.shards, mode=mode, timeout_s=args.scheduler_timeout)
    elif args.shards is not None or (mode or scenario.collector.mode) is CollectorMode.INPROCESS:
        from xrdsim.shards import InProcess, check_shardable

        # The in-process collector's run streams, as one shard by default: the scores of one
        # run in the memory of what is open (docs/scale.md).
        check_shardable(scenario, mode, args.shards)  # before the report folder is made
        how = InProcess(args.shards or 1, mode)
    result = run_scenario(scenario, out, mode=mode, speed=args.speed, progress=show, how=how)
    return conclude(result, args.quiet)
