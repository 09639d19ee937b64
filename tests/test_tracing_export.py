"""The official HTTP and gRPC exporters, as setup() configures them, against real receivers
on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

import tracing
from tracing.testing import OtlpReceiver, decode_traces


@pytest.fixture(autouse=True)
def _reset_tracing() -> Iterator[None]:
    tracing.reset()
    yield
    tracing.reset()


def _spans() -> list[ReadableSpan]:
    """A few finished SDK spans, for the receiver."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "orders"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("opsplane.asgi")
    for kind in SpanKind:
        with tracer.start_as_current_span(f"kind {kind.name}", kind=kind,
                                          attributes={"n": 1, "s": "GET"}) as span:
            span.set_status(Status(StatusCode.OK))
    return list(exporter.get_finished_spans())


def test_setup_picks_the_official_exporters(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcExporter,
    )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    from tracing._otlp import _session
    from tracing._setup import _otlp_exporter, resolve_config

    http = _otlp_exporter(resolve_config("t", env={
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}))
    grpc = _otlp_exporter(resolve_config("t", env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317",
                                                   "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}))
    try:
        assert type(http) is HttpExporter
        assert type(grpc) is GrpcExporter
    finally:
        http.shutdown()
        grpc.shutdown()
    for var in [k for k in os.environ if k.lower().endswith("_proxy")] + ["NETRC"]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", "/nonexistent")
    assert _session().trust_env is False  # nothing in the environment for requests to find
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    assert _session().trust_env is True


async def _traced_requests(n: int) -> None:
    from starlette.applications import Starlette

    from tests.apps.traced_app import ROUTES

    app = tracing.TracingMiddleware(Starlette(routes=ROUTES))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        for i in range(n):
            assert (await c.get(f"/items/{i}")).status_code == 200


async def test_http_export_honours_compression_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with OtlpReceiver() as rx:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rx.endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=shop")
        tracing.setup("front")
        await _traced_requests(3)
        tracing.shutdown(timeout_s=10)
        spans = rx.wait_for(lambda s: len(s) >= 6)
    assert rx.gzipped == rx.requests >= 1
    assert rx.headers[-1].get("x-tenant") == "shop"
    assert sorted(s["name"] for s in spans) == ["GET /items/{item_id}"] * 3 + ["db.query"] * 3
    assert {s["service"] for s in spans} == {"front"}


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.requests: list[bytes] = []

    def Export(self, request: Any, context: Any) -> Any:
        self.requests.append(request.SerializeToString())
        return trace_service_pb2.ExportTraceServiceResponse()


async def test_grpc_export_reaches_a_real_grpc_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    import grpc

    collector = _Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        tracing.setup("front")
        await _traced_requests(2)
        tracing.shutdown(timeout_s=10)
    finally:
        server.stop(grace=None)
    spans = [s for body in collector.requests for s in decode_traces(body)]
    assert sorted(s["name"] for s in spans) == ["GET /items/{item_id}"] * 2 + ["db.query"] * 2
    server_span = next(s for s in spans if s["name"] == "GET /items/{item_id}")
    assert server_span["attributes"]["http.response.status_code"] == 200
    assert server_span["service"] == "front"


def test_receiver_without_decoding_counts_and_refuses_garbage() -> None:
    spans = _spans()
    with OtlpReceiver(decode=False) as rx:
        ok = httpx.post(f"{rx.endpoint}/v1/traces",
                        content=encode_spans(spans).SerializeToString())
        bad = httpx.post(f"{rx.endpoint}/v1/traces", content=b"\xff\xff not protobuf")
    assert (ok.status_code, bad.status_code) == (200, 400)
    assert (rx.received, rx.spans, rx.requests) == (len(spans), [], 1)


def test_batch_settings_are_tracings_unless_otel_bsp_says(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tracing._setup import batch_settings

    assert batch_settings({}) == {"max_queue_size": 16384, "max_export_batch_size": 8192,
                                  "schedule_delay_millis": 5000, "export_timeout_millis": 10000}
    # what a variable sets is left to the SDK, which reads it; a batch never outgrows the queue
    assert batch_settings({"OTEL_BSP_MAX_QUEUE_SIZE": "1000"}) == {
        "max_export_batch_size": 1000, "schedule_delay_millis": 5000,
        "export_timeout_millis": 10000}
    assert "schedule_delay_millis" not in batch_settings({"OTEL_BSP_SCHEDULE_DELAY": "200"})
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "1000")
    # the SDK accepts the mix (it refuses a batch larger than its queue)
    BatchSpanProcessor(InMemorySpanExporter(), **batch_settings(os.environ)).shutdown()
