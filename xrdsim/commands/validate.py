"""``xrdsim validate``: is a site's monitoring complete and right? A capture's XRootD monitoring
through the reference collector, against the TCP payload of the data ports or interface counters;
writes the scenario-run reports and exits 0 when every server and direction agrees."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from xrdsim.errors import UserError

EPILOG = """examples:
  tcpdump -i any -s 0 -w mon.pcap 'udp port 9930 or tcp port 1094'    (on the server, for an hour)
  xrdsim validate mon.pcap                          data ports from the idents, HTTP ports learned
  xrdsim validate mon.pcap --data-port 1094 --data-port 8443      xroot and XrdHttp ports given
  xrdsim validate mon.pcap --data-port 1094 --bin 300 -o reports/site-a
  xrdsim validate mon.pcap --tcp headers.pcap       TCP from a second (e.g. -s 128) capture
  xrdsim validate mon.pcap --counters node.prom --interface eth0
exit status: 0 monitoring agrees within the tolerance, 1 it does not, 2 a bad file or argument
"""


class ValidateArgumentError(UserError):
    """A bad ``xrdsim validate`` argument."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``validate``."""
    p = sub.add_parser(
        "validate",
        help="check a site's capture: monitored bytes against the network, configuration findings",
        description="Decode and reassemble the XRootD monitoring in CAPTURE with the reference collector, compare "
        "each server's monitored bytes per protocol (in: Σ write_bytes, out: Σ read_bytes) with the TCP payload of "
        "its data ports in the capture (or with interface counters), list configuration findings, and write score.json, "
        "junit.xml, report.md and report.html with plots.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("capture", metavar="CAPTURE", help="pcap/pcapng capture with the monitoring UDP (full datagrams)")
    net = p.add_mutually_exclusive_group()
    net.add_argument("--counters", metavar="FILE", help="network side from interface counters: CSV or Prometheus text")
    net.add_argument("--tcp", metavar="FILE", help="network side from the data-port TCP of another capture")
    p.add_argument("--data-port", type=int, action="append", metavar="P",
                   help="data port of any protocol, xroot or HTTP (repeatable; default: the idents' xroot ports and the "
                        "HTTP ports learned from the records' protocol and their clients' TCP connections)")
    p.add_argument("--port", type=int, action="append", metavar="P", help="only UDP datagrams to this monitoring port (repeatable)")
    p.add_argument("-o", "--out", metavar="DIR", help="report directory (default: reports/validate-NAME)")
    p.add_argument("--bin", type=float, default=60.0, metavar="S", help="time bin width in seconds (default 60)")
    p.add_argument("--tolerance", default="0.5%", metavar="T", help="allowed |1 - monitored/network| (default 0.5%%)")
    p.add_argument("--allowance", default="1KiB", metavar="B",
                   help="bytes allowed per request (transfer) on top of the tolerance, for the protocol's requests and replies "
                        "(login, open, close, HTTP headers; default 1KiB)")
    p.add_argument("--interface", action="append", metavar="IF", help="with --counters: interfaces to sum (default: all but lo)")
    p.add_argument("--header-bytes", type=int, default=66, metavar="N",
                   help="with --counters: header bytes per TCP segment in the counters (66 = Ethernet+IP+TCP, 52 = IP+TCP)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.set_defaults(handler=run)


def options_from(args: argparse.Namespace):  # -> ValidateOptions
    """The library options of the command line; ValidateArgumentError for bad values."""
    from xrdsim.netmodel import with_header_bytes
    from xrdsim.units import parse_number, parse_size
    from xrdsim.validation import ValidateOptions

    try:
        tolerance = parse_number(args.tolerance)
    except ValueError:
        raise ValidateArgumentError(f"--tolerance {args.tolerance!r}: expected a fraction like 0.005 or 0.5%") from None
    if not 0 <= tolerance < 1:
        raise ValidateArgumentError(f"--tolerance {args.tolerance}: must be in [0, 100%)")
    if not (args.bin > 0 and math.isfinite(args.bin)):
        raise ValidateArgumentError(f"--bin {args.bin}: must be a positive number of seconds")
    if not 40 <= args.header_bytes <= 116:
        raise ValidateArgumentError(f"--header-bytes {args.header_bytes}: must be in 40..116 (IP + TCP, plus the link header the counters count)")
    for port in args.data_port or ():
        if not 0 < port < 65536:
            raise ValidateArgumentError(f"--data-port {port}: must be a TCP port in 1..65535")
    try:
        allowance = parse_size(args.allowance)
    except ValueError:
        raise ValidateArgumentError(f"--allowance {args.allowance!r}: expected bytes like 1024, 1KiB or 2kB") from None
    if allowance < 0:
        raise ValidateArgumentError(f"--allowance {args.allowance}: must not be negative")
    return ValidateOptions(data_ports=tuple(args.data_port or ()), counters=args.counters, tcp_capture=args.tcp,
                           monitor_ports=tuple(args.port or ()), bin_s=args.bin, tolerance=tolerance, allowance=float(allowance),
                           interfaces=tuple(args.interface or ()), overhead=with_header_bytes(args.header_bytes))  # fmt: skip


def summary_lines(v) -> list[str]:
    """What the terminal shows: one line per server and direction, findings, the verdict."""
    from xrdsim.report.document import fmt

    judged = {x.name: x for x in v.verdicts}
    lines = [f"{v.name}: {len(v.records):,} transfers from {v.report.datagrams:,} monitoring datagrams; network: {v.method}"]
    for c in v.comparisons:
        x = judged.get(c.name)
        mark = "    " if x is None else ("PASS" if x.passed else "FAIL")
        eof = f"  ({fmt(c.past_eof_bytes, 'B')} past EOF left out: {fmt(c.judged_ratio)})" if c.past_eof_bytes else ""
        lines.append(f"  {mark}  {c.subject:<28} {c.protocol:<5} {c.direction.value:<3}  monitored {fmt(c.monitored_bytes, 'B'):>18}  "
                     f"network {fmt(round(c.network_bytes), 'B'):>18}  ratio {fmt(c.ratio)}{eof}")  # fmt: skip
    for f in v.findings:
        lines.append(f"  {f.severity.value}: {f.subject}: {f.detail}")
    verdict = "monitoring agrees" if v.passed else f"{len(v.failures)} of {len(v.verdicts)} directions disagree"
    allowance = f" + {v.options.allowance:,.0f} B per request"
    lines.append(f"{v.name}: {verdict} (tolerance {v.options.tolerance:.3%}{allowance})" + (f"; report in {v.out_dir}" if v.out_dir else ""))
    return lines


def run(args: argparse.Namespace) -> int:
    """Validate, write the reports, print the summary; 0 when every direction agrees, else 1."""
    from xrdsim.validation import validate, write_reports

    options = options_from(args)
    v = validate(args.capture, options)
    write_reports(v, args.out or Path("reports") / f"validate-{v.name}", plots=not args.no_plots)
    print("\n".join(summary_lines(v)))
    return 0 if v.passed else 1
