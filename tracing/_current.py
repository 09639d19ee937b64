"""The current span, read straight from the runtime context's ContextVar.

``opentelemetry.trace.get_current_span()`` goes through four Python calls (get_value,
get_current, the runtime context, a ContextVar) and an isinstance check against an ABC; a
traced request asks it three times (its own span's parent, the ids of each log record, the
spans of ``tracing.span``). Where the runtime context is the SDK's default
(``ContextVarsRuntimeContext``) this reads its ContextVar and the span key directly: the
same answer (tests/test_tracing_lean.py compares the two). Any other runtime context gets
the API call.
"""

from __future__ import annotations

from typing import Any

_fast: Any = None
# (the runtime ContextVar, the span key, the Context class) when the runtime context is the
# SDK's default; False when it is not; None before the first look
_runtime: Any = None


def _build() -> Any:
    global _fast
    from opentelemetry import context as api_context
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
    from opentelemetry.trace import INVALID_SPAN, Span, get_current_span
    from opentelemetry.trace.propagation import _SPAN_KEY

    global _runtime
    runtime = getattr(api_context, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    if type(runtime) is not ContextVarsRuntimeContext or var is None:
        _fast, _runtime = get_current_span, False
        return _fast
    _runtime = (var, _SPAN_KEY, api_context.Context)
    known: set[type] = set()  # span classes seen to be Spans (isinstance on an ABC is slow)

    def current_span() -> Any:
        span = var.get().get(_SPAN_KEY)
        if span is None:
            return INVALID_SPAN
        t = type(span)
        if t in known:
            return span
        if isinstance(span, Span):
            known.add(t)
            return span
        return INVALID_SPAN

    _fast = current_span
    return _fast


def runtime() -> Any:
    """(the ContextVar holding the current Context, the span's key in it, the Context class)
    where the runtime context is the SDK's default, else None: for callers that attach a
    span themselves (``var.set(Context({**current, key: span}))``, reset by its token)."""
    if _runtime is None:
        _build()
    return _runtime or None


_attach: Any = None


def attacher() -> Any:
    """``(span, base Context or None) -> token``: make ``span`` current in a copy of
    ``base`` (None: the current context), as ``context.attach(trace.set_span_in_context(
    span, base))`` does; ``context.detach(token)`` undoes it. One step where the runtime
    context is the SDK's default."""
    global _attach
    if _attach is not None:
        return _attach
    rt = runtime()
    if rt is None:
        from opentelemetry import context, trace

        def attach_by_the_api(span: Any, base: Any = None) -> Any:
            return context.attach(trace.set_span_in_context(span, base))

        _attach = attach_by_the_api
        return _attach
    var, key, context_class = rt

    def attach(span: Any, base: Any = None) -> Any:
        values = dict(var.get() if base is None else base)
        values[key] = span
        return var.set(context_class(values))

    _attach = attach
    return _attach


_detach: Any = None


def detacher() -> Any:
    """``(token) -> None``: undo an ``attacher()`` attach, as ``context.detach(token)`` does
    (a token that cannot be reset is logged, not raised); one step where the runtime context
    is the SDK's default."""
    global _detach
    if _detach is not None:
        return _detach
    from opentelemetry import context

    rt = runtime()
    if rt is None:
        _detach = context.detach
        return _detach
    var = rt[0]
    reset = var.reset

    def detach(token: Any) -> None:
        try:
            reset(token)
        except Exception:  # what the API does with a token of another context
            context.detach(token)

    _detach = detach
    return _detach


def getter() -> Any:
    """``() -> the span of the current context`` (INVALID_SPAN when there is none); callers
    on the request path keep the function rather than calling through this module."""
    return _fast or _build()
