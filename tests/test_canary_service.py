"""The canary for real: ``opsplane canary`` against orders and payments on loopback, with a
target failing on purpose, one broken (its collection missing), one that never answers
(cut at its timeout) and one still running at SIGTERM (cut at the grace period).

Its results are read where people read them: /metrics, a real Prometheus evaluating the
generated CanaryFailing alert, the JSON API, the page in headless Chromium, the SQLite
store; runs are started by signed (and refused for forged, stale or replayed) Slack
requests and by POST /runs.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from _sample_spec import SAMPLE
from _service_procs import ORDERS, orders_and_payments, wait_for

from alerts import render as render_alerts
from opsplane.canary.slack import signature
from opsplane.spec.service import load_spec
from opsplane.testing.procs import free_port, stop_process
from tests.conftest import require_tool

pytestmark = pytest.mark.slow

SECRET = "canary-cred-7f3a9c"  # the test account's key: must never show anywhere
SLACK_SECRET = "slack-signing-0b1e"
API_TOKEN = "api-token-5d2c"

BROKEN_ON_PURPOSE = """\
version: 1
name: orders lookup
requests:
  - name: readiness
    url: /healthz/readiness
    expect: {status: 200}
  - name: known order
    url: /orders/O-does-not-exist
    query: {key: "{{apiKey}}"}
    expect: {status: 200}
"""
PAYMENTS = """\
version: 1
name: payments health
requests:
  - name: readiness
    url: /healthz/readiness
    expect: {status: 200, health: pass}
  - name: liveness
    url: /healthz/liveness
    expect: {status: 200}
"""
HANG = """\
version: 1
name: hang
timeout_ms: 60000
requests:
  - name: never answers
    url: /
    expect: {status: 200}
