"""Where datagrams come from: live UDP (asyncio), pcap files (via ``replay``), shoveler JSON
lines from a file or stdin. Sources only read bytes and hand them on; they never decode."""

from collector.sources.address import split_hostport
from collector.sources.pcap import pcap_datagrams
from collector.sources.shoveler import ShovelerSource, open_shoveler, parse_shoveler
from collector.sources.udp import UdpSource, proc_udp_drops

__all__ = ["ShovelerSource", "UdpSource", "open_shoveler", "parse_shoveler", "pcap_datagrams", "proc_udp_drops", "split_hostport"]
