"""The one human renderer: local logging mode and ``logstd pretty`` both print through it.

A record becomes one line -- time, level, source, message, then key=value -- and any
multi-line value (a stack trace) is indented under it::

    20:52:45.123 INFO  orders  order created  customerId=C-1001 httpStatus=201
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from logstd import _json

# typing is not imported at run time (start-up of the streaming CLIs)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

RESET = "\x1b[0m"
DIM = "\x1b[2m"
BOLD = "\x1b[1m"
CYAN = "\x1b[36m"
MAGENTA = "\x1b[35m"

# canonical label and colour for every level spelling the producers use
_LEVELS: dict[str, tuple[str, str]] = {}
for _names, _label, _color in (
    (("trace", "finest", "verbose", "10"), "TRACE", "\x1b[90m"),
    (("debug", "fine", "finer", "config", "20"), "DEBUG", "\x1b[34m"),
    (("info", "information", "informational", "notice", "default", "30"), "INFO ", "\x1b[32m"),
    (("warn", "warning", "40"), "WARN ", "\x1b[33m"),
    (("error", "err", "severe", "50"), "ERROR", "\x1b[31m"),
    (("critical", "fatal", "panic", "dpanic", "alert", "emergency", "emerg", "crit", "60"),
     "FATAL", "\x1b[1;31m"),
):
    for _n in _names:
        _LEVELS[_n] = (_label, _color)

LEVEL_RANK = {"TRACE": 0, "DEBUG": 1, "INFO ": 2, "WARN ": 3, "ERROR": 4, "FATAL": 5}


def level_label(level: str) -> tuple[str, str]:
    """(five-character label, ANSI colour) of any producer's level spelling."""
    hit = _LEVELS.get(level)
    if hit is None:
        hit = _LEVELS.get(level.strip().lower())
        if hit is None:
            label = (level.strip().upper() or "-")[:5].ljust(5)
            hit = (label, "")
    return hit


def want_color(stream: IO[Any] | None, choice: str | bool | None = "auto") -> bool:
    """Resolve --color auto|always|never with NO_COLOR and FORCE_COLOR (no-color.org)."""
    if choice is True or choice == "always":
        return True
    if choice is False or choice == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed stream
        return False


def _needs_quotes(s: str) -> bool:
    return not s or " " in s or "=" in s or '"' in s or "\t" in s or not s.isprintable()


def format_value(value: Any) -> str:
    """A value as it appears after ``key=``: bare when unambiguous, JSON-quoted otherwise."""
    t = type(value)
    if t is str:
        return _json.dumps(value).decode() if _needs_quotes(value) else value
    if t is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if t is int or t is float:
        return repr(value)
    try:
        return _json.dumps(value, default=repr).decode()
    except TypeError:
        return repr(value)


def flatten(prefix: str, value: Any, out: list[tuple[str, Any]], depth: int = 0) -> None:
    """Nested objects shown compactly: {"http": {"status": 200}} -> http.status=200."""
    if type(value) is dict and value and depth < 8:
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else str(k), v, out, depth + 1)
    else:
        out.append((prefix, value))


_CACHE_LIMIT = 8192


