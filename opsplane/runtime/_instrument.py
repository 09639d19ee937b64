"""``opsplane.instrument(app, spec)``: the operational plane around any ASGI app.

The returned object is itself the ASGI app to serve. It answers ``/healthz/ping``,
``/healthz/liveness``, ``/healthz/readiness`` and ``/metrics`` itself (GET and HEAD), and
wraps every other request in one pure-ASGI layer that keeps ``state.in_flight``, the
request-duration histogram (labelled by route template) and the active-requests gauge,
binds and returns ``X-Request-ID`` and writes one summary log record. Lifespan: loads
the settings (a missing one fails startup with one line), then the app's own startup,
then marks the state started.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson

from logstd import add_context_provider
from opsplane.runtime import _requestlog
from opsplane.runtime._api import error_body
from opsplane.runtime._checks import HttpClientHolder, dependency_check
from opsplane.runtime._health import CheckFn, Health, HealthCheck
from opsplane.runtime._metrics import ServiceMetrics
from opsplane.runtime.lifecycle import STATE, State
from tracing._asgi import route_template

if TYPE_CHECKING:
    import httpx
    from prometheus_client import CollectorRegistry

    from opsplane.spec.service import ServiceSpec

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HEALTH_TYPE = b"application/health+json"
CLIENT_CLOSED = 499  # nginx's code for "the client went away before the answer"
log = logging.getLogger("opsplane.instrument")


def _template(scope: Scope) -> str:
    """The route template Starlette matched (``/orders/{id}``), '' when none matched."""
    return route_template(scope) or ""


class _MeteredTransport:
    """httpx transport recording http_client_request_duration_seconds per dependency."""

    def __init__(self, inner: Any, metrics: ServiceMetrics, dependency: str) -> None:
        self.inner = inner
        self.metrics = metrics
        self.dependency = dependency

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        rid = _requestlog.current_request_id.get()
        if rid and "x-request-id" not in request.headers:
            request.headers["X-Request-ID"] = rid
        start = time.perf_counter()
        try:
            response: httpx.Response = await self.inner.handle_async_request(request)
        except BaseException:
            self.metrics.observe_client(self.dependency, request.method, "",
                                        time.perf_counter() - start)
            raise
        self.metrics.observe_client(self.dependency, request.method,
                                    str(response.status_code), time.perf_counter() - start)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class Instrumented:
    """The instrumented ASGI app (what ``instrument`` returns)."""

    def __init__(self, app: ASGIApp, spec: ServiceSpec, state: State = STATE, *,
                 settings: type[Any] | None = None,
                 registry: CollectorRegistry | None = None,
                 version: str | None = None, release_id: str | None = None,
                 log_probes: bool = False, cache_ttl: float = 1.0,
                 configure_logging: bool = True, tracing: bool | None = None) -> None:
        from opsplane.runtime._faults import wrap

        self.app = wrap(app)  # the alert drill's faults (only with OPSPLANE_DRILL_FAULTS)
        self.spec = spec
        self.state = state
        self.version = version or os.environ.get("SERVICE_VERSION") or "0.0.0-dev"
        self.release_id = release_id or os.environ.get("RELEASE_ID")
        self.metrics = ServiceMetrics(spec.name, self.version, registry)
        self.health = Health(state, service_id=spec.name, version=self.version,
                             release_id=self.release_id, description=spec.description,
                             metrics=self.metrics, cache_ttl=cache_ttl)
        self._check_http = HttpClientHolder()
        for dep in spec.dependencies:
            self.health.add(dependency_check(dep, self._check_http))
        self.settings_class = settings
        self.settings: Any = None
        if settings is not None:
            self.health.settings_loaded = False
        self.log_probes = log_probes
        # tracing: the span wraps the request layer, so the summary record is written inside
        # it and carries traceId/spanId. On where OTEL_* configures an OTLP endpoint (and
        # OTEL_SDK_DISABLED is not true); the spec's ``tracing: true|false`` wins over that,
        # and OPSPLANE_TRACING=true|false over the spec
        if tracing is None:
            import tracing as _tracing

            env = os.environ.get("OPSPLANE_TRACING", "").strip().lower()
            switch = {"1": True, "true": True, "yes": True, "0": False, "false": False,
                      "no": False}.get(env, spec.tracing.enabled)
            tracing = _tracing.wanted(switch)
        self.tracing = tracing
        # OPSPLANE_GC_FREEZE=false keeps what startup made in the collector's generations
        self.gc_freeze = os.environ.get("OPSPLANE_GC_FREEZE", "").strip().lower() not in (
            "0", "false", "no")
        self._handle: Callable[[Scope, Receive, Send], Awaitable[None]] = self._request
        # tracing's quick path for requests it only gives ids to (ratio 0), taken here
        self._unsampled: Callable[[Scope], Any] | None = None
        self._unsampled_done: Callable[[Any], None] = lambda token: None
        if self.tracing:
            from tracing import TracingMiddleware

            middleware = TracingMiddleware(self._request)
            self._handle, self._unsampled = middleware, middleware.unsampled
            self._unsampled_done = middleware.unsampled_done
        self.configure_logging = configure_logging
        self._clients: list[httpx.AsyncClient] = []
        self._probes: dict[str, Callable[[Scope, Send], Awaitable[None]]] = {
            "/healthz/ping": self._ping,
            "/healthz/liveness": self._liveness,
            "/healthz/readiness": self._readiness,
            "/metrics": self._metrics,
        }
        add_context_provider(_requestlog.request_id_keys)
        if hasattr(app, "add_exception_handler"):
            from opsplane.runtime._api import install_handlers

            install_handlers(app)

    # -- public helpers -------------------------------------------------------------
    def check(self, name: str, *, component_type: str = "component", timeout: float = 1.0,
              critical: bool = True, probe: Literal["readiness", "liveness"] = "readiness",
              ) -> Callable[[CheckFn], CheckFn]:
        """Decorator registering an async health check (replaces a spec check of that name)."""

        def register(fn: CheckFn) -> CheckFn:
            self.health.add(HealthCheck(name, fn, component_type, timeout, critical, probe))
            return fn

        return register

    def http_client(self, dependency: str, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx.AsyncClient whose calls are measured per dependency (closed at shutdown)."""
        import httpx

        transport = _MeteredTransport(httpx.AsyncHTTPTransport(), self.metrics, dependency)
        client = httpx.AsyncClient(transport=transport, **kwargs)  # type: ignore[arg-type]
        self._clients.append(client)
        return client

    # -- ASGI -----------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            probe = self._probes.get(scope["path"])
            if probe is None:
                unsampled = self._unsampled
                token = unsampled(scope) if unsampled is not None else None
                if token is None:
                    await self._handle(scope, receive, send)
                    return
                try:
                    await self._request(scope, receive, send)
                finally:
                    self._unsampled_done(token)
            elif self.log_probes:
                await self._request(scope, receive, send, probe)
            else:
                await self._serve_probe(probe, scope, send)
        elif kind == "lifespan":
            await self._lifespan(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _serve_probe(self, probe: Callable[[Scope, Send], Awaitable[None]],
                           scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _send(send, scope, 405, error_body(
                "METHOD_NOT_ALLOWED", f"{scope['method']} is not allowed on {scope['path']}"),
                b"application/json", extra=[(b"allow", b"GET, HEAD")])
            return
        await probe(scope, send)

    async def _request(self, scope: Scope, receive: Receive, send: Send,
                       probe: Callable[[Scope, Send], Awaitable[None]] | None = None) -> None:
        start = time.perf_counter()
        incoming = ua = None
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                incoming = v
            elif k == b"user-agent":
                ua = v
        rid = _requestlog.request_id(incoming)
        rid_header = (b"x-request-id", rid.encode())
        token = _requestlog.current_request_id.set(rid)
        status = 500
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        method = scope["method"]
        label_method = method if method in _requestlog.METHODS else "_OTHER"
        state = self.state
        active = self.metrics.active_counts
        state.in_flight += 1
        active[label_method] = active.get(label_method, 0) + 1
        error: BaseException | None = None
        try:
            if probe is not None:
                await self._serve_probe(probe, scope, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        except asyncio.CancelledError:
            status = CLIENT_CLOSED  # the server cancelled the request (client gone, shutdown)
            raise
        except Exception as e:
            if type(e).__name__ == "ClientDisconnect":
                status = CLIENT_CLOSED
            else:
                error = e
                if not started:
                    await _send(send_wrapper, scope, 500, error_body(
                        "INTERNAL", "internal error; see the service log for this requestId"),
                        b"application/json")
                status = 500
        finally:
            state.in_flight -= 1
            active[label_method] -= 1
            duration = time.perf_counter() - start
            route = scope["path"] if probe is not None else _template(scope)
            self.metrics.observe(label_method, route, status, duration)
            try:
                _requestlog.emit(method, route, scope["path"], status=status,
                                 duration_s=duration, client=scope.get("client"),
                                 user_agent=ua.decode("latin-1") if ua else None, exc=error)
            finally:
                _requestlog.current_request_id.reset(token)

    # -- probes ---------------------------------------------------------------------
    async def _ping(self, scope: Scope, send: Send) -> None:
        await _send(send, scope, 200, orjson.dumps(self.health.ping()), HEALTH_TYPE)

    async def _liveness(self, scope: Scope, send: Send) -> None:
        code, body = await self.health.liveness()
        await _send(send, scope, code, orjson.dumps(body), HEALTH_TYPE)

    async def _readiness(self, scope: Scope, send: Send) -> None:
        code, body = await self.health.readiness()
        await _send(send, scope, code, orjson.dumps(body), HEALTH_TYPE)

    async def _metrics(self, scope: Scope, send: Send) -> None:
        accept = ""
        for k, v in scope["headers"]:
            if k == b"accept":
                accept = v.decode("latin-1")
        body, content_type = self.metrics.exposition(accept)
        await _send(send, scope, 200, body, content_type.encode())

    # -- lifespan -------------------------------------------------------------------
    async def startup(self) -> str | None:
        """The kit's own startup; the one-line error when it failed (state records it)."""
        if self.configure_logging:
            _configure_logging(self.spec.name)
        # the kit writes one summary record per request; uvicorn's access line would repeat it
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
        if self.tracing:
            import tracing
            from tracing.errors import TracingError

            if not tracing.is_enabled():
                try:
                    tracing.setup(service=self.spec.name, version=self.version,
                                  sampler=self.spec.tracing.sampler,
                                  ratio=self.spec.tracing.ratio)
                except TracingError as e:  # a bad OTEL_* variable: one line, not a traceback
                    line = str(e)
                    self.state.startup_error = line
                    log.error("startup failed", extra={
                        "event": "startup.failed", "errorType": "TracingError",
                        "errorMessage": line})
                    return line
            tracing.instrument_httpx()
        if self.settings_class is not None:
            from opsplane.errors import SettingsError
            from opsplane.runtime.settings import load_settings

            try:
                self.settings = load_settings(self.settings_class)
            except SettingsError as e:
                line = str(e)
                self.state.startup_error = line
                log.error("startup failed",
                          extra={"event": "startup.failed", "errorType": "SettingsError",
                                 "errorMessage": line})
                return line
            self.health.settings_loaded = True
        return None

    async def shutdown(self) -> None:
        for client in self._clients:
            await client.aclose()
        self._clients.clear()
        await self._check_http.aclose()
        if self.tracing:
            import tracing

            tracing.shutdown()

    def _started(self) -> None:
        """Startup is complete: ready, and what startup made (modules, classes, caches,
        pools) is moved out of the collector's generations (``gc.freeze``), so the full
        collections that requests' surviving objects trigger -- queued spans, pooled
        connections -- scan what requests made, not the whole process. Garbage left by
        startup is collected first."""
        self.state.mark_started()
        if self.gc_freeze:
            import gc

            gc.collect()
            gc.freeze()

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        first = await receive()
        if first["type"] != "lifespan.startup":  # pragma: no cover - protocol violation
            return
        error = await self.startup()
        if error is not None:
            # the kit logged the one line with its keys; an empty message keeps the server
            # from writing it a second time
            await send({"type": "lifespan.startup.failed", "message": ""})
            return
        sent: list[str] = []
        pending: list[Message] = [first]  # the startup message the kit already received

        async def inner_receive() -> Message:
            if pending:
                return pending.pop()
            return await receive()

        async def inner_send(message: Message) -> None:
            kind = message["type"]
            sent.append(kind)
            if kind == "lifespan.startup.complete":
                self._started()
            elif kind == "lifespan.startup.failed":
                self.state.startup_error = str(message.get("message") or "startup failed")
            elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.shutdown()
            await send(message)

        try:
            await self.app(scope, inner_receive, inner_send)
        except Exception:
            if sent:
                raise
            # the app does not speak lifespan: the kit finishes the protocol itself
            self._started()
            await send({"type": "lifespan.startup.complete"})
            while (await receive())["type"] != "lifespan.shutdown":
                pass
            await self.shutdown()
            await send({"type": "lifespan.shutdown.complete"})


async def _send(send: Send, scope: Scope, status: int, body: bytes, content_type: bytes,
                *, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store")]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body",
                "body": b"" if scope["method"] == "HEAD" else body})


def _configure_logging(service: str) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_logstd", False) for h in root.handlers):
        return
    import logstd

    logstd.configure(service=service)


def instrument(app: ASGIApp, spec: ServiceSpec | str | Path, state: State = STATE,
               **options: Any) -> Instrumented:
    """Wrap an ASGI app with health, metrics, request logging and JSON errors.

    ``spec`` is a ``ServiceSpec`` or the path of a service.yaml. Serve the returned object::

        app = opsplane.instrument(Starlette(routes=...), "service.yaml", settings=Settings)

        @app.check("cache:responseTime", component_type="datastore")
        async def cache() -> None: ...

    Options: ``settings`` (a ``opsplane.runtime.settings.Settings`` subclass loaded at startup),
    ``registry`` (prometheus CollectorRegistry), ``version``, ``release_id``,
    ``log_probes`` (log and time health/metrics requests too), ``cache_ttl`` (seconds the
    readiness dependency results are reused), ``configure_logging``, ``tracing`` (default:
    the spec's ``tracing``; OpenTelemetry spans per request and per outbound httpx call).
    """
    from opsplane.spec.service import ServiceSpec, load_spec

    if not isinstance(spec, ServiceSpec):
        spec = load_spec(spec)
    return Instrumented(app, spec, state, **options)
