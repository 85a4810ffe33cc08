"""Counter handling and the inverse of the overhead model, with wire bytes computed by hand."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xrdsim.score import Bins, Overhead, Rec
from xrdsim.score.digest import digest_records
from xrdsim.score.volume import HostCounters, Unwrapped, by_site, host_payload
from xrdsim.sim import CounterRow


def test_inverse_overhead_on_hand_computed_wire_bytes():
    # 2 full segments of MSS 1448 out (2896 B payload + 2×52 headers), 1 pure ACK back (52 B);
    # plus 1448 B in as one segment (1500 B) answered by one ACK out (52 B).
    sent, received = Overhead(1500, 52, 2).payload(3000 + 52, 52 + 1500)
    assert sent == pytest.approx(2896, abs=30)
    assert received == pytest.approx(1448, abs=30)
    # 10⁶ full segments out (1500 B each on the wire), one 52 B ACK per two of them back.
    big_sent, big_recv = Overhead().payload(1_000_000 * 1500, 500_000 * 52)
    assert big_sent == pytest.approx(1_448_000_000, rel=1e-9)
    assert big_recv == pytest.approx(0.0, abs=1e-3)


def unwrap(values: list[int]) -> list[int]:
    step = Unwrapped()
    return [step(v) for v in values]


def test_unwrap_32bit_wrap_and_reboot_reset():
    assert unwrap([100, (1 << 32) - 10, 20]) == [100, (1 << 32) - 10, (1 << 32) + 20]
    assert unwrap([5000, 9000, 300, 800]) == [5000, 9000, 9300, 9800]


def test_interpolation_between_samples():
    """Edges between two rows are interpolated; edges past the last row hold its value (an
    overhead of 0 header bytes makes the payload the counters themselves)."""
    series = HostCounters(Bins(0.0, 30.0, 3))
    series.add(counter(0.0, "h", 0, 0))
    series.add(counter(60.0, "h", 600, 0))
    assert series.payload(Overhead(1500, 0, 2)) == [300.0, 300.0, 0.0]


def test_spread_over_bins():
    bins = Bins(0.0, 10.0, 3)
    row = [0.0] * 3
    bins.spread(row, 5.0, 25.0, 200.0)
    assert row == pytest.approx([50.0, 100.0, 50.0])
    bins.spread(row, 40.0, 40.0, 7.0)  # after the end: into the last bin
    assert row[2] == pytest.approx(57.0)


def counter(t, name, tx, rx, mon=0):
    return CounterRow(t, "host", name, rx, tx, 0, 0, 0, 0, mon)


def test_volume_series_compares_sites_per_bin():
    per = 1448 * 1000  # 1000 full segments each bin: wire = payload × 1500/1448, ACKs 500 × 52 back
    rows = [counter(0.0, "h1", 0, 0)] + [counter(60.0 * k, "h1", k * 1500 * 1000, k * 500 * 52) for k in (1, 2)]
    rows.append(counter(120.0, "h1", 2 * 1500 * 1000 + 999, 2 * 500 * 52, mon=999))  # a monitoring datagram at the end
    recs = [(Rec("h1", "", 1, 1, "/a", "S", "", "", "", per, 0, 0, 0.0, 60.0, 61.0), "h1")]
    site_of = {"h1": "S"}
    series = by_site(digest_records(recs, Bins(0.0, 60.0, 2), site_of, rows, Overhead()).series(site_of), site_of)
    assert series.nic["S"] == pytest.approx([per, per], rel=1e-9)
    assert series.monitored["S"] == pytest.approx([per, 0.0])
    assert host_payload(rows, Bins(0.0, 120.0, 1), Overhead()) == pytest.approx([2 * per], rel=1e-9)


def test_the_site_series_sums_its_servers_and_a_pull_counts_at_both_ends():
    """Each host's counters inverted once, summed into its site; a record whose client is
    itself a counted server (the TPC pgm pull) counts at that server's host too, and a record
    of no known server under its own site."""
    rows = [CounterRow(t, "host", h, int(t * k * 1e6), int(t * k * 2e6), 0, 0, 0, 0, 0)
            for h, k in (("h1", 1), ("h2", 3), ("h3", 2)) for t in (0.0, 60.0, 120.0)]
    recs = [(Rec(h, "", 1, 1, "/a", site, "", "", c, n, 0, 0, 10.0, 100.0, 101.0), h)
            for h, site, c, n in (("h1", "S", "wn", 5e7), ("h2", "S", "h1", 9e7), ("h3", "T", "wn", 3e7), ("hx", "U", "wn", 1e7))]
    site_of = {"h1": "S", "h2": "S", "h3": "T"}
    bins = Bins(0.0, 60.0, 2)
    servers = digest_records(recs, bins, site_of, rows, Overhead()).series(site_of)
    hosts = {h: host_payload([r for r in rows if r.name == h], bins, Overhead()) for h in site_of}
    sites = by_site(servers, site_of)
    assert sorted(sites.nic) == ["S", "T", "U"]
    assert sites.nic["S"] == pytest.approx([a + b for a, b in zip(hosts["h1"], hosts["h2"])])
    assert sites.nic["U"] == [0.0, 0.0]
    # h1: its own 5e7 and h2's pull from it (9e7), over 10–100 s: 5/9 of each in the first bin
    assert servers.monitored["h1"] == pytest.approx([(5e7 + 9e7) * 50 / 90, (5e7 + 9e7) * 40 / 90])
    assert sites.monitored["S"] == pytest.approx([(5e7 + 2 * 9e7) * 50 / 90, (5e7 + 2 * 9e7) * 40 / 90])
    assert sum(sites.monitored["U"]) == pytest.approx(1e7)
    # a pull from a host with no counters counts once
    alone = by_site(digest_records(recs[1:2], bins, {"h2": "S"}, [], Overhead()).series({"h2": "S"}), {"h2": "S"})
    assert sum(alone.monitored["S"]) == pytest.approx(9e7)


def test_spread_whole_gives_whole_bytes_that_add_up_and_follow_spread():
    bins = Bins(1000.0, 600.0, 6)
    whole, exact = [0] * 6, [0.0] * 6
    bins.spread_whole(whole, 1100.0, 3000.0, 1_000_003)
    bins.spread(exact, 1100.0, 3000.0, 1_000_003)
    assert sum(whole) == 1_000_003
    assert all(abs(a - b) <= 1.0 for a, b in zip(whole, exact))
    assert whole[0] > 0 and whole[3] > 0 and whole[4] == whole[5] == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 50.0), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 10**6)),
                min_size=1, max_size=30),
       st.lists(st.integers(0, 30), max_size=4))
def test_counters_read_in_rounds_are_the_counters_read_at_once(steps, cuts):
    """``HostCounters`` fed a host's rows in rounds (as a streamed shard does) gives the
    payload ``host_payload`` gives from all of them at once, wraps and resets included."""
    t, rows = 0.0, []
    for dt, tx, rx, mon in steps:
        t += dt
        rows.append(counter(t, "h", tx, rx, mon))
    bins, model = Bins(5.0, 20.0, 6), Overhead()
    series = HostCounters(bins)
    bounds = sorted({0, len(rows), *(min(c, len(rows)) for c in cuts)})
    for a, b in pairwise(bounds):
        for row in rows[a:b]:
            series.add(row)
    assert series.payload(model) == host_payload(rows, bins, model)


def test_counters_out_of_time_order_are_refused():
    series = HostCounters(Bins(0.0, 60.0, 2))
    series.add(counter(60.0, "h", 10, 10))
    with pytest.raises(ValueError, match="after one at 60.0"):
        series.add(counter(30.0, "h", 20, 20))
