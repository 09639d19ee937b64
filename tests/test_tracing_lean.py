"""tracing._lean: the spans tracing makes itself, against SDK spans made the same way."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider, sampling
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, NonRecordingSpan, SpanKind, Status, StatusCode, TraceState

import tracing
from tracing import _setup
from tracing._lean import LeanSpan, lean_tracer
from tracing._wire import encode_request


@pytest.fixture(autouse=True)
def _reset_tracing() -> Iterator[None]:
    tracing.reset()
    yield
    tracing.reset()


def _setup_with(**provider: Any) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    p = TracerProvider(resource=Resource({"service.name": "lean"}), **provider)
    p.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.setup("lean", provider=p, log_ids=False)
    return exporter


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
    """Decoded spans without what differs between two spans (ids, start time, the stack)."""
    req = ExportTraceServiceRequest.FromString(encode_request(spans))
    out = []
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for sp in ss.spans:
                for field in ("trace_id", "span_id", "start_time_unix_nano"):
                    sp.ClearField(field)  # type: ignore[arg-type]
                for link in sp.links:
                    link.ClearField("trace_id")
                    link.ClearField("span_id")
                for e in sp.events:
                    for kv in e.attributes:
                        if kv.key == "exception.stacktrace":
                            kv.value.string_value = kv.value.string_value.splitlines()[-1]
                out.append({"resource": str(rs.resource), "scope": ss.scope.name,
                            "span": str(sp)})
    return out


def test_lean_span_exports_what_the_sdk_span_exports() -> None:
    exporter = _setup_with()
    attrs = {"http.request.method": "GET", "url.path": "/orders/O-1"}
    lean = _setup.starter("opsplane.asgi").start_span("GET", kind=SpanKind.SERVER,
                                                     attributes=attrs)
    sdk = _setup.tracer("opsplane.asgi").start_span("GET", kind=SpanKind.SERVER,
                                                   attributes=attrs)
    assert type(lean) is LeanSpan
    assert type(sdk) is not LeanSpan
    _exercise(lean)
    _exercise(sdk)
    done = exporter.get_finished_spans()
    assert [type(s) is LeanSpan for s in done] == [True, False]
    lean_out, sdk_out = _plain(done[:1]), _plain(done[1:])
    assert lean_out == sdk_out
    assert "unavailable" in lean_out[0]["span"]
    # and the official encoder reads a LeanSpan as it reads any SDK span
    assert encode_request(done) == encode_spans(done).SerializeToString()


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


def test_lean_span_follows_the_providers_sampler() -> None:
    exporter = _setup_with(sampler=_RecordOnly())
    with tracing.span("kept", orderId="O-1") as s:
        assert type(s) is LeanSpan
        assert s.is_recording()
        assert not s.get_span_context().trace_flags.sampled
        assert s.get_span_context().trace_state.get("vendor") == "v1"
        assert dict(s.attributes) == {"orderId": "O-1", "sampler": "mine"}
    with tracing.span("drop me") as d:
        assert type(d) is NonRecordingSpan
        assert d.get_span_context().is_valid  # ids for the logs all the same
    assert exporter.get_finished_spans() == ()  # recorded, not sampled: not exported


def test_lean_span_applies_the_providers_limits() -> None:
    exporter = _setup_with(span_limits=SpanLimits(max_span_attributes=2,
                                                  max_span_attribute_length=3))
    with tracing.span("limited", a="abcdef", b=1, c=2):
        pass
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes) == {"a": "abc", "b": 1}
    req = ExportTraceServiceRequest.FromString(encode_request([span]))
    assert req.resource_spans[0].scope_spans[0].spans[0].dropped_attributes_count == 1


def test_a_tracer_that_is_not_the_sdks_gets_no_lean_path() -> None:
    from opentelemetry.trace import NoOpTracer

    assert lean_tracer(NoOpTracer(), "x") is None


_STANDARD = [sampling.ALWAYS_ON, sampling.ALWAYS_OFF, sampling.TraceIdRatioBased(0.25),
             sampling.TraceIdRatioBased(1.0), sampling.ParentBased(sampling.ALWAYS_ON),
             sampling.ParentBased(sampling.TraceIdRatioBased(0.5)),
             sampling.ParentBased(sampling.ALWAYS_OFF,
                                  remote_parent_not_sampled=sampling.ALWAYS_ON)]


@settings(max_examples=300, deadline=None)
@given(which=st.integers(0, len(_STANDARD) - 1), trace_id=st.integers(1, 2**128 - 1),
       parent=st.none() | st.tuples(st.booleans(), st.booleans()))
def test_standard_samplers_are_decided_as_the_sdk_decides(
        which: int, trace_id: int, parent: tuple[bool, bool] | None) -> None:
    """The lean path decides OTEL_TRACES_SAMPLER's samplers itself; same answer as asking."""
    from opentelemetry import trace as api
    from opentelemetry.trace import SpanContext, TraceFlags

    from tracing._lean import _standard_decider

    sampler = _STANDARD[which]
    decide = _standard_decider(sampler)
    assert decide is not None
    ctx = None
    parent_ctx = None
    if parent is not None:
        remote, sampled = parent
        parent_ctx = SpanContext(trace_id, 0xABC, is_remote=remote,
                                 trace_flags=TraceFlags(1 if sampled else 0),
                                 trace_state=TraceState([("k", "v")]))
        ctx = api.set_span_in_context(NonRecordingSpan(parent_ctx))
    result = sampler.should_sample(ctx, trace_id, "x", SpanKind.SERVER, {"a": 1}, ())
    flags = None if parent_ctx is None else parent_ctx.trace_flags
    remote = parent_ctx is not None and parent_ctx.is_remote
    assert decide(flags, remote, trace_id) is (result.decision is Decision.RECORD_AND_SAMPLE)


