"""Installs that fit their users: the core install is the runtime kit; tools are extras.

A venv gets `opsplane` alone (no extra) from the wheels `scripts/docker.sh wheels` builds on
the host (the ones the service image installs), with --no-index. In it: none of the tools'
heavy dependencies; every command whose extra is missing ends with one line naming the
`pip install 'opsplane[...]'` and exit 2; logstd works and imports no runtime-kit module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from logstd import _climain

ROOT = Path(__file__).resolve().parent.parent
ORDERS = ROOT / "examples" / "orders"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = subprocess.run(["bash", str(ROOT / "scripts" / "docker.sh"), "wheels"],
                       capture_output=True, text=True, check=False, timeout=600)
    assert r.returncode == 0, r.stderr
    deps, own = r.stdout.strip().splitlines()[-2:]
    venv = tmp_path_factory.mktemp("core") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-index",
                        "--disable-pip-version-check", "--find-links", deps, "--find-links", own,
                        "opsplane"],
                       capture_output=True, text=True, check=False, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return venv / "bin"


def _run(bin_dir: Path, *argv: str, cwd: Path = ORDERS) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(bin_dir / argv[0]), *argv[1:]], cwd=cwd, capture_output=True,
                          text=True, check=False, timeout=120, env=env)


def test_core_install_has_no_tool_dependency(core_venv: Path) -> None:
    r = _run(core_venv, "python", "-c",
             "import importlib.util as u, sys; "
             "print(' '.join(m for m in sys.argv[1:] if u.find_spec(m)))",
             *sorted(set(_climain.EXTRAS)), "pandas")
    assert r.returncode == 0, r.stderr
    # requests: the OTLP/HTTP exporter's own dependency, so it is there without the extra
    assert r.stdout.split() == ["requests"]


@pytest.mark.parametrize(("argv", "extra"), [
    (["opsplane", "generate", "dashboards", "service.yaml", "-o", "{tmp}"], "dashboards"),
    (["opsplane", "secrets", "scan", "."], "secrets"),
    (["opsplane", "test", "-t", "smoke", "--dir", "tests", "--base-url", "http://127.0.0.1:9"],
     "blackbox"),
    (["loadtest", "run", "--target", "http://127.0.0.1:9", "--pid", "1"], "loadtest"),
    (["opsplane", "chart", "render", "--values", "chart/values-local.yaml"], "chart"),
])
def test_missing_extra_is_one_line_and_exit_2(core_venv: Path, tmp_path: Path,
                                              argv: list[str], extra: str) -> None:
    r = _run(core_venv, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("error: ")
    assert f"pip install 'opsplane[{extra}]'" in r.stderr


def test_core_install_serves_and_generates(core_venv: Path, tmp_path: Path) -> None:
    assert _run(core_venv, "opsplane", "spec", "check", "service.yaml").returncode == 0
    r = _run(core_venv, "opsplane", "generate", "alerts", "service.yaml", "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "orders.rules.yaml").exists()
    r = _run(core_venv, "python", "-c", "import orders.app, tracing, opsplane.runtime.serve")
    assert r.returncode == 0, r.stderr


def test_logstd_alone_imports_no_runtime_kit(core_venv: Path, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text('{"timestamp":"2026-01-01T00:00:00Z","level":"info","message":"hi",'
                   '"customer_id":"C-1"}\n')
    code = (
        "import sys, logging, logstd\n"
        "logstd.configure(mode='json')\n"
        "logging.getLogger('x').info('hello', extra={'customerId': 'C-1'})\n"
        "from logstd import _cli\n"
        "rc = [_cli.main(['lint', sys.argv[1]]),\n"
        "      _cli.main(['pretty', '--color', 'never', sys.argv[1]])]\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'starlette', 'uvicorn', "
        "'opentelemetry', 'httpx', 'prometheus_client', 'opsplane', 'tracing'})\n"
        "print('RC', rc, 'HEAVY', heavy)\n")
    r = _run(core_venv, "python", "-c", code, str(log))
    assert "HEAVY []" in r.stdout, r.stdout + r.stderr
    assert '"customerId":"C-1"' in r.stdout  # the JSON formatter ran
    assert "RC [1, 0]" in r.stdout  # lint found customer_id (an alias); pretty rendered it


def test_every_dependency_is_bounded_below_its_next_major() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += [r for r in extra if not r.startswith("opsplane[")]
    assert [r for r in reqs if "<" not in r] == []


def test_dev_and_tools_hold_every_extra() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    tools = extras["tools"][0]
    named = set(tools[tools.index("[") + 1:tools.index("]")].split(","))
    assert named == set(extras) - {"tools", "all", "dev"}
    assert "opsplane[tools]" in extras["dev"]
    assert set(_climain.EXTRAS.values()) <= named


def test_missing_extra_message(capsys: pytest.CaptureFixture[str]) -> None:
    err = ModuleNotFoundError("No module named 'grafana_foundation_sdk'",
                              name="grafana_foundation_sdk.builders")
    assert _climain.missing_extra(err) == (
        "grafana_foundation_sdk is not installed; install it with: "
        "pip install 'opsplane[dashboards]'")
    assert _climain.missing_extra(ModuleNotFoundError("x", name="nosuchmodule")) is None
