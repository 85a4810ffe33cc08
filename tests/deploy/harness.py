"""Helpers of the deploy checks: the repository's deploy/ folder, how to start ``xrdsim``
here, and a live collector serving ``/metrics`` after real datagrams."""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from collector import Collector
from collector.run import Fanout, run_live
from collector.sinks import MemorySink, MetricsServer
from collector.sources import UdpSource
from replay import read_datagrams, replay

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CAPTURE = ROOT / "tests" / "fixtures" / "real-xrootd-5.5.3" / "monitoring.pcap"


def xrdsim_argv() -> list[str]:
    """The installed console script, else the same entry point through this interpreter."""
    found = shutil.which("xrdsim")
    return [found] if found else [sys.executable, "-m", "xrdsim"]


def local(argv: list[str], spool: Path, spool_in_image: str, duration: float | None = 0.5) -> list[str]:
    """``argv`` made runnable here: every listening address on 127.0.0.1 port 0, paths under
    the image's spool moved to ``spool``, and a short ``--duration`` unless None."""
    out = []
    for arg in argv:
        if arg.startswith(("0.0.0.0:", "127.0.0.1:", "[::]:")):
            arg = "127.0.0.1:0"
        out.append(arg.replace(spool_in_image, str(spool)))
    return out + (["--duration", str(duration)] if duration is not None else [])


async def serve_a_capture(collector: Collector, source: UdpSource, metrics: MetricsServer) -> str:
    stop = asyncio.Event()
    task = asyncio.create_task(run_live(collector, source, Fanout(MemorySink(), metrics), publish=metrics.publish, stop=stop, tick=0.05, strict=True))
    sent = await asyncio.to_thread(replay, read_datagrams(CAPTURE), source.addresses[0], speed=math.inf)
    assert sent.sent > 0
    await asyncio.sleep(0.3)  # a few ticks: every datagram fed and a report published
    host, port = metrics.address
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5).read().decode())
    stop.set()
    await task
    return text


def live_exposition() -> str:
    """What ``/metrics`` served while a live collector held the real capture's server."""
    collector = Collector()
    source = UdpSource([("127.0.0.1", 0)])
    metrics = MetricsServer("127.0.0.1", 0, collector)
    try:
        return asyncio.run(serve_a_capture(collector, source, metrics))
    finally:
        metrics.close()


def exported_names(text: str) -> set[str]:
    """Metric names with at least one sample line in an exposition."""
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def run(argv: list[str], timeout: float = 60, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` and return the result (output captured as text)."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)


def containerfile(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def unit_file(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as section → key → values (a key may repeat; systemd accumulates)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert current is not None and sep, f"{path.name}: not a key=value line in a section: {raw!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections
