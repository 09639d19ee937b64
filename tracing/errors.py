"""Errors that leave tracing: TracingError (a bad OTEL_* setting), a one-line message."""

from __future__ import annotations

from opsplane.errors import BadInputError, OpsplaneError


class TracingError(OpsplaneError, BadInputError):
    """An OTEL_* variable or a setup() argument is invalid (bad input: exit 2)."""
