"""``xrdsim simulate`` in-process: output files, pcap framing, summary, one-line user errors."""

from __future__ import annotations

import struct

import pyarrow.parquet as pq

from xrdsim.cli import main


def udp_payloads(path):
    data = path.read_bytes()
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        frame = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        ihl = (frame[14] & 15) * 4
        flags_frag = struct.unpack_from("!H", frame, 14 + 6)[0]
        if frame[14 + 9] == 17 and flags_frag & 0x1FFF == 0:
            out.append(frame[14 + ihl + 8 : 14 + ihl + 8 + 4])
    return out


def test_simulate_writes_pcap_truth_and_summary(tmp_path, capsys):
    assert main(["simulate", "--sites", "1", "--hours", "0.1", "--seed", "3", "-o", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"datagrams.pcap", "transfers.parquet", "datagrams.parquet", "faults.parquet", "counters.parquet"} <= names
    heads = udp_payloads(tmp_path / "datagrams.pcap")
    assert heads and heads[0][:1] == b"="
    rows = pq.read_table(tmp_path / "datagrams.parquet", columns=["code", "fate"]).to_pylist()
    assert len(heads) == sum(r["fate"] != "lost" for r in rows)
    assert [h[:1].decode() for h in heads] == [r["code"] for r in rows if r["fate"] != "lost"]
    out = capsys.readouterr().out
    assert "transfers:" in out and "datagrams sent:" in out


def test_simulate_missing_scenario_is_one_line_exit_2(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "nope.yaml"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("xrdsim: ") and "\n" not in err
