"""tracing._lean: tracing's own TracerProvider, against the SDK's doing the same things."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    ReadableSpan,
    SpanLimits,
    SpanProcessor,
    TracerProvider,
    sampling,
)
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, NonRecordingSpan, SpanKind, Status, StatusCode, TraceState

import tracing
from tracing._lean import LeanProvider, LeanSpan

RESOURCE = Resource({"service.name": "lean"})


@pytest.fixture(autouse=True)
def _reset_tracing() -> Iterator[None]:
    tracing.reset()
    yield
    tracing.reset()


def _lean(**kwargs: Any) -> tuple[LeanProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = LeanProvider(resource=RESOURCE, sampler=kwargs.pop("sampler", sampling.ALWAYS_ON),
                            **kwargs)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _exercise(span: Any) -> None:
    span.set_attribute("http.route", "/orders/{id}")
    span.set_attributes({"http.response.status_code": 503, "retry": True, "tags": ["a", "b"]})
    span.update_name("GET /orders/{id}")
    span.add_event("cache.miss", {"key": "O-1"}, timestamp=1_700_000_000_000_000_000)
    span.add_link(span.get_span_context(), {"why": "self"})
    try:
        raise KeyError("O-1")
    except KeyError as e:
        span.record_exception(e, timestamp=1_700_000_000_000_000_001)
    span.set_status(Status(StatusCode.ERROR, "unavailable"))
    span.set_status(StatusCode.UNSET)  # ignored, as the SDK does
    span.end(end_time=1_700_000_000_000_000_002)
    span.set_attribute("after.end", 1)  # ignored once ended


def _plain(spans: Sequence[Any]) -> list[dict[str, Any]]:
    """Spans as the official encoder writes them, without what differs between two spans
    (ids, start time, the stack's lines)."""
    req = ExportTraceServiceRequest.FromString(encode_spans(spans).SerializeToString())
    out = []
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for sp in ss.spans:
                for name in ("trace_id", "span_id", "start_time_unix_nano"):
                    sp.ClearField(name)  # type: ignore[arg-type]
                for link in sp.links:
                    link.ClearField("trace_id")
                    link.ClearField("span_id")
                for e in sp.events:
                    for kv in e.attributes:
                        if kv.key == "exception.stacktrace":
                            kv.value.string_value = kv.value.string_value.splitlines()[-1]
                out.append({"resource": str(rs.resource), "scope": str(ss.scope),
                            "span": str(sp)})
    return out


def test_a_lean_span_exports_what_the_sdk_span_exports() -> None:
    lean, lean_out = _lean()
    sdk_out = InMemorySpanExporter()
    sdk = TracerProvider(resource=RESOURCE, sampler=sampling.ALWAYS_ON)
    sdk.add_span_processor(SimpleSpanProcessor(sdk_out))
    attrs = {"http.request.method": "GET", "url.path": "/orders/O-1"}
    spans = [p.get_tracer("opsplane.asgi", "1.0").start_span("GET", kind=SpanKind.SERVER,
                                                           attributes=attrs)
             for p in (lean, sdk)]
    assert type(spans[0]) is LeanSpan
    for s in spans:
        _exercise(s)
    (a,), (b,) = lean_out.get_finished_spans(), sdk_out.get_finished_spans()
    assert type(a) is ReadableSpan  # what processors and exporters get: the SDK's public type
    assert _plain([a]) == _plain([b])
    assert "unavailable" in _plain([a])[0]["span"]


def test_children_current_spans_and_outbound_instrumentation_use_it() -> None:
    """Set up by tracing.setup: tracing.span children, start_as_current_span, and the
    global provider (what instrumentations get) all make spans of one trace."""
    from opentelemetry import trace as api_trace

    exporter = InMemorySpanExporter()
    provider = tracing.setup("lean", processors=[SimpleSpanProcessor(exporter)],
                             log_ids=False)
    assert type(provider) is LeanProvider
    outer = api_trace.get_tracer("some.instrumentation", "0.1")
    with outer.start_as_current_span("outer", kind=SpanKind.CLIENT) as o, \
            tracing.span("inner", orderId="O-1") as i:
        assert api_trace.get_current_span() is i
    with pytest.raises(RuntimeError), outer.start_as_current_span("fails"):
        raise RuntimeError("boom")
    inner, outer_done, failed = exporter.get_finished_spans()
    assert inner.parent.span_id == o.get_span_context().span_id
    assert inner.context.trace_id == outer_done.context.trace_id
    assert outer_done.instrumentation_scope.name == "some.instrumentation"
    assert dict(inner.attributes) == {"orderId": "O-1"}
    assert failed.status.status_code is StatusCode.ERROR
    assert [e.name for e in failed.events] == ["exception"]
    assert failed.events[0].attributes["exception.type"] == "RuntimeError"


class _RecordOnly(Sampler):
    """Records without sampling, adds an attribute and a tracestate entry."""

    def should_sample(  # noqa: PLR0917 (the Sampler interface)
            self, parent_context: Context | None, trace_id: int, name: str,
            kind: SpanKind | None = None, attributes: Any = None,
            links: Sequence[Link] | None = None,
            trace_state: TraceState | None = None) -> SamplingResult:
        if name == "drop me":
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_ONLY, {**(attributes or {}), "sampler": "mine"},
                              TraceState([("vendor", "v1")]))

    def get_description(self) -> str:
        return "record only"


