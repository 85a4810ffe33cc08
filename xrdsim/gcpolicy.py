"""The garbage collector's pace for the heavy loops (simulate, a streamed shard's rounds,
scoring): they make millions of small objects with few cycles while a large heap (the
simulation, its truth rows, the records) is alive, and at the default gen-0 threshold (700)
the collections they trigger keep walking that heap: a third of a round's time, three
quarters of building the matcher's index."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: gen-0 threshold inside ``fewer_collections`` (the interpreter's default is 700).
GC_GEN0 = 50_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the body with a high gen-0 GC threshold; the caller's setting comes back after."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], GC_GEN0), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


__all__ = ["GC_GEN0", "fewer_collections"]
