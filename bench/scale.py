"""How the main job scales with simulated time and sites: peak RSS of a 10-site run at 2 h and
at 16 h (goal: the 16-hour run within 1.2x of the 2-hour one), and the CPU cost per
site-day with what it implies for a month of 170 sites.

    python bench/scale.py [--sites 10] [--short 2] [--long 16] [--jobs-per-hour 600] [--shards K] [--daily-amplitude A]

Each run is ``xrdsim run``'s path (simulate, collect in process, score; no report files) in a
child process of its own, so its peak RSS is its own (``ru_maxrss`` of the child): once
streamed in ``--shards`` shards run in turn (default 1: what plain ``xrdsim run`` does; it
holds what is open and a horizon of what closed: docs/scale.md, "Streaming inside a
shard"), and once as the one-process path that holds every row until it scores
(``harness.simulate_and_collect``, which the tests and the broken-collector zoo use).

The load is flat by default (``--daily-amplitude 0``): the goal is memory that does not grow
with simulated time, and with the default daily cycle (0.3) the 16-hour run, which starts at
22:13 UTC, ends (14:13 UTC) at 1.43x the busiest load of the 2-hour run, and holds
that many more transfers open (memory that rightly follows concurrency).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from xrdsim.harness import run_scenario
from xrdsim.scenario import load_scenario
from xrdsim.shards import InProcess
t = time.process_time()
result = run_scenario(load_scenario({path!r}), how=InProcess({shards}) if {shards} else None)
print(json.dumps({{"transfers": result.card.counts["truth_transfers"], "cpu_s": time.process_time() - t,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run(sites: int, hours: float, jobs: float, tmp: Path, shards: int = 0, amplitude: float = 0.0) -> dict:
    """One run of ``sites`` generated sites for ``hours`` (``shards`` > 0: cut into that many
    shards run in turn): transfers, CPU seconds, peak RSS."""
    path = tmp / f"scale-{sites}-{hours:g}h.yaml"
    path.write_text(f"name: scale\nseed: 7\nduration: {hours}h\nsites:\n  generate: {{count: {sites}, servers: 2}}\n"
                    f"workload:\n  jobs_per_hour: {jobs}\n  daily_amplitude: {amplitude}\nmonitoring:\n  preset: wlcg\n  auth: true\n"
                    "report:\n  bin_s: 10m\nexpect:\n  transfer_recall: '>= 0.9'\n")
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), path=str(path), shards=shards)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument("--short", type=float, default=2.0, help="hours")
    ap.add_argument("--long", type=float, default=16.0, help="hours")
    ap.add_argument("--jobs-per-hour", type=float, default=600.0, help="per site")
    ap.add_argument("--shards", type=int, default=1, help="shards of the streamed pair of runs (default 1: plain xrdsim run)")
    ap.add_argument("--daily-amplitude", type=float, default=0.0, help="the workload's daily cycle (default 0: flat load)")
    args = ap.parse_args()
    shards = args.shards
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        amp = args.daily_amplitude
        pairs = [(label, run(args.sites, args.short, args.jobs_per_hour, Path(tmp), k, amp), run(args.sites, args.long, args.jobs_per_hour, Path(tmp), k, amp))
                 for label, k in ((f"streamed, {shards} shard(s)", shards), ("every row held", 0))]
        wall = time.perf_counter() - t
    for label, short, long in pairs:
        for hours, r in ((args.short, short), (args.long, long)):
            print(f"{label}: {args.sites} sites, {hours:g} h: {r['transfers']:,} transfers, {r['cpu_s']:.1f} CPU s, peak RSS {r['rss_mib']:.0f} MiB")
        ratio = long["rss_mib"] / short["rss_mib"]
        per = (long["rss_mib"] - short["rss_mib"]) * 1024 / max(long["transfers"] - short["transfers"], 1)
        print(f"{label}: peak RSS {args.long:g} h / {args.short:g} h = {ratio:.2f}x (goal <= 1.2x): {per:.2f} KiB more per transfer")
    _, short, long = pairs[0]
    per = (long["rss_mib"] - short["rss_mib"]) * 1024 / max(long["transfers"] - short["transfers"], 1)
    site_day = long["cpu_s"] / (args.sites * args.long / 24)
    print(f"CPU per site-day (streamed): {site_day:.1f} s -> a month of 170 sites: {site_day * 170 * 30 / 3600:.1f} CPU hours "
          f"(its peak RSS would grow by ~{per * long['transfers'] / args.sites / (args.long / 24) * 170 * 30 / 2**20:.0f} GiB at this rate)")
    print(f"(daily amplitude {args.daily_amplitude:g}; bench wall time {wall:.0f} s)")


if __name__ == "__main__":
    main()
