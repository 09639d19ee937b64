"""A small ASGI app speaking the orders API of the brief, for the loadtest tests.

Plain ASGI (no framework): each request does some CPU work (hashing) and keeps a little
memory (orders are stored; a transient buffer per request), so resource samples are
non-trivial. Run with ``python -m uvicorn orders_like:app --app-dir tests/apps``.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qs

ORDERS: dict[str, dict[str, Any]] = {}
_counter = [0]


def _work(seed: bytes, rounds: int = 3000) -> str:
    h = seed
    for _ in range(rounds):
        h = hashlib.sha256(h).digest()
    _buf = bytearray(64 * 1024)  # transient allocation per request
    return h.hex()[:8] + str(len(_buf))[:0]


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body"):
            return b"".join(chunks)


async def _send(send: Any, status: int, payload: Any) -> None:
    data = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": data})


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    method, path = scope["method"], scope["path"]
    query = parse_qs(scope.get("query_string", b"").decode())
    _work(path.encode())
    if path == "/metrics":  # GC pauses, as a service on opsplane.instrument exposes them
        from prometheus_client import CollectorRegistry, generate_latest

        from opsplane.runtime._gcpauses import gc_pauses

        registry = CollectorRegistry()
        registry.register(gc_pauses())
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain; version=0.0.4")]})
        await send({"type": "http.response.body", "body": generate_latest(registry)})
    elif path.startswith("/healthz/"):
        await _send(send, 200, {"status": "ok"})
    elif path == "/orders" and method == "POST":
        try:
            body = json.loads(await _body(receive) or b"{}")
            items = body["items"]
            total = sum(float(i["price"]) * int(i["quantity"]) for i in items)
        except (ValueError, KeyError, TypeError):
            await _send(send, 400, _error("BAD_REQUEST", "customerId and items required"))
            return
        _counter[0] += 1
        oid = f"O-{_counter[0]}"
        order = {"id": oid, "customerId": body.get("customerId"), "status": "paid",
                 "total": total, "items": items, "createdAt": time.time(),
                 "pad": "x" * 2048}
        ORDERS[oid] = order
        await _send(send, 201, order)
    elif path == "/orders" and method == "GET":
        cid = (query.get("customerId") or [""])[0]
        found = [o for o in list(ORDERS.values())[-50:] if o["customerId"] == cid]
        await _send(send, 200, {"orders": found})
    elif path == "/orders/slow":
        import asyncio

        ms = min(int((query.get("ms") or ["0"])[0]), 10_000)
        await asyncio.sleep(ms / 1000)
        await _send(send, 200, {"sleptMs": ms})
    elif path.startswith("/orders/") and path.endswith("/cancel") and method == "POST":
        oid = path.split("/")[2]
        if oid not in ORDERS:
            await _send(send, 404, _error("ORDER_NOT_FOUND", oid))
        elif ORDERS[oid]["status"] == "cancelled":
            await _send(send, 409, _error("NOT_CANCELLABLE", oid))
        else:
            ORDERS[oid]["status"] = "cancelled"
            await _send(send, 200, ORDERS[oid])
    elif path.startswith("/orders/") and method == "GET":
        oid = path.split("/")[2]
        if oid in ORDERS:
            await _send(send, 200, ORDERS[oid])
        else:
            await _send(send, 404, _error("ORDER_NOT_FOUND", oid))
    else:
        await _send(send, 404, _error("NOT_FOUND", path))
