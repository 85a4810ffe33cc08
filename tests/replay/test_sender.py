"""replay.sender and replay.schedule: delivery over loopback, and the schedule arithmetic driven
by a fake clock (no real waiting)."""

from __future__ import annotations

import math
import socket
import threading

import pytest

from replay import dry_run, replay
from xrdsim.datagram import Datagram


def at(*times: float, size: int = 10) -> list[Datagram]:
    return [Datagram(100.0 + t, ("10.0.0.1", 1094), ("10.0.0.2", 9930), i.to_bytes(4, "big") * (size // 4)) for i, t in enumerate(times)]


class FakeTime:
    """A clock that only moves when slept on (plus ``oversleep_s`` per sleep, as real sleeps do)."""

    def __init__(self, oversleep_s: float = 0.0) -> None:
        self.now = 50.0
        self.oversleep_s = oversleep_s
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds + self.oversleep_s


@pytest.fixture
def sink():
    """The address of a UDP socket on 127.0.0.1:0 that nobody reads (for fake-clock runs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        yield rx.getsockname()


@pytest.fixture
def receiver():
    """A UDP socket on 127.0.0.1:0 and a thread collecting what it receives until 0.5 s of silence."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(0.5)
        got: list[bytes] = []

        def drain():
            try:
                while True:
                    got.append(rx.recv(65536))
            except TimeoutError:
                pass

        thread = threading.Thread(target=drain, daemon=True)
        thread.start()
        yield rx.getsockname(), got, thread
        thread.join()


def test_replay_delivers_every_datagram_in_order(receiver):
    address, got, thread = receiver
    items = at(*(i * 1e-3 for i in range(500)), size=200)
    report = replay(items, address, speed=20)
    thread.join()
    assert got == [d.payload for d in items]
    assert (report.sent, report.bytes_sent, report.send_errors) == (500, 500 * 200, 0)
    assert 0.5 / 20 * 0.9 < report.wall_s < 5


def test_replay_to_ipv6_loopback():
    try:
        rx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        rx.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    with rx:
        rx.settimeout(2)
        report = replay(at(0, 0.001), ("::1", rx.getsockname()[1]), speed=math.inf)
        assert [rx.recv(100), rx.recv(100)] == [d.payload for d in at(0, 0.001)]
    assert report.sent == 2


def test_speed_divides_the_original_gaps(sink):
    fake = FakeTime()
    report = replay(at(0, 1, 3, 6), sink, speed=10, clock=fake.clock, sleep=fake.sleep)
    assert fake.sleeps == pytest.approx([0.1, 0.2, 0.3])
    assert report.wall_s == pytest.approx(0.6) and report.lateness_max_s == pytest.approx(0)


def test_rate_gives_fixed_spacing_whatever_the_times(sink):
    fake = FakeTime()
    replay(at(0, 0, 5, 5.5, 100), sink, rate_pps=4, clock=fake.clock, sleep=fake.sleep)
    assert fake.sleeps == pytest.approx([0.25] * 4)


def test_loop_starts_the_next_pass_one_mean_gap_later(sink):
    fake = FakeTime()
    report = replay(at(0, 1, 2), sink, loop=2, clock=fake.clock, sleep=fake.sleep)
    assert fake.sleeps == pytest.approx([1.0] * 5)
    assert report.sent == 6


def test_lateness_is_measured_against_the_schedule(sink):
    fake = FakeTime(oversleep_s=0.004)
    report = replay(at(0, 1, 2), sink, clock=fake.clock, sleep=fake.sleep)
    assert fake.sleeps == pytest.approx([1.0, 0.996])  # the second wait makes up for the first's lateness
    assert report.lateness_max_s == pytest.approx(0.004)
    assert report.lateness_mean_s == pytest.approx(0.008 / 3)


def test_send_errors_are_counted_not_raised(sink):
    too_big = Datagram(0.0, ("10.0.0.1", 1), ("10.0.0.2", 2), bytes(70000))
    report = replay([too_big, *at(0)], sink, speed=math.inf)
    assert (report.sent, report.send_errors) == (1, 1)


def test_dry_run_plans_without_sending():
    assert [p.at_s for p in dry_run(at(0, 2, 3), speed=2)] == [0.0, 1.0, 1.5]
    assert [p.at_s for p in dry_run(at(0, 2, 3), speed=math.inf)] == [0.0, 0.0, 0.0]
    assert [p.at_s for p in dry_run(at(7, 8), rate_pps=10, loop=2)] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    planned = list(dry_run(at(0, 1), loop=3))
    assert [p.at_s for p in planned] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert [p.datagram.payload for p in planned] == [d.payload for d in at(0, 1)] * 3


def test_dry_run_uses_arrival_time_when_the_path_set_it():
    moved = [Datagram(0.0, ("a", 1), ("b", 2), b"", t_arrival=5.0), Datagram(1.0, ("a", 1), ("b", 2), b"", t_arrival=9.0)]
    assert [p.at_s for p in dry_run(moved)] == [0.0, 4.0]


@pytest.mark.parametrize("kwargs, match", [({"speed": 0}, "speed"), ({"rate_pps": -1}, "rate_pps"), ({"loop": 0}, "loop")])
def test_bad_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        list(dry_run(at(0), **kwargs))


def test_each_sender_of_the_capture_gets_a_source_port_of_its_own():
    """XRootD's destinations each send from their own socket with their own pseq counter:
    a replay keeps them apart by the source port."""
    senders = [("10.0.0.1", 4001), ("10.0.0.1", 4002), ("10.0.0.7", 4001)]
    items = [Datagram(100.0 + k * 1e-3, senders[k % 3], ("10.0.0.9", 9930), bytes([k])) for k in range(30)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(2.0)
        report = replay(items, rx.getsockname(), speed=math.inf)
        got = [rx.recvfrom(64) for _ in items]
    ports = {payload[0]: src[1] for payload, src in got}
    assert report.senders == 3 and len(set(ports.values())) == 3
    for k in range(30):
        assert ports[k] == ports[k % 3]  # one original sender, one port
