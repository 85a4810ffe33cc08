"""The outcome of validating one capture: options in, comparisons, verdicts, findings, records
and the collector's counters out. Value types only; computes nothing beyond pass/fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from collector import CollectorConfig, CollectorReport, TransferRecord
from replay import CaptureStats
from xrdsim.netmodel import NetworkModel
from xrdsim.score import Bins, Verdict
from xrdsim.validation.compare import Comparison
from xrdsim.validation.findings import Finding
from xrdsim.validation.servers import ServerFacts

#: The calibrated network model (``xrdsim.netmodel``): Ethernet 14 + IP 20 + TCP 32 per packet,
#: what Linux interface counters count, and the pure-ACK rate of real 5.5.3 TCP; the simulator's
#: default ``nic`` is the same model, so its counters validate with the defaults.
ETHERNET_OVERHEAD = NetworkModel()


@dataclass(frozen=True, slots=True)
class ValidateOptions:
    """How to validate: ``data_ports`` (empty: from the idents), the network side from
    ``counters`` or from ``tcp_capture`` (default: the capture itself), ``monitor_ports`` (empty:
    every UDP port), bin width, tolerance on |1 − ratio|, ``allowance``: bytes per request (one
    transfer) allowed on top of it for protocol requests and replies, counter ``interfaces``
    (empty: all but loopback), the overhead model for counters and the collector's policies."""

    data_ports: tuple[int, ...] = ()
    counters: str | None = None
    tcp_capture: str | None = None
    monitor_ports: tuple[int, ...] = ()
    bin_s: float = 60.0
    tolerance: float = 0.005
    allowance: float = 1024.0
    interfaces: tuple[str, ...] = ()
    overhead: NetworkModel = ETHERNET_OVERHEAD
    collector: CollectorConfig = field(default_factory=CollectorConfig)


@dataclass(frozen=True, slots=True)
class ReportSubject:
    """What the report writers of ``xrdsim.report`` read as ``result.scenario``: its name."""

    name: str


@dataclass(slots=True)
class Validation:
    """A validated capture. ``passed`` when every verdict (one per subject and direction with
    traffic) holds; ``phases`` are wall seconds; ``data_ports`` maps each port to its source."""

    name: str
    capture: str
    options: ValidateOptions
    method: str
    bins: Bins
    servers: list[ServerFacts]
    comparisons: list[Comparison]
    verdicts: list[Verdict]
    findings: list[Finding]
    records: list[TransferRecord]
    report: CollectorReport
    capture_stats: CaptureStats
    data_ports: dict[int, str]
    socket_labels: dict[str, str]
    span: tuple[float, float]
    phases: dict[str, float] = field(default_factory=dict)
    out_dir: Path | None = None

    @property
    def failures(self) -> list[Verdict]:
        """The verdicts that failed."""
        return [v for v in self.verdicts if not v.passed]

    @property
    def passed(self) -> bool:
        """True when no verdict failed."""
        return not self.failures

    @property
    def scenario(self) -> ReportSubject:
        """The run's name as the shared report writers (JUnit) expect it."""
        return ReportSubject(self.name)

    @property
    def worst(self) -> float:
        """The largest |1 − ratio| over the verdicts (NaN without any)."""
        return max((abs(1.0 - v.value) for v in self.verdicts), default=math.nan)


__all__ = ["ETHERNET_OVERHEAD", "ReportSubject", "ValidateOptions", "Validation"]
