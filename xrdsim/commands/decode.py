"""``xrdsim decode``: what the monitoring datagrams of a capture say, as JSON or a summary."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from xrdsim.decoding import DecodeTally, Decoded, decode_all, tally
from xrdsim.wire.jsonview import to_plain


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``decode``."""
    p = sub.add_parser(
        "decode",
        help="decode the XRootD monitoring datagrams of a pcap/pcapng capture",
        description="Decode every XRootD monitoring datagram of a capture. Default: a readable "
        "summary per server; --json: one JSON line per datagram. Malformed datagrams are "
        "reported with their offset and counted, never fatal.",
    )
    p.add_argument("capture", metavar="FILE.pcap", help="pcap or pcapng capture with monitoring UDP")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="one JSON object per datagram")
    mode.add_argument("--summary", action="store_true", help="counts per code and per server (default)")
    p.add_argument("--port", type=int, action="append", metavar="PORT", help="only datagrams to this UDP port (repeatable)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Decode the capture and print JSON lines or the summary; exit 0."""
    from replay import read_datagrams

    results = decode_all(read_datagrams(args.capture, ports=set(args.port) if args.port else None))
    if args.json:
        for res in results:
            print(json.dumps(_as_json(res), separators=(",", ":")))
        return 0
    print_summary(tally(results), args.capture)
    return 0


def _as_json(res: Decoded) -> dict:
    ip, port = res.datagram.src
    out = {"t": res.datagram.t_arrival, "server": f"{ip}:{port}", "code": res.code}
    if res.error is not None:
        err = res.error
        out["error"] = {"kind": type(err).__name__, "reason": err.reason, "offset": err.offset, "path": err.path}
    else:
        out["packet"] = to_plain(res.packet)
    return out


def print_summary(result: DecodeTally, name: str, out: TextIO | None = None) -> None:
    """The readable summary: per server its site, codes, transfers and bytes; then errors."""
    out = out or sys.stdout
    print(f"{name}: {result.datagrams} datagrams, {len(result.malformed)} malformed", file=out)
    codes = " ".join(f"{c}={n}" for c, n in sorted(result.codes.items()))
    print(f"codes: {codes}", file=out)
    header = f"{'server':<24} {'site':<12} {'datagrams':>9} {'closes':>6} {'read B':>14} {'written B':>14}  codes"
    print(header, file=out)
    for s in sorted(result.servers.values(), key=lambda s: s.address):
        codes = " ".join(f"{c}={n}" for c, n in sorted(s.codes.items()))
        n = sum(s.codes.values())
        print(f"{s.address:<24} {s.site:<12} {n:>9} {s.closes:>6} {s.read_bytes:>14,} {s.write_bytes:>14,}  {codes}", file=out)
    for res in result.malformed[:20]:
        ip, port = res.datagram.src
        print(f"malformed from {ip}:{port}: {res.error}", file=out)
    if len(result.malformed) > 20:
        print(f"... and {len(result.malformed) - 20} more malformed", file=out)
