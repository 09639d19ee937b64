"""Tracing's own TracerProvider: the API's provider, tracer and span, made lighter.

The SDK's ``Tracer.start_span`` + ``Span`` spend most of their cost on attributes (a bounded,
locked mapping whose every value is cleaned again on each set) and on a copy of the span at
its end. OpenTelemetry's API lets an SDK be replaced through its ``TracerProvider``; this one
implements the API's provider, tracer and span, and hands each ended span to the span
processors as the SDK's public ``ReadableSpan``, built once through its constructor, so
processors and the official OTLP exporters read it as any other. What stays the SDK's:

- the sampler (``should_sample``), the id generator, the resource, the span limits (from
  OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT ...), the span
  processors and exporters, events (``Event``) and the exception event's attributes;
- attribute values are the scalars and sequences the SDK accepts, cut to the length limit;
  past the count limit a new key is dropped and counted, as the specification says.

Not kept: the per-span lock (a span belongs to one request task) and the SDK's self-metrics.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from time import time_ns
from typing import Any

from opentelemetry import context as api_context
from opentelemetry import trace as api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision, Sampler
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

log = logging.getLogger("tracing")
_UNSET = Status(StatusCode.UNSET)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_VALID = (bool, int, float, bytes)  # str is cut to the length limit first
_RANDOM = getattr(TraceFlags, "RANDOM_TRACE_ID", 0)  # W3C level 2 flag (newer APIs)


def _clean(value: Any, max_len: int | None) -> Any:
    """A valid attribute value, or None to drop it (the SDK's rules, for scalars/sequences)."""
    if isinstance(value, str):
        return value[:max_len] if max_len is not None and len(value) > max_len else value
    if isinstance(value, _VALID):
        return value
    if isinstance(value, Sequence):
        items = tuple(_clean(v, max_len) for v in value)
        return items if all(v is not None for v in items) else None
    return None


class LeanProvider(api.TracerProvider):
    """A TracerProvider of the API: the SDK's sampler, ids, resource, limits and processors."""

    def __init__(self, *, resource: Resource, sampler: Sampler,
                 id_generator: IdGenerator | None = None,
                 span_limits: SpanLimits | None = None) -> None:
        self.resource = resource
        self.sampler = sampler
        self.id_generator = id_generator or RandomIdGenerator()
        self.span_limits = span_limits or SpanLimits()
        self.processors: tuple[Any, ...] = ()
        self._tracers: dict[tuple[str, str | None, str | None], LeanTracer] = {}
        self._stopped = False
        self._atexit = atexit.register(self.shutdown)

    def get_tracer(self, instrumenting_module_name: str,
                   instrumenting_library_version: str | None = None,
                   schema_url: str | None = None,
                   attributes: Mapping[str, Any] | None = None) -> LeanTracer:
        key = (instrumenting_module_name or "", instrumenting_library_version, schema_url)
        hit = self._tracers.get(key) if attributes is None else None
        if hit is None:
            hit = LeanTracer(self, InstrumentationScope(*key, attributes))
            if attributes is None and len(self._tracers) < 256:
                self._tracers[key] = hit
        return hit

    def add_span_processor(self, processor: Any) -> None:
        self.processors = (*self.processors, processor)

    def on_end(self, span: ReadableSpan) -> None:
        for p in self.processors:
            p.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all([bool(p.force_flush(timeout_millis)) for p in self.processors])  # noqa: C419 (every one flushed)

    def shutdown(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(ValueError):
            atexit.unregister(self.shutdown)
        for p in self.processors:
            p.shutdown()


class LeanTracer(api.Tracer):
    def __init__(self, provider: LeanProvider, scope: InstrumentationScope) -> None:
        self.provider = provider
        self.scope = scope
        limits = provider.span_limits
        self.max_len = limits.max_span_attribute_length
        self.max_n = limits.max_span_attributes
        # the same limits as numbers always compared (no limit: the largest size)
        self.quick_len = sys.maxsize if self.max_len is None else self.max_len
        self.quick_n = sys.maxsize if self.max_n is None else self.max_n
        self.max_events = limits.max_events
        self.max_event_attributes = limits.max_event_attributes
        ids = provider.id_generator
        self.random_flag = _RANDOM if getattr(ids, "is_trace_id_random", lambda: False)() \
            else 0

    def start_span(self, name: str, context: api_context.Context | None = None,  # noqa: PLR0917 (the API's signature)
                   kind: SpanKind = SpanKind.INTERNAL, attributes: Any = None,
                   links: Sequence[api.Link] | None = (), start_time: int | None = None,
                   record_exception: bool = True,
                   set_status_on_exception: bool = True) -> api.Span:
        provider = self.provider
        parent: SpanContext | None = api.get_current_span(context).get_span_context()
        if parent is None or not parent.is_valid:
            parent, trace_id, extra = None, provider.id_generator.generate_trace_id(), \
                self.random_flag
        else:
            trace_id = parent.trace_id
            extra = parent.trace_flags & _RANDOM
        links = links or ()
        result = provider.sampler.should_sample(context, trace_id, name, kind, attributes,
                                                links)
        decision = result.decision
        flags = TraceFlags((TraceFlags.SAMPLED if decision is Decision.RECORD_AND_SAMPLE else
                            TraceFlags.DEFAULT) | extra)
        ctx = SpanContext(trace_id, provider.id_generator.generate_span_id(), is_remote=False,
                          trace_flags=flags, trace_state=result.trace_state)
        if decision is Decision.DROP:
            return api.NonRecordingSpan(ctx)
        span = LeanSpan(name, ctx, parent, kind=kind, tracer=self, start_time=start_time)
        if result.attributes:
            span.set_attributes(result.attributes)
        for link in links:
            span.add_link(link.context, link.attributes)
        for p in provider.processors:
            p.on_start(span, parent_context=context)
        return span

    @contextlib.contextmanager  # (the API's own decorator for this is private)
    def start_as_current_span(  # type: ignore[override]  # noqa: PLR0917 (the API's signature)
            self, name: str, context: api_context.Context | None = None,
            kind: SpanKind = SpanKind.INTERNAL, attributes: Any = None,
            links: Sequence[api.Link] | None = (), start_time: int | None = None,
            record_exception: bool = True, set_status_on_exception: bool = True,
            end_on_exit: bool = True) -> Iterator[api.Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time)
        with api.use_span(span, end_on_exit=end_on_exit, record_exception=record_exception,
                          set_status_on_exception=set_status_on_exception) as s:
            yield s


class LeanSpan(api.Span):
    """A recording span of the API; ended into the provider's processors as a ReadableSpan."""

    def __init__(self, name: str, context: SpanContext, parent: SpanContext | None, *,
                 kind: SpanKind, tracer: LeanTracer, start_time: int | None) -> None:
        self.name = name
        self.context = context
        self.parent = parent
        self.kind = kind
        self.tracer = tracer
        self.attributes: dict[str, Any] = {}
        self.dropped = 0
        self.events: list[Event] = []
        self.links: list[api.Link] = []
        self.status = _UNSET
        self.start_time = start_time if start_time is not None else time_ns()
        self.end_time: int | None = None

    # -- the API ------------------------------------------------------------------
    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return self.end_time is None

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self.end_time is not None:
            return
        attrs, tracer = self.attributes, self.tracer
        max_len, max_n = tracer.quick_len, tracer.quick_n
        for key, value in attributes.items():
            t = type(value)
            # the usual case in one test: a plain scalar under a string key, within the limits
            if ((t is str and len(value) <= max_len) or t is int or t is bool or
                    t is float) and type(key) is str and key and \
                    (key in attrs or len(attrs) < max_n):
                attrs[key] = value
            else:
                self._set_by_the_rules(key, value)

    def set_attribute(self, key: str, value: Any) -> None:
        if type(key) is str:
            self.set_attributes({key: value})
        elif self.end_time is None:  # any other key (even an unhashable one) is dropped
            self._set_by_the_rules(key, value)

    def _set_by_the_rules(self, key: Any, value: Any) -> None:
        """What the quick test leaves: validated and cut as the SDK does, or dropped."""
        attrs, tracer = self.attributes, self.tracer
        clean = _clean(value, tracer.max_len)
        if not key or not isinstance(key, str) or clean is None:
            log.debug("span attribute dropped: not a valid key or value",
                      extra={"event": "tracing.attribute_dropped"})
            return
        if key not in attrs and tracer.max_n is not None and len(attrs) >= tracer.max_n:
            self.dropped += 1
            return
        attrs[key] = clean

    def add_event(self, name: str, attributes: Any = None,
                  timestamp: int | None = None) -> None:
        if self.end_time is not None:
            return
        limit = self.tracer.max_events
        if limit is not None and len(self.events) >= limit:
            return
        self.events.append(Event(name, attributes, timestamp if timestamp is not None
                                 else time_ns(), limit=self.tracer.max_event_attributes))

    def add_link(self, context: SpanContext, attributes: Any = None) -> None:
        if self.end_time is None and context is not None and context.is_valid:
            self.links.append(api.Link(context, attributes))

    def update_name(self, name: str) -> None:
        if self.end_time is None:
            self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """As the SDK: OK is final, UNSET is ignored."""
        if self.end_time is not None or self.status.status_code is StatusCode.OK:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if status.status_code is not StatusCode.UNSET:
            self.status = status

    def record_exception(self, exception: BaseException, attributes: Any = None,
                         timestamp: int | None = None, escaped: bool = False) -> None:
        """The exception event the SDK records: type, message, stacktrace, escaped."""
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        attrs: dict[str, Any] = {
            "exception.type": f"{module}.{qualname}" if module and module != "builtins"
            else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            attrs.update(attributes)
        self.add_event("exception", attrs, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is not None:
            return
        self.end_time = end_time if end_time is not None else time_ns()
        tracer = self.tracer
        attributes: Any = self.attributes
        if self.dropped:  # the count the exporters read is the SDK's bounded mapping's
            attributes = BoundedAttributes(tracer.max_n, attributes, immutable=True,
                                           max_value_len=tracer.max_len)
            attributes.dropped += self.dropped
        tracer.provider.on_end(ReadableSpan(
            name=self.name, context=self.context, parent=self.parent,
            resource=tracer.provider.resource, attributes=attributes,
            events=tuple(self.events), links=tuple(self.links), kind=self.kind,
            status=self.status, start_time=self.start_time, end_time=self.end_time,
            instrumentation_scope=tracer.scope))

    def __repr__(self) -> str:
        return f"LeanSpan(name={self.name!r}, context={self.context!r})"
