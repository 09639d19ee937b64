"""JSON for the streaming CLIs, without paying orjson's import where it is not needed.

``loads`` is ``logstd._jsonc.loads`` where the extension is built (it accepts and returns
what orjson.loads does; tests/test_jsonc.py holds them together) and orjson's otherwise.
``dumps`` is orjson's, imported on first use: ``logstd pretty`` on a short input never
needs it, and importing orjson costs about half of the command's start-up.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    from logstd._jsonc import JSONDecodeError, loads
except ImportError:  # the extension is optional (no C compiler at install)
    from orjson import JSONDecodeError, loads  # type: ignore[assignment]

__all__ = ["JSONDecodeError", "dumps", "loads"]


def _first_dumps(value: Any, default: Any = None) -> bytes:
    """orjson.dumps(value, default=default), importing orjson; it then puts orjson.dumps
    itself in ``dumps`` (no extra call on the logging path)."""
    global dumps
    import orjson

    dumps = orjson.dumps
    return orjson.dumps(value, default=default)


dumps: Callable[..., bytes] = _first_dumps
