"""xrdsim.net: each path fault against hand-built datagrams and values worked out by hand."""

from __future__ import annotations

import random

from xrdsim.datagram import Datagram
from xrdsim.net import Fate, OutageConfig, Path, PathConfig, fragment_count


def stream(n: int = 200, size: int = 100, dt: float = 0.01) -> list[Datagram]:
    return [Datagram(i * dt, ("10.0.0.1", 1000), ("10.0.0.2", 9930), bytes([i % 256]) * size, None, i) for i in range(n)]


def carry(cfg: PathConfig, dgrams: list[Datagram], seed: int = 1) -> tuple[list[Datagram], list[tuple[int, Fate, str]]]:
    fates: list[tuple[int, Fate, str]] = []
    out = list(Path(cfg, random.Random(seed), lambda i, f, c: fates.append((i, f, c))).carry(dgrams))
    return out, fates


def test_fragment_count_follows_ipv4_fragment_sizes():
    # 1500 MTU: 1480 bytes of IP payload per fragment; UDP adds 8.
    assert fragment_count(1472, 1500) == 1
    assert fragment_count(1473, 1500) == 2
    assert fragment_count(65472, 1500) == 45  # ceil(65480 / 1480)
    assert fragment_count(100, 576) == 1


def test_clean_path_delivers_everything_in_order_with_the_delay():
    out, fates = carry(PathConfig(delay_s=0.002), stream(50))
    assert [d.ident for d in out] == list(range(50))
    assert all(abs(d.t_arrival - d.t_send - 0.002) < 1e-12 for d in out)
    assert {f for _, f, _ in fates} == {Fate.DELIVERED}


def test_total_loss_delivers_nothing_and_records_every_loss():
    out, fates = carry(PathConfig(loss=1.0), stream(30))
    assert out == []
    assert [(i, f, c) for i, f, c in fates] == [(i, Fate.LOST, "iid") for i in range(30)]


def test_duplication_delivers_each_datagram_twice():
    out, fates = carry(PathConfig(duplicate=1.0), stream(20))
    assert sorted(d.ident for d in out) == sorted(list(range(20)) * 2)
    assert all(f is Fate.DUPLICATED for _, f, _ in fates)


def test_iid_loss_rate_is_near_the_setting():
    out, _ = carry(PathConfig(loss=0.1), stream(5000))
    assert 0.08 < 1 - len(out) / 5000 < 0.12


def test_fragment_loss_spares_single_fragment_datagrams():
    small, _ = carry(PathConfig(fragment_loss=0.5), stream(300, size=1000))
    big, fates = carry(PathConfig(fragment_loss=0.5), stream(300, size=6000))
    assert len(small) == 300
    # 5 fragments each: P(all arrive) = 0.5**5 ≈ 3 %.
    assert len(big) < 30
    assert {c for _, f, c in fates if f is Fate.LOST} == {"fragment"}


def test_outage_window_loses_exactly_the_datagrams_sent_inside_it():
    out, fates = carry(PathConfig(outages=[OutageConfig(0.5, 1.0)]), stream(200))
    lost = sorted(i for i, f, _ in fates if f is Fate.LOST)
    assert lost == list(range(50, 100))
    assert len(out) == 150


def test_reordering_delivers_in_arrival_order_not_send_order():
    out, _ = carry(PathConfig(reorder=0.2, reorder_delay_s=0.05), stream(300))
    idents = [d.ident for d in out]
    assert sorted(idents) == list(range(300)) and idents != list(range(300))
    assert [d.t_arrival for d in out] == sorted(d.t_arrival for d in out)


def test_truncation_shortens_and_corruption_flips_one_byte():
    cut, _ = carry(PathConfig(truncate=1.0), stream(50))
    assert all(0 < len(d.payload) < 100 for d in cut)
    bad, fates = carry(PathConfig(corrupt=1.0), stream(50))
    for d in bad:
        assert sum(a != b for a, b in zip(d.payload, bytes([d.ident % 256]) * 100)) == 1
    assert all(f is Fate.CORRUPTED for _, f, _ in fates)


def test_gilbert_elliott_losses_come_in_bursts():
    out, fates = carry(PathConfig(burst_enter=0.01, burst_leave=0.2, burst_loss=1.0), stream(20000))
    lost = [i for i, f, _ in fates if f is Fate.LOST]
    runs = sum(1 for a, b in zip([-2] + lost, lost) if b != a + 1)
    # mean burst length 1/leave = 5; iid loss at the same rate would give runs ≈ losses.
    assert 3.5 < len(lost) / runs < 7


def test_same_seed_same_fates_other_seed_other_fates():
    cfg = PathConfig(loss=0.2, duplicate=0.1, reorder=0.1, jitter_s=0.01)
    a, b, c = (carry(cfg, stream(500), seed)[1] for seed in (7, 7, 8))
    assert a == b and a != c
