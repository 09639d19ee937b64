"""The current span, and making a span current, through OpenTelemetry's public API.

Callers on the request path keep the functions these return rather than looking them up
per call (the imports happen once, on first use).
"""

from __future__ import annotations

from typing import Any


def getter() -> Any:
    """``() -> the span of the current context`` (INVALID_SPAN when there is none)."""
    from opentelemetry.trace import get_current_span

    return get_current_span


def attacher() -> Any:
    """``(span, base Context or None) -> token``: make ``span`` current in a copy of
    ``base`` (None: the current context); ``detacher()`` undoes it."""
    from opentelemetry.context import attach
    from opentelemetry.trace import set_span_in_context

    def attach_span(span: Any, base: Any = None) -> Any:
        return attach(set_span_in_context(span, base))

    return attach_span


def detacher() -> Any:
    """``(token) -> None``: undo an ``attacher()`` attach (``context.detach``: a token of
    another context is logged by the API, not raised)."""
    from opentelemetry.context import detach

    return detach
