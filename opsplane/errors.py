"""Errors that leave opsplane.

Hierarchy::

    OpsplaneError          base; str(err) is the one line the user sees
    ├── SpecError          service.yaml is malformed (names the file and field path)
    ├── UsageError         a command used wrongly
    └── SettingsError      a fact or secret is missing or invalid (names it, never its value)

Only ``opsplane._cli.main`` prints ``error: ...`` and exits: 0 ok, 1 failure, 2 usage.
"""

from __future__ import annotations


class OpsplaneError(Exception):
    exit_code = 1


class SpecError(OpsplaneError):
    exit_code = 2


class UsageError(OpsplaneError):
    exit_code = 2


class SettingsError(OpsplaneError):
    pass
