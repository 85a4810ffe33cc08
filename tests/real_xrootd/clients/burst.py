"""Many small transfers as fast as one client can: open, read N bytes, close, for each
path (XRootD Python bindings, /usr/bin/python3). stdin: JSON ``{"base": ROOT_URL_PREFIX,
"paths": [...], "read": N}``. Prints the truth: per path the bytes read, and the wall span.
"""

import json
import sys
import time

from XRootD import client
from XRootD.client.flags import OpenFlags


def main() -> None:
    args = json.loads(sys.stdin.read())
    got = {}
    t0 = time.time()
    for path in args["paths"]:
        f = client.File()
        status, _ = f.open(args["base"] + path, OpenFlags.READ)
        if not status.ok:
            got[path] = None
            continue
        status, data = f.read(0, args["read"])
        got[path] = len(data) if status.ok else None
        f.close()
    print(json.dumps({"event": "done", "read": got, "t0": t0, "t1": time.time()}), flush=True)


if __name__ == "__main__":
    main()
