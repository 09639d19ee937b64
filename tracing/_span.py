"""``tracing.span("name", **attributes)``: a span for domain work; exceptions recorded."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A child span of the current one (a no-op span when tracing is not set up).

    An exception escaping the block is recorded on the span, whose status becomes ERROR.
    """
    from tracing import _setup

    if _setup._provider is None:
        yield None
        return
    from opentelemetry.trace import Status, StatusCode, get_current_span

    current = get_current_span()
    if current.get_span_context().is_valid and not current.is_recording():
        # inside an unsampled trace a child would be dropped too: skip making one (this is
        # what keeps sampling ratio 0 nearly free); logs keep the parent's ids
        yield current
        return

    tracer = _setup.tracer("opsplane")
    attrs = {k: v for k, v in attributes.items() if isinstance(v, str | bool | int | float)}
    with tracer.start_as_current_span(name, attributes=attrs, record_exception=False,
                                      set_status_on_exception=False) as s:
        try:
            yield s
        except BaseException as e:
            s.record_exception(e)
            s.set_status(Status(StatusCode.ERROR, type(e).__name__))
            raise
