"""The standard chart rendered by the real Helm v4 engine, linted, and schema-validated."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

try:  # tests/ is a plain folder or a package, depending on the checkout
    from helm_cases import CANARY, FULL, MINIMAL, VALUE_SETS
except ModuleNotFoundError:
    from tests.helm_cases import CANARY, FULL, MINIMAL, VALUE_SETS

from helm import render as chart
from helm import values as helmvalues
from helm.render import ChartError, Manifest
from opsplane.spec.service import parse_spec

pytest.importorskip("helm_python")

CRD_SCHEMAS = {
    ("networking.istio.io/v1", "VirtualService"): "networking.istio.io_virtualservice_v1.json",
    ("networking.istio.io/v1", "DestinationRule"): "networking.istio.io_destinationrule_v1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_prometheusrule_v1.json",
    ("external-secrets.io/v1", "ExternalSecret"): "external-secrets.io_externalsecret_v1.json",
}


def _key(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True)


@lru_cache(maxsize=32)
def _render(key: str) -> tuple[Manifest, ...]:
    return tuple(chart.render(json.loads(key), release="orders", namespace="shop"))


def render(values: dict[str, Any]) -> list[Manifest]:
    return list(_render(_key(values)))


def kinds(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m.kind: m.doc for m in render(values)}


def deployment(values: dict[str, Any]) -> dict[str, Any]:
    return kinds(values)["Deployment"]


def container(values: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = deployment(values)["spec"]["template"]["spec"]["containers"][0]
    return c


def kube_versions() -> tuple[str, str]:
    from kubernetes_validate import utils

    versions = sorted(utils.all_versions(), key=lambda v: tuple(int(p) for p in v.split(".")))
    return versions[0], versions[-1]


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_golden_render(name: str, golden: Any) -> None:
    text = chart.render_text(VALUE_SETS[name], release="orders", namespace="shop")
    assert text == chart.render_text(VALUE_SETS[name], release="orders", namespace="shop")
    golden(f"helm/{name}.yaml", text)


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_strict(name: str) -> None:
    assert chart.lint(VALUE_SETS[name], strict=True) == []


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_manifests_valid_for_oldest_and_newest_kubernetes(name: str) -> None:
    import kubernetes_validate

    builtin = [m for m in render(VALUE_SETS[name])
               if (m.doc["apiVersion"], m.kind) not in CRD_SCHEMAS]
    assert builtin
    for version in kube_versions():
        for m in builtin:
            kubernetes_validate.validate(m.doc, version, strict=True)


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_custom_resources_valid_against_crds(name: str, shared_schemas: Path) -> None:
    import jsonschema

    for m in render(VALUE_SETS[name]):
        schema_file = CRD_SCHEMAS.get((m.doc["apiVersion"], m.kind))
        if schema_file is None:
            continue
        schema = json.loads((shared_schemas / "crds" / schema_file).read_text())
        jsonschema.Draft7Validator(schema).validate(m.doc)


def test_each_value_set_renders_its_objects() -> None:
    assert set(kinds(MINIMAL)) == {"ConfigMap", "Deployment", "NetworkPolicy",
                                   "PodDisruptionBudget", "Service", "ServiceAccount"}
    assert {"HorizontalPodAutoscaler", "ServiceMonitor", "PrometheusRule", "ExternalSecret"} \
        <= set(kinds(FULL))
    assert {"VirtualService", "DestinationRule"} <= set(kinds(CANARY))
    assert set(kinds(VALUE_SETS["canary-track"])) == {"ConfigMap", "Deployment",
                                                       "PodDisruptionBudget"}
    assert deployment(VALUE_SETS["canary-track"])["metadata"]["name"] == "orders-canary"


def test_deployment_rolls_without_losing_capacity_and_probes_health() -> None:
    d = deployment(MINIMAL)
    assert d["spec"]["strategy"] == {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    c = container(MINIMAL)
    assert c["readinessProbe"]["httpGet"]["path"] == "/healthz/readiness"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz/liveness"
    assert c["startupProbe"]["httpGet"]["path"].startswith("/healthz/")
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"},
                              "limits": {"cpu": "500m", "memory": "256Mi"}}


def test_security_context_is_restricted() -> None:
    pod = deployment(MINIMAL)["spec"]["template"]["spec"]
    c = container(MINIMAL)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False


def test_values_resources_file_from_loadtest_is_used(tmp_path: Path) -> None:
    f = tmp_path / "values-resources.yaml"
    f.write_text("# measured by loadtest recommend-limits: peak x 1.5\nresources:\n"
                 "  requests: {cpu: \"250m\", memory: \"192Mi\"}\n"
                 "  limits: {cpu: \"500m\", memory: \"384Mi\"}\n")
    values = chart.merge(MINIMAL, chart.load_values([f]))
    assert container(values)["resources"] == {"requests": {"cpu": "250m", "memory": "192Mi"},
                                              "limits": {"cpu": "500m", "memory": "384Mi"}}


@pytest.mark.parametrize(("prestop", "drain", "grace", "expected"), [
    (5, 5, 20, 35), (0, 0, 1, 6), (10, 2.5, 30.2, 48), (5, 120, 600, 730)])
def test_termination_grace_is_prestop_drain_grace_plus_five(
        prestop: int, drain: float, grace: float, expected: int) -> None:
    values = {**MINIMAL, "shutdown": {"preStopSeconds": prestop, "drainDelaySeconds": drain,
                                      "graceSeconds": grace}}
    pod = deployment(values)["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == expected
    assert pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"] == ["sleep",
                                                                               str(prestop)]
    spec = parse_spec({"name": "orders", "team": "t", "app": "app:app",
                       "shutdown": {"drain_delay": drain, "grace": grace}})
    assert helmvalues.termination_grace_seconds(spec, prestop) == expected


def test_termination_grace_override_cannot_undercut_the_sum() -> None:
    assert deployment({**MINIMAL, "terminationGracePeriodSeconds": 90})["spec"]["template"][
        "spec"]["terminationGracePeriodSeconds"] == 90
    with pytest.raises(ChartError, match=r"terminationGracePeriodSeconds 20 is below "
                                         r"preStopSeconds \+ drainDelaySeconds \+ graceSeconds "
                                         r"\+ 5 = 35"):
        chart.render({**MINIMAL, "terminationGracePeriodSeconds": 20})


def test_facts_change_rolls_the_pods() -> None:
    def checksum(facts: dict[str, Any]) -> str:
        ann = deployment({**MINIMAL, "facts": facts})["spec"]["template"]["metadata"]["annotations"]
        return str(ann["checksum/facts"])

    assert checksum({"A": "1"}) == checksum({"A": "1"})
    assert checksum({"A": "1"}) != checksum({"A": "2"})
    cm = kinds({**MINIMAL, "facts": {"A": 1, "B": True}})["ConfigMap"]
    assert cm["data"] == {"A": "1", "B": "true"}


def test_secrets_only_by_reference() -> None:
    c = container(FULL)
    assert {"secretRef": {"name": "orders-env"}} in c["envFrom"]
    assert {"secretRef": {"name": "orders-external"}} in c["envFrom"]
    env = {e["name"]: e for e in c["env"]}
    assert env["DATABASE_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "orders-db", "key": "password"}}
    ann = deployment(FULL)["spec"]["template"]["metadata"]["annotations"]
    assert ann["vault.hashicorp.com/agent-inject"] == "true"
    assert ann["vault.hashicorp.com/agent-inject-secret-db"] == "database/creds/orders"
    assert not any(m.kind == "Secret" for m in render(FULL))


def test_otel_environment_when_tracing() -> None:
    env = {e["name"]: e.get("value") for e in container(FULL)["env"]}
    assert env["OTEL_SERVICE_NAME"] == "orders"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://")
    assert "service.version=1.4.2" in env["OTEL_RESOURCE_ATTRIBUTES"]
    assert "team=shop" in env["OTEL_RESOURCE_ATTRIBUTES"]
    assert not any(e["name"].startswith("OTEL_") for e in container(MINIMAL)["env"])


def test_scrape_annotations_or_service_monitor() -> None:
    ann = deployment(MINIMAL)["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true"
    assert ann["prometheus.io/path"] == "/metrics"
    assert "prometheus.io/scrape" not in deployment(FULL)["spec"]["template"]["metadata"][
        "annotations"]
    assert kinds(FULL)["ServiceMonitor"]["spec"]["endpoints"][0]["path"] == "/metrics"


def test_generated_rules_and_dashboards_are_carried() -> None:
    import yaml

    rules_file = yaml.safe_dump({"groups": [{"name": "from-file", "rules": [
        {"record": "job:up:sum", "expr": "sum(up)"}]}]})
    values = {**MINIMAL, "prometheusRule": {"enabled": True, "rulesFile": rules_file},
              "dashboards": {"enabled": True, "files": {"orders.json": {"title": "orders"}}}}
    k = kinds(values)
    assert k["PrometheusRule"]["spec"]["groups"][0]["name"] == "from-file"
    dash = next(m.doc for m in render(values) if m.name == "orders-dashboards")
    assert json.loads(dash["data"]["orders.json"]) == {"title": "orders"}
    assert dash["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert kinds(FULL)["PrometheusRule"]["spec"]["groups"][0]["rules"][0]["alert"] == \
        "OrdersHighErrorRate"


def test_mesh_retries_budget_circuit_breaker_and_canary_weights() -> None:
    k = kinds(CANARY)
    http = k["VirtualService"]["spec"]["http"][0]
    assert http["timeout"] == "10s"
    assert http["retries"]["attempts"] == 2
    assert http["retries"]["perTryTimeout"] == "3s"
    assert [(r["destination"]["subset"], r["weight"]) for r in http["route"]] == [
        ("stable", 80), ("canary", 20)]
    tp = k["DestinationRule"]["spec"]["trafficPolicy"]
    assert tp["connectionPool"]["http"]["maxRetries"] == 10
    assert tp["outlierDetection"]["consecutive5xxErrors"] == 5
    assert {s["name"] for s in k["DestinationRule"]["spec"]["subsets"]} == {"stable", "canary"}
    assert "VirtualService" not in kinds(MINIMAL)


def test_retries_must_fit_the_timeout() -> None:
    values = {**MINIMAL, "mesh": {"enabled": True, "timeoutSeconds": 5,
                                  "retries": {"attempts": 3, "perTryTimeoutSeconds": 2}}}
    with pytest.raises(ChartError, match=r"mesh.retries: \(1 \+ attempts 3\) x "
                                         r"perTryTimeoutSeconds 2 exceeds mesh.timeoutSeconds 5"):
        chart.render(values)


@pytest.mark.parametrize(("patch", "field"), [
    ({"replicaCount": -1}, "replicaCount"),
    ({"replicaCount": "two"}, "replicaCount"),
    ({"resources": {"requests": {"cpu": "250 millicores"}}}, "cpu"),
    ({"resources": {"limits": {"memory": "1GB"}}}, "memory"),
    ({"facts": {"DB_PASSWORD": "x"}}, "DB_PASSWORD"),
    ({"facts": {"A": {"nested": 1}}}, "/facts/A"),
    ({"secrets": {"env": [{"name": "X"}]}}, "secret"),
    ({"replicas": 2}, "replicas"),
    ({"mesh": {"canary": {"weight": 150}}}, "weight"),
    ({"securityContext": {"readOnlyRootFilesystem": False}}, "readOnlyRootFilesystem"),
])
def test_schema_rejects_bad_values_naming_the_field(patch: dict[str, Any], field: str) -> None:
    with pytest.raises(ChartError) as e:
        chart.render(chart.merge(MINIMAL, patch))
    assert field in str(e.value)
    assert "\n" not in str(e.value)


def test_credentials_as_facts_are_refused_by_name() -> None:
    with pytest.raises(ChartError, match=r"^values: facts.POSTGRES_PASSWORD: looks like a "
                                         r"credential; reference it under secrets"):
        chart.render({**MINIMAL, "facts": {"POSTGRES_PASSWORD": "x"}})
    with pytest.raises(ChartError, match=r"^values: env.apiKey: looks like a credential"):
        chart.render({**MINIMAL, "env": {"apiKey": "x"}})


def test_schema_message_is_one_clear_line() -> None:
    with pytest.raises(ChartError) as e:
        chart.render({**MINIMAL, "replicaCount": "two", "mesh": {"canary": {"weight": 150}}})
    assert str(e.value).endswith("values.schema.json: values rejected: at '/mesh/canary/weight': "
                                 "maximum: got 150, want 100; at '/replicaCount': got string, "
                                 "want integer")


def test_name_is_required() -> None:
    with pytest.raises(ChartError, match="name"):
        chart.render({"image": {"repository": "x"}})


GOLDEN = Path(__file__).resolve().parent / "golden"
GENERATED = {"rules": GOLDEN / "alerts" / "orders.rules.yaml",
             "dashboard": GOLDEN / "dashboards" / "svc-orders.json",
             "resources": GOLDEN / "loadtest" / "values-resources.yaml"}


def test_chart_takes_the_generators_output(shared_schemas: Path) -> None:
    """The alert rules, dashboard and resources the other generators write, as they are."""
    import jsonschema

    missing = [str(p) for p in GENERATED.values() if not p.is_file()]
    if missing:
        pytest.skip(f"generator output not present: {', '.join(missing)}")
    values = chart.merge(MINIMAL, chart.load_values([GENERATED["resources"]]))
    values["prometheusRule"] = {"enabled": True, "rulesFile": GENERATED["rules"].read_text()}
    values["dashboards"] = {"enabled": True,
                            "files": {"orders.json": GENERATED["dashboard"].read_text()}}
    k = kinds(values)
    rule = k["PrometheusRule"]
    schema = json.loads((shared_schemas / "crds" / CRD_SCHEMAS[
        ("monitoring.coreos.com/v1", "PrometheusRule")]).read_text())
    jsonschema.Draft7Validator(schema).validate(rule)
    import yaml

    assert rule["spec"]["groups"] == yaml.safe_load(GENERATED["rules"].read_text())["groups"]
    dash = next(m.doc for m in render(values) if m.name == "orders-dashboards")
    assert json.loads(dash["data"]["orders.json"]) == json.loads(GENERATED["dashboard"].read_text())
    assert container(values)["resources"] == yaml.safe_load(
        GENERATED["resources"].read_text())["resources"]
    assert chart.lint(values) == []
