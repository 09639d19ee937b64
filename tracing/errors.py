"""Errors that leave tracing: TracingError (a bad OTEL_* setting), a one-line message."""

from __future__ import annotations

from opsplane.errors import OpsplaneError


class TracingError(OpsplaneError):
    """An OTEL_* variable or a setup() argument is invalid."""

    exit_code = 2
