"""opsplane test against a real service: tests/apps/blackbox_app.py under uvicorn on loopback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from apps.blackbox_server import free_port, serve

import opsplane.testing.blackbox as bb
from opsplane.cli.main import main
from opsplane.testing.blackbox.environment import parse_environment

COLLECTIONS = Path(__file__).resolve().parent / "apps" / "collections"
TOKEN = "s3cr3t-T0ken-4-tests"


@pytest.fixture(scope="module")
def app() -> Iterator[str]:
    with serve({"APP_TOKEN": TOKEN}) as base:
        yield base


@pytest.fixture(scope="module")
def broken_app() -> Iterator[str]:
    """The deliberately broken build: POST /items answers 500."""
    with serve({"APP_BROKEN": "1", "APP_TOKEN": TOKEN}) as base:
        yield base


@pytest.fixture
def local(app: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("RUNNER_TEST_URL", app)
    monkeypatch.setenv("RUNNER_TEST_TOKEN", TOKEN)
    return app


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["test", "--dir", str(COLLECTIONS), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _normal(text: str) -> str:
    """Item ids and timings vary between runs; everything else is pinned."""
    text = re.sub(r"I-\d+", "I-N", text)
    text = re.sub(r"got \d+ ms", "got N ms", text)
    text = re.sub(r" +\d+ ms$", " N ms", text, flags=re.M)
    return re.sub(r"in \d+\.\d+ s", "in N s", text)


def test_passing_collection_prints_one_line_per_request_and_exits_0(
        local: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "-t", "pass", "-e", "local")
    assert (code, err) == (0, "")
    lines = _normal(out).splitlines()
    assert lines[0] == (f"opsplane test: items pass ({COLLECTIONS}/test.pass.yaml) against "
                        f"local ({local}): 6 requests")
    assert [ln.split()[:2] for ln in lines[1:7]] == [["ok", "readiness"], ["ok", "create"],
                                                     ["ok", "read"], ["ok", "list"],
                                                     ["ok", "unknown"], ["ok", "private"]]
    assert lines[3].split()[3:] == ["GET", "/items/I-N", "200", "N", "ms"]
    assert lines[-1] == "PASSED: 6 requests, 6 passed in N s"


def test_failing_collection_shows_expected_vs_actual_and_the_response(
        local: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "-t", "fail", "-e", "local")
    assert code == 1
    body = '{"id":"I-N","name":"gadget","qty":2,"tags":[],"owner":null}'
    detail = [ln.strip() for ln in _normal(out).splitlines() if ln.startswith("         ")]
    assert detail == [
        "status: expected 200, got 201",
        "header content-type: expected 'text/html', got 'application/json'",
        '$.name: expected "widget", got "gadget"',
        "$.qty type: expected string, got integer 2",
        '$.id: expected to match /^O-/, got "I-N"',
        "$.tags length: expected 1, got 0",
        "$.nope: expected 1, got nothing (the path matched no value)",
        f"response: {body}",
        "health: expected a health+json status 'pass', got no status field",
        f"response: {body}",
        "body: expected JSON, got a non-JSON body (text/plain)",
        "response: plain text, not JSON",
        "time: expected <= 1 ms, got N ms",
        'response: {"slept":true}',
        "capture nothing: expected a value at $.not.there, got nothing (the path matched no "
        "value)",
        f"response: {body}",
    ]
    assert _normal(out).splitlines()[-1] == "FAILED: 5 requests, 0 passed, 5 failed in N s"


def test_captures_chain_between_requests_and_stay_per_iteration(local: str) -> None:
    col = bb.load_collection(COLLECTIONS / "test.pass.yaml")
    env = bb.load_environment(COLLECTIONS / "env.local.yaml")
    result = bb.run(col, env, iterations=4, concurrency=2)
    assert result.ok, [r.lines() for r in result.results if not r.passed]
    assert len(result.results) == 24
    assert [r.iteration for r in result.results] == [i for i in (1, 2, 3, 4) for _ in range(6)]
    created = {r.iteration: json.loads(r.excerpt)["id"] for r in result.results
               if r.name == "create item"}
    read = {r.iteration: r.url for r in result.results if r.name == "read item"}
    assert len(set(created.values())) == 4, "each iteration created its own item"
    for it, item_id in created.items():
        assert read[it] == f"{local}/items/{item_id}"


def test_broken_build_fails_smoke_with_a_precise_message(
        broken_app: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RUNNER_TEST_URL", broken_app)
    monkeypatch.setenv("RUNNER_TEST_TOKEN", TOKEN)
    code, out, _ = _cli(capsys, "-t", "pass", "-e", "local", "--tags", "smoke")
    assert code == 1
    lines = [ln.rstrip() for ln in _normal(out).splitlines()]
    assert lines[0].endswith("3 requests")
    assert lines[2].split()[:3] == ["FAIL", "create", "item"]
    assert lines[3:8] == [
        "         status: expected 201, got 500",
        r"         header location: expected to match /^/items/I-\d+$/, got absent",
        '         $.name: expected "widget", got nothing (the path matched no value)',
        '         $.owner: expected "C-1010", got nothing (the path matched no value)',
        "         capture itemId: expected a value at $.id, got nothing (the path matched no "
        "value)",
    ]
    assert lines[9] == ('         response: {"error":{"code":"INTERNAL","message":"db write '
                        'failed"}}')
    assert lines[10].split()[:3] == ["ERR", "read", "item"]
    assert lines[11] == "         variable {{itemId}} has no value (its capture failed earlier)"
    assert lines[-1] == "FAILED: 3 requests, 1 passed, 1 failed, 1 error in N s"


def test_wait_until_ready_times_out_with_one_clear_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens there
    (tmp_path / "env.down.yaml").write_text(f"baseUrl: http://127.0.0.1:{port}\n")
    (tmp_path / "test.up.yaml").write_text("name: up\nrequests:\n  - {name: a, url: /a}\n")
    report = tmp_path / "r.xml"
    code = main(["test", "-t", "up", "-e", "down", "--dir", str(tmp_path), "--wait", "1s",
                 "--quiet", "--report", "junit", "--out", str(report)])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert re.fullmatch(
        rf"error: service not ready: http://127\.0\.0\.1:{port}/healthz/readiness did not "
        r"answer 200 within 1s \(\d+ attempts; last: connection refused\)\n", err), err
    import xml.etree.ElementTree as ET

    root = ET.fromstring(report.read_text())
    assert (root.get("tests"), root.get("errors")) == ("1", "1")
    error = root.find(".//testcase[@name='wait until ready']/error")
    assert error is not None
    assert error.get("message") == err.removeprefix("error: ").strip()


def test_wait_until_ready_polls_through_503_then_runs() -> None:
    import asyncio

    with serve({"APP_READY_AFTER": "1.5"}) as base:
        env = parse_environment({"baseUrl": base})
        with pytest.raises(bb.NotReadyError) as e:
            asyncio.run(bb.wait_until_ready(env, 0.3))
        assert re.fullmatch(
            rf"service not ready: {base}/healthz/readiness did not answer 200 within 0\.3s "
            r'\(\d+ attempts; last: 503 \{"status":"fail","checks":\{"db":\[\{"status":'
            r'"fail"\}\]\}\}\)', str(e.value)), str(e.value)
        attempts = asyncio.run(bb.wait_until_ready(env, 30))
        assert attempts > 1


def test_repeat_and_concurrency_count_every_request(
        local: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "r.json"
    code, out, _ = _cli(capsys, "-t", "pass", "-e", "local", "-n", "5", "-c", "3",
                        "--report", "json", "--out", str(out_file))
    assert code == 0
    data = json.loads(out_file.read_text())
    assert data["summary"] == {**data["summary"], "ok": True, "requests": 30, "passed": 30,
                               "failed": 0, "errors": 0}
    assert (data["iterations"], data["concurrency"]) == (5, 3)
    table = [ln.split() for ln in out.splitlines() if ln.startswith("  ")]
    assert table[0] == ["request", "runs", "failed", "p50", "ms", "p95", "ms", "max", "ms"]
    assert [row[-5:-3] for row in table[1:]] == [["5", "0"]] * 6


def test_bail_stops_at_the_first_failure(local: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "-t", "fail", "-e", "local", "--bail", "-n", "3")
    assert code == 1
    assert _normal(out).splitlines()[-1] == ("FAILED: 1 request, 0 passed, 1 failed, "
                                             "14 not run (--bail) in N s")


def test_quiet_prints_failures_and_the_summary_only(
        local: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "-t", "pass", "-e", "local", "--quiet")
    assert code == 0
    assert _normal(out) == "PASSED: 6 requests, 6 passed in N s\n"


def test_tags_select_requests(local: str) -> None:
    col = bb.load_collection(COLLECTIONS / "test.pass.yaml")
    env = bb.load_environment(COLLECTIONS / "env.local.yaml")
    result = bb.run(col, env, tags=["smoke"])
    assert [r.name for r in result.results] == ["readiness", "create item", "read item"]


def test_timeouts_and_refused_connections_are_request_errors(app: str, tmp_path: Path) -> None:
    port = free_port()
    col_file = tmp_path / "test.t.yaml"
    col_file.write_text(
        "name: t\nrequests:\n  - name: slow\n    url: /slow?ms=3000\n    timeout_ms: 200\n"
        f"  - name: refused\n    url: http://127.0.0.1:{port}/x\n")
    result = bb.run(bb.load_collection(col_file), parse_environment({"baseUrl": app}))
    assert [(r.outcome, r.error) for r in result.results] == [
        ("error", "no response within 200 ms (timeout)"), ("error", "connection refused")]
    assert not result.ok


def test_secrets_never_reach_output_or_reports(
        app: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    wrong = "wr0ng-but-still-SECRET-value"
    monkeypatch.setenv("RUNNER_TEST_URL", app)
    monkeypatch.setenv("RUNNER_TEST_TOKEN", wrong)
    (tmp_path / "test.s.yaml").write_text(
        "name: secrets\nrequests:\n"
        "  - name: private\n    url: /private\n"
        "    headers: {Authorization: 'Bearer {{token}}'}\n"
        "  - name: echo\n    url: /echo\n    query: {k: '{{token}}'}\n"
        "    expect: {status: 500, json: {$.query.k: '{{token}}'}}\n")
    (tmp_path / "env.s.yaml").write_text(
        (COLLECTIONS / "env.local.yaml").read_text())
    seen = []
    for fmt in ("junit", "html", "json"):
        report = tmp_path / f"report.{fmt}"
        code = main(["test", "-t", "s", "-e", "s", "--dir", str(tmp_path), "--report", fmt,
                     "--out", str(report)])
        out, err = capsys.readouterr()
        assert code == 1
        seen += [out, err, report.read_text()]
    code = main(["test", "-t", "s", "-e", "s", "--dir", str(tmp_path), "--report", "json",
                 "--out", "-"])
    out, err = capsys.readouterr()
    seen += [out, err]
    text = "\n".join(seen)
    assert wrong not in text
    assert '"got":"Bearer ***"' in text, "the echoed header is in the excerpt, masked"
    assert f"{app}/echo?k=***" in text, "the URL is masked too"
    assert "$.query.k: expected \"***\"" not in text, "that check passed: no line for it"
    data = json.loads(out)
    assert data["results"][1]["failures"] == [
        {"check": "status", "expected": "500", "actual": "200"}]


def test_expected_value_from_a_failed_capture_is_an_error_not_a_crash(
        app: str, tmp_path: Path) -> None:
    col = tmp_path / "test.c.yaml"
    col.write_text("name: c\nrequests:\n"
                   "  - {name: make, method: POST, url: /items, json: {nope: 1},\n"
                   "     capture: {itemId: $.id}, expect: {status: 400}}\n"
                   "  - name: check\n    url: /items?x=1\n    query: {y: 2}\n"
                   "    expect: {json: {$.id: '{{itemId}}'}}\n")
    result = bb.run(bb.load_collection(col), parse_environment({"baseUrl": app}))
    make, check = result.results
    assert [f.line() for f in make.failures] == [
        "capture itemId: expected a value at $.id, got nothing (the path matched no value)"]
    assert (check.status, check.url) == (200, f"{app}/items?x=1&y=2")
    assert check.error == "variable {{itemId}} has no value (its capture failed earlier)"
