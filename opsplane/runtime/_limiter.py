"""Bounded concurrency and drain headers: a pure-ASGI middleware ``opsplane serve`` installs.

- At most ``max_in_flight`` requests are handled at once; one more is answered ``503`` with
  ``Retry-After`` and a JSON error, and counted in ``http_server_rejected_requests_total``
  (label ``reason="overload"``). A pod therefore never holds more than it can drain in
  its grace period.
- While the process drains (``State.draining``) every response carries
  ``Connection: close`` so that clients stop reusing connections to this pod.
- Probe and metrics paths (``/healthz/``, ``/metrics``) are never limited nor counted:
  the kubelet must see an overloaded pod as alive.
- ``State.in_flight`` is kept here, so shutdown knows how much is still running -- unless
  the app keeps it itself (``opsplane.instrument`` does; ``opsplane serve`` then passes
  ``count_in_flight=False`` and counts rejections in the kit's own registry).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opsplane.runtime.lifecycle import STATE, State

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REJECTED_METRIC = "http_server_rejected_requests_total"
# registry -> the rejected counter registered in it (through prometheus_client's public API:
# the registry has no public lookup by name, so the kit remembers what it registered)
_COUNTERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_COUNTERS_LOCK = threading.Lock()
EXEMPT_PREFIXES = ("/healthz/", "/metrics")
_CLOSE = (b"connection", b"close")


def rejected_counter(registry: Any = None) -> Any:
    """The ``http_server_rejected_requests_total`` counter, registered once per registry.

    Another part of the kit (``ServiceMetrics``) may have registered it first through this
    function; then that one is returned.
    """
    from prometheus_client import REGISTRY, Counter

    from opsplane.spec.metrics import load_metrics

    registry = REGISTRY if registry is None else registry
    with _COUNTERS_LOCK:
        existing = _COUNTERS.get(registry)
        if existing is None:
            meta = load_metrics()[REJECTED_METRIC]
            existing = _COUNTERS[registry] = Counter(
                REJECTED_METRIC, meta.description, labelnames=list(meta.labels),
                registry=registry)
        return existing


class ConcurrencyLimit:
    """``ConcurrencyLimit(app, max_in_flight=256)``: cap in-flight HTTP requests."""

    def __init__(self, app: ASGIApp, max_in_flight: int = 256, *, state: State = STATE,
                 retry_after: int = 1, exempt: tuple[str, ...] = EXEMPT_PREFIXES,
                 registry: Any = None, on_reject: Callable[[], None] | None = None,
                 count_in_flight: bool = True) -> None:
        """``on_reject`` replaces the default-registry counter (e.g. the kit's own metrics);
        ``count_in_flight=False`` when the app keeps ``state.in_flight`` itself (the kit)."""
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.app = app
        self.max_in_flight = max_in_flight
        self.state = state
        self.retry_after = retry_after
        self.exempt = exempt
        self.count_in_flight = count_in_flight
        self.active = 0
        self.on_reject = on_reject or rejected_counter(registry).labels(reason="overload").inc
        body = (b'{"error": {"code": "OVERLOADED", "message": "too many requests in flight; '
                b'retry later"}}')
        self._reject_start = {
            "type": "http.response.start", "status": 503,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(retry_after).encode())],
        }
        self._reject_body = {"type": "http.response.body", "body": body}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and state.draining:
                headers = list(message.get("headers", ()))
                if not any(k.lower() == b"connection" for k, _ in headers):
                    headers.append(_CLOSE)
                message = {**message, "headers": headers}
            await send(message)

        if scope.get("path", "").startswith(self.exempt):
            await self.app(scope, receive, send_closing)
            return
        if self.active >= self.max_in_flight:
            self.on_reject()
            await send_closing(dict(self._reject_start))
            await send(self._reject_body)
            return
        self.active += 1
        counted = self.count_in_flight
        if counted:
            state.in_flight += 1
        try:
            await self.app(scope, receive, send_closing)
        finally:
            self.active -= 1
            if counted:
                state.in_flight -= 1
