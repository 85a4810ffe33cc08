"""The Grafana dashboard: valid JSON, every panel has a query, and every PromQL expression
names only metrics that a live collector's ``/metrics`` really contains."""

from __future__ import annotations

import json
import re

import pytest
from tests.deploy.harness import DEPLOY, exported_names

DASHBOARD = DEPLOY / "grafana" / "xrdsim-collector.json"
_FUNCTIONS_AND_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers left once strings, label matchers,
    ranges, grouping clauses, function calls, keywords and numbers are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w$:.])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        if not m.group(2) and m.group(1).lower() not in _FUNCTIONS_AND_KEYWORDS:
            names.add(m.group(1))
    return names


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def expressions(dash: dict) -> list[str]:
    """Every PromQL expression: panel targets and templating queries."""
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            exprs.append(re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", var["definition"]))
    return exprs


def test_grafana_metric_names_reads_promql():
    expr = 'sum by (host) (rate(a_total{job=~"$job",x="y{z}"}[5m])) / (b + on (i) group_left c > 0) offset 1h'
    assert metric_names(expr) == {"a_total", "b", "c"}
    assert metric_names("time() - max(last_seconds)") == {"last_seconds"}


def test_grafana_dashboard_panels_each_have_a_query_and_unique_ids():
    dash = dashboard()
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dash["panels"]:
        if panel["type"] != "row":
            assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


@pytest.mark.parametrize("expr", expressions(dashboard()))
def test_grafana_every_query_names_only_exported_metrics(expr, exposition):
    names = metric_names(expr)
    assert names, f"no metric in {expr!r}"
    assert names <= exported_names(exposition), f"not exported: {sorted(names - exported_names(exposition))}"


def test_grafana_dashboard_covers_the_collector_and_data_metrics():
    used = set().union(*map(metric_names, expressions(dashboard())))
    wanted = {
        "xrdsim_collector_group_datagrams_total", "xrdsim_collector_host_lost_datagrams_total",
        "xrdsim_collector_records_total", "xrdsim_collector_table_entries", "xrdsim_collector_udp_kernel_drops_total",
        "process_resident_memory_bytes", "process_cpu_seconds_total", "xrdsim_transfer_bytes_total",
    }  # fmt: skip
    assert wanted <= used, sorted(wanted - used)


def test_grafana_live_exposition_names_the_real_server_host(exposition):
    assert re.search(r'xrdsim_collector_host_received_datagrams_total\{host="[^*"]+"\} [1-9]', exposition), exposition
    assert re.search(r"xrdsim_transfer_bytes_total\{site=\"SITE_A\",vo=\"[^\"]*\",direction=\"read\"\} [1-9]", exposition)
