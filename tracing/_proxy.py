"""The global TracerProvider: forwards to whichever provider tracing.setup installed last.

OpenTelemetry lets a process set its global provider once. Instrumentations take a tracer
once, at instrument time; the proxy tracer looks the current provider up at every span, so
a later setup() (or a reset in tests) applies everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import trace


class ProxyProvider(trace.TracerProvider):
    """``current()`` gives the provider to forward to (None: tracing is off)."""

    def __init__(self, current: Callable[[], Any]) -> None:
        self._current = current

    def get_tracer(self, instrumenting_module_name: str, *args: Any, **kwargs: Any) -> Any:
        return ProxyTracer(self._current, instrumenting_module_name, args, kwargs)


class ProxyTracer(trace.Tracer):
    def __init__(self, current: Callable[[], Any], name: str, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        self._current, self._name, self._args, self._kwargs = current, name, args, kwargs

    def _real(self) -> Any:
        p = self._current()
        if p is None:
            return trace.NoOpTracer()
        return p.get_tracer(self._name, *self._args, **self._kwargs)

    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._real().start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return self._real().start_as_current_span(*args, **kwargs)
