"""Inbound spans for ASGI apps, named by route template (``GET /orders/{id}``).

Pure ASGI, no framework dependency. The route template comes from the framework's scope
(Starlette puts the matched route in ``scope["route"]``); when none matched the span is
named by the method alone, never by the raw path (bounded cardinality).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tracing import _setup

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SKIP = ("/healthz/", "/metrics")
_PROPAGATION = frozenset((b"traceparent", b"baggage"))


def route_template(scope: Scope) -> str | None:
    """The matched route template of a request (``/orders/{id}``), None when none matched.

    Starlette (and FastAPI) put the matched route in ``scope["route"]``; a mounted sub-app's
    prefix is taken from ``root_path``. The one derivation used by spans and metric labels.
    """
    path = getattr(scope.get("route"), "path", None)
    if not isinstance(path, str):
        return None
    root = scope.get("root_path", "")
    prefix = root[len(scope.get("app_root_path", "")):] if root else ""
    return prefix + path if prefix else path


_GETTER: Any = None


def _getter() -> Any:
    """A propagation Getter reading W3C headers out of an ASGI scope (built on first use)."""
    global _GETTER
    if _GETTER is None:
        from opentelemetry.propagators.textmap import Getter

        class ScopeGetter(Getter[Scope]):
            def get(self, carrier: Scope, key: str) -> list[str] | None:
                k = key.lower().encode("latin-1")
                values = [v.decode("latin-1") for hk, v in carrier.get("headers", ()) if hk == k]
                return values or None

            def keys(self, carrier: Scope) -> list[str]:
                return [hk.decode("latin-1") for hk, _ in carrier.get("headers", ())]

        _GETTER = ScopeGetter()
    return _GETTER


class TracingMiddleware:
    """Wrap an ASGI app: one SERVER span per HTTP request, context from traceparent/baggage."""

    def __init__(self, app: ASGIApp, skip_prefixes: tuple[str, ...] = _SKIP) -> None:
        self.app = app
        self.skip = skip_prefixes
        # (provider, its tracer, the quick path for unsampled new traces or None)
        self._for: tuple[Any, Any, Any] = (None, None, None)

    def _entry(self, provider: Any) -> tuple[Any, Any, Any]:
        """``self._for``, made again when the provider is not the one it was made for."""
        entry = self._for
        if entry[0] is provider:
            return entry
        tracer = _setup.tracer("opsplane.asgi")
        quick = _quick_root(provider, self.skip) if _setup.drops_every_root() else None
        self._for = (provider, tracer, quick)
        return self._for

    def unsampled(self, scope: Scope) -> Any:
        """For a request without trace context (no traceparent or baggage) whose new trace
        the sampler drops whatever its id (ratio 0): attach that trace's unsampled span (ids
        for the logs and downstream) and return the token to give ``unsampled_done`` when the
        request ends; None for every other request. What ``__call__`` does first; a caller
        that wraps the app itself (the service kit) calls it directly and saves a layer per
        request."""
        provider = _setup._provider
        if provider is None:
            return None
        quick = self._entry(provider)[2]
        return None if quick is None else quick(scope)

    @staticmethod
    def unsampled_done(token: Any) -> None:
        """End what ``unsampled`` attached."""
        (_OTEL or _otel()).detach(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        provider = _setup._provider
        if scope["type"] != "http" or provider is None or \
                scope.get("path", "").startswith(self.skip):
            await self.app(scope, receive, send)
            return
        _, tracer, quick = self._entry(provider)
        token = None if quick is None else quick(scope)
        otel = _OTEL or _otel()
        if token is not None:  # a new trace the sampler drops (ratio 0): ids only
            try:
                await self.app(scope, receive, send)
            finally:
                otel.detach(token)
            return
        parent = None
        for k, _ in scope.get("headers", ()):
            if k in _PROPAGATION:
                # a malformed traceparent yields an empty context: a new trace starts
                parent = otel.propagate.extract(scope, getter=_getter())
                break
        method = scope.get("method", "GET")
        status_code = 500
        attrs = {"http.request.method": method, "url.path": scope.get("path", "")}
        client = scope.get("client")
        if client:
            attrs["client.address"] = client[0]
        span = tracer.start_span(method, context=parent, kind=otel.SERVER, attributes=attrs)
        token = otel.attach(span, parent)
        if not span.is_recording():
            # unsampled: the context (ids for logs, traceparent downstream) is all there is
            try:
                await self.app(scope, receive, send)
            finally:
                otel.detach(token)
            return

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as e:
            span.record_exception(e)
            span.set_status(otel.Status(otel.ERROR, type(e).__name__))
            raise
        finally:
            tmpl = route_template(scope)
            if tmpl:
                span.update_name(f"{method} {tmpl}")
                span.set_attributes({"http.route": tmpl,
                                     "http.response.status_code": status_code})
            else:
                span.set_attribute("http.response.status_code", status_code)
            if status_code >= 500:
                span.set_status(otel.Status(otel.ERROR))
            span.end()
            otel.detach(token)


def _quick_root(provider: Any, skip: tuple[str, ...]) -> Any:
    """``(scope) -> token or None`` for a provider whose sampler drops every new trace: an
    HTTP request whose path does not start with one of ``skip`` and whose headers carry no
    trace context gets its new trace's unsampled span attached (the ids the SDK's tracer
    would give it, for the logs and ``traceparent`` downstream), without asking the sampler
    or making a span object of the SDK: ratio 0 is meant to cost next to nothing."""
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    otel = _OTEL or _otel()
    ids = provider.id_generator  # the SDK TracerProvider's own
    random_flag = getattr(TraceFlags, "RANDOM_TRACE_ID", 0)  # W3C level 2 (newer SDKs)
    random_ids = getattr(ids, "is_trace_id_random", lambda: False)()
    flags = TraceFlags(random_flag if random_ids else TraceFlags.DEFAULT)
    new_trace, new_span, attach = ids.generate_trace_id, ids.generate_span_id, otel.attach
    current = otel.context.get_current

    def quick(scope: Scope) -> Any:
        if scope.get("type") != "http" or scope.get("path", "").startswith(skip):
            return None
        for k, _ in scope.get("headers", ()):
            if k in _PROPAGATION:
                return None
        if current():  # a span (or baggage) already in the context: the sampler decides
            return None
        ctx = SpanContext(new_trace(), new_span(), False, flags)
        return attach(NonRecordingSpan(ctx))

    return quick


class _Otel:
    """The OpenTelemetry names the middleware uses, imported once (not per request)."""

    def __init__(self) -> None:
        from opentelemetry import context, propagate, trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        from tracing._current import attacher, detacher, getter

        self.context, self.propagate, self.trace = context, propagate, trace
        self.attach, self.detach, self.current = attacher(), detacher(), getter()
        self.SERVER, self.Status, self.ERROR = SpanKind.SERVER, Status, StatusCode.ERROR


_OTEL: _Otel | None = None


def _otel() -> _Otel:
    global _OTEL
    if _OTEL is None:
        _OTEL = _Otel()
    return _OTEL