class Renderer:
    """Renders normalised records as lines; colour decided once, at construction."""

    def __init__(self, color: bool = False, *, indent: str = "    ") -> None:
        self.color = color
        self.indent = indent
        # per-instance memo of "key=" prefixes and of formatted string values (bounded)
        self.prefixes: dict[str, str] = {}
        self.values: dict[str, str] = {}
        # level spelling -> (label as shown, text before and after the message)
        self.levels: dict[str, tuple[str, str, str]] = {}
        self.time_pre, self.time_post = (DIM, RESET) if color else ("", "")
        self.src_pre, self.src_post = (CYAN, RESET) if color else ("", "")

    def _prefix(self, k: Any) -> str:
        pre = f"{DIM}{k}={RESET}" if self.color else f"{k}="
        if type(k) is str and len(self.prefixes) < _CACHE_LIMIT:
            self.prefixes[k] = pre
        return pre

    def level_parts(self, level: str) -> tuple[str, str, str]:
        """The label shown for ``level`` and what goes around a message (bold for warnings)."""
        if level:
            hit = _LEVELS.get(level)
            label, lcolor = hit if hit is not None else level_label(level)
        else:
            label, lcolor = "     ", ""
        if not self.color:
            parts = (label, "", "")
        else:
            bold = label in ("ERROR", "FATAL", "WARN ")
            parts = (f"{lcolor}{label}{RESET}" if lcolor else label,
                     BOLD if bold else "", RESET if bold else "")
        if len(self.levels) < _CACHE_LIMIT:
            self.levels[level] = parts
        return parts

    def prefix(self, k: Any) -> str:
        """``key=`` as shown (dimmed in colour), memoised."""
        return self.prefixes.get(k) or self._prefix(k)

    def text(self, v: str) -> str:
        """A one-line string value as shown after ``key=``, memoised."""
        val = self.values.get(v)
        if val is None:
            val = _json.dumps(v).decode() if _needs_quotes(v) else v
            if len(self.values) < _CACHE_LIMIT:
                self.values[v] = val
        return val

    def render(
        self,
        time: str,
        level: str,
        source: str,
        message: str,
        fields: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
    ) -> str:
        inline, blocks = self.fields(fields)
        return self.assemble(time, level, source, message, inline, blocks)

    def fields(
        self, fields: Mapping[str, Any] | Iterable[tuple[str, Any]],
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """The ``key=value`` texts of one record's fields, and its multi-line values."""
        items: Iterable[tuple[Any, Any]]
        if type(fields) is list:
            items = fields
        else:
            items = fields.items() if isinstance(fields, Mapping) else fields
        inline: list[str] = []
        blocks: list[tuple[str, str]] = []
        prefixes = self.prefixes
        values = self.values
        for k, v in items:
            t = type(v)
            if t is str:
                if "\n" in v:
                    blocks.append((k, v))
                    continue
                val = values.get(v)
                if val is None:
                    val = self.text(v)
            elif t is dict:
                pairs: list[tuple[str, Any]] = []
                flatten(k, v, pairs)
                for k2, v2 in pairs:
                    if type(v2) is str and "\n" in v2:
                        blocks.append((k2, v2))
                        continue
                    inline.append((prefixes.get(k2) or self._prefix(k2)) + format_value(v2))
                continue
            elif t is float or t is int:
                val = repr(v)
            else:
                val = format_value(v)
            inline.append((prefixes.get(k) or self._prefix(k)) + val)
        return inline, blocks

    def assemble(  # noqa: PLR0917 - the parts of one line, in the order shown
        self,
        time: str,
        level: str,
        source: str,
        message: str,
        inline: list[str],
        blocks: list[tuple[str, str]],
    ) -> str:
        """One line from its parts: head, ``key=value`` texts, then indented blocks."""
        label, msg_pre, msg_post = self.levels.get(level) or self.level_parts(level)
        if "\n" in message:
            first, _, rest = message.partition("\n")
            message = first
            blocks.insert(0, ("", rest))
        line = f"{self.time_pre}{time}{self.time_post} {label}" if time else label
        if source:
            line += f" {self.src_pre}{source}{self.src_post}"
        if message:
            line += f"  {msg_pre}{message}{msg_post}"
        if inline:
            line += "  " + " ".join(inline)
        if blocks:
            parts = [line]
            for k, text in blocks:
                if k:
                    parts.append(f"{self.indent}{self.time_pre}{k}:{self.time_post}")
                pad = self.indent * (2 if k else 1)
                for text_line in text.rstrip("\n").split("\n"):
                    parts.append(f"{pad}{text_line}")
            line = "\n".join(parts)
        return line