"""


def _metrics(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for fam in text_string_to_metric_families(httpx.get(f"{base}/metrics").text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _series(m: dict[Any, float], name: str, **labels: str) -> float | None:
    want = set(labels.items())
    for (n, lab), v in m.items():
        if n == name and want <= set(lab):
            return v
    return None


class Canary:
    def __init__(self, work: Path, port: int) -> None:
        self.work = work
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.out = work / "canary.out"
        self.err = work / "canary.err"
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit_code: int | None = None

    def start(self) -> None:
        env = {**os.environ, "LOGSTD_MODE": "json", "PYTHONUNBUFFERED": "1"}
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "opsplane.cli.main", "canary", "-c",
                 str(self.work / "canary.yaml"), "--host", "127.0.0.1", "--port",
                 str(self.port), "--drain-delay", "0", "--grace", "2"],
                cwd=self.work, env=env, stdout=out, stderr=err)

        def up() -> bool:
            assert self.proc is not None
            assert self.proc.poll() is None, self.logs()
            try:
                return httpx.get(f"{self.base}/healthz/readiness").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, attempts=300, pause=0.1)

    def stop(self) -> int:
        if self.proc is not None and self.exit_code is None:
            self.exit_code = stop_process(self.proc, timeout=30)
        return self.exit_code if self.exit_code is not None else -1

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in (self.out, self.err)
                       if p.exists())


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Canary, Path]]:
    work = tmp_path_factory.mktemp("canary")
    hang = socket.socket()  # accepts connections (backlog) and never answers
    hang.bind(("127.0.0.1", 0))
    hang.listen(64)
    hang_url = f"http://127.0.0.1:{hang.getsockname()[1]}"
    (work / "secrets").mkdir()
    (work / "secrets" / "orders-key").write_text(SECRET + "\n")
    (work / "secrets" / "slack").write_text(SLACK_SECRET + "\n")
    (work / "secrets" / "api").write_text(API_TOKEN + "\n")
    (work / "test.lookup.yaml").write_text(BROKEN_ON_PURPOSE)
    (work / "test.payments.yaml").write_text(PAYMENTS)
    (work / "test.hang.yaml").write_text(HANG)
    with orders_and_payments(work) as (orders, payments):
        creds = {"apiKey": {"file": "secrets/orders-key"}}
        smoke = str(ORDERS / "tests" / "test.smoke.yaml")
        registry = {
            "version": 1, "concurrency": 8, "jitter": 0.1,
            "store": {"url": "sqlite:///canary.db", "retention": "1d"},
            "slack": {"signingSecret": {"file": "secrets/slack"}},
            "api": {"token": {"file": "secrets/api"}},
            "targets": [
                {"service": "orders", "environment": "local", "baseUrl": orders.url,
                 "collections": [smoke], "tags": ["smoke"], "interval": "1s", "timeout": "20s",
                 "variables": {"customerId": "C-1010", "sku": "SKU-1"}, "credentials": creds},
                {"service": "orders", "environment": "prod", "baseUrl": orders.url,
                 "collections": ["test.lookup.yaml"], "interval": "1s", "timeout": "20s",
                 "credentials": creds},
                {"service": "payments", "environment": "local", "baseUrl": payments.url,
                 "collections": ["test.payments.yaml"], "interval": "1s", "timeout": "20s"},
                {"service": "payments", "environment": "staging", "baseUrl": payments.url,
                 "collections": ["missing/test.gone.yaml"], "interval": "1s"},
                {"service": "inventory", "environment": "slow", "baseUrl": hang_url,
                 "collections": ["test.hang.yaml"], "interval": "2s", "timeout": "1s"},
                {"service": "inventory", "environment": "sluggish", "baseUrl": hang_url,
                 "collections": ["test.hang.yaml"], "interval": "1h", "timeout": "3s"},
                {"service": "inventory", "environment": "stuck", "baseUrl": hang_url,
                 "collections": ["test.hang.yaml"], "interval": "1s", "timeout": "60s"},
            ]}
        (work / "canary.yaml").write_text(yaml.safe_dump(registry, sort_keys=False))
        c = Canary(work, free_port())
        c.start()
        try:
            yield c, work
        finally:
            c.stop()
            hang.close()


def _settled(c: Canary) -> dict[Any, float]:
    """Every target has run, and the failing one has failed three times in a row."""
    def ready() -> dict[Any, float] | None:
        m = _metrics(c.base)
        streak = _series(m, "canary_consecutive_failures", service="orders",
                         environment="prod")
        ran = [_series(m, "probe_success", service=s, environment=e)
               for s, e in (("orders", "local"), ("payments", "local"),
                            ("payments", "staging"))]
        slow = _series(m, "canary_runs_total", service="inventory", environment="slow",
                       outcome="timeout")
        paced = _series(m, "canary_runs_total", service="payments", environment="local",
                        outcome="passed")
        if streak is not None and streak >= 3 and None not in ran and slow and paced \
                and paced >= 3:
            return m
        return None

    return wait_for(ready, attempts=300, pause=0.1)  # type: ignore[no-any-return]


def test_metrics_show_each_target_and_the_failures(canary: tuple[Canary, Path]) -> None:
    c, _ = canary
    m = _settled(c)
    assert _series(m, "probe_success", service="orders", environment="local",
                   collection="smoke") == 1
    assert _series(m, "probe_success", service="payments", environment="local") == 1
    assert _series(m, "probe_success", service="orders", environment="prod",
                   collection="lookup") == 0
    assert _series(m, "probe_check_success", service="orders", environment="prod",
                   check="known order") == 0
    assert _series(m, "probe_check_success", service="orders", environment="prod",
                   check="readiness") == 1
    assert _series(m, "canary_target_broken", service="payments", environment="staging",
                   collection="gone") == 1
    assert _series(m, "canary_target_broken", service="orders", environment="prod") == 0
    assert _series(m, "probe_duration_seconds", service="orders", environment="local") > 0
    # the target that never answers is cut at its 1 s timeout, the one stuck for 60 s
    # has not finished a run; the others kept their pace meanwhile (_settled)
    assert _series(m, "canary_runs_total", service="inventory", environment="slow",
                   outcome="timeout") >= 1
    assert _series(m, "probe_success", service="inventory", environment="stuck") is None
    assert SECRET not in httpx.get(f"{c.base}/metrics").text


def test_json_api_and_masked_credentials(canary: tuple[Canary, Path]) -> None:
    c, _ = canary
    _settled(c)
    data = httpx.get(f"{c.base}/api/status").json()
    rows = {(t["service"], t["environment"]): t for t in data["targets"]}
    assert rows[("orders", "local")]["collections"][0]["last"]["outcome"] == "passed"
    prod = rows[("orders", "prod")]["collections"][0]
    assert prod["last"]["outcome"] == "failed"
    assert prod["last"]["message"].startswith("known order: status: expected 200, got 404")
    failing = [r for r in prod["last"]["results"] if r["outcome"] != "passed"]
    assert [r["name"] for r in failing] == ["known order"]
    assert "key=***" in failing[0]["url"]
    assert rows[("payments", "staging")]["broken"] is True
    assert "collection file does not exist" in \
        rows[("payments", "staging")]["collections"][0]["last"]["message"]
    assert {h["outcome"] for h in prod["history"]} == {"failed"}
    one = httpx.get(f"{c.base}/api/runs/{prod['last']['id']}")
    if one.status_code == 404:  # not flushed yet: the store writes about once a second
        one = wait_for(lambda: (r := httpx.get(f"{c.base}/api/runs/{prod['last']['id']}"))
                       .status_code == 200 and r)
    assert one.json()["results"][1]["status"] == 404
    runs = httpx.get(f"{c.base}/api/runs", params={"service": "orders",
                                                    "environment": "prod"}).json()["runs"]
    assert runs
    assert all(r["outcome"] == "failed" for r in runs)
    for text in (json.dumps(data), one.text, json.dumps(runs)):
        assert SECRET not in text


def test_page_in_headless_chromium(canary: tuple[Canary, Path]) -> None:
    chromium = require_tool("chromium")
    c, work = canary
    _settled(c)
    shot = work / "page.png"
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
         f"--user-data-dir={work / 'chrome'}", f"{c.base}/"],
        capture_output=True, text=True, timeout=120, check=True).stdout
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
         "--window-size=1280,900", f"--user-data-dir={work / 'chrome'}", f"{c.base}/"],
        capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000  # a rendered page, not an empty canvas

    def cell(service: str, env: str) -> str:
        m = re.search(rf"<td id=\"cell-{service}-{env}\".*?</td>", dom, re.S)
        assert m, f"no cell {service}/{env} in the page"
        return re.sub(r"<[^>]+>", " ", m.group(0))

    assert "smoke" in cell("orders", "local")
    assert "passed" in cell("orders", "local")
    assert "failed" in cell("orders", "prod")
    assert "broken" in cell("payments", "staging")
    assert "timeout" in cell("inventory", "slow")
    detail = re.search(r"id=\"fail-orders-prod-lookup\".*?</div>", dom, re.S)
    assert detail
    assert "expected 200, got 404" in detail.group(0)
    assert "key=***" in detail.group(0)
    assert SECRET not in dom


def _slack(c: Canary, text: str, *, ts: int | None = None, secret: str = SLACK_SECRET,
           sig: str | None = None, body: bytes | None = None) -> httpx.Response:
    body = body or urllib.parse.urlencode({"command": "/canary", "text": text,
                                           "user_name": "ops",
                                           "trigger_id": uuid.uuid4().hex}).encode()
    stamp = str(ts if ts is not None else int(time.time()))
    headers = {"X-Slack-Request-Timestamp": stamp,
               "X-Slack-Signature": sig or signature(secret, stamp, body),
               "Content-Type": "application/x-www-form-urlencoded"}
    return httpx.post(f"{c.base}/slack/command", content=body, headers=headers, timeout=10)


def test_slack_signed_runs_forged_stale_replayed_refused(canary: tuple[Canary, Path]) -> None:
    c, work = canary
    _settled(c)
    ok = _slack(c, "payments local")
    assert ok.status_code == 200
    body = ok.json()
    assert body["response_type"] == "in_channel"
    assert re.match(r":white_check_mark: payments/local payments passed \(2 passed, 0 failed",
                    body["text"])
    failing = _slack(c, "orders prod").json()["text"]
    assert failing.startswith(":x: orders/prod lookup failed")
    assert SECRET not in failing

    def slack_runs() -> int:
        con = sqlite3.connect(work / "canary.db")
        try:
            return int(con.execute("SELECT COUNT(*) FROM runs WHERE trigger = 'slack'")
                       .fetchone()[0])
        finally:
            con.close()

    wait_for(lambda: slack_runs() == 2)
    forged = _slack(c, "payments local", secret="not-the-secret")
    assert forged.status_code == 401
    assert forged.json()["error"]["message"] == "signature does not match"
    stale = _slack(c, "payments local", ts=int(time.time()) - 301)
    assert stale.status_code == 401
    assert "stale" in stale.json()["error"]["message"]
    unsigned = httpx.post(f"{c.base}/slack/command", content=b"text=payments")
    assert unsigned.status_code == 401
    stamp = str(int(time.time()))
    body_bytes = urllib.parse.urlencode({"command": "/canary", "text": "payments local",
                                         "user_name": "ops"}).encode()
    sig = signature(SLACK_SECRET, stamp, body_bytes)
    assert _slack(c, "", ts=int(stamp), sig=sig, body=body_bytes).status_code == 200
    replay = _slack(c, "", ts=int(stamp), sig=sig, body=body_bytes)
    assert replay.status_code == 401
    assert "replayed" in replay.json()["error"]["message"]
    # one more signed run, stored after every refused request was answered: the refused
    # ones started nothing (a 401 is sent before any run is started)
    assert _slack(c, "payments local").status_code == 200
    wait_for(lambda: slack_runs() >= 4)
    assert slack_runs() == 4


def test_slack_long_run_answers_at_once_and_posts_the_result_later(
        canary: tuple[Canary, Path]) -> None:
    """Slack wants an answer within 3 s: a longer run answers "started", then posts its
    result to the command's response_url (a stand-in checking Slack's documented shape)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    c, _ = canary
    received: list[tuple[str, str, dict[str, Any]]] = []

    class Standin(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((self.path, self.headers.get("content-type", ""), json.loads(body)))
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Standin)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/commands/T1/42/abc"
        body = urllib.parse.urlencode({"command": "/canary", "text": "inventory sluggish",
                                       "response_url": url,
                                       "trigger_id": uuid.uuid4().hex}).encode()
        first = _slack(c, "", body=body)
        assert first.status_code == 200
        assert first.json() == {"response_type": "in_channel", "text": "canary run of "
                                "inventory sluggish started; the result follows here"}
        assert received == []
        got = wait_for(lambda: received, attempts=200, pause=0.1)
    finally:
        server.shutdown()
        server.server_close()
    path, ctype, doc = got[0]
    assert path == "/commands/T1/42/abc"
    assert ctype.startswith("application/json")
    assert set(doc) == {"response_type", "text"}
    assert doc["response_type"] == "in_channel"
    assert doc["text"].startswith(":x: inventory/sluggish hang timeout")


