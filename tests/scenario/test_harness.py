"""End to end on a scripted scenario whose answer is known: two transfers of 10 MB read and
3 MB written on one server; in process, over loopback UDP, through an external command,
and through ``xrdsim run``'s exit codes."""

from __future__ import annotations

import json
import sys

import pytest

from xrdsim.cli import main
from xrdsim.harness import read_records, run_scenario
from xrdsim.scenario import CollectorMode, parse_scenario

SCRIPTED = """\
name: scripted
seed: 1
duration: 5m
sites: [{name: T2_T_One, servers: 1}]
workload:
  jobs_per_hour: 0
  scripted:
    - {at_s: 10s, op: read, lfn: /store/a.root, size_bytes: 10MB, pg: false}
    - {at_s: 20s, op: write, lfn: /store/b.root, size_bytes: 3MB, pg: false}
report: {bin_s: 1m}
expect:
  transfer_recall: "== 1"
  exact_bytes_rate: "== 1"
  path_accuracy: "== 1"
"""


def check_known_answer(result):
    assert result.card.counts["truth_transfers"] == 2 and result.card.counts["matched"] == 2
    assert sorted((r.file_lfn, r.total_bytes) for r in result.collected.records) == [("/store/a.root", 10_000_000), ("/store/b.root", 3_000_000)]
    assert result.passed, result.failures


def test_inprocess_known_answer(tmp_path):
    result = run_scenario(parse_scenario(SCRIPTED), tmp_path)
    check_known_answer(result)
    assert set(result.phases) >= {"simulate", "collect", "score", "report"}
    assert json.loads((tmp_path / "score.json").read_text())["passed"] is True


def test_udp_loopback_known_answer(tmp_path, capsys):
    result = run_scenario(parse_scenario(SCRIPTED), out_dir=tmp_path, mode=CollectorMode.UDP, speed=0, progress=True)
    check_known_answer(result)
    # provenance: the collector that ran, not the scenario's default (inprocess)
    assert result.collector == "udp" and json.loads((tmp_path / "score.json").read_text())["collector"] == "udp"
    assert "scripted: writing reports" in capsys.readouterr().err
    # unpaced, the sender waits for the receiver: records are stamped at their datagram's time
    assert result.card.value("latency_p99_s") < 65


def test_external_command_with_field_map(tmp_path):
    fake = tmp_path / "fake_collector.py"
    fake.write_text(
        "import json, signal, socket, sys\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', int(sys.argv[1])))\n"
        "def stop(*_):\n"
        "    rec = {'host': 'xrootd-01', 'path': '/store/a.root', 'read_bytes': 10000000, 'start_time': 1700000010.0}\n"
        "    open(sys.argv[2], 'w').write(json.dumps(rec) + '\\n'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "while True: s.recv(65535)\n"
    )
    text = SCRIPTED + f'collector: {{mode: external, command: "{sys.executable} {fake} {{port}} {{out}}", startup_s: 0.5s,\n' \
                      "            fields: {server_host: host, file_lfn: path}}\n"
    result = run_scenario(parse_scenario(text), tmp_path)
    assert [(r.server_host, r.file_lfn, r.read_bytes) for r in result.collected.records] == [("xrootd-01", "/store/a.root", 10_000_000)]
    assert result.card.counts["spurious"] == 1  # no simulated server is called plain "xrootd-01"
    assert {v.name for v in result.failures} == {"transfer_recall", "exact_bytes_rate", "path_accuracy"}


def test_read_records_skips_other_kinds(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"kind": "summary"}\n{"kind": "transfer", "file_lfn": "/x", "write_bytes": 3}\n\n')
    got = read_records(path, {})
    assert [(r.file_lfn, r.write_bytes) for r in got.records] == [("/x", 3)]


