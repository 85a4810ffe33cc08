"""The collector on a real RabbitMQ: shoveler messages in from a queue, transfer records out
to exchanges in the OSG raw and WLCG layouts, through a spool that loses nothing across a
broker outage or a SIGKILL."""

from __future__ import annotations

import json
import math
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from collector import Collector
from collector.formats import Layout
from collector.run import run_offline
from collector.sinks.amqp import AmqpSink, AmqpTarget
from collector.sources import pcap_datagrams
from collector.spool import Spool
from tests.bus.conftest import bind_queue, drain_queue, shoveler_lines
from xrdsim.cli import main


@pytest.fixture(scope="module")
def items(real_capture_path):
    return list(pcap_datagrams(str(real_capture_path)))


def expected(real_truth) -> list[tuple[str, int, int]]:
    """(path, read, write) of the capture's transfers (writes + 4 B CRC per 4 KiB page)."""
    out = []
    for row in real_truth:
        size = int(row["bytes"])
        out.append((row["path"], size, 0) if row["op"] == "read" else (row["path"], 0, size + 4 * math.ceil(size / 4096)))
    return sorted(out)


def test_records_reach_both_exchanges_in_their_layouts(broker, channel, names, items, real_truth, tmp_path):
    osg_x, wlcg_x = names("osg"), names("wlcg")
    q_osg, q_wlcg = bind_queue(channel, osg_x), bind_queue(channel, wlcg_x)
    sink = AmqpSink(AmqpTarget(broker, {Layout.OSG: osg_x, Layout.WLCG: wlcg_x}), Spool(tmp_path / "spool"))
    run_offline(items, Collector(), sink, strict=True)
    sink.close()
    osg, wlcg = drain_queue(channel, q_osg, 10), drain_queue(channel, q_wlcg, 10)
    assert sorted((m["filename"], m["read"] + m["readv"], m["write"]) for m in osg) == expected(real_truth)
    assert sorted((m["file_lfn"], m["read_bytes"], m["write_bytes"]) for m in wlcg) == expected(real_truth)
    assert {m["unique_id"] for m in osg} == {m["unique_id"] for m in wlcg} and len({m["unique_id"] for m in osg}) == 10
    assert all(m["start_time"] > 1e12 for m in osg) and all(m["start_time"] < 1e10 for m in wlcg)  # ms vs s
    assert (sink.spool.pending, sink.published) == (0, 20)


class Relay:
    """A TCP relay to the broker that can be cut (a broker outage as the collector sees it)."""

    def __init__(self, port: int = 5672) -> None:
        self.target = port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.up = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        self.up.clear()
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns.clear()


def test_records_wait_in_the_spool_through_a_broker_outage(broker, channel, names, items, tmp_path):
    exchange = names("outage")
    queue = bind_queue(channel, exchange)
    relay = Relay()
    url = broker.replace(":5672", f":{relay.port}")
    sink = AmqpSink(AmqpTarget(url, {Layout.FULL: exchange}), Spool(tmp_path / "spool"), retry_s=0.2)
    run_offline(items, Collector(), sink, strict=True)  # the broker is unreachable meanwhile
    time.sleep(0.5)
    assert (sink.spool.pending, sink.published) == (10, 0) and sink.reconnects >= 1
    relay.up.set()
    deadline = time.time() + 20
    while sink.spool.pending and time.time() < deadline:
        time.sleep(0.1)
    sink.close()
    got = drain_queue(channel, queue, 10)
    assert len(got) == 10 and len({m["record_id"] for m in got}) == 10 and sink.spool.pending == 0


