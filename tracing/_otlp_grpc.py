"""OTLP/gRPC export with the fast wire encoder (a module of its own: grpc is a heavy import)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as _GrpcExporter,
)

from tracing._wire import encode_request


class GrpcExporter(_GrpcExporter):
    """OTLP/gRPC, encoding with tracing._wire (upb parses the bytes into the request);
    reads spans encoded as they ended as well as spans."""

    reads_preencoded = True

    def _translate_data(self, data: Sequence[Any]) -> Any:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        return ExportTraceServiceRequest.FromString(encode_request(data))
