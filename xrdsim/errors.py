"""The root of every error xrdsim raises on purpose; each part hangs its own tree below it.

``UserError`` marks the user's mistakes (a bad scenario, argument or input file): the CLI
prints them as one line and exits 2. Anything that is not an ``XrdsimError`` is a bug.
"""


class XrdsimError(Exception):
    """Base of all deliberate xrdsim errors (wire, scenario, replay, score)."""


class UserError(XrdsimError):
    """A mistake in what the user gave us: printed as one line, exit status 2."""
