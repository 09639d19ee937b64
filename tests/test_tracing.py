"""tracing: setup from OTEL_* variables, inbound/outbound spans, ids in logs, real OTLP export."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

import tracing
from logstd.testing import capture_logs
from opsplane.testing.procs import free_port as _free_port
from tracing._export import dropped_counter
from tracing._setup import resolve_config
from tracing.errors import TracingError
from tracing.testing import OtlpReceiver, capture_spans

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _reset_tracing() -> Iterator[None]:
    tracing.reset()
    yield
    tracing.reset()


def app() -> Any:
    from tests.apps.traced_app import ROUTES

    return tracing.TracingMiddleware(Starlette(routes=ROUTES))


async def call(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        return await c.get(path, headers=headers)


def test_config_from_the_standard_variables() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
           "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=shop, api-key = k",
           "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25",
           "POD_NAME": "orders-7d9f", "POD_NAMESPACE": "shop", "SERVICE_VERSION": "1.4.2"}
    cfg = resolve_config("orders", env=env)
    assert (cfg.exporter, cfg.protocol, cfg.ratio) == ("otlp", "http/protobuf", 0.25)
    assert cfg.headers == {"x-tenant": "shop", "api-key": "k"}
    assert cfg.resource == {"service.name": "orders", "service.version": "1.4.2",
                            "k8s.pod.name": "orders-7d9f", "k8s.namespace.name": "shop"}
    assert resolve_config("orders", env={}).exporter == "none"


@pytest.mark.parametrize(("env", "message"), [
    ({"OTEL_TRACES_SAMPLER_ARG": "half"}, "OTEL_TRACES_SAMPLER_ARG='half' is not a number"),
    ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER='sometimes' is not one of"),
    ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
     "OTEL_EXPORTER_OTLP_PROTOCOL='http/json' is not supported (http/protobuf or grpc)"),
    ({"OTEL_TRACES_SAMPLER_ARG": "2"}, "sampling ratio 2.0 is outside 0..1"),
])
def test_bad_settings_are_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(TracingError) as e:
        resolve_config("orders", env=env)
    assert str(e.value).startswith(message)


_EP = "http://collector:4318"


@pytest.mark.parametrize(("enabled", "env", "expected"), [
    (None, {}, False),
    (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": _EP}, True),
    (None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": _EP + "/v1/traces"}, True),
    (None, {"OTEL_TRACES_EXPORTER": "otlp"}, True),  # the exporter's default endpoint
    (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": _EP, "OTEL_TRACES_EXPORTER": "none"}, False),
    (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": _EP, "OTEL_SDK_DISABLED": "TRUE"}, False),
    (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": _EP, "OTEL_SDK_DISABLED": "false"}, True),
    (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": _EP, "OTEL_SDK_DISABLED": "1"}, True),  # not "true"
    (False, {"OTEL_EXPORTER_OTLP_ENDPOINT": _EP}, False),  # the spec wins
    (True, {}, True),
    (True, {"OTEL_SDK_DISABLED": "true"}, False),  # the SDK's own switch wins over all
])
def test_wanted_follows_opentelemetry_conventions(enabled: bool | None, env: dict[str, str],
                                                  expected: bool) -> None:
    assert tracing.wanted(enabled, env=env) is expected


def test_sampler_and_ratio_arguments_win_over_the_variables() -> None:
    env = {"OTEL_TRACES_SAMPLER": "always_on", "OTEL_TRACES_SAMPLER_ARG": "0.5"}
    assert (resolve_config("o", env=env).sampler, resolve_config("o", env=env).ratio) == (
        "always_on", 0.5)
    cfg = resolve_config("o", env=env, sampler="traceidratio", ratio=0.25)
    assert (cfg.sampler, cfg.ratio) == ("traceidratio", 0.25)
    assert resolve_config("o", env=env, sampler="always_off").ratio == 0.5
    with pytest.raises(TracingError, match="sampler 'sometimes' is not one of"):
        resolve_config("o", env=env, sampler="sometimes")


def _kit(spec: Any) -> Any:
    from prometheus_client import CollectorRegistry

    import opsplane
    from opsplane.runtime.lifecycle import State

    return opsplane.instrument(Starlette(routes=[]), spec, State(started=True),
                               registry=CollectorRegistry(), configure_logging=False)


async def test_the_kit_traces_where_otel_variables_say_and_the_spec_overrides(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.sdk.trace import sampling

    from opsplane.spec.service import ServiceSpec

    for var in ("OPSPLANE_TRACING", "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(var, raising=False)
    # startup would instrument httpx for the whole process (every later test's ASGI client)
    monkeypatch.setattr(tracing, "instrument_httpx", lambda: None)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    base = {"name": "svc", "team": "t", "app": "m:app"}
    assert _kit(ServiceSpec(**base)).tracing is True
    assert _kit(ServiceSpec(**base, tracing=False)).tracing is False
    monkeypatch.setenv("OPSPLANE_TRACING", "true")  # the deployment's switch wins over the spec
    assert _kit(ServiceSpec(**base, tracing=False)).tracing is True
    monkeypatch.delenv("OPSPLANE_TRACING")
    kit = _kit(ServiceSpec(**base, tracing={"sampler": "traceidratio", "ratio": 0.25}))
    assert kit.tracing is True
    assert await kit.startup() is None
    sampler = tracing._setup._provider.sampler  # the SDK's public TracerProvider.sampler
    assert type(sampler) is sampling.TraceIdRatioBased
    assert sampler.rate == 0.25
    tracing.reset()
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "sometimes")
    kit = _kit(ServiceSpec(**base))
    assert await kit.startup() == "OTEL_TRACES_SAMPLER='sometimes' is not one of " \
        "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, " \
        "parentbased_traceidratio"


async def test_inbound_span_named_by_route_with_db_child_and_log_ids() -> None:
    with capture_spans("front") as spans, capture_logs() as logs:
        r = await call("/items/42")
    assert r.status_code == 200
    server = spans.find("GET /items/{item_id}")
    db = spans.find("db.query")
    assert server.attributes["http.route"] == "/items/{item_id}"
    assert server.attributes["http.response.status_code"] == 200
    assert db.parent.span_id == server.context.span_id
    assert db.context.trace_id == server.context.trace_id
    line = next(x for x in logs if x["message"] == "item loaded")
    assert line["traceId"] == format(db.context.trace_id, "032x")
    assert line["spanId"] == format(db.context.span_id, "016x")


async def test_exceptions_are_recorded_with_error_status() -> None:
    from opentelemetry.trace import StatusCode

    with capture_spans() as spans:
        r = await call("/boom")
    assert r.status_code == 500
    span = spans.find("GET /boom")
    assert span.status.status_code == StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"] == "RuntimeError"


async def test_traceparent_continues_and_malformed_starts_new() -> None:
    tid = "4bf92f3577b34da6a3ce929d0e0e4736"
    with capture_spans() as spans:
        await call("/items/1", {"traceparent": f"00-{tid}-00f067aa0ba902b7-01"})
        await call("/items/2", {"traceparent": "00-zzzz-not-a-trace"})
    first, second = (s for s in spans.spans if s.name.startswith("GET"))
    assert format(first.context.trace_id, "032x") == tid
    assert format(first.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert second.parent is None
    assert format(second.context.trace_id, "032x") != tid


async def test_ratio_zero_records_nothing_but_serves() -> None:
    with capture_spans(ratio=0.0) as spans, capture_logs() as logs:
        r = await call("/items/7")
    assert r.status_code == 200
    assert spans.spans == []
    # unsampled requests still carry ids, so logs correlate across services without traces
    assert len(next(x for x in logs if x["message"] == "item loaded")["traceId"]) == 32


def test_span_helper_records_exceptions_and_decorates() -> None:
    from opentelemetry.trace import StatusCode

    @tracing.span("decorated", orderId="O-2")
    def work(fail: bool) -> str:
        if fail:
            raise KeyError("O-2")
        return "done"

    with capture_spans() as spans:
        assert work(False) == "done"
        with pytest.raises(KeyError):
            work(True)

        def block() -> None:
            with tracing.span("block") as s:
                s.set_attribute("step", 1)
                raise ValueError("bad")

        with pytest.raises(ValueError, match="bad"):
            block()
    ok, failed, blocked = spans.spans
    assert [x.name for x in (ok, failed, blocked)] == ["decorated", "decorated", "block"]
    assert ok.status.status_code == StatusCode.UNSET
    assert ok.attributes["orderId"] == "O-2"
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.status.description == "KeyError"
    assert [e.attributes["exception.type"] for e in failed.events] == ["KeyError"]
    assert blocked.attributes["step"] == 1
    assert blocked.status.description == "ValueError"
    assert ok.context.span_id != failed.context.span_id  # a fresh span per call
    assert tracing.current_ids() is None  # every context detached


def test_span_helper_without_setup_is_a_noop() -> None:
    with tracing.span("work", orderId="O-1") as s:
        assert s is None
    assert tracing.current_ids() is None


async def test_unreachable_collector_never_fails_requests() -> None:


    port = _free_port()  # nothing listens there
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{port}"
    try:
        before = _dropped("export_failed")
        with capture_logs() as logs:
            tracing.setup("front")
            statuses = [(await call(f"/items/{i}")).status_code for i in range(5)]
            tracing.shutdown(timeout_s=10)
    finally:
        del os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert statuses == [200] * 5
    after = _dropped("export_failed")
    assert after - before == 10  # 5 server spans + 5 db spans
    warnings = [x for x in logs if x.get("event") == "tracing.export_failed"]
    assert len(warnings) == 1


def test_a_full_span_queue_is_counted_and_said_once() -> None:
    """A collector slower than the service: the bounded queue drops spans; every span is
    either exported or counted in tracing_spans_dropped_total{reason="queue_full"}."""
    import threading
    from collections.abc import Sequence

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    from tracing._export import CountingBatchProcessor, CountingExporter

    release = threading.Event()
    exported: list[Any] = []

    class Stalled(SpanExporter):
        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            release.wait(30)
            exported.extend(spans)
            return SpanExportResult.SUCCESS

    counting = CountingExporter(Stalled())
    provider = TracerProvider()
    provider.add_span_processor(CountingBatchProcessor(
        counting, max_queue_size=4, max_export_batch_size=2, schedule_delay_millis=60_000))
    tracer = provider.get_tracer("queue")
    before = _dropped("queue_full")
    with capture_logs() as logs:
        for i in range(40):
            tracer.start_span(f"s{i}").end()
        release.set()
        provider.shutdown()
    after = _dropped("queue_full")
    assert counting.dropped == after - before > 0
    assert len(exported) + counting.dropped == 40  # none lost without being counted
    said = [x for x in logs if x.get("event") == "tracing.queue_full"]
    assert len(said) == 1
    assert not [x for x in logs if str(x.get("message", "")).startswith("Queue full")]


def _dropped(reason: str) -> float:
    """tracing_spans_dropped_total{reason} as the default registry exposes it."""
    from prometheus_client import REGISTRY

    dropped_counter()  # registered on first use
    return REGISTRY.get_sample_value("tracing_spans_dropped_total", {"reason": reason}) or 0.0


def _start(service: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full = {**os.environ, **env, "SERVICE_NAME": service, "PYTHONPATH": str(ROOT)}
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.apps.traced_app:app", "--host",
             "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=full, stdout=out, stderr=subprocess.STDOUT)


def _wait_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise AssertionError(f"service on {port} exited with {proc.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/charges/x", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"service on {port} did not start")


def test_one_trace_across_two_processes_via_real_otlp(tmp_path: Path) -> None:
    with OtlpReceiver() as rx:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint, "OTEL_TRACES_SAMPLER_ARG": "1"}
        back_port, front_port = _free_port(), _free_port()
        back = _start("back", back_port, env, tmp_path / "back.log")
        front = _start("front", front_port,
                       {**env, "BACKEND_URL": f"http://127.0.0.1:{back_port}"},
                       tmp_path / "front.log")
        try:
            _wait_up(back_port, back)
            _wait_up(front_port, front)
            r = httpx.get(f"http://127.0.0.1:{front_port}/items/O-9", timeout=10)
            assert r.json() == {"item": "O-9", "backend": 201}
        finally:
            for p in (front, back):
                p.terminate()
            for p in (front, back):
                p.wait(timeout=20)
        spans = rx.wait_for(lambda s: any(x["name"] == "GET /items/{item_id}" for x in s) and
                            any(x["name"] == "POST /charges/{item_id}" for x in s))
    by_name = {s["name"]: s for s in spans if s["name"] != "POST /charges/x"}
    server = by_name["GET /items/{item_id}"]
    client = by_name["POST"]  # httpx client span
    remote = by_name["POST /charges/{item_id}"]
    assert server["service"] == "front"
    assert remote["service"] == "back"
    assert client["service"] == "front"
    trace_id = server["traceId"]
    assert {client["traceId"], remote["traceId"], by_name["db.query"]["traceId"]} == {trace_id}
    assert client["parentSpanId"] == server["spanId"]
    assert remote["parentSpanId"] == client["spanId"]
    assert server["attributes"]["http.response.status_code"] == 200
    assert remote["attributes"]["http.response.status_code"] == 201
    logs = [orjson.loads(line) for name in ("front.log", "back.log")
            for line in (tmp_path / name).read_bytes().splitlines() if line.startswith(b"{")]
    loaded = next(x for x in logs if x["message"] == "item loaded")
    charged = next(x for x in logs if x["message"] == "charged")
    assert loaded["traceId"] == charged["traceId"] == trace_id
    assert charged["spanId"] == remote["spanId"]


@pytest.mark.parametrize(("sampler", "ratio", "drops"), [
    ("always_off", 1.0, True), ("parentbased_always_off", 1.0, True),
    ("traceidratio", 0.0, True), ("parentbased_traceidratio", 0.0, True),
    ("traceidratio", 0.5, False), ("parentbased_traceidratio", 1e-9, False),
    ("always_on", 0.0, False), ("parentbased_always_on", 0.0, False),
])
def test_the_quick_path_only_where_the_sampler_drops_every_new_trace(
        sampler: str, ratio: float, drops: bool) -> None:
    """setup() knows from its settings when every root span is dropped; where it says so,
    the SDK's sampler it built drops roots of any trace id too."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import Decision

    provider = tracing.setup("t", sampler=sampler, ratio=ratio, log_ids=False)
    assert tracing._setup.drops_every_root() is drops
    if drops:
        for trace_id in (1, 2**64, 2**128 - 1):
            result = provider.sampler.should_sample(None, trace_id, "root")
            assert result.decision is Decision.DROP
    tracing.reset()
    assert tracing._setup.drops_every_root() is False
    tracing.setup("t", provider=TracerProvider(), sampler="always_off", log_ids=False)
    assert tracing._setup.drops_every_root() is False  # a provider it did not make: not known


