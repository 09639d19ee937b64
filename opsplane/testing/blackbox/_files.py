"""The naming convention: ``test.<name>.yaml`` and ``env.<name>.yaml`` in one folder."""

from __future__ import annotations

import re
from pathlib import Path

from opsplane.testing.blackbox.errors import CollectionError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")


def resolve(name: str, kind: str, folder: str | Path = ".") -> Path:
    """``-t smoke`` -> ``<folder>/test.smoke.yaml``; a path to an existing file is used as is."""
    prefix = {"collection": "test", "environment": "env"}[kind]
    given = Path(name)
    if given.suffix in (".yaml", ".yml") or "/" in name:
        if given.is_file():
            return given
        raise CollectionError(f"{kind} file {name} does not exist")
    base = Path(folder)
    for ext in (".yaml", ".yml"):
        p = base / f"{prefix}.{name}{ext}"
        if p.is_file():
            return p
    found = sorted(p.name.split(".")[1] for p in base.glob(f"{prefix}.*.y*ml"))
    have = f"; found: {', '.join(found)}" if found else f"; no {prefix}.*.yaml there"
    raise CollectionError(
        f"no {kind} {name!r} in {base.resolve()} (looked for {prefix}.{name}.yaml{have})")


def parse_duration(text: str) -> float:
    """``60s``, ``500ms``, ``2m``, ``30`` (seconds) -> seconds."""
    m = _DURATION.match(text)
    if not m:
        raise CollectionError(f"--wait {text!r}: give a duration like 60s, 500ms, 2m or 0")
    value = float(m.group(1))
    return value * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[m.group(2)]
