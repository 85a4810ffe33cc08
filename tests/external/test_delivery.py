"""Wire-faithful delivery: one loopback alias and source port per simulated server, the
summary stream on its own port, a clock from wall time back to simulated time."""

from __future__ import annotations

import socket

from xrdsim.datagram import Datagram
from xrdsim.external.delivery import AddressPlan, Ports, Sender, SimClock, udp_bound, udp_queue
from xrdsim.score.loss import loss_rows


class Quiet:
    def show(self, *args, **kwargs) -> None:
        pass


def test_each_server_is_sent_from_its_own_alias_and_port_and_the_summary_to_its_port():
    detailed, summary = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    for s in (detailed, summary):
        s.bind(("127.0.0.1", 0))
        s.settimeout(2)
    ports = Ports(detailed.getsockname()[1], summary.getsockname()[1], summary_sim=9931)
    assert udp_bound(ports.detailed) and udp_bound(ports.summary)
    plan = AddressPlan.probe()
    sender = Sender(ports, 0, plan)
    stream = [Datagram(1.0, ("10.0.1.2", 41001), ("198.18.0.1", 9930), b"f1", 1.0),
              Datagram(2.0, ("10.0.1.3", 41002), ("198.18.0.1", 9930), b"f2", 2.0),
              Datagram(3.0, ("10.0.1.2", 41003), ("198.18.0.1", 9931), b"<x/>", 3.0)]  # fmt: skip
    sender.send(stream, 1_700_000_000.0, Quiet())
    got = [detailed.recvfrom(100), detailed.recvfrom(100)]
    (xml, src_xml) = summary.recvfrom(100)
    sender.close()
    if plan.aliases:
        assert [src for _, src in got] == [("127.0.1.2", 41001), ("127.0.1.3", 41002)]
        assert plan.to_simulated("127.0.1.3") == "10.0.1.3"
    else:  # no aliases on this system: distinct ports at least
        assert len({src for _, src in got}) == 2
    assert xml == b"<x/>" and [p for p, _ in got] == [b"f1", b"f2"]
    queue = udp_queue({ports.detailed})
    assert queue is None or queue.queued == 0  # everything was read
    detailed.close()
    summary.close()


def test_colliding_addresses_get_distinct_aliases():
    plan = AddressPlan(aliases=True)
    a, b, c = plan.local_ip("10.0.1.2"), plan.local_ip("172.0.1.2"), plan.local_ip("10.0.0.7")
    assert len({a, b, c}) == 3 and "127.0.0.1" not in {a, b, c} and all(x.startswith("127.") for x in (a, b, c))
    assert plan.local_ip("10.0.1.2") == a and plan.to_simulated(b) == "172.0.1.2"


def test_the_sim_clock_is_the_last_datagram_time_then_the_end():
    clock = SimClock()
    assert clock.at(0.0) is None
    clock.mark(100.0)
    wall = clock.walls[-1]
    clock.mark(200.0)
    assert clock.at(wall) in (100.0, 200.0) and clock.at(clock.walls[-1] + 1e-9) == 200.0
    clock.finish(900.0)
    assert clock.at(clock.end_wall + 1) == 900.0


def test_a_per_server_estimate_is_compared_with_the_truth_summed_per_server():
    from types import SimpleNamespace as NS

    datagrams = [NS(server="s1", code="f", fate="lost"), NS(server="s1", code="u", fate="lost"), NS(server="s1", code="u", fate="delivered")]
    rows = loss_rows(datagrams, [NS(server_key="prometheus:127.0.1.2", socket="s1:0", group="*", lost=2)], lambda g: g.socket[:-2])
    assert [(r.server, r.group, r.sent, r.lost, r.estimated) for r in rows] == [("s1", "*", 3, 2, 2)]
