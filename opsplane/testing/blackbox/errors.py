"""Errors that leave the black-box runner.

Hierarchy::

    OpsplaneError (opsplane.errors; the tools' hierarchy is drawn in logstd/errors.py)
    ├── CollectionError    a malformed collection or environment file (file:line: field: what)
    │                      or one that cannot be found; exit 2
    └── NotReadyError      the service did not become ready within --wait; exit 1

A failing assertion is not an error: it is a result (exit 1 from the command).
"""

from __future__ import annotations

from opsplane.errors import BadInputError, OpsplaneError


class CollectionError(OpsplaneError, BadInputError):
    """A collection or environment file is missing or malformed."""


class NotReadyError(OpsplaneError):
    """The service never answered 200 on its readiness endpoint in time."""
