"""The pipeline's gates on the orders caller and on broken copies of it; chart lint refusing
what render refuses; the deploy, rollback and build commands; release notes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from opsplane import pipeline

ROOT = Path(__file__).resolve().parent.parent
ORDERS = ROOT / "examples" / "orders"

try:  # tests/ is a plain folder or a package, depending on the checkout
    from conftest import require_tool
except ModuleNotFoundError:
    from tests.conftest import require_tool


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsplane.cli.main", *args], capture_output=True,
                          text=True, check=False, timeout=300, cwd=cwd)


# --- chart lint refuses exactly what render refuses ---------------------------------------

BAD_VALUES = {
    "prometheusRule enabled without rules": {"prometheusRule": {"enabled": True}},
    "a credential as a fact": {"facts": {"DB_PASSWORD": "hunter2hunter2"}},
    "a value the schema refuses": {"replicaCount": "two"},
}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_chart_lint_refuses_what_render_refuses(name: str, tmp_path: Path) -> None:
    pytest.importorskip("helm_python")
    from helm import render as chart

    values = chart.merge({"name": "orders", "image": {"repository": "orders", "tag": "1"}},
                         BAD_VALUES[name])
    with pytest.raises(chart.ChartError) as refused:
        chart.render(values)
    findings = chart.lint(values)
    assert str(refused.value) in findings
    # the same through the commands, with the same values file
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    rendered, linted = cli("chart", "render", "-f", str(path)), cli("chart", "lint", "-f",
                                                                      str(path))
    assert rendered.returncode != 0
    assert linted.returncode == 1
    assert str(refused.value) in rendered.stderr
    assert str(refused.value) in linted.stdout.splitlines()
    assert "hunter2" not in rendered.stderr + linted.stdout + linted.stderr


def test_chart_lint_and_render_agree_on_good_values() -> None:
    pytest.importorskip("helm_python")
    from helm import render as chart

    values = chart.merge({"image": {"tag": "1"}}, chart.load_values(
        pipeline.Service.at(ORDERS).values_files("staging")))
    assert chart.lint(values) == []
    assert chart.render(values)


# --- the gates ------------------------------------------------------------------------------

def test_orders_passes_every_gate() -> None:
    pytest.importorskip("helm_python")
    require_tool("promtool")
    require_tool("amtool")
    r = cli("pipeline", "gates", "--dir", str(ORDERS))
    assert r.returncode == 0, r.stdout + r.stderr
    names = [line.split()[1:3] for line in r.stdout.splitlines() if line[:4] in ("ok  ", "FAIL")]
    assert [" ".join(n) for n in names] == [
        "gate: logstd", "gate: secrets", "gate: spec", "gate: chart", "gate: dashboards",
        "gate: collections"]
    assert "staging: chart lint and render ok" in r.stdout
    assert "production: chart lint and render ok" in r.stdout
    assert "alert rule tests: ok (promtool test)" in r.stdout
    assert "alertmanager routes: ok (amtool check-config)" in r.stdout
    assert "6/6 passed" in r.stderr


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A copy of orders with one fault per gate."""
    svc = tmp_path / "orders"
    shutil.copytree(ORDERS, svc, ignore=shutil.ignore_patterns("*.db", "__pycache__", "runs"))
    # logstd lint: a log call with a key outside the dictionary's spelling
    (svc / "orders" / "extra.py").write_text(
        'import logging\n\nlog = logging.getLogger(__name__)\n\n\ndef f() -> None:\n'
        '    log.info("paid", extra={"customer_id": "C-1"})\n')
    # secrets scan: a committed token
    (svc / "notes.env").write_text("GITHUB_TOKEN=ghp_" + "a1B2c3D4e5F6g7H8i9J0" * 2 + "\n")
    # chart lint: production turns the PrometheusRule on without rules (render would fail)
    prod = svc / "chart" / "values-production.yaml"
    prod.write_text(prod.read_text() + "prometheusRule: {enabled: true}\n")
    # collections: the smoke test uses a variable no environment defines
    smoke = svc / "tests" / "test.smoke.yaml"
    smoke.write_text(smoke.read_text().replace('"{{customerId}}"', '"{{customerNo}}"', 1))
    return svc


