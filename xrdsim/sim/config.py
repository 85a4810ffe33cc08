"""Frozen scenario settings of the simulator, with XRootD's own defaults (spec §1.2, §1.5).

Plain dataclasses only: ``xrdsim.scenario`` fills them by reflection from YAML (field
names are the keys; ``*_s`` durations, ``*_bytes`` sizes, ``*_bps`` rates). No validation
here beyond ``check_config``, which raises one-line ``ConfigError``s naming the key.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from xrdsim.errors import UserError
from xrdsim.net import OutageConfig, PathConfig
from xrdsim.netmodel import AckPolicy, Framing, NetModelError, NetworkModel
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
    SERVER_SILENT = "server_silent"  # one server's monitoring lost on the path (a firewall)
    LOSS_BURST = "loss_burst"  # one server's path loses a share of its monitoring for a while
    CONFIG_DRIFT = "config_drift"  # a restart with monitoring events dropped (``drop``)


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
class EnoentRedirect:
    """``xrootd.redirect host:port enoent path…``: the data servers send a client that opens a
    missing file under one of ``paths`` to ``host:port`` (REDLOCAL in the r-stream)."""

    host: str = ""
    port: int = 1094
    paths: list[str] = field(default_factory=list)

    def covers(self, lfn: str) -> bool:
        """Whether a missing ``lfn`` is redirected (XRootD matches path prefixes)."""
        return any(lfn.startswith(p) for p in self.paths)


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
    xrootd_version: str = "v5.8.4"
    data_port: int = 1094
    instance: str = "anon"
    nic_bps: float = 10e9
    weight: float = 1.0
    enoent_redirect: EnoentRedirect | None = None


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


#: Steps a scripted session may take, and the protocols it may speak.
STEP_OPS = ("open", "read", "readv", "write", "sleep", "sendinfo", "close", "kill", "tpc", "get", "put")
SESSION_PROTOCOLS = ("xroot", "http", "https")
OPEN_MODES = ("read", "write", "create", "update")


@dataclass(frozen=True, slots=True)
class StepConfig:
    """One step of a scripted session (``op`` names it; other fields as the op needs).

    ``open`` ``lfn`` in ``mode`` (read: an existing file of ``size_bytes``; create/write: a
    new one); ``read``/``write`` ``size_bytes`` at ``offset_bytes`` of the file opened last;
    ``readv`` the ``[offset, length]`` pairs of ``segments``; ``sleep`` ``duration_s`` idle;
    ``sendinfo`` ``text`` (kXR_set monitor info); ``close`` the file opened last; ``kill``
    the client dies with its files open. An ``open`` with ``exists: false`` asks for a file the
    server does not have: it fails (no file becomes current), redirected when the site's
    ``enoent_redirect`` covers it. ``tpc`` is ``xrdcp --tpc only`` run by the client: this
    session's server pulls ``source_lfn`` (``size_bytes`` long; default ``lfn``) of server
    ``source_server`` of site ``source_site`` into ``lfn`` with ``ofs.tpc pgm xrdcp``, on
    connections of its own. HTTP: ``get`` the whole ``lfn`` (``size_bytes`` long), ``put``
    ``size_bytes`` to ``lfn``: one connection each.
    """

    op: str = "read"
    lfn: str = ""
    mode: str = "read"
    offset_bytes: int = 0
    size_bytes: int = 0
    segments: list[list[int]] = field(default_factory=list)
    duration_s: float = 0.0
    text: str = ""
    exists: bool = True
    source_lfn: str = ""
    source_site: int = 0
    source_server: int = 0


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """A client session as a list of steps, starting ``at_s`` on ``server`` of ``site``.

    ``proto`` xroot, http or https; ``auth`` the client authenticates (DN, VO in ``u``);
    ``app`` the ``x=`` of the xroot login; ``client_release`` its ``&R=`` ('' = the server's
    version, the client library the real check drives comes with the server).
    """

    at_s: float = 0.0
    site: int = 0
    server: int = 0
    proto: str = "xroot"
    auth: bool = False
    ipv6: bool = False
    app: str = "xrdcp"
    client_release: str = ""
    steps: list[StepConfig] = field(default_factory=list)


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
    sessions: list[SessionConfig] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NicConfig:
    """The network model (``xrdsim.netmodel``: headers, pure ACKs, retransmissions, protocol
    framing; defaults calibrated on real 5.5.3 TCP) and the counter sampling."""

    mtu: int = 1500
    tcp_header_bytes: int = 52
    link_header_bytes: int = 14
    ack: AckPolicy = field(default_factory=AckPolicy)
    retrans_rate: float = 0.0
    framing: Framing = field(default_factory=Framing)
    background_bps: float = 0.0
    sample_s: float = 60.0
    wrap32: bool = False

    def model(self) -> NetworkModel:
        """The one network model these parameters describe (NetModelError when they describe none)."""
        return NetworkModel(self.mtu, self.tcp_header_bytes, self.link_header_bytes, self.ack, self.retrans_rate, self.framing)


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """One injected fault; ``target`` is a server host or site name ('' = chosen by seed).

    ``fraction``: the share of crashing jobs (client_crash) or of lost datagrams
    (loss_burst); ``drop``: the ``xrootd.monitor`` dest events a config_drift restart
    comes back without (``user``: no u maps, so no DN; ``fstat``: no f-stream).
    """

    kind: FaultKind = FaultKind.SERVER_RESTART
    at_s: float = 0.0
    duration_s: float = 0.0
    target: str = ""
    skew_s: float = 0.0
    fraction: float = 1.0
    detect_s: float = 60.0
    reboot: bool = False
    drop: list[DestEvent] = field(default_factory=list)


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


#: Bounds of what a scenario may ask for on one machine (issue: values that cannot run).
MAX_SITES = 100_000
MAX_SERVERS_PER_SITE = 10_000
MAX_DURATION_S = 366 * 86400.0
MIN_INTERVAL_S = 0.001


def check_config(cfg: SimConfig) -> None:
    """Raise ``ConfigError`` (one line: key, accepted values, found) for unusable values."""
    _need(0 < cfg.duration_s <= MAX_DURATION_S, "duration_s", f"a positive duration of at most {MAX_DURATION_S / 86400:.0f} days", cfg.duration_s)
    _need(cfg.sites or 1 <= cfg.site_count <= MAX_SITES, "site_count", f"1..{MAX_SITES} sites", cfg.site_count)
    _need(1 <= cfg.servers_per_site <= MAX_SERVERS_PER_SITE, "servers_per_site", f"1..{MAX_SERVERS_PER_SITE}", cfg.servers_per_site)
    mon = cfg.monitor
    # an interval shorter than a millisecond would schedule billions of timer events
    for name in ("flush_s", "window_s", "ident_s", "fstat_s", "flush_io_s"):
        value = getattr(mon, name)
        _need(math.isfinite(value) and (value == 0 and name in ("fstat_s", "flush_io_s") or value >= MIN_INTERVAL_S),
              f"monitor.{name}", f"at least {MIN_INTERVAL_S} s" + (" (or 0: off)" if name in ("fstat_s", "flush_io_s") else ""), value)  # fmt: skip
    _need(cfg.report.every_s >= MIN_INTERVAL_S, "report.every_s", f"at least {MIN_INTERVAL_S} s", cfg.report.every_s)
    _need(cfg.step_s >= MIN_INTERVAL_S, "step_s", f"at least {MIN_INTERVAL_S} s", cfg.step_s)
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
    try:
        cfg.nic.model()
    except NetModelError as exc:
        raise ConfigError(str(exc)) from None
    _need(cfg.nic.sample_s > 0, "nic.sample_s", "a positive duration", cfg.nic.sample_s)
    _need(cfg.step_s > 0, "step_s", "a positive duration", cfg.step_s)
    for i, job in enumerate(cfg.workload.scripted):
        _need(job.op in JOB_OPS, f"workload.scripted[{i}].op", "one of " + ", ".join(JOB_OPS), job.op)
    for i, ses in enumerate(cfg.workload.sessions):
        check_session(ses, f"workload.sessions[{i}]")


def check_session(ses: SessionConfig, key: str) -> None:
    """Raise ``ConfigError`` for a session whose protocol, steps or modes cannot run."""
    _need(ses.proto in SESSION_PROTOCOLS, f"{key}.proto", "one of " + ", ".join(SESSION_PROTOCOLS), ses.proto)
    http = ses.proto != "xroot"
    for j, step in enumerate(ses.steps):
        at = f"{key}.steps[{j}]"
        _need(step.op in STEP_OPS, f"{at}.op", "one of " + ", ".join(STEP_OPS), step.op)
        allowed = ("get", "put", "sleep") if http else tuple(o for o in STEP_OPS if o not in ("get", "put"))
        _need(step.op in allowed, f"{at}.op", f"one of {', '.join(allowed)} for {ses.proto}", step.op)
        _need(step.mode in OPEN_MODES, f"{at}.mode", "one of " + ", ".join(OPEN_MODES), step.mode)
        _need(step.op not in ("open", "get", "put", "tpc") or step.lfn.startswith("/"), f"{at}.lfn", "an absolute path", step.lfn)
        _need(not step.source_lfn or step.source_lfn.startswith("/"), f"{at}.source_lfn", "an absolute path", step.source_lfn)
        _need(step.exists or (step.op == "open" and step.mode == "read"), f"{at}.exists", "false only for an open in mode read", step.exists)
        _need(all(len(s) == 2 and min(s) >= 0 for s in step.segments), f"{at}.segments", "[offset, length] pairs", step.segments)
        _need(step.op != "readv" or bool(step.segments), f"{at}.segments", "at least one segment", step.segments)


#: Operations a scripted job may name.
JOB_OPS = ("read", "partial", "readv", "write")

__all__ = [
    "ConfigError",
    "DestConfig",
    "DestEvent",
    "EnoentRedirect",
    "FaultConfig",
    "FaultKind",
    "JobConfig",
    "MonitorConfig",
    "NicConfig",
    "OutageConfig",
    "PathConfig",
    "ReportConfig",
    "SessionConfig",
    "SimConfig",
    "SiteConfig",
    "StepConfig",
    "WorkloadConfig",
    "check_config",
    "check_session",
    "wlcg_monitor",
]
