"""Errors that leave opsplane, built on the tools' one hierarchy (``logstd.errors``).

Hierarchy::

    ToolError (logstd.errors)       exit 1; str(err) is the one line the user sees
    ├── UsageError (logstd.errors)  exit 2; a command used wrongly (re-exported here)
    ├── BadInputError (logstd.errors)
    └── OpsplaneError               opsplane's base: a failure, exit 1
        ├── SpecError               service.yaml is malformed (names the file and field
        │                           path); also BadInputError: exit 2
        ├── SettingsError           a fact or secret is missing or invalid (names it, never
        │                           its value); also BadInputError: exit 2
        ├── AppLoadError            ``opsplane serve``'s APP cannot be imported or is not an
        │                           ASGI app; also BadInputError: exit 2
        └── MissingToolError        a program a command runs is not installed (names what
                                    installs it, as a missing extra does); also
                                    BadInputError: exit 2

Other packages add their own below ``OpsplaneError`` in their ``errors`` modules
(blackbox, canary, loadtest, tracing) or beside the code (chart, pipeline, secretscan).

Only ``logstd._climain.run_main`` prints ``error: ...`` and exits: 0 ok, 1 findings or
failed checks, 2 usage or bad input.
"""

from __future__ import annotations

from logstd.errors import BadInputError, ToolError, UsageError


class OpsplaneError(ToolError):
    """Base class of what opsplane raises on purpose."""


class SpecError(OpsplaneError, BadInputError):
    """service.yaml (or another spec file) is malformed."""


class SettingsError(OpsplaneError, BadInputError):
    """A fact or secret is missing or invalid."""


class AppLoadError(OpsplaneError, BadInputError):
    """The app to serve cannot be imported, or is not an ASGI app."""


class MissingToolError(OpsplaneError, BadInputError):
    """A program a command runs is not installed."""


__all__ = ["AppLoadError", "BadInputError", "MissingToolError", "OpsplaneError", "SettingsError",
           "SpecError", "ToolError", "UsageError"]