def test_gates_fail_each_on_its_fault(broken: Path) -> None:
    pytest.importorskip("helm_python")
    require_tool("promtool")
    require_tool("amtool")
    stages = {s.name.removeprefix("gate: "): s for s in pipeline.gates(broken)}
    assert {n for n, s in stages.items() if not s.ok} == {
        "logstd lint", "secrets scan", "chart lint", "collections"}
    assert stages["spec check"].ok
    assert stages["dashboards and alerts"].ok
    assert any("customer_id" in line for line in stages["logstd lint"].lines)
    assert any("notes.env" in line for line in stages["secrets scan"].lines)
    assert not any("a1B2c3D4" in line for s in stages.values() for line in s.lines)
    chart_lines = stages["chart lint"].lines
    assert chart_lines == [line for line in chart_lines if line.startswith("production: ")]
    assert any("prometheusRule.enabled needs" in line for line in chart_lines)
    assert any("customerNo" in line for line in stages["collections"].lines)


def test_gates_name_a_missing_environment_file(tmp_path: Path) -> None:
    svc = tmp_path / "orders"
    shutil.copytree(ORDERS, svc, ignore=shutil.ignore_patterns("*.db", "__pycache__"))
    (svc / "chart" / "values-production.yaml").unlink()
    (svc / "tests" / "env.staging.yaml").unlink()
    chart_stage = pipeline.gates(svc, ["staging", "production"])[3]
    assert chart_stage.lines == [
        f"production: {svc}/chart/values-production.yaml: missing (values for the production "
        "environment)"]
    coll = pipeline.gates(svc)[5]
    assert coll.lines == [f"{svc}/tests/env.staging.yaml: missing (the environment the "
                          "pipeline verifies)"]


def test_gates_refuse_a_folder_without_service_yaml(tmp_path: Path) -> None:
    r = cli("pipeline", "gates", "--dir", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr == f"error: {tmp_path}: no service.yaml (give the service folder with " \
                       "--dir)\n"


def test_dashboard_queries_become_rules_promtool_parses(tmp_path: Path) -> None:
    """A dashboard query promtool cannot parse fails the gate (the check can fail)."""
    promtool = require_tool("promtool")
    boards = {"b": {"panels": [{"id": 1, "targets": [
        {"expr": "sum(rate(x_total{job=~\"$job\"}[$__rate_interval]))"},
        {"expr": "sum(rate(x_total[5m])"}]}]}}
    rules = pipeline.dashboard_rules(boards)["groups"][0]["rules"]
    assert rules[0] == {"record": "dashboard_b_1_0",
                        "expr": "sum(rate(x_total{job=~\"x\"}[5m]))"}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": rules}]}))
    r = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                       text=True, check=False)
    assert r.returncode == 1
    assert "dashboard_b_1_1" in r.stdout + r.stderr or "unclosed" in r.stdout + r.stderr


# --- deploy, rollback, build ------------------------------------------------------------------

def test_deploy_is_helm_upgrade_with_the_environment_values() -> None:
    r = cli("pipeline", "deploy", "--dir", str(ORDERS), "--env", "staging", "--image",
            "ghcr.io/acme/orders:abc123", "--chart-version", "1.2.3", "--dry-run")
    assert r.returncode == 0, r.stderr
    chart = ORDERS / "chart"
    assert r.stdout.split() == [
        "helm", "upgrade", "--install", "orders", "oci://ghcr.io/opsplane/charts/service",
        "--version", "1.2.3", "--namespace", "staging", "--create-namespace", "--atomic",
        "--wait", "--timeout", "10m", "-f", f"{chart}/values.yaml",
        "-f", f"{chart}/values-resources.yaml", "-f", f"{chart}/values-staging.yaml",
        "--set-string", "image.repository=ghcr.io/acme/orders", "--set-string",
        "image.tag=abc123"]
    r = cli("pipeline", "rollback", "--dir", str(ORDERS), "--env", "production", "--dry-run")
    assert r.stdout.split() == ["helm", "rollback", "orders", "--namespace", "production",
                                "--wait", "--timeout", "10m"]


@pytest.mark.parametrize(("args", "message"), [
    (["--env", "qa", "--image", "r/orders:1"],
     "chart/values-qa.yaml: missing (values for the qa environment)"),
    (["--env", "staging", "--image", "registry:5000/orders"],
     "--image 'registry:5000/orders': give repository:tag (the tag the build pushed)"),
])
def test_deploy_refuses_bad_input_in_one_line(args: list[str], message: str) -> None:
    r = cli("pipeline", "deploy", "--dir", str(ORDERS), *args, "--dry-run")
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1
    assert r.stderr.rstrip().endswith(message)