@pytest.mark.parametrize(("expect", "status"), [('"== 1"', 0), ('">= 1.5"', 1)])
def test_cli_exit_status(tmp_path, capsys, expect, status):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCRIPTED.replace('transfer_recall: "== 1"', f"transfer_recall: {expect}"))
    assert main(["run", str(scenario), "-o", str(tmp_path / "out"), "-q"]) == status
    assert (tmp_path / "out" / "junit.xml").exists()


def test_cli_user_error_is_one_line_and_status_2(tmp_path, capsys):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\nsites: [{servers: many}]\n")
    assert main(["run", str(scenario), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("xrdsim: ") and "s.yaml:2: sites[0].servers: expected" in err and "\n" not in err


def test_score_saved_outputs_through_the_cli(tmp_path, capsys):
    from xrdsim.sim import simulate

    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCRIPTED)
    sim = simulate(parse_scenario(SCRIPTED).sim).run(tmp_path / "truth")
    lines = [json.dumps({"kind": "transfer", "server_host": t.server, "server_key": f"1#{t.stod}", "file_dictid": t.file_dictid,
                         "file_lfn": t.lfn, "read_bytes": t.read_bytes, "read_vector_bytes": 0, "write_bytes": t.write_bytes,
                         "start_time": t.open_time, "end_time": t.close_time}) for t in sim.truth.transfers]
    lines.append(json.dumps({"kind": "summary", "server": "x:1094", "link_in_delta": 1, "link_out_delta": 2}))
    (tmp_path / "records.jsonl").write_text("\n".join(lines) + "\n")
    argv = ["score", str(scenario), "--truth", str(tmp_path / "truth"), "--records", str(tmp_path / "records.jsonl"), "-o", str(tmp_path / "rep")]
    assert main(argv) == 0
    assert "scripted: all expectations met" in capsys.readouterr().out
    doc = json.loads((tmp_path / "rep" / "score.json").read_text())
    assert {m["name"]: m["value"] for m in doc["metrics"]}["exact_bytes_rate"] == 1.0


def test_osg_preset_reads_the_osg_raw_record(tmp_path):
    """One line of the OSG collector's raw format (times in ms, single and vector reads apart)
    is read with ``format: osg`` and no field map."""
    from xrdsim.score.formats import RecordFormat

    line = {"timestamp": 1_700_000_070_500, "start_time": 1_700_000_010_000, "end_time": 1_700_000_040_000,
            "server_hostname": "xrootd-01.example.org", "server_ip": "10.0.0.1", "site": "T2_T_One",
            "host": "wn1.example.org", "user_dn": "/DC=org/CN=alice", "vo": "cms", "filename": "/store/a.root",
            "read": 1000, "readv": 500, "write": 0, "unique_id": "u-1", "revision": 2, "ended": "close"}  # fmt: skip
    path = tmp_path / "osg.jsonl"
    path.write_text(json.dumps(line) + "\n")
    (rec,) = read_records(path, {}, RecordFormat.OSG).records
    assert (rec.server_host, rec.file_lfn, rec.client_host, rec.user_dn, rec.vo) == (
        "xrootd-01.example.org", "/store/a.root", "wn1.example.org", "/DC=org/CN=alice", "cms")
    assert (rec.read_bytes, rec.readv_bytes, rec.total_bytes) == (1000, 500, 1500)  # vector reads counted once
    assert (rec.start_time, rec.end_time, rec.t_emitted) == (1_700_000_010.0, 1_700_000_040.0, 1_700_000_070.5)
    assert (rec.record_id, rec.revision) == ("u-1", 2)


def test_a_scenario_names_the_osg_preset_in_one_line():
    sc = parse_scenario(SCRIPTED + 'collector: {mode: external, format: osg, command: "c {host} {port} {out}"}\n', "x.yaml")
    assert sc.collector.format.value == "osg"
    with pytest.raises(Exception, match="format: expected one of ours, osg, wlcg"):
        parse_scenario(SCRIPTED + "collector: {format: cms}\n", "x.yaml")
