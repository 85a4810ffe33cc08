"""Sources: shoveler JSON lines (spec §9.4), live UDP on IPv4 and IPv6 through ``run_live``
(shutdown flushes open files), and the /proc/net/udp drop reader."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket

import pytest

from collector import Collector, Ended, TransferRecord
from collector.run import run_live, run_offline
from collector.sinks import MemorySink
from collector.sources import ShovelerSource, UdpSource, parse_shoveler, proc_udp_drops, split_hostport
from xrdsim.wire import FileClose, FileOpen


def message(payload: bytes, remote: str, **extra) -> str:
    return json.dumps({"remote": remote, "version": "1.4.0", "data": base64.b64encode(payload).decode(), **extra})


@pytest.mark.parametrize(
    ("remote", "want"),
    [
        ("192.0.2.1:9930", ("192.0.2.1", 9930)),
        ("[2001:db8::1]:51729", ("2001:db8::1", 51729)),
        ("2603:400a:ffff:804:801e:34:0:1b1:51729", ("2603:400a:ffff:804:801e:34:0:1b1", 51729)),
    ],
)
def test_sources_shoveler_remote_forms(remote, want):
    payload, src, t = parse_shoveler(message(b"\x01\x02", remote))
    assert (payload, src, t) == (b"\x01\x02", want, None)


def test_sources_split_hostport_rejects_missing_port():
    with pytest.raises(ValueError):
        split_hostport("192.0.2.1")
    with pytest.raises(ValueError):
        split_hostport("[::1]:70000")


def test_sources_shoveler_stream_feeds_collector_and_counts_bad_lines(emitter, collector):
    em = emitter()
    lines = [
        message(em.f([FileOpen(1, 0, False, 0, "/shov")]), f"{em.ip}:{em.port}", t=10.0),
        "not json\n",
        json.dumps({"remote": "x:1", "data": "@@@"}),
        "",
        message(em.f([FileClose(1, 5, 0, 0)]), f"{em.ip}:{em.port}", t=11.0),
    ]
    source = ShovelerSource(io.StringIO("\n".join(lines)))
    sink = MemorySink()
    report = run_offline(source, collector, sink, strict=True)
    (rec,) = sink.records
    assert (rec.file_lfn, rec.read_bytes, rec.server_ip, rec.t_emitted) == ("/shov", 5, em.ip, 11.0)
    assert source.bad == 2 and report.datagrams == 2


def _ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_sources_udp_live_ipv4_and_ipv6_and_shutdown_flush(emitter):
    hosts = [("127.0.0.1", 0)] + ([("::1", 0)] if _ipv6_available() else [])
    source = UdpSource(hosts)
    addresses = source.addresses
    em = emitter()
    c, sink = Collector(), MemorySink()

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(run_live(c, source, sink, stop=stop, tick=0.05, strict=True))
        await asyncio.sleep(0.05)
        for host, port in addresses:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as tx:
                tx.sendto(em.ident(), (host, port))
                tx.sendto(em.f([FileOpen(len(host), 0, False, 0, f"/open-{family.name}")]), (host, port))
        for _ in range(100):
            if c.datagrams >= 2 * len(addresses):
                break
            await asyncio.sleep(0.02)
        stop.set()  # what SIGINT/SIGTERM do
        return await task

    report = asyncio.run(main())
    recs = [e for e in sink.events if type(e) is TransferRecord]
    assert sorted(r.file_lfn for r in recs) == sorted(f"/open-{'AF_INET6' if ':' in h else 'AF_INET'}" for h, _ in addresses)
    assert {r.ended for r in recs} == {Ended.COLLECTOR_SHUTDOWN}
    assert report.datagrams == 2 * len(addresses)
    assert report.io["rcvbuf_requested"] == 16 << 20 and report.io["rcvbuf_granted"] > 0
    assert report.io["kernel_drops"] == 0 and report.io["internal_errors"] == 0


def test_sources_proc_udp_drops_of_no_socket_is_zero():
    assert proc_udp_drops({-1}) == 0