def test_nothing_spooled_is_lost_across_sigkill_and_restart(broker, channel, names, items, real_truth, tmp_path):
    """A collector that cannot reach its broker is killed with SIGKILL after spooling its
    records; a new one on the same spool publishes every one of them."""
    exchange = names("kill")
    queue = bind_queue(channel, exchange)
    spool = tmp_path / "spool"
    lines = shoveler_lines(items)
    dead = "amqp://guest:guest@127.0.0.1:1/%2F"
    cmd = [sys.executable, "-m", "xrdsim", "collect", "--shoveler", "-", "--spool", str(spool), "--exchange", f"full={exchange}",
           "--exchange", "osg=", "--exchange", "wlcg="]  # fmt: skip
    proc = subprocess.Popen([*cmd, "--amqp-out", dead], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc.stdin.write("\n".join(lines) + "\n")
    proc.stdin.flush()
    deadline = time.time() + 20
    while time.time() < deadline and sum(p.stat().st_size for p in spool.glob("*.seg")) == 0:
        time.sleep(0.05)
    time.sleep(0.5)  # the records of the last datagrams too
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert Spool(spool).pending == 10  # the capture's ten CLOSEs, spooled before the kill
    restart = subprocess.run([*cmd, "--amqp-out", broker], input="", capture_output=True, text=True, timeout=60)
    assert restart.returncode == 0, restart.stderr
    got = drain_queue(channel, queue, 10)
    assert sorted((m["file_lfn"], m["read_bytes"], m["write_bytes"]) for m in got) == expected(real_truth)
    assert Spool(spool).pending == 0


def test_shoveler_messages_from_a_queue_make_the_records(broker, channel, names, items, real_truth, tmp_path):
    queue = names("push")
    channel.queue_declare(queue, durable=True)
    for k, line in enumerate(shoveler_lines(items)):
        msg = json.loads(line)
        ip, _, port = msg["remote"].rpartition(":")
        # an IPv6 sender, with and without brackets (the shoveler's Go and Python forms)
        msg["remote"] = f"[::ffff:{ip}]:{port}" if k % 2 else f"::ffff:{ip}:{port}"
        channel.basic_publish("", queue, json.dumps(msg).encode())
    channel.basic_publish("", queue, b"not a shoveler message")
    out, report = tmp_path / "records.jsonl", tmp_path / "report.json"
    status = main(["collect", "--amqp", broker, "--queue", queue, "--out", str(out), "--duration", "3", "--report", str(report)])
    assert status == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    got = sorted((r["file_lfn"], r["read_bytes"], r["write_bytes"]) for r in recs if r["kind"] == "transfer")
    assert got == expected(real_truth)
    io = json.loads(report.read_text())["io"]
    assert (io["amqp_received"], io["amqp_bad_messages"]) == (len(items) + 1, 1)
    assert channel.queue_declare(queue, passive=True).method.message_count == 0  # every message acknowledged


def test_records_spooled_under_another_configuration_still_reach_their_exchange(broker, channel, names, items, tmp_path):
    old, new = names("old"), names("new")
    spool = tmp_path / "spool"
    first = AmqpSink(AmqpTarget("amqp://guest:guest@127.0.0.1:1/%2F", {Layout.FULL: old}), Spool(spool), drain_s=0)
    run_offline(items, Collector(), first, strict=True)
    first.close()
    channel.exchange_declare(exchange=old, exchange_type="fanout", durable=True)
    queue = bind_queue(channel, old)
    second = AmqpSink(AmqpTarget(broker, {Layout.FULL: new}), Spool(spool))
    second.close()
    assert len(drain_queue(channel, queue, 10)) == 10 and second.spool.pending == 0


def test_xrdsim_run_scores_an_external_collector_from_its_exchange(broker, names, tmp_path):
    """Our collector as an external one that publishes the OSG raw layout to an exchange:
    scored from the bus with the osg preset, every transfer recalled with its bytes."""
    exchange = names("run")
    spool = tmp_path / "spool"
    command = (f"{sys.executable} -m xrdsim collect --listen {{host}}:{{port}} --amqp-out {broker} --spool {spool} "
               f"--exchange osg={exchange} --exchange wlcg=")  # fmt: skip
    scenario = tmp_path / "bus.yaml"
    scenario.write_text(
        "name: bus\nduration: 5m\nsites: {generate: {count: 1, servers: 1}}\n"
        f"collector: {{mode: external, format: osg, records_exchange: {exchange}, startup_s: 2, command: {json.dumps(command)}}}\n"
        "expect: {transfer_recall: '>= 0.99', byte_recall: '>= 0.99', byte_precision: '>= 0.99'}\n"
    )
    assert main(["run", str(scenario), "-o", str(tmp_path / "out")]) == 0
    metrics = {m["name"]: m["value"] for m in json.loads((tmp_path / "out" / "score.json").read_text())["metrics"]}
    assert metrics["transfer_recall"] >= 0.99 and metrics["byte_recall"] >= 0.99
