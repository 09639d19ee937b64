"""A lighter span for the spans tracing makes itself (inbound requests, ``tracing.span``).

The SDK's ``Tracer.start_span`` + ``Span`` cost ~25-35 us of CPU per span (a lock, a bounded
attribute map whose every value is re-validated, an event list, a link list, tracer metrics,
and a copy of the span at its end); at sample ratio 1.0 that, more than export, is what the
request pays. ``LeanSpan`` is the same thing with less around it, ~4x cheaper:

- the provider's own sampler, id generator, resource and span processors decide and receive
  it (taken from the SDK tracer: ``sampler``, ``id_generator``, ``resource``,
  ``span_processor``), so OTEL_TRACES_SAMPLER*, processors and exporters apply unchanged;
- it *is* an SDK ``ReadableSpan`` (processors, exporters, tracing._wire and the official
  encoder read it as any other) and an API ``Span`` (current in the context, parent of
  the httpx instrumentation's SDK spans, ids in log records);
- attribute values are the scalars and sequences the SDK accepts; the count and value length
  limits are the provider's (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT
  ...); past the count limit a new key is dropped and counted, as the specification says
  (the Python SDK evicts the oldest instead); events and exceptions are SDK ``Event`` objects;
- not kept: the per-span lock (a span belongs to one request task) and the SDK's internal
  self-metrics (OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED) for these spans.

A provider that is not the SDK's (injected by a test or an application) gets the SDK path.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from random import getrandbits
from time import time_ns
from typing import Any

from opentelemetry import trace as api
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, SpanProcessor, sampling
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

from tracing._current import getter, runtime

log = logging.getLogger("tracing")
_UNSET = Status(StatusCode.UNSET)
_FLAGS = [TraceFlags(f) for f in range(256)]  # one object per flag byte, made once
_MAX_TRACE_ID, _MAX_SPAN_ID = 2**128 - 1, 2**64 - 1


def _context_in_one_step(trace_id: int, span_id: int, flags: TraceFlags,
                         state: TraceState | None) -> SpanContext:
    """A local SpanContext as SpanContext() makes it (a tuple of its six fields), without
    its keyword handling: what each span pays."""
    return _new_tuple(SpanContext, (
        trace_id, span_id, False, flags, DEFAULT_TRACE_STATE if state is None else state,
        0 < trace_id <= _MAX_TRACE_ID and 0 < span_id <= _MAX_SPAN_ID))


def _context_by_the_api(trace_id: int, span_id: int, flags: TraceFlags,
                        state: TraceState | None) -> SpanContext:
    return SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags, trace_state=state)


_new_tuple = tuple.__new__
# the one-step form only where it makes what the API makes (its layout is not public)
_context = _context_in_one_step if all(
    _context_in_one_step(*a) == _context_by_the_api(*a) and
    type(_context_in_one_step(*a)) is SpanContext
    for a in ((1, 2, _FLAGS[1], None), (0, 2, _FLAGS[0], TraceState([("k", "v")])),
              (2**128, 0, _FLAGS[1], None))) else _context_by_the_api
# a SpanContext is read as its tuple of six fields where that is how the API makes it
_FIELDS = _context is _context_in_one_step
_VALID = (bool, int, float, bytes)  # str is cut to the length limit first
_RANDOM = getattr(TraceFlags, "RANDOM_TRACE_ID", 0)  # W3C level 2 flag (newer SDKs set it)


class _Attributes(dict[str, Any]):
    """Span attributes with the count the limits dropped (read by tracing._wire)."""

    dropped = 0


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


class LeanSpan(api.Span, ReadableSpan):
    """A recording span: ReadableSpan fields set directly, ended into the span processors."""

    def __init__(self, name: str, context: SpanContext, parent: SpanContext | None, *,
                 kind: SpanKind, attributes: _Attributes, factory: LeanTracer) -> None:
        self._name = name
        self._context = self._ctx = context
        self._parent = parent
        self._kind = kind
        self._attributes = self._attrs = attributes
        self._events: list[Event] = []
        self._links: tuple[Any, ...] = ()
        self._resource = factory.resource
        self._instrumentation_info = None
        self._instrumentation_scope = factory.scope
        self._status = _UNSET
        self._start_time = time_ns()
        self._end_time: int | None = None
        self._factory = factory

    # -- the API ------------------------------------------------------------------
    def get_span_context(self) -> SpanContext:
        return self._ctx

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self._end_time is not None:
            return
        attrs, fac = self._attrs, self._factory
        max_len, max_n = fac.max_len, fac.max_n
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
        elif self._end_time is None:  # any other key (even an unhashable one) is dropped
            self._set_by_the_rules(key, value)

    def _set_by_the_rules(self, key: str, value: Any) -> None:
        """What the quick test leaves: validated and cut as the SDK does, or dropped."""
        attrs, limits = self._attrs, self._factory.limits
        clean = _clean(value, limits.max_span_attribute_length)
        if not key or not isinstance(key, str) or clean is None:
            log.debug("span attribute dropped: not a valid key or value",
                      extra={"event": "tracing.attribute_dropped"})
            return
        if key not in attrs and limits.max_span_attributes is not None and \
                len(attrs) >= limits.max_span_attributes:
            attrs.dropped += 1
            return
        attrs[key] = clean

    def add_event(self, name: str, attributes: Any = None, timestamp: int | None = None) -> None:
        if self._end_time is None:
            self._events.append(Event(name, attributes, timestamp))

    def add_link(self, context: SpanContext, attributes: Any = None) -> None:
        if self._end_time is None and context is not None and context.is_valid:
            self._links = (*self._links, api.Link(context, attributes))

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """As the SDK: OK is final, UNSET is ignored."""
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if status.status_code is not StatusCode.UNSET:
            self._status = status

    record_exception = SdkSpan.record_exception  # the SDK's event: type, message, stacktrace

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._end_time = end_time if end_time is not None else time_ns()
        fac = self._factory
        # the provider's processors as when the route was chosen (one may be added later)
        if fac.processor._span_processors is fac.routed:
            fac.on_end(self)
        else:
            fac.route_ends()(self)

    def __repr__(self) -> str:
        return f"LeanSpan(name={self._name!r}, context={self._context!r})"


def _standard_decider(sampler: Any) -> Any:
    """For the SDK's standard samplers (what OTEL_TRACES_SAMPLER names: always_on/off,
    traceidratio and their parentbased_ forms, default children), a function
    ``(parent's trace flags or None without a parent, parent is remote, trace_id) -> sampled``
    giving the sampler's own decision without its result objects; None for any other sampler
    (it is then asked as usual).
    """
    on, off = sampling.ALWAYS_ON, sampling.ALWAYS_OFF

    def plain(s: Any) -> Any:
        if s is on:
            return lambda trace_id: True
        if s is off:
            return lambda trace_id: False
        if type(s) is sampling.TraceIdRatioBased:
            limit, bound = s.TRACE_ID_LIMIT, s.bound
            return lambda trace_id: trace_id & limit < bound
        return None

    root = plain(sampler)
    if root is not None:
        return lambda flags, remote, trace_id: root(trace_id)
    if type(sampler) is not sampling.ParentBased:
        return None
    root = plain(sampler._root)
    children = (sampler._remote_parent_sampled, sampler._remote_parent_not_sampled,
                sampler._local_parent_sampled, sampler._local_parent_not_sampled)
    if root is None or any(c is not on and c is not off for c in children):
        return None
    remote_yes, remote_no, local_yes, local_no = (c is on for c in children)

    def decide(flags: int | None, remote: bool, trace_id: int) -> bool:
        if flags is None:
            return bool(root(trace_id))
        if flags & TraceFlags.SAMPLED:
            return remote_yes if remote else local_yes
        return remote_no if remote else local_no

    return decide


class LeanTracer:
    """start_span for one SDK tracer (same sampler, ids, resource, processors)."""

    def __init__(self, sdk_tracer: Any, name: str) -> None:
        self.sampler = sdk_tracer.sampler
        self.ids = sdk_tracer.id_generator
        self.resource = sdk_tracer.resource
        self.processor = sdk_tracer.span_processor
        self.scope = getattr(sdk_tracer, "_instrumentation_scope", None) or \
            InstrumentationScope(name)
        # the provider's limits (given, or from OTEL_*_LIMIT variables)
        self.limits = getattr(sdk_tracer, "_span_limits", None) or SpanLimits()
        # the same limits as numbers always compared (no limit: the largest size)
        self.max_len = _or_max(self.limits.max_span_attribute_length)
        self.max_n = _or_max(self.limits.max_span_attributes)
        random_ids = getattr(self.ids, "is_trace_id_random", lambda: False)()
        self._random = _RANDOM if random_ids else 0
        self._decide = _standard_decider(self.sampler)
        self._current = getter()
        self._runtime = runtime() if _drops_every_root(self.sampler) else None
        self._unsampled = _FLAGS[TraceFlags.DEFAULT | self._random]
        # the SDK's default generator draws from the random module: drawn here in one step
        self._plain_ids = type(self.ids) is RandomIdGenerator
        self.route_ends()

    def _new_trace_id(self) -> int:
        """A root span's trace id: drawn here in one step from the SDK's default generator."""
        if self._plain_ids:
            trace_id = getrandbits(128)
            if trace_id:
                return trace_id
        return int(self.ids.generate_trace_id())

    def route_ends(self) -> Any:
        """Choose what an ended LeanSpan is handed to: the provider's processors, or
        straight the one CountingBatchProcessor when it is the only one (tracing.setup's
        usual provider: two dispatch layers and a sampled check fewer per span; a LeanSpan
        is sampled). Chosen again when the provider's processors change."""
        from tracing._export import CountingBatchProcessor

        inner = self.processor._span_processors
        self.routed = inner
        # the processors' on_start is called only when one of them does something in it
        self.starts = any(type(p).on_start not in _NOOP_STARTS for p in inner)
        if len(inner) == 1 and type(inner[0]) is CountingBatchProcessor:
            self.on_end = inner[0].emit
        else:
            self.on_end = self.processor.on_end
        return self.on_end

    def unsampled_root(self) -> Any:
        """Where the sampler drops every root span whatever its trace id (ratio 0,
        always_off, and their parentbased_ forms) and no span is current: attach a new
        trace's unsampled span (fresh ids for logs and traceparent downstream) to the
        current context and return the ContextVar token (``token.var.reset(token)`` ends
        it). None when ``start_span`` must decide. What start_span + attach do for such a
        request, without the decision, the parent lookups and the API's layers: ratio 0 is
        meant to cost next to nothing."""
        rt = self._runtime
        if rt is None:
            return None
        var, key, context_class = rt
        current = var.get()
        if key in current:
            return None
        if self._plain_ids:
            trace_id, span_id = getrandbits(128), getrandbits(64)
        else:
            trace_id = span_id = 0
        if not (trace_id and span_id):  # another generator, or a zero drawn (redraw)
            trace_id, span_id = self.ids.generate_trace_id(), self.ids.generate_span_id()
        values = dict(current)
        values[key] = api.NonRecordingSpan(_context(trace_id, span_id, self._unsampled, None))
        return var.set(context_class(values))

    def quick_root(self, skip: tuple[str, ...], propagation: frozenset[bytes]) -> Any:
        """``(scope) -> token or None``: ``unsampled_root`` for an HTTP request whose path
        does not start with one of ``skip`` and whose headers carry none of
        ``propagation``; None where ``unsampled_root`` never answers. In C
        (tracing/_idsc.c) where it is built and the provider's ids and contexts are the
        SDK's defaults."""
        if self._runtime is None:
            return None
        var, key, context_class = self._runtime
        if self._plain_ids and _context is _context_in_one_step:
            try:
                from tracing._idsc import QuickRoot
            except ImportError:
                pass
            else:
                return QuickRoot(var=var, key=key, context_class=context_class,
                                 span_class=api.NonRecordingSpan, span_context=SpanContext,
                                 getrandbits=getrandbits, flags=self._unsampled,
                                 state=DEFAULT_TRACE_STATE, skip=skip,
                                 propagation=propagation)
        unsampled_root = self.unsampled_root

        def quick(scope: Any) -> Any:
            if scope.get("type") != "http" or scope.get("path", "").startswith(skip):
                return None
            for k, _ in scope.get("headers", ()):
                if k in propagation:
                    return None
            return unsampled_root()

        return quick

    def start_span(self, name: str, context: Any = None, kind: SpanKind = SpanKind.INTERNAL,
                   attributes: Mapping[str, Any] | None = None) -> Any:
        """A LeanSpan, or a NonRecordingSpan when the sampler drops it."""
        current = (self._current() if context is None else
                   api.get_current_span(context)).get_span_context()
        if _FIELDS and type(current) is SpanContext:  # its six fields, read in one step
            p_trace, _, p_remote, p_flags, p_state, p_valid = current
        else:
            p_trace, p_remote, p_flags, p_state, p_valid = (
                current.trace_id, current.is_remote, current.trace_flags, current.trace_state,
                current.is_valid)
        parent: SpanContext | None = current
        if p_valid:
            trace_id, flags_extra = p_trace, p_flags & _RANDOM
        else:
            parent, trace_id, flags_extra = None, self._new_trace_id(), self._random
        if self._decide is not None:  # a standard sampler: its decision, decided here
            sampled = self._decide(None if parent is None else p_flags, p_remote, trace_id)
            decision = Decision.RECORD_AND_SAMPLE if sampled else Decision.DROP
            trace_state = None if parent is None else p_state
            extra = attributes if sampled else None
        else:
            result = self.sampler.should_sample(context, trace_id, name, kind, attributes, ())
            decision, trace_state, extra = result.decision, result.trace_state, result.attributes
        flags = _FLAGS[(TraceFlags.SAMPLED if decision is Decision.RECORD_AND_SAMPLE
                        else TraceFlags.DEFAULT) | flags_extra]
        span_id = (self._plain_ids and getrandbits(64)) or self.ids.generate_span_id()
        ctx = _context(trace_id, span_id, flags, trace_state)
        if decision is Decision.DROP:
            return api.NonRecordingSpan(ctx)
        attrs = _Attributes()
        span = LeanSpan(name, ctx, parent, kind=kind, attributes=attrs, factory=self)
        if extra:
            span.set_attributes(extra)
        if self.processor._span_processors is not self.routed:
            self.route_ends()
        if self.starts:
            self.processor.on_start(span, parent_context=context)
        return span


def _or_max(limit: int | None) -> int:
    return sys.maxsize if limit is None else limit


# on_start methods known to do nothing (the SDK's base class, batch and simple processors)
_NOOP_STARTS = frozenset((SpanProcessor.on_start, BatchSpanProcessor.on_start,
                          SimpleSpanProcessor.on_start))


def _drops_every_root(sampler: Any) -> bool:
    """The sampler (or a ParentBased sampler's root) drops a span without a parent whatever
    its trace id: always_off, or a trace id ratio of 0."""
    if type(sampler) is sampling.ParentBased:
        sampler = sampler._root
    if sampler is sampling.ALWAYS_OFF:
        return True
    return type(sampler) is sampling.TraceIdRatioBased and sampler.bound == 0


def lean_tracer(sdk_tracer: Any, name: str) -> LeanTracer | None:
    """A LeanTracer for an SDK tracer; None when it is not the SDK's or is disabled."""
    from opentelemetry.sdk.trace import Tracer

    if type(sdk_tracer) is not Tracer or \
            not hasattr(sdk_tracer.span_processor, "_span_processors"):
        return None
    enabled = getattr(sdk_tracer, "_is_enabled", None)  # tracer configurator (newer SDKs)
    if enabled is not None and not enabled():
        return None
    return LeanTracer(sdk_tracer, name)
