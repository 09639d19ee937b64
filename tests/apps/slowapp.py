"""A small ASGI app for the shutdown drills (no framework: nothing but the ASGI spec).

    GET /fast                      200 at once
    GET /slow?ms=N                 200 after N ms
    GET /stream?chunks=N&ms=M      200, N chunks M ms apart (chunked transfer)
    GET /hang                      never answers (cut at grace)
    GET /healthz/readiness         200 when started and not draining, else 503 (reads STATE)

Every handled request is logged at its start (event=slowapp.accepted, requestId from
X-Request-ID): the drill's server-side record of "accepted". SLOWAPP_STARTUP_S delays the
lifespan startup; a shutdown hook logs event=slowapp.hook_ran. SLOWAPP_TEARDOWN_S makes the
interpreter's teardown that long (an atexit sleep: a heavy app's module finalisation).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import time
from typing import Any
from urllib.parse import parse_qs

from opsplane.runtime.lifecycle import STATE

log = logging.getLogger("slowapp")
if os.environ.get("SLOWAPP_TEARDOWN_S"):
    atexit.register(time.sleep, float(os.environ["SLOWAPP_TEARDOWN_S"]))


async def _hook() -> None:
    log.info("hook ran", extra={"event": "slowapp.hook_ran"})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await asyncio.sleep(float(os.environ.get("SLOWAPP_STARTUP_S", "0")))
            STATE.on_shutdown(_hook)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _text(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    path = scope["path"]
    query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
    if path == "/healthz/readiness":
        ready = STATE.started and not STATE.draining
        await _text(send, 200 if ready else 503, b"ready" if ready else b"not ready")
        return
    headers = dict(scope.get("headers", ()))
    rid = headers.get(b"x-request-id", b"-").decode()
    log.info("request accepted",
             extra={"event": "slowapp.accepted", "requestId": rid, "httpPath": path})
    if path == "/fast":
        await _text(send, 200, b"fast")
    elif path == "/slow":
        await asyncio.sleep(int(query.get("ms", "1000")) / 1000)
        await _text(send, 200, b"slow")
    elif path == "/stream":
        chunks, ms = int(query.get("chunks", "5")), int(query.get("ms", "200"))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(chunks):
            await send({"type": "http.response.body", "body": f"chunk {i}\n".encode(),
                        "more_body": True})
            await asyncio.sleep(ms / 1000)
        await send({"type": "http.response.body", "body": b"end\n"})
    elif path == "/hang":
        await asyncio.Event().wait()
    else:
        await _text(send, 404, b"not found")
