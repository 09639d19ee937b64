"""A plain ASGI app wrapped by ``opsplane.instrument`` (no service.yaml, no framework).

    GET /hello      200 "hello"

Served by ``opsplane serve metered_app:app --workers 2`` in tests/test_serve_workers.py.
"""

from __future__ import annotations

from typing import Any

import opsplane
from opsplane.spec.service import ServiceSpec


async def _hello(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise RuntimeError("lifespan is the kit's")  # the kit finishes the protocol itself
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


app = opsplane.instrument(_hello, ServiceSpec(name="metered", team="t", app="metered_app:app"),
                          tracing=False)
