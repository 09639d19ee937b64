"""tracing/_idsc.c against its Python twins: the quick unsampled root of a request and the
hex ids of log records give the same answers and the same objects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _compiled import compiled
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import context as api_context
from opentelemetry import trace as api_trace
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

import tracing
from tracing import _setup
from tracing._asgi import _PROPAGATION, _SKIP
from tracing._logs import hex_ids_py

idsc = compiled("tracing._idsc", "tracing's ids are made in Python")


@pytest.fixture(autouse=True)
def _ratio_zero() -> Iterator[None]:
    tracing.reset()
    tracing.setup("ids", provider=TracerProvider(
        sampler=sampling.ParentBased(sampling.TraceIdRatioBased(0.0))), log_ids=False)
    yield
    tracing.reset()


def _quick_pair() -> tuple[Any, Any]:
    """The C quick root and the Python one, of the same tracer."""
    lean = _setup.starter("opsplane.asgi")
    c = lean.quick_root(_SKIP, _PROPAGATION)
    assert type(c) is idsc.QuickRoot
    lean._plain_ids = False  # the Python twin is what any other id generator gets
    try:
        py = lean.quick_root(_SKIP, _PROPAGATION)
    finally:
        lean._plain_ids = True
    assert type(py) is not idsc.QuickRoot
    return c, py


_SCOPES = [
    {"type": "http", "path": "/orders/1", "headers": [(b"host", b"x")]},
    {"type": "http", "path": "/orders/1"},
    {"type": "http", "headers": []},
    {"type": "http", "path": "/orders/1", "headers": [(b"traceparent", b"00-zz")]},
    {"type": "http", "path": "/x", "headers": [(b"host", b"x"), (b"baggage", b"k=v")]},
    {"type": "http", "path": "/healthz/ready", "headers": []},
    {"type": "http", "path": "/metrics", "headers": []},
    {"type": "websocket", "path": "/ws", "headers": []},
    {"type": "lifespan"},
    {"path": "/orders/1"},
]


@pytest.mark.parametrize("scope", _SCOPES)
def test_quick_root_answers_as_python(scope: dict[str, Any]) -> None:
    c, py = _quick_pair()
    before = api_context.get_current()
    answered = []
    for quick in (c, py):
        token = quick(scope)
        answered.append(token is not None)
        if token is None:
            assert api_context.get_current() is before
            continue
        current = api_context.get_current()
        span = api_trace.get_current_span()
        ctx = span.get_span_context()
        try:
            assert type(current) is type(before)
            assert type(span) is NonRecordingSpan
            assert type(ctx) is SpanContext
            rebuilt = SpanContext(ctx.trace_id, ctx.span_id, is_remote=False,
                                  trace_flags=ctx.trace_flags, trace_state=ctx.trace_state)
            assert tuple(ctx) == tuple(rebuilt)  # every field as the API makes it
            assert ctx.is_valid
            assert not ctx.trace_flags.sampled
            assert {k: v for k, v in current.items() if v is not span} == dict(before)
        finally:
            token.var.reset(token)
        assert api_context.get_current() is before
    assert answered[0] == answered[1]
    assert answered[0] == (scope.get("type") == "http" and scope.get("path", "") in (
        "/orders/1", "") and not any(k in _PROPAGATION for k, _ in scope.get("headers", ())))


def test_quick_root_leaves_a_current_span_alone_and_draws_new_ids() -> None:
    c, _ = _quick_pair()
    scope = _SCOPES[0]
    outer = NonRecordingSpan(SpanContext(5, 6, is_remote=True))
    token = api_context.attach(api_trace.set_span_in_context(outer))
    try:
        assert c(scope) is None
    finally:
        api_context.detach(token)
    seen = set()
    for _ in range(50):
        t = c(scope)
        assert t is not None
        seen.add(api_trace.get_current_span().get_span_context().trace_id)
        t.var.reset(t)
    assert len(seen) == 50


def test_quick_root_refuses_what_is_not_a_scope() -> None:
    c, _ = _quick_pair()
    assert c(["not", "a", "dict"]) is None
    with pytest.raises(TypeError):
        c({"type": "http"}, extra=1)
    with pytest.raises(TypeError):
        c({"type": "http", "headers": [([], b"x")]})  # an unhashable header name


@settings(max_examples=300, deadline=None)
@given(trace_id=st.integers(0, 2**128 + 5), span_id=st.integers(0, 2**64 + 5),
       flags=st.integers(0, 255), remote=st.booleans())
def test_hex_ids_answer_as_python(trace_id: int, span_id: int, flags: int,
                                  remote: bool) -> None:
    ctx = SpanContext(trace_id, span_id, is_remote=remote, trace_flags=TraceFlags(flags))
    assert idsc.hex_ids(ctx) == hex_ids_py(ctx)


def test_log_records_read_the_ids_of_their_span() -> None:
    import logging

    from logstd.testing import capture_logs

    with capture_logs() as logs:
        tracing.reset()
        tracing.setup("ids", provider=TracerProvider())
        with tracing.span("outer") as s:
            logging.getLogger("t").info("inside", extra={"event": "t.inside"})
            logging.getLogger("t").info("again", extra={"event": "t.again"})
        logging.getLogger("t").info("outside", extra={"event": "t.outside"})
    ctx = s.get_span_context()
    inside = [r for r in logs if r["message"] in ("inside", "again")]
    assert [(r["traceId"], r["spanId"]) for r in inside] == \
        [(format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))] * 2
    assert "traceId" not in next(r for r in logs if r["message"] == "outside")
