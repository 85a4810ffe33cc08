"""The collector process: started in a process group of its own, its stderr captured to a
log file (a chatty collector never blocks on a full pipe), watched for an early death, and
stopped with SIGTERM to the whole group — SIGKILL after ``stop_s`` — so that helpers it
started go too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from collections.abc import Callable
from typing import IO

from xrdsim.external.errors import CollectorFailed, CollectorHung, CollectorNotReady, CommandError

#: Exit statuses of a collector that stopped because it was told to (SIGTERM, its default
#: disposition or a shell's 128 + 15).
STOPPED_OK = frozenset({0, -signal.SIGTERM, 128 + signal.SIGTERM})


def last_line(path: Path, limit: int = 200) -> str:
    """The last non-empty line of a log, shortened to ``limit`` characters ('' for none)."""
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 8192))
            lines = [ln for ln in fh.read().decode("utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:limit] if lines else ""


class Supervisor:
    """One running collector command."""

    def __init__(self, argv: list[str], log: Path, capture_stdout: bool) -> None:
        self.argv, self.log = argv, log
        self._log_fh = log.open("wb")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=self._log_fh,
                                         stdout=subprocess.PIPE if capture_stdout else self._log_fh,
                                         start_new_session=True)  # fmt: skip
        except OSError as exc:
            self._log_fh.close()
            raise CommandError(f"cannot start external collector {argv[0]!r}: {exc.strerror}") from None

    @property
    def stdout(self) -> IO[bytes] | None:
        """The collector's stdout when it is captured."""
        return self.proc.stdout

    def why(self) -> str:
        """'; last line of its log: …' — the tail of an error message."""
        line = last_line(self.log)
        return f"; last line of its log: {line}" if line else f"; its log {self.log} is empty"

    def check_alive(self, during: str) -> None:
        """Raise ``CollectorFailed`` when the collector has exited already."""
        status = self.proc.poll()
        if status is not None:
            raise CollectorFailed(f"external collector exited {during} with status {_status(status)}{self.why()}")

    def stop(self, stop_s: float, kept: str) -> None:
        """SIGTERM to the process group, SIGKILL after ``stop_s``; a failure status or a
        collector that had to be killed is an error (``kept`` says where its output is)."""
        self._signal(signal.SIGTERM)
        try:
            status = self.proc.wait(timeout=stop_s)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait()
            self.close()
            raise CollectorHung(f"external collector did not stop within {stop_s:g} s of SIGTERM; its process group was "
                                f"killed; {kept}") from None  # fmt: skip
        self._signal(signal.SIGKILL)  # helpers it left behind in its group
        self.close()
        if status not in STOPPED_OK:
            raise CollectorFailed(f"external collector exited with status {_status(status)} at SIGTERM{self.why()}; {kept}")

    def kill(self) -> None:
        """Stop at once (the run failed elsewhere); never raises."""
        self._signal(signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.close()

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        """Close the log."""
        self._log_fh.close()


def _status(code: int) -> str:
    return f"{code} (signal {signal.Signals(-code).name})" if code < 0 and -code in signal.valid_signals() else str(code)


def wait_ready(sup: Supervisor, ready: Callable[[], bool], startup_s: float) -> float:
    """Poll ``ready()`` until true (returns the seconds it took), the collector dies
    (``CollectorFailed``) or ``startup_s`` passes (``CollectorNotReady``)."""
    start = time.monotonic()
    while True:
        sup.check_alive("before it was ready")
        if ready():
            return time.monotonic() - start
        if time.monotonic() - start > startup_s:
            raise CollectorNotReady(f"external collector did not bind its UDP port within startup_s = {startup_s:g} s"
                                    f"{sup.why()}")  # fmt: skip
        time.sleep(0.02)


__all__ = ["STOPPED_OK", "Supervisor", "last_line", "wait_ready"]
