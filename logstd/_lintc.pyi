"""Types of logstd/_lintc.c: the text output of ``logstd lint`` on logs, in C."""

from collections.abc import Callable
from typing import Any

class Lint:
    def __init__(
        self,
        *,
        plan_of: Callable[[tuple[str, ...]], Any],
        loads: Callable[[bytes], Any],
        decode_error: type[Exception],
        json_start: Callable[[bytes], int],
        templates: dict[str, str | None],
        see_message: Callable[[str, int], None],
        not_json: str,
        not_record: str,
        ls108: bool,
        ls109: bool,
        ls110: bool,
        quick: dict[Callable[[Any], str | None], tuple[Any, Any, Any, tuple[Any, ...]]],
        shape_limit: int,
        memo_limit: int,
    ) -> None: ...
    def text(self, lines: list[bytes], path: str, first: int, /) -> tuple[bytes, int]: ...