def test_post_runs_needs_the_token(canary: tuple[Canary, Path]) -> None:
    c, _ = canary
    assert httpx.post(f"{c.base}/runs", json={"service": "payments"}).status_code == 401
    wrong = httpx.post(f"{c.base}/runs", json={"service": "payments"},
                       headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    r = httpx.post(f"{c.base}/runs", json={"service": "orders", "environment": "local"},
                   headers=auth, timeout=30)
    assert r.status_code == 200
    assert r.json()["ok"] is True
    assert [x["trigger"] for x in r.json()["runs"]] == ["api"]
    missing = httpx.post(f"{c.base}/runs", json={"service": "nope"}, headers=auth)
    assert missing.status_code == 404
    bad = httpx.post(f"{c.base}/runs", content=b"[]", headers=auth)
    assert bad.status_code == 400


def test_prometheus_fires_canary_failing_for_the_broken_target(
        canary: tuple[Canary, Path], tmp_path: Path) -> None:
    binary = require_tool("prometheus")
    c, _ = canary
    spec = load_spec(SAMPLE)  # orders
    for name, text in render_alerts([spec]).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
              "rule_files": [str(tmp_path / f"{spec.name}.rules.yaml")],
              "scrape_configs": [{"job_name": "canary", "static_configs": [
                  {"targets": [f"127.0.0.1:{c.port}"]}]}]}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"

    def firing() -> list[dict[str, Any]] | None:
        assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
        try:
            alerts = httpx.get(f"{base}/api/v1/alerts").json()["data"]["alerts"]
        except (httpx.HTTPError, ValueError, KeyError):
            return None
        found = [a for a in alerts if a["labels"]["alertname"] == "CanaryFailing"
                 and a["state"] == "firing"]
        return found or None

    try:
        alerts = wait_for(firing, attempts=600, pause=0.1)
    finally:
        stop_process(proc)
        log.close()
    assert len(alerts) == 1  # orders in prod only: orders/local passes
    a = alerts[0]
    assert a["labels"] == {"alertname": "CanaryFailing", "severity": "page",
                           "service": "orders", "team": "commerce", "environment": "prod",
                           "collection": "lookup"}
    assert a["annotations"]["summary"] == "orders: canary failing in prod"
    assert float(a["value"]) >= 3
    # routed like the service's own pages
    amtool = require_tool("amtool")
    (tmp_path / "am.yaml").write_text(
        (tmp_path / "alertmanager" / "alertmanager.yaml").read_text())
    route = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={tmp_path / 'am.yaml'}",
         *(f"{k}={v}" for k, v in a["labels"].items())],
        check=False, capture_output=True, text=True, timeout=60)
    assert route.stdout.strip() == "orders-pager,orders-chat", route.stdout + route.stderr


