"""The collector's command line: split like a shell would (no shell runs it), then each
argument's placeholders substituted, so a substituted path with a space stays one argument.

``{host}``, ``{port}``, ``{out}``, … are the run's values; ``${NAME}`` is the environment
variable NAME; ``{{`` and ``}}`` are literal braces. Anything else is a ``CommandError``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from xrdsim.external.errors import CommandError

#: ``{{``, ``}}``, ``${NAME}`` or ``{name}``; a lone brace is caught by ``_LONE``.
_TOKEN = re.compile(r"\{\{|\}\}|\$\{([^{}]*)\}|\{([^{}]*)\}")
_LONE = re.compile(r"[{}]")


def _substitute(arg: str, values: Mapping[str, str], env: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        token, var, name = m.group(0), m.group(1), m.group(2)
        if token in ("{{", "}}"):
            return token[0]
        if var is not None:
            if var not in env:
                raise CommandError(f"collector.command: ${{{var}}}: no such environment variable")
            return env[var]
        if name not in values:
            raise CommandError(f"collector.command: unknown placeholder {{{name}}} (known: "
                               f"{', '.join('{' + k + '}' for k in values)}; {{{{ }}}} for a literal brace)")  # fmt: skip
        return values[name]

    pieces, last = [], 0
    for m in _TOKEN.finditer(arg):
        if _LONE.search(arg[last : m.start()]):
            break
        pieces += [arg[last : m.start()], one(m)]
        last = m.end()
    rest = arg[last:]
    if _LONE.search(rest):
        raise CommandError(f"collector.command: unbalanced brace in {arg!r} ({{{{ and }}}} for literal braces)")
    return "".join(pieces) + rest


def build_argv(command: str, values: Mapping[str, str], env: Mapping[str, str]) -> list[str]:
    """The argument list of ``command`` with its placeholders filled from ``values`` and
    ``env``; an empty command, bad quoting or an unknown placeholder is a ``CommandError``."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise CommandError(f"collector.command: {exc}") from None
    if not words:
        raise CommandError("collector.mode external needs collector.command")
    return [_substitute(w, values, env) for w in words]


__all__ = ["build_argv"]
