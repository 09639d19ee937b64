"""Faults injected on purpose, for ``opsplane alerts drill`` only.

Off unless ``OPSPLANE_DRILL_FAULTS`` names a JSON file; then every request (not probes nor
/metrics: the kit serves those before the app) reads the file's current faults (re-read at
most every 0.2 s) and the n-th request since the faults were switched on is:

    {"error_every": 5, "slow_every": 25, "slow_ms": 500}

- delayed ``slow_ms`` when ``n % slow_every == 0``;
- answered 500 ``DRILL_FAULT`` when ``n % error_every == 1`` (or every request when 1).

Deterministic ratios, so an alert drill can aim between two burn-rate thresholds. The
response goes through the kit's measuring layer like any other: metrics, logs and alerts see
it as the app's own.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

ENV = "OPSPLANE_DRILL_FAULTS"
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
_BODY = b'{"error": {"code": "DRILL_FAULT", "message": "fault injected by the alert drill"}}'


class Faults:
    """The ASGI wrapper (made only when the variable is set)."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = Path(path)
        self.read_at = 0.0
        self.current: dict[str, Any] = {}
        self.n = 0

    def _faults(self) -> dict[str, Any]:
        now = time.monotonic()
        if now - self.read_at >= 0.2:
            self.read_at = now
            try:
                data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                data = {}
            data = data if isinstance(data, dict) else {}
            if data != self.current:
                self.current, self.n = data, 0
        return self.current

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        f = self._faults() if scope["type"] == "http" else {}
        if not f:
            await self.app(scope, receive, send)
            return
        self.n += 1
        n = self.n
        slow_every = int(f.get("slow_every") or 0)
        if slow_every and n % slow_every == 0:
            await asyncio.sleep(float(f.get("slow_ms", 0)) / 1000)
        error_every = int(f.get("error_every") or 0)
        if error_every and (error_every == 1 or n % error_every == 1):
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(_BODY)).encode())]})
            await send({"type": "http.response.body", "body": _BODY})
            return
        await self.app(scope, receive, send)


def wrap(app: ASGIApp) -> ASGIApp:
    """``app`` itself, or wrapped in :class:`Faults` when ``OPSPLANE_DRILL_FAULTS`` is set."""
    path = os.environ.get(ENV)
    return Faults(app, path) if path else app
