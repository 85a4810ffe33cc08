"""The metrics endpoint under abuse: half-open connections cost no thread, the oldest is
closed past the cap, a stalled one at its deadline, and a normal scrape still answers."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from collector.sinks.prometheus import MetricsServer


def scrape(server: MetricsServer, path: str = "/metrics") -> tuple[int, str]:
    host, port = server.address
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def value(text: str, name: str) -> float:
    return float(next(line.split()[1] for line in text.splitlines() if line.startswith(name + " ")))


def half_open(server: MetricsServer, n: int) -> list[socket.socket]:
    """``n`` connections that send the start of a request and never finish it."""
    out = []
    for _ in range(n):
        sock = socket.create_connection(server.address, timeout=5)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        out.append(sock)
    return out


@pytest.fixture
def server(request):
    kwargs = getattr(request, "param", {})
    srv = MetricsServer("127.0.0.1", 0, **kwargs)
    yield srv
    srv.close()


def test_prometheus_server_empty_host_binds_loopback_only():
    srv = MetricsServer("", 0)
    try:
        assert srv.address[0] == "127.0.0.1"
    finally:
        srv.close()


@pytest.mark.parametrize("server", [{"max_connections": 16, "timeout_s": 30.0}], indirect=True)
def test_prometheus_server_many_half_open_connections_hold_no_threads_and_a_scrape_answers(server):
    threads = threading.active_count()
    socks = half_open(server, 500)
    try:
        time.sleep(0.2)
        assert threading.active_count() == threads
        status, text = scrape(server)
        assert status == 200 and "process_cpu_seconds_total" in text
        assert value(text, "xrdsim_collector_http_dropped_connections_total") >= 500 - 16
        assert value(text, "xrdsim_collector_http_open_connections") <= 16
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.parametrize("server", [{"timeout_s": 0.3}], indirect=True)
def test_prometheus_server_closes_a_stalled_connection_at_its_deadline(server):
    (sock,) = half_open(server, 1)
    try:
        t0 = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server, nothing sent
        assert 0.2 < time.monotonic() - t0 < 3
    finally:
        sock.close()
    _status, text = scrape(server)
    assert value(text, "xrdsim_collector_http_timed_out_connections_total") == 1


def test_prometheus_server_statuses_for_paths_methods_and_oversized_requests(server):
    assert scrape(server, "/nope")[0] == 404
    assert scrape(server, "/metrics?x=1")[0] == 200
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 405 ")
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000)
        assert sock.recv(100).startswith(b"HTTP/1.1 431 ")
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(b"HEAD /metrics HTTP/1.1\r\n\r\n")
        head = b""
        while chunk := sock.recv(65536):
            head += chunk
    assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n") and b"Content-Length: 0" not in head
    _status, text = scrape(server)
    assert 'xrdsim_collector_http_requests_total{code="404"} 1' in text
    assert 'xrdsim_collector_http_requests_total{code="405"} 1' in text


def test_prometheus_server_serves_a_large_body_whole_to_a_slow_reader(server, collector):
    server.publish(collector.report())
    server.data.bytes.update({(f"SITE_{i:05d}", "cms", "read"): i for i in range(20000)})
    server.publish(collector.report())
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
        time.sleep(0.3)  # the server's sends fill both buffers and must resume later
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")))
    assert len(body) == length > 1_000_000
    assert b'site="SITE_19999",vo="cms",direction="read"} 19999\n' in body


def test_prometheus_server_close_stops_the_thread_and_frees_the_port():
    before = {t for t in threading.enumerate() if t.name == "metrics"}
    srv = MetricsServer("127.0.0.1", 0)
    socks = half_open(srv, 3)
    port = srv.address[1]
    srv.close()
    assert {t for t in threading.enumerate() if t.name == "metrics"} == before
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    for sock in socks:
        sock.close()
