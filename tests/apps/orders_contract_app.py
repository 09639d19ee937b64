"""The orders HTTP API exactly as the contract in the brief states it -- and nothing more.

Not the reference service (examples/orders is): a fixture that checks the shipped orders
collections agree with the contract, so a mismatch after the merge is the service's or the
contract's, not the collections'. ORDERS_PAYMENTS_DOWN=1 plays the payments stub being down.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

PAYMENTS_DOWN = os.environ.get("ORDERS_PAYMENTS_DOWN") == "1"
ORDERS: dict[str, dict[str, Any]] = {}
_ids = itertools.count(1)


def _error(code: str, message: str, status: int) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _health(ok: bool) -> Response:
    body = {"status": "pass" if ok else "fail",
            "checks": {"payments": [{"status": "pass" if ok else "fail"}]}}
    return JSONResponse(body, 200 if ok else 503, media_type="application/health+json")


async def ping(request: Request) -> Response:
    return _health(True)


async def readiness(request: Request) -> Response:
    return _health(not PAYMENTS_DOWN)


async def metrics(request: Request) -> Response:
    return PlainTextResponse("# TYPE orders_created_total counter\norders_created_total 1\n")


async def create(request: Request) -> Response:
    try:
        data = await request.json()
    except ValueError:
        return _error("INVALID_JSON", "body is not JSON", 400)
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("customerId"), str) or not items:
        return _error("INVALID_ORDER", "customerId and items are required", 400)
    for it in items:
        if (not isinstance(it, dict) or not isinstance(it.get("quantity"), int)
                or it["quantity"] <= 0 or not isinstance(it.get("price"), int | float)):
            return _error("INVALID_ORDER", "items need a positive quantity and a price", 400)
    order = {"id": f"O-{next(_ids):06d}", "customerId": data["customerId"],
             "status": "payment_failed" if PAYMENTS_DOWN else "paid",
             "total": round(sum(i["quantity"] * i["price"] for i in items), 2), "items": items,
             "createdAt": datetime.now(UTC).isoformat()}
    ORDERS[order["id"]] = order
    return JSONResponse(order, 201)


async def list_orders(request: Request) -> Response:
    cid = request.query_params.get("customerId")
    return JSONResponse({"orders": [o for o in ORDERS.values()
                                    if cid is None or o["customerId"] == cid]})


async def get_order(request: Request) -> Response:
    order = ORDERS.get(request.path_params["id"])
    if order is None:
        return _error("ORDER_NOT_FOUND", "no such order", 404)
    return JSONResponse(order)


async def cancel(request: Request) -> Response:
    order = ORDERS.get(request.path_params["id"])
    if order is None:
        return _error("ORDER_NOT_FOUND", "no such order", 404)
    if order["status"] == "cancelled":
        return _error("ORDER_NOT_CANCELLABLE", "order is already cancelled", 409)
    order["status"] = "cancelled"
    return JSONResponse(order)


async def slow(request: Request) -> Response:
    try:
        ms = int(request.query_params.get("ms", "0"))
    except ValueError:
        return _error("INVALID_MS", "ms is a number", 400)
    if not 0 <= ms <= 10_000:
        return _error("INVALID_MS", "ms is 0..10000", 400)
    await asyncio.sleep(ms / 1000)
    return JSONResponse({"sleptMs": ms})


app = Starlette(routes=[
    Route("/healthz/ping", ping), Route("/healthz/liveness", ping),
    Route("/healthz/readiness", readiness), Route("/metrics", metrics),
    Route("/orders", create, methods=["POST"]), Route("/orders", list_orders, methods=["GET"]),
    Route("/orders/slow", slow), Route("/orders/{id}", get_order),
    Route("/orders/{id}/cancel", cancel, methods=["POST"]),
])
