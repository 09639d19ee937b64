"""opsplane test: the collection and environment formats, their errors, the naming convention."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import opsplane.testing.blackbox as bb
from opsplane.cli.main import main
from opsplane.testing.blackbox._files import parse_duration, resolve
from opsplane.testing.blackbox.environment import load_environment, parse_environment
from opsplane.testing.blackbox.runner import check_variables

HERE = Path(__file__).resolve().parent
COLLECTIONS = HERE / "apps" / "collections"
ORDERS = HERE.parent / "examples" / "orders" / "tests"

GOOD = """\
version: 1
name: good
requests:
  - name: a
    url: /a
"""


def test_public_surface_is_pinned() -> None:
    assert bb.__all__ == sorted(bb.__all__)
    assert set(bb.__all__) == {
        "Collection", "CollectionError", "Environment", "Failure", "NotReadyError",
        "RequestResult", "RunResult", "json_schema", "load_collection", "load_environment",
        "render_report", "run", "run_async", "wait_until_ready", "write_report"}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(("text", "message"), [
    (GOOD.replace("url: /a", "url: /a\n    expect:\n      status: 2000"),
     "test.x.yaml:7: requests[0].expect.status: status 2000 is not an HTTP status code "
     "(100..599)"),
    (GOOD + "  - name: b\n    url: /b\n    expect:\n      json:\n        - path: $.a\n"
            "          lenght: 3\n",
     "test.x.yaml:11: requests[1].expect.json[0].lenght: unknown field"),
    (GOOD.replace("url: /a", "url: /a\n    expect:\n      json:\n        - {path: a.b, "
                             "equals: 1}"),
     "test.x.yaml:8: requests[0].expect.json[0].path: JSONPath 'a.b' must start with $"),
    (GOOD.replace("url: /a", "url: /a\n    capture: {id: \"$..[\"}"),
     "test.x.yaml:6: requests[0].capture: capture id: JSONPath '$..[' is invalid: "
     "unexpected end of query"),
    (GOOD.replace("    url: /a", "   url: /a"),
     "test.x.yaml:5: YAML syntax error: expected <block end>, but found "
     "'<block mapping start>'"),
    (GOOD.replace("  - name: a\n", "  - nam: a\n"), "test.x.yaml:4: requests[0].nam: "
     "unknown field (did you mean name?)"),
    (GOOD.replace("url: /a", "url: /a\n    method: FETCH"),
     "test.x.yaml:6: requests[0].method: Input should be 'GET', 'HEAD', 'POST', 'PUT', "
     "'PATCH', 'DELETE' or 'OPTIONS'"),
    (GOOD.replace("url: /a", "url: /a\n    json: {a: 1}\n    body: x"),
     "test.x.yaml:4: requests[0]: give json or body, not both"),
    (GOOD + "  - name: a\n    url: /b\n",
     "test.x.yaml:3: requests: request name 'a' is used twice"),
    (GOOD.replace("url: /a", "url: /a\n    expect:\n      json:\n        - {path: $.a}"),
     "test.x.yaml:8: requests[0].expect.json[0]: give at least one of equals, type, regex, "
     "length, exists"),
    (GOOD.replace("url: /a", "url: a"),
     "test.x.yaml:5: requests[0].url: url 'a' is neither a path (/...) nor an http(s) URL"),
    ("- just\n- a list\n", "test.x.yaml: a collection is a mapping (name, requests, ...)"),
])
def test_bad_collection_is_one_line_with_file_line_and_field(
        tmp_path: Path, text: str, message: str) -> None:
    p = _write(tmp_path, "test.x.yaml", text)
    with pytest.raises(bb.CollectionError) as e:
        bb.load_collection(p)
    assert str(e.value) == f"{tmp_path}/{message}"
    assert "\n" not in str(e.value)


def test_bad_collection_through_the_cli_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "test.x.yaml", GOOD.replace("url: /a", "url: /a\n    expect: {max_ms: -1}"))
    _write(tmp_path, "env.y.yaml", "baseUrl: http://127.0.0.1:9\n")
    code = main(["test", "-t", "x", "-e", "y", "--dir", str(tmp_path), "--wait", "0"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"error: {tmp_path}/test.x.yaml:6: requests[0].expect.max_ms: "
                   "Input should be greater than 0\n")


def test_unknown_and_late_variables_are_caught_before_running(tmp_path: Path) -> None:
    env = parse_environment({"baseUrl": "http://127.0.0.1:9", "variables": {"v": 1}})
    p = _write(tmp_path, "test.x.yaml",
               GOOD.replace("url: /a", "url: /a/{{id}}/{{v}}") + "  - name: b\n    url: /b\n"
               "    tags: [smoke]\n    capture: {id: $.id}\n  - name: c\n    tags: [smoke]\n"
               "    url: /c\n    json: {x: \"{{nope}}\"}\n")
    col = bb.load_collection(p)
    with pytest.raises(bb.CollectionError) as e:
        check_variables(col, env, (), str(p))
    assert str(e.value) == (f"{p}:5: requests[0].url: {{{{id}}}} is captured by 'b', "
                            "which runs later")
    with pytest.raises(bb.CollectionError) as e:
        check_variables(col, env, ("smoke",), str(p))
    assert str(e.value) == (
        f"{p}:13: requests[2].json: unknown variable {{{{nope}}}} (not in the environment's "
        "variables or secrets, the collection's variables, or an earlier capture)")


# -- environments --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("baseUrl: http://x\nsecrets:\n  token: hunter2\n",
     "env.bad.yaml:3: secrets.token: a secret is never written inline; give a reference "
     "instead: {env: VARIABLE} or {file: PATH}"),
    ("baseUrl: http://x\nvariables:\n  a: 1\n  apiToken: hunter2\n",
     "env.bad.yaml:4: variables.apiToken: looks like a secret written inline; move it to "
     "secrets as a reference ({env: VARIABLE} or {file: PATH})"),
    ("baseUrl: http://x\nsecrets:\n  token: {env: RUNNER_TEST_SURELY_UNSET}\n",
     "env.bad.yaml:3: secrets.token: environment variable RUNNER_TEST_SURELY_UNSET is not set"),
    ("baseUrl: http://x\nsecrets:\n  token: {env: A, file: b}\n",
     "env.bad.yaml:3: secrets.token: give exactly one of env or file"),
    ("baseUrl: http://x\nsecrets:\n  token: {file: missing.txt}\n",
     "env.bad.yaml:3: secrets.token: file {dir}/missing.txt does not exist"),
    ("baseUrl: ftp://x\n", "env.bad.yaml:1: baseUrl: 'ftp://x' is not an http(s) URL"),
    ("baseUrl: http://u:p@x\n",
     "env.bad.yaml: baseUrl: carries credentials; use secrets instead"),
    ("baseUrl: ${RUNNER_TEST_SURELY_UNSET}\n",
     "env.bad.yaml:1: baseUrl: environment variable RUNNER_TEST_SURELY_UNSET is not set"),
    ("variables: {}\n", "env.bad.yaml:1: baseUrl: field required"),
    ("baseUrl: http://x\nreadiness: healthz\n",
     "env.bad.yaml:2: readiness: Value error, readiness path 'healthz' must start with /"
     .replace("Value error, ", "")),
])
def test_bad_environment_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    p = _write(tmp_path, "env.bad.yaml", text)
    with pytest.raises(bb.CollectionError) as e:
        load_environment(p)
    assert str(e.value) == f"{tmp_path}/" + message.replace("{dir}", str(tmp_path))


def test_secrets_resolve_by_reference_and_never_show_in_repr(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_TEST_A", "alpha-secret")
    _write(tmp_path, "token.txt", "file-secret-value\n")
    p = _write(tmp_path, "env.s.yaml", "baseUrl: http://h/\nsecrets:\n  a: {env: RUNNER_TEST_A}\n"
                                       "  b: {file: token.txt}\n  c: {env: NOPE_X, optional: "
                                       "true}\n")
    env = load_environment(p)
    assert env.name == "s"
    assert env.base_url == "http://h"
    assert env.secrets == {"a": "alpha-secret", "b": "file-secret-value", "c": ""}
    assert "secret" not in repr(env)
    assert env.mask("x alpha-secret y file-secret-value") == "x *** y ***"


# -- naming convention, durations, schema ----------------------------------------------------

def test_naming_convention_resolves_in_a_folder(tmp_path: Path) -> None:
    _write(tmp_path, "test.smoke.yaml", GOOD)
    _write(tmp_path, "env.local.yaml", "baseUrl: http://x\n")
    assert resolve("smoke", "collection", tmp_path) == tmp_path / "test.smoke.yaml"
    assert resolve("local", "environment", tmp_path) == tmp_path / "env.local.yaml"
    assert resolve(str(tmp_path / "test.smoke.yaml"), "collection") == tmp_path / "test.smoke.yaml"
    with pytest.raises(bb.CollectionError) as e:
        resolve("integration", "collection", tmp_path)
    assert str(e.value) == (f"no collection 'integration' in {tmp_path} (looked for "
                            "test.integration.yaml; found: smoke)")


@pytest.mark.parametrize(("text", "seconds"), [("60s", 60), ("500ms", 0.5), ("2m", 120),
                                               ("30", 30), ("0", 0)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration_is_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "-t", "x", "-e", "y", "--wait", "soon"]) == 2
    assert capsys.readouterr().err == ("error: --wait 'soon': give a duration like 60s, 500ms, "
                                       "2m or 0\n")


@pytest.mark.parametrize(("argv", "message"), [
    (["test"], "error: test: give a collection with -t NAME (test.NAME.yaml)\n"),
    (["test", "-t", "x"], "error: test: give an environment with -e NAME (env.NAME.yaml) or "
                          "--base-url\n"),
    (["test", "-t", "x", "-e", "y", "-n", "0"], "error: test: -n and -c must be at least 1\n"),
    (["test", "-t", "x", "-e", "y", "--out", "r.xml"],
     "error: test: --out needs --report junit|html|json\n"),
])
def test_usage_errors_exit_2(argv: list[str], message: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err == message


def test_schema_is_printed_and_matches_the_docs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", "--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "opsplane test collection (test.<name>.yaml)"
    assert schema["required"] == ["name", "requests"]
    req = schema["$defs"]["Request"]["properties"]
    assert {"json", "capture", "expect", "tags", "url", "method"} <= set(req)
    expect = schema["$defs"]["Expect"]["properties"]
    assert {"status", "headers", "json", "max_ms", "health"} == set(expect)
    docs = (HERE.parent / "docs" / "collections.md").read_text(encoding="utf-8")
    assert json.dumps(bb.json_schema(), indent=2) in docs, \
        "docs/collections.md is stale: paste `opsplane test --schema` into it"


def test_json_schema_validates_the_shipped_collections() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = bb.json_schema()
    files = [*COLLECTIONS.glob("test.*.yaml"), *ORDERS.glob("test.*.yaml")]
    import yaml
    assert len(files) >= 4
    for f in files:
        jsonschema.validate(yaml.safe_load(f.read_text()), schema)


# -- the reference service's collections (run against orders by the lead after the merge) ----

@pytest.mark.parametrize("env_name", ["local", "compose", "minikube"])
@pytest.mark.parametrize("name", ["smoke", "integration"])
def test_orders_collections_load_and_every_variable_is_defined(
        name: str, env_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_URL", "http://orders.example:8080")
    col = bb.load_collection(resolve(name, "collection", ORDERS))
    env = bb.load_environment(resolve(env_name, "environment", ORDERS))
    check_variables(col, env, (), name)
    tags = {t for r in col.requests for t in r.tags}
    assert name in tags
    assert env.variables["customerId"] == "C-1010", "the dedicated test customer"


def test_orders_smoke_is_health_one_read_one_write_under_2s() -> None:
    col = bb.load_collection(ORDERS / "test.smoke.yaml")
    methods = [r.method for r in col.requests]
    assert methods.count("POST") == 1
    assert any(r.expect.health == "pass" for r in col.requests)
    assert all(r.expect.max_ms is not None and r.expect.max_ms <= 2000 for r in col.requests)
    assert all("smoke" in r.tags for r in col.requests)


def test_orders_collections_agree_with_the_api_contract(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Against tests/apps/orders_contract_app.py (the contract, not the service)."""
    from apps.blackbox_server import serve

    def run(base: str, name: str, wait: str = "5s") -> tuple[int, str]:
        env = (ORDERS / "env.local.yaml").read_text().replace("http://127.0.0.1:8080", base)
        (tmp_path / "env.here.yaml").write_text(env)
        code = main(["test", "-t", str(ORDERS / f"test.{name}.yaml"), "-e",
                     str(tmp_path / "env.here.yaml"), "--wait", wait, "--quiet"])
        out = capsys.readouterr().out
        return code, re.sub(r" in \d+\.\d+ s$", "", out.splitlines()[-1]) if code == 0 else out

    with serve(app="orders_contract_app:app") as base:
        assert run(base, "smoke") == (0, "PASSED: 3 requests, 3 passed")
        assert run(base, "integration") == (0, "PASSED: 16 requests, 16 passed")
    with serve({"ORDERS_PAYMENTS_DOWN": "1"}, app="orders_contract_app:app") as base:
        assert run(base, "degraded", wait="0") == (0, "PASSED: 3 requests, 3 passed")
        code, out = run(base, "smoke", wait="0")
    assert code == 1
    assert "health: expected \"pass\", got \"fail\"" in out
    assert '$.status: expected to match /^(paid|created)$/, got "payment_failed"' in out
