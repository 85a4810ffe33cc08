"""Driving a ``Collector`` from a source into sinks: offline (an iterable of datagrams, time
from the datagrams) and live (UDP on asyncio, time from the clock, SIGINT/SIGTERM flush
every open record before exit). The only place where the core meets I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from typing import Any, Callable, Iterable, Iterator, Protocol

from collector.core import Collector
from collector.records import Event
from collector.report import CollectorReport
from collector.sources.udp import UdpSource
from xrdsim.gcpolicy import fewer_collections

log = logging.getLogger("collector")


class Sink(Protocol):
    """What a sink offers (see ``collector.sinks``)."""

    def write(self, events: list[Event]) -> None: ...

    def close(self) -> None: ...


class TextSink(Sink, Protocol):
    """A sink that also takes events already rendered as its text (``JsonlSink``)."""

    def write_text(self, text: str, events: int) -> None: ...


class Fanout:
    """Several sinks as one."""

    def __init__(self, *sinks: Sink) -> None:
        self.sinks = [s for s in sinks if s is not None]

    def write(self, events: list[Event]) -> None:
        """Write ``events`` to every sink."""
        for sink in self.sinks:
            sink.write(events)

    def close(self) -> None:
        """Close every sink."""
        for sink in self.sinks:
            sink.close()


class SinkFailure(OSError):
    """A sink could not write (disk full, output unwritable): the run stops cleanly instead
    of losing records batch after batch."""


@contextlib.contextmanager
def _failing_as_sink(events: int) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise SinkFailure(exc.errno, f"{exc.strerror or exc} ({events} events not written)") from None


def write_events(sink: Sink, events: list[Event]) -> None:
    """Write ``events`` (if any) to ``sink``; an ``OSError`` of the sink is a ``SinkFailure``."""
    if events:
        with _failing_as_sink(len(events)):
            sink.write(events)


def write_lines(sink: TextSink, text: str, events: int) -> None:
    """``write_events`` for ``events`` events already rendered as ``text``."""
    with _failing_as_sink(events):
        sink.write_text(text, events)


class Guard:
    """The loop boundary of STYLE §7.6: a bug while handling one datagram is counted
    (``internal_errors``) and logged once; ``strict`` re-raises it (tests)."""

    def __init__(self, collector: Collector, sink: Sink, strict: bool = False) -> None:
        self.collector, self.sink, self.strict = collector, sink, strict
        self.internal_errors = 0

    def __call__(self, payload: bytes, src: tuple[str, int], t: float) -> None:
        try:
            events = self.collector.feed(payload, src, t)
        except Exception:
            if self.strict:
                raise
            self.internal_errors += 1
            if self.internal_errors == 1:
                log.exception("collector bug while handling a datagram from %s", src)
            return
        write_events(self.sink, events)


def run_offline(items: Iterable[tuple[bytes, tuple[str, int], float]], collector: Collector, sink: Sink, tick: float = 1.0,
                strict: bool = False, keep_open: bool = False) -> CollectorReport:
    """Feed every (payload, src, t) in order, flushing every ``tick`` seconds of datagram
    time; at the end (or on KeyboardInterrupt / SIGTERM, e.g. a stdin stream) ``close`` at the
    last time seen, so every open record is written — unless ``keep_open`` (the state is to
    be checkpointed and resumed). Returns the report."""
    guard = Guard(collector, sink, strict)
    clock = _DatagramClock(tick)
    interrupted = False
    with _sigterm_as_interrupt():
        try:
            for payload, src, t in items:
                if clock.due(t):
                    write_events(sink, collector.flush(t))
                guard(payload, src, t)
        except KeyboardInterrupt:
            interrupted = True
    _finish(collector, sink, clock.t, keep_open)
    report = collector.report()
    report.io.update(internal_errors=guard.internal_errors, interrupted=interrupted)
    return report


def _finish(collector: Collector, sink: Sink, t: float, keep_open: bool) -> None:
    write_events(sink, collector.flush(t))
    if not keep_open:
        write_events(sink, collector.close(t))


def run_consumer(source: Any, collector: Collector, sink: Sink, tick: float = 1.0, clock: Callable[[], float] = time.time,
                 strict: bool = False, keep_open: bool = False) -> CollectorReport:
    """Collect from a message-queue ``source`` (``collector.sources.AmqpSource``: items, and
    None on idle) until it stops (SIGINT/SIGTERM stop it); every message is acknowledged
    once what it produced was written. Time is the clock's (flush every ``tick`` s)."""
    guard = Guard(collector, sink, strict)
    handled = _stop_on_signals(source.stop)
    next_flush = clock() + tick
    try:
        for item in source:
            if item is not None:
                guard(*item)
            now = clock()
            if now >= next_flush:
                write_events(sink, collector.flush(now))
                next_flush = now + tick
            if item is None or source.received % 256 == 0:
                source.ack_handled()
        _finish(collector, sink, clock(), keep_open)
    finally:
        source.close()
        for sig, previous in handled:
            signal.signal(sig, previous)
    report = collector.report()
    report.io.update(source.io(), internal_errors=guard.internal_errors)
    return report


