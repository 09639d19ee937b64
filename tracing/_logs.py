"""traceId and spanId of the active span, for every log record (a logstd context provider)."""

from __future__ import annotations

from typing import Any

_get_current_span: Any = None


def trace_ids() -> dict[str, str] | None:
    global _get_current_span
    if _get_current_span is None:
        from opentelemetry.trace import get_current_span

        _get_current_span = get_current_span
    ctx = _get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return {"traceId": format(ctx.trace_id, "032x"), "spanId": format(ctx.span_id, "016x")}
