"""The request summary record and request ids.

One record per request (logger ``opsplane.access``) with the dictionary keys httpMethod,
httpRoute, httpPath, httpStatus, durationMs, requestId, clientIp, userAgent, plus every
key the handler bound with ``logstd.bind`` (the formatter adds the bound keys).
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

log = logging.getLogger("opsplane.access")
_VALID_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
                     "CONNECT"})


def request_id(incoming: bytes | None) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new one."""
    if incoming:
        text = incoming.decode("latin-1")
        if _VALID_ID.fullmatch(text):
            return text
    return uuid.uuid4().hex


def level_for(status: int) -> int:
    if status >= 500:
        return logging.ERROR
    if status >= 400:
        return logging.WARNING
    return logging.INFO


def emit(method: str, route: str | None, path: str, *, status: int, duration_s: float,
         client: Any, user_agent: str | None, exc: BaseException | None = None) -> None:
    level = level_for(status)
    if not log.isEnabledFor(level):
        return
    extra: dict[str, Any] = {"event": "http.request", "httpMethod": method,
                             "httpPath": path, "httpStatus": status,
                             "durationMs": round(duration_s * 1000, 3)}
    if route:
        extra["httpRoute"] = route
    if client:
        extra["clientIp"] = client[0]
    if user_agent:
        extra["userAgent"] = user_agent
    exc_info = None
    if exc is not None:
        exc_info = (type(exc), exc, exc.__traceback__)
    log.log(level, f"{method} {route or path} {status}", extra=extra, exc_info=exc_info)
