"""Interface counters from a CSV or Prometheus text: series per host, interface and direction,
32/64-bit wraps and resets unwrapped, deltas per time bin; bad files give one-line errors.
Every expectation below is worked out by hand in the comment beside it."""

from __future__ import annotations

import pytest

from replay import Direction
from xrdsim.counters import CountersInputError, read_counters, unwrap
from xrdsim.errors import UserError

W32 = 1 << 32
W64 = 1 << 64

CSV = """time,host,interface,rx_bytes,tx_bytes,rx_packets,tx_packets
100,srv1,eth0,4294967000,1000,10,20
160,srv1,eth0,200,5000,15,25
220,srv1,eth0,1200,100,17,30
100,srv1,lo,0,0,0,0
220,srv1,lo,999999,999999,0,0
"""


def write(tmp_path, text, name="c.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_unwraps_a_32_bit_wrap_and_a_reset(tmp_path):
    table = read_counters(write(tmp_path, CSV, "c.csv"))
    assert table.form == "csv" and table.hosts == ["srv1"]
    (rx,) = table.select("srv1", Direction.IN)
    # 4294967000 → 200 wraps a 32-bit counter: +296 to 2**32, +200 after it = 496 bytes
    assert rx.values == (4294967000, W32 + 200, W32 + 1200) and (rx.wraps, rx.resets) == (1, 0)
    (tx,) = table.select("srv1", Direction.OUT)
    # 5000 → 100: 5000 is below 2**31, so a reset: 100 bytes since it
    assert tx.values == (1000, 5000, 5100) and (tx.wraps, tx.resets) == (0, 1)


def test_csv_deltas_per_bin_leave_out_the_loopback(tmp_path):
    table = read_counters(write(tmp_path, CSV, "c.csv"))
    # rx grew 496 in [100, 160] and 1000 in [160, 220]: bins [100,130) [130,160) [160,220)
    assert table.deltas("srv1", Direction.IN, [100, 130, 160, 220]) == [248.0, 248.0, 1000.0]
    # tx grew 4000 then 100; outside the readings the counter is flat
    assert table.deltas("srv1", Direction.OUT, [0, 100, 220, 300]) == [0.0, 4100.0, 0.0]
    assert table.deltas("srv1", Direction.IN, [100, 220], interfaces=["lo"]) == [999999.0]
    (pkts,) = table.select("srv1", Direction.OUT, unit="packets")
    assert pkts.values == (20, 25, 30)


def test_unwrap_of_a_64_bit_counter():
    # past 2**63 a drop is a 64-bit wrap: 2**64 − 10 → 5 is 15 bytes
    values, wraps, resets = unwrap([W64 - 10, 5, 3])
    assert values == [W64 - 10, W64 + 5, W64 + 5 + 3] and (wraps, resets) == (1, 1)
    # a 64-bit counter (it passed 2**32) dropping from 3·2**31 is a reset, not a 32-bit wrap
    assert unwrap([W32 + 1, 3 * (1 << 31), 7]) == ([W32 + 1, 3 * (1 << 31), 3 * (1 << 31) + 7], 0, 1)


def test_csv_takes_iso_times(tmp_path):
    text = "time,host,interface,rx_bytes,tx_bytes\n2023-11-14T22:13:20Z,a,eth0,0,0\n2023-11-14T22:14:20,a,eth0,60,120\n"
    (rx,) = read_counters(write(tmp_path, text)).select("a", Direction.IN)
    assert rx.times == (1_700_000_000.0, 1_700_000_060.0)  # 2023-11-14T22:13:20Z is 1.7e9 s


PROM = """# HELP node_network_receive_bytes_total Network device statistic receive_bytes.
# TYPE node_network_receive_bytes_total counter
node_network_receive_bytes_total{device="eth0",instance="xrd1.example.org:9100",job="node"} 1000 1700000000000
node_network_transmit_bytes_total{device="eth0",instance="xrd1.example.org:9100",job="node"} 5e3 1700000000000
node_network_receive_bytes_total{device="lo",instance="xrd1.example.org:9100",job="node"} 77 1700000000000
node_cpu_seconds_total{cpu="0",mode="idle"} 12345.6 1700000000000
node_network_receive_bytes_total{device="eth0",instance="xrd1.example.org:9100",job="node"} 500 1700000060000
node_network_transmit_bytes_total{device="eth0",instance="xrd1.example.org:9100",job="node"} 65000 1700000060000
node_network_receive_bytes_total{device="eth0",instance="xrd1.example.org:9100",job="node"} 2500 1700000120000
node_network_transmit_bytes_total{device="eth0",instance="xrd1.example.org:9100",job="node"} 65600 1700000120000
"""


def test_prometheus_scrapes_with_timestamps_and_a_reset(tmp_path):
    table = read_counters(write(tmp_path, PROM))
    assert table.form == "prometheus" and table.hosts == ["xrd1.example.org"]
    (rx,) = table.select("xrd1.example.org", Direction.IN)
    # 1000 → 500 is a reset of a 64-bit counter (node exporter): 500 since it, then +2000
    assert rx.times == (1_700_000_000.0, 1_700_000_060.0, 1_700_000_120.0)
    assert rx.values == (1000, 1500, 3500) and rx.resets == 1
    edges = [1_700_000_000, 1_700_000_060, 1_700_000_120]
    assert table.deltas("xrd1.example.org", Direction.IN, edges) == [500.0, 2000.0]
    assert table.deltas("xrd1.example.org", Direction.OUT, edges) == [60000.0, 600.0]


def test_prometheus_without_timestamps_is_placed_on_the_capture_span(tmp_path):
    text = "\n".join(
        f'node_network_transmit_bytes_total{{device="eth0",instance="[2001:db8::5]:9100"}} {v}' for v in (100, 400, 1000)
    )
    table = read_counters(write(tmp_path, text))
    assert not table.timed and table.hosts == ["2001:db8::5"]
    placed = table.placed(50.0, 150.0)
    (tx,) = placed.select("2001:db8::5", Direction.OUT)
    assert tx.times == (50.0, 100.0, 150.0) and placed.deltas("2001:db8::5", Direction.OUT, [50, 100, 150]) == [300.0, 600.0]


def test_snmp_32_bit_octets_wrap(tmp_path):
    text = ('ifInOctets{ifName="xe-0/0/1",instance="rtr1"} 4294967200 1000\n'
            'ifInOctets{ifName="xe-0/0/1",instance="rtr1"} 100 2000\n')
    (rx,) = read_counters(write(tmp_path, text)).select("rtr1", Direction.IN)
    assert rx.values == (4294967200, W32 + 100) and rx.interface == "xe-0/0/1"  # 96 + 100 bytes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "c.txt: empty file"),
        ("time,host,iface,rx,tx\n1,a,b,1,2\n", "c.txt:1: CSV header lacks interface, rx_bytes, tx_bytes"),
        ("time,host,interface,rx_bytes,tx_bytes\n1,a,eth0,12,x\n", "c.txt:2: tx_bytes 'x' is not a number"),
        ("time,host,interface,rx_bytes,tx_bytes\nnoon,a,eth0,1,2\n", "c.txt:2: time 'noon' is neither unix seconds nor ISO 8601"),
        ("hello world\n", "c.txt:1: neither a counters CSV"),
        ('node_network_receive_bytes_total{device="eth0" 12\n', "c.txt:1: not a Prometheus sample"),
        ("node_load1 0.5\n", "c.txt: no interface counters in the file"),
        ('node_network_receive_bytes_total{device="eth0"} 1 1000\nnode_network_receive_bytes_total{device="eth0"} 2\n',
         "c.txt: mixes samples with and without timestamps"),
    ],
)
def test_bad_counters_files_give_one_line(tmp_path, text, message):
    with pytest.raises(CountersInputError) as info:
        read_counters(write(tmp_path, text))
    assert isinstance(info.value, UserError)
    assert str(info.value).startswith(f"{tmp_path}/{message}")
    assert "\n" not in str(info.value)


def test_binary_and_missing_files(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"\xd4\xc3\xb2\xa1\x00\x00")
    with pytest.raises(CountersInputError, match="binary data"):
        read_counters(path)
    with pytest.raises(CountersInputError, match="No such file"):
        read_counters(tmp_path / "missing.csv")
