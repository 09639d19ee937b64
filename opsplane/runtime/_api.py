"""JSON errors for HTTP APIs: ``{"error": {"code": ..., "message": ...}}``, never a traceback.

``ApiError`` is raised by handlers (and by ``read_json`` for bad bodies); ``install_handlers``
makes a Starlette app answer every HTTPException, ApiError and unexpected exception in
that shape (the unexpected one as a 500 whose details go only to the log).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import orjson

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError
    from starlette.requests import Request
    from starlette.responses import Response

    M = TypeVar("M", bound=BaseModel)

MAX_BODY = 1 << 20
_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
          405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE", 409: "CONFLICT",
          413: "BODY_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 422: "INVALID_INPUT",
          429: "TOO_MANY_REQUESTS", 500: "INTERNAL", 503: "UNAVAILABLE"}


class ApiError(Exception):
    """An HTTP error answered as JSON: ``raise ApiError(404, "ORDER_NOT_FOUND", "...")``."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None) -> Response:
    from starlette.responses import Response

    return Response(error_body(code, message), status_code=status, headers=headers,
                    media_type="application/json")


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def validation_message(e: ValidationError) -> str:
    """``items[0].quantity: Input should be a valid integer`` (never the input value)."""
    errors = e.errors(include_input=False, include_url=False)
    err = errors[0]
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if err.get("type") == "missing":
        msg = "field required"
    elif err.get("type") == "extra_forbidden":
        msg = "unknown field"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{_field_path(tuple(err.get('loc', ())))}: {msg}{more}"


async def read_json(request: Request, model: type[M]) -> M:
    """The request body validated into ``model``; ApiError 400/413/422 when it is not."""
    from pydantic import ValidationError

    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise ApiError(413, "BODY_TOO_LARGE", f"request body over {MAX_BODY} bytes")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ApiError(413, "BODY_TOO_LARGE", f"request body over {MAX_BODY} bytes")
    if not body.strip():
        raise ApiError(400, "MALFORMED_JSON", "request body is empty; send a JSON object")
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise ApiError(400, "MALFORMED_JSON", f"request body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ApiError(422, "INVALID_BODY", "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ApiError(422, "INVALID_BODY", validation_message(e)) from None


def install_handlers(app: Any) -> None:
    """Make a Starlette app answer errors as JSON (HTTPException, ApiError, anything else)."""
    from starlette.exceptions import HTTPException

    async def http_exc(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        if status == 404:
            message = f"no route for {request.method} {request.url.path[:200]}"
        elif status == 405:
            message = f"{request.method} is not allowed on {request.url.path[:200]}"
        else:
            message = str(exc.detail)
        return error_response(status, _CODES.get(status, f"HTTP_{status}"), message,
                              dict(exc.headers) if exc.headers else None)

    async def api_exc(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    async def unexpected(request: Request, exc: Exception) -> Response:
        return error_response(500, "INTERNAL", "internal error; see the service log "
                              "for this requestId")

    app.add_exception_handler(HTTPException, http_exc)
    app.add_exception_handler(ApiError, api_exc)
    app.add_exception_handler(Exception, unexpected)
