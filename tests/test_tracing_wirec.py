"""tracing._wirec writes the bytes tracing._wire writes, or leaves the span to it.

The export path encodes the common span shapes in C (``tracing._wirec.span_field``) and
every other one in Python (``tracing._wire.encode_span``). These tests build random spans,
LeanSpans and SDK spans alike (names, kinds, scalar and odd attribute values, statuses,
remote and local parents, events, links, trace states, dropped attributes), and hold the
C bytes to the Python bytes, and the whole request to the official encoder's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from _compiled import compiled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace as api
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

import tracing
from tracing import _setup, _wire


def _module() -> Any:
    return compiled("tracing._wirec", "spans are encoded in Python")


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    _module()
    exp = InMemorySpanExporter()
    p = TracerProvider(resource=Resource({"service.name": "wirec"}),
                       span_limits=SpanLimits(max_span_attributes=6))
    p.add_span_processor(SimpleSpanProcessor(exp))
    tracing.reset()
    tracing.setup("wirec", provider=p, log_ids=False)
    yield exp
    tracing.reset()


scalars = (st.text() | st.booleans() | st.floats()
           | st.integers(min_value=-(2**64), max_value=2**64))
values = scalars | st.lists(st.text(max_size=3) | st.integers(-5, 5), max_size=3)
keys = st.text(min_size=1, max_size=12)
span_shapes = st.fixed_dictionaries({
    "lean": st.booleans(),
    "name": st.text(max_size=20),
    "kind": st.sampled_from(list(SpanKind)),
    "attributes": st.dictionaries(keys, values, max_size=8),
    "status": st.none() | st.tuples(st.sampled_from([StatusCode.OK, StatusCode.ERROR]),
                                    st.none() | st.text(max_size=10)),
    "parent": st.none() | st.tuples(st.booleans(), st.booleans()),
    "event": st.booleans(),
    "link": st.booleans(),
})


def _make(shape: dict[str, Any]) -> None:
    """Start and end one span of this shape through tracing (lean) or the SDK tracer."""
    context = None
    if shape["parent"] is not None:
        remote, with_state = shape["parent"]
        parent = SpanContext(0x1234, 0x5678, is_remote=remote,
                             trace_flags=TraceFlags(TraceFlags.SAMPLED),
                             trace_state=TraceState([("k", "v")]) if with_state else None)
        context = api.set_span_in_context(api.NonRecordingSpan(parent))
    scope = shape.get("scope", "wirec")
    starter = _setup.starter(scope) if shape["lean"] else _setup.tracer(scope)
    span = starter.start_span(shape["name"], context=context, kind=shape["kind"])
    for k, v in shape["attributes"].items():
        span.set_attribute(k, v)
    if shape["event"]:
        span.add_event("e", {"n": 1}, timestamp=5)
    if shape["link"]:
        span.add_link(SpanContext(0x99, 0x98, is_remote=True), {"why": "x"})
    if shape["status"] is not None:
        span.set_status(Status(*shape["status"]))
    span.end()


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(span_shapes, min_size=1, max_size=4))
def test_c_bytes_are_the_python_bytes(exporter: InMemorySpanExporter,
                                      shapes: list[dict[str, Any]]) -> None:
    wirec = _module()
    exporter.clear()
    for shape in shapes:
        _make(shape)
    spans = list(exporter.get_finished_spans())
    assert len(spans) == len(shapes)
    for s in spans:
        got = wirec.span_field(s)
        if got is not None:
            assert got == _wire._field(b"\x12", _wire.encode_span(s)), s
    with_c = _wire.encode_request(spans)
    saved, _wire._span_field = _wire._span_field, None
    try:
        without_c = _wire.encode_request(spans)
    finally:
        _wire._span_field = saved
    assert with_c == without_c


def test_the_common_request_span_is_encoded_in_c(exporter: InMemorySpanExporter) -> None:
    wirec = _module()
    assert _wire._span_field is wirec.span_field
    exporter.clear()
    with tracing.span("GET /orders/{id}", **{"http.route": "/orders/{id}",
                                             "http.response.status_code": 200,
                                             "ratio": 0.5, "retry": False}) as span:
        span.set_status(Status(StatusCode.ERROR, "down"))
    (s,) = exporter.get_finished_spans()
    got = wirec.span_field(s)
    assert got is not None  # not left to Python
    assert _wire.encode_request([s]) == encode_spans([s]).SerializeToString()


def test_shapes_left_to_python_say_so(exporter: InMemorySpanExporter) -> None:
    wirec = _module()
    exporter.clear()
    with tracing.span("event") as span:
        span.add_event("cache.miss")
    with tracing.span("big int") as span:
        span.set_attribute("n", 2**63)
    with tracing.span("sequence") as span:
        span.set_attribute("tags", ["a", "b"])
    assert [wirec.span_field(s) for s in exporter.get_finished_spans()] == [None] * 3
    with pytest.raises(AttributeError):
        wirec.span_field(object())


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(span_shapes, min_size=1, max_size=6))
def test_a_queue_of_spans_encoded_as_they_ended_makes_the_same_request(
        exporter: InMemorySpanExporter, shapes: list[dict[str, Any]]) -> None:
    """The batch queue holds bytes for the spans encoded as they ended and spans for the
    rest; the request built from that mix is the request built from the spans."""
    _module()
    exporter.clear()
    for i, shape in enumerate(shapes):
        _make({**shape, "scope": f"scope-{i % 2}"})
    spans = list(exporter.get_finished_spans())
    items = [_wire.preencode(s) or s for s in spans]
    assert [type(x) is bytes for x in items] == [_wire._span_field(s) is not None
                                                for s in spans]
    assert _wire.encode_request(items) == _wire.encode_request(spans)


def test_the_batch_queue_holds_bytes_for_tracings_own_exporter() -> None:
    """setup with the OTLP/HTTP exporter: a request span is queued as bytes, and the
    receiver decodes it as the span it was."""
    from tracing.testing import OtlpReceiver

    _module()
    tracing.reset()
    try:
        with OtlpReceiver() as rx:
            os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = rx.endpoint
            try:
                tracing.setup("wirec")
            finally:
                del os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
            with tracing.span("GET /orders/{id}", **{"http.route": "/orders/{id}"}):
                pass
            provider = _setup._provider
            assert provider is not None
            (batch,) = provider._active_span_processor._span_processors
            queued = list(batch._batch_processor._queue)
            assert [type(x) for x in queued] == [bytes]
            provider.force_flush()
            (got,) = rx.wait_for(lambda spans: len(spans) >= 1)
            assert got["name"] == "GET /orders/{id}"
            assert got["attributes"]["http.route"] == "/orders/{id}"
    finally:
        tracing.reset()
