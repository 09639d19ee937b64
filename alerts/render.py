"""The text of every file ``generate alerts`` writes (deterministic YAML with a header)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alerts.generate import Links, alertmanager, prometheus_rule, rule_tests, rules
from alerts.runbooks import runbooks
from opsplane.atomic import generated_by
from opsplane.spec.org import Endpoints
from opsplane.spec.service import ServiceSpec


def dump_yaml(data: dict[str, Any], source: str) -> str:
    import yaml

    body = yaml.safe_dump(data, sort_keys=False, width=1 << 20, allow_unicode=True)
    return f"# {generated_by(source)}\n{body}"


def render(specs: Sequence[ServiceSpec], *, links: Links | None = None,
           alertmanager_version: str = "0.25",
           ticket_url: str = "http://ticket-bridge.monitoring.svc:9095/alerts",
           sources: Sequence[str] | None = None,
           endpoints: Endpoints | None = None) -> dict[str, str]:
    """relative path -> text. Writes nothing.

    Only rule files sit at the top, so the directory can be a Prometheus ``rule_files`` glob
    (``rules/*.yaml``); the promtool tests, the PrometheusRule resources and the Alertmanager
    configuration go in ``tests/``, ``kubernetes/`` and ``alertmanager/``; one runbook page per
    alert in ``runbooks/<service>/`` (publish it at ``--runbook-url``).
    """
    links = links or Links()
    files: dict[str, str] = {}
    for spec in specs:
        src = f"{spec.name} service.yaml"
        rule_file = f"{spec.name}.rules.yaml"
        files[rule_file] = dump_yaml(rules(spec, links), src)
        files[f"tests/{spec.name}.rules.test.yaml"] = dump_yaml(
            rule_tests(spec, f"../{rule_file}", links), src)
        files[f"kubernetes/{spec.name}.prometheusrule.yaml"] = dump_yaml(
            prometheus_rule(spec, links), src)
        files.update(runbooks(spec, links))
    every = ", ".join(sorted(f"{s.name} service.yaml" for s in specs))
    files["alertmanager/alertmanager.yaml"] = dump_yaml(
        alertmanager(specs, version=alertmanager_version, ticket_url=ticket_url,
                     sources=sources, endpoints=endpoints), every)
    return files
