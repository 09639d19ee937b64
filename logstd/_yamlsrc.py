"""YAML loading that remembers where things are, so errors can name file:line.

Shared by the key dictionary and the black-box collections (each passes its own error class).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from logstd.errors import DictionaryError


class LineDict(dict[str, Any]):
    """A mapping that knows the 1-based line of each of its keys."""

    lines: dict[str, int]
    line: int


class LineList(list[Any]):
    """A sequence that knows the 1-based line of itself and of each item."""

    lines: list[int]
    line: int


class _Loader(yaml.SafeLoader):
    error: type[Exception] = DictionaryError


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    data = LineDict()
    data.lines = {}
    data.line = node.start_mark.line + 1
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            key = str(key)
        if key in data:
            raise loader.error(
                f"{loader.name}:{line}: duplicate key {key!r} (first at line {data.lines[key]})"
            )
        data[key] = loader.construct_object(value_node, deep=True)
        data.lines[key] = line
    return data


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    data = LineList(loader.construct_object(n, deep=True) for n in node.value)
    data.lines = [n.start_mark.line + 1 for n in node.value]
    data.line = node.start_mark.line + 1
    return data


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def load_yaml(path: Path, error: type[Exception] = DictionaryError) -> Any:
    """Parse one YAML file; any failure becomes a one-line ``error`` naming file:line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise error(f"{path}: cannot read: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise error(f"{path}: not UTF-8 text ({e.reason})") from e
    loader = _Loader(text)
    loader.name = str(path)
    loader.error = error
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark else ""
        what = (e.problem or e.context or "malformed YAML").strip()
        raise error(f"{path}{line}: YAML syntax error: {what}") from e
    except yaml.YAMLError as e:
        raise error(f"{path}: YAML error: {e}") from e
    finally:
        loader.dispose()


# ------------------------------------------------- where a loaded node came from, in messages

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


def first_repeat(names: Iterable[str]) -> str | None:
    """The first name that stands twice in ``names`` (lists of named entries in a file)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None
