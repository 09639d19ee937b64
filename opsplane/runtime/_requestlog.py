"""The request summary record and request ids.

One record per request (logger ``opsplane.access``) with the dictionary keys httpMethod,
httpRoute, httpPath, httpStatus, durationMs, requestId, clientIp, userAgent, plus every
key the handler bound with ``logstd.bind`` (the formatter adds the bound keys).

The record is built from a template LogRecord instead of ``Logger.log`` (no caller
lookup, no per-record pid/thread/process queries): this is the hot path of every request.
"""

from __future__ import annotations

import logging
import os
import re
import time
from contextvars import ContextVar
from typing import Any

log = logging.getLogger("opsplane.access")
_VALID_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
                     "CONNECT"})
_LEVEL_NAMES = {logging.INFO: "INFO", logging.WARNING: "WARNING", logging.ERROR: "ERROR"}


# the current request's id; a logstd context provider puts it into every record written
# while the request is handled (cheaper than logstd.bind on every request)
current_request_id: ContextVar[str | None] = ContextVar("opsplane_request_id", default=None)


def request_id_keys() -> dict[str, Any] | None:
    rid = current_request_id.get()
    return {"requestId": rid} if rid is not None else None


def request_id(incoming: bytes | None) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new random one."""
    if incoming:
        text = incoming.decode("latin-1")
        if _VALID_ID.fullmatch(text):
            return text
    return os.urandom(16).hex()


def level_for(status: int) -> int:
    if status >= 500:
        return logging.ERROR
    if status >= 400:
        return logging.WARNING
    return logging.INFO


_template: dict[str, Any] | None = None
_start = 0.0  # logging's start time (set with the template)


def _forget_template() -> None:
    global _template
    _template = None


os.register_at_fork(after_in_child=_forget_template)


def _base() -> dict[str, Any]:
    """A LogRecord's standard attributes for this process (thread fields of the first caller:
    the event loop's thread, where requests are handled)."""
    global _template, _start
    if _template is None:
        rec = logging.LogRecord(log.name, logging.INFO, __file__, 0, "", None, None, "emit")
        _template = dict(rec.__dict__)
        # logging's start time, read through the record's public fields
        _start = rec.created - rec.relativeCreated / 1000
    return _template


def emit(method: str, route: str | None, path: str, *, status: int, duration_s: float,
         client: Any, user_agent: str | None, exc: BaseException | None = None) -> None:
    level = level_for(status)
    if not log.isEnabledFor(level):
        return
    record = logging.LogRecord.__new__(logging.LogRecord)
    d = record.__dict__
    d.update(_base())
    now = time.time()
    d["created"] = now
    d["msecs"] = (now - int(now)) * 1000
    d["relativeCreated"] = (now - _start) * 1000
    d["levelno"] = level
    d["levelname"] = _LEVEL_NAMES[level]
    d["msg"] = f"{method} {route or path} {status}"
    # extra keys come after the standard attributes (the formatter relies on that order)
    d["event"] = "http.request"
    d["httpMethod"] = method
    d["httpPath"] = path
    d["httpStatus"] = status
    d["durationMs"] = round(duration_s * 1000, 3)
    if route:
        d["httpRoute"] = route
    if client:
        d["clientIp"] = client[0]
    if user_agent:
        d["userAgent"] = user_agent
    if exc is not None:
        d["exc_info"] = (type(exc), exc, exc.__traceback__)
    log.handle(record)
