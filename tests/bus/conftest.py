"""A real RabbitMQ for the message-bus tests: the one running on 127.0.0.1:5672 (``.ci/run``
starts it), else Debian's ``rabbitmq-server`` started here once for all xdist workers (a
file lock) and left running. Skips only when there is no broker and no binary."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest

HOST, PORT = "127.0.0.1", 5672
URL = f"amqp://guest:guest@{HOST}:{PORT}/%2F"


def _listening(port: int = PORT) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def _amqp_ready() -> bool:
    import pika

    try:
        pika.BlockingConnection(pika.URLParameters(URL + "?connection_attempts=1&socket_timeout=2")).close()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def broker() -> str:
    """The AMQP URL of a running RabbitMQ."""
    pytest.importorskip("pika")
    if not _listening():
        if not shutil.which("rabbitmq-server"):
            pytest.skip("no RabbitMQ on 127.0.0.1:5672 and Debian's rabbitmq-server is not installed")
        with open("/tmp/xrdsim-rabbitmq.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _listening():
                env = dict(os.environ, RABBITMQ_NODE_IP_ADDRESS=HOST)
                subprocess.Popen(["rabbitmq-server"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            deadline = time.time() + 90
            while time.time() < deadline and not _amqp_ready():
                time.sleep(0.5)
    if not _amqp_ready():
        pytest.fail("RabbitMQ did not come up on 127.0.0.1:5672")
    return URL


@pytest.fixture
def channel(broker):
    """A channel on the broker, closed after the test."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(broker))
    yield conn.channel()
    conn.close()


@pytest.fixture
def names():
    """Unique exchange/queue names for one test (the broker is shared)."""
    tag = uuid.uuid4().hex[:8]
    return lambda what: f"xrdsim-test.{what}.{tag}"


def bind_queue(ch, exchange: str) -> str:
    """A fresh queue bound to the fanout ``exchange`` (declared here)."""
    ch.exchange_declare(exchange=exchange, exchange_type="fanout", durable=True)
    q = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(q, exchange)
    return q


def drain_queue(ch, queue: str, want: int, seconds: float = 20.0) -> list[dict]:
    """Messages of ``queue`` until ``want`` arrived or ``seconds`` passed (each acked)."""
    out: list[dict] = []
    deadline = time.time() + seconds
    while len(out) < want and time.time() < deadline:
        method, _props, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.1)
            continue
        out.append(json.loads(body))
    return out


def shoveler_lines(items) -> list[str]:
    """Shoveler JSON messages of (payload, (ip, port), t) items."""
    lines = []
    for payload, (ip, port), _t in items:
        remote = f"{ip}:{port}"
        lines.append(json.dumps({"remote": remote, "version": "1.0", "data": base64.b64encode(payload).decode()}))
    return lines
