"""Frozen scenario settings of the simulator, with XRootD's own defaults (spec §1.2, §1.5).

Plain dataclasses only: ``xrdsim.scenario`` fills them by reflection from YAML (field
names are the keys; ``*_s`` durations, ``*_bytes`` sizes, ``*_bps`` rates). No validation
here beyond ``check_config``, which raises one-line ``ConfigError``s naming the key.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from xrdsim.errors import UserError
from xrdsim.net import OutageConfig, PathConfig
from xrdsim.wire import Dialect


class ConfigError(UserError):
    """A scenario value the simulator cannot use: names the key and the accepted values."""


class DestEvent(enum.Enum):
    """``xrootd.monitor dest`` event keywords (spec §1.2)."""

    FILES = "files"
    IO = "io"
    IOV = "iov"
    FSTAT = "fstat"
    USER = "user"
    INFO = "info"
    REDIR = "redir"
    TPC = "tpc"
    CCM = "ccm"
    PFC = "pfc"
    TCPMON = "tcpmon"
    THROTTLE = "throttle"
    HTTP = "http"


class FaultKind(enum.Enum):
    """Faults injected into the model (path faults live in ``PathConfig``)."""

    SERVER_RESTART = "server_restart"
    CLOCK_SKEW = "clock_skew"
    CLIENT_CRASH = "client_crash"
    COLLECTOR_OUTAGE = "collector_outage"


@dataclass(frozen=True, slots=True)
class DestConfig:
    """One ``dest [events] host:port``; no events means ``files`` (spec §1.2)."""

    host: str = "collector.example.org"
    port: int = 9930
    events: list[DestEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """Every ``xrootd.monitor`` option with XRootD's default (spec §1.2).

    ``fstat_s`` 0 means no f-stream; ``ident_s`` 0 = once at start, negative = ``ident off``.
    ``io_entries_cap`` is the simulator's own knob, not XRootD's: the most READ/WRITE/READV
    entries one transfer adds to the t-stream before runs of requests are aggregated
    (``xrdsim.sim.traceio``).
    """

    all: bool = False
    auth: bool = False
    flush_s: float = 600.0
    flush_io_s: float = 0.0
    fstat_s: float = 0.0
    lfn: bool = False
    ops: bool = False
    ssq: bool = False
    xfr: int = 0
    fbuff_bytes: int = 65472
    gbuff_bytes: int = 32768
    ident_s: float = 3600.0
    mbuff_bytes: int = 16384
    rbuff_bytes: int = 32768
    rnums: int = 3
    window_s: float = 60.0
    dests: list[DestConfig] = field(default_factory=list)
    io_entries_cap: int = 1024


def wlcg_monitor() -> MonitorConfig:
    """What a typical WLCG site configures: f-stream every 60 s with lfn/ops/ssq, xfr 5."""
    events = [DestEvent.FSTAT, DestEvent.USER, DestEvent.INFO, DestEvent.TPC]
    return MonitorConfig(fstat_s=60.0, lfn=True, ops=True, ssq=True, xfr=5, ident_s=300.0, dests=[DestConfig(events=events)])


@dataclass(frozen=True, slots=True)
class ReportConfig:
    """``xrd.report host:port every T [sync]`` (spec §1.5); empty host = no summary reports."""

    host: str = ""
    port: int = 9931
    every_s: float = 600.0
    sync: bool = False


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """One site; empty names and prefixes are generated from the seed."""

    name: str = ""
    tier: int = 2
    country: str = ""
    domain: str = ""
    ipv4_prefix: str = ""
    ipv6_prefix: str = ""
    servers: int = 2
    redirector: bool = False
    worker_nodes: int = 50
    xrootd_version: str = "v5.6.9"
    data_port: int = 1094
    instance: str = "anon"
    nic_bps: float = 10e9
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class JobConfig:
    """One scripted session: at ``at_s`` a client on ``site`` opens ``lfn`` on server ``server``.

    ``op`` is read, write, readv or partial; ``pg`` uses pgread/pgwrite (xrdcp 5.x);
    ``chunk_bytes`` is the size of each request.
    """

    at_s: float = 0.0
    op: str = "read"
    lfn: str = "/file.bin"
    size_bytes: int = 1_000_000
    server: int = 0
    site: int = 0
    pg: bool = False
    chunk_bytes: int = 8 * 1024 * 1024
    duration_s: float = 0.02
    login_s: float = 0.015
    app: str = "xrdcp"


@dataclass(frozen=True, slots=True)
class WorkloadConfig:
    """Job arrivals (Poisson with a daily cycle), access-pattern shares and file sizes."""

    jobs_per_hour: float = 600.0
    daily_amplitude: float = 0.3
    peak_hour: float = 15.0
    full_read: float = 0.45
    partial_read: float = 0.15
    vector_read: float = 0.15
    write: float = 0.15
    session: float = 0.05
    tpc: float = 0.05
    http_share: float = 0.2
    ipv6_share: float = 0.3
    remote_share: float = 0.2
    pg_share: float = 0.5
    auth_share: float = 0.8
    vos: list[str] = field(default_factory=lambda: ["cms", "atlas", "lhcb", "alice", "dteam"])
    users_per_vo: int = 20
    files_per_vo: int = 2000
    median_size_bytes: int = 500_000_000
    size_sigma: float = 1.2
    max_size_bytes: int = 20_000_000_000
    stream_bps: float = 400e6
    block_bytes: int = 1_048_576
    readv_segments: int = 64
    readv_segment_bytes: int = 16384
    session_files: int = 5
    idle_gap_s: float = 120.0
    scripted: list[JobConfig] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NicConfig:
    """The NIC/TCP overhead model and the counter sampling (see ``xrdsim.sim.nic``)."""

    mtu: int = 1500
    tcp_header_bytes: int = 52
    ack_every: int = 2
    retrans_rate: float = 0.0
    background_bps: float = 0.0
    sample_s: float = 60.0
    wrap32: bool = False


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """One injected fault; ``target`` is a server host or site name ('' = chosen by seed)."""

    kind: FaultKind = FaultKind.SERVER_RESTART
    at_s: float = 0.0
    duration_s: float = 0.0
    target: str = ""
    skew_s: float = 0.0
    fraction: float = 1.0
    detect_s: float = 60.0
    reboot: bool = False


@dataclass(frozen=True, slots=True)
class SimConfig:
    """The whole simulation: seed, span, sites, workload, monitoring, NIC, faults, path.

    ``sites`` empty → ``site_count`` sites are generated. Wire times are
    ``start_time + simulated seconds``.
    """

    seed: int = 1
    duration_s: float = 3600.0
    start_time: int = 1_700_000_000
    sites: list[SiteConfig] = field(default_factory=list)
    site_count: int = 1
    servers_per_site: int = 2
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    monitor: MonitorConfig = field(default_factory=wlcg_monitor)
    report: ReportConfig = field(default_factory=ReportConfig)
    dialect: Dialect = Dialect.XROOTD_5
    nic: NicConfig = field(default_factory=NicConfig)
    faults: list[FaultConfig] = field(default_factory=list)
    path: PathConfig = field(default_factory=PathConfig)
    step_s: float = 60.0


def _need(ok: bool, key: str, expected: str, found: object) -> None:
    if not ok:
        raise ConfigError(f"{key}: expected {expected}, got {found!r}")


def check_config(cfg: SimConfig) -> None:
    """Raise ``ConfigError`` (one line: key, accepted values, found) for unusable values."""
    _need(cfg.duration_s > 0, "duration_s", "a positive duration", cfg.duration_s)
    _need(cfg.sites or cfg.site_count >= 1, "site_count", "at least 1 site", cfg.site_count)
    mon = cfg.monitor
    _need(len(mon.dests) <= 2, "monitor.dests", "at most 2 destinations", len(mon.dests))
    _need(1024 <= mon.fbuff_bytes <= 65535, "monitor.fbuff_bytes", "1024..65535", mon.fbuff_bytes)
    _need(1024 <= mon.mbuff_bytes <= 65535, "monitor.mbuff_bytes", "1024..65535", mon.mbuff_bytes)
    _need(mon.window_s > 0, "monitor.window_s", "a positive duration", mon.window_s)
    _need(1024 <= mon.rbuff_bytes <= 65535, "monitor.rbuff_bytes", "1024..65535", mon.rbuff_bytes)
    _need(1 <= mon.rnums <= 8, "monitor.rnums", "1..8", mon.rnums)
    _need(mon.io_entries_cap >= 1, "monitor.io_entries_cap", "at least 1", mon.io_entries_cap)
    _need(mon.fstat_s >= 0 and mon.xfr >= 0, "monitor.fstat_s", "fstat ≥ 0 and xfr ≥ 0", (mon.fstat_s, mon.xfr))
    for i, dest in enumerate(mon.dests):
        for ev in dest.events:
            accepted = ", ".join(e.value for e in DestEvent)
            _need(isinstance(ev, DestEvent) or ev in {e.value for e in DestEvent}, f"monitor.dests[{i}].events", f"one of {accepted}", ev)
    _need(cfg.report.every_s > 0, "report.every_s", "a positive duration", cfg.report.every_s)
    _need(576 <= cfg.nic.mtu <= 65535, "nic.mtu", "576..65535", cfg.nic.mtu)
    _need(cfg.nic.sample_s > 0, "nic.sample_s", "a positive duration", cfg.nic.sample_s)
    _need(cfg.step_s > 0, "step_s", "a positive duration", cfg.step_s)
    for i, job in enumerate(cfg.workload.scripted):
        _need(job.op in JOB_OPS, f"workload.scripted[{i}].op", "one of " + ", ".join(JOB_OPS), job.op)


#: Operations a scripted job may name.
JOB_OPS = ("read", "partial", "readv", "write")

__all__ = [
    "ConfigError",
    "DestConfig",
    "DestEvent",
    "FaultConfig",
    "FaultKind",
    "JobConfig",
    "MonitorConfig",
    "NicConfig",
    "OutageConfig",
    "PathConfig",
    "ReportConfig",
    "SimConfig",
    "SiteConfig",
    "WorkloadConfig",
    "check_config",
    "wlcg_monitor",
]
