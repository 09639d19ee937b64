"""Dashboards from specs: pure functions returning dicts (and the text of every file)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from opsplane.atomic import generated_by
from opsplane.spec.alertmap import DEFAULT_RUNBOOKS
from opsplane.spec.service import ServiceSpec

LOGS_DATASOURCE = "loki"
TRACES_DATASOURCE = "jaeger"
FOLDER = "opsplane"


def service_dashboard(spec: ServiceSpec, *, logs_datasource: str = LOGS_DATASOURCE,
                      traces_datasource: str = TRACES_DATASOURCE,
                      runbook_url: str = DEFAULT_RUNBOOKS) -> dict[str, Any]:
    """One service's dashboard as Grafana 11.6 JSON (uid ``svc-<name>``); a panel that
    shows an alert links to the alert's runbook under ``runbook_url``."""
    from dashboards import _build

    header = generated_by(f"{spec.name} service.yaml")
    return _build.service(spec, header, logs_datasource, traces_datasource, runbook_url)


def overview_dashboard(specs: Sequence[ServiceSpec]) -> dict[str, Any]:
    """The overview of all services: one table, a row per service linking to its dashboard."""
    from dashboards import _build

    ordered = sorted(specs, key=lambda s: s.name)
    header = generated_by(", ".join(f"{s.name} service.yaml" for s in ordered))
    return _build.overview(ordered, header)


def provisioning(path: str = "/var/lib/grafana/dashboards") -> dict[str, Any]:
    """Grafana file provisioning (docker compose): a provider reading ``path``."""
    return {"apiVersion": 1, "providers": [{
        "name": "opsplane", "orgId": 1, "folder": FOLDER, "type": "file",
        "disableDeletion": True, "allowUiUpdates": False, "updateIntervalSeconds": 30,
        "options": {"path": path, "foldersFromFilesStructure": False}}]}


def configmap(dashboards: dict[str, dict[str, Any]], name: str = "opsplane-dashboards",
              namespace: str | None = None) -> dict[str, Any]:
    """A ConfigMap the Grafana sidecar picks up (label ``grafana_dashboard: "1"``)."""
    meta: dict[str, Any] = {
        "name": name, "labels": {"grafana_dashboard": "1",
                                 "app.kubernetes.io/managed-by": "opsplane"},
        "annotations": {"grafana_folder": FOLDER}}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
            "data": {f"{uid}.json": dump_json(d) for uid, d in sorted(dashboards.items())}}


def dump_json(data: dict[str, Any]) -> str:
    """Deterministic JSON: sorted keys, two-space indent, final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def dashboards_of(specs: Sequence[ServiceSpec],
                  runbook_url: str = DEFAULT_RUNBOOKS) -> dict[str, dict[str, Any]]:
    """uid -> dashboard, for every service plus the overview."""
    boards = {f"svc-{s.name}": service_dashboard(s, runbook_url=runbook_url) for s in specs}
    boards["svc-overview"] = overview_dashboard(specs)
    return boards


def render(specs: Sequence[ServiceSpec],
           runbook_url: str = DEFAULT_RUNBOOKS) -> dict[str, str]:
    """Every file of ``generate dashboards``: relative path -> text. Nothing is written."""
    import yaml

    boards = dashboards_of(specs, runbook_url)
    header = "# " + generated_by(", ".join(sorted(f"{s.name} service.yaml" for s in specs)))
    files = {f"{uid}.json": dump_json(d) for uid, d in boards.items()}
    files["provisioning/dashboards.yaml"] = header + "\n" + yaml.safe_dump(
        provisioning(), sort_keys=True)
    files["configmap.yaml"] = header + "\n" + yaml.safe_dump(
        configmap(boards), sort_keys=True, width=1 << 20)
    return files
