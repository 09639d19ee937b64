"""``logstd.configure``: one call gives a service JSON in the cluster, a narrative locally."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Literal

from logstd._dictionary import Dictionary
from logstd._formatters import JsonFormatter, LocalFormatter
from logstd._plan import KeyPlan, loaded_plan, set_plan
from logstd._render import want_color
from logstd.errors import ConfigError

Mode = Literal["auto", "json", "local"]
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access",
                  "gunicorn", "gunicorn.error", "gunicorn.access")



class Handler(logging.Handler):
    """Writes each formatted record in one write to a stream (bytes when it can)."""

    def __init__(self, stream: IO[Any], formatter: JsonFormatter | LocalFormatter) -> None:
        super().__init__()
        self.stream = stream
        self.setFormatter(formatter)
        self._format = formatter.format_bytes
        self._text_flush: Callable[[], None] | None = None
        self._write: Callable[[bytes], object]
        self._flush: Callable[[], None]
        buffer = getattr(stream, "buffer", None)
        if buffer is not None and hasattr(buffer, "write"):
            # a text stream over a binary buffer: flush pending text, then write bytes
            self._text_flush = stream.flush
            self._write = buffer.write
            self._flush = buffer.flush
        elif _is_binary(stream):
            self._write = stream.write
            self._flush = stream.flush
        else:
            self._write = lambda b: stream.write(b.decode("utf-8", "backslashreplace"))
            self._flush = getattr(stream, "flush", lambda: None)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = self._format(record)
            with self.lock:  # type: ignore[union-attr,unused-ignore]
                if self._text_flush is not None:
                    self._text_flush()
                self._write(data)
                self._flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def handle(self, record: logging.LogRecord) -> bool:
        # no per-record lock around formatting: format outside, write under the lock
        if self.filters and not self.filter(record):
            return False
        self.emit(record)
        return True


def _is_binary(stream: Any) -> bool:
    import io

    return isinstance(stream, io.BufferedIOBase | io.RawIOBase) or "b" in getattr(stream,
                                                                                 "mode", "")


class _UvicornAccessKeys(logging.Filter):
    """Turns uvicorn's access-log positional args into dictionary keys."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, path, _version, status = args
            record.clientIp = str(client).rsplit(":", 1)[0]
            record.httpMethod = method
            record.httpPath = str(path).split("?", 1)[0]
            record.httpStatus = status
        return True


_ACCESS_FILTER = _UvicornAccessKeys()
_unknown_seen: set[str] = set()


def _report_unknown(stderr: IO[str]) -> Any:
    def report(name: str) -> None:
        if name in _unknown_seen:
            return
        _unknown_seen.add(name)
        hint = ""
        plan = loaded_plan()
        if plan is not None:
            guesses = plan.dictionary.suggest(name)
            if guesses:
                hint = f" (did you mean {guesses[0]}?)"
        with contextlib.suppress(OSError, ValueError):
            stderr.write(f"logstd: unknown log key {name!r}{hint}; add it to a dictionary "
                         "overlay or use a dictionary key\n")

    return report


def _setting(name: str, value: Any, default: Any) -> Any:
    if value is not None:
        return value
    env = os.environ.get(f"LOGSTD_{name.upper()}")
    if env:
        return env
    return default


def configure(
    service: str | None = None,
    mode: Mode = "auto",
    level: int | str | None = None,
    stream: IO[Any] | None = None,
    *,
    version: str | None = None,
    environment: str | None = None,
    dictionary: Dictionary | Sequence[str | Path] | None = None,
    color: bool | None = None,
) -> None:
    """Set up stdlib logging for the whole process. Calling it again replaces the setup.

    service/level/mode fall back to LOGSTD_SERVICE (or OTEL_SERVICE_NAME), LOGSTD_LEVEL,
    LOGSTD_MODE, then ``[tool.logstd]`` in pyproject.toml. ``mode="auto"`` is local when
    the stream is a terminal. Aliases are rewritten, sensitive values redacted.
    """
    from logstd._config import find_pyproject, overlay_paths, tool_section

    section: dict[str, Any] = {}
    try:
        section = tool_section(find_pyproject())
    except ConfigError:
        section = {}
    stream = sys.stdout if stream is None else stream
    service = (service or os.environ.get("LOGSTD_SERVICE") or os.environ.get("OTEL_SERVICE_NAME")
               or section.get("service") or "app")
    level = _setting("level", level, section.get("level", "INFO"))
    if isinstance(level, str):
        name = level.upper()
        resolved = logging.getLevelName(name)
        if not isinstance(resolved, int):
            raise ConfigError(f"unknown log level {level!r} (use debug, info, warning, error)")
        level = resolved
    chosen = mode if mode != "auto" else (os.environ.get("LOGSTD_MODE") or
                                          section.get("mode") or "auto")
    if chosen not in ("auto", "json", "local"):
        raise ConfigError(f"unknown logstd mode {chosen!r} (use json, local or auto)")
    if chosen == "auto":
        isatty = getattr(stream, "isatty", None)
        chosen = "local" if isatty is not None and isatty() else "json"
    if isinstance(dictionary, Dictionary):
        dict_obj = dictionary
    else:
        from logstd._dictionary import load_dictionary

        dict_obj = load_dictionary(overlay_paths(dictionary))
    static = {}
    version = version or os.environ.get("LOGSTD_VERSION") or os.environ.get("SERVICE_VERSION")
    environment = environment or os.environ.get("LOGSTD_ENVIRONMENT")
    if version:
        static["version"] = version
    if environment:
        static["environment"] = environment
    formatter: JsonFormatter | LocalFormatter
    if chosen == "local":
        plan = KeyPlan(dict_obj, on_unknown=_report_unknown(sys.stderr))
        use_color = want_color(stream) if color is None else color
        formatter = LocalFormatter(plan, service, color=use_color, static=static)
    else:
        plan = KeyPlan(dict_obj)
        formatter = JsonFormatter(plan, service, static=static)
    set_plan(plan)
    handler = Handler(stream, formatter)
    handler._logstd = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_logstd", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in SERVER_LOGGERS:
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
        lg.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")
    if _ACCESS_FILTER not in access.filters:
        access.addFilter(_ACCESS_FILTER)
    logging.captureWarnings(True)


def reset() -> None:
    """Undo configure(): remove logstd's handlers and forget the dictionary (for tests)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_logstd", False)]:
        root.removeHandler(old)
    root.setLevel(logging.WARNING)
    logging.captureWarnings(False)
    set_plan(None)
    _unknown_seen.clear()
    from logstd._context import clear

    clear()
