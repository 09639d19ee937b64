"""Two tiny services for the tracing tests: ``front`` calls ``back`` over HTTP.

Run as ``uvicorn tests.apps.traced_app:app`` with SERVICE_NAME=front|back, BACKEND_URL and
the standard OTEL_* variables. Logs go to stdout as JSON through logstd.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import logstd
import tracing

SERVICE = os.environ.get("SERVICE_NAME", "front")
log = logging.getLogger(f"{SERVICE}.api")


async def get_item(request: Request) -> JSONResponse:
    item = request.path_params["item_id"]
    with tracing.span("db.query", **{"db.system": "sqlite", "db.operation": "SELECT"}):
        log.info("item loaded", extra={"orderId": item})
    backend = os.environ.get("BACKEND_URL")
    status = None
    if backend:
        async with httpx.AsyncClient() as client:
            r = await client.post(f"{backend}/charges/{item}")
            status = r.status_code
    return JSONResponse({"item": item, "backend": status})


async def charge(request: Request) -> JSONResponse:
    log.info("charged", extra={"orderId": request.path_params["item_id"]})
    return JSONResponse({"ok": True}, status_code=201)


async def boom(request: Request) -> JSONResponse:
    raise RuntimeError("boom")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    logstd.configure(service=SERVICE, mode="json")
    tracing.setup(service=SERVICE, version="0.1.0")
    tracing.instrument_httpx()
    yield
    tracing.shutdown()


ROUTES = [Route("/items/{item_id}", get_item),
          Route("/charges/{item_id}", charge, methods=["POST"]),
          Route("/boom", boom)]
_app = Starlette(routes=ROUTES, lifespan=lifespan)
app = tracing.TracingMiddleware(_app)
