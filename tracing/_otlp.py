"""The official OTLP exporters (HTTP/protobuf, gRPC), fed by the fast wire encoder.

The gRPC one lives in tracing._otlp_grpc, imported only when OTLP over gRPC is chosen.

Everything but the encoding stays the official exporters': endpoint, headers, timeout,
compression and TLS from the OTEL_EXPORTER_OTLP_* variables, retries with backoff, the
request size limit. Only span -> protobuf is replaced (tracing._wire: the same bytes, a
sixth of the CPU), because that is what competes with requests for the GIL.

The HTTP exporter sends through the official exporter's client (``_client.export(bytes)``,
opentelemetry-exporter-otlp-proto-http >= 1.40); on a version without it, the official
export path runs unchanged. tests/test_tracing_export.py pins both exporters against real
receivers, so an upgrade that moves these internals fails there, not in production.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as _HttpExporter,
)
from opentelemetry.sdk.trace.export import SpanExportResult

from tracing._wire import encode_request

log = logging.getLogger("tracing")


class HttpExporter(_HttpExporter):
    """OTLP/HTTP (protobuf), encoding with tracing._wire; reads spans encoded as they ended
    (tracing._wire.preencode) as well as spans."""

    @property
    def reads_preencoded(self) -> bool:
        """Sent through the official client's ``export(bytes)``; without it (an older
        exporter) the official path encodes, and it reads spans only."""
        return hasattr(getattr(self, "_client", None), "export")

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        client = getattr(self, "_client", None)
        if getattr(self, "_shutdown", False) or not hasattr(client, "export"):
            return super().export(spans)
        try:
            data = encode_request(spans)
        except Exception as e:
            log.error("trace batch not encoded", extra={
                "event": "tracing.encode_failed", "errorType": type(e).__name__,
                "errorMessage": str(e), "count": len(spans)})
            return SpanExportResult.FAILURE
        limit = getattr(self, "_max_request_size", 0)
        if limit and limit > 0 and len(data) > limit:
            log.warning("trace batch dropped: over the exporter's max_request_size", extra={
                "event": "tracing.batch_too_large", "count": len(spans)})
            return SpanExportResult.FAILURE
        result = client.export(data)  # type: ignore[union-attr]
        return SpanExportResult.SUCCESS if result.success else SpanExportResult.FAILURE


def otlp_exporter(protocol: str, endpoint: str | None, headers: Mapping[str, str],
                  timeout_s: float = 5) -> Any:
    """The exporter for ``protocol`` (http/protobuf | grpc); None values mean OTEL_* defaults."""
    if protocol == "grpc":
        from tracing._otlp_grpc import GrpcExporter  # grpc loads only when asked for

        return GrpcExporter(endpoint=endpoint, headers=dict(headers) or None, timeout=timeout_s)
    exporter = HttpExporter(endpoint=endpoint, headers=dict(headers) or None, timeout=timeout_s)
    _lighter_session(exporter)
    return exporter


def _lighter_session(exporter: Any) -> None:
    """Where nothing in the environment is for requests to find (no proxy variables, no
    ~/.netrc), its session stops looking on every export request (two file checks and a
    walk over the environment each time, in the batch thread, holding the GIL)."""
    import os

    session = getattr(getattr(getattr(exporter, "_client", None), "_transport", None),
                      "_session", None)
    if session is None or not hasattr(session, "trust_env"):
        return
    proxies = any(k.lower().endswith("_proxy") for k in os.environ)
    netrc = os.environ.get("NETRC") or any(
        os.path.exists(os.path.expanduser(f"~/{n}")) for n in (".netrc", "_netrc"))
    if not proxies and not netrc:
        session.trust_env = False
