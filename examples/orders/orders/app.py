"""The orders service: create, list, get and cancel orders; pays through the payments service.

Built only with the kit: ``opsplane.instrument`` gives it health, metrics, request logs,
JSON errors and its settings; ``service.yaml`` beside this package describes it.

    cd examples/orders && python -m uvicorn orders.app:app --port 8080
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import logstd
import opsplane
from opsplane import ApiError, read_json
from opsplane.runtime.settings import Settings
from orders.db import CANCELLABLE, Database, now_iso

SPEC = Path(__file__).resolve().parent.parent / "service.yaml"
CUSTOMER_ID = r"^C-\d{4,8}$"
MAX_SLOW_MS = 10_000
log = logging.getLogger("orders")
_open: dict[str, Database] = {}  # the database while the service runs (for the health check)


class OrdersSettings(Settings):
    """Facts from the environment or the ConfigMap; the payments key is a secret."""

    database_url: str = "sqlite:///orders.db"
    payments_url: str = "http://127.0.0.1:8081"
    payments_timeout_s: float = Field(2.0, gt=0, le=30)
    payments_api_key: SecretStr | None = None


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=1000)
    price: float = Field(ge=0, le=1_000_000)


class NewOrder(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    customerId: str = Field(pattern=CUSTOMER_ID)
    items: list[Item] = Field(min_length=1, max_length=100)


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _db(request: Request) -> Database:
    db: Database = request.state.db
    return db


def _customer_param(request: Request) -> str:
    import re

    cid = request.query_params.get("customerId")
    if not cid:
        raise ApiError(400, "MISSING_PARAMETER", "query parameter customerId is required")
    if not re.fullmatch(CUSTOMER_ID, cid):
        raise ApiError(400, "INVALID_PARAMETER",
                       "query parameter customerId must look like C-1001")
    return cid


async def _charge(request: Request, order_id: str, amount: float) -> str:
    """Charge the order through payments; the order's new status (paid | payment_failed)."""
    import httpx

    settings: OrdersSettings = request.state.settings
    headers = {}
    if settings.payments_api_key is not None:
        headers["Authorization"] = f"Bearer {settings.payments_api_key.get_secret_value()}"
    try:
        resp = await request.state.payments.post(
            "/charges", json={"orderId": order_id, "amount": amount}, headers=headers)
    except httpx.HTTPError as e:
        log.warning("payment call failed", extra={"event": "payment.failed",
                                                  "dependency": "payments",
                                                  "errorType": type(e).__name__})
        return "payment_failed"
    if resp.status_code == 201 and resp.json().get("status") == "succeeded":
        return "paid"
    log.warning("payment declined", extra={"event": "payment.declined",
                                           "dependency": "payments",
                                           "dependencyStatus": resp.status_code})
    return "payment_failed"


async def create_order(request: Request) -> Response:
    new = await read_json(request, NewOrder)
    db = _db(request)
    logstd.bind(customerId=new.customerId)
    if not await db.run(db.customer_exists, new.customerId):
        raise ApiError(422, "UNKNOWN_CUSTOMER", f"customer {new.customerId} does not exist")
    items = [(i.sku, i.quantity, round(i.price * 100)) for i in new.items]
    total_cents = sum(q * p for _, q, p in items)
    order_id = f"O-{uuid.uuid4().hex[:12]}"
    logstd.bind(orderId=order_id)
    await db.run(functools.partial(db.insert_order, order_id, new.customerId, "created",
                                   total_cents, items=items, at=now_iso()))
    status = "created"
    if total_cents > 0:
        status = await _charge(request, order_id, total_cents / 100)
        await db.run(db.set_status, order_id, status)
    # outcome is the dictionary's success|failure; the order's own status goes in action
    log.info("order created", extra={"event": "order.created", "action": status,
                                     "outcome": "failure" if status == "payment_failed"
                                     else "success"})
    order = await db.run(db.get_order, order_id)
    return _json(order, 201)


async def list_orders(request: Request) -> Response:
    cid = _customer_param(request)
    logstd.bind(customerId=cid)
    db = _db(request)
    return _json({"orders": await db.run(db.list_orders, cid)})


async def get_order(request: Request) -> Response:
    order_id = request.path_params["id"]
    db = _db(request)
    order = await db.run(db.get_order, order_id)
    if order is None:
        raise ApiError(404, "ORDER_NOT_FOUND", f"order {order_id[:64]} does not exist")
    return _json(order)


async def cancel_order(request: Request) -> Response:
    order_id = request.path_params["id"]
    db = _db(request)
    logstd.bind(orderId=order_id[:64])
    if not await db.run(db.set_status, order_id, "cancelled", CANCELLABLE):
        order = await db.run(db.get_order, order_id)
        if order is None:
            raise ApiError(404, "ORDER_NOT_FOUND", f"order {order_id[:64]} does not exist")
        raise ApiError(409, "ORDER_NOT_CANCELLABLE",
                       f"order {order_id} is {order['status']}; only "
                       f"{', '.join(sorted(CANCELLABLE))} orders can be cancelled")
    log.info("order cancelled", extra={"event": "order.cancelled"})
    return _json(await db.run(db.get_order, order_id))


async def slow(request: Request) -> Response:
    raw = request.query_params.get("ms", "0")
    if not raw.isdigit() or len(raw) > 9:
        raise ApiError(400, "INVALID_PARAMETER",
                       "query parameter ms must be a whole number of milliseconds")
    ms = min(int(raw), MAX_SLOW_MS)  # capped: a load test cannot park a worker for long
    await asyncio.sleep(ms / 1000)
    return _json({"sleptMs": ms})


@contextlib.asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
    settings: OrdersSettings = app.settings
    db = Database(settings.database_url)
    await db.run(db.setup)
    _open["db"] = db
    payments = app.http_client("payments", base_url=settings.payments_url,
                               timeout=settings.payments_timeout_s)
    log.info("orders ready", extra={"event": "startup.complete"})
    try:
        yield {"db": db, "payments": payments, "settings": settings}
    finally:
        _open.pop("db", None)
        db.close()


routes = [
    Route("/orders", create_order, methods=["POST"]),
    Route("/orders", list_orders, methods=["GET"]),
    Route("/orders/slow", slow, methods=["GET"]),
    Route("/orders/{id}", get_order, methods=["GET"]),
    Route("/orders/{id}/cancel", cancel_order, methods=["POST"]),
]

app = opsplane.instrument(Starlette(routes=routes, lifespan=lifespan), SPEC,
                          settings=OrdersSettings)


@app.check("database:responseTime", component_type="datastore", timeout=1.0)
async def database_check() -> None:
    """The service's own connection answers (overrides the spec's file check)."""
    db = _open.get("db")
    if db is None:
        raise RuntimeError("database not open yet")
    await db.run(db.ping)
