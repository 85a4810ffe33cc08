"""Scripted sessions played by real clients against a real server: the XRootD Python
bindings (``client_driver.py`` under the system interpreter) for xroot, ``curl`` for HTTP.
Each session runs in its own thread from its ``at_s``; a ``kill`` step SIGKILLs the client.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from xrdsim.fidelity.realserver import RealServer, RealServerError
from xrdsim.sim import SessionConfig, StepConfig

SYSTEM_PYTHON = "/usr/bin/python3"  # the only interpreter where Debian's python3-xrootd imports
DRIVER = Path(__file__).resolve().parent / "client_driver.py"
XRDCP = "/usr/bin/xrdcp"
#: The driver's open modes: read; create (kXR_new|kXR_delete); update (kXR_open_updt);
#: write (kXR_new|kXR_delete|kXR_open_updt).
MODES = {"read": "r", "create": "w", "write": "W", "update": "u"}


def check_clients(sessions: list[SessionConfig]) -> None:
    """Raise ``RealServerError`` when a client the sessions need is missing."""
    if any(s.proto == "xroot" for s in sessions):
        ok = os.path.exists(SYSTEM_PYTHON) and subprocess.run([SYSTEM_PYTHON, "-c", "import XRootD.client"], capture_output=True).returncode == 0
        if not ok:
            raise RealServerError("the XRootD Python bindings are missing (Debian: apt-get install python3-xrootd)")
    if any(s.proto != "xroot" for s in sessions) and not shutil.which("curl"):
        raise RealServerError("curl is missing (HTTP sessions)")
    if needs_tpc(sessions) and not shutil.which(XRDCP):
        raise RealServerError("xrdcp is missing (TPC steps; Debian: apt-get install xrootd-client)")


def needs_tpc(sessions: list[SessionConfig]) -> bool:
    """Whether a session copies with TPC (the server then needs ``ofs.tpc``)."""
    return any(st.op == "tpc" for sc in sessions for st in sc.steps)


def xroot_ops(srv: RealServer, steps: list[StepConfig]) -> list[list]:
    """The driver's op list for one xroot session."""
    ops: list[list] = []
    for st in steps:
        if st.op == "open":
            ops.append(["open", srv.url(st.lfn), MODES[st.mode]])
        elif st.op in ("read", "write"):
            ops.append([st.op, st.offset_bytes, st.size_bytes])
        elif st.op == "readv":
            ops.append(["readv", [[int(o), int(n)] for o, n in st.segments]])
        elif st.op == "sleep":
            ops.append(["sleep", st.duration_s])
        elif st.op == "sendinfo":
            ops.append(["sendinfo", srv.url("/"), st.text])
        elif st.op == "close":
            ops.append(["close"])
        elif st.op == "tpc":
            ops.append(["tpc", srv.url(st.source_lfn or st.lfn), srv.url(st.lfn)])
        elif st.op == "kill":
            ops.append(["hang"])
            break
    return ops


def run_xroot(srv: RealServer, sc: SessionConfig) -> None:
    """One xroot session; SIGKILL at its ``kill`` step."""
    ops = xroot_ops(srv, sc.steps)
    # One connection attempt: a client sent to a refusing redirect target gives up at once
    # instead of retrying for minutes.
    env = {**os.environ, "XRD_CONNECTIONRETRY": "1"}
    proc = subprocess.Popen([SYSTEM_PYTHON, str(DRIVER), json.dumps({"ops": ops})], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        for line in proc.stdout:
            if json.loads(line).get("event") == "hang":
                proc.kill()
                break
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def run_http(srv: RealServer, sc: SessionConfig, scratch: Path) -> None:
    """One HTTP session: a ``curl`` per get/put (each its own connection)."""
    for st in sc.steps:
        if st.op == "sleep":
            time.sleep(st.duration_s)
        elif st.op == "get":
            subprocess.run(["curl", "-sS", "-o", os.devnull, srv.http_url(st.lfn)], capture_output=True, timeout=60)
        elif st.op == "put":
            body = scratch / f"put-{threading.get_ident()}"
            body.write_bytes(b"p" * st.size_bytes)
            subprocess.run(["curl", "-sS", "-o", os.devnull, "-T", str(body), srv.http_url(st.lfn)], capture_output=True, timeout=60)


def run_sessions(srv: RealServer, sessions: list[SessionConfig], t0: float) -> None:
    """Play every session from ``t0 + at_s``; returns when all have ended."""
    scratch = Path(tempfile.mkdtemp(prefix="xrdsim-fidelity-clients-"))

    def one(sc: SessionConfig) -> None:
        time.sleep(max(0.0, t0 + sc.at_s - time.time()))
        if sc.proto == "xroot":
            run_xroot(srv, sc)
        else:
            run_http(srv, sc, scratch)

    threads = [threading.Thread(target=one, args=(sc,), daemon=True) for sc in sessions]
    for th in threads:
        th.start()
    for th in threads:
        th.join(300)
    shutil.rmtree(scratch, ignore_errors=True)


def files_needed(sessions: list[SessionConfig]) -> dict[str, int]:
    """Paths the script reads, with their sizes: they must exist before it starts."""
    out: dict[str, int] = {}
    for sc in sessions:
        for st in sc.steps:
            if (st.op == "open" and st.mode in ("read", "update") and st.exists) or st.op == "get":
                out[st.lfn] = max(out.get(st.lfn, 0), st.size_bytes)
            elif st.op == "tpc":
                src = st.source_lfn or st.lfn
                out[src] = max(out.get(src, 0), st.size_bytes)
    return out


__all__ = ["MODES", "check_clients", "files_needed", "run_http", "run_sessions", "run_xroot", "xroot_ops"]
