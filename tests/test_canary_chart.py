"""The canary deploys with the standard chart: deploy/canary's spec, values and registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from opsplane.canary import load_registry
from opsplane.canary.service import APP
from opsplane.spec.service import load_spec

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "canary"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) \
            else v
    return out


def test_registry_and_spec_are_valid() -> None:
    spec = load_spec(DEPLOY / "service.yaml")
    assert spec.app == APP
    reg = load_registry(DEPLOY / "canary.yaml")
    assert [t.key for t in reg.targets] == ["orders/prod", "orders/staging"]
    assert reg.targets[0].credentials["apiKey"].file.startswith("/etc/canary/credentials/")


def test_chart_renders_the_canary() -> None:
    pytest.importorskip("helm_python")
    from helm import render as chart
    from helm import values as helmvalues

    spec = load_spec(DEPLOY / "service.yaml")
    values = _merge(helmvalues.generate(spec, environment="prod"),
                    yaml.safe_load((DEPLOY / "values.yaml").read_text()))
    docs = {m.kind: m.doc for m in chart.render(values, release="canary", namespace="ops")}
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["command"][:4] == ["opsplane", "canary", "-c", "/etc/canary/config/canary.yaml"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["OPSPLANE_GRACE"] == "30"  # opsplane canary reads it: runs get 30 s
    assert pod["terminationGracePeriodSeconds"] >= 5 + 5 + 30
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    for target in load_registry(DEPLOY / "canary.yaml").targets:
        for ref in target.credentials.values():
            assert str(Path(ref.file).parent) in mounts
    assert c["readinessProbe"]["httpGet"]["path"] == "/healthz/readiness"
    assert docs["Deployment"]["spec"]["replicas"] == 1
