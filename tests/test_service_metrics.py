"""/metrics of the orders service: dictionary names, route templates, promtool-clean."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from opsplane.spec.metrics import metrics
from tests._service_procs import orders_and_payments
from tests.conftest import require_tool

STANDARD_PREFIXES = ("process_", "python_")


@pytest.fixture(scope="module")
def exposition(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with orders_and_payments(tmp_path_factory.mktemp("metrics")) as (orders, _payments), \
            httpx.Client(base_url=orders.url, timeout=10) as c:
        created = c.post("/orders", json={"customerId": "C-1001", "items": [
            {"sku": "SKU-1", "quantity": 1, "price": 3.0}]}).json()
        for oid in ("O-000000000001", "O-000000000002", created["id"], "O-missing"):
            c.get(f"/orders/{oid}")
        c.get("/nothing/here")
        c.get("/healthz/readiness")
        yield c.get("/metrics").text


def test_promtool_check_metrics_is_clean(exposition: str) -> None:
    promtool = require_tool("promtool")
    done = subprocess.run([promtool, "check", "metrics"], input=exposition.encode(),
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == b""
    assert done.stderr.strip() == b""


def test_names_come_from_the_dictionary(exposition: str) -> None:
    families = set(re.findall(r"^# TYPE (\S+) ", exposition, flags=re.M))
    ours = {f for f in families if not f.startswith(STANDARD_PREFIXES)}
    known = {name.removesuffix("_total") for name in metrics().metrics} | set(metrics().metrics)
    assert ours
    assert ours <= known, ours - known
    for name in ("http_server_request_duration_seconds", "http_server_active_requests",
                 "http_client_request_duration_seconds", "healthcheck_status",
                 "app_build_info", "process_cpu_seconds_total", "python_gc_collections_total"):
        assert f"\n{name}" in exposition, name


def test_route_templates_not_raw_paths(exposition: str) -> None:
    routes = set(re.findall(r'http_route="([^"]*)"', exposition))
    assert "/orders/{id}" in routes
    assert "/orders" in routes
    assert not [r for r in routes if "O-0" in r or "missing" in r or "nothing" in r]
    assert re.search(r'http_server_request_duration_seconds_count\{http_request_method="GET",'
                     r'http_response_status_code="404",http_route="/orders/\{id\}"\} 1\.0',
                     exposition)
    # probes are not timed by default
    assert "/healthz" not in "".join(routes)


def test_dependency_and_health_series(exposition: str) -> None:
    assert re.search(r'http_client_request_duration_seconds_count\{dependency="payments",'
                     r'http_request_method="POST",http_response_status_code="201"\} 1\.0',
                     exposition)
    assert 'healthcheck_status{check="payments:responseTime"} 1.0' in exposition
    assert 'app_build_info{service="orders",version="0.0.0-dev"} 1.0' in exposition
