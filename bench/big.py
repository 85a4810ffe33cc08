"""A big run on Dask workers (default: 1,000 generated sites of 2 servers for 24 h, the
workload of scenarios/wlcg-day.yaml): wall time, the parent's peak RSS, each worker's peak
RSS (goal: < 4 GiB per worker) and the cost per site-day it implies for a month of 170 sites.

    python bench/big.py [--sites 1000] [--hours 24] [--workers 2] [--shards 16] [--save FILE]
    python bench/big.py --rescore FILE

The workers hold one shard at a time and score its transfers and records where they ran;
the parent holds the shards' tallies and digests and scores what needs every site at once.
``--save`` keeps those score inputs (a pickle), ``--rescore`` scores them again without the
run: to try a detector change on a run that takes a quarter of an hour.
"""

from __future__ import annotations

import argparse
import pickle
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xrdsim.cluster import sharded
from xrdsim.harness import run_scenario, score_inputs
from xrdsim.scenario import load_scenario
from xrdsim.score import judge, score_run

ROOT = Path(__file__).resolve().parents[1]
GOAL_GIB = 4.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--save", metavar="FILE", help="keep the score inputs here (pickle)")
    ap.add_argument("--rescore", metavar="FILE", help="score the inputs --save kept, and stop")
    args = ap.parse_args()
    if args.rescore:
        with open(args.rescore, "rb") as f:
            scenario, inputs = pickle.load(f)
        start = time.perf_counter()
        card = score_run(inputs)
        verdicts = judge(card, scenario.expect)
        print(f"rescored in {time.perf_counter() - start:.0f} s")
        return _verdicts(card, verdicts)
    text = (ROOT / "scenarios" / "wlcg-day.yaml").read_text()
    text = text.replace("generate: {count: 100, servers: 2}", f"generate: {{count: {args.sites}, servers: 2}}")
    text = text.replace("duration: 1d", f"duration: {args.hours}h")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_text(text)
        scenario = load_scenario(path)
        how = sharded(args.workers, None, args.shards)
        kept = {}

        def keeping(sc, clock, progress):
            sim, got = how(sc, clock, progress)
            kept["inputs"] = score_inputs(sim, got, sc)
            return sim, got

        start = time.perf_counter()
        result = run_scenario(scenario, None, how=keeping if args.save else how, progress=True)
        wall = time.perf_counter() - start
    stats = result.sim_stats
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    peaks = how.worker_peaks_gib
    print(f"{args.sites} sites x {args.hours:g} h on {args.workers} workers, {args.shards} shards: {stats['transfers']:,} transfers, "
          f"{stats['datagrams_sent']:,} datagrams, {stats['records']:,} records")
    print("  " + "  ".join(f"{k} {v:.0f} s" for k, v in result.phases.items()))
    print(f"  wall {wall:.0f} s; parent peak RSS {parent:.2f} GiB; worker peak RSS "
          + ", ".join(f"{p:.2f}" for p in peaks) + f" GiB (goal < {GOAL_GIB:g} GiB per worker: "
          + ("met" if peaks and max(peaks) < GOAL_GIB else "MISSED") + ")")
    site_days = args.sites * args.hours / 24
    per = wall * args.workers / site_days
    print(f"  {per:.2f} worker-seconds per site-day -> a month of 170 sites: {per * 170 * 30 / 3600:.1f} worker-hours, "
          f"{per * 170 * 30 / 3600 / args.workers:.1f} h wall on {args.workers} workers")
    if args.save:
        with open(args.save, "wb") as f:
            pickle.dump((scenario, kept["inputs"]), f, protocol=pickle.HIGHEST_PROTOCOL)
    return _verdicts(result.card, result.verdicts)


def _verdicts(card, verdicts) -> int:
    failed = [v.name for v in verdicts if not v.passed]
    print(f"  expectations {'met' if not failed else 'FAILED: ' + ', '.join(failed)}")
    for k in card.kinds:  # which detections nothing explains, by kind
        if k.role == "detection" and k.hits < k.count:
            print(f"    {k.count - k.hits} of {k.count} {k.kind} detections unexplained")
    for d in card.detections:
        print(f"    {d.kind} {d.site} {d.server} {d.start:.0f}-{d.end:.0f} value {d.value:.3f} {d.detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
