"""A tiny simulated site end to end: its datagrams written to a pcap and read back by the
collector give the same records as the datagrams fed in process, and ``validate`` on that pcap
with the simulator's NIC counters as a CSV agrees with the simulator's own transfer truth."""

from __future__ import annotations

import csv

import pytest

from collector import Collector, TransferRecord
from collector.run import run_offline
from collector.sinks import MemorySink
from collector.sources import pcap_datagrams
from replay import write_pcap
from xrdsim.cli import main
from xrdsim.validation import ValidateOptions, validate


def record_tuples(events) -> list[tuple]:
    return sorted((r.server_host, r.server_port, r.file_lfn, r.read_bytes, r.write_bytes, r.ended.value)
                  for r in events if type(r) is TransferRecord)  # fmt: skip


@pytest.fixture(scope="module")
def site_pcap(tiny_site, tmp_path_factory):
    path = tmp_path_factory.mktemp("site") / "site.pcap"
    write_pcap(path, tiny_site[1])
    return path


@pytest.fixture(scope="module")
def site_counters(tiny_site, site_pcap):
    """The simulator's host NIC counters as an admin's CSV export."""
    path = site_pcap.with_suffix(".csv")
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["time", "host", "interface", "rx_bytes", "tx_bytes", "rx_packets", "tx_packets"])
        for c in tiny_site[0].truth.counters:
            if c.kind == "host":
                out.writerow([c.t, c.name, "eth0", c.rx_bytes, c.tx_bytes, c.rx_packets, c.tx_packets])
    return path


def test_pcap_gives_the_records_of_the_in_process_feed(tiny_site, site_pcap):
    _, datagrams = tiny_site
    direct, from_pcap = MemorySink(), MemorySink()
    run_offline(((d.payload, d.src, d.t_arrival) for d in datagrams), Collector(), direct)
    run_offline(pcap_datagrams(str(site_pcap)), Collector(), from_pcap)
    assert record_tuples(from_pcap.events) == record_tuples(direct.events)
    assert len(record_tuples(direct.events)) == 6


def test_validate_reads_the_same_records(tiny_site, site_pcap, site_counters):
    run, datagrams = tiny_site
    v = validate(site_pcap, ValidateOptions(counters=str(site_counters)))
    direct = MemorySink()
    run_offline(((d.payload, d.src, d.t_arrival) for d in datagrams), Collector(), direct)
    assert record_tuples(v.records) == record_tuples(direct.events)
    truth = sorted((t.lfn, t.read_bytes + t.readv_bytes, t.write_bytes) for t in run.truth.transfers)
    assert sorted((r.file_lfn, r.read_bytes, r.write_bytes) for r in v.records) == truth


def test_validate_with_the_simulated_nic_counters_agrees(tiny_site, site_pcap, site_counters, tmp_path, capsys):
    """Default settings on both sides: the simulator books and the validator inverts one model."""
    run, _ = tiny_site
    status = main(["validate", str(site_pcap), "--counters", str(site_counters), "-o", str(tmp_path), "--no-plots"])
    out = capsys.readouterr().out
    assert status == 0, out
    (host,) = {t.server for t in run.truth.transfers}
    writes = sum(t.write_bytes for t in run.truth.transfers)
    assert f"PASS  {host:<28} all   in   monitored {f'{writes:,} B':>18}" in out
    assert "monitoring agrees" in out and (tmp_path / "score.json").exists()


def test_validate_with_another_header_size_than_simulated_disagrees(tiny_site, site_pcap, site_counters, tmp_path, capsys):
    """The same counters inverted as if they held 40 B per packet (IP + TCP without timestamps,
    not the simulated 66): 26 B per 1448 B segment too few, ~1.8 % more payload, past the 0.5 %
    tolerance and the ACK margin of six connections."""
    status = main(["validate", str(site_pcap), "--counters", str(site_counters), "--header-bytes", "40", "-o", str(tmp_path), "--no-plots"])
    out = capsys.readouterr().out
    assert status == 1, out
    assert "FAIL" in out and "directions disagree" in out