def test_other_samplers_are_asked() -> None:
    class Custom(Sampler):
        def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
            return SamplingResult(Decision.DROP)

        def get_description(self) -> str:
            return "custom"

    from tracing._lean import _standard_decider

    assert _standard_decider(Custom()) is None
    assert _standard_decider(sampling.ParentBased(Custom())) is None


def test_ended_spans_reach_the_batch_queue_directly_and_a_processor_added_later_too() -> None:
    """With setup's usual provider (one CountingBatchProcessor) a LeanSpan goes straight to
    its queue; a processor added afterwards still receives every span ended after it."""
    from tracing._export import CountingBatchProcessor

    exported = InMemorySpanExporter()
    tracing.setup("lean", exporter=exported, log_ids=False)
    with tracing.span("first"):
        pass
    provider = _setup._provider
    assert provider is not None
    (batch,) = provider._active_span_processor._span_processors
    assert type(batch) is CountingBatchProcessor
    provider.force_flush()
    assert [s.name for s in exported.get_finished_spans()] == ["first"]

    later = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(later))
    with tracing.span("second"):
        pass
    provider.force_flush()
    assert [s.name for s in exported.get_finished_spans()] == ["first", "second"]
    assert [s.name for s in later.get_finished_spans()] == ["second"]


def test_the_current_span_read_directly_is_the_apis_answer() -> None:
    """tracing._current reads the runtime context's ContextVar itself: the same span as
    opentelemetry.trace.get_current_span, with or without one, nested, or when something
    that is not a span sits under the span key."""
    from opentelemetry import context as api_context
    from opentelemetry import trace as api_trace
    from opentelemetry.trace.propagation import _SPAN_KEY

    from tracing._current import getter

    current = getter()
    _setup_with()
    assert current() is api_trace.get_current_span() is api_trace.INVALID_SPAN
    with tracing.span("outer") as outer:
        assert current() is api_trace.get_current_span() is outer
        with tracing.span("inner") as inner:
            assert current() is api_trace.get_current_span() is inner
        assert current() is outer
    token = api_context.attach(api_context.set_value(_SPAN_KEY, "not a span"))
    try:
        assert current() is api_trace.get_current_span() is api_trace.INVALID_SPAN
    finally:
        api_context.detach(token)
    unsampled = NonRecordingSpan(api_trace.SpanContext(1, 2, is_remote=True))
    token = api_context.attach(api_trace.set_span_in_context(unsampled))
    try:
        assert current() is api_trace.get_current_span() is unsampled
    finally:
        api_context.detach(token)


