"""End-to-end speed of a scenario (default: scenarios/wlcg-day.yaml): wall time of each phase
— simulate, collect, score, report — and simulated seconds per wall second, plus peak RSS.

    python bench/run.py [scenarios/wlcg-day.yaml] [--collector inprocess|udp] [--no-report]

The target: a full WLCG day of 100 sites in under 5 minutes end to end on 2 cores.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xrdsim.harness import run_scenario
from xrdsim.scenario import CollectorMode, load_scenario

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 300.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "wlcg-day.yaml"))
    ap.add_argument("--collector", choices=[m.value for m in CollectorMode if m is not CollectorMode.EXTERNAL], default="inprocess")
    ap.add_argument("--no-report", action="store_true", help="skip writing reports (score only)")
    args = ap.parse_args()
    scenario = load_scenario(args.scenario)
    with tempfile.TemporaryDirectory() as tmp:
        wall = time.perf_counter()
        result = run_scenario(scenario, None if args.no_report else Path(tmp), mode=CollectorMode(args.collector), speed=0)
        total = time.perf_counter() - wall
    sim_s = scenario.sim.duration_s
    stats = result.sim_stats
    print(f"scenario {scenario.name}: {stats['sites']} sites, {stats['servers']} servers, {sim_s / 3600:g} h simulated, "
          f"collector {args.collector}")
    print(f"  {stats['transfers']:,} transfers, {stats['datagrams_sent']:,} datagrams, {stats['records']:,} records")
    print(f"  {'phase':<10}{'wall s':>10}{'sim/wall':>12}")
    for name, seconds in result.phases.items():
        print(f"  {name:<10}{seconds:>10.1f}{sim_s / max(seconds, 1e-9):>12,.0f}")
    other = total - sum(result.phases.values())
    print(f"  {'other':<10}{other:>10.1f}")
    print(f"  {'total':<10}{total:>10.1f}{sim_s / total:>12,.0f}   target < {TARGET_S:.0f} s: {'met' if total < TARGET_S else 'MISSED'}")
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB; agreement {result.card.value('agreement'):.4f}; "
          f"expectations {'met' if result.passed else 'FAILED'}")
    for v in result.failures:  # which ones, with the value reached
        print(f"    {v.name}: {v.reason} (expected {v.expectation})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
