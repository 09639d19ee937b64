"""The errors that leave the command-line tools: one hierarchy and one exit-code table.

logstd is the bottom layer, so the base classes live here; opsplane, tracing and loadtest
subclass them. Hierarchy::

    ToolError                    exit 1  base: the run failed or a check could not pass;
    │                                    str(err) is the one line the user sees
    ├── UsageError               exit 2  a command used wrongly (a flag's value, a missing
    │                                    argument, flags that do not go together)
    ├── BadInputError            exit 2  a file, setting or variable the command reads is
    │                                    missing or malformed (names the file and field)
    └── LogstdError              exit 1  what logstd raises on purpose
        ├── DictionaryError      exit 2  a malformed dictionary or overlay (also BadInputError)
        └── ConfigError          exit 2  a malformed [tool.logstd] section or LOGSTD_* variable
                                         (also BadInputError)

    opsplane.errors.OpsplaneError(ToolError)   opsplane's base; loadtest.errors and
                                               tracing.errors build on it

A package's base (``LogstdError``, ``OpsplaneError``, ``LoadtestError``) says where an error
comes from and sets no code; the code comes from the role it also takes (``UsageError``,
``BadInputError``), else 1. ``logstd._climain.run_main`` is the one place where these leave
a program: it prints ``error: <str(err)>`` on one line and exits with ``err.exit_code``.

Exit codes of logstd, opsplane and loadtest (``EXIT_CODES``): 0 ok, 1 findings or failed
checks, 2 usage or bad input.
"""

from __future__ import annotations

#: the exit-code table of the three command-line tools (docs/cli.md is generated from it)
EXIT_CODES = {
    0: "ok",
    1: "findings or failed checks (lint findings, a failed collection or gate, a refused "
       "recommendation, a run that failed)",
    2: "usage or bad input (argparse's usage errors, a wrong flag value, a missing or "
       "malformed file, setting or variable, a missing extra or tool)",
}


class ToolError(Exception):
    """Base class; ``str(err)`` is the one line shown to the user, ``exit_code`` the code."""

    exit_code = 1


class UsageError(ToolError):
    """A command was used wrongly (the one usage error of the three tools)."""

    exit_code = 2


class BadInputError(ToolError):
    """A file, setting or variable the command reads is missing or malformed."""

    exit_code = 2


class LogstdError(ToolError):
    """Base class of what logstd raises on purpose."""


class DictionaryError(LogstdError, BadInputError):
    """The key dictionary or an overlay is malformed."""


class ConfigError(LogstdError, BadInputError):
    """Configuration (pyproject, environment) is malformed."""
