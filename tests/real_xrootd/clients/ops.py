"""A client workload on one file with the XRootD Python bindings (run by /usr/bin/python3).

argv[1] is JSON ``{"url": ROOT_URL, "ops": [[op, args...], ...]}``; ops: ``open MODE``
(``r``/``w``/``u``), ``read OFFSET SIZE``, ``readv [[OFFSET, SIZE], ...]``, ``write OFFSET
SIZE`` (random bytes), ``sleep S``, ``mark NAME`` (prints ``{"event": NAME}`` and flushes),
``wait_file PATH`` (until it exists), ``close``. Prints one JSON line per mark and a last
line with the truth: bytes the server returned / accepted, per kind, and every status.
"""

import json
import os
import sys
import time

from XRootD import client
from XRootD.client.flags import OpenFlags

MODES = {"r": OpenFlags.READ, "w": OpenFlags.DELETE | OpenFlags.NEW, "u": OpenFlags.UPDATE}


def main() -> None:
    args = json.loads(sys.argv[1])
    f = client.File()
    truth = {"read": 0, "readv": 0, "write": 0, "statuses": []}

    def check(name, status):
        truth["statuses"].append([name, status.ok, status.errno, status.message])
        return status.ok

    for op, *a in args["ops"]:
        if op == "open":
            status, _ = f.open(args["url"], MODES[a[0]])
            if not check("open", status):
                break
        elif op == "read":
            status, data = f.read(a[0], a[1])
            if check("read", status):
                truth["read"] += len(data)
        elif op == "readv":
            status, info = f.vector_read([tuple(c) for c in a[0]])
            if check("readv", status):
                truth["readv"] += sum(len(c.buffer) for c in info.chunks)
        elif op == "write":
            status, _ = f.write(os.urandom(a[1]), a[0])
            if check("write", status):
                truth["write"] += a[1]
        elif op == "sleep":
            time.sleep(a[0])
        elif op == "mark":
            print(json.dumps({"event": a[0], **truth}), flush=True)
        elif op == "wait_file":
            while not os.path.exists(a[0]):
                time.sleep(0.05)
        elif op == "close":
            status, _ = f.close()
            check("close", status)
    print(json.dumps({"event": "done", **truth}), flush=True)


if __name__ == "__main__":
    main()
