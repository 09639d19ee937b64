"""Types of logstd._speedups (logstd/_speedups*.c): logstd's optional C paths.

``Fast``, ``keep_freed_memory`` and ``cri_partials``: pretty's one-pass path
(logstd/_speedups_pretty.c); ``Lint``: lint's text output on logs (logstd/_speedups_lint.c).
"""

from collections.abc import Callable
from typing import Any

class Fast:
    def __init__(
        self,
        *,
        plan: dict[str, str | int],
        values: dict[str, str],
        levels: dict[str, tuple[str, str, str]],
        plan_of: Callable[[str], str | int],
        text: Callable[[str], str],
        format_value: Callable[[Any], str],
        dict_text: Callable[[str, dict[str, Any]], str | None],
        trace_text: Callable[[int, Any], str | None],
        time_text: Callable[[Any], str],
        value_text: Callable[[Any], str],
        message_text: Callable[[Any], str],
        level_parts: Callable[[str], tuple[str, str, str]],
        time_pre: str,
        time_post: str,
        src_pre: str,
        src_post: str,
        prefixes: dict[str, str],
        prefix: Callable[[Any], str],
        trace_pre: str,
        span_pre: str,
        service_pre: str,
        loads: Callable[[bytes], Any],
        general: Callable[[bytes], str | None],
        max_record: int,
        secret: dict[str, bool] | None = None,
        secret_of: Callable[[str], bool] | None = None,
    ) -> None: ...
    def __call__(self, obj: dict[str, Any], /, source: str = "",
                 prefix_time: str | None = None) -> str | None: ...
    def lines(self, lines: list[bytes], /) -> list[str]: ...


def keep_freed_memory() -> bool: ...

def cri_partials(data: bytes | bytearray | memoryview, /) -> bool: ...

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
