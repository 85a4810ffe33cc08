"""HTTP workloads (curl on the shared server's XrdHttp port): GET, a range, a multi-range
(served by XrdHttp as one readv) and a PUT."""

from __future__ import annotations

import os

from collector import Ended
from tests.real_xrootd.harness import assert_records, curl, describe, mismatches, t_totals, wait_for

SIZE = 200_003


def test_http_get(shared, case_dir):
    mon, srv = shared
    path = f"{case_dir}/f.bin"
    srv.put_file(path, os.urandom(SIZE))
    body = curl(srv.http_url(path)).stdout
    assert len(body) == SIZE
    recs = assert_records(mon, [(path, SIZE, 0, 0, Ended.CLOSE)])
    assert recs[0].protocol == "http", describe(recs)


def test_http_range(shared, case_dir):
    mon, srv = shared
    path = f"{case_dir}/f.bin"
    srv.put_file(path, os.urandom(SIZE))
    body = curl("-r", "100-1099", srv.http_url(path)).stdout
    assert len(body) == 1000
    assert_records(mon, [(path, 1000, 0, 0, Ended.CLOSE)])


def test_http_multi_range(shared, case_dir):
    mon, srv = shared
    path = f"{case_dir}/f.bin"
    data = os.urandom(SIZE)
    srv.put_file(path, data)
    body = curl("-r", "0-99,1000-1199,5000-5299", srv.http_url(path)).stdout
    assert data[1000:1200] in body and data[5000:5300] in body  # multipart/byteranges
    # XrdHttp serves several ranges with one readv of the segments
    assert_records(mon, [(path, 0, 100 + 200 + 300, 0, Ended.CLOSE)])


def test_http_put(shared, case_dir):
    """XRootD 5.5.3 quirk (xrootd#2368, fixed in 5.7.3; spec §4.9): an HTTP PUT is counted as
    0 bytes written in the f CLOSE, while the t-stream (dest2: io) has the writes. The record
    says what the f CLOSE says, and the collector must flag the disagreement."""
    mon, srv = shared
    path = f"{case_dir}/put.bin"
    local = srv.root / f"{case_dir.strip('/')}.put"
    local.write_bytes(os.urandom(SIZE))
    curl("-T", str(local), srv.http_url(path))
    assert (srv.data / path.lstrip("/")).stat().st_size == SIZE
    recs = assert_records(mon, [(path, 0, 0, 0, Ended.CLOSE)])  # 5.5.3: write 0 (not SIZE)
    rec = recs[0]
    mismatch = lambda: mismatches(mon, rec)  # noqa: E731
    wait_for(mismatch, 5)
    evidence = f"{describe(mon.records({path}))}\nt-stream: {t_totals(mon, rec.file_dictid)}"
    assert mismatch(), f"no mismatch anomaly for the PUT whose f CLOSE says write 0:\n{evidence}"
    assert rec.t_write_bytes == SIZE, evidence  # the t-stream's I/O sums, beside the f figure
