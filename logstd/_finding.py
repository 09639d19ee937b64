"""One finding of ``logstd lint``: where, which rule, what (shared by every lint module)."""

from __future__ import annotations

from typing import NamedTuple


class Finding(NamedTuple):
    path: str
    line: int
    col: int
    code: str
    message: str
    key: str | None = None
