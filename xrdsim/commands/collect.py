"""``xrdsim collect``: run the reference collector live on UDP, or offline on a capture or on
shoveler JSON lines, writing records to JSONL or Parquet and printing a one-screen summary."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from pathlib import Path

from xrdsim.errors import UserError

EPILOG = """examples:
  xrdsim collect --listen 0.0.0.0:9930 --listen [::]:9931 --out records.jsonl --metrics 127.0.0.1:9100
  xrdsim collect --pcap monitoring.pcap --out records.parquet
  shoveler-consumer | xrdsim collect --shoveler - --out records.jsonl
  xrdsim collect --amqp amqp://guest:guest@broker/ --queue xrd.push \
      --amqp-out amqp://guest:guest@broker/ --spool /var/spool/xrdsim --state /var/lib/xrdsim/state

With --amqp-out, records go to the exchanges through the on-disk --spool (published with
broker confirms; what is not confirmed survives an outage, a kill and a restart). With
--state, a clean stop saves the open transfers instead of emitting them, and the next start
resumes them.
"""


class CollectArgumentError(UserError):
    """A bad ``xrdsim collect`` argument (address, file, format)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``collect``."""
    p = sub.add_parser(
        "collect",
        help="run the reference collector (live UDP, pcap or shoveler JSON)",
        description="Rebuild transfers from XRootD monitoring with loss, duplicate and reorder accounting. "
        "Live mode stops on SIGINT/SIGTERM (or --duration) after reading what is queued in its sockets and "
        "emitting every open record as ended=collector_shutdown (with --state: saving them instead).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--listen", action="append", metavar="HOST:PORT", help="UDP address to listen on (repeatable; [v6]:port)")
    src.add_argument("--pcap", metavar="FILE", help="pcap/pcapng capture to read")
    src.add_argument("--shoveler", metavar="FILE", help="shoveler JSON lines file, - for stdin")
    src.add_argument("--amqp", metavar="URL", help="consume shoveler messages from an AMQP queue (see --queue)")
    p.add_argument("--queue", default="xrd.push", metavar="NAME", help="with --amqp: the queue (default xrd.push)")
    p.add_argument("--out", metavar="FILE", help="where records go (- for stdout, JSONL only); needed unless --amqp-out")
    p.add_argument("--amqp-out", metavar="URL", help="publish transfer records to AMQP exchanges (needs --spool)")
    p.add_argument("--exchange", action="append", metavar="LAYOUT=NAME",
                   help="with --amqp-out: exchange of a layout (osg, wlcg, full; repeatable; "
                        "default osg=xrd.detailed wlcg=xrd.wlcg_format; NAME empty: not published)")
    p.add_argument("--spool", metavar="DIR", help="with --amqp-out: on-disk spool of records not yet confirmed")
    p.add_argument("--spool-max", default="1GiB", metavar="SIZE", help="bound of the spool (default 1GiB; oldest dropped, counted)")
    p.add_argument("--state", metavar="FILE", help="resume from FILE if present (a JSONL --out is then appended to); at a clean stop save the state there")
    p.add_argument("--format", choices=("jsonl", "parquet"), help="output format (default: from --out's suffix, else jsonl)")
    p.add_argument("--metrics", metavar="HOST:PORT",
                   help="serve Prometheus metrics at http://HOST:PORT/metrics (no HOST: 127.0.0.1 only; 0.0.0.0 or [::] to expose it)")
    p.add_argument("--port", type=int, action="append", metavar="PORT", help="with --pcap: only datagrams to this UDP port")
    p.add_argument("--report", metavar="FILE", help="also write the final report as JSON")
    p.add_argument("--duration", type=float, metavar="S", help="live: stop after S seconds")
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="live: N collector processes on the --listen ports (SO_REUSEPORT; each sender socket goes to one), "
                        "one merged output and report (default 1)")
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
        if not math.isfinite(value) or value < 0 or (key == "reorder_count" and not 0 < value < 128):
            raise CollectArgumentError(f"--{key.replace('_', '-')}: {value} out of range")
    return CollectorConfig(**given)


def _address(text: str, flag: str) -> tuple[str, int]:
    from collector.sources import split_hostport

    try:
        return split_hostport(text)
    except ValueError:
        raise CollectArgumentError(f"{flag} {text!r}: expected HOST:PORT") from None


def _format(args: argparse.Namespace) -> str:
    return args.format or ("parquet" if args.out.endswith(".parquet") else "jsonl")


def _sink(args: argparse.Namespace):
    from collector.sinks import JsonlSink, ParquetSink

    fmt = _format(args)
    if fmt == "parquet" and args.out == "-":
        raise CollectArgumentError("--out -: Parquet needs a file")
    if args.out != "-" and not Path(args.out).resolve().parent.is_dir():
        raise CollectArgumentError(f"--out {args.out}: directory does not exist")
    if fmt == "parquet":
        return ParquetSink(args.out)
    return JsonlSink(args.out, append=bool(args.state and Path(args.state).exists()))  # a resumed run goes on with its file


def run(args: argparse.Namespace) -> int:
    """Collect from the chosen source into ``--out`` and/or AMQP; print the summary; exit 0."""
    from collector.run import Fanout, SinkFailure

    config = _config(args)
    _check_inputs(args)
    workers = _workers(args, config) if args.processes > 1 else None  # forked before any output is open
    sink = bus = metrics = None
    try:
        collector = _resume(args, config) if workers is None else None
        source = _udp(args) if args.listen and workers is None else None
        metrics = _metrics(args.metrics, collector) if args.metrics else None
        sink = _sink(args) if args.out else None
        bus = _amqp_sink(args) if args.amqp_out else None
        if workers is not None:
            out = sink if workers.plan.jsonl else Fanout(sink, bus, metrics)  # the workers render the lines
            report = workers.run(out, metrics.publish if metrics is not None else None, args.duration)
        else:
            report = _collect(args, collector, Fanout(sink, bus, metrics), source, metrics)
    except SinkFailure as exc:
        _close_all(sink, bus, metrics)
        if workers is not None:
            workers.abort()
        raise CollectArgumentError(f"{args.out or args.spool}: cannot write records: {exc.strerror}; stopped") from None
    except BaseException:
        _close_all(sink, bus, metrics)
        if workers is not None:
            workers.abort()
        raise
    failed = _close_all(sink, bus, metrics)
    if failed:
        raise CollectArgumentError(f"{args.out}: cannot write records: {failed}")
    for part in (bus, sink):
        if hasattr(part, "io"):
            report.io.update(part.io())
    if args.state:
        _save_state(args.state, collector)
    out = sys.stderr if args.out == "-" else sys.stdout
    print(report.format_text(), file=out)
    if args.report:
        Path(args.report).write_text(json.dumps(report.to_dict(), indent=1, default=str))
    return 0


def _close_all(*parts) -> str:
    """Close every output; the first write error of a close, as text ("" when none)."""
    failed = ""
    for part in parts:
        if part is None:
            continue
        try:
            part.close()
        except OSError as exc:
            failed = failed or (exc.strerror or str(exc))
    return failed


def _check_inputs(args: argparse.Namespace) -> None:
    for flag, path in (("--pcap", args.pcap), ("--shoveler", args.shoveler)):
        if path and path != "-" and not Path(path).is_file():
            raise CollectArgumentError(f"{flag} {path}: no such file")
    if not args.out and not args.amqp_out:
        raise CollectArgumentError("--out FILE or --amqp-out URL: records need somewhere to go")
    for flag, path in (("--pcap", args.pcap), ("--shoveler", args.shoveler), ("--state", args.state)):
        if path and args.out and args.out != "-" and path != "-" and Path(path).resolve() == Path(args.out).resolve():
            raise CollectArgumentError(f"--out {args.out}: is also {flag}: it would be overwritten")
    if args.out and args.out != "-" and Path(args.out).is_dir():
        raise CollectArgumentError(f"--out {args.out}: is a directory")
    if args.amqp_out and not args.spool:
        raise CollectArgumentError("--amqp-out: needs --spool DIR (records wait there until the broker confirms them)")
    if args.processes < 1:
        raise CollectArgumentError(f"--processes {args.processes}: at least 1")
    if args.processes > 1 and not args.listen:
        raise CollectArgumentError("--processes: only with --listen (a capture or a queue is read in order by one collector)")
    if args.processes > 1 and args.state:
        raise CollectArgumentError("--processes with --state: the kernel may hash a sender to another process after a restart; use one process")


def _resume(args: argparse.Namespace, config):  # -> Collector
    from collector import Collector

    if not args.state or not Path(args.state).exists():
        return Collector(config)
    from collector.checkpoint import CheckpointError, load

    try:
        collector = load(args.state)
    except CheckpointError as exc:
        raise CollectArgumentError(f"--state {exc.strerror}") from None
    collector.config = collector.tables.cfg = config  # this run's policies over the saved state
    return collector


def _save_state(path: str, collector) -> None:
    from collector.checkpoint import CheckpointError, save

    try:
        save(collector, path)
    except CheckpointError as exc:
        raise CollectArgumentError(f"--state {exc.strerror}: the open transfers were not saved") from None


def _amqp_sink(args: argparse.Namespace):
    from collector.formats import Layout
    from collector.sinks.amqp import AmqpSink, AmqpTarget
    from collector.spool import Spool, SpoolError
    from xrdsim.units import parse_size

    exchanges = {Layout.OSG: "xrd.detailed", Layout.WLCG: "xrd.wlcg_format"}
    for item in args.exchange or ():
        layout, sep, name = item.partition("=")
        if not sep or layout not in {x.value for x in Layout}:
            raise CollectArgumentError(f"--exchange {item!r}: expected LAYOUT=NAME with LAYOUT osg, wlcg or full")
        exchanges[Layout(layout)] = name
    exchanges = {k: v for k, v in exchanges.items() if v}
    try:
        limit = parse_size(args.spool_max)
    except ValueError as exc:
        raise CollectArgumentError(f"--spool-max {args.spool_max!r}: {exc}") from None
    try:
        spool = Spool(args.spool, max_bytes=limit)
    except SpoolError as exc:
        raise CollectArgumentError(f"--spool {exc.strerror}") from None
    return AmqpSink(AmqpTarget(args.amqp_out, exchanges), spool)


def _metrics(text: str, collector):
    from collector.sinks import MetricsServer

    host, port = _address(text, "--metrics")
    try:
        return MetricsServer(host, port, collector)
    except OSError as exc:
        raise CollectArgumentError(f"--metrics {text}: {exc.strerror or exc}") from None


def _workers(args: argparse.Namespace, config):  # -> collector.workers.Workers
    from collector.workers import WorkerPlan, Workers, bind_group

    addresses = [_address(a, "--listen") for a in args.listen]
    try:
        group = bind_group(addresses, args.processes)
    except OSError as exc:
        raise CollectArgumentError(f"--listen {' '.join(args.listen)}: {exc.strerror or exc}") from None
    jsonl = bool(args.out) and _format(args) == "jsonl" and not args.amqp_out and not args.metrics
    return Workers(WorkerPlan(addresses, args.processes, config, jsonl=jsonl), group)


def _udp(args: argparse.Namespace):
    from collector.sources import UdpSource

    addresses = [_address(a, "--listen") for a in args.listen]
    try:
        return UdpSource(addresses)
    except OSError as exc:
        raise CollectArgumentError(f"--listen {' '.join(args.listen)}: {exc.strerror or exc}") from None


def _collect(args: argparse.Namespace, collector, sink, source, metrics):  # -> CollectorReport
    from collector.run import run_offline

    keep = bool(args.state)
    if source is not None:
        return asyncio.run(_live(args, collector, source, sink, metrics))
    if args.amqp:
        return _consume(args, collector, sink)
    if args.pcap:
        from collector.sources import pcap_datagrams

        return run_offline(pcap_datagrams(args.pcap, args.port), collector, sink, keep_open=keep)
    from collector.sources import open_shoveler

    shoveler = open_shoveler(args.shoveler)
    report = run_offline(shoveler, collector, sink, keep_open=keep)
    report.io["shoveler_bad_lines"] = shoveler.bad
    return report


async def _live(args: argparse.Namespace, collector, source, sink, metrics):  # -> CollectorReport
    from collector.run import run_live

    stop = asyncio.Event()
    if args.duration is not None:
        asyncio.get_running_loop().call_later(args.duration, stop.set)
    publish = metrics.publish if metrics is not None else None
    return await run_live(collector, source, sink, publish=publish, stop=stop, keep_open=bool(args.state))


def _consume(args: argparse.Namespace, collector, sink):  # -> CollectorReport
    import threading

    from collector.run import run_consumer
    from collector.sources.amqp import AmqpSource

    source = AmqpSource(args.amqp, args.queue)
    try:
        source.connect()
    except Exception as exc:  # pika's errors say little: name the URL's host
        raise CollectArgumentError(f"--amqp {_redact(args.amqp)}: cannot connect: {type(exc).__name__} {exc}".rstrip()) from None
    if args.duration is not None:
        threading.Timer(args.duration, source.stop).start()
    return run_consumer(source, collector, sink, keep_open=bool(args.state))


def _redact(url: str) -> str:
    """``url`` without its password."""
    scheme, sep, rest = url.partition("://")
    cred, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{cred.partition(':')[0]}:***@{host}" if at else url
