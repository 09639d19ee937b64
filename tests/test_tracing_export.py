"""tracing._wire against the official OTLP encoder; the HTTP and gRPC exporters against real
receivers on loopback."""

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
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

import tracing
from logstd.testing import capture_logs
from tracing._otlp import HttpExporter
from tracing._otlp_grpc import GrpcExporter
from tracing._wire import encode_request
from tracing.testing import OtlpReceiver, decode_traces

SCALARS: dict[str, Any] = {
    "s": "GET", "empty": "", "unicode": "zürich ✓", "t": True, "f": False, "zero": 0,
    "neg": -42, "big": 2**63 - 1, "small": -(2**63), "pi": 3.25, "negzero": -0.0,
    "tiny": 1e-300, "bytes": b"\x00\xffraw",
}
ARRAYS: dict[str, Any] = {"strs": ["a", "", "c"], "ints": [1, -2, 3], "bools": [True, False],
                          "floats": [0.5, -1.5], "nested": {"a": 1, "b": ["x", 2.5], "c": None}}


@pytest.fixture(autouse=True)
def _reset_tracing() -> Iterator[None]:
    tracing.reset()
    yield
    tracing.reset()


def _provider(resource: dict[str, Any], schema_url: str = "", **limits: int,
              ) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource(resource, schema_url=schema_url),
                              span_limits=SpanLimits(**limits) if limits else None)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _many_spans() -> list[ReadableSpan]:
    """Spans with every value type, events, links, statuses, kinds, scopes and resources."""
    p1, x1 = _provider({"service.name": "orders", "service.version": "1.4.2", "n": 3,
                        "k8s.pod.name": "orders-7d9f"}, "https://opentelemetry.io/schemas/1.21")
    p2, x2 = _provider({"service.name": "payments"}, max_attributes=2, max_events=1,
                       max_links=1)
    asgi = p1.get_tracer("opsplane.asgi")
    db = p1.get_tracer("opsplane.db", "2.0", schema_url="https://example.com/s",
                       attributes={"scope.attr": "x", "scope.n": 7})
    remote = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, is_remote=True,
                         trace_flags=TraceFlags(1),
                         trace_state=TraceState([("vendor", "v1"), ("other", "o=2")]))
    parent_ctx = set_span_in_context(NonRecordingSpan(remote))
    for kind in SpanKind:
        with asgi.start_as_current_span(f"kind {kind.name}", context=parent_ctx, kind=kind,
                                        attributes=SCALARS) as server:
            server.set_attributes(ARRAYS)
            server.add_event("cache.miss", {"key": "O-1", "n": 2},
                             timestamp=1_700_000_000_000_000_001)
            server.add_event("bare")
            with db.start_as_current_span(
                    "db get_order",
                    links=[Link(remote, {"link.kind": "follows"}),
                           Link(server.get_span_context())]) as child:
                child.set_status(Status(StatusCode.ERROR, "disk on fire"))
                try:
                    raise RuntimeError("boom")
                except RuntimeError as e:
                    child.record_exception(e)
            server.set_status(Status(StatusCode.OK))
    limited = p2.get_tracer("limited")
    with limited.start_as_current_span("over the limits", attributes=SCALARS,
                                       links=[Link(remote), Link(remote)]) as s:
        s.add_event("one")
        s.add_event("two")
    with limited.start_as_current_span("unnamed status", kind=SpanKind.CLIENT) as s:
        s.set_status(Status(StatusCode.ERROR))
    spans = [*x1.get_finished_spans(), *x2.get_finished_spans()]
    # interleave the two resources and the scopes: grouping must keep first-seen order
    return spans[::2] + spans[1::2]


def test_wire_bytes_equal_the_official_encoder() -> None:
    spans = _many_spans()
    assert len(spans) == 12
    assert encode_request(spans) == encode_spans(spans).SerializeToString()


def test_wire_bytes_decode_to_the_spans() -> None:
    spans = _many_spans()
    decoded = decode_traces(encode_request(spans))
    assert len(decoded) == len(spans)
    server = next(d for d in decoded if d["name"] == "kind SERVER")
    assert server["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert server["parentSpanId"] == "00f067aa0ba902b7"
    assert server["kind"] == 2  # SPAN_KIND_SERVER
    assert server["status"] == 1  # STATUS_CODE_OK
    assert server["resource"]["n"] == 3
    attrs = server["attributes"]
    assert {k: attrs[k] for k in SCALARS if k != "negzero"} == \
        {k: v for k, v in SCALARS.items() if k != "negzero"}
    assert str(attrs["negzero"]) == "-0.0"
    assert [v.int_value for v in attrs["ints"].values] == [1, -2, 3]
    assert {kv.key for kv in attrs["nested"].values} == {"a", "b", "c"}
    assert server["events"] == ["cache.miss", "bare"]
    child = next(d for d in decoded if d["name"] == "db get_order"
                 and d["parentSpanId"] == server["spanId"])
    assert child["status"] == 2
    assert child["events"] == ["exception"]


def test_out_of_range_attribute_is_skipped_as_the_official_encoder_does() -> None:
    ctx = SpanContext(1, 2, is_remote=False)
    span = ReadableSpan("odd", context=ctx, attributes={"ok": 1, "huge": 2**70, "after": "x"},
                        resource=Resource({"service.name": "t"}), start_time=1, end_time=2)
    with capture_logs() as logs:
        ours = encode_request([span])
    assert ours == encode_spans([span]).SerializeToString()
    assert set(decode_traces(ours)[0]["attributes"]) == {"ok", "after"}
    assert [(x["message"], x["errorMessage"]) for x in logs] == [
        ("span attribute not exported",
         "huge: value 1180591620717411303424 is out of the int64 range")]


def test_setup_picks_the_fast_exporters() -> None:
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
    spans = _many_spans()
    with OtlpReceiver(decode=False) as rx:
        ok = httpx.post(f"{rx.endpoint}/v1/traces", content=encode_request(spans))
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
