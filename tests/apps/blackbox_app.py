"""A small ASGI service the black-box runner is tested against (run under uvicorn).

Environment knobs (the "builds" of the service):
    APP_READY_AFTER=SECONDS   readiness answers 503 until this long after start
    APP_BROKEN=1              the deliberately broken build: POST /items answers 500
    APP_TOKEN=VALUE           /private requires "Authorization: Bearer VALUE"
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

STARTED = time.monotonic()
READY_AFTER = float(os.environ.get("APP_READY_AFTER", "0"))
BROKEN = os.environ.get("APP_BROKEN") == "1"
TOKEN = os.environ.get("APP_TOKEN", "")
ITEMS: dict[str, dict[str, Any]] = {}
_ids = itertools.count(1)


def _health(status: str, code: int) -> Response:
    body = {"status": status, "checks": {"db": [{"status": status}]}}
    return JSONResponse(body, status_code=code, media_type="application/health+json")


async def readiness(request: Request) -> Response:
    if time.monotonic() - STARTED < READY_AFTER:
        return _health("fail", 503)
    return _health("pass", 200)


async def ping(request: Request) -> Response:
    return _health("pass", 200)


async def create_item(request: Request) -> Response:
    if BROKEN:
        return JSONResponse({"error": {"code": "INTERNAL", "message": "db write failed"}}, 500)
    try:
        data = await request.json()
    except ValueError:
        return JSONResponse({"error": {"code": "BAD_JSON", "message": "body is not JSON"}}, 400)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return JSONResponse({"error": {"code": "BAD_INPUT", "message": "name is required"}}, 400)
    item = {"id": f"I-{next(_ids)}", "name": data["name"], "qty": data.get("qty", 1),
            "tags": data.get("tags", []), "owner": request.headers.get("x-customer-id")}
    ITEMS[item["id"]] = item
    return JSONResponse(item, status_code=201, headers={"Location": f"/items/{item['id']}"})


async def get_item(request: Request) -> Response:
    item = ITEMS.get(request.path_params["id"])
    if item is None:
        return JSONResponse({"error": {"code": "ITEM_NOT_FOUND", "message": "no such item"}}, 404)
    return JSONResponse(item)


async def list_items(request: Request) -> Response:
    return JSONResponse({"items": list(ITEMS.values())})


async def echo(request: Request) -> Response:
    return JSONResponse({"headers": dict(request.headers), "query": dict(request.query_params)})


async def private(request: Request) -> Response:
    if not TOKEN or request.headers.get("authorization") != f"Bearer {TOKEN}":
        return JSONResponse({"error": {"code": "UNAUTHORIZED", "message": "bad token",
                                       "got": request.headers.get("authorization")}}, 401)
    return JSONResponse({"ok": True})


async def slow(request: Request) -> Response:
    await asyncio.sleep(min(float(request.query_params.get("ms", "0")), 5000) / 1000)
    return JSONResponse({"slept": True})


async def text(request: Request) -> Response:
    return Response("plain text, not JSON", media_type="text/plain")


app = Starlette(routes=[
    Route("/healthz/readiness", readiness),
    Route("/healthz/ping", ping),
    Route("/items", create_item, methods=["POST"]),
    Route("/items", list_items, methods=["GET"]),
    Route("/items/{id}", get_item),
    Route("/echo", echo, methods=["GET", "POST"]),
    Route("/private", private),
    Route("/slow", slow),
    Route("/text", text),
])
