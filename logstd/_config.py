"""Layered settings: flags > LOGSTD_* environment > [tool.logstd] in pyproject.toml."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from logstd import _cache
from logstd.errors import ConfigError

# typing is not imported at run time (start-up of the streaming CLIs)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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
        text = pyproject.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{pyproject}: cannot read: {e.strerror or e}") from e
    if tool not in text:
        return {}  # (start-up: most projects' files need no TOML parser here)
    from logstd import _json

    raw = text.encode("utf-8")
    entry = _cache.cache_dir() / f"tool-{tool}-{_cache.checksum(raw)}.json"
    if _cache.enabled():
        try:
            cached = _json.loads(entry.read_bytes())
            if isinstance(cached, dict):
                return cached  # this exact file's section, parsed before
        except (OSError, ValueError):
            pass
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # tomllib's message ends with "(at line N, column M)"
        raise ConfigError(f"{pyproject}: malformed TOML: {e}") from e
    section = data.get("tool", {}).get(tool, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{pyproject}: [tool.{tool}] must be a table")
    if _cache.enabled() and _json_native(section):
        _cache.store(entry, _json.dumps(section))
    return section


def _json_native(value: Any) -> bool:
    """Round-trips through JSON unchanged (TOML dates and times do not)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_native(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_native(v) for v in value)
    return value is None or isinstance(value, str | bool | int | float)


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


# --- logstd lint: [tool.logstd.lint] ---------------------------------------------------------

LINT_KEYS = ("select", "ignore", "per-file-ignores", "print", "exclude")


def key_line(pyproject: Path, table: str, key: str) -> int:
    """Line of ``key = ...`` inside ``[table]`` of a TOML file (1 when not found)."""
    import re

    try:
        lines = pyproject.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 1
    header = re.compile(r"^\s*\[\s*" + re.escape(table).replace(r"\.", r"\s*\.\s*") + r"\s*\]")
    inside = False
    first = 1
    for n, line in enumerate(lines, 1):
        if line.lstrip().startswith("["):
            inside = bool(header.match(line))
            if inside:
                first = n
            continue
        if inside and re.match(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*=", line):
            return n
    return first


def _env_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def lint_settings(
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    print_rule: bool | None = None,
    env: Mapping[str, str] | None = None,
    start: Path | None = None,
) -> Any:
    """The linter's settings: flags > LOGSTD_LINT_* environment > ``[tool.logstd.lint]``.

    Returns a ``logstd._lint.LintSettings``; a malformed section raises ConfigError
    naming the file and line.
    """
    from logstd._lint import LintSettings
    from logstd._lint_rules import PRINT_RULE, default_codes, expand

    env = os.environ if env is None else env
    pyproject = find_pyproject(start)
    section = tool_section(pyproject).get("lint", {})
    table = "tool.logstd.lint"

    def where(key: str) -> str:
        if pyproject is None:
            return f"[{table}] {key}"
        return f"{pyproject}:{key_line(pyproject, table, key)}: [{table}] {key}"

    if not isinstance(section, dict):
        raise ConfigError(f"{where('lint')}: must be a table")
    for key in section:
        if key not in LINT_KEYS:
            import difflib

            close = difflib.get_close_matches(key, LINT_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where(key)}: unknown setting{hint} "
                              f"(known: {', '.join(LINT_KEYS)})")

    def str_list(key: str) -> list[str]:
        value = section.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where(key)}: expected a list of strings, got {value!r}")
        return value

    base = pyproject.parent if pyproject else Path.cwd()
    if select is not None:
        chosen = expand(list(select), "--select")
    elif env.get("LOGSTD_LINT_SELECT"):
        chosen = expand(_env_list(env["LOGSTD_LINT_SELECT"]), "LOGSTD_LINT_SELECT")
    elif "select" in section:
        chosen = expand(str_list("select"), where("select"))
    else:
        chosen = default_codes()
    if ignore is not None:
        ignored = expand(list(ignore), "--ignore")
    elif env.get("LOGSTD_LINT_IGNORE"):
        ignored = expand(_env_list(env["LOGSTD_LINT_IGNORE"]), "LOGSTD_LINT_IGNORE")
    else:
        ignored = expand(str_list("ignore"), where("ignore"))
    if print_rule is None and env.get("LOGSTD_LINT_PRINT"):
        raw = env["LOGSTD_LINT_PRINT"].strip().lower()
        if raw not in ("0", "1", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(f"LOGSTD_LINT_PRINT: expected true or false, got {raw!r}")
        print_rule = raw in ("1", "true", "yes", "on")
    if print_rule is None and "print" in section:
        if not isinstance(section["print"], bool):
            raise ConfigError(f"{where('print')}: expected true or false, "
                              f"got {section['print']!r}")
        print_rule = section["print"]
    if print_rule is False:
        ignored.add(PRINT_RULE)
    pfi = section.get("per-file-ignores", {})
    if not isinstance(pfi, dict):
        raise ConfigError(f"{where('per-file-ignores')}: expected a table of "
                          "glob = [codes]")
    per_file: list[tuple[str, frozenset[str]]] = []
    for glob, codes in pfi.items():
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise ConfigError(f"{where(glob)}: per-file-ignores {glob!r}: expected a list "
                              f"of rule codes, got {codes!r}")
        per_file.append((glob, frozenset(expand(codes, where(glob)))))
    return LintSettings(codes=frozenset(chosen - ignored), per_file_ignores=tuple(per_file),
                        exclude=tuple(str_list("exclude")), root=base)
