"""`opsplane pipeline run --local` for real: the image built, the local stack (`make up`'s)
brought up with it, smoke and integration run; then a change that breaks the smoke collection
is rolled back and the previous image keeps serving.

One stack of its own (compose project, STACK_DIR and ports), taken down at the end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opsplane.testing.procs import free_port

ROOT = Path(__file__).resolve().parent.parent
PORTS = ("ORDERS", "PAYMENTS", "POSTGRES", "PROMETHEUS", "ALERTMANAGER", "GRAFANA", "JAEGER",
         "OTLP")
COPY_SKIP = {".venv", ".git", "build", "runs", "out", ".mypy_cache", ".ruff_cache",
             ".pytest_cache", ".hypothesis", "__pycache__", "generated"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _run(argv: list[str], env: dict[str, str], timeout: float = 900,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False,
                          timeout=timeout)


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if shutil.which("docker") is None and os.environ.get("CI") != "true":
        pytest.skip("no docker client (scripts/docker.sh install sets Docker up)")
    tmp = tmp_path_factory.mktemp("pipeline")
    env = {**os.environ, "STACK_PROJECT": f"pipetest{os.getpid()}",
           "STACK_DIR": str(tmp / "stack"), "PYTHON": sys.executable,
           **{f"STACK_{p}_PORT": str(free_port()) for p in PORTS}}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    tags: list[str] = []
    env["_TEST_TAGS"] = ""
    try:
        yield env
    finally:
        _run(["bash", str(ROOT / "deploy/local/stack.sh"), "down"], env, timeout=300)
        tags = [t for t in env["_TEST_TAGS"].split() if t]
        if tags:
            _run(["docker", "image", "rm", *tags], env, timeout=120)


def pipeline(service_dir: Path, tag: str, env: dict[str, str], report: Path,
             ) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    env["_TEST_TAGS"] += f" opsplane/orders:{tag} opsplane/orders:before-{tag}"
    r = _run([sys.executable, "-m", "opsplane.cli.main", "pipeline", "run", "--local", "--dir",
              str(service_dir), "--tag", tag, "--report", str(report)], env, timeout=1500)
    assert report.exists(), r.stdout + r.stderr
    return r, json.loads(report.read_text())


def image_id(ref: str, env: dict[str, str]) -> str:
    r = _run(["docker", "image", "inspect", "--format", "{{.Id}}", ref], env, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def serving_image(env: dict[str, str]) -> str:
    ps = _run(["bash", str(ROOT / "deploy/local/stack.sh"), "compose", "ps", "--quiet",
               "orders"], env, timeout=120)
    container = ps.stdout.split()[0]
    r = _run(["docker", "inspect", "--format", "{{.Image}}", container], env, timeout=60)
    return r.stdout.strip()


def broken_copy(dest: Path) -> Path:
    """The repository with one change: creating an order answers 200 instead of 201."""
    shutil.copytree(ROOT, dest, ignore=lambda _d, names: [n for n in names if n in COPY_SKIP
                                                          or n.endswith((".db", ".so"))])
    app = dest / "examples" / "orders" / "orders" / "app.py"
    text = app.read_text()
    assert text.count("return _json(order, 201)") == 1
    app.write_text(text.replace("return _json(order, 201)", "return _json(order, 200)"))
    return dest / "examples" / "orders"


def test_good_change_deploys_and_bad_change_rolls_back(stack_env: dict[str, str],
                                                       tmp_path: Path) -> None:
    env = stack_env
    tag = f"pt{os.getpid()}"
    good, good_report = pipeline(ROOT / "examples" / "orders", f"{tag}-good", env,
                                 tmp_path / "good.json")
    assert good.returncode == 0, good.stdout + good.stderr
    assert good_report["outcome"] == "deployed"
    stages = {s["name"]: s for s in good_report["stages"]}  # type: ignore[attr-defined]
    assert [n for n in stages if n.startswith("gate: ")] == [
        "gate: logstd lint", "gate: secrets scan", "gate: spec check", "gate: chart lint",
        "gate: dashboards and alerts", "gate: collections"]
    assert all(s["ok"] for s in stages.values())
    assert {"build", "deploy", "verify: smoke", "verify: integration"} <= set(stages)
    good_id = image_id(f"opsplane/orders:{tag}-good", env)
    assert serving_image(env) == good_id
    assert "outcome: deployed" in good.stdout

    bad_dir = broken_copy(tmp_path / "repo")
    bad, bad_report = pipeline(bad_dir, f"{tag}-bad", env, tmp_path / "bad.json")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert bad_report["outcome"] == "rolled back: the previous image serves"
    assert bad_report["previous"] == good_id
    names = [(s["name"], s["ok"]) for s in bad_report["stages"]]  # type: ignore[attr-defined]
    assert names[-4:] == [("deploy", True), ("verify: smoke", False), ("rollback", True),
                          ("after rollback: verify: smoke", True)]
    smoke = next(s for s in bad_report["stages"]  # type: ignore[attr-defined]
                 if s["name"] == "verify: smoke")
    assert "status: expected 201, got 200" in "\n".join(smoke["lines"])
    assert "outcome: rolled back: the previous image serves" in bad.stdout
    # the previous image keeps serving: the container runs it and creating an order is a 201
    assert serving_image(env) == good_id
    assert image_id(f"opsplane/orders:{tag}-bad", env) != good_id
    r = httpx.post(f"http://127.0.0.1:{env['STACK_ORDERS_PORT']}/orders", timeout=10,
                   json={"customerId": "C-1010",
                         "items": [{"sku": "SKU-1", "quantity": 1, "price": 1.0}]})
    assert r.status_code == 201
