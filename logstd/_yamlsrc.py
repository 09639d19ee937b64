"""YAML loading that remembers where things are, so errors can name file:line.

Shared by the key dictionary and the black-box collections (each passes its own error class).
"""

from __future__ import annotations

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
