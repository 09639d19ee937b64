"""Errors that leave loadtest.

Hierarchy::

    OpsplaneError            (opsplane.errors) base; str(err) is the one line the user sees
    └── LoadtestError        a run, a run directory or a recommendation failed
        ├── RunDirError      a run directory is missing, incomplete or from another version
        │                    (bad input: exit 2)
        ├── BadFileError     a file the command reads or updates is unreadable or malformed
        │                    (bad input: exit 2)
        └── RefusedError     the run cannot support a recommendation (too short, saturated...)

Only ``loadtest._cli.main`` prints ``error: ...``. Exit 1 for a refusal or a failed run,
2 for usage errors and bad input.
"""

from __future__ import annotations

from opsplane.errors import OpsplaneError, UsageError


class LoadtestError(OpsplaneError):
    exit_code = 1


class RunDirError(LoadtestError):
    exit_code = 2


class BadFileError(LoadtestError):
    exit_code = 2


class RefusedError(LoadtestError):
    pass


__all__ = ["BadFileError", "LoadtestError", "RefusedError", "RunDirError", "UsageError"]
