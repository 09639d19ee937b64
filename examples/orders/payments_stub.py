"""A stand-in for the payments service the orders service depends on.

    cd examples/orders && python -m uvicorn payments_stub:app --port 8081

``POST /charges {"orderId": "O-1", "amount": 19.0}`` -> 201 ``{"chargeId", "status": "succeeded"}``.
Amounts over 100000 are declined (402), to exercise the failure path. When
PAYMENTS_API_KEY is set, a matching ``Authorization: Bearer`` header is required.
PAYMENTS_DELAY_MS adds latency to every charge.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import uuid

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import opsplane
from opsplane import ApiError, read_json
from opsplane.spec.service import ServiceSpec

DECLINE_ABOVE = 100_000


class Charge(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    orderId: str = Field(min_length=1, max_length=64)
    amount: float = Field(ge=0)


async def charge(request: Request) -> Response:
    key = os.environ.get("PAYMENTS_API_KEY")
    if key:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
            raise ApiError(401, "UNAUTHORIZED", "missing or wrong API key")
    body = await read_json(request, Charge)
    delay = os.environ.get("PAYMENTS_DELAY_MS", "")
    if delay.isdigit():
        await asyncio.sleep(int(delay) / 1000)
    if body.amount > DECLINE_ABOVE:
        raise ApiError(402, "PAYMENT_DECLINED", f"amount {body.amount} over the limit")
    data = {"chargeId": f"ch_{uuid.uuid4().hex[:16]}", "status": "succeeded",
            "orderId": body.orderId, "amount": body.amount}
    return Response(orjson.dumps(data), status_code=201, media_type="application/json")


SPEC = ServiceSpec(name="payments-stub", team="commerce", app="payments_stub:app", port=8081,
                   description="stand-in for the payments service")
app = opsplane.instrument(Starlette(routes=[Route("/charges", charge, methods=["POST"])]), SPEC)
