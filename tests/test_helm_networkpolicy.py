"""The chart locked down: a NetworkPolicy from the spec, every object in its namespace, the
image by digest when one is given. Rendered by the real Helm engine, validated against the
Kubernetes schemas (kubernetes-validate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from helm import render as chart
from helm import values as helmvalues
from opsplane.cli.main import main
from opsplane.errors import SpecError
from opsplane.spec.service import load_spec, parse_spec

pytest.importorskip("helm_python")
ROOT = Path(__file__).resolve().parent.parent
ORDERS = ROOT / "examples" / "orders" / "service.yaml"
GATEWAY = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}},
           "podSelector": {"matchLabels": {"istio": "ingressgateway"}}}
PROMETHEUS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
              "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}
HTTP = [{"port": "http", "protocol": "TCP"}]
DNS = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name":
                                                     "kube-system"}},
               "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
       "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}


def _docs(values: dict[str, Any], namespace: str = "commerce") -> list[dict[str, Any]]:
    return [m.doc for m in chart.render(values, release="orders", namespace=namespace)]


def _policy(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (np,) = [d for d in docs if d["kind"] == "NetworkPolicy"]
    return np


def _validate(docs: list[dict[str, Any]]) -> None:
    import kubernetes_validate
    from kubernetes_validate import utils

    newest = max(utils.all_versions(), key=lambda v: tuple(int(p) for p in v.split(".")))
    for d in docs:
        if d["kind"] == "NetworkPolicy" or d["apiVersion"] in ("v1", "apps/v1", "policy/v1"):
            kubernetes_validate.validate(d, newest, strict=True)


def test_orders_default_render_is_locked_down() -> None:
    values = helmvalues.generate(load_spec(ORDERS))
    docs = _docs(values)
    _validate(docs)
    assert {d["metadata"].get("namespace") for d in docs} == {"commerce"}
    np = _policy(docs)
    assert np["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "orders"}}
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert np["spec"]["ingress"] == [{"from": [GATEWAY], "ports": HTTP},
                                     {"from": [PROMETHEUS], "ports": HTTP}]
    # payments (http://127.0.0.1:8081 in the spec: the dependency's own name, its port);
    # the database is SQLite by default: a file, no network
    assert np["spec"]["egress"] == [
        DNS, {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "payments"}}}],
              "ports": [{"port": 8081, "protocol": "TCP"}]}]


def test_no_dependencies_allows_dns_and_nothing_else(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "service.yaml"
    spec.write_text("version: 1\nname: lonely\nteam: t\napp: app:app\n")
    values = tmp_path / "values.yaml"
    assert main(["chart", "values", "--spec", str(spec), "-o", str(values)]) == 0
    assert main(["chart", "render", "-f", str(values), "--namespace", "apps"]) == 0
    docs = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    _validate(docs)
    np = _policy(docs)
    assert np["spec"]["egress"] == [DNS]
    assert np["spec"]["ingress"] == [{"from": [GATEWAY], "ports": HTTP},
                                     {"from": [PROMETHEUS], "ports": HTTP}]
    assert {d["metadata"]["namespace"] for d in docs} == {"apps"}


def test_callers_and_dependencies_from_the_spec() -> None:
    spec = parse_spec({
        "version": 1, "name": "payments", "team": "t", "app": "app:app",
        "callers": ["orders", "refunds"],
        "dependencies": [
            {"name": "db", "kind": "sql", "url": "postgresql://pg.data.svc.cluster.local/p"},
            {"name": "cache", "kind": "redis", "url_env": "REDIS_URL"},
            {"name": "bank", "kind": "http", "url": "https://api.bank.example.com"},
            {"name": "bus", "kind": "nats", "url": "nats://nats:4222"}],
    })
    values = helmvalues.generate(spec)
    assert values["networkPolicy"] == {
        "callers": ["orders", "refunds"],
        "egress": [{"name": "pg", "port": 5432, "namespace": "data"},
                   {"name": "cache", "port": 6379},
                   {"name": "nats", "port": 4222}]}  # the host named; bank: outside, by cidr
    np = _policy(_docs(values))
    assert np["spec"]["ingress"][2] == {
        "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": n}}}
                 for n in ("orders", "refunds")], "ports": HTTP}
    assert np["spec"]["egress"][1] == {
        "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "pg"}},
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "data"}}}],
        "ports": [{"port": 5432, "protocol": "TCP"}]}
    with pytest.raises(SpecError, match="callers: caller 'Orders!' is not a service name"):
        parse_spec({"version": 1, "name": "p", "team": "t", "app": "a:b", "callers": ["Orders!"]})


def test_cidr_egress_and_the_tracing_collector() -> None:
    values = {"name": "orders", "image": {"repository": "orders", "tag": "1"},
              "tracing": {"enabled": True, "endpoint": "http://otel-collector.observability:4317"},
              "networkPolicy": {"egress": [{"cidr": "10.20.0.0/16", "port": 5432}]}}
    docs = _docs(values)
    _validate(docs)
    egress = _policy(docs)["spec"]["egress"]
    assert egress[1] == {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
                         "ports": [{"port": 5432, "protocol": "TCP"}]}
    assert egress[2]["to"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "observability"}}
    assert egress[2]["ports"] == [{"port": 4317, "protocol": "TCP"}]
    with pytest.raises(chart.ValuesError, match="networkPolicy"):
        chart.render({**values, "networkPolicy": {"egress": [{"port": 1}]}})


def test_image_pinned_by_digest_when_given_and_policy_can_be_off() -> None:
    digest = "sha256:" + "ab" * 32
    values = {"name": "orders", "image": {"repository": "registry.example/orders",
                                          "tag": "1.2.0", "digest": digest}}
    docs = _docs(values)
    (dep,) = [d for d in docs if d["kind"] == "Deployment"]
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == \
        f"registry.example/orders@{digest}"
    off = _docs({**values, "networkPolicy": {"enabled": False}})
    assert "NetworkPolicy" not in {d["kind"] for d in off}
