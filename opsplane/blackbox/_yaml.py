"""YAML loading that remembers the line of every mapping key and sequence item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from logstd._yamlsrc import LineDict, LineList
from logstd._yamlsrc import load_yaml as _load
from opsplane.blackbox.errors import CollectionError

__all__ = ["LineDict", "LineList", "field_path", "line_of", "load_yaml", "validation_message"]


def load_yaml(path: Path) -> Any:
    """Parse one YAML file; any failure is a one-line CollectionError naming file:line."""
    return _load(path, CollectionError)


def line_of(data: Any, loc: tuple[int | str, ...]) -> int | None:
    """The line of the deepest node of ``loc`` that the loaded data knows about."""
    line: int | None = getattr(data, "line", None)
    node = data
    for part in loc:
        in_dict = isinstance(node, LineDict) and isinstance(part, str) and part in node
        in_list = isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            break
        line = node.lines[part]
        node = node[part]
    return line


def field_path(loc: tuple[int | str, ...]) -> str:
    """``('requests', 2, 'expect', 'status')`` -> ``requests[2].expect.status``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def _clean(loc: Any) -> tuple[int | str, ...]:
    return tuple(p for p in loc
                 if not (isinstance(p, str) and (p.startswith("function-") or "[" in p
                                                 or p in _UNION_TAGS)))


def validation_message(source: str, data: Any, errors: list[dict[str, Any]]) -> str:
    """One line for the most telling pydantic error: ``file:line: field.path: what``.

    An unknown field comes first (a typo explains the "field required" next to it),
    with a "did you mean" taken from the required fields missing beside it.
    """
    import difflib

    ordered = sorted(errors, key=lambda e: e.get("type") != "extra_forbidden")
    err = ordered[0]
    more = len(errors) - 1
    loc = _clean(err.get("loc", ()))
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    kind = err.get("type")
    if kind == "extra_forbidden":
        msg = "unknown field"
        missing = {str(_clean(e["loc"])[-1]): e for e in errors
                   if e.get("type") == "missing" and _clean(e["loc"])[:-1] == loc[:-1]}
        close = difflib.get_close_matches(str(loc[-1]), list(missing), n=1) if loc else []
        if close:
            msg += f" (did you mean {close[0]}?)"
            more -= 1
    elif kind == "missing":
        msg = "field required"
    line = line_of(data, loc)
    where = f"{source}:{line}" if line else source
    tail = f" (and {more} more)" if more > 0 else ""
    return f"{where}: {field_path(loc)}: {msg}{tail}"


# pydantic puts the union member's type name in the location; it is not a field.
_UNION_TAGS = {"int", "str", "list[int]", "list[JsonCheck]", "dict[str,any]", "HeaderCheck",
               "JsonCheck", "FileSecret", "EnvSecret", "bool", "float", "Length"}
