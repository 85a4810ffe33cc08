"""Following a collector's output while it runs, so that each record is stamped with the
moment xrdsim received it: a file it appends to, its stdout, or an AMQP queue bound to the
exchange it publishes to. Each source copies what it got to a JSON-lines file and keeps the
receipt time of every line; ``last_activity`` tells when output last arrived (quiet = done).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import IO

from xrdsim.external.errors import CommandError

#: Seconds between two looks at a file or a queue.
POLL_S = 0.05


class Tail:
    """Lines received, in order, with their monotonic receipt times; a thread fills it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.walls: list[float] = []
        self.last_activity = time.monotonic()
        self.quiet_from = 0.0  # quiet is not counted before this monotonic time
        self.error: str = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _got(self, lines: int) -> None:
        now = time.monotonic()
        self.walls.extend([now] * lines)
        if lines:
            self.last_activity = now

    def start(self) -> None:
        """Start following."""
        self._thread = threading.Thread(target=self._guarded, daemon=True, name=f"tail {self.path.name}")
        self._thread.start()

    def _guarded(self) -> None:
        try:
            self.follow()
        except Exception as exc:  # the broker or the file went away: reported by the caller
            self.error = f"{type(exc).__name__}: {exc}"

    def follow(self) -> None:
        """Read until ``stop``; overridden by each source."""
        raise NotImplementedError

    def stop(self) -> None:
        """Take what is left and stop following."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def received(self, n: int) -> float | None:
        """The receipt time of line ``n`` (from 1), None for a line never seen live."""
        return self.walls[n - 1] if 0 < n <= len(self.walls) else None


class FileTail(Tail):
    """A file the collector writes (``{out}``): new complete lines as they appear."""

    def follow(self) -> None:
        """Poll the file's end until stopped, then once more."""
        pos, partial = 0, b""
        while True:
            stopping = self._stop.is_set()
            try:
                with self.path.open("rb") as fh:
                    fh.seek(pos)
                    chunk = fh.read()
            except FileNotFoundError:
                chunk = b""
            if chunk:
                pos += len(chunk)
                data = partial + chunk
                lines = data.split(b"\n")
                partial = lines.pop()
                self._got(len(lines))  # blank lines too: receipt times are indexed by line number
            if stopping:
                if partial:
                    self._got(1)
                return
            self._stop.wait(POLL_S)


class StreamTail(Tail):
    """The collector's stdout: every line copied to ``path`` as it comes."""

    def __init__(self, path: Path, stream: IO[bytes]) -> None:
        super().__init__(path)
        self.stream = stream

    def follow(self) -> None:
        """Copy lines until the collector closes its stdout."""
        with self.path.open("wb") as out:
            for line in iter(self.stream.readline, b""):
                if line.strip():
                    out.write(line if line.endswith(b"\n") else line + b"\n")
                    out.flush()
                    self._got(1)

    def stop(self) -> None:
        """Wait for the end of the stream (the collector has exited by now)."""
        if self._thread is not None:
            self._thread.join(timeout=5)


class BusTail(Tail):
    """The records an external collector publishes to an AMQP exchange: a queue of our own is
    bound to it before the collector starts, and drained into ``path`` while it runs."""

    def __init__(self, path: Path, url: str, exchange: str) -> None:
        super().__init__(path)
        try:
            import pika

            self._conn = pika.BlockingConnection(pika.URLParameters(url))
            self._ch = self._conn.channel()
            self._ch.exchange_declare(exchange=exchange, exchange_type="fanout", durable=True)
            self.queue = self._ch.queue_declare("", exclusive=True).method.queue
            self._ch.queue_bind(self.queue, exchange)
        except Exception as exc:  # pika's errors: AMQPConnectionError, ChannelClosedByBroker, …
            raise CommandError(f"collector.records_exchange {exchange}: cannot bind a queue at {url.rpartition('@')[2]}: "
                               f"{type(exc).__name__} {exc}".rstrip()) from None  # fmt: skip

    def follow(self) -> None:
        """Take messages (one JSON record each) until stopped and the queue is empty."""
        with self.path.open("w") as fh:
            while True:
                method, _props, body = self._ch.basic_get(self.queue, auto_ack=True)
                if method is None:
                    if self._stop.is_set():
                        break
                    self._conn.sleep(POLL_S)
                    continue
                fh.write(body.decode("utf-8", errors="replace").replace("\n", " ") + "\n")
                fh.flush()
                self._got(1)
        self._conn.close()


__all__ = ["BusTail", "FileTail", "StreamTail", "Tail"]
