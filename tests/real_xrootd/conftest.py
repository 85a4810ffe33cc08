"""The differential suite against a real XRootD (Debian 5.5.3): fixtures that start the
collector and the servers. One shared world per xdist worker (collector + an xroot/XrdHttp
server with two detailed destinations of different masks and the summary stream), cases
use unique paths on it; ``world`` builds a private one for cases that need their own
configuration. Skipped only without the binaries or without root (``xrootd -R xrootd``).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.real_xrootd.harness import SYSTEM_PYTHON, LiveCollector, Server, make_server, scratch_dir

_MISSING = [b for b in ("xrootd", "xrdcp") if not shutil.which(b)]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.real_xrootd)
            if _MISSING:
                item.add_marker(pytest.mark.skip(reason=f"{', '.join(_MISSING)} not installed (Debian xrootd-server/xrootd-client)"))
            elif os.geteuid() != 0:
                item.add_marker(pytest.mark.skip(reason="XRootD is started as root with -R xrootd (DESIGN.md)"))


class World:
    """A collector and the servers monitoring to it, torn down together."""

    def __init__(self, prefix: str) -> None:
        self.root = scratch_dir(prefix)
        self.mons: list[LiveCollector] = []
        self.servers: list[Server] = []

    def collector(self, **kw) -> LiveCollector:
        mon = LiveCollector(**kw)
        self.mons.append(mon)
        return mon

    def server(self, name: str, site: str, mon: LiveCollector, **kw) -> Server:
        server = make_server(self.root, name, site, mon, **kw)
        self.servers.append(server)
        return server

    def close(self) -> None:
        for s in self.servers:
            s.stop()
        for m in self.mons:
            m.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def shared():
    """(collector, server): the worker's shared xroot + XrdHttp server."""
    w = World("xrdsim-real-shared-")
    try:
        mon = w.collector()
        yield mon, w.server("shared", "SITE_A", mon, http=True)
    finally:
        w.close()


@pytest.fixture
def world(request):
    """A private World for a case with its own configuration."""
    w = World("xrdsim-real-case-")
    try:
        yield w
    finally:
        w.close()


@pytest.fixture
def case_dir(request) -> str:
    """A path prefix unique to the case, so cases can share a server."""
    return "/" + re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)


@pytest.fixture(scope="session")
def bindings():
    """The XRootD Python bindings in the system interpreter (skip without them)."""
    import subprocess

    ok = os.path.exists(SYSTEM_PYTHON) and subprocess.run([SYSTEM_PYTHON, "-c", "import XRootD.client"], capture_output=True).returncode == 0
    if not ok:
        pytest.skip("python3-xrootd (XRootD Python bindings for /usr/bin/python3) not installed")
