"""Shoveler messages from an AMQP queue (the OSG collector's "pushed" mode and the
shoveler's own collector): each message body is one shoveler JSON message ``{remote,
version, data}`` (spec §9.4; both IPv6 spellings of ``remote``). Iterating yields
(payload, sender, time) items, and ``None`` when the queue was idle for ``idle_s`` (so the
driver can run its timers). A message is acknowledged once the item it gave was handled
(``ack_handled``); a connection lost on the way is reopened, and the broker delivers the
unacknowledged messages again (the collector's duplicate detection counts them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any, Callable

from collector.sources.shoveler import Item, parse_shoveler

log = logging.getLogger("collector.amqp")


class AmqpSource:
    """Consume ``queue`` at ``url``; ``bad`` counts bodies that are no shoveler message."""

    def __init__(self, url: str, queue: str, idle_s: float = 0.5, prefetch: int = 2000,
                 clock: Callable[[], float] = time.time, retry_s: float = 1.0) -> None:  # fmt: skip
        self.url, self.queue, self.idle_s, self.prefetch = url, queue, idle_s, prefetch
        self.clock, self.retry_s = clock, retry_s
        self.bad = self.received = self.reconnects = 0
        self.stopped = False
        self._channel: Any = None
        self._last_tag: int | None = None

    def connect(self) -> None:
        """Open the connection now (raises pika's AMQPError when the broker cannot be reached)."""
        import pika

        conn = pika.BlockingConnection(pika.URLParameters(self.url))
        ch = conn.channel()
        ch.queue_declare(self.queue, durable=True)
        ch.basic_qos(prefetch_count=self.prefetch)
        self._channel = ch

    def __iter__(self) -> Iterator[Item | None]:
        import pika

        while not self.stopped:
            try:
                if self._channel is None:
                    self.connect()
                for method, _props, body in self._channel.consume(self.queue, inactivity_timeout=self.idle_s):
                    if self.stopped:
                        break
                    if method is None:
                        yield None
                        continue
                    self._last_tag = method.delivery_tag
                    self.received += 1
                    try:
                        payload, src, t = parse_shoveler(body.decode("utf-8", errors="replace"))
                    except ValueError:
                        self.bad += 1
                        continue
                    yield payload, src, t if t is not None else self.clock()
            except pika.exceptions.AMQPError as exc:
                self._lost(exc)
                yield None

    def _lost(self, exc: Exception) -> None:
        log.warning("AMQP source %s: %s; reconnecting", self.queue, exc)
        self.reconnects += 1
        self._channel, self._last_tag = None, None
        time.sleep(self.retry_s)

    def ack_handled(self) -> None:
        """Acknowledge every message up to the last one yielded."""
        if self._channel is not None and self._last_tag is not None:
            try:
                self._channel.basic_ack(self._last_tag, multiple=True)
            except Exception as exc:  # the connection went: those messages come again
                self._lost(exc)
            self._last_tag = None

    def stop(self) -> None:
        """End the iteration at the next message or idle tick."""
        self.stopped = True

    def close(self) -> None:
        """Acknowledge what was handled and close the connection."""
        self.ack_handled()
        if self._channel is not None:
            try:
                self._channel.cancel()
                self._channel.connection.close()
            except Exception:
                pass
            self._channel = None

    def io(self) -> dict[str, Any]:
        """Figures for the collector report."""
        return {"amqp_queue": self.queue, "amqp_received": self.received, "amqp_bad_messages": self.bad,
                "amqp_source_reconnects": self.reconnects}  # fmt: skip


__all__ = ["AmqpSource"]
