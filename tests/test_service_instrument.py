"""instrument() in-process: public surface, lazy imports, JSON errors, templates, lifespan."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

import logstd
import opsplane
from logstd.testing import capture_logs
from opsplane.runtime.lifecycle import State
from opsplane.spec.service import ServiceSpec
from tests._service_procs import ORDERS

SPEC = ServiceSpec(name="svc", team="t", app="m:app")


def test_public_surface() -> None:
    assert opsplane.__all__ == ["ApiError", "CheckResult", "Instrumented", "instrument",
                                "read_json"]
    assert callable(opsplane.instrument)
    with pytest.raises(AttributeError):
        _ = opsplane.nothing_here  # type: ignore[attr-defined]


def test_import_has_no_heavy_imports() -> None:
    code = ("import sys, opsplane, opsplane.runtime.lifecycle; "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'prometheus_client', 'httpx', "
            "'pydantic_settings') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def _call(app: Any, method: str, path: str, **kw: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.request(method, path, **kw)

    return asyncio.run(go())


async def _boom(request: Request) -> Response:
    logstd.bind(customerId="C-1007")
    raise RuntimeError("database exploded at row 7")


async def _item(request: Request) -> Response:
    return PlainTextResponse(request.path_params["id"])


def _app(**options: Any) -> opsplane.Instrumented:
    routes = [Route("/boom", _boom), Mount("/api", routes=[Route("/items/{id}", _item)])]
    return opsplane.instrument(Starlette(routes=routes), SPEC, State(started=True),
                               registry=CollectorRegistry(), configure_logging=False, **options)


def test_unexpected_exception_is_a_json_500_and_one_error_record() -> None:
    app = _app()
    with capture_logs() as logs:
        r = _call(app, "GET", "/boom", headers={"X-Request-ID": "rid-1"})
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "INTERNAL", "message":
                                  "internal error; see the service log for this requestId"}}
    assert "exploded" not in r.text
    assert r.headers["x-request-id"] == "rid-1"
    access = [rec for rec in logs if rec["logger"] == "opsplane.access"]
    assert len(access) == 1
    rec = access[0]
    assert rec["level"] == "error"
    assert rec["httpStatus"] == 500
    assert rec["errorType"] == "RuntimeError"
    assert rec["customerId"] == "C-1007"
    assert rec["requestId"] == "rid-1"
    assert "stackTrace" in rec


def test_mounted_route_template_in_metrics_and_log() -> None:
    app = _app()
    with capture_logs() as logs:
        assert _call(app, "GET", "/api/items/42").text == "42"
    assert [r["httpRoute"] for r in logs if r["logger"] == "opsplane.access"] == [
        "/api/items/{id}"]
    body = _call(app, "GET", "/metrics").text
    assert 'http_route="/api/items/{id}"' in body
    assert "/api/items/42" not in body


def test_probes_can_be_logged_when_asked() -> None:
    app = _app(log_probes=True)
    with capture_logs() as logs:
        assert _call(app, "GET", "/healthz/ping").status_code == 200
    assert [r["httpRoute"] for r in logs if r["logger"] == "opsplane.access"] == [
        "/healthz/ping"]


def test_decorator_check_replaces_the_spec_check() -> None:
    spec = ServiceSpec(name="svc", team="t", app="m:app", dependencies=[
        {"name": "db", "kind": "sql", "url": "sqlite:////nonexistent/dir/x.db"}])
    app = opsplane.instrument(Starlette(), spec, State(started=True),
                              registry=CollectorRegistry(), configure_logging=False)
    assert _call(app, "GET", "/healthz/readiness").status_code == 503

    @app.check("db:responseTime", component_type="datastore")
    async def db() -> None:
        return None

    r = _call(app, "GET", "/healthz/readiness")
    assert r.status_code == 200
    assert r.json()["checks"]["db:responseTime"][0]["status"] == "pass"


async def _raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        raise RuntimeError("no lifespan here")
    if scope["path"] == "/fail":
        raise ValueError("raw failure")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"raw"})


def test_plain_asgi_app_errors_and_lifespan() -> None:
    state = State()
    app = opsplane.instrument(_raw_app, SPEC, state, registry=CollectorRegistry(),
                              configure_logging=False)
    r = _call(app, "GET", "/fail")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "INTERNAL"
    assert _call(app, "GET", "/x").text == "raw"

    assert _start_and_stop(app) == ["lifespan.startup.complete",
                                    "lifespan.shutdown.complete"]
    assert state.started


def _start_and_stop(app: Any) -> list[str]:
    """Run the app's lifespan through startup and shutdown; the message types it sent."""
    async def lifespan() -> list[str]:
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sent: list[str] = []
        await inbox.put({"type": "lifespan.startup"})
        await inbox.put({"type": "lifespan.shutdown"})

        async def send(message: dict[str, Any]) -> None:
            sent.append(message["type"])

        await app({"type": "lifespan"}, inbox.get, send)
        return sent

    return asyncio.run(lifespan())


