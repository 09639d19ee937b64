"""Helpers for users' tests: see what a service logged, as the aggregator would."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import orjson

from logstd._formatters import JsonFormatter

__all__ = ["capture_logs"]


class _Capture(logging.Handler):
    def __init__(self, formatter: JsonFormatter, sink: list[dict[str, Any]]) -> None:
        super().__init__()
        self._formatter = formatter
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(orjson.loads(self._formatter.format_bytes(record)))


@contextlib.contextmanager
def capture_logs(level: int | str = logging.DEBUG,
                 service: str = "test") -> Iterator[list[dict[str, Any]]]:
    """Collect every record logged inside the block as the dict logstd would write.

    Keys are canonical and redaction has happened, exactly as in JSON mode::

        with capture_logs() as logs:
            handler()
        assert logs[0]["customerId"] == "C-1001"
    """
    from logstd._plan import current_plan

    records: list[dict[str, Any]] = []
    handler = _Capture(JsonFormatter(current_plan(), service), records)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
