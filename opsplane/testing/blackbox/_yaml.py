"""YAML loading that remembers the line of every mapping key and sequence item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from logstd._yamlsrc import LineDict, LineList, field_path, line_of, validation_message
from logstd._yamlsrc import load_yaml as _load
from opsplane.testing.blackbox.errors import CollectionError

__all__ = ["LineDict", "LineList", "field_path", "line_of", "load_yaml", "validation_message"]


def load_yaml(path: Path) -> Any:
    """Parse one YAML file; any failure is a one-line CollectionError naming file:line."""
    return _load(path, CollectionError)