def _stop_on_signals(stop: Callable[[], None]) -> list[tuple[int, Any]]:
    """SIGINT/SIGTERM call ``stop`` (main thread only); returns the previous handlers."""
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            handled.append((sig, signal.signal(sig, lambda signum, frame: stop())))
        except ValueError:  # not the main thread
            break
    return handled


class _DatagramClock:
    """When a flush is due on the datagrams' own time line."""

    def __init__(self, tick: float) -> None:
        self.tick, self.t, self._next = tick, 0.0, None

    def due(self, t: float) -> bool:
        self.t = t
        if self._next is None:
            self._next = t + self.tick
            return False
        if t < self._next:
            return False
        self._next = t + self.tick
        return True


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops an offline run like Ctrl-C does (main thread only)."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


async def run_live(
    collector: Collector,
    source: UdpSource,
    sink: Sink,
    publish: Callable[[CollectorReport], None] | None = None,
    stop: asyncio.Event | None = None,
    tick: float = 1.0,
    clock: Callable[[], float] = time.time,
    strict: bool = False,
    keep_open: bool = False,
) -> CollectorReport:
    """Collect from ``source`` until ``stop`` is set or SIGINT/SIGTERM arrives; then the
    datagrams already queued in the sockets are read, and every open record is emitted
    (``collector_shutdown``) and written before returning — unless ``keep_open``."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    handled = _on_signals(loop, stop.set)
    guard = Guard(collector, sink, strict)
    source.attach(loop, guard, clock)
    cpu = time.process_time()
    try:
        with fewer_collections():  # the collector's tables are the large heap a collection walks
            while not stop.is_set():
                try:
                    await asyncio.wait_for(stop.wait(), tick)
                except asyncio.TimeoutError:
                    pass
                write_events(sink, collector.flush(clock()))
                if publish is not None:
                    publish(_with_io(collector.report(), source, guard, cpu))
            drained = source.drain(guard, clock)  # what the kernel queued before the stop is no loss
    finally:
        io = source.io()
        source.close()
        for sig in handled:
            loop.remove_signal_handler(sig)
    io["drained_at_stop"] = drained
    _finish(collector, sink, clock(), keep_open)
    io["cpu_s"] = round(time.process_time() - cpu, 3)  # this process's, from the first datagram it could read
    report = collector.report()
    report.io.update(io, internal_errors=guard.internal_errors)
    if publish is not None:
        publish(report)
    return report


def _with_io(report: CollectorReport, source: UdpSource, guard: Guard, cpu: float) -> CollectorReport:
    report.io.update(source.io(), internal_errors=guard.internal_errors, cpu_s=round(time.process_time() - cpu, 3))
    return report


def _on_signals(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> list[int]:
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, callback)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            continue
        handled.append(sig)
    return handled