_ROOT_SAMPLERS = [
    (sampling.ALWAYS_OFF, True), (sampling.ParentBased(sampling.ALWAYS_OFF), True),
    (sampling.TraceIdRatioBased(0.0), True),
    (sampling.ParentBased(sampling.TraceIdRatioBased(0.0)), True),
    (sampling.TraceIdRatioBased(1e-30), True),  # a bound of 0: the SDK samples nothing either
    (sampling.TraceIdRatioBased(0.5), False), (sampling.ALWAYS_ON, False),
    (sampling.ParentBased(sampling.ALWAYS_ON), False),
    (sampling.ParentBased(sampling.TraceIdRatioBased(0.01)), False),
]


@pytest.mark.parametrize(("sampler", "drops"), _ROOT_SAMPLERS)
def test_unsampled_root_only_where_the_sampler_drops_every_root(sampler: Any,
                                                                drops: bool) -> None:
    """unsampled_root answers only for samplers that drop every root span; where it
    answers, the SDK's own sampler drops roots of any trace id too (hypothesis-free: the
    extreme ids)."""
    from opentelemetry import context as api_context
    from opentelemetry import trace as api_trace

    _setup_with(sampler=sampler)
    lean = _setup.starter("t")
    token = lean.unsampled_root()
    assert (token is not None) is drops
    if token is None:
        return
    try:
        span = api_trace.get_current_span()
        ctx = span.get_span_context()
        assert type(span) is NonRecordingSpan
        assert not span.is_recording()
        assert ctx.is_valid
        assert not ctx.is_remote
        assert not ctx.trace_flags.sampled
    finally:
        token.var.reset(token)
    assert api_trace.get_current_span() is api_trace.INVALID_SPAN
    assert api_context.get_current() == Context()
    for trace_id in (1, 2**64, 2**128 - 1):
        result = sampler.should_sample(None, trace_id, "root")
        assert result.decision is Decision.DROP


def test_unsampled_root_leaves_a_current_span_to_start_span() -> None:
    """Under a current span (a sampled parent), the quick path does not answer: the
    request's span is that span's child, as start_span makes it."""
    exporter = _setup_with(sampler=sampling.ParentBased(sampling.TraceIdRatioBased(0.0),
                                                        local_parent_sampled=sampling.ALWAYS_ON))
    parent_provider = TracerProvider()
    outer = parent_provider.get_tracer("t").start_span("outer")
    from opentelemetry import context as api_context
    from opentelemetry import trace as api_trace

    token = api_context.attach(api_trace.set_span_in_context(outer))
    try:
        assert _setup.starter("t").unsampled_root() is None
        with tracing.span("child"):
            pass
    finally:
        api_context.detach(token)
    (child,) = exporter.get_finished_spans()
    assert child.parent.span_id == outer.get_span_context().span_id


async def test_ratio_zero_requests_get_fresh_ids_and_export_nothing() -> None:
    """The middleware's quick path at ratio 0: each request a new valid, unsampled trace
    (ids in the context its handler sees), nothing exported, the context restored after."""
    from opentelemetry import trace as api_trace

    from tracing import TracingMiddleware

    exporter = _setup_with(sampler=sampling.ParentBased(sampling.TraceIdRatioBased(0.0)))
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(api_trace.get_current_span())
        if scope["path"] == "/boom":
            raise RuntimeError("boom")

    mw = TracingMiddleware(app)
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    for _ in range(3):
        await mw(dict(scope), None, None)
    with pytest.raises(RuntimeError):
        await mw({**scope, "path": "/boom"}, None, None)
    ids = {s.get_span_context().trace_id for s in seen}
    assert len(ids) == 4
    assert all(type(s) is NonRecordingSpan for s in seen)
    assert not any(s.get_span_context().trace_flags.sampled for s in seen)
    assert api_trace.get_current_span() is api_trace.INVALID_SPAN
    assert exporter.get_finished_spans() == ()
    # a traceparent from a sampled caller still makes a span (the parent decides)
    tid = "4bf92f3577b34da6a3ce929d0e0e4736"
    await mw({**scope, "headers": [(b"traceparent", f"00-{tid}-00f067aa0ba902b7-01".encode())]},
             None, None)
    (span,) = exporter.get_finished_spans()
    assert format(span.context.trace_id, "032x") == tid


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


