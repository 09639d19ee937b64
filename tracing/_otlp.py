"""The official OTLP exporters (HTTP/protobuf, gRPC), configured through their constructors.

Endpoint, headers, timeout, compression, TLS, retries and the encoding are the official
exporters' own; tracing only chooses one by protocol. The gRPC exporter is imported only when
OTLP over gRPC is chosen (grpc is a heavy import).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any


def otlp_exporter(protocol: str, endpoint: str | None, headers: Mapping[str, str],
                  timeout_s: float = 5) -> Any:
    """The exporter for ``protocol`` (http/protobuf | grpc); None values mean OTEL_* defaults."""
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            from tracing.errors import TracingError

            raise TracingError("OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the gRPC exporter: "
                               "pip install 'opsplane[grpc]'") from None

        return GrpcExporter(endpoint=endpoint, headers=dict(headers) or None, timeout=timeout_s)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter(endpoint=endpoint, headers=dict(headers) or None, timeout=timeout_s,
                        session=_session())


def _session() -> Any:
    """The requests session the HTTP exporter sends with (its ``session`` argument). Where
    nothing in the environment is for requests to find (no proxy variables, no ~/.netrc), it
    stops looking on every export request (two file checks and a walk over the environment
    each time, in the batch thread, holding the GIL). None (the exporter's own) where requests,
    a dependency of the HTTP exporter, is not there."""
    try:
        import requests
    except ImportError:
        return None
    session = requests.Session()
    proxies = any(k.lower().endswith("_proxy") for k in os.environ)
    netrc = os.environ.get("NETRC") or any(
        os.path.exists(os.path.expanduser(f"~/{n}")) for n in (".netrc", "_netrc"))
    if not proxies and not netrc:
        session.trust_env = False
    return session
