"""``xrdsim fidelity``: a scenario's scripted sessions on a real local XRootD and in the
simulator, compared property by property; exit 1 on a structural difference."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``fidelity``."""
    p = sub.add_parser(
        "fidelity",
        help="compare the simulator with a real local XRootD on a scenario's scripted sessions",
        description="Start a real xrootd (on loopback, as user xrootd when run as root) with the scenario's "
        "xrootd.monitor and xrd.report configuration, play its workload.sessions with real clients (XRootD "
        "Python bindings, curl), listen to its monitoring, simulate the same sessions and print the "
        "differences property by property (pids, ports, hosts, server ids and timer phases normalised). "
        "Exit 1 when a structural property differs.",
        epilog="examples:\n  xrdsim fidelity scenarios/fidelity-5.5.3.yaml\n"
        "  xrdsim fidelity scenarios/fidelity-5.5.3.yaml --json report.json --capture real.jsonl\n"
        "  xrdsim fidelity other-settings.yaml --real real.jsonl     # the same real bytes, no server",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", metavar="SCENARIO.yaml", help="scenario with workload.sessions")
    p.add_argument("--json", metavar="FILE", help="also write every row as JSON")
    p.add_argument("--capture", metavar="FILE", help="also write the real server's datagrams (JSON lines)")
    p.add_argument("--real", metavar="FILE", help="compare with a capture --capture wrote instead of starting a server "
                   "(the same sessions: another simulator setting against the same real bytes)")
    p.add_argument("--width", type=int, default=60, help="characters of a value shown in the table (default 60)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the check and print its table; 1 when a structural property differs."""
    from xrdsim.fidelity import read_capture, render_differences, render_table, run_fidelity, write_capture
    from xrdsim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    real = read_capture(args.real) if args.real else None
    result = run_fidelity(scenario.sim, scenario.seed, real)
    print(render_table(result.rows, args.width))
    bad = result.structural_differences
    if args.capture:
        write_capture(args.capture, result.real, result.span_s)
    if args.json:
        rows = [{"property": r.name, "real": repr(r.real), "sim": repr(r.sim), "structural": r.structural, "same": r.same}
                for r in result.rows]
        Path(args.json).write_text(json.dumps({"version": result.version, "rows": rows}, indent=1))
    if bad:
        print(f"\n{len(bad)} structural difference(s) against XRootD {result.version}:\n{render_differences(result.rows)}")
        return 1
    print(f"\nno structural difference against XRootD {result.version} ({len(result.rows)} properties)")
    return 0
