"""One xroot client session with the XRootD Python bindings; run by /usr/bin/python3 (the
interpreter Debian's python3-xrootd imports in), standalone: it imports nothing of xrdsim.

argv[1] is JSON ``{"ops": [[op, args...], ...]}``: ``open URL MODE`` (r, w = create, u =
update, W = create for update; the file opened becomes current), ``read OFFSET SIZE``, ``readv [[OFFSET, SIZE], ...]``,
``write OFFSET SIZE``, ``sleep S``, ``sendinfo URL TEXT``, ``close``, ``tpc SRC DST`` (``xrdcp
--tpc only``), ``hang`` (print
``{"event": "hang"}`` and wait to be killed). Every open file shares one login: XrdCl keeps
one channel per host:port in a process.
"""

import json
import subprocess
import sys
import time

from XRootD import client
from XRootD.client.flags import OpenFlags

MODES = {"r": OpenFlags.READ, "w": OpenFlags.DELETE | OpenFlags.NEW, "u": OpenFlags.UPDATE,
         "W": OpenFlags.DELETE | OpenFlags.NEW | OpenFlags.UPDATE}


def main() -> None:
    ops = json.loads(sys.argv[1])["ops"]
    current = None
    statuses = []
    for op, *a in ops:
        if op == "open":
            current = client.File()
            status, _ = current.open(a[0], MODES[a[1]])
        elif op == "read":
            status, _ = current.read(a[0], a[1])
        elif op == "readv":
            status, _ = current.vector_read([tuple(c) for c in a[0]])
        elif op == "write":
            status, _ = current.write(b"x" * a[1], a[0])
        elif op == "sleep":
            time.sleep(a[0])
            continue
        elif op == "sendinfo":
            status, _ = client.FileSystem(a[0]).sendinfo(a[1])
        elif op == "close":
            status, _ = current.close()
        elif op == "tpc":
            # xrdcp, as a user would run it: its own process and links
            proc = subprocess.run(["/usr/bin/xrdcp", "--tpc", "only", "-f", "-s", a[0], a[1]], capture_output=True, text=True)
            statuses.append([op, proc.returncode == 0, proc.stderr.strip()[-200:]])
            continue
        elif op == "hang":
            print(json.dumps({"event": "hang"}), flush=True)
            time.sleep(3600)
            continue
        else:
            raise SystemExit(f"unknown op {op!r}")
        statuses.append([op, status.ok, status.message])
    print(json.dumps({"event": "done", "statuses": statuses}), flush=True)


if __name__ == "__main__":
    main()
