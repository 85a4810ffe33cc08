"""Offline source: the monitoring datagrams of a pcap/pcapng capture, read by ``replay``."""

from __future__ import annotations

from typing import Iterable, Iterator

Item = tuple[bytes, tuple[str, int], float]


def pcap_datagrams(path: str, ports: Iterable[int] | None = None) -> Iterator[Item]:
    """(payload, source address, capture time) of every UDP datagram to ``ports`` (all when None)."""
    from replay import read_datagrams  # scapy is slow to import: only when a capture is read

    for dgram in read_datagrams(path, ports=set(ports) if ports else None):
        t = dgram.t_arrival if dgram.t_arrival is not None else dgram.t_send
        yield dgram.payload, dgram.src, t
