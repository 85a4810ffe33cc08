"""deploy/systemd/xrdsim-collector.service: it parses, is hardened and restarts on failure,
its ExecStartPre keeps the previous records, its ExecStart runs the collector here, and
``systemd-analyze verify`` accepts it where systemd is installed."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import pytest

from tests.deploy.harness import DEPLOY, local, run, unit_file, xrdsim_argv

UNIT = DEPLOY / "systemd" / "xrdsim-collector.service"


def service() -> dict[str, list[str]]:
    return unit_file(UNIT)["Service"]


def specifiers(text: str, state: Path) -> str:
    """systemd's %S (state directory root) and %% (a literal %), the only specifiers used."""
    return text.replace("%%", "\0").replace("%S", str(state)).replace("\0", "%")


def command(line: str, state: Path) -> list[str]:
    """One Exec*= line as the argv systemd would run: specifiers resolved, then $$ → $
    (systemd expands $VAR itself; the unit escapes what the shell must see)."""
    return [a.replace("$$", "$") for a in shlex.split(specifiers(line, state))]


def exec_start(state: Path) -> list[str]:
    (line,) = service()["ExecStart"]
    argv = command(line, state)
    assert os.path.basename(argv[0]) == "xrdsim" and os.path.isabs(argv[0]) and argv[1] == "collect", argv
    return xrdsim_argv() + argv[1:]


def test_systemd_unit_parses_with_its_sections_and_restart_policy():
    unit = unit_file(UNIT)
    assert set(unit) == {"Unit", "Service", "Install"}
    s = service()
    assert s["Restart"] == ["on-failure"] and s["KillSignal"] == ["SIGTERM"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    assert "network-online.target" in unit["Unit"]["After"][0]


def test_systemd_unit_runs_unprivileged_in_its_state_directory_and_hardened():
    s = service()
    assert s["DynamicUser"] == ["yes"] and s["StateDirectory"] == ["xrdsim"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                       "PrivateDevices": "yes", "CapabilityBoundingSet": "", "RestrictNamespaces": "yes"}.items():  # fmt: skip
        assert s.get(key) == [value], key
    assert set(s["RestrictAddressFamilies"][0].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    argv = exec_start(Path("/var/lib"))
    assert argv[argv.index("--out") + 1].startswith("/var/lib/xrdsim/")
    assert argv[argv.index("--metrics") + 1].startswith("127.0.0.1:")


def test_systemd_execstart_answers_help(tmp_path):
    res = run(exec_start(tmp_path) + ["--help"])
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: xrdsim collect")


def test_systemd_execstartpre_keeps_the_previous_records_and_execstart_runs_live(tmp_path):
    (tmp_path / "xrdsim").mkdir()
    (tmp_path / "xrdsim" / "records.jsonl").write_text("old\n")
    for line in service()["ExecStartPre"]:
        res = run(command(line, tmp_path))
        assert res.returncode == 0, res.stderr
    res = run(local(exec_start(tmp_path), tmp_path, "/nowhere"))
    assert res.returncode == 0, res.stderr
    kept = [p.read_text() for p in (tmp_path / "xrdsim").iterdir() if p.name.startswith("records.jsonl.")]
    assert kept == ["old\n"]
    assert json.loads((tmp_path / "xrdsim" / "report.json").read_text())["datagrams"] == 0


def test_systemd_execstartpre_without_previous_records_succeeds(tmp_path):
    (tmp_path / "xrdsim").mkdir()
    for line in service()["ExecStartPre"]:
        assert run(command(line, tmp_path)).returncode == 0
    assert list((tmp_path / "xrdsim").iterdir()) == []


def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    found = shutil.which("xrdsim")
    if found is None:
        pytest.skip("the xrdsim console script is not installed (verify checks ExecStart's file)")
    (line,) = service()["ExecStart"]
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(line.split()[0], found, 1))
    res = run([analyze, "verify", str(copy)], env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"})
    assert res.returncode == 0 and not res.stderr.strip(), res.stderr
