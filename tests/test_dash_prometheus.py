"""Every dashboard query and every rule expression, through a real Prometheus on loopback.

A tiny exporter (prometheus_client on 127.0.0.1, port chosen at run time) serves the metric
dictionary's series for the sample service plus synthetic cAdvisor / kube-state-metrics
series; Debian's Prometheus scrapes it every second and loads the generated rules.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from _sample_spec import SAMPLE

from alerts import render as render_alerts
from dashboards import overview_dashboard, service_dashboard
from opsplane.spec.metrics import metrics
from opsplane.spec.service import ServiceSpec, load_spec
from opsplane.testing.procs import free_port as _free_port
from opsplane.testing.procs import stop_process
from tests.conftest import require_tool

VARS = {"$__rate_interval": "15s", "$cluster": "local", "$namespace": "default"}


class Exporter:
    """The sample service's /metrics plus cAdvisor/KSM series, updated by a thread."""

    def __init__(self, spec: ServiceSpec) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        md = metrics()
        reg = CollectorRegistry()
        self.registry = reg
        srv = md["http_server_request_duration_seconds"]
        cli = md["http_client_request_duration_seconds"]
        self.server = Histogram("http_server_request_duration_seconds", srv.description,
                                list(srv.labels), buckets=srv.buckets, registry=reg)
        self.client = Histogram("http_client_request_duration_seconds", cli.description,
                                list(cli.labels), buckets=cli.buckets, registry=reg)
        health = Gauge("healthcheck_status", md["healthcheck_status"].description,
                       ["check"], registry=reg)
        for dep in spec.dependencies:
            health.labels(f"{dep.name}:ping").set(1)
        pod = {"pod": f"{spec.name}-0", "container": spec.name}
        keys = list(pod)
        self.cpu = Counter("container_cpu_usage_seconds_total", "cpu", keys, registry=reg)
        self.periods = Counter("container_cpu_cfs_periods_total", "p", keys, registry=reg)
        self.throttled = Counter("container_cpu_cfs_throttled_periods_total", "t", keys,
                                 registry=reg)
        Gauge("container_memory_working_set_bytes", "m", keys, registry=reg).labels(
            **pod).set(150 * 2**20)
        for kind, cpu, mem in (("requests", 0.1, 128), ("limits", 0.5, 256)):
            g = Gauge(f"kube_pod_container_resource_{kind}", kind, [*keys, "resource"],
                      registry=reg)
            g.labels(**pod, resource="cpu").set(cpu)
            g.labels(**pod, resource="memory").set(mem * 2**20)
        Counter("kube_pod_container_status_restarts_total", "r", keys, registry=reg).labels(
            **pod).inc(0)
        Gauge("kube_pod_container_status_last_terminated_reason", "o", [*keys, "reason"],
              registry=reg).labels(**pod, reason="OOMKilled").set(0)
        Gauge("kube_pod_container_status_waiting_reason", "w", [*keys, "reason"],
              registry=reg).labels(**pod, reason="CrashLoopBackOff").set(0)
        Gauge("kube_pod_status_ready", "ready", ["pod", "condition"], registry=reg).labels(
            pod["pod"], "false").set(0)
        self.pod = pod
        self.stop = threading.Event()
        # the canary's series, made by the canary's own instruments from a run that failed
        from opsplane.canary.metrics import CanaryMetrics
        from opsplane.canary.store import ResultRecord, RunRecord

        checks = (ResultRecord(0, 1, "readiness", "GET", "/healthz/readiness", 200, 3.0,
                               "passed"),
                  ResultRecord(1, 1, "create order", "POST", "/orders", 500, 9.0, "failed"))
        CanaryMetrics(reg).observe(RunRecord(
            "r1", spec.name, "prod", "smoke", "schedule", 0.0, 0.0, 0.02, 0.0, "failed", 1, 1,
            results=checks))

    def tick(self) -> None:
        for route, status, seconds in (("/orders", "201", 0.02), ("/orders/{id}", "200", 0.04),
                                       ("/orders", "500", 0.3), ("/orders/{id}", "404", 0.01)):
            self.server.labels("GET", route, status).observe(seconds)
        self.client.labels("payments", "POST", "201").observe(0.05)
        self.client.labels("payments", "POST", "503").observe(0.5)
        self.cpu.labels(**self.pod).inc(0.05)
        self.periods.labels(**self.pod).inc(10)
        self.throttled.labels(**self.pod).inc(1)

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.tick()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _query(base: str, expr: str) -> Any:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        return _get(url)
    except urllib.error.HTTPError as e:
        return json.loads(e.read())


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ServiceSpec]]:
    binary = require_tool("prometheus")
    from prometheus_client import start_http_server

    spec = load_spec(SAMPLE)
    exporter = Exporter(spec)
    exporter.tick()
    server, _thread = start_http_server(0, addr="127.0.0.1", registry=exporter.registry)
    ticker = threading.Thread(target=exporter.run, daemon=True)
    ticker.start()
    tmp = tmp_path_factory.mktemp("prom")
    for name, text in render_alerts([spec]).items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_text(text)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp / f"{spec.name}.rules.yaml")],
        "scrape_configs": [{
            "job_name": spec.name,
            "static_configs": [{"targets": [f"127.0.0.1:{server.server_port}"],
                                "labels": {"cluster": "local", "namespace": "default"}}]}],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    log = (tmp / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # readiness, then enough scrapes for 15s rate windows
            try:
                res = _query(base, f'count_over_time(up{{job="{spec.name}"}}[1m])')
                if res["data"]["result"] and float(res["data"]["result"][0]["value"][1]) >= 4:
                    break
            except (OSError, ValueError, KeyError):  # not ready yet
                pass
            if proc.poll() is not None:
                pytest.fail((tmp / "prometheus.log").read_text()[-2000:])
            time.sleep(0.2)
        else:
            pytest.fail("prometheus never scraped the exporter")
        yield base, spec
    finally:
        exporter.stop.set()
        stop_process(proc)
        server.shutdown()
        server.server_close()
        log.close()


def _substitute(expr: str) -> str:
    for var, value in VARS.items():
        expr = expr.replace(var, value)
    assert "$" not in re.sub(r'"\$\{1\}xx"', "", expr), expr
    return expr


def _dashboard_queries(spec: ServiceSpec) -> list[tuple[str, str]]:
    out = []
    for board in (service_dashboard(spec), overview_dashboard([spec])):
        for panel in board["panels"]:
            for t in panel.get("targets", []):
                out.append((f"{board['uid']}/{panel['title']}/{t['refId']}", t["expr"]))
        for var in board["templating"]["list"]:
            m = re.fullmatch(r"label_values\((.*), (\w+)\)", var.get("query", ""))
            if m:
                out.append((f"{board['uid']}/${var['name']}", m.group(1)))
    return out


def test_every_dashboard_query_parses_and_returns_data(prom: tuple[str, ServiceSpec]) -> None:
    base, spec = prom
    queries = _dashboard_queries(spec)
    assert len(queries) >= 30
    empty, failed = [], []
    for where, expr in queries:
        res = _query(base, _substitute(expr))
        if res.get("status") != "success":
            failed.append(f"{where}: {res.get('error')}")
        elif not res["data"]["result"]:
            empty.append(where)
    assert failed == []
    assert empty == []


def test_burn_rate_and_budget_values_are_sane(prom: tuple[str, ServiceSpec]) -> None:
    base, spec = prom
    board = service_dashboard(spec)
    burn = next(p for p in board["panels"] if p["title"] == "Availability burn rate")
    res = _query(base, _substitute(burn["targets"][0]["expr"]))
    # one request in four fails: error ratio 0.25, budget 0.001 -> burn 250
    assert float(res["data"]["result"][0]["value"][1]) == pytest.approx(250, rel=0.05)
    overview = overview_dashboard([spec])
    table = next(p for p in overview["panels"] if p["type"] == "table")
    rows = {t["refId"]: _query(base, _substitute(t["expr"]))["data"]["result"]
            for t in table["targets"]}
    assert all(r[0]["metric"]["job"] == "orders" for r in rows.values())


def test_every_rule_loads_and_evaluates(prom: tuple[str, ServiceSpec]) -> None:
    base, spec = prom
    groups = None
    for _ in range(100):
        groups = _get(f"{base}/api/v1/rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        if rules and all(r.get("lastEvaluation", "").startswith("20") and
                         not r["lastEvaluation"].startswith("0001") for r in rules):
            break
        time.sleep(0.2)
    assert groups is not None
    rules = [r for g in groups for r in g["rules"]]
    assert len(rules) == 35
    assert [r["name"] for r in rules if r["health"] != "ok"] == []
    recorded = _query(base, 'slo:sli_error:ratio_rate5m{service="orders",slo="availability"}')
    assert float(recorded["data"]["result"][0]["value"][1]) == pytest.approx(0.25, rel=0.05)
    # every expression also runs through the query API
    doc = yaml.safe_load(render_alerts([spec])[f"{spec.name}.rules.yaml"])
    for group in doc["groups"]:
        for rule in group["rules"]:
            res = _query(base, rule["expr"])
            assert res["status"] == "success", (rule, res)
    # with a quarter of the requests failing the availability SLO pages
    firing = {(a["labels"]["alertname"], a["labels"]["severity"], a["labels"].get("slo"))
              for a in _get(f"{base}/api/v1/alerts")["data"]["alerts"]}
    assert ("ErrorBudgetBurn", "page", "availability") in firing
    assert ("ServiceDown", "page", None) not in firing


def test_preview_pages_render_in_a_real_browser(prom: tuple[str, ServiceSpec],
                                                tmp_path: Path, capsys: Any) -> None:
    chromium = require_tool("chromium")
    from opsplane.cli.main import main

    base, _spec = prom
    code = main(["generate", "dashboards", str(SAMPLE), "-o", str(tmp_path), "--preview",
                 "--prometheus", base, "--range", "5m", "--var", "cluster=local"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    pages = sorted((tmp_path / "preview").glob("*.html"))
    assert [p.name for p in pages] == ["svc-orders.html", "svc-overview.html"]
    for page in pages:
        run = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'chrome'}",
             "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stderr[-2000:]
        console = [line for line in run.stderr.splitlines() if "CONSOLE" in line]
        assert console == []
        dom = run.stdout
        panels = re.findall(r'<section class="panel (\w+)"[^>]*>(.*?)</section>', dom, re.S)
        assert len(panels) >= (15 if "orders" in page.name and "overview" not in page.name
                               else 1)
        for kind, body in panels:
            if kind == "stat":
                assert re.search(r'<div class="stat">[^<]*\d', body), body[:200]
            elif kind == "table":
                assert "<td>" in body
            else:
                assert '<img alt="' in body
                assert 'src="data:image/png;base64,iVBOR' in body
        assert 'class="error"' not in dom


def test_preview_without_prometheus_is_a_usage_error(tmp_path: Path, capsys: Any) -> None:
    from opsplane.cli.main import main

    assert main(["generate", "dashboards", str(SAMPLE), "-o", str(tmp_path),
                 "--preview"]) == 2
    assert capsys.readouterr().err == "error: --preview needs --prometheus URL\n"
    port = _free_port()
    assert main(["generate", "dashboards", str(SAMPLE), "-o", str(tmp_path), "--preview",
                 "--prometheus", f"http://127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: --prometheus http://127.0.0.1:{port}: cannot reach: ")
    assert err.count("\n") == 1
