"""Records to AMQP exchanges (RabbitMQ), through the on-disk spool: ``write`` puts each
transfer record, in each configured layout (OSG raw, WLCG, full), into the spool and
returns; a publisher thread sends the spool to the broker with publisher confirms and
moves the spool's cursor only past what the broker confirmed. A broker outage costs a
reconnect, never a record; records still unconfirmed at ``close`` stay in the spool for the
next start.

pika (the RabbitMQ team's client) is imported here only: the rest of the collector does not
need it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from collector.formats import CONVERTERS, Layout
from collector.records import Event, TransferRecord
from collector.spool import Spool

log = logging.getLogger("collector.amqp")
_BATCH = 500
_MAX_FAILS = 3  # sessions in a row that fail on the same head message before it is set aside


@dataclass(frozen=True, slots=True)
class AmqpTarget:
    """Where records go: the broker ``url`` (amqp://user:pass@host:port/vhost) and one
    exchange per layout (a layout without an exchange is not published)."""

    url: str
    exchanges: dict[Layout, str] = field(default_factory=lambda: {Layout.OSG: "xrd.detailed", Layout.WLCG: "xrd.wlcg_format"})
    routing_key: str = "file-close"
    declare: bool = True  # declare the exchanges (fanout, durable) at connect


def _envelope(exchange: str, body: dict[str, Any]) -> bytes:
    return json.dumps({"x": exchange, "b": body}, separators=(",", ":"), allow_nan=False).encode()


class AmqpSink:
    """A sink (``write``/``close``) publishing transfer records; other events are ignored."""

    def __init__(self, target: AmqpTarget, spool: Spool, drain_s: float = 10.0, retry_s: float = 1.0) -> None:
        self.target, self.spool = target, spool
        self.drain_s, self.retry_s = drain_s, retry_s
        self.published = self.reconnects = self.unroutable = self.rejected = 0
        self._fails = 0
        self._head = None
        self.connected = False
        self.last_error = ""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._publish_loop, name="amqp-publisher", daemon=True)
        self._thread.start()

    def write(self, events: list[Event]) -> None:
        """Spool the transfer records among ``events`` (SpoolError when the disk refuses)."""
        msgs = [_envelope(exchange, CONVERTERS[layout](ev))
                for ev in events if type(ev) is TransferRecord
                for layout, exchange in self.target.exchanges.items()]  # fmt: skip
        if msgs:
            self.spool.put(msgs)
            self._wake.set()

    def close(self) -> None:
        """Publish what the spool holds for up to ``drain_s`` seconds, then stop; what is
        left stays on disk."""
        deadline = time.monotonic() + self.drain_s
        while self.spool.pending and time.monotonic() < deadline and self._thread.is_alive():
            self._wake.set()
            time.sleep(0.02)
        self._stop.set()
        self._wake.set()
        self._thread.join(self.drain_s + 5)
        self.spool.close()

    def io(self) -> dict[str, Any]:
        """Figures for the collector report."""
        return {"amqp_published": self.published, "amqp_pending": self.spool.pending, "amqp_reconnects": self.reconnects,
                "amqp_unroutable": self.unroutable, "amqp_rejected": self.rejected, "spool_evicted": self.spool.evicted, "spool_bytes": self.spool.bytes_on_disk,
                "amqp_last_error": self.last_error}  # fmt: skip

    # ------------------------------------------------------------------ the publisher thread

    def _publish_loop(self) -> None:
        import pika

        while not self._stop.is_set():
            try:
                conn = pika.BlockingConnection(pika.URLParameters(self.target.url))
            except Exception as exc:  # broker down: the records wait in the spool
                self._down(exc)
                continue
            try:
                self._session(conn, pika)
            except pika.exceptions.ChannelClosedByBroker as exc:  # the broker refused the head message
                self._fails += 1
                if self._fails >= _MAX_FAILS:
                    self._set_aside()
                self._down(exc)
            except Exception as exc:
                self._down(exc)
            finally:
                try:
                    conn.close()
                except Exception:
                    pass
                self.connected = False

    def _down(self, exc: Exception) -> None:
        self.connected = False
        self.last_error = f"{type(exc).__name__}: {exc}"[:200]
        self.reconnects += 1
        self._stop.wait(self.retry_s)

    def _session(self, conn: Any, pika: Any) -> None:
        ch = conn.channel()
        ch.confirm_delivery()
        declared: set[str] = set()
        for exchange in set(self.target.exchanges.values()):
            self._declare(ch, exchange, declared)
        self.connected = True
        props = pika.BasicProperties(content_type="application/json", delivery_mode=2)
        while not self._stop.is_set():
            batch = self.spool.peek(_BATCH)
            if not batch:
                self._wake.wait(0.5)
                self._wake.clear()
                conn.process_data_events(0)  # heartbeats
                continue
            done = 0
            try:
                for at, raw, _ in batch:
                    msg = json.loads(raw)
                    self._head = at
                    try:  # confirm_delivery: returns once the broker confirmed, raises on a nack
                        self._declare(ch, msg["x"], declared)  # spooled under an earlier configuration, maybe
                        ch.basic_publish(msg["x"], self.target.routing_key, json.dumps(msg["b"]).encode(), props, mandatory=False)
                    except pika.exceptions.UnroutableError:
                        self.unroutable += 1
                    done += 1
                    self._fails = 0
            finally:  # what the broker confirmed before a failure is not sent again
                if done:
                    self.published += done
                    self.spool.ack(batch[done - 1][2], done)

    def _declare(self, ch: Any, exchange: str, declared: set[str]) -> None:
        if self.target.declare and exchange not in declared:
            ch.exchange_declare(exchange=exchange, exchange_type="fanout", durable=True)
            declared.add(exchange)

    def _set_aside(self) -> None:
        """The broker closed the channel on the message at the head ``_MAX_FAILS`` sessions in
        a row (it refuses its exchange, e.g. no permission): it goes to ``rejected.jsonl`` beside the spool, counted, so it cannot
        hold back the rest."""
        batch = self.spool.peek(1)
        if not batch or batch[0][0] != self._head:
            return
        _, raw, nxt = batch[0]
        with (self.spool.dir / "rejected.jsonl").open("ab") as fh:
            fh.write(raw + b"\n")
        self.spool.ack(nxt, 1)
        self.rejected += 1
        self._fails = 0


__all__ = ["AmqpSink", "AmqpTarget"]
