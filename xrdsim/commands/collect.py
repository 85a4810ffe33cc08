"""``xrdsim collect``: run the reference collector live on UDP, or offline on a capture or on
shoveler JSON lines, writing records to JSONL or Parquet and printing a one-screen summary."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from xrdsim.errors import UserError

EPILOG = """examples:
  xrdsim collect --listen 0.0.0.0:9930 --listen [::]:9931 --out records.jsonl --metrics 127.0.0.1:9100
  xrdsim collect --pcap monitoring.pcap --out records.parquet
  shoveler-consumer | xrdsim collect --shoveler - --out records.jsonl
"""


class CollectArgumentError(UserError):
    """A bad ``xrdsim collect`` argument (address, file, format)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``collect``."""
    p = sub.add_parser(
        "collect",
        help="run the reference collector (live UDP, pcap or shoveler JSON)",
        description="Rebuild transfers from XRootD monitoring with loss, duplicate and reorder accounting. "
        "Live mode stops on SIGINT/SIGTERM (or --duration) after emitting every open record "
        "as ended=collector_shutdown.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--listen", action="append", metavar="HOST:PORT", help="UDP address to listen on (repeatable; [v6]:port)")
    src.add_argument("--pcap", metavar="FILE", help="pcap/pcapng capture to read")
    src.add_argument("--shoveler", metavar="FILE", help="shoveler JSON lines file, - for stdin")
    p.add_argument("--out", required=True, metavar="FILE", help="where records go (- for stdout, JSONL only)")
    p.add_argument("--format", choices=("jsonl", "parquet"), help="output format (default: from --out's suffix, else jsonl)")
    p.add_argument("--metrics", metavar="HOST:PORT", help="serve Prometheus metrics at http://HOST:PORT/metrics")
    p.add_argument("--port", type=int, action="append", metavar="PORT", help="with --pcap: only datagrams to this UDP port")
    p.add_argument("--report", metavar="FILE", help="also write the final report as JSON")
    p.add_argument("--duration", type=float, metavar="S", help="live: stop after S seconds")
    p.add_argument("--open-ttl", type=float, metavar="S", help="emit files without news for S seconds (ended=timeout)")
    p.add_argument("--reorder-count", type=int, metavar="N", help="later datagrams before a pseq gap is lost")
    p.add_argument("--reorder-seconds", type=float, metavar="S", help="seconds before a pseq gap is lost")
    p.add_argument("--t-hold", type=float, metavar="S", help="wait S s for an f-stream before t-only records")
    p.add_argument("--max-open-files", type=int, metavar="N", help="bound of the open-file table")
    p.set_defaults(handler=run)


def _config(args: argparse.Namespace):  # -> CollectorConfig
    from collector import CollectorConfig

    names = {"open_ttl": args.open_ttl, "reorder_count": args.reorder_count, "reorder_seconds": args.reorder_seconds,
             "t_hold": args.t_hold, "max_open_files": args.max_open_files}  # fmt: skip
    given = {k: v for k, v in names.items() if v is not None}
    for key, value in given.items():
        if value < 0 or (key == "reorder_count" and not 0 < value < 128):
            raise CollectArgumentError(f"--{key.replace('_', '-')}: {value} out of range")
    return CollectorConfig(**given)


def _address(text: str, flag: str) -> tuple[str, int]:
    from collector.sources import split_hostport

    try:
        return split_hostport(text)
    except ValueError:
        raise CollectArgumentError(f"{flag} {text!r}: expected HOST:PORT") from None


def _sink(args: argparse.Namespace):
    from collector.sinks import JsonlSink, ParquetSink

    fmt = args.format or ("parquet" if args.out.endswith(".parquet") else "jsonl")
    if fmt == "parquet" and args.out == "-":
        raise CollectArgumentError("--out -: Parquet needs a file")
    if args.out != "-" and not Path(args.out).resolve().parent.is_dir():
        raise CollectArgumentError(f"--out {args.out}: directory does not exist")
    return ParquetSink(args.out) if fmt == "parquet" else JsonlSink(args.out)


def run(args: argparse.Namespace) -> int:
    """Collect from the chosen source into ``--out``; print the summary; exit 0."""
    from collector import Collector
    from collector.run import Fanout

    config = _config(args)
    _check_inputs(args)
    source = _udp(args) if args.listen else None
    metrics = _metrics(args.metrics) if args.metrics else None
    sink = _sink(args)
    try:
        report = _collect(args, Collector(config), Fanout(sink, metrics), source, metrics)
    finally:
        sink.close()
        if metrics is not None:
            metrics.close()
    out = sys.stderr if args.out == "-" else sys.stdout
    print(report.format_text(), file=out)
    if args.report:
        Path(args.report).write_text(json.dumps(report.to_dict(), indent=1, default=str))
    return 0


def _check_inputs(args: argparse.Namespace) -> None:
    for flag, path in (("--pcap", args.pcap), ("--shoveler", args.shoveler)):
        if path and path != "-" and not Path(path).is_file():
            raise CollectArgumentError(f"{flag} {path}: no such file")


def _metrics(text: str):
    from collector.sinks import MetricsServer

    host, port = _address(text, "--metrics")
    try:
        return MetricsServer(host, port)
    except OSError as exc:
        raise CollectArgumentError(f"--metrics {text}: {exc.strerror or exc}") from None


def _udp(args: argparse.Namespace):
    from collector.sources import UdpSource

    addresses = [_address(a, "--listen") for a in args.listen]
    try:
        return UdpSource(addresses)
    except OSError as exc:
        raise CollectArgumentError(f"--listen {' '.join(args.listen)}: {exc.strerror or exc}") from None


def _collect(args: argparse.Namespace, collector, sink, source, metrics):  # -> CollectorReport
    from collector.run import run_offline

    if source is not None:
        return asyncio.run(_live(args, collector, source, sink, metrics))
    if args.pcap:
        from collector.sources import pcap_datagrams

        return run_offline(pcap_datagrams(args.pcap, args.port), collector, sink)
    from collector.sources import open_shoveler

    shoveler = open_shoveler(args.shoveler)
    report = run_offline(shoveler, collector, sink)
    report.io["shoveler_bad_lines"] = shoveler.bad
    return report


async def _live(args: argparse.Namespace, collector, source, sink, metrics):  # -> CollectorReport
    from collector.run import run_live

    stop = asyncio.Event()
    if args.duration is not None:
        asyncio.get_running_loop().call_later(args.duration, stop.set)
    publish = metrics.publish if metrics is not None else None
    return await run_live(collector, source, sink, publish=publish, stop=stop)
