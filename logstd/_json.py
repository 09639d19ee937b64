"""JSON for the streaming CLIs and logstd's caches: orjson's ``loads`` and ``dumps``.

One import point, so that every reader of log lines decodes the same way (orjson accepts
and rejects the same documents everywhere it is called).
"""

from __future__ import annotations

from orjson import JSONDecodeError, dumps, loads

__all__ = ["JSONDecodeError", "dumps", "loads"]
