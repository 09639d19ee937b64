"""Health endpoints: the real service under uvicorn, and the check machinery in-process."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from opsplane.runtime._checks import HttpClientHolder, dependency_check
from opsplane.runtime._health import CheckResult, Health, HealthCheck
from opsplane.runtime.lifecycle import State
from opsplane.spec.service import Dependency
from tests._service_procs import SCHEMA, Service, orders_and_payments, wait_for

VALIDATOR = jsonschema.Draft202012Validator(
    json.loads(SCHEMA.read_text()), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def valid(body: dict[str, Any]) -> dict[str, Any]:
    errors = [e.message for e in VALIDATOR.iter_errors(body)]
    assert not errors, errors
    return body


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Service]]:
    with orders_and_payments(tmp_path_factory.mktemp("health")) as services:
        yield services


def test_probe_bodies_and_head(pair: tuple[Service, Service]) -> None:
    orders, _ = pair
    with httpx.Client(base_url=orders.url, timeout=10) as c:
        for path in ("/healthz/ping", "/healthz/liveness", "/healthz/readiness"):
            got = c.get(path)
            assert got.status_code == 200
            valid(got.json())
            head = c.head(path)
            assert head.status_code == 200
            assert head.content == b""
            assert head.headers["content-type"] == "application/health+json"
        live = c.get("/healthz/liveness").json()
        assert set(live["checks"]) == {"uptime", "threadpool:responseTime"}
        assert c.get("/healthz/ping").json() == {"status": "pass", "version": "0.0.0-dev",
                                                 "serviceId": "orders", "description":
                                                 "Orders for customers, paid through the "
                                                 "payments service."}


def test_readiness_follows_the_payments_dependency(pair: tuple[Service, Service]) -> None:
    orders, payments = pair
    with httpx.Client(base_url=orders.url, timeout=10) as c:
        ready = c.get("/healthz/readiness")
        assert ready.status_code == 200
        assert ready.headers["content-type"] == "application/health+json"
        body = valid(ready.json())
        assert body["status"] == "pass"
        assert body["serviceId"] == "orders"
        assert set(body["checks"]) >= {"startup:finished", "shutdown:draining",
                                       "config:loaded", "payments:responseTime",
                                       "database:responseTime"}
        assert body["checks"]["payments:responseTime"][0]["observedUnit"] == "ms"

        payments.stop()
        down = wait_for(lambda: (r := c.get("/healthz/readiness")).status_code == 503 and r)
        body = valid(down.json())
        assert body["status"] == "fail"
        pay = body["checks"]["payments:responseTime"][0]
        assert pay["status"] == "fail"
        assert pay["output"]
        assert "payments:responseTime" in body["output"]
        assert body["checks"]["database:responseTime"][0]["status"] == "pass"
        live = c.get("/healthz/liveness")
        assert live.status_code == 200
        valid(live.json())
        # a payment while the dependency is down: still 201, status payment_failed
        order = c.post("/orders", json={"customerId": "C-1002",
                                        "items": [{"sku": "SKU-1", "quantity": 1, "price": 2.0}]})
        assert order.status_code == 201
        assert order.json()["status"] == "payment_failed"

        payments.start()
        back = wait_for(lambda: (r := c.get("/healthz/readiness")).status_code == 200 and r)
        assert valid(back.json())["status"] == "pass"
        assert c.get("/healthz/liveness").status_code == 200


# -- in-process: the check machinery -----------------------------------------------------

def _health(state: State | None = None, ttl: float = 60.0) -> Health:
    st = state or State(started=True)
    return Health(st, service_id="svc", version="1.2.3", release_id="r1", cache_ttl=ttl)


def test_results_are_cached_and_evaluated_once_for_concurrent_probes() -> None:
    calls = 0

    async def counted() -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)

    health = _health()
    health.add(HealthCheck("upstream:responseTime", counted))

    async def main() -> list[int]:
        first = await asyncio.gather(*(health.readiness() for _ in range(50)))
        second = [await health.readiness() for _ in range(20)]
        return [code for code, _ in [*first, *second]]

    codes = asyncio.run(main())
    assert codes == [200] * 70
    assert calls == 1
    assert health.runs == 1


def test_checks_run_concurrently_with_their_own_timeouts() -> None:
    a_started, b_started = asyncio.Event(), asyncio.Event()

    async def a() -> None:  # completes only if b runs at the same time
        a_started.set()
        await b_started.wait()

    async def b() -> None:
        b_started.set()
        await a_started.wait()

    async def hangs() -> None:
        await asyncio.Event().wait()

    health = _health()
    health.add(HealthCheck("a:responseTime", a, timeout=5))
    health.add(HealthCheck("b:responseTime", b, timeout=5))
    health.add(HealthCheck("slow:responseTime", hangs, timeout=0.05))
    code, body = asyncio.run(health.readiness())
    valid(body)
    assert code == 503
    assert body["checks"]["a:responseTime"][0]["status"] == "pass"
    assert body["checks"]["b:responseTime"][0]["status"] == "pass"
    slow = body["checks"]["slow:responseTime"][0]
    assert slow["status"] == "fail"
    assert slow["output"] == "timed out after 50 ms"


def test_non_critical_failure_warns_and_stays_ready() -> None:
    async def broken() -> None:
        raise ConnectionError("refused")

    health = _health()
    health.add(HealthCheck("cache:responseTime", broken, "datastore", critical=False))
    code, body = asyncio.run(health.readiness())
    assert code == 200
    assert valid(body)["status"] == "warn"
    assert body["checks"]["cache:responseTime"][0]["output"] == "ConnectionError: refused"


def test_readiness_reads_started_and_draining() -> None:
    state = State()
    health = _health(state)
    code, body = asyncio.run(health.readiness())
    assert code == 503
    assert body["checks"]["startup:finished"][0]["output"] == "startup has not finished"
    state.mark_started()
    assert asyncio.run(health.readiness())[0] == 200
    state.start_draining()
    code, body = asyncio.run(health.readiness())
    assert code == 503
    assert valid(body)["checks"]["shutdown:draining"][0]["status"] == "fail"
    assert asyncio.run(health.liveness())[0] == 200


def test_check_results_and_redaction() -> None:
    async def value() -> float:
        return 42.0

    async def result() -> CheckResult:
        return CheckResult(observed_value=3, observed_unit="connections", status="warn")

    async def leaky() -> None:
        raise OSError("connect postgresql://app:hunter2@db:5432/x failed; password=hunter2")

    health = _health()
    health.add(HealthCheck("v:utilization", value))
    health.add(HealthCheck("pool:connections", result, critical=False))
    health.add(HealthCheck("db:responseTime", leaky))
    _, body = asyncio.run(health.readiness())
    valid(body)
    assert body["checks"]["v:utilization"][0]["observedValue"] == 42.0
    assert body["checks"]["pool:connections"][0]["observedUnit"] == "connections"
    assert "hunter2" not in json.dumps(body)
    assert body["checks"]["db:responseTime"][0]["output"] == (
        "OSError: connect postgresql://***@db:5432/x failed; password=***")


def test_check_names_must_be_component_measurement() -> None:
    async def ok() -> None:
        return None

    with pytest.raises(ValueError, match="must be component:measurement"):
        HealthCheck("bad name:x", ok)


def test_spec_dependency_checks_tcp_sql_http(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    open_port = listener.getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    db = tmp_path / "x.db"
    sqlite3.connect(db).close()
    monkeypatch.setenv("CACHE_ADDR", f"tcp://127.0.0.1:{open_port}")
    monkeypatch.delenv("MISSING_URL", raising=False)
    deps = [
        Dependency(name="cache", kind="tcp", url_env="CACHE_ADDR"),
        Dependency(name="queue", kind="nats", url=f"nats://127.0.0.1:{closed_port}",
                   timeout_ms=500),
        Dependency(name="db", kind="sql", url=f"sqlite:///{db}"),
        Dependency(name="gone", kind="sql", url=f"sqlite:///{tmp_path / 'nope.db'}"),
        Dependency(name="upstream", kind="http", url="${MISSING_URL}"),
        Dependency(name="web", kind="http", url=f"http://127.0.0.1:{closed_port}",
                   timeout_ms=500),
    ]
    holder = HttpClientHolder()
    health = _health()
    for d in deps:
        health.add(dependency_check(d, holder))

    async def main() -> tuple[int, dict[str, Any]]:
        try:
            return await health.readiness()
        finally:
            await holder.aclose()

    try:
        code, body = asyncio.run(main())
    finally:
        listener.close()
    valid(body)
    status = {k: v[0]["status"] for k, v in body["checks"].items()}
    assert code == 503
    assert status["cache:responseTime"] == "pass"
    assert status["db:responseTime"] == "pass"
    assert status["queue:responseTime"] == "fail"
    assert status["gone:responseTime"] == "fail"
    assert status["web:responseTime"] == "fail"
    assert body["checks"]["upstream:responseTime"][0]["output"] == (
        "environment variable MISSING_URL is not set")
    assert body["checks"]["db:responseTime"][0]["componentType"] == "datastore"
