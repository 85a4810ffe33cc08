"""deploy/Containerfile without a container engine: its ENTRYPOINT and CMD run here, the
image runs unprivileged from python:3.11-slim, and it ships every package and port."""

from __future__ import annotations

import json
import re
import tomllib

from tests.deploy.harness import DEPLOY, ROOT, containerfile, local, run, xrdsim_argv

SPOOL = "/var/spool/xrdsim"


def instructions() -> list[tuple[str, str]]:
    return containerfile(DEPLOY / "Containerfile")


def exec_form(name: str) -> list[str]:
    """The last ENTRYPOINT or CMD, which must be in exec (JSON) form: no shell between the
    signal and the collector, so SIGTERM flushes the open records."""
    (value,) = [args for word, args in instructions() if word == name][-1:]
    argv = json.loads(value)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), f"{name} is not in exec form"
    return argv


def here(argv: list[str]) -> list[str]:
    assert argv[:2] == ["xrdsim", "collect"], argv
    return xrdsim_argv() + argv[1:]


def test_containerfile_entrypoint_and_cmd_answer_help():
    res = run(here(exec_form("ENTRYPOINT") + exec_form("CMD") + ["--help"]))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: xrdsim collect")


def test_containerfile_cmd_runs_the_collector_live(tmp_path):
    res = run(here(local(exec_form("ENTRYPOINT") + exec_form("CMD"), tmp_path, SPOOL)))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "records.jsonl").exists()
    assert json.loads((tmp_path / "report.json").read_text())["datagrams"] == 0


def test_containerfile_is_slim_unprivileged_and_exposes_what_the_cmd_listens_on():
    ins = instructions()
    assert ins[0] == ("FROM", "python:3.11-slim")
    user = [args for word, args in ins if word == "USER"][-1]
    assert user not in ("root", "0") and not user.startswith(("root:", "0:"))
    exposed = set(" ".join(args for word, args in ins if word == "EXPOSE").split())
    cmd = exec_form("CMD")
    listens = {cmd[i + 1].rpartition(":")[2] + "/udp" for i, a in enumerate(cmd) if a == "--listen"}
    metrics = cmd[cmd.index("--metrics") + 1]
    assert listens == {"9930/udp", "9931/udp"} and listens <= exposed
    assert metrics.rpartition(":")[0] == "0.0.0.0" and metrics.rpartition(":")[2] + "/tcp" in exposed
    assert [args for word, args in ins if word == "VOLUME"] == [SPOOL]
    assert all(a.startswith(SPOOL) for a in (cmd[cmd.index("--out") + 1], cmd[cmd.index("--report") + 1]))


def test_containerfile_copies_every_package_that_pyproject_installs():
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = {args.split()[0] for word, args in instructions() if word == "COPY"}
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and any(re.fullmatch(pat.replace("*", ".*"), p.name) for pat in include)}
    assert packages and packages <= copied, sorted(packages - copied)
    assert {"pyproject.toml", "README.md"} <= set(" ".join(args for word, args in instructions() if word == "COPY").split())
