"""Shared test fixtures: hypothesis profiles and the real XRootD 5.5.3 capture."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci", max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` starts two workers per core: a third of the suite's worker time is spent
    waiting on real XRootD servers and RabbitMQ (flush intervals, timeouts), not computing,
    and a worker that waits holds its core idle (measured on two cores: 168 s with two
    workers, 126 s with four)."""
    return 2 * len(os.sched_getaffinity(0))


#: The real XRootD 5.5.3 capture, kept in the repository (tests/fixtures/real-xrootd-5.5.3/README.md).
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "real-xrootd-5.5.3"


def read_udp_payloads(path: Path) -> list[tuple[float, int, int, bytes]]:
    """(time, source port, destination port, payload) of every UDP frame of a classic
    Ethernet/IPv4 pcap: the minimal reader the wire tests need (replay/ has the full one)."""
    data = path.read_bytes()
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, off)
        frame = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        ihl = (frame[14] & 0x0F) * 4
        if frame[14 + 9] != 17:
            continue
        udp = 14 + ihl
        sport, dport, ulen = struct.unpack_from("!HHH", frame, udp)
        out.append((sec + usec / 1e6, sport, dport, frame[udp + 8 : udp + ulen]))
    return out


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """The folder of the real capture: monitoring.pcap, capture.pcap, truth.csv."""
    return FIXTURES


@pytest.fixture(scope="session")
def real_capture_path() -> Path:
    """Path of the real capture's monitoring.pcap."""
    return FIXTURES / "monitoring.pcap"


@pytest.fixture(scope="session")
def real_capture() -> list[tuple[float, int, int, bytes]]:
    """The monitoring datagrams of the real XRootD 5.5.3 capture."""
    return read_udp_payloads(FIXTURES / "monitoring.pcap")


@pytest.fixture(scope="session")
def real_truth() -> list[dict[str, str]]:
    """truth.csv of the real capture: op, server_port, path, bytes."""
    import csv

    with open(FIXTURES / "truth.csv", newline="") as fh:
        return list(csv.DictReader(fh))
