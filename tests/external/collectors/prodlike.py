"""A production-style external collector for the suite, shaped like the OSG Python collector:
UDP in, servers named by sender address, one JSON record per transfer in the OSG raw layout
(times in ms, ``serverID`` = "stod#ip#port", ``timestamp`` = wall-clock ms), the WLCG layout
for ``cms`` records, a line without ``kind`` for every TPC-like message it also sees, its
loss estimate as ``missing_packets{host}`` on a Prometheus endpoint. Decoding is borrowed
from the reference collector; only the outside is production-like.

    prodlike.py --listen HOST:PORT [--listen HOST:PORT] --out FILE|- --metrics PORT

Broken on demand: ``--crash-after N`` exits 1 after N datagrams, ``--flood-stderr MB``
writes that much to stderr while it runs, ``--ignore-term`` never stops at SIGTERM,
``--no-bind`` never listens.
"""

from __future__ import annotations

import argparse
import http.server
import json
import selectors
import signal
import socket
import sys
import threading
import time

from collector import Collector, TransferRecord
from collector.formats import osg_raw, wlcg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", action="append", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--metrics", type=int, default=0)
    ap.add_argument("--crash-after", type=int, default=0)
    ap.add_argument("--flood-stderr", type=float, default=0.0)
    ap.add_argument("--ignore-term", action="store_true")
    ap.add_argument("--no-bind", action="store_true")
    args = ap.parse_args()
    if args.no_bind:
        time.sleep(3600)
    c = Collector()
    out = sys.stdout if args.out == "-" else open(args.out, "a", buffering=1)
    sel = selectors.DefaultSelector()
    for spec in args.listen:
        host, _, port = spec.rpartition(":")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.bind((host, int(port)))
        sel.register(s, selectors.EVENT_READ)
    lock = threading.Lock()
    if args.metrics:
        serve_metrics(args.metrics, c, lock)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, (lambda *_: None) if args.ignore_term else (lambda *_: stopping.set()))
    if args.flood_stderr:
        threading.Thread(target=flood, args=(args.flood_stderr,), daemon=True).start()
    received = 0

    def emit(events: list) -> None:
        for ev in events:
            if type(ev) is not TransferRecord:
                continue
            rec = wlcg(ev) if ev.vo == "cms" else osg_raw(ev)
            if ev.vo != "cms":
                # as the OSG collector: the server by its sender address, wall-clock stamps
                rec["serverID"] = f"{ev.server_key.rpartition('#')[2]}#{ev.server_ip}#{ports.get(ev.server_ip, 0)}"
                rec["server_hostname"] = ev.server_ip
                rec["timestamp"] = int(time.time() * 1000)
            out.write(json.dumps(rec) + "\n")

    ports: dict[str, int] = {}
    last_flush = last_packet = time.monotonic()
    while not stopping.is_set():
        for key, _ in sel.select(timeout=0.1):
            payload, src = key.fileobj.recvfrom(65536)
            last_packet = time.monotonic()
            ports.setdefault(src[0], src[1])
            received += 1
            if received == args.crash_after:
                print(f"prodlike: giving up after {received} datagrams: simulated crash", file=sys.stderr, flush=True)
                sys.exit(1)
            with lock:
                emit(c.feed(payload, src[:2], c_now(c, payload)))
            if payload[:1] in (b"i", b"u"):
                out.write(json.dumps({"tpc_or_info": payload[:1].decode(), "sender": src[0]}) + "\n")
        if time.monotonic() - last_flush > 0.2:
            # idle on the wire for a while: its wall clock has moved past every reorder window
            idle = IDLE_AHEAD_S if time.monotonic() - last_packet > 0.5 else 0.0
            with lock:
                emit(c.flush(c_now(c, b"") + idle))
            last_flush = time.monotonic()
    with lock:
        now = c_now(c, b"")
        emit(c.flush(now))
        emit(c.close(now))
    out.flush()


def flood(megabytes: float) -> None:
    """Chatter on stderr, as a collector logging every packet at debug level does."""
    line = ("debug: got a packet " + "x" * 100 + "\n").encode()
    for _ in range(int(megabytes * 1e6 / len(line))):
        sys.stderr.buffer.write(line)
    sys.stderr.buffer.flush()


_LAST = [0.0]
#: Seconds the clock is moved on once the wire is idle (past the reorder window).
IDLE_AHEAD_S = 5.0


def c_now(c: Collector, payload: bytes) -> float:
    """The collector's clock: the newest server time seen in a header (its tod), as the OSG
    collector keys its TTLs to the packets it gets."""
    if len(payload) >= 8:
        _LAST[0] = max(_LAST[0], float(int.from_bytes(payload[4:8], "big")))
    return _LAST[0]


def serve_metrics(port: int, c: Collector, lock: threading.Lock) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with lock:
                report = c.report()
            lost: dict[str, int] = {}
            for g in report.groups:
                host = g.socket.rpartition(":")[0]
                lost[host] = lost.get(host, 0) + g.lost
            body = "# TYPE missing_packets counter\n" + "".join(f'missing_packets{{host="{h}"}} {n}\n' for h, n in lost.items())
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


if __name__ == "__main__":
    main()