def test_build_pushes_with_provenance_and_sbom() -> None:
    argv = pipeline.build_argv("ghcr.io/acme/orders:1", dockerfile="Dockerfile", push=True,
                               metadata_file="m.json")
    assert argv[:3] == ["docker", "buildx", "build"]
    assert {"--push", "--provenance=mode=max", "--sbom=true"} <= set(argv)
    assert argv[argv.index("--metadata-file") + 1] == "m.json"
    assert pipeline.build_argv("o:1", dockerfile="D")[:2] == ["docker", "build"]


def test_read_digest(tmp_path: Path) -> None:
    meta = tmp_path / "m.json"
    meta.write_text('{"containerimage.digest": "sha256:' + "ab" * 32 + '"}')
    assert pipeline.read_digest(meta) == "sha256:" + "ab" * 32
    meta.write_text("{}")
    with pytest.raises(pipeline.PipelineError, match=r"containerimage\.digest missing"):
        pipeline.read_digest(meta)


# --- release notes --------------------------------------------------------------------------

CHANGELOG = """\
# Changelog

## [Unreleased]

### Added
- something not released

## [0.2.0] - 2026-12-06

### Added
- `opsplane pipeline`: the stages as commands.

### Fixed
- chart lint refuses what render refuses.

## [0.1.0] - 2026-11-01

- first release

[0.2.0]: https://example.com/compare/v0.1.0...v0.2.0
"""


def test_release_notes_are_the_tag_section(tmp_path: Path) -> None:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(CHANGELOG)
    r = cli("pipeline", "release-notes", "v0.2.0", "--changelog", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("### Added\n- `opsplane pipeline`: the stages as commands.\n\n"
                        "### Fixed\n- chart lint refuses what render refuses.\n")
    assert pipeline.changelog_section(CHANGELOG, "0.1.0") == "- first release\n"


@pytest.mark.parametrize(("version", "message"), [
    ("v0.3.0", "no section '## [0.3.0]'"),
    ("latest", "'latest': not a version (give 1.2.3 or the tag v1.2.3)"),
])
def test_release_notes_refuse_in_one_line(tmp_path: Path, version: str, message: str) -> None:
    path = tmp_path / "CHANGELOG.md"
    path.write_text(CHANGELOG)
    r = cli("pipeline", "release-notes", version, "--changelog", str(path))
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.splitlines() == [f"error: {path}: {message}" if "section" in message
                                     else f"error: {message}"]


def test_workflow_permissions_are_not_secrets() -> None:
    """`id-token: write` (GitHub's OIDC permission) is no credential; a real key still is."""
    from opsplane.secretscan import is_sensitive_key, scan_text

    assert not is_sensitive_key("id-token")
    assert scan_text("permissions:\n  id-token: write\n", "ci.yml") == []
    assert scan_text("api-token: Zr8qLm2pXv9tKw4s\n", "x.yml")


def test_load_stage_is_loadtest_run_then_recommend_limits() -> None:
    """The load stage's commands parse as loadtest's own (same flags, no drift)."""
    from loadtest._cli import build_parser

    run, recommend = pipeline.load_argvs(
        ORDERS, "staging", target="https://orders.staging.example", kubectl="orders-0",
        expect_workers=4, prometheus="http://prometheus:9090", selector='pod=~"orders-.*"')
    parser = build_parser()
    r = parser.parse_args(run[1:])
    assert (r.target, r.kubectl, r.namespace, r.expect_workers) == (
        "https://orders.staging.example", "orders-0", "staging", 4)
    assert r.master_bind_host == "0.0.0.0"
    rec = parser.parse_args(recommend[1:])
    assert rec.run_dir == r.out
    assert rec.write_values == str(ORDERS / "chart" / "values-resources.yaml")
    assert (rec.prometheus, rec.selector) == ("http://prometheus:9090", 'pod=~"orders-.*"')
    with pytest.raises(pipeline.UsageError, match="go together"):
        pipeline.load_argvs(ORDERS, "staging", target="http://x", docker="orders",
                            prometheus="http://prometheus:9090")


def test_a_new_service_from_init_passes_the_file_gates(tmp_path: Path) -> None:
    """`opsplane init` writes what the gates read: values and env files per environment."""
    pytest.importorskip("helm_python")
    from opsplane.generate.scaffold import init_service

    init_service("invoices", tmp_path / "invoices", team="billing")
    env = yaml.safe_load((tmp_path / "invoices/tests/env.staging.yaml").read_text())
    assert env["baseUrl"] == "${SERVICE_URL}"
    stages = {s.name: s for s in pipeline.gates(tmp_path / "invoices")}
    for name in ("logstd lint", "secrets scan", "spec check", "chart lint", "collections"):
        assert stages[f"gate: {name}"].ok, stages[f"gate: {name}"].lines