@settings(max_examples=300, deadline=None)
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
    tracing.reset()
    _setup_with(span_limits=SpanLimits(max_span_attributes=max_n,
                                       max_span_attribute_length=max_len))
    if how == "at start":  # one mapping: a key given twice keeps its last value
        pairs = list(dict(pairs).items())
        span = _setup.starter("t").start_span("s", attributes=dict(pairs))
    else:
        span = _setup.starter("t").start_span("s")
    if how == "bulk":
        for k, v in pairs:  # a mapping per call: set_attributes takes one
            span.set_attributes({k: v})
    elif how == "one by one":
        for k, v in pairs:
            span.set_attribute(k, v)
    want, dropped = _by_the_rules(pairs, max_n, max_len)
    assert dict(span.attributes) == want
    assert span._attrs.dropped == dropped
    span.end()


def test_attaching_a_span_in_one_step_makes_the_apis_context() -> None:
    """tracing._current.attacher: the context set_span_in_context + attach make, from the
    current context or a given one (baggage kept), undone by context.detach."""
    from opentelemetry import baggage
    from opentelemetry import context as api_context
    from opentelemetry import trace as api_trace

    from tracing._current import attacher

    attach = attacher()
    span = NonRecordingSpan(api_trace.SpanContext(1, 2, is_remote=False))
    base = baggage.set_baggage("customerId", "C-1")
    for start in (None, base):
        before = api_context.get_current()
        want = api_trace.set_span_in_context(span, start)
        token = attach(span, start)
        try:
            assert api_context.get_current() == want
            assert type(api_context.get_current()) is type(want)
        finally:
            api_context.detach(token)
        assert api_context.get_current() is before


def test_detaching_in_one_step_undoes_an_attach_and_logs_a_foreign_token() -> None:
    """tracing._current.detacher: what context.detach does, the current context restored;
    a token made in another context is logged as the API logs it, never raised."""
    import contextvars

    from opentelemetry import context as api_context
    from opentelemetry import trace as api_trace

    from tracing._current import attacher, detacher

    attach, detach = attacher(), detacher()
    span = NonRecordingSpan(api_trace.SpanContext(1, 2, is_remote=False))
    before = api_context.get_current()
    token = attach(span)
    assert api_trace.get_current_span() is span
    detach(token)
    assert api_context.get_current() is before
    foreign = contextvars.copy_context().run(attach, span)  # set inside another context
    said: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("opentelemetry.context")
    logger.addHandler(handler)
    try:
        detach(foreign)
    finally:
        logger.removeHandler(handler)
    assert said == ["Failed to detach context"]
    assert api_context.get_current() is before


def test_a_processor_that_acts_on_start_is_called() -> None:
    """Processors whose on_start does nothing are not called at start; one that acts, added
    at any time, is called for each span started after it."""
    from opentelemetry.sdk.trace import SpanProcessor

    started: list[str] = []

    class Watching(SpanProcessor):
        def on_start(self, span: Any, parent_context: Context | None = None) -> None:
            started.append(span.name)

    _setup_with()
    with tracing.span("before"):
        pass
    provider = _setup._provider
    assert provider is not None
    provider.add_span_processor(Watching())
    with tracing.span("after"):
        pass
    assert started == ["after"]