def test_a_lean_span_follows_the_providers_sampler() -> None:
    provider, exporter = _lean(sampler=_RecordOnly())
    tracer = provider.get_tracer("t")
    s = tracer.start_span("kept", attributes={"orderId": "O-1"})
    assert type(s) is LeanSpan
    assert s.is_recording()
    assert not s.get_span_context().trace_flags.sampled
    assert s.get_span_context().trace_state.get("vendor") == "v1"
    assert s.attributes == {"orderId": "O-1", "sampler": "mine"}
    s.end()
    d = tracer.start_span("drop me")
    assert type(d) is NonRecordingSpan
    assert d.get_span_context().is_valid  # ids for the logs all the same
    assert exporter.get_finished_spans() == ()  # recorded, not sampled: not exported


def test_a_lean_span_applies_the_limits() -> None:
    provider, exporter = _lean(span_limits=SpanLimits(max_span_attributes=2,
                                                      max_span_attribute_length=3))
    provider.get_tracer("t").start_span("limited", attributes={"a": "abcdef", "b": 1,
                                                               "c": 2}).end()
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes) == {"a": "abc", "b": 1}
    assert span.dropped_attributes == 1
    req = ExportTraceServiceRequest.FromString(encode_spans([span]).SerializeToString())
    assert req.resource_spans[0].scope_spans[0].spans[0].dropped_attributes_count == 1


def test_processors_are_called_at_start_and_end_and_flushed() -> None:
    calls: list[str] = []

    class Watching(SpanProcessor):
        def on_start(self, span: Any, parent_context: Context | None = None) -> None:
            calls.append(f"start {span.name}")

        def on_end(self, span: ReadableSpan) -> None:
            calls.append(f"end {span.name}")

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            calls.append("flush")
            return True

        def shutdown(self) -> None:
            calls.append("shutdown")

    provider, _ = _lean()
    provider.add_span_processor(Watching())
    provider.get_tracer("t").start_span("s").end()
    assert provider.force_flush()
    provider.shutdown()
    provider.shutdown()  # once only
    assert calls == ["start s", "end s", "flush", "shutdown"]


class _Text(str):
    """A str subclass: valid, taken by the long path."""


_VALUES = st.one_of(st.text(max_size=8), st.integers(), st.booleans(),
                    st.floats(allow_nan=False), st.none(),
                    st.lists(st.integers(), max_size=3), st.builds(_Text, st.text(max_size=8)))
_KEYS = st.one_of(st.sampled_from(["a", "b", "c", "d", ""]), st.integers(0, 2))


def _by_the_rules(pairs: Sequence[tuple[Any, Any]], max_n: int | None,
                  max_len: int | None) -> tuple[dict[Any, Any], int]:
    """The attributes and dropped count the limits' rules give, written out plainly: an
    invalid key or value is ignored; past the count limit a new key is dropped (counted)."""
    out: dict[Any, Any] = {}
    dropped = 0
    for k, given_value in pairs:
        if not isinstance(k, str) or not k or given_value is None:
            continue
        v = given_value
        if isinstance(v, list):
            v = tuple(v)
        elif isinstance(v, str) and max_len is not None:
            v = v[:max_len]
        if k not in out and max_n is not None and len(out) >= max_n:
            dropped += 1
            continue
        out[k] = v
    return out, dropped


@settings(max_examples=200, deadline=None)
@given(pairs=st.lists(st.tuples(_KEYS, _VALUES), max_size=8),
       max_n=st.one_of(st.none(), st.integers(0, 4)),
       max_len=st.one_of(st.none(), st.integers(0, 6)),
       how=st.sampled_from(("one by one", "bulk", "at start")))
def test_lean_attributes_follow_the_limits_rules(pairs: list[tuple[Any, Any]],
                                                 max_n: int | None, max_len: int | None,
                                                 how: str) -> None:
    """set_attribute / set_attributes / start_span's attributes (each with its quick test for
    plain scalars) keep what the rules keep, cut strings to the length limit and count what
    the count limit drops."""
    provider, _ = _lean(span_limits=SpanLimits(max_span_attributes=max_n,
                                               max_span_attribute_length=max_len))
    tracer = provider.get_tracer("t")
    if how == "at start":  # one mapping: a key given twice keeps its last value
        pairs = list(dict(pairs).items())
        span = tracer.start_span("s", attributes=dict(pairs))
    else:
        span = tracer.start_span("s")
    if how == "bulk":
        for k, v in pairs:  # a mapping per call: set_attributes takes one
            span.set_attributes({k: v})
    elif how == "one by one":
        for k, v in pairs:
            span.set_attribute(k, v)
    want, dropped = _by_the_rules(pairs, max_n, max_len)
    assert isinstance(span, LeanSpan)
    assert span.attributes == want
    assert span.dropped == dropped
    span.end()
