"""Errors that leave logstd.

Hierarchy::

    LogstdError                 base of everything logstd raises on purpose
    ├── DictionaryError         a malformed dictionary or overlay (file:line: what)
    ├── ConfigError             a malformed [tool.logstd] section or LOGSTD_* variable
    └── UsageError              a command used wrongly (unknown key in a query, bad flag value)

Only ``logstd._cli.main`` turns them into ``error: ...`` and an exit code:
0 ok, 1 findings or failure, 2 usage or configuration error.
"""

from __future__ import annotations


class LogstdError(Exception):
    """Base class; ``str(err)`` is the one line shown to the user."""

    exit_code = 1


class DictionaryError(LogstdError):
    """The key dictionary or an overlay is malformed."""

    exit_code = 2


class ConfigError(LogstdError):
    """Configuration (pyproject, environment) is malformed."""

    exit_code = 2


class UsageError(LogstdError):
    """A command was used wrongly."""

    exit_code = 2
