"""The workflows (ci, release, the reusable service pipeline, orders' caller) and the
Jenkinsfile: GitHub's workflow schema, actionlint, zizmor, and the hardening rules."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
CALLER = ROOT / "examples" / "orders" / ".github" / "workflows" / "deploy.yml"
ALL = [WORKFLOWS / "ci.yml", WORKFLOWS / "release.yml", WORKFLOWS / "service.yml", CALLER]
IDS = [p.name if p != CALLER else "orders-deploy.yml" for p in ALL]
SHA_PIN = re.compile(r"^\s*-?\s*uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+\s*$")
STAGES = ("gates", "build", "deploy", "verify", "rollback")


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True)  # YAML 1.1 reads the key `on` as a boolean; GitHub does not
    return dict(doc)


def venv_tool(name: str) -> str:
    """A tool installed from PyPI beside this Python (the dev extra), or on PATH."""
    here = Path(sys.executable).parent / name
    path = str(here) if here.exists() else shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed (pip install -e '.[dev]')")
        pytest.skip(f"{name} not installed")
    return path


def steps(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job, s) for job, j in doc["jobs"].items() for s in j.get("steps", [])]


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_workflow_schema(path: Path) -> None:
    try:
        from test_helm_local import workflow_errors
    except ModuleNotFoundError:
        from tests.test_helm_local import workflow_errors
    assert workflow_errors(path) == []


def test_actionlint_is_clean() -> None:
    r = subprocess.run([venv_tool("actionlint"), "-oneline", *map(str, ALL)],
                       capture_output=True, text=True, check=False, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == ""


def zizmor(paths: list[Path]) -> list[dict[str, Any]]:
    r = subprocess.run([venv_tool("zizmor"), "--offline", "--format", "json", "--config",
                        str(ROOT / ".github" / "zizmor.yml"), *map(str, paths)],
                       capture_output=True, text=True, check=False, timeout=120)
    assert r.returncode in (0, 11, 12, 13, 14), r.stderr  # 1x: findings of that severity
    return list(json.loads(r.stdout))


def test_zizmor_finds_no_high_or_medium() -> None:
    found = [f"{f['ident']} ({f['determinations']['severity']})" for f in zizmor(ALL)
             if f["determinations"]["severity"] in ("High", "Medium")]
    assert found == []


def test_zizmor_would_catch_an_injection(tmp_path: Path) -> None:
    """The audit can fail: an input expanded inside run: is a high finding."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    text = (WORKFLOWS / "service.yml").read_text().replace(
        'run: opsplane pipeline gates --dir "$SERVICE_DIR"',
        'run: opsplane pipeline gates --dir "${{ inputs.service-dir }}"')
    bad.write_text(text)
    assert any(f["ident"] == "template-injection"
               and f["determinations"]["severity"] == "High" for f in zizmor([bad]))


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_actions_pinned_to_commits_with_the_version(path: Path) -> None:
    for line in path.read_text().splitlines():
        if "uses:" not in line or line.strip().startswith("#"):
            continue
        ref = line.split("uses:", 1)[1].strip()
        if ref.startswith(("./", "opsplane/opsplane/.github/workflows/")):
            continue
        assert SHA_PIN.match(line), f"{path.name}: not pinned to a SHA with # vX.Y.Z: {line}"


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_inputs_reach_scripts_only_through_env(path: Path) -> None:
    for job, s in steps(load(path)):
        assert "${{" not in s.get("run", ""), f"{path.name}: {job}: {s.get('name')}"


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_least_permissions_per_job(path: Path) -> None:
    doc = load(path)
    assert doc["permissions"] == {}, "nothing granted at the top: each job asks for its own"
    allowed_writes = {"packages", "id-token", "attestations", "contents"}
    for name, job in doc["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{path.name}: {name} states its permissions"
        writes = {k for k, v in perms.items() if v == "write"}
        assert writes <= allowed_writes, (name, writes)
        if "contents" in writes:  # only the job that creates the GitHub release
            assert name == "github-release"
        if writes & {"packages", "id-token", "attestations"}:
            assert name in ("build", "image", "chart", "pypi", "pipeline"), name


@pytest.mark.parametrize("path", ALL, ids=IDS)
def test_checkout_does_not_persist_credentials(path: Path) -> None:
    for job, s in steps(load(path)):
        if s.get("uses", "").startswith("actions/checkout@"):
            assert s.get("with", {}).get("persist-credentials") is False, job


def test_deploys_are_serialised_per_environment() -> None:
    doc = load(WORKFLOWS / "service.yml")
    deploys = {n: j for n, j in doc["jobs"].items() if "environment" in j}
    assert set(deploys) == {"staging", "production"}
    for name, job in deploys.items():
        assert job["environment"] == name
        assert job["concurrency"]["group"].endswith(f"-{name}")
        assert job["concurrency"]["cancel-in-progress"] is False


def _pipeline_stages(text: str) -> list[str]:
    return re.findall(r"opsplane pipeline ([a-z-]+)", text)


def _run_text(path: Path) -> str:
    return "\n".join(s.get("run", "") for _, s in steps(load(path)))


def test_service_workflow_only_calls_the_stage_commands() -> None:
    """Steps are commands: every stage is an `opsplane pipeline` call, in pipeline order."""
    stages = _pipeline_stages(_run_text(WORKFLOWS / "service.yml"))
    assert stages == ["gates", "build", "deploy", "verify", "rollback", "load", "deploy",
                      "verify", "rollback"]
    doc = load(WORKFLOWS / "service.yml")
    order = list(doc["jobs"])
    assert order == ["gates", "build", "staging", "production"]
    assert [doc["jobs"][j].get("needs") for j in order[1:]] == ["gates", "build", "staging"]
    for env in ("staging", "production"):
        rollback = next(s for s in doc["jobs"][env]["steps"]
                        if "pipeline rollback" in s.get("run", ""))
        assert rollback["if"] == "failure()"


def test_jenkinsfile_calls_the_same_stages() -> None:
    text = "\n".join(line for line in (ROOT / "deploy/pipeline/Jenkinsfile").read_text()
                     .splitlines() if not line.lstrip().startswith("//"))
    assert re.findall(r"stage\('([^']+)'\)", text) == ["gates", "build", "staging",
                                                       "production"]
    assert _pipeline_stages(text) == ["gates", "build", "deploy", "verify", "rollback"]
    assert "catch (err)" in text
    assert "lock(" in text


def test_every_stage_call_parses() -> None:
    """Each `opsplane pipeline ...` line of the workflows and the Jenkinsfile is a command
    line the CLI takes (stages and flags exist; shell variables stand as they are)."""
    import shlex

    from opsplane.cli.main import build_parser

    parser = build_parser()
    jenkins = (ROOT / "deploy/pipeline/Jenkinsfile").read_text()
    scripts = re.findall(r"sh '''(.*?)'''", jenkins, re.S) + re.findall(r"sh '([^']*)'",
                                                                         jenkins)
    texts = [_run_text(WORKFLOWS / "service.yml"), _run_text(WORKFLOWS / "release.yml"),
             "\n".join(scripts)]
    calls = []
    for text in texts:
        for line in re.sub(r"\\\n\s*", " ", text).splitlines():
            if "opsplane pipeline " in line:
                argv = shlex.split(line[line.index("opsplane pipeline "):].split(" > ")[0])
                calls.append(argv)
                parser.parse_args(argv[1:])  # SystemExit(2) on an unknown stage or flag
    assert {a[2] for a in calls} == {"gates", "build", "deploy", "verify", "rollback", "load",
                                     "release-notes"}


def test_orders_caller_matches_the_reusable_workflow() -> None:
    service = load(WORKFLOWS / "service.yml")["on"]["workflow_call"]
    call = load(CALLER)["jobs"]["pipeline"]
    assert call["uses"] == "opsplane/opsplane/.github/workflows/service.yml@v1"
    required = {k for k, v in service["inputs"].items() if v.get("required")}
    assert required <= set(call["with"]) <= set(service["inputs"])
    required_secrets = {k for k, v in service["secrets"].items() if v.get("required")}
    assert required_secrets <= set(call["secrets"]) <= set(service["secrets"])
    assert (ROOT / call["with"]["service-dir"] / "service.yaml").is_file()
    # the caller grants what the called jobs ask for, no more
    asked: dict[str, str] = {}
    for job in load(WORKFLOWS / "service.yml")["jobs"].values():
        for k, v in job["permissions"].items():
            if v == "write" or k not in asked:
                asked[k] = v
    assert call["permissions"] == asked


def test_release_workflow_publishes_everything_on_a_version_tag() -> None:
    doc = load(WORKFLOWS / "release.yml")
    assert doc["on"] == {"push": {"tags": ["v[0-9]+.[0-9]+.[0-9]+"]}}
    jobs = doc["jobs"]
    assert {"dist", "pypi", "chart", "image", "github-release"} <= set(jobs)
    text = _run_text(WORKFLOWS / "release.yml")
    assert "make dist" in text
    assert "make chart-push" in text
    assert "--push" in text
    assert "--digest-file" in text
    assert any(s.get("uses", "").startswith("actions/attest-build-provenance@")
               for s in jobs["image"]["steps"])
    assert "opsplane pipeline release-notes" in text
    assert "gh release create" in text
    assert set(jobs["github-release"]["needs"]) == {"dist", "chart", "image"}
    makefile = (ROOT / "Makefile").read_text()
    for target in ("dist", "chart-push"):
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_ci_runs_make_test() -> None:
    doc = load(WORKFLOWS / "ci.yml")
    assert set(doc["on"]) == {"push", "pull_request"}
    assert "make test" in _run_text(WORKFLOWS / "ci.yml")
