"""Keys bound to the current request or task (contextvars).

Each asyncio task and each thread has its own context, so keys bound in one never
leak into another. Bound keys are canonicalised and redacted once, at bind time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from typing import Any

from logstd._plan import current_plan

_bound: ContextVar[dict[str, Any]] = ContextVar("logstd_bound", default={})  # noqa: B039  never mutated


def _prepare(keys: dict[str, Any]) -> dict[str, Any]:
    return current_plan().apply(keys)


def bind(**keys: Any) -> Token[dict[str, Any]]:
    """Add keys to every record written in the current context; returns a token for reset()."""
    return _bound.set({**_bound.get(), **_prepare(keys)})


def unbind(*names: str) -> None:
    """Remove keys (any spelling) from the current context."""
    plan = current_plan()
    drop = {plan.canonical(n) for n in names}
    _bound.set({k: v for k, v in _bound.get().items() if k not in drop})


def reset(token: Token[dict[str, Any]]) -> None:
    """Undo a bind() by the token it returned."""
    _bound.reset(token)


def clear() -> None:
    """Forget every bound key of the current context."""
    _bound.set({})


def bound() -> dict[str, Any]:
    """A copy of the keys bound in the current context."""
    return dict(_bound.get())


@contextlib.contextmanager
def bound_keys(**keys: Any) -> Iterator[None]:
    """``with logstd.bound_keys(customerId=...):`` binds for the block only."""
    token = bind(**keys)
    try:
        yield
    finally:
        _bound.reset(token)


get_bound = _bound.get

# callables returning keys for the current record (e.g. tracing's traceId/spanId), or None
providers: list[Callable[[], dict[str, Any] | None]] = []


def add_context_provider(provider: Callable[[], dict[str, Any] | None]) -> None:
    """Add a callable whose keys go into every record (called once per record; keep it cheap)."""
    if provider not in providers:
        providers.append(provider)


def remove_context_provider(provider: Callable[[], dict[str, Any] | None]) -> None:
    if provider in providers:
        providers.remove(provider)
