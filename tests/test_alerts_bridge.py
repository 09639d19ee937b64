"""The ticket bridge for real (opsplane ticket-bridge under opsplane serve) against the Jira
and GitHub stand-ins, and behind a real Alertmanager that must retry while Jira is down."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerts.sinks import GitHubSink, JiraSink, Sinks
from opsplane.testing.procs import free_port, stop_process, wait_http
from tests.conftest import require_tool

TOKEN = "t0ken-S3NTINEL-never-logged"


def _post(url: str, body: Any, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _hook(status: str, key: str = '{}/{severity="ticket"}:{alertname="X"}') -> dict[str, Any]:
    labels = {"alertname": "ErrorBudgetBurn", "service": "orders", "severity": "ticket",
              "slo": "latency"}
    return {"version": "4", "groupKey": key, "status": status, "receiver": "orders-ticket",
            "groupLabels": {"alertname": "ErrorBudgetBurn"}, "commonLabels": labels,
            "commonAnnotations": {"summary": "orders: latency error budget burning slow",
                                  "runbook_url": "https://runbooks/errorbudgetburn"},
            "externalURL": "http://am", "truncatedAlerts": 0,
            "alerts": [{"status": status, "labels": labels, "annotations": {},
                        "startsAt": "2026-12-06T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom", "fingerprint": "abc"}]}


class Bridge:
    def __init__(self, tmp: Path, system: str, ticket_url: str) -> None:
        self.tmp = tmp
        self.system = system
        self.ticket_url = ticket_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (tmp / "token").write_text(TOKEN + "\n")
        self.proc: subprocess.Popen[Any] | None = None
        self.runs = 0

    def start(self) -> None:
        self.runs += 1
        self.log = self.tmp / f"bridge-{self.runs}.log"
        extra = ["--repo", "acme/alerts"] if self.system == "github" else []
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "opsplane.cli.main", "ticket-bridge",
                 "--system", self.system,
                 "--url", self.ticket_url, "--token-file", str(self.tmp / "token"),
                 "--host", "127.0.0.1", "--port", str(self.port), "--drain-delay", "0",
                 "--grace", "5", *extra], stdout=out, stderr=subprocess.STDOUT)
        wait_http(f"{self.url}/healthz/readiness", proc=self.proc)

    def stop(self) -> int:
        assert self.proc is not None
        return stop_process(self.proc)


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[Callable[[str], tuple[Bridge, Any]]]:
    made: list[tuple[Bridge, Any]] = []

    def make(system: str) -> tuple[Bridge, Any]:
        import threading

        cls = JiraSink if system == "jira" else GitHubSink
        sink = cls([], threading.Lock())
        sink.start()
        b = Bridge(tmp_path, system, sink.url)
        made.append((b, sink))
        b.start()
        return b, sink

    yield make
    for b, sink in made:
        if b.proc is not None:
            b.stop()
        sink.stop()


@pytest.mark.parametrize("system", ["jira", "github"])
def test_one_ticket_per_group_across_restarts(bridge: Any, system: str) -> None:
    b, sink = bridge(system)
    assert _post(f"{b.url}/alerts/ORD", _hook("firing")) == (200, {"action": "created",
                                                                   "ticket": _first(system)})
    b.stop()
    b.start()  # no disk state: the label in the ticket system finds the ticket again
    assert _post(f"{b.url}/alerts/ORD", _hook("firing"))[1]["action"] == "commented"
    other = _post(f"{b.url}/alerts/ORD", _hook("firing", key="other-group"))[1]
    assert other["action"] == "created"
    assert _post(f"{b.url}/alerts/ORD", _hook("resolved"))[1]["action"] == "resolved"
    assert _post(f"{b.url}/alerts/ORD", _hook("resolved"))[1]["action"] == "none"
    assert _post(f"{b.url}/alerts/ORD", _hook("firing"))[1]["action"] == "created"
    actions = [(d.action, d.shape_ok) for d in sink.log]
    closing = "transition" if system == "jira" else "close"
    assert actions == [("create", True), ("comment", True), ("create", True),
                       ("comment", True), (closing, True), ("create", True)]
    assert len(sink.issues) == 3
    statuses = sorted(i.status for i in sink.issues.values())
    assert statuses == (["done", "open", "open"] if system == "jira"
                        else ["closed", "open", "open"])
    first = sink.log[0].body
    if system == "jira":
        assert first["fields"]["project"] == {"key": "ORD"}
        assert "https://runbooks/errorbudgetburn" in first["fields"]["description"]
    else:
        assert first["title"] == "[ticket] orders: latency error budget burning slow"
    for log in b.tmp.glob("bridge-*.log"):
        assert TOKEN not in log.read_text()
    assert '"event":"ticket.firing"' in (b.tmp / "bridge-2.log").read_text()


def _first(system: str) -> str:
    return "ORD-1" if system == "jira" else "1"


def test_malformed_webhook_is_400_json(bridge: Any) -> None:
    b, sink = bridge("jira")
    status, body = _post(f"{b.url}/alerts/ORD", None, raw=b"{not json")
    assert status == 400
    assert body["error"]["code"] == "MALFORMED_JSON"
    status, body = _post(f"{b.url}/alerts/ORD", {"version": "4", "status": "firing"})
    assert status == 400
    assert body["error"]["code"] == "MALFORMED_WEBHOOK"
    assert "groupKey" in body["error"]["message"]
    assert sink.log == []


def test_ticket_system_down_is_5xx(bridge: Any) -> None:
    b, sink = bridge("jira")
    sink.available = False
    status, body = _post(f"{b.url}/alerts/ORD", _hook("firing"))
    assert status == 502
    assert body["error"]["code"] == "TICKET_SYSTEM_FAILED"
    sink.stop()  # now unreachable
    status, body = _post(f"{b.url}/alerts/ORD", _hook("firing"))
    assert status == 503
    assert "unreachable" in body["error"]["message"]


def test_alertmanager_retries_until_jira_is_back(tmp_path: Path) -> None:
    """A real Alertmanager with the generated routes posts to the bridge while Jira answers
    503: the bridge answers 502, Alertmanager retries, and once Jira is back exactly one
    ticket is created."""
    from alerts import alertmanager
    from alerts.generate import ticket_url_for
    from opsplane.spec.org import Endpoints
    from opsplane.spec.service import parse_spec

    binary = require_tool("prometheus-alertmanager")
    with Sinks("jira") as sinks:
        sinks.ticket.available = False
        b = Bridge(tmp_path, "jira", sinks.ticket.url)
        b.start()
        try:
            spec = parse_spec({"name": "orders", "team": "commerce", "app": "a:b", "alerting": {
                "ticket": {"project": "ORD", "webhook": {"file": str(tmp_path / "token")}},
                "chat": {"channel": "#o", "webhook": {"file": str(tmp_path / "token")}}}})
            ends = Endpoints(ticket=b.url, **{k: v for k, v in sinks.endpoints().items()
                                              if k != "ticket"})
            cfg = alertmanager([spec], endpoints=ends,
                               ticket_url=ticket_url_for(b.url, "0.25"))
            cfg["route"].update(group_wait="1s", group_interval="1m")
            (tmp_path / "am.yaml").write_text(yaml.safe_dump(cfg))
            port = free_port()
            with (tmp_path / "am.log").open("w") as log:
                am = subprocess.Popen(
                    [binary, f"--config.file={tmp_path / 'am.yaml'}",
                     f"--storage.path={tmp_path / 'data'}",
                     f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                    stdout=subprocess.DEVNULL, stderr=log)
            try:
                wait_http(f"http://127.0.0.1:{port}/-/ready", proc=am)
                labels = {"alertname": "ErrorBudgetBurn", "service": "orders",
                          "severity": "ticket", "slo": "latency"}
                assert _post(f"http://127.0.0.1:{port}/api/v2/alerts",
                             [{"labels": labels, "annotations": {"summary": "slow"}}])[0] == 200
                failed = _wait(lambda: (b.log.read_text().count("ticket system failed") >= 2
                                        or None), "two refused attempts")
                assert failed
                sinks.ticket.available = True
                _wait(lambda: sinks.ticket.issues or None, "the ticket")
                am_log = (tmp_path / "am.log").read_text()
                assert "502" in am_log  # Alertmanager logged the failed attempt
            finally:
                stop_process(am)
            creates = [d for d in sinks.deliveries if d.sink == "jira" and d.action == "create"]
            assert len(creates) == 1
            assert len(sinks.ticket.issues) == 1
        finally:
            b.stop()


def _wait(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_token_from_the_kits_secrets_directory(tmp_path: Path) -> None:
    """As the chart mounts it: a file ticket_token in OPSPLANE_SECRETS_DIR, no flag."""
    import os
    import threading

    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "ticket_token").write_text(TOKEN)
    sink = GitHubSink([], threading.Lock())
    sink.start()
    port = free_port()
    env = {**os.environ, "OPSPLANE_SECRETS_DIR": str(secrets)}
    with (tmp_path / "bridge.log").open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "opsplane.cli.main", "ticket-bridge", "--system", "github",
             "--url", sink.url, "--repo", "acme/alerts", "--host", "127.0.0.1",
             "--port", str(port), "--drain-delay", "0"], stdout=out, stderr=subprocess.STDOUT,
            env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz/readiness", proc=proc)
        assert _post(f"http://127.0.0.1:{port}/alerts/ORD", _hook("firing"))[0] == 200
    finally:
        assert stop_process(proc) == 0  # drained cleanly on SIGTERM
        sink.stop()
    assert [(d.action, d.shape_ok, d.problems) for d in sink.log] == [("create", True, [])]
    assert TOKEN not in (tmp_path / "bridge.log").read_text()


def test_bridge_deploys_with_the_standard_chart() -> None:
    pytest.importorskip("helm_python")
    from alerts.bridge import SPEC
    from helm import render as chart
    from helm import values as helmvalues
    from opsplane.spec.service import load_spec
    from tests.conftest import ROOT

    folder = ROOT / "deploy" / "ticket-bridge"
    spec = load_spec(folder / "service.yaml")
    assert (spec.name, spec.app, spec.port) == (SPEC.name, SPEC.app, SPEC.port)
    values = chart.load_values([folder / "values.yaml", folder / "values-jira.yaml"])
    assert yaml.safe_load((folder / "values.yaml").read_text())["containerPort"] == \
        helmvalues.generate(spec)["containerPort"]
    assert chart.lint(values) == []
    docs = chart.render(values)
    deploy = next(m.doc for m in docs if m.kind == "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["opsplane", "ticket-bridge"]
    assert [m["mountPath"] for m in container["volumeMounts"]
            if m["mountPath"] == "/etc/opsplane/secrets"] == ["/etc/opsplane/secrets"]
    assert any(v.get("secret", {}).get("secretName") == "ticket-bridge-jira"
               for v in pod["volumes"])
    assert "TOKEN" not in json.dumps(values).upper()
