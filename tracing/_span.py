"""``tracing.span("name", **attributes)``: a span for domain work; exceptions recorded."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from tracing import _setup

_otel: Any = None
_SCALARS = (str, bool, int, float)  # a tuple: isinstance on a union type is slower


def _names() -> Any:
    """The OpenTelemetry functions this module calls, imported on the first traced span."""
    global _otel
    if _otel is None:
        from types import SimpleNamespace

        from opentelemetry import context, trace
        from opentelemetry.trace import Status, StatusCode

        _otel = SimpleNamespace(attach=context.attach, detach=context.detach,
                                current=trace.get_current_span,
                                in_context=trace.set_span_in_context, Status=Status,
                                ERROR=StatusCode.ERROR)
    return _otel


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A child span of the current one (a no-op span when tracing is not set up).

    An exception escaping the block is recorded on the span, whose status becomes ERROR.
    """
    if _setup._provider is None:
        yield None
        return
    otel = _otel or _names()
    current = otel.current()
    if not current.is_recording() and current.get_span_context().is_valid:
        # inside an unsampled trace a child would be dropped too: skip making one (this is
        # what keeps sampling ratio 0 nearly free); logs keep the parent's ids
        yield current
        return
    attrs = {k: v for k, v in attributes.items() if isinstance(v, _SCALARS)}
    # start_span + attach rather than start_as_current_span: the same span and context,
    # without two more generator-based context managers per span (exceptions: below)
    s = _setup.starter("opsplane").start_span(name, attributes=attrs)
    token = otel.attach(otel.in_context(s))
    try:
        yield s
    except BaseException as e:
        s.record_exception(e)
        s.set_status(otel.Status(otel.ERROR, type(e).__name__))
        raise
    finally:
        s.end()
        otel.detach(token)
