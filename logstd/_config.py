"""Layered settings: flags > LOGSTD_* environment > [tool.logstd] in pyproject.toml."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from logstd.errors import ConfigError


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest pyproject.toml from ``start`` (default: cwd) upwards."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def tool_section(pyproject: Path | None, tool: str = "logstd") -> dict[str, Any]:
    """``[tool.<tool>]`` of a pyproject file, {} when there is none."""
    if pyproject is None:
        return {}
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        # tomllib's message ends with "(at line N, column M)"
        raise ConfigError(f"{pyproject}: malformed TOML: {e}") from e
    except OSError as e:
        raise ConfigError(f"{pyproject}: cannot read: {e.strerror or e}") from e
    section = data.get("tool", {}).get(tool, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{pyproject}: [tool.{tool}] must be a table")
    return section


def overlay_paths(
    explicit: Sequence[str | Path] | None = None,
    env: Mapping[str, str] | None = None,
    start: Path | None = None,
) -> list[Path]:
    """Which overlay files to merge on the base dictionary, by precedence."""
    if explicit:
        return [Path(p) for p in explicit]
    env = os.environ if env is None else env
    from_env = env.get("LOGSTD_DICTIONARY", "").strip()
    if from_env:
        return [Path(p) for p in from_env.split(os.pathsep) if p]
    pyproject = find_pyproject(start)
    section = tool_section(pyproject)
    value = section.get("dictionary", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{pyproject}: [tool.logstd] dictionary must be a list of paths")
    assert pyproject is not None or not value
    return [(pyproject.parent / v) if pyproject else Path(v) for v in value]


def load_configured_dictionary(
    explicit: Sequence[str | Path] | None = None, start: Path | None = None
) -> Any:
    """The dictionary with the overlays the layered configuration names."""
    from logstd._dictionary import load_dictionary

    return load_dictionary(overlay_paths(explicit, start=start))
