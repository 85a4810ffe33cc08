"""Fixtures of the validation tests: the real XRootD 5.5.3 capture folder, a single capture
merged from its two files (what ``tcpdump -s 0`` on the server would have given, TCP payloads
cut), and a tiny simulated site. The pcap handling here is written from the libpcap format,
independently of ``replay``."""

from __future__ import annotations

import csv
import dataclasses
import struct
from pathlib import Path
from types import SimpleNamespace

import pytest

PCAP_HEADER = struct.Struct("<IHHiIII")
RECORD = struct.Struct("<IIII")
START = 1_700_000_000


def pcap_records(path: Path) -> tuple[bytes, list[tuple[int, int, bytes, int]]]:
    """(file header, [(sec, usec, frame, original length)]) of a little-endian µs pcap."""
    data = path.read_bytes()
    out, off = [], PCAP_HEADER.size
    while off < len(data):
        sec, usec, incl, orig = RECORD.unpack_from(data, off)
        out.append((sec, usec, data[off + 16 : off + 16 + incl], orig))
        off += 16 + incl
    return data[: PCAP_HEADER.size], out


def write_records(path: Path, header: bytes, records) -> Path:
    """A pcap of ``records`` behind ``header``."""
    with path.open("wb") as fh:
        fh.write(header)
        for sec, usec, frame, orig in records:
            fh.write(RECORD.pack(sec, usec, len(frame), orig) + frame)
    return path


def ip_proto(frame: bytes) -> int:
    """The IPv4 protocol number of an Ethernet frame."""
    return frame[14 + 9]


def tcp_payload(frame: bytes, port: int) -> tuple[str, int] | None:
    """("in" | "out", payload bytes) of an Ethernet/IPv4 TCP frame to or from ``port``:
    IP total length − IP header − TCP data offset, read from the headers alone."""
    ip = frame[14:]
    if ip_proto(frame) != 6:
        return None
    total, ihl = struct.unpack_from("!H", ip, 2)[0], (ip[0] & 0x0F) * 4
    sport, dport = struct.unpack_from("!HH", ip, ihl)
    doff = (ip[ihl + 12] >> 4) * 4
    if port not in (sport, dport):
        return None
    return ("in" if dport == port else "out"), total - ihl - doff


@pytest.fixture(scope="session")
def pcapio():
    """The helpers above: ``pcapio.records``, ``pcapio.write``, ``pcapio.tcp_payload``, ``pcapio.proto``."""
    return SimpleNamespace(records=pcap_records, write=write_records, tcp_payload=tcp_payload, proto=ip_proto)


@pytest.fixture(scope="session")
def real_truth(real_dir) -> list[dict[str, str]]:
    """truth.csv rows: op, server_port, path, bytes."""
    with (real_dir / "truth.csv").open() as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def merged_capture(real_dir, tmp_path_factory) -> Path:
    """monitoring.pcap's full datagrams and capture.pcap's TCP frames in one capture, time-ordered."""
    header, mon = pcap_records(real_dir / "monitoring.pcap")
    _, cap = pcap_records(real_dir / "capture.pcap")
    frames = sorted(mon + [r for r in cap if ip_proto(r[2]) == 6], key=lambda r: (r[0], r[1]))
    return write_records(tmp_path_factory.mktemp("merged") / "site.pcap", header, frames)


@pytest.fixture(scope="session")
def tcp_only(real_dir, tmp_path_factory) -> Path:
    """capture.pcap without its UDP frames."""
    header, cap = pcap_records(real_dir / "capture.pcap")
    return write_records(tmp_path_factory.mktemp("tcp") / "tcp-only.pcap", header, [r for r in cap if ip_proto(r[2]) == 6])


@pytest.fixture(scope="session")
def tiny_site():
    """A one-server site, six scripted transfers, summary reports every 10 s with sync:
    (SimRun, datagrams with absolute capture times)."""
    from xrdsim.sim import (
        JobConfig,
        ReportConfig,
        SimConfig,
        SiteConfig,
        WorkloadConfig,
        simulate,
    )

    ops = ["read", "write", "readv", "partial"]
    jobs = [JobConfig(at_s=5 + 7 * k, op=ops[k % 4], lfn=f"/store/f{k}", size_bytes=30_000_000 * (k + 1), duration_s=4) for k in range(6)]
    cfg = SimConfig(seed=7, duration_s=120, start_time=START, sites=[SiteConfig(servers=1, worker_nodes=2)],
                    workload=WorkloadConfig(jobs_per_hour=0, scripted=jobs), report=ReportConfig("192.0.2.9", 9931, every_s=10, sync=True))
    run = simulate(cfg)
    datagrams = [dataclasses.replace(d, t_send=d.t_send + START, t_arrival=(d.t_arrival if d.t_arrival is not None else d.t_send) + START)
                 for d in run.delivered()]
    return run, datagrams
