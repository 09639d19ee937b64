"""Errors that leave loadtest.

Hierarchy::

    OpsplaneError            (opsplane.errors) base; str(err) is the one line the user sees
    └── LoadtestError        a run, a run directory or a recommendation failed
        ├── RunDirError      a run directory is missing, incomplete or from another version
        └── RefusedError     the run cannot support a recommendation (too short, saturated...)

Only ``loadtest._cli.main`` prints ``error: ...``. Exit 1 for these, 2 for usage errors.
"""

from __future__ import annotations

from opsplane.errors import OpsplaneError, UsageError


class LoadtestError(OpsplaneError):
    exit_code = 1


class RunDirError(LoadtestError):
    pass


class RefusedError(LoadtestError):
    pass


__all__ = ["LoadtestError", "RefusedError", "RunDirError", "UsageError"]
