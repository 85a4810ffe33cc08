"""The reflective YAML loader on small dataclasses of its own, and scenario-file mistakes
reported as one line with file, line and key path."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import pytest
import yaml

from xrdsim.scenario import (
    Builder,
    CollectorMode,
    ScenarioError,
    load_scenario,
    parse_scenario,
)


class Colour(enum.Enum):
    RED = "red"
    DARK_BLUE = "dark-blue"


@dataclass(frozen=True, slots=True)
class Leaf:
    size_bytes: int = 0
    wait_s: float = 1.0
    colour: Colour = Colour.RED


@dataclass(frozen=True, slots=True)
class Tree:
    name: str
    leaves: list[Leaf] = field(default_factory=list)
    tags: dict[str, int] = field(default_factory=dict)
    best: Leaf | None = None
    on: bool = False
    link_bps: float = 0.0


def build(text: str, cls=Tree):
    return Builder("t.yaml").build(cls, yaml.compose(text), "")


def test_nested_lists_enums_units_and_optionals():
    tree = build("name: oak\nleaves:\n  - {size_bytes: 2kB, wait_s: 1m, colour: dark-blue}\n  - {}\n"
                 "tags: {a: 1}\nbest: null\non: true\nlink_bps: 1Gbps\n")
    assert tree == Tree("oak", [Leaf(2000, 60.0, Colour.DARK_BLUE), Leaf()], {"a": 1}, None, True, 1e9)


def test_base_instance_supplies_unset_fields():
    leaf = Builder("t.yaml").build(Leaf, yaml.compose("wait_s: 5s"), "", base=Leaf(7, 1.0, Colour.DARK_BLUE))
    assert leaf == Leaf(7, 5.0, Colour.DARK_BLUE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nleaves: {size_bytes: 1}\n", "t.yaml:2: leaves: expected list, got mapping"),
        ("name: x\nleaves:\n  - {}\n  - {colour: green}\n", "t.yaml:4: leaves[1].colour: expected one of red, dark-blue, got 'green'"),
        ("name: x\nleafs: []\n", "t.yaml:2: leafs: unknown key; did you mean 'leaves'?"),
        ("leaves: []\n", "t.yaml:1: missing required key 'name'"),
        ("name: x\non: 1\n", "t.yaml:2: on: expected true or false, got '1'"),
        ("name: x\nleaves: [{size_bytes: big}]\n", "t.yaml:2: leaves[0].size_bytes: expected a size like 300kB, 2GB or 1.5GiB, got 'big'"),
        ("name: x\nname: y\n", "t.yaml:2: name: key given twice"),
        ("name: [1, 2]\n", "t.yaml:1: name: expected str, got list"),
    ],
)
def test_mistakes_are_one_line_with_line_and_key_path(text, message):
    with pytest.raises(ScenarioError) as err:
        build(text)
    assert str(err.value) == message


SCENARIO = """\
# A teaching comment
# on two lines.
name: tiny
seed: 42
duration: 2h
start: 2024-01-01T00:00:00Z
sites:
  - {name: T2_A, servers: 3, nic_bps: 25Gbps}
workload: {jobs_per_hour: 1k/h}
monitoring: {fstat_s: 30s, summary: {host: c.example.org, every_s: 5m}, dialect: dcache}
path: {loss: 0.5%}
faults: [{kind: server_restart, at_s: 1h}]
collector: {mode: udp, speed: 100, config: {open_ttl: 10m}}
expect: {transfer_recall: ">= 0.99", volume_ratio: "0.98..1.02"}
report: {bin_s: 5m, plots: false}
"""


def test_scenario_top_level_maps_onto_sim_config():
    sc = parse_scenario(SCENARIO, "tiny.yaml")
    sim = sc.sim
    assert (sc.name, sc.seed, sim.seed, sim.duration_s, sim.start_time) == ("tiny", 42, 42, 7200.0, 1704067200)
    assert (sim.sites[0].name, sim.sites[0].servers, sim.sites[0].nic_bps) == ("T2_A", 3, 25e9)
    assert sim.workload.jobs_per_hour == 1000.0
    assert sim.monitor.fstat_s == 30.0 and sim.monitor.lfn is True  # wlcg preset kept under the override
    assert (sim.report.host, sim.report.every_s, sim.dialect.value) == ("c.example.org", 300.0, "dcache")
    assert sim.path.loss == pytest.approx(0.005)
    assert (sim.faults[0].kind.value, sim.faults[0].at_s) == ("server_restart", 3600.0)
    assert (sc.collector.mode, sc.collector.speed, sc.collector.config.open_ttl) == (CollectorMode.UDP, 100.0, 600.0)
    assert sc.expect["volume_ratio"].check(1.0) is None and sc.expect["transfer_recall"].check(0.5)
    assert (sc.report.bin_s, sc.report.plots) == (300.0, False)
    assert sc.description == "A teaching comment\non two lines."


def test_generated_sites_and_xrootd_preset():
    sc = parse_scenario("name: g\nsites: {generate: {count: 7, servers: 3}}\nmonitoring: {preset: xrootd}\n")
    assert (sc.sim.site_count, sc.sim.servers_per_site, sc.sim.sites) == (7, 3, [])
    assert sc.sim.monitor.fstat_s == 0.0 and sc.sim.monitor.lfn is False  # XRootD's own defaults


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("duraton: 1h", "s.yaml:2: duraton: unknown key; did you mean 'duration'?"),
        ("sites: 3", "s.yaml:2: sites: expected a list of sites or {generate: {count: N}}, got int"),
        ("sites: {generate: {cnt: 3}}", "s.yaml:2: sites.generate.cnt: unknown key; did you mean 'count'?"),
        ("monitoring: {fstat: 1}", "s.yaml:2: monitoring.fstat: unknown key; did you mean 'fstat_s'?"),
        ("monitoring: {preset: cms}", "s.yaml:2: monitoring.preset: expected one of wlcg, xrootd, got 'cms'"),
        ("expect: {transfer_recal: '>= 1'}", "s.yaml:2: expect.transfer_recal: unknown metric; did you mean 'transfer_recall'?"),
        ("expect: {transfer_recall: '0.9'}", "s.yaml:2: expect.transfer_recall: expected a comparison like '>= 0.999', '< 0.5%', '== 0' or a range '0.98..1.02', got '0.9'"),
        ("faults: [{kind: reboot}]", "s.yaml:2: faults[0].kind: expected one of server_restart, clock_skew, client_crash, collector_outage, server_silent, loss_burst, config_drift, got 'reboot'"),
        ("duration: -1h", "s.yaml: duration_s: expected a positive duration of at most 366 days, got -3600.0"),
    ],
)
def test_scenario_mistakes(line, message):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(f"name: s\n{line}\n", "s.yaml")
    assert str(err.value) == message


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsites: [\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml:\d+: not valid YAML"):
        load_scenario(bad)
