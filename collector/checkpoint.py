"""The collector's state on disk between two runs: at a clean stop the open files, sessions,
paths and counter groups are saved instead of being emitted as ``collector_shutdown``, and
the next start resumes them, so a restart in the middle of a stream neither loses nor splits
a transfer. The file is written to a temporary name and renamed (never half-written).

The format is Python's pickle of the ``Collector`` behind a version line: load only files
this collector wrote (a pickle from elsewhere can run code).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from collector.core import Collector

_MAGIC = b"xrdsim-collector-state 1\n"


class CheckpointError(OSError):
    """A state file that cannot be written or read back."""


def save(collector: Collector, path: str | Path) -> int:
    """Write ``collector``'s state to ``path`` atomically; returns its size in bytes."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(_MAGIC)
            pickle.dump(collector, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(exc.errno, f"{path}: {exc.strerror or exc}") from None
    return path.stat().st_size


def load(path: str | Path) -> Collector:
    """The collector saved in ``path``."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            if fh.readline() != _MAGIC:
                raise CheckpointError(0, f"{path}: not an xrdsim collector state file")
            state = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(getattr(exc, "errno", 0) or 0, f"{path}: cannot be read back: {exc}") from None
    if not isinstance(state, Collector):
        raise CheckpointError(0, f"{path}: holds no collector state")
    return state


__all__ = ["CheckpointError", "load", "save"]
