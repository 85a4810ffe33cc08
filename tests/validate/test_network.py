"""Which TCP endpoints belong to which monitored server: by sender IP and data port, by port alone
when the server's data flows over another address, never for peers of another port or IP."""

from __future__ import annotations

from replay import Direction, EndpointBytes
from xrdsim.validation.network import attribute, match_host
from xrdsim.validation.servers import ServerFacts


def endpoint(ip: str, port: int, direction: Direction = Direction.IN, n: int = 100) -> EndpointBytes:
    return EndpointBytes((ip, port), direction, n, 1, 0, 0, ((0.0, n),))


def server(label: str, ips: set[str], port: int) -> ServerFacts:
    return ServerFacts(label, label.split(":")[0], port, ips=ips)


def test_endpoints_go_to_the_server_of_their_ip_and_port():
    a, b = server("a:1094", {"10.0.0.1"}, 1094), server("b:1094", {"10.0.0.2"}, 1094)
    mine, left = attribute([endpoint("10.0.0.1", 1094), endpoint("10.0.0.2", 1094), endpoint("10.0.0.3", 1094)], [a, b])
    assert [e.server for e in mine["a:1094"]] == [("10.0.0.1", 1094)]
    assert [e.server for e in mine["b:1094"]] == [("10.0.0.2", 1094)]
    assert [e.server for e in left] == [("10.0.0.3", 1094)]  # a third server without monitoring, or a TPC peer


def test_a_server_whose_data_flows_over_ipv6_takes_its_port():
    a = server("a:1094", {"10.0.0.1"}, 1094)
    mine, left = attribute([endpoint("2001:db8::1", 1094), endpoint("2001:db8::1", 1094, Direction.OUT)], [a])
    assert len(mine["a:1094"]) == 2 and not left


def test_tpc_peers_stay_unattributed_when_the_server_has_its_own_endpoint():
    a = server("a:1094", {"10.0.0.1"}, 1094)
    mine, left = attribute([endpoint("10.0.0.1", 1094), endpoint("192.0.2.77", 1094, Direction.OUT)], [a])
    assert [e.server for e in mine["a:1094"]] == [("10.0.0.1", 1094)] and [e.server for e in left] == [("192.0.2.77", 1094)]


def test_counter_hosts_match_by_name_short_name_or_ip():
    a = ServerFacts("xrd1.example.org:1094", "xrd1.example.org", 1094, ips={"10.0.0.1"})
    assert match_host("xrd1.example.org", [a]) == [a]
    assert match_host("xrd1", [a]) == [a]
    assert match_host("10.0.0.1", [a]) == [a]
    assert match_host("xrd2.example.org", [a]) == [] and match_host("10.0.0.2", [a]) == []
