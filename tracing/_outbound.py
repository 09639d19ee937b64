"""Outbound HTTP spans and traceparent injection for httpx and requests.

Uses the OpenTelemetry contrib instrumentations; spans go to whichever provider
``tracing.setup`` installed (through the global proxy provider).
"""

from __future__ import annotations

_done: set[str] = set()


def instrument_httpx() -> None:
    """Every httpx client (sync and async) gets CLIENT spans and propagates the context."""
    if "httpx" in _done:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument()
    _done.add("httpx")


def instrument_requests() -> None:
    """Every requests session gets CLIENT spans and propagates the context."""
    if "requests" in _done:
        return
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    RequestsInstrumentor().instrument()
    _done.add("requests")
