"""Types of tracing/_idsc.c: tracing's per-request id work in C."""

from contextvars import ContextVar, Token
from typing import Any

class QuickRoot:
    def __init__(self, *, var: ContextVar[Any], key: str, context_class: type,
                 span_class: type, span_context: type, getrandbits: Any, flags: Any,
                 state: Any, skip: tuple[str, ...], propagation: frozenset[bytes]) -> None: ...
    def __call__(self, scope: Any, /) -> Token[Any] | None: ...

def hex_ids(span_context: Any, /) -> dict[str, str] | None: ...