async def test_ratio_zero_requests_get_fresh_ids_and_export_nothing() -> None:
    """The middleware's quick path at ratio 0: each request a new valid, unsampled trace
    (ids in the context its handler sees), nothing exported, the context restored after;
    a sampled traceparent and a current span still go to the sampler."""
    from opentelemetry import context as api_context
    from opentelemetry import trace as api_trace
    from opentelemetry.trace import NonRecordingSpan

    seen: list[Any] = []

    async def handler(scope: Any, receive: Any, send: Any) -> None:
        seen.append(api_trace.get_current_span())
        if scope["path"] == "/boom":
            raise RuntimeError("boom")

    mw = tracing.TracingMiddleware(handler)
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    with capture_spans(ratio=0.0) as spans:
        for _ in range(3):
            await mw(dict(scope), None, None)
        with pytest.raises(RuntimeError):
            await mw({**scope, "path": "/boom"}, None, None)
        assert len({s.get_span_context().trace_id for s in seen}) == 4
        assert all(type(s) is NonRecordingSpan for s in seen)
        assert all(s.get_span_context().is_valid for s in seen)
        assert not any(s.get_span_context().trace_flags.sampled for s in seen)
        assert api_trace.get_current_span() is api_trace.INVALID_SPAN
        assert spans.spans == []
        token = mw.unsampled(dict(scope))
        assert token is not None
        assert api_trace.get_current_span().get_span_context().is_valid
        mw.unsampled_done(token)
        assert api_trace.get_current_span() is api_trace.INVALID_SPAN
        tid = "4bf92f3577b34da6a3ce929d0e0e4736"
        sampled = [(b"traceparent", f"00-{tid}-00f067aa0ba902b7-01".encode())]
        assert mw.unsampled({**scope, "headers": sampled}) is None
        await mw({**scope, "headers": sampled}, None, None)
        (span,) = spans.spans
        assert format(span.context.trace_id, "032x") == tid
        outer = api_trace.NonRecordingSpan(span.context)  # a current span: no quick path
        token = api_context.attach(api_trace.set_span_in_context(outer))
        try:
            assert mw.unsampled(dict(scope)) is None
        finally:
            api_context.detach(token)
