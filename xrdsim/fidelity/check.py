"""``run_fidelity``: a scenario's scripted sessions on a real local XRootD (started with the
scenario's monitoring configuration) and in the simulator, both profiled and compared.
``compare`` and ``render_table`` are pure; the real run is the only I/O.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

from xrdsim.errors import UserError
from xrdsim.fidelity.drive import XRDCP, check_clients, files_needed, needs_tpc, run_sessions
from xrdsim.fidelity.profile import SUMMARY, Profile, Received, profile
from xrdsim.fidelity.realserver import Listener, RealServer, monitor_directive, report_directive
from xrdsim.sim import SimConfig, simulate


@dataclass(frozen=True, slots=True)
class Row:
    """One compared property: real and simulated value, same or not."""

    name: str
    real: object
    sim: object
    structural: bool

    @property
    def same(self) -> bool:
        """Whether both runs gave the same value."""
        return self.real == self.sim


@dataclass(frozen=True, slots=True)
class FidelityResult:
    """The rows of one check, the server version it ran against, and the raw datagrams."""

    rows: list[Row]
    version: str
    real: list[Received]
    sim: list[Received]
    span_s: float

    @property
    def structural_differences(self) -> list[Row]:
        """Rows that fail the check."""
        return [r for r in self.rows if r.structural and not r.same]


def script_config(cfg: SimConfig) -> SimConfig:
    """Only the scripted sessions of ``cfg`` (no generated jobs, no faults): what both runs play."""
    sessions = cfg.workload.sessions
    if not sessions:
        raise UserError("the scenario has no scripted sessions (workload.sessions) for a fidelity check")
    if any(s.site or s.server or any(st.source_site or st.source_server for st in s.steps) for s in sessions):
        raise UserError("workload.sessions: the fidelity check runs one real server: use site 0, server 0 (a TPC pulls from it too)")
    wl = dataclasses.replace(cfg.workload, jobs_per_hour=0.0, scripted=[], sessions=sessions)
    return dataclasses.replace(cfg, workload=wl, faults=[], sites=cfg.sites[:1], site_count=1, servers_per_site=1)


def dest_names(cfg: SimConfig) -> list[str]:
    """``dest0``, ``dest1`` … and ``summary`` when ``xrd.report`` is configured."""
    return [f"dest{i}" for i in range(len(cfg.monitor.dests))] + ([SUMMARY] if cfg.report.host else [])


def settle_s(cfg: SimConfig) -> float:
    """How long after the last session both runs go on: every timer fires twice."""
    return 2 * max(cfg.monitor.flush_s, cfg.monitor.fstat_s or 0, cfg.monitor.window_s, cfg.report.every_s if cfg.report.host else 0) + 1


def server_directives(cfg: SimConfig) -> list[str]:
    """Server directives the script needs besides monitoring: ``ofs.tpc`` for TPC steps
    (xrdcp ``-f``: the destination file exists when the copy starts), the site's enoent
    redirect."""
    out = []
    if needs_tpc(cfg.workload.sessions):
        out.append(f"ofs.tpc pgm {XRDCP} -f")
    rule = cfg.sites[0].enoent_redirect if cfg.sites else None
    if rule is not None and rule.paths:
        out.append(f"xrootd.redirect {rule.host}:{rule.port} enoent {' '.join(rule.paths)}")
    return out


def run_real(cfg: SimConfig, seed: int) -> tuple[list[Received], float]:
    """Play the sessions on a real server; its datagrams (times from its start) and the span."""
    sessions = cfg.workload.sessions
    check_clients(sessions)
    names = dest_names(cfg)
    listener = Listener(len(names))
    site = cfg.sites[0].name if cfg.sites else "SITE"
    directives = [monitor_directive(cfg.monitor, listener.ports[: len(cfg.monitor.dests)])]
    if cfg.report.host:
        directives.append(report_directive(cfg.report, listener.ports[-1]))
    directives += server_directives(cfg)
    srv = RealServer(site or "SITE", directives, http=any(s.proto != "xroot" for s in sessions))
    rng = random.Random(f"{seed}:fidelity-files")
    try:
        for lfn, size in files_needed(sessions).items():
            srv.put_file(lfn, rng.randbytes(size))
        srv.start()
        t0 = time.time()
        run_sessions(srv, sessions, t0)
        time.sleep(settle_s(cfg))
        span = time.time() - t0
    finally:
        capture = listener.close()
        srv.cleanup()
    return [(t - t0, d, p) for t, d, p in capture.items], span


def run_sim(cfg: SimConfig, span: float) -> list[Received]:
    """Simulate the same sessions for ``span`` seconds; datagrams by destination index."""
    run = simulate(dataclasses.replace(cfg, duration_s=max(1.0, span), step_s=max(1.0, span)))
    out, index = [], {}
    for d in run.datagrams():
        if not index:
            index = {addr: i for i, addr in enumerate(run.servers[0].src)}
        out.append((d.t_send, index[d.src], d.payload))
    return out


def compare(real: Profile, sim: Profile) -> list[Row]:
    """Every property of either profile, real value beside simulated."""
    names = list(real.props) + [n for n in sim.props if n not in real.props]
    rows = []
    for n in names:
        a, b = real.props.get(n), sim.props.get(n)
        structural = (a or b).structural  # type: ignore[union-attr]
        rows.append(Row(n, a.value if a else "(absent)", b.value if b else "(absent)", structural))
    return rows


def run_fidelity(cfg: SimConfig, seed: int, real: tuple[list[Received], float] | None = None) -> FidelityResult:
    """The whole check of ``cfg``'s scripted sessions: against a real server started here,
    or against ``real``, the (datagrams, span) of one run before (``read_capture``)."""
    cfg = script_config(cfg)
    real, span = real if real is not None else run_real(cfg, seed)
    sim = run_sim(cfg, span)
    names = dest_names(cfg)
    version = cfg.sites[0].xrootd_version if cfg.sites else ""
    return FidelityResult(compare(profile(real, names), profile(sim, names)), version, real, sim, span)


def write_capture(path: str | Path, real: list[Received], span_s: float) -> None:
    """The real run's datagrams as JSON lines (``{"span_s"}`` first, then ``{"t", "dest",
    "hex"}``): what ``read_capture`` gives back, for comparisons without a server."""
    lines = [json.dumps({"span_s": round(span_s, 3)})]
    lines += [json.dumps({"t": round(t, 4), "dest": d, "hex": p.hex()}) for t, d, p in real]
    Path(path).write_text("\n".join(lines) + "\n")


def read_capture(path: str | Path) -> tuple[list[Received], float]:
    """(datagrams, span) of a file ``write_capture`` wrote."""
    try:
        rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
        return [(r["t"], r["dest"], bytes.fromhex(r["hex"])) for r in rows[1:]], float(rows[0]["span_s"])
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise UserError(f"{path}: not a fidelity capture: {exc}") from None


def _short(value: object, width: int) -> str:
    text = str(value).replace("|", "/").replace("\n", "⏎")
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(rows: list[Row], width: int = 60) -> str:
    """The Markdown table of the rows: property, real, simulator, verdict."""
    lines = ["| property | real | simulator | verdict |", "|---|---|---|---|"]
    for r in rows:
        verdict = "same" if r.same else ("DIFFERENT" if r.structural else "differs (not structural)")
        lines.append(f"| {r.name} | {_short(r.real, width)} | {_short(r.sim, width)} | {verdict} |")
    return "\n".join(lines)


def render_differences(rows: list[Row]) -> str:
    """Each structural difference in full, real then simulated."""
    out = []
    for r in rows:
        if r.structural and not r.same:
            out.append(f"{r.name}:\n  real: {r.real}\n  sim:  {r.sim}")
    return "\n".join(out)


__all__ = ["FidelityResult", "Row", "compare", "dest_names", "read_capture", "render_differences", "render_table", "run_fidelity",
           "run_real", "run_sim", "script_config", "server_directives", "settle_s", "write_capture"]
