"""The ``xrdsim`` command: argparse subcommands, each one module in ``xrdsim.commands``.

No logic lives here: a command module adds its parser and calls one library function.
User mistakes (``UserError``) print one line and exit 2; failed expectations exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from xrdsim import __version__
from xrdsim.errors import UserError

#: Subcommand modules in ``xrdsim.commands``, in the order ``--help`` lists them.
COMMANDS = ("run", "simulate", "collect", "decode", "replay", "validate", "score", "fidelity")

EPILOG = """examples:
  xrdsim run scenarios/quickstart.yaml          simulate, collect, score and report
  xrdsim decode capture.pcap --summary          what a capture's monitoring holds
  xrdsim collect --listen 0.0.0.0:9930 --out records.jsonl
  xrdsim validate mon.pcap --data-port 1094     score a site's own capture
  xrdsim fidelity scenarios/fidelity-5.5.3.yaml  the simulator against a real local XRootD
"""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="xrdsim",
        description="Simulate, collect and score XRootD monitoring against network truth.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"xrdsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"xrdsim.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"xrdsim.commands.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except UserError as exc:
        print(f"xrdsim: {exc}", file=sys.stderr)
        return getattr(exc, "exit_status", 2)  # an external collector's failures have statuses of their own
    except KeyboardInterrupt:
        print("xrdsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