def test_sigterm_cuts_the_run_in_flight_and_stores_everything(
        canary: tuple[Canary, Path]) -> None:
    c, work = canary
    _settled(c)
    assert c.stop() == 0, c.logs()
    con = sqlite3.connect(work / "canary.db")
    try:
        rows = dict(con.execute("SELECT service || '/' || environment || ' ' || outcome, "
                                "COUNT(*) FROM runs GROUP BY 1").fetchall())
        detail = con.execute("SELECT r.url, r.detail FROM results r JOIN runs u ON "
                             "u.id = r.run_id WHERE u.environment = 'prod' AND "
                             "r.name = 'known order' LIMIT 1").fetchone()
        everything = " ".join(str(v) for row in con.execute("SELECT * FROM results")
                              for v in row)
    finally:
        con.close()
    assert rows.get("orders/local passed", 0) >= 3
    assert rows.get("orders/prod failed", 0) >= 3
    assert rows.get("payments/staging broken", 0) >= 3
    assert rows.get("inventory/slow timeout", 0) >= 1
    assert rows.get("inventory/stuck cut") == 1, rows
    assert "key=***" in detail[0]
    assert "expected 200, got 404" in detail[1]
    assert SECRET not in everything
    records = [json.loads(line) for line in c.out.read_text().splitlines()
               if line.startswith("{")]
    events = [r.get("event") for r in records]
    assert "canary.cut" in events
    assert "shutdown.completed" in events
    assert SECRET not in c.logs()
