"""Fixtures of the replay tests: a scapy pcap writer
(an independent implementation of the formats ``replay`` reads)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

@pytest.fixture
def scapy_pcap(tmp_path):
    """``write(packets, snap=None, **PcapWriter options) -> path``: a capture written by scapy,
    each frame cut to ``snap`` bytes when given (as ``tcpdump -s``)."""
    from scapy.utils import PcapWriter

    names = (tmp_path / f"scapy{i}.pcap" for i in itertools.count())

    def write(packets, snap=None, **options) -> Path:
        path = next(names)
        with PcapWriter(str(path), **options) as out:
            for pkt in packets:
                if snap is None:
                    out.write(pkt)
                    continue
                raw, t = bytes(pkt), float(pkt.time)
                if not out.header_present:
                    out.write_header(pkt)
                out.write_packet(raw[:snap], sec=int(t), usec=round((t - int(t)) * 1e6), wirelen=len(raw))
        return path

    return write
