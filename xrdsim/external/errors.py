"""The external-collector errors: every one is printed as one line by the CLI, and each kind
of failure exits with its own status, so a CI job tells a bad command from a crashed or a
hung collector without parsing text."""

from __future__ import annotations

from xrdsim.errors import UserError


class ExternalError(UserError):
    """Base of the external-collector errors; ``exit_status`` is what ``xrdsim`` exits with."""

    exit_status = 2


class CommandError(ExternalError):
    """The command cannot be built or started: an unknown placeholder, no such program."""


class RecordsError(ExternalError):
    """The collector's records cannot be read: not JSON, a field that is no number."""


class CollectorFailed(ExternalError):
    """The collector died before the end of the run, or exited with a failure status."""

    exit_status = 3


class CollectorNotReady(ExternalError):
    """The collector never bound its UDP port within ``startup_s``."""

    exit_status = 4


class CollectorHung(ExternalError):
    """The collector did not stop after SIGTERM: its process group was killed."""

    exit_status = 5


__all__ = ["CollectorFailed", "CollectorHung", "CollectorNotReady", "CommandError", "ExternalError", "RecordsError"]
