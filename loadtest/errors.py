"""Errors that leave loadtest, built on the tools' one hierarchy (``logstd.errors``).

Hierarchy::

    ToolError (logstd.errors)   exit 1; str(err) is the one line the user sees
    └── OpsplaneError (opsplane.errors)
        └── LoadtestError       a run or a recommendation failed: exit 1
            ├── RefusedError    the run cannot support a recommendation (too short,
            │                   saturated...): exit 1
            ├── OptionError     a flag's value is wrong, flags that do not go together, a
            │                   tool a flag needs is missing; also UsageError: exit 2
            ├── RunDirError     a run directory is missing, incomplete or from another
            │                   version; also BadInputError: exit 2
            └── BadFileError    a file the command reads or updates is unreadable or
                                malformed; also BadInputError: exit 2

``UsageError`` (logstd.errors, re-exported here) is the tools' one usage error. Only
``logstd._climain.run_main`` prints ``error: ...``: exit 1 for a refusal or a failed run,
2 for usage errors and bad input.
"""

from __future__ import annotations

from logstd.errors import BadInputError, UsageError
from opsplane.errors import OpsplaneError


class LoadtestError(OpsplaneError):
    """Base class of what loadtest raises on purpose: a failure (exit 1)."""


class OptionError(LoadtestError, UsageError):
    """A flag's value is wrong or flags do not go together."""


class RunDirError(LoadtestError, BadInputError):
    """A run directory is missing, incomplete or from another version."""


class BadFileError(LoadtestError, BadInputError):
    """A file the command reads or updates is unreadable or malformed."""


class RefusedError(LoadtestError):
    """The run cannot support a recommendation."""


__all__ = ["BadFileError", "LoadtestError", "OptionError", "RefusedError", "RunDirError",
           "UsageError"]
