"""Speed-up of a scenario (default: scenarios/wlcg-day.yaml) from one process to Dask
workers, with the score documents compared: the same scenario and seed must score the same
whatever the number of workers (score.json without its wall times).

    python bench/workers.py [SCENARIO.yaml] [--workers 2] [--shards K] [--scheduler ADDRESS]

One process runs twice: holding every row until it scores (``harness.simulate_and_collect``)
and streamed as one shard (plain ``xrdsim run``). Prints each run's phases, the wall-time
speed-up over each (goal ≥ 1.7× with 2 workers on 2 cores) and whether the three score.json
documents are identical. No reports are written.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xrdsim.cluster import sharded
from xrdsim.harness import run_scenario
from xrdsim.report import score_document
from xrdsim.scenario import load_scenario
from xrdsim.shards import InProcess

ROOT = Path(__file__).resolve().parents[1]
GOAL = 1.7


def scored(scenario, how) -> tuple[float, dict, dict]:
    """(wall seconds, phases, score.json without its wall times) of one run, from a collected
    heap: the garbage the run before left (millions of objects in cycles) is not its cost."""
    gc.collect()
    start = time.perf_counter()
    result = run_scenario(scenario, None, how=how)
    wall = time.perf_counter() - start
    doc = json.loads(json.dumps(score_document(result)))
    doc.pop("phases_s", None)
    return wall, result.phases, doc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "wlcg-day.yaml"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shards", type=int, help="shards of the Dask run (default: 4 per worker)")
    ap.add_argument("--scheduler", help="a running dask.distributed scheduler instead of a local cluster")
    args = ap.parse_args()
    scenario = load_scenario(args.scenario)
    one_wall, one_phases, one_doc = scored(scenario, None)
    stream_wall, stream_phases, stream_doc = scored(scenario, InProcess(1))
    many_wall, many_phases, many_doc = scored(scenario, sharded(args.workers, args.scheduler, args.shards))
    print(f"scenario {scenario.name}: {one_doc['run']['sites']} sites, {scenario.sim.duration_s / 3600:g} h, "
          f"{one_doc['run']['transfers']:,} transfers")
    runs = (("1 process, every row held", one_wall, one_phases), ("1 process, streamed (xrdsim run)", stream_wall, stream_phases),
            (f"{args.workers} workers", many_wall, many_phases))
    for label, wall, phases in runs:
        parts = "  ".join(f"{k} {v:.1f}" for k, v in phases.items())
        print(f"  {label:<33} wall {wall:7.1f} s   ({parts})")
    for label, wall in (("every row held", one_wall), ("streamed", stream_wall)):
        speedup = wall / many_wall
        print(f"  speed-up over 1 process ({label}) {speedup:.2f}x   goal >= {GOAL}x: {'met' if speedup >= GOAL else 'MISSED'}")
    same = one_doc == stream_doc == many_doc
    print(f"  score.json identical (without wall times): {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
