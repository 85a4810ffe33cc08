"""``xrdsim replay``: send a capture's monitoring datagrams to a UDP endpoint with their original
timing scaled (``replay.replay``), or print the plan (``--dry-run``); reports the timing error."""

from __future__ import annotations

import argparse
import math
import sys
from typing import TextIO

from xrdsim.errors import UserError

EPILOG = """examples:
  xrdsim replay mon.pcap --to 127.0.0.1:9930                 original timing
  xrdsim replay mon.pcap --to collector.example.org:9930 --speed 60 --loop 3
  xrdsim replay mon.pcap --to [::1]:9930 --rate 5000 --port 9930
  xrdsim replay mon.pcap --dry-run | head
"""


class ReplayArgumentError(UserError):
    """A bad ``xrdsim replay`` argument."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``replay``."""
    p = sub.add_parser(
        "replay",
        help="send a capture's monitoring datagrams to a collector, timing kept",
        description="Send the UDP datagrams of a pcap/pcapng capture to HOST:PORT, keeping their inter-arrival "
        "times divided by --speed (or at a fixed --rate), and report what was sent and how late.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("capture", metavar="FILE", help="pcap or pcapng capture")
    p.add_argument("--to", metavar="HOST:PORT", help="UDP destination (required unless --dry-run)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, metavar="X", help="time scale: X times faster (0 = as fast as possible)")
    pace.add_argument("--rate", type=float, metavar="PPS", help="fixed rate in datagrams per second instead")
    p.add_argument("--loop", type=int, default=1, metavar="N", help="send the capture N times (default 1)")
    p.add_argument("--port", type=int, action="append", metavar="P", help="only datagrams to this UDP port (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="print time offset, source, destination, size and code of each send")
    p.set_defaults(handler=run)


def _target(text: str | None, dry_run: bool) -> tuple[str, int] | None:
    from collector.sources import split_hostport

    if text is None:
        if dry_run:
            return None
        raise ReplayArgumentError("--to HOST:PORT is required (or use --dry-run)")
    try:
        return split_hostport(text)
    except ValueError:
        raise ReplayArgumentError(f"--to {text!r}: expected HOST:PORT") from None


def _pacing(args: argparse.Namespace) -> dict:
    speed = math.inf if args.speed == 0 else args.speed
    if not speed > 0 or args.loop < 1 or (args.rate is not None and not 0 < args.rate < math.inf):
        raise ReplayArgumentError(f"need --speed ≥ 0, --rate > 0 and --loop ≥ 1 (got {args.speed}, {args.rate}, {args.loop})")
    return {"speed": speed, "rate_pps": args.rate, "loop": args.loop}


def _where(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def print_plan(plan, target: tuple[str, int] | None, out: TextIO) -> int:
    """One line per planned send: offset in s, source, destination, payload size, code char."""
    n = size = 0
    for item in plan:
        d = item.datagram
        code = chr(d.payload[0]) if d.payload and 32 <= d.payload[0] < 127 else "?"
        print(f"{item.at_s:12.6f}  {_where(d.src):>24} -> {_where(target or d.dst):<24} {len(d.payload):>6} B  {code}", file=out)
        n, size = n + 1, size + len(d.payload)
    print(f"would send {n:,} datagrams, {size:,} bytes", file=out)
    return 0


def run(args: argparse.Namespace) -> int:
    """Send (or plan) the replay; print the report; exit 0."""
    from replay import dry_run, read_datagrams, replay

    target = _target(args.to, args.dry_run)
    pacing = _pacing(args)
    datagrams = read_datagrams(args.capture, ports=set(args.port) if args.port else None)
    if args.dry_run:
        return print_plan(dry_run(datagrams, **pacing), target, sys.stdout)
    try:
        rep = replay(datagrams, target, **pacing)
    except OSError as exc:
        raise ReplayArgumentError(f"--to {args.to}: {exc.strerror or exc}") from None
    ms = 1000.0
    print(f"sent {rep.sent:,} datagrams ({rep.bytes_sent:,} bytes) from {rep.senders} socket(s) to {_where(target)} in {rep.wall_s:.3f} s "
          f"({rep.rate_pps:,.0f}/s); send errors {rep.send_errors}; lateness mean {rep.lateness_mean_s * ms:.3f} ms, "
          f"p99 {rep.lateness_p99_s * ms:.3f} ms, max {rep.lateness_max_s * ms:.3f} ms")  # fmt: skip
    return 0
