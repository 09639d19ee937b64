"""Helpers for tests: spans in memory, and a real OTLP/HTTP receiver on loopback."""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["OtlpReceiver", "SpanList", "capture_spans"]


class SpanList:
    """Finished spans of an in-memory exporter, with the lookups tests need."""

    def __init__(self, exporter: Any) -> None:
        self._exporter = exporter

    @property
    def spans(self) -> list[Any]:
        return list(self._exporter.get_finished_spans())

    def names(self) -> list[str]:
        return [s.name for s in self.spans]

    def find(self, name: str) -> Any:
        hits = [s for s in self.spans if s.name == name]
        if len(hits) != 1:
            raise AssertionError(f"expected one span {name!r}, found {len(hits)}: {self.names()}")
        return hits[0]

    def clear(self) -> None:
        self._exporter.clear()


@contextlib.contextmanager
def capture_spans(service: str = "test", ratio: float = 1.0) -> Iterator[SpanList]:
    """Set tracing up with an in-memory exporter for the block; spans are exported at once."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tracing._setup import reset, setup

    exporter = InMemorySpanExporter()
    setup(service, ratio=ratio, processors=[SimpleSpanProcessor(exporter)])
    try:
        yield SpanList(exporter)
    finally:
        reset()


def _hex(b: bytes) -> str:
    return b.hex()


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def decode_traces(body: bytes) -> list[dict[str, Any]]:
    """Flatten an OTLP ExportTraceServiceRequest into one dict per span."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    req = ExportTraceServiceRequest()
    req.ParseFromString(body)
    out = []
    for rs in req.resource_spans:
        resource = {a.key: _value(a.value) for a in rs.resource.attributes}
        for ss in rs.scope_spans:
            for sp in ss.spans:
                out.append({
                    "traceId": _hex(sp.trace_id), "spanId": _hex(sp.span_id),
                    "parentSpanId": _hex(sp.parent_span_id) or None, "name": sp.name,
                    "kind": sp.kind, "service": resource.get("service.name"),
                    "resource": resource, "status": sp.status.code,
                    "attributes": {a.key: _value(a.value) for a in sp.attributes},
                    "events": [e.name for e in sp.events],
                })
    return out


def _count_spans(body: bytes) -> int:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    req = ExportTraceServiceRequest.FromString(body)
    return sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)


class OtlpReceiver:
    """An OTLP/HTTP (protobuf) trace receiver on 127.0.0.1; ``endpoint`` for OTEL_* variables.

        with OtlpReceiver() as rx:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = rx.endpoint
            ...
            spans = rx.wait_for(lambda s: len(s) >= 4)

    ``decode=False`` (benchmarks): each request is still parsed as an ExportTraceServiceRequest
    (a 400 if it is not one) and its spans counted in ``received``, but not kept as dicts.
    """

    def __init__(self, decode: bool = True) -> None:
        self.spans: list[dict[str, Any]] = []
        self.requests = 0
        self.received = 0
        self.gzipped = 0
        self.headers: list[dict[str, str]] = []
        self.decode = decode
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a collector: no connect per batch

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                gzipped = self.headers.get("Content-Encoding") == "gzip"
                if gzipped:
                    body = gzip.decompress(body)
                if self.path.rstrip("/") != "/v1/traces":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    spans = decode_traces(body) if receiver.decode else []
                    count = len(spans) if receiver.decode else _count_spans(body)
                except Exception:  # not protobuf, or not this message
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with receiver._cond:
                    receiver.spans.extend(spans)
                    receiver.received += count
                    receiver.requests += 1
                    receiver.gzipped += gzipped
                    receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                    receiver._cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, done: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until ``done(spans)`` is true (or timeout); returns the spans."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done(self.spans):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.spans)
