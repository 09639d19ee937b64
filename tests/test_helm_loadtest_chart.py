"""helm/loadtest: the Locust worker Job, validated like the service chart (helm lint --strict,
the render, Kubernetes' schemas), its values refused in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "loadtest"
SPEC = (ROOT / "examples" / "orders" / "service.yaml").read_text()
VALUES: dict[str, Any] = {"name": "orders", "image": {"tag": "0.1.0"},
                          "master": {"host": "10.0.0.5"}, "workers": {"replicas": 4,
                                                                      "processesPerPod": 2},
                          "spec": SPEC}

pytest.importorskip("helm_python")


def render(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    from helm import render as chart

    return {m.kind: m.doc for m in chart.render(values, chart=CHART, release="load",
                                                namespace="staging")}


def test_lint_strict_is_clean() -> None:
    from helm import render as chart

    assert chart.lint(VALUES, chart=CHART) == []


@pytest.mark.parametrize("version", ["1.29.0", "1.37.0"])
def test_manifests_valid_for_kubernetes(version: str) -> None:
    import kubernetes_validate

    docs = render(VALUES)
    assert set(docs) == {"Job", "ConfigMap"}
    for doc in docs.values():
        kubernetes_validate.validate(doc, version, strict=True)


def test_workers_dial_the_master_with_the_service_spec() -> None:
    docs = render(VALUES)
    job = docs["Job"]["spec"]
    assert job["parallelism"] == job["completions"] == 4
    assert job["backoffLimit"] == 0
    assert job["activeDeadlineSeconds"] == 3600
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    c = pod["containers"][0]
    assert c["image"] == "ghcr.io/opsplane/loadtest:0.1.0"
    assert c["command"] == ["loadtest", "worker"]
    assert c["args"] == ["--master-host=10.0.0.5", "--master-port=5557", "--processes=2",
                         "--profile=mixed", "--user-class=fast",
                         "--spec=/etc/loadtest/service.yaml"]
    assert docs["ConfigMap"]["data"]["service.yaml"].strip() == SPEC.strip()
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert mounts == {"/tmp", "/etc/loadtest"}


def test_worker_args_parse_as_loadtest_worker() -> None:
    """What the Job runs is a valid `loadtest worker` command line."""
    from loadtest._cli import build_parser

    c = render(VALUES)["Job"]["spec"]["template"]["spec"]["containers"][0]
    args = build_parser().parse_args([*c["command"][1:], *c["args"]])
    assert (args.master_host, args.master_port, args.processes) == ("10.0.0.5", 5557, 2)


def test_security_context_is_restricted() -> None:
    pod = render(VALUES)["Job"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    sc = pod["containers"][0]["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize(("patch", "needle"), [
    ({"master": {"host": ""}}, "master.host is required"),
    ({"workers": {"replicas": 0}}, "at '/workers/replicas'"),
    ({"profile": "chaos"}, "at '/profile'"),
    ({"image": {"tag": ""}}, "image.tag is required"),
])
def test_bad_values_refused_by_render_and_lint_alike(patch: dict[str, Any], needle: str) -> None:
    from helm import render as chart

    values = chart.merge(VALUES, patch)
    with pytest.raises(chart.ChartError) as e:
        chart.render(values, chart=CHART)
    message = str(e.value)
    assert needle in message
    assert "\n" not in message
    assert message in chart.lint(values, chart=CHART)
