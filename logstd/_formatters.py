"""stdlib logging formatters: one JSON object per line, or the local human line.

Both build the record the same way (``RecordBuilder``): the fixed head keys, the keys
bound with ``logstd.bind``, then the record's ``extra=`` keys through the KeyPlan
(aliases rewritten, sensitive values masked or dropped at any depth), then the
exception as errorType / errorMessage / stackTrace.
"""

from __future__ import annotations

import json
import logging
import time
from itertools import islice
from typing import Any

import orjson
from pythonjsonlogger.orjson import OrjsonFormatter

from logstd._context import get_bound, providers
from logstd._plan import KEEP, SCALARS, KeyPlan
from logstd._render import Renderer

_DUMMY = logging.LogRecord("x", logging.INFO, "x", 1, "x", None, None)
# uvicorn passes color_message (its terminal-coloured copy of msg) in extra: never a log key
RESERVED = frozenset(_DUMMY.__dict__) | {"message", "asctime", "taskName", "color_message"}
_N_STD = len(_DUMMY.__dict__)
_OPTS = orjson.OPT_NON_STR_KEYS
LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning",
          logging.ERROR: "error", logging.CRITICAL: "critical", 5: "trace"}


def _repr(obj: Any) -> str:
    try:
        return repr(obj)
    except Exception:
        return f"<unrepresentable {type(obj).__name__}>"


def _message(record: logging.LogRecord) -> str:
    msg = record.msg
    if not record.args and type(msg) is str:
        return msg
    try:
        return record.getMessage()
    except Exception:
        return f"{_repr(record.msg)} % {_repr(record.args)}"


class RecordBuilder:
    """Turns a LogRecord into the ordered dict both output modes write."""

    def __init__(self, plan: KeyPlan, service: str, static: dict[str, Any] | None = None) -> None:
        self.plan = plan
        self.service = service
        self.static = plan.apply(static or {})
        self._sec = -1
        self._ms = -1
        self._prefix = ""
        self._ts = ""
        # spelling -> canonical name for keys written as they are (no redaction, not reserved)
        self._fast = {k: c for k, (c, action) in plan.plan.items()
                      if action == KEEP and k not in RESERVED}

    def timestamp(self, record: logging.LogRecord) -> str:
        sec = int(record.created)
        ms = int(record.msecs)
        if sec == self._sec and ms == self._ms:
            return self._ts  # records written within the same millisecond
        if sec != self._sec:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            self._sec = sec
        self._ms = ms
        self._ts = ts = f"{self._prefix}.{ms:03d}Z"
        return ts

    def build(self, record: logging.LogRecord, exc_formatter: logging.Formatter) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self.fill(out, record, exc_formatter)
        return out

    def fill(self, out: dict[str, Any], record: logging.LogRecord,
             exc_formatter: logging.Formatter, message: str | None = None) -> None:
        """Put the record's keys into ``out`` (empty): the head keys in their order, the
        static and bound keys, the ``extra=`` keys through the plan, then the error keys.
        ``message``: the record's message when the caller has it already."""
        out["timestamp"] = self.timestamp(record)
        out["level"] = LEVELS.get(record.levelno) or str(record.levelname).lower()
        out["message"] = _message(record) if message is None else message
        out["service"] = self.service
        if self.static:
            out.update(self.static)
        out["logger"] = record.name
        bound = get_bound()
        if bound:
            out.update(bound)
        if providers:
            for provider in providers:
                try:
                    keys = provider()
                except Exception:
                    keys = None
                if keys:
                    out.update(keys)
        d = record.__dict__
        if len(d) > _N_STD:
            fast = self._fast
            for k, v in islice(d.items(), _N_STD, None):
                c = fast.get(k)
                if c is not None and type(v) in SCALARS:
                    out[c] = v  # the hot path: a known key with a plain value
                elif k not in RESERVED:
                    self._slow(out, k, v)
        if record.exc_info or record.exc_text or record.stack_info:
            self._error(out, record, exc_formatter)

    def _slow(self, out: dict[str, Any], name: str, value: Any) -> None:
        """Unknown, sensitive or container values: through the plan (which learns new keys)."""
        plan = self.plan
        plan.put(out, name, value)
        hit = plan.plan.get(name)
        if hit is not None and hit[1] == KEEP and len(self._fast) < 8192:
            self._fast[name] = hit[0]

    def _error(self, out: dict[str, Any], record: logging.LogRecord,
               fmt: logging.Formatter) -> None:
        ei = record.exc_info
        if ei and ei[0] is not None:
            out["errorType"] = ei[0].__name__
            try:
                out["errorMessage"] = str(ei[1])
            except Exception:
                out["errorMessage"] = _repr(ei[1])
            if not record.exc_text:
                record.exc_text = fmt.formatException(ei)
        trace = record.exc_text or ""
        if record.stack_info:
            trace = f"{trace}\n{fmt.formatStack(record.stack_info)}" if trace else \
                fmt.formatStack(record.stack_info)
        if trace:
            out["stackTrace"] = trace


