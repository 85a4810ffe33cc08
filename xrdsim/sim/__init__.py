"""The SimPy model of XRootD sites emitting wire-exact monitoring, with exact truth.

``simulate(SimConfig(...))`` returns a ``SimRun`` whose ``datagrams()`` (or, through the
path faults, ``delivered()``) yields ``Datagram``s lazily while ``run.truth`` fills up.
Spec: shared/spec/xrootd-monitoring-format.md §1–§8.
"""

from xrdsim.sim.config import (
    ConfigError,
    DestConfig,
    DestEvent,
    EnoentRedirect,
    FaultConfig,
    FaultKind,
    JobConfig,
    MonitorConfig,
    NicConfig,
    OutageConfig,
    PathConfig,
    ReportConfig,
    SessionConfig,
    SimConfig,
    SiteConfig,
    StepConfig,
    WorkloadConfig,
    check_config,
    check_session,
    wlcg_monitor,
)
from xrdsim.sim.nic import ack_wire_bytes, retrans_wire_bytes, tcp_wire_bytes, udp_wire_bytes
from xrdsim.sim.run import SimRun, simulate
from xrdsim.sim.truth import CounterRow, DatagramRow, FaultRow, TransferRow, Truth

__all__ = [
    "ConfigError",
    "CounterRow",
    "DatagramRow",
    "DestConfig",
    "DestEvent",
    "EnoentRedirect",
    "FaultConfig",
    "FaultKind",
    "FaultRow",
    "JobConfig",
    "MonitorConfig",
    "NicConfig",
    "OutageConfig",
    "PathConfig",
    "ReportConfig",
    "SessionConfig",
    "SimConfig",
    "SimRun",
    "SiteConfig",
    "StepConfig",
    "TransferRow",
    "Truth",
    "WorkloadConfig",
    "ack_wire_bytes",
    "check_config",
    "check_session",
    "retrans_wire_bytes",
    "simulate",
    "tcp_wire_bytes",
    "udp_wire_bytes",
    "wlcg_monitor",
]
