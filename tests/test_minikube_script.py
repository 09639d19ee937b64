"""deploy/minikube.sh against stand-ins for minikube, kubectl, helm and make.

No cluster can run here. The stand-ins (tests/apps/cluster_standin.py) record every argv; helm
renders the chart for real with the values files it was given (what it would apply), and
kubectl's port-forward forwards to a real orders service (with its payments stub) on loopback,
so the script's smoke step runs the real collection with env.minikube.yaml's variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests._service_procs import orders_and_payments

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "deploy" / "minikube.sh"
STANDIN = Path(__file__).resolve().parent / "apps" / "cluster_standin.py"
ORDERS = ROOT / "examples" / "orders"


def _standins(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    bin_dir, root = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    root.mkdir()
    for tool in ("minikube", "kubectl", "helm", "make"):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" {tool} "$@"\n')
        script.chmod(0o755)
    path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent),
                            os.environ["PATH"]])
    env = {**os.environ, "PATH": path, "STANDIN_ROOT": str(root)}
    for var in ("IMAGE", "NAMESPACE", "ORDERS_URL", "MAKEFLAGS"):
        env.pop(var, None)
    return root, env


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240, check=False)


def _calls(root: Path) -> list[list[str]]:
    return [json.loads(line) for line in (root / "calls.jsonl").read_text().splitlines()]


def _workloads(path: Path) -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}


def _values_files(call: list[str]) -> list[str]:
    return [call[i + 1] for i, a in enumerate(call[:-1]) if a == "-f"]


@pytest.mark.slow
def test_every_command_and_the_smoke_step(tmp_path: Path) -> None:
    root, env = _standins(tmp_path)
    with orders_and_payments(tmp_path) as (orders, _payments):
        env["STANDIN_SVC_ORDERS"] = str(orders.port)
        r = _run(env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASSED: 3 requests, 3 passed" in r.stdout + r.stderr  # the smoke collection
    calls = _calls(root)
    chart = str(ROOT / "helm" / "service")
    helm_head = ["upgrade", "--install"]
    helm_flags = ["--namespace", "local", "--create-namespace", "--atomic", "--wait",
                  "--timeout", "5m"]
    # every command, in order (paths of the script's temp folder compared by name)
    def scratch(a: str) -> bool:  # the script's own temp files (the checkout may be in /tmp too)
        return a.startswith(tempfile.gettempdir()) and not a.startswith(str(ROOT))

    shape = [[c[0], *[Path(a).name if scratch(a) else a for a in c[1:]]] for c in calls]
    port_forward = calls[-1]
    assert shape == [
        ["minikube", "status"],
        ["make", "-s", "-C", str(ROOT), "image"],
        ["minikube", "image", "load", "opsplane/orders:local"],
        ["helm", *helm_head, "payments", chart, *helm_flags,
         "-f", "examples/orders/chart/values-payments.yaml", "-f", "values-image.yaml"],
        ["helm", *helm_head, "orders", chart, *helm_flags,
         "-f", "values-service.yaml", "-f", "examples/orders/chart/values-resources.yaml",
         "-f", "examples/orders/chart/values-local.yaml", "-f", "values-image.yaml"],
        ["kubectl", "-n", "local", "port-forward", "svc/orders", port_forward[-1]],
    ]
    assert port_forward[-1].endswith(":80")
    # what helm applies runs the image `make image` built and minikube loaded, never pulled
    for release in ("payments", "orders"):
        workloads = _workloads(root / f"helm-{release}.yaml")
        assert list(workloads) == [release]
        (container,) = workloads[release]["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "opsplane/orders:local"
        assert container["imagePullPolicy"] == "Never"
    (orders_container,) = _workloads(root / "helm-orders.yaml")["orders"]["spec"]["template"][
        "spec"]["containers"]
    assert orders_container["ports"][0]["containerPort"] == 8080
    assert not Path(_values_files(calls[-2])[0]).exists()  # the script's temp folder is gone


def test_image_given_skips_make_image(tmp_path: Path) -> None:
    root, env = _standins(tmp_path)
    env["IMAGE"] = "registry.example.com/orders:1.2.3"
    env["STANDIN_SVC_ORDERS"] = "1"  # nothing listens: the smoke step fails, after the deploy
    env["SMOKE_WAIT"] = "1s"
    r = _run(env)
    calls = _calls(root)
    assert ["make", "-s", "-C", str(ROOT), "image"] not in calls
    assert ["minikube", "image", "load", "registry.example.com/orders:1.2.3"] in calls
    (container,) = _workloads(root / "helm-orders.yaml")["orders"]["spec"]["template"]["spec"][
        "containers"]
    assert container["image"] == "registry.example.com/orders:1.2.3"
    assert r.returncode == 1  # the smoke step found no service behind the port-forward
    assert "error: service not ready" in r.stderr


def test_missing_tool_is_one_line(tmp_path: Path) -> None:
    _, env = _standins(tmp_path)
    (tmp_path / "bin" / "helm").unlink()
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                  if not (Path(p) / "helm").exists() or p == str(tmp_path / "bin"))
    r = _run(env)
    assert r.returncode == 2
    assert r.stderr == "minikube.sh: helm is not installed\n"