def _sanitize(value: Any, depth: int = 0) -> Any:
    """Make anything JSON-serialisable (the slow path after orjson refused a record)."""
    if isinstance(value, str | bool | float) or value is None:
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    if depth > 32:
        return "[TOO DEEP]"
    if isinstance(value, dict):
        return {k if isinstance(k, str) else _repr(k): _sanitize(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_sanitize(v, depth + 1) for v in value]
    return _repr(value)


class JsonFormatter(OrjsonFormatter):
    """One JSON object per line: python-json-logger's ``OrjsonFormatter``, through its hooks.

    The library's ``format`` runs as it is: the message, the exception and stack texts, then
    ``add_fields``, ``process_log_record`` and ``jsonify_log_record`` (orjson, with
    ``json_default`` for values it cannot encode). logstd fills the record in ``add_fields``:
    the head keys in logstd's order, static and bound keys, ``extra=`` keys rewritten to the
    dictionary's names with sensitive values masked or dropped at any depth (the KeyPlan),
    and the error keys.

    ``format_bytes`` (what logstd's handler and ``capture_logs`` call) never raises: where the
    library's path raises (a message whose arguments do not fit its format, a value orjson
    refuses even with ``json_default``: an integer over 64 bits, a key that is not a string)
    it writes the same record with those values as text.
    """

    def __init__(self, plan: KeyPlan, service: str = "app",
                 static: dict[str, Any] | None = None) -> None:
        super().__init__(json_default=_repr)
        self.builder = RecordBuilder(plan, service, static)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        # the library formatted the exception already (message_dict["exc_info"]): cache it
        # on the record, as logging.Formatter does, so that it is not formatted twice
        if record.exc_info and not record.exc_text:
            text = message_dict.get("exc_info")
            if isinstance(text, str):
                record.exc_text = text
        # a text message: the library has set record.message (getMessage); a dict message
        # is written as its text, as logstd always did
        self.builder.fill(log_data, record, self,
                          record.message if type(record.msg) is str else None)

    def format_bytes(self, record: logging.LogRecord) -> bytes:
        try:
            line = self.format(record)
        except Exception:
            line = self._safe(record)
        return (line + "\n").encode("utf-8", "backslashreplace")

    def _safe(self, record: logging.LogRecord) -> str:
        """The line when the library's path raised: the record again (with a message whose
        arguments do not fit shown as ``msg % args``), serialised without refusing."""
        try:
            out = self.builder.build(record, self)
        except Exception as e:
            out = {"timestamp": self.builder.timestamp(record), "level": "error",
                   "message": _repr(record.msg), "service": self.builder.service,
                   "logger": record.name, "errorType": type(e).__name__,
                   "errorMessage": f"logstd could not build this record: {e}"}
        try:
            return orjson.dumps(out, default=_repr, option=_OPTS).decode()
        except Exception:
            return json.dumps(_sanitize(out), ensure_ascii=False, separators=(",", ":"))


class LocalFormatter(logging.Formatter):
    """The positional, coloured line for a developer's terminal."""

    def __init__(self, plan: KeyPlan, service: str = "app", color: bool = False,
                 static: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.builder = RecordBuilder(plan, service, static)
        self.renderer = Renderer(color=color)

    def format(self, record: logging.LogRecord) -> str:
        try:
            out = self.builder.build(record, self)
        except Exception as e:
            return f"logstd could not build a record from {record.name}: {e}"
        ts = out.pop("timestamp")
        level = out.pop("level")
        message = out.pop("message")
        service = out.pop("service")
        out.pop("logger", None)
        for k in self.builder.static:
            out.pop(k, None)
        if message is None:
            message = ""
        return self.renderer.render(ts[11:23], level, str(service), str(message), out)

    def format_bytes(self, record: logging.LogRecord) -> bytes:
        return (self.format(record) + "\n").encode("utf-8", "backslashreplace")