@pytest.mark.parametrize(("env", "frozen"), [(None, True), ("false", False)])
def test_startup_freezes_what_it_made_out_of_the_collectors_way(
        monkeypatch: pytest.MonkeyPatch, env: str | None, frozen: bool) -> None:
    """After startup the process's objects sit in the permanent generation (a full
    collection then scans what requests made); OPSPLANE_GC_FREEZE=false leaves them."""
    import gc

    if env is None:
        monkeypatch.delenv("OPSPLANE_GC_FREEZE", raising=False)
    else:
        monkeypatch.setenv("OPSPLANE_GC_FREEZE", env)
    gc.unfreeze()
    gc.disable()  # only the kit's own collection may free the startup garbage
    cycle: list[Any] = []
    cycle.append(cycle)  # startup garbage: collected before the freeze, not frozen
    ref = __import__("weakref").ref(_Box(cycle))
    del cycle
    app = opsplane.instrument(_raw_app, SPEC, State(), registry=CollectorRegistry(),
                              configure_logging=False)
    try:
        _start_and_stop(app)
    finally:
        gc.enable()
    assert (gc.get_freeze_count() > 0) is frozen
    if frozen:
        assert ref() is None


class _Box:
    """A collectable object kept alive only by a reference cycle."""

    def __init__(self, cycle: list[Any]) -> None:
        self.me = self
        self.cycle = cycle


def test_orders_spec_checks(tmp_path: Path) -> None:
    from opsplane.cli.main import main

    assert main(["spec", "check", str(ORDERS / "service.yaml")]) == 0


def test_tracing_span_wraps_the_request_and_ids_reach_the_summary() -> None:
    from tracing.testing import capture_spans

    spec = ServiceSpec(name="svc", team="t", app="m:app", tracing=True)
    routes = [Route("/items/{id}", _item)]
    app = opsplane.instrument(Starlette(routes=routes), spec, State(started=True),
                              registry=CollectorRegistry(), configure_logging=False)
    with capture_spans() as spans, capture_logs() as logs:
        assert _call(app, "GET", "/items/7").text == "7"
        assert _call(app, "GET", "/healthz/ping").status_code == 200
    span = spans.find("GET /items/{id}")
    summary = [r for r in logs if r["logger"] == "opsplane.access"]
    assert len(summary) == 1
    assert summary[0]["traceId"] == format(span.context.trace_id, "032x")
    assert spans.names() == ["GET /items/{id}"]  # probes are not traced


def test_ratio_zero_requests_get_ids_in_their_records_and_leave_no_context() -> None:
    """At ratio 0 the kit takes tracing's quick path itself: each request's records carry
    its own new trace id, nothing is exported, and the task's context is as before after
    each request (the app is called directly, in one task, request after request)."""
    from opentelemetry import trace as api_trace

    from tracing.testing import capture_spans

    spec = ServiceSpec(name="svc", team="t", app="m:app", tracing=True)
    app = opsplane.instrument(Starlette(routes=[Route("/items/{id}", _item)]), spec,
                              State(started=True), registry=CollectorRegistry(),
                              configure_logging=False)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def three_requests() -> list[bool]:
        after = []
        for i in range(3):
            await app({"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                       "method": "GET", "scheme": "http", "path": f"/items/{i}",
                       "raw_path": f"/items/{i}".encode(), "query_string": b"",
                       "root_path": "", "headers": [(b"host", b"t")],
                       "client": ("127.0.0.1", 1), "server": ("t", 80)}, receive, send)
            after.append(api_trace.get_current_span() is api_trace.INVALID_SPAN)
        return after

    with capture_spans(ratio=0.0) as spans, capture_logs() as logs:
        assert asyncio.run(three_requests()) == [True, True, True]
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [200] * 3
    summary = [r for r in logs if r["logger"] == "opsplane.access"]
    assert len({r["traceId"] for r in summary}) == 3
    assert all(len(r["traceId"]) == 32 and len(r["spanId"]) == 16 for r in summary)
    assert spans.spans == []
