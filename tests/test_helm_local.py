"""Dockerfile, compose file and Minikube script: checked by their parsers and schemas.

The workflows and the Jenkinsfile: tests/test_pipeline_workflows.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose_errors(path: Path, shared_schemas: Path) -> list[str]:
    import jsonschema

    schema = json.loads((shared_schemas / "compose" / "compose-spec.json").read_text())
    doc = yaml.safe_load(path.read_text())
    return [f"{list(e.absolute_path)}: {e.message}"
            for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]


def check_dockerfile(path: Path) -> dict[str, Any]:
    """The standard's rules for a service image; returns facts for further asserts."""
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(path=str(path))
    instructions = parser.structure
    froms = [i for i in instructions if i["instruction"] == "FROM"]
    assert len(froms) >= 2, "multi-stage: a build stage and a runtime stage"
    final = instructions[instructions.index(froms[-1]):]
    users = [i["value"] for i in final if i["instruction"] == "USER"]
    assert users, "the runtime stage sets USER"
    assert users[-1].split(":")[0] not in ("root", "0"), "runs as non-root"
    assert any(i["instruction"] == "HEALTHCHECK" for i in final)
    entry = [i["value"] for i in final if i["instruction"] == "ENTRYPOINT"]
    assert entry, "an ENTRYPOINT"
    argv = json.loads(entry[-1])  # exec form: opsplane serve is PID 1 and gets SIGTERM itself
    assert argv[:2] == ["opsplane", "serve"]
    assert any(i["instruction"] == "STOPSIGNAL" and i["value"] == "SIGTERM" for i in final)
    assert "slim" in parser.baseimage or "slim" in parser.content
    return {"users": users, "entry": argv}


def test_orders_dockerfile() -> None:
    facts = check_dockerfile(ROOT / "examples" / "orders" / "Dockerfile")
    assert facts["users"][-1] == "10001:10001"


def test_chart_runs_the_image_user() -> None:
    values = yaml.safe_load((ROOT / "helm" / "service" / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == 10001


def test_orders_compose_validates(shared_schemas: Path) -> None:
    path = ROOT / "examples" / "orders" / "docker-compose.yaml"
    assert compose_errors(path, shared_schemas) == []
    services = yaml.safe_load(path.read_text())["services"]
    assert {"orders", "payments", "postgres", "prometheus", "alertmanager", "grafana",
            "jaeger"} <= set(services)
    for name in ("orders", "payments"):
        assert services[name]["stop_grace_period"] == "35s"  # = chart's default grace period


def test_compose_mounts_exist() -> None:
    compose = ROOT / "examples" / "orders" / "docker-compose.yaml"
    for svc in yaml.safe_load(compose.read_text())["services"].values():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("."):
                assert (compose.parent / src).exists(), src


def test_local_stack_configs_are_valid() -> None:
    prom = yaml.safe_load((ROOT / "deploy/local/prometheus/prometheus.yml").read_text())
    assert {j["job_name"] for j in prom["scrape_configs"]} >= {"orders", "payments"}
    # Alertmanager's config is the generated routing tree (tests/test_stack.py checks it)
    ds = yaml.safe_load((ROOT / "deploy/local/grafana/provisioning/datasources/"
                         "datasources.yaml").read_text())
    assert {d["type"] for d in ds["datasources"]} == {"prometheus", "jaeger"}


def test_local_configs_with_real_tools(tmp_path: Path) -> None:
    try:  # tests/ is a plain folder or a package, depending on the checkout
        from conftest import require_tool
    except ModuleNotFoundError:
        from tests.conftest import require_tool

    promtool = require_tool("promtool")
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text((ROOT / "deploy/local/prometheus/prometheus.yml").read_text()
                   .replace("/etc/prometheus/rules", str(tmp_path / "rules")))
    r = subprocess.run([promtool, "check", "config", str(cfg)], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_minikube_script_parses() -> None:
    script = ROOT / "deploy" / "minikube.sh"
    r = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    text = script.read_text()
    assert "helm upgrade --install" in text
    assert "--wait" in text
    assert "opsplane test" in text


def workflow_errors(path: Path) -> list[str]:
    import importlib.resources

    import jsonschema

    schema = json.loads(importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
                        .joinpath("github-workflows.json").read_text())
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True)  # YAML 1.1 reads the key `on` as a boolean; GitHub does not
    return [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]


def test_postgres_seed_is_consistent() -> None:
    """The seed runs (SQLite as the SQL engine at hand) and its totals add up."""
    import sqlite3

    con = sqlite3.connect(":memory:")
    con.executescript((ROOT / "deploy/local/postgres/seed.sql").read_text())
    ids = [r[0] for r in con.execute("SELECT id FROM customers ORDER BY id")]
    assert ids == [f"C-{n}" for n in range(1001, 1011)]
    assert con.execute("SELECT count(*) FROM orders").fetchone()[0] == 60
    wrong = con.execute("SELECT count(*) FROM orders o WHERE total_cents != (SELECT "
                        "sum(quantity * price_cents) FROM order_items i WHERE i.order_id = o.id)")
    assert wrong.fetchone()[0] == 0


@pytest.mark.parametrize("name", ["values-local.yaml", "values-payments.yaml"])
def test_orders_chart_values_render_and_validate(name: str) -> None:
    pytest.importorskip("helm_python")
    import kubernetes_validate

    from helm import render as chart

    base = {"name": "orders", "image": {"repository": "orders", "tag": "local"}}
    values = chart.merge(base, chart.load_values([ROOT / "examples/orders/chart" / name]))
    assert chart.lint(values) == []
    for m in chart.render(values):
        kubernetes_validate.validate(m.doc, "1.37.0", strict=True)
