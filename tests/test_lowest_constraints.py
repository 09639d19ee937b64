"""scripts/lowest-constraints.py: each direct dependency pinned to its lowest allowed version."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "lowest-constraints.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          check=False, timeout=60)


def _pins(text: str) -> dict[str, str]:
    return dict(line.split("==", 1) for line in text.splitlines() if not line.startswith("#"))


def test_core_and_every_extra_dev_installs_are_pinned_low() -> None:
    r = _run()
    assert (r.returncode, r.stderr) == (0, "")
    pins = _pins(r.stdout)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert pins["starlette"] == project["dependencies"][0].split(">=")[1].split(",")[0]
    # dev -> tools -> canary -> blackbox, postgres: followed to the end, extras dropped
    for name in ("pytest", "locust", "grafana-foundation-sdk", "python-jsonpath", "psycopg"):
        assert name in pins, name
    assert "opsplane" not in pins
    assert list(pins) == sorted(pins, key=str.lower)


@pytest.mark.parametrize(("deps", "field", "why"), [
    ('["foo<2"]', "project.dependencies", "needs exactly one lower bound"),
    ('["foo>=1,<2", "bar>=1,>=2"]', "project.dependencies", "found 2"),
])
def test_bad_bounds_are_one_line_and_exit_2(tmp_path: Path, deps: str, field: str,
                                           why: str) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(f'[project]\nname = "x"\ndependencies = {deps}\n'
                    '[project.optional-dependencies]\ndev = []\n', encoding="utf-8")
    r = _run(str(path))
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"error: {path}: {field}: ")
    assert why in r.stderr


def test_missing_extra_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\ndependencies = []\n', encoding="utf-8")
    r = _run(str(path))
    assert r.returncode == 2
    assert "optional-dependencies.dev: no such extra" in r.stderr
    r = _run(str(tmp_path / "nope.toml"))
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: {tmp_path / 'nope.toml'}: ")


def test_ci_and_make_run_the_lowest_end() -> None:
    job = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]["lowest"]
    assert job["permissions"] == {"contents": "read"}
    assert "make test-lowest" in job["steps"][-1]["run"]
    for step in job["steps"]:
        if "uses" in step:
            ref = step["uses"].split("@", 1)[1]
            assert len(ref) == 40, step["uses"]  # pinned to a commit
    assert job["steps"][0]["with"]["persist-credentials"] is False
    make = (ROOT / "Makefile").read_text()
    assert "\ntest-lowest:" in make
    assert "scripts/lowest-constraints.py" in make
