"""``tracing.span("name", **attributes)``: a span for domain work; exceptions recorded."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any

from tracing import _setup

_otel: Any = None
_SCALARS = (str, bool, int, float)  # a tuple: isinstance on a union type is slower


def _names() -> Any:
    """The OpenTelemetry functions this module calls, imported on the first traced span."""
    global _otel
    if _otel is None:
        from types import SimpleNamespace

        from opentelemetry.trace import Status, StatusCode

        from tracing._current import attacher, detacher, getter

        _otel = SimpleNamespace(attach=attacher(), detach=detacher(), current=getter(),
                                Status=Status, ERROR=StatusCode.ERROR)
    return _otel


class span(contextlib.ContextDecorator):
    """``with tracing.span("name", **attributes) as s:`` a child span of the current one
    (None when tracing is not set up; the current span inside an unsampled trace).

    An exception escaping the block is recorded on the span, whose status becomes ERROR.
    A class rather than a generator-based context manager: about two microseconds less
    per span on the request path. Usable as a decorator too.
    """

    def __init__(self, name: str, **attributes: Any) -> None:
        self._name = name
        self._attributes = attributes
        self._span: Any = None
        self._token: Any = None

    def _recreate_cm(self) -> span:  # a decorated function gets a fresh one per call
        return span(self._name, **self._attributes)

    def __enter__(self) -> Any:
        if _setup._provider is None:
            return None
        otel = _otel or _names()
        current = otel.current()
        if not current.is_recording() and current.get_span_context().is_valid:
            # inside an unsampled trace a child would be dropped too: skip making one (this
            # is what keeps sampling ratio 0 nearly free); logs keep the parent's ids
            return current
        attrs = {k: v for k, v in self._attributes.items() if isinstance(v, _SCALARS)}
        # start_span + attach rather than start_as_current_span: the same span and context,
        # without two more generator-based context managers per span
        s = self._span = _setup.tracer("opsplane").start_span(self._name, attributes=attrs)
        self._token = otel.attach(s)
        return s

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        s = self._span
        if s is None:
            return
        self._span = None
        try:
            if exc is not None:
                s.record_exception(exc)
                s.set_status(_otel.Status(_otel.ERROR, type(exc).__name__))
        finally:
            s.end()
            _otel.detach(self._token)
