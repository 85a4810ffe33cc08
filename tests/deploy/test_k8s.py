"""deploy/k8s without a cluster: every manifest parses and names no namespace; the kinds,
ports, selectors, probe and spool volume fit together; the container's command, with the
ConfigMap's arguments as the kubelet would expand them, runs the collector here."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

from tests.deploy.harness import DEPLOY, local, run, xrdsim_argv

K8S = DEPLOY / "k8s"
SPOOL = "/var/spool/xrdsim"


def manifests() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.y*ml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return docs


def one(kind: str, **match) -> dict:
    (doc,) = [d for d in manifests() if d["kind"] == kind and all(d["metadata"].get(k) == v for k, v in match.items())]
    return doc


def container() -> dict:
    (c,) = one("StatefulSet")["spec"]["template"]["spec"]["containers"]
    return c


def kubelet_expand(text: str, env: dict[str, str]) -> str:
    """The kubelet's rule for command and args: $(VAR) of a defined variable is replaced,
    $$ is a literal $, anything else is left as written."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


def collector_env() -> dict[str, str]:
    (ref,) = container()["envFrom"]
    return dict(one("ConfigMap", name=ref["configMapRef"]["name"])["data"])


def test_k8s_manifests_parse_and_name_no_namespace():
    docs = manifests()
    assert sorted(d["kind"] for d in docs) == ["ConfigMap", "Service", "Service", "StatefulSet"]
    for doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"]
        assert "namespace" not in doc["metadata"], doc["metadata"]["name"]


def test_k8s_udp_service_keeps_sources_and_reaches_the_pod_ports():
    svc = one("Service", name="xrdsim-collector")
    ports = {(p["port"], p["protocol"]) for p in svc["spec"]["ports"]}
    assert ports == {(9930, "UDP"), (9931, "UDP")}
    assert svc["spec"]["externalTrafficPolicy"] == "Local"
    by_name = {p["name"]: p for p in container()["ports"]}
    for p in svc["spec"]["ports"]:
        assert (by_name[p["targetPort"]]["containerPort"], by_name[p["targetPort"]]["protocol"]) == (p["port"], "UDP")


def test_k8s_services_select_the_collector_pods():
    sts = one("StatefulSet")
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for svc in (d for d in manifests() if d["kind"] == "Service"):
        assert svc["spec"]["selector"].items() <= labels.items(), svc["metadata"]["name"]
    metrics = one("Service", name=sts["spec"]["serviceName"])
    assert [(p["port"], p["protocol"]) for p in metrics["spec"]["ports"]] == [(9100, "TCP")]


def test_k8s_statefulset_spool_probe_and_security():
    sts = one("StatefulSet")
    c = container()
    assert sts["spec"]["replicas"] == 1
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == SPOOL]
    assert mount["name"] in {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    metrics_port = {p["name"]: p["containerPort"] for p in c["ports"]}["metrics"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    args = collector_env()["XRDSIM_COLLECT_ARGS"].split()
    assert args[args.index("--metrics") + 1] == f"0.0.0.0:{metrics_port}"  # loopback would fail the probe
    pod = sts["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    assert c["securityContext"]["allowPrivilegeEscalation"] is False and c["securityContext"]["capabilities"]["drop"] == ["ALL"]


def shell_script(spool: Path, extra: str) -> tuple[list[str], dict[str, str]]:
    """The container's command as it would run, made local: ConfigMap values moved to
    ``spool`` and loopback, ``xrdsim`` found on PATH, ``extra`` appended to the script."""
    c = container()
    env = {k: v.replace(SPOOL, str(spool)) for k, v in collector_env().items()}
    env["XRDSIM_COLLECT_ARGS"] = " ".join(local(env["XRDSIM_COLLECT_ARGS"].split(), spool, SPOOL, duration=None))
    argv = [kubelet_expand(a, env) for a in c["command"] + c["args"]]
    assert argv[:2] == ["/bin/sh", "-c"], argv
    bindir = os.path.dirname(xrdsim_argv()[0]) if len(xrdsim_argv()) == 1 else None
    assert bindir, "the xrdsim console script is not installed"
    return argv[:2] + [argv[2] + extra] + argv[3:], {**os.environ, **env, "PATH": bindir + os.pathsep + os.environ["PATH"]}


def test_k8s_container_command_with_the_configmap_answers_help(tmp_path):
    argv, env = shell_script(tmp_path, " --help")
    res = run(argv, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: xrdsim collect")


def test_k8s_container_command_runs_live_and_keeps_the_previous_records(tmp_path):
    (tmp_path / "records.jsonl").write_text('{"kind":"transfer"}\n')
    argv, env = shell_script(tmp_path, " --duration 0.5")
    res = run(argv, env=env)
    assert res.returncode == 0, res.stderr
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("records.jsonl.")]
    assert len(kept) == 1 and kept[0].read_text() == '{"kind":"transfer"}\n'
    assert (tmp_path / "records.jsonl").read_text() == ""
    assert json.loads((tmp_path / "report.json").read_text())["datagrams"] == 0
