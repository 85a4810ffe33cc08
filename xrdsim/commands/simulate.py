"""``xrdsim simulate``: run a scenario, write datagrams.pcap and the truth Parquet tables."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

from xrdsim.datagram import Datagram
from xrdsim.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``simulate``."""
    p = sub.add_parser(
        "simulate",
        help="simulate XRootD sites: monitoring pcap + truth tables",
        description="Run the SimPy model of a scenario and write DIR/datagrams.pcap (the monitoring "
        "datagrams as the collector receives them, after path faults) and DIR/{transfers,datagrams,"
        "faults,counters}.parquet (the truth).",
        epilog="examples:\n  xrdsim simulate scenarios/quickstart.yaml -o out/\n"
        "  xrdsim simulate --sites 10 --hours 2 --seed 7 -o out/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", nargs="?", metavar="SCENARIO.yaml", help="scenario file (else the quick options)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--sites", type=int, help="quick option: number of generated sites")
    p.add_argument("--hours", type=float, help="quick option: simulated hours")
    p.add_argument("--seed", type=int, help="quick option: random seed")
    p.add_argument("--progress", action="store_true", help="progress line on stderr even when not a tty")
    p.set_defaults(handler=run)


def load_config(args: argparse.Namespace):
    """The SimConfig from the scenario file and/or the quick options."""
    from xrdsim.sim import SimConfig

    cfg = SimConfig()
    if args.scenario:
        try:
            from xrdsim.scenario import load_scenario
        except ImportError:
            raise UserError("scenario files need xrdsim.scenario, not installed yet; use --sites/--hours/--seed") from None
        cfg = load_scenario(args.scenario).sim
    quick = {"site_count": args.sites, "seed": args.seed,
             "duration_s": None if args.hours is None else args.hours * 3600.0}
    changes = {k: v for k, v in quick.items() if v is not None}
    if "site_count" in changes:
        changes["sites"] = []
    return dataclasses.replace(cfg, **changes)


class Progress:
    """One ``\\r`` line on stderr: simulated time, transfers, datagrams."""

    def __init__(self, sim, enabled: bool) -> None:
        self.sim, self.enabled, self.last = sim, enabled, 0.0

    def tick(self, n_datagrams: int, force: bool = False) -> None:
        """Redraw at most twice a second."""
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < 0.5):
            return
        self.last = now
        t, end = self.sim.now, self.sim.config.duration_s
        print(f"\rsimulated {_hms(t)} / {_hms(end)}  transfers {self.sim.truth.totals['transfers']:,}  "
              f"datagrams {n_datagrams:,}   ", end="", file=sys.stderr, flush=True)


def _hms(t: float) -> str:
    t = int(t)
    return f"{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}"


def _absolute(sim, progress: Progress, counts: Counter) -> Iterator[Datagram]:
    base = sim.config.start_time
    for i, d in enumerate(sim.delivered()):
        counts[chr(d.payload[0]) if d.payload else "?"] += 1
        if i % 1000 == 0:
            progress.tick(i)
        yield dataclasses.replace(d, t_send=d.t_send + base, t_arrival=None if d.t_arrival is None else d.t_arrival + base)


def run(args: argparse.Namespace) -> int:
    """Simulate, write the pcap and truth, print the summary."""
    from xrdsim.sim import simulate

    cfg = load_config(args)
    try:
        from replay import write_pcap
    except ImportError:
        raise UserError("writing datagrams.pcap needs replay.write_pcap, which is not installed") from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sim = simulate(cfg, stream_dir=out)
    progress = Progress(sim, args.progress or sys.stderr.isatty())
    counts: Counter = Counter()
    wall = time.monotonic()
    write_pcap(out / "datagrams.pcap", _absolute(sim, progress, counts), mtu=cfg.path.mtu)
    progress.tick(sum(counts.values()), force=True)
    if progress.enabled:
        print(file=sys.stderr)
    sim.truth.write(out)
    print_summary(sim, counts, time.monotonic() - wall, out)
    return 0


def print_summary(sim, counts: Counter, wall_s: float, out: Path) -> None:
    """The one-screen summary of a finished run."""
    cfg = sim.config
    print(f"simulated {_hms(cfg.duration_s)} of {len(sim.world.sites)} sites, {len(sim.servers)} servers, seed {cfg.seed} "
          f"in {wall_s:.1f} s wall ({cfg.duration_s / max(wall_s, 1e-9):,.0f}x)")
    kinds = " ".join(f"{k}={v:,}" for k, v in sorted(sim.stats.items()))
    print(f"transfers: {sim.truth.totals['transfers']:,} ({kinds})")
    sent, sent_bytes = sim.sent
    print(f"datagrams sent: {sent:,} ({sent_bytes:,} bytes); delivered by code: "
          + " ".join(f"{c}={n:,}" for c, n in sorted(counts.items())))
    if sim.paths:
        print("path fates: " + " ".join(f"{k}={v:,}" for k, v in sorted(sim.path_counts.items())))
    print(f"faults: {sim.truth.totals['faults']}  counter samples: {sim.truth.totals['counters']:,}")
    print(f"wrote {out / 'datagrams.pcap'} and {', '.join(t + '.parquet' for t in ('transfers', 'datagrams', 'faults', 'counters'))}")
