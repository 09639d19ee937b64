#!/usr/bin/env python3
"""pip constraints pinning every dependency to the lowest version pyproject.toml allows.

    python3 scripts/lowest-constraints.py > /tmp/lowest.txt
    pip install -c /tmp/lowest.txt -e '.[dev]'

Reads the core ``dependencies`` and the extras that ``dev`` installs (``dev`` itself, and
the ``opsplane[...]`` extras it names, followed recursively: ``tools``, ``canary``, ...).
Each requirement's lower bound (``>=X``, ``~=X`` or ``==X``) becomes ``name==X``; its
environment marker is kept. Only direct dependencies are pinned (their own dependencies
resolve as usual), which is what "the lowest supported versions" promises users.
CI's ``lowest`` job and ``make test-lowest`` use it; the standard library only, so it runs
before anything is installed.

Exit codes: 0 ok; 2 usage or bad input (a missing pyproject, a requirement without a
lower bound, an extra that does not exist), one line on stderr.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# name, [extras], specifiers, ; marker
_REQ = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?"
                  r"\s*(?P<spec>[^;]*?)\s*(?:;\s*(?P<marker>.+?))?\s*$")
_LOWER = re.compile(r"^(>=|~=|===|==)\s*(\S+)$")


class BadInput(Exception):
    """One line naming the file and the field."""


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lower_bound(req: str, where: str) -> tuple[str, str, str | None, list[str]]:
    """(name, lowest version, marker, extras) of one requirement string."""
    m = _REQ.match(req)
    if m is None:
        raise BadInput(f"{where}: cannot read requirement {req!r}")
    extras = [e.strip() for e in (m["extras"] or "").split(",") if e.strip()]
    lows = []
    for part in filter(None, (p.strip() for p in m["spec"].split(","))):
        bound = _LOWER.match(part)
        if bound is not None:
            lows.append(bound[2])
    if len(lows) != 1:
        raise BadInput(f"{where}: {req!r} needs exactly one lower bound (>=, ~= or ==), "
                       f"found {len(lows)}")
    return m["name"], lows[0].removesuffix(".*"), m["marker"], extras


def constraints(pyproject: Path, start: str = "dev") -> list[str]:
    """The constraint lines, sorted by name."""
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as e:
        raise BadInput(f"{pyproject}: cannot read [project]: {e}") from e
    own = _normalize(project.get("name", ""))
    extras: dict[str, list[str]] = project.get("optional-dependencies", {})
    pins: dict[str, str] = {}

    def add(req: str, where: str) -> None:
        name, low, marker, _ = _lower_bound(req, where)
        line = f"{name}=={low}" + (f" ; {marker}" if marker else "")
        key = _normalize(name)
        if pins.setdefault(key, line) != line:
            raise BadInput(f"{where}: {name} has two lower bounds: {pins[key]!r} and {line!r}")

    for req in project.get("dependencies", []):
        add(req, f"{pyproject}: project.dependencies")
    todo, seen = [start], set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        if extra not in extras:
            raise BadInput(f"{pyproject}: project.optional-dependencies.{extra}: no such extra")
        where = f"{pyproject}: project.optional-dependencies.{extra}"
        for req in extras[extra]:
            m = _REQ.match(req)
            if m is not None and _normalize(m["name"]) == own:
                todo += [e.strip() for e in (m["extras"] or "").split(",") if e.strip()]
            else:
                add(req, where)
    return [pins[k] for k in sorted(pins)]


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0] in ("-h", "--help")):
        sys.stderr.write("usage: python3 scripts/lowest-constraints.py [PYPROJECT] > FILE\n")
        return 2
    path = Path(argv[0]) if argv else ROOT / "pyproject.toml"
    try:
        lines = constraints(path)
    except BadInput as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    sys.stdout.write("# the lowest versions pyproject.toml allows "
                     "(scripts/lowest-constraints.py)\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
