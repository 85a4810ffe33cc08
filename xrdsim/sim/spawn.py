"""Light processes: a generator driven over SimPy events without a ``Process`` object, so
without its ``Initialize`` and end events (two of a one-file session's four). ``spawn`` runs
the generator to its first ``yield`` at once; nothing can wait for it or see its result.
"""

from __future__ import annotations

from typing import Generator

import simpy


def spawn(gen: Generator[simpy.Event, object, None]) -> None:
    """Start ``gen`` now; it runs on until it yields an event, and again when that fires.

    >>> env = simpy.Environment()
    >>> def hello(env):
    ...     yield env.timeout(2)
    ...     print("at", env.now)
    >>> spawn(hello(env)); env.run()
    at 2
    """

    def resume(event: simpy.Event | None) -> None:
        try:
            nxt = gen.send(None if event is None else event.value)
        except StopIteration:
            return
        nxt.callbacks.append(resume)

    resume(None)


__all__ = ["spawn"]
