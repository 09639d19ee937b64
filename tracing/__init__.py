"""tracing: OpenTelemetry for every service -- setup, inbound and outbound spans, ids in logs.

    import tracing
    if tracing.wanted():                                 # an OTLP endpoint in OTEL_*
        tracing.setup(service="orders", version="1.4.2")   # OTLP from OTEL_* variables
    app = tracing.TracingMiddleware(app)                 # inbound spans named by route
    tracing.instrument_httpx()                           # outbound spans + traceparent
    with tracing.span("orders.reserve_stock", orderId=order_id):
        ...

Importing this package loads no OpenTelemetry module; ``setup`` does.
"""

from tracing._asgi import TracingMiddleware
from tracing._outbound import instrument_httpx, instrument_requests
from tracing._setup import (
    TracingConfig,
    current_ids,
    is_enabled,
    reset,
    setup,
    shutdown,
    wanted,
)
from tracing._span import span

__all__ = [
    "TracingConfig",
    "TracingMiddleware",
    "current_ids",
    "instrument_httpx",
    "instrument_requests",
    "is_enabled",
    "reset",
    "setup",
    "shutdown",
    "span",
    "wanted",
]
