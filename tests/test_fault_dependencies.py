"""Faults of orders' dependencies, on the real processes: payments slow then down (readiness
503 and back, no request past its timeout, the errors logged naming the dependency), and
PostgreSQL restarted under load (503 fast while away, back without restarting orders)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests._service_procs import ORDERS, Service, wait_for
from tests.pg import PostgresServer

NEW = {"customerId": "C-1001", "items": [{"sku": "SKU-1", "quantity": 1, "price": 9.5}]}
PAYMENTS_TIMEOUT_S = 1.0
# a request may take the payments timeout, plus the service's own work: past this, it hung
CLIENT_TIMEOUT_S = PAYMENTS_TIMEOUT_S + 4


@pytest.mark.slow
def test_payments_slow_then_down_then_back(tmp_path: Path) -> None:
    payments = Service("payments_stub:app", ORDERS, tmp_path, env={"PAYMENTS_DELAY_MS": "3000"})
    orders = Service("orders.app:app", ORDERS, tmp_path, env={
        "DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}", "PAYMENTS_URL": payments.url,
        "PAYMENTS_TIMEOUT_S": str(PAYMENTS_TIMEOUT_S)})
    try:
        payments.start()
        orders.start()
        with httpx.Client(base_url=orders.url, timeout=CLIENT_TIMEOUT_S) as c:
            # slow: the charge outlasts orders' timeout; the order is answered, not hung
            slow = c.post("/orders", json=NEW)
            assert slow.status_code == 201, slow.text
            assert slow.json()["status"] == "payment_failed"
            assert c.get("/healthz/readiness").status_code == 200  # its ping still answers

            payments.stop()  # down
            down = wait_for(lambda: (r := c.get("/healthz/readiness")).status_code == 503 and r)
            failing = [name for name, results in down.json()["checks"].items()
                       if any(r["status"] == "fail" for r in results)]
            assert failing == ["payments:responseTime"], down.text  # the dependency named
            refused = c.post("/orders", json=NEW)
            assert refused.status_code == 201
            assert refused.json()["status"] == "payment_failed"

            payments.env["PAYMENTS_DELAY_MS"] = "0"
            payments.start()  # back, same port
            assert wait_for(lambda: c.get("/healthz/readiness").status_code == 200)
            ok = c.post("/orders", json=NEW)
            assert ok.json()["status"] == "paid"
        failures = [r for r in orders.records() if r.get("event") == "payment.failed"]
        assert len(failures) == 2  # the slow one and the refused one
        assert all(r["dependency"] == "payments" for r in failures)
        assert {r["errorType"] for r in failures} >= {"ReadTimeout", "ConnectError"}
        assert orders.starts == 1
    finally:
        orders.stop()
        payments.stop()


@pytest.mark.slow
def test_postgresql_restarted_under_load(postgres: PostgresServer, pg_url: str,
                                         tmp_path: Path) -> None:
    payments = Service("payments_stub:app", ORDERS, tmp_path)
    orders = Service("orders.app:app", ORDERS, tmp_path, env={
        "DATABASE_URL": pg_url, "PAYMENTS_URL": payments.url})
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    stop = threading.Event()
    phase = {"name": "before"}
    by_phase: dict[str, Counter[int]] = {"before": Counter(), "away": Counter(),
                                         "back": Counter()}

    def load() -> None:
        with httpx.Client(base_url=orders.url, timeout=CLIENT_TIMEOUT_S) as c:
            while not stop.is_set():
                try:
                    r = c.get("/orders", params={"customerId": "C-1001"})
                except httpx.HTTPError as e:  # a hang past the timeout, or a dropped connection
                    errors.append(type(e).__name__)
                    continue
                statuses[r.status_code] += 1
                by_phase[phase["name"]][r.status_code] += 1

    try:
        payments.start()
        orders.start()
        workers = [threading.Thread(target=load) for _ in range(4)]
        for w in workers:
            w.start()
        wait_for(lambda: by_phase["before"][200] >= 50, attempts=400)
        phase["name"] = "away"
        postgres.stop()
        try:
            wait_for(lambda: by_phase["away"][503] >= 50, attempts=400)
        finally:
            phase["name"] = "back"
            postgres.start()
        wait_for(lambda: by_phase["back"][200] >= 50, attempts=400)
        stop.set()
        for w in workers:
            w.join(timeout=30)
    finally:
        stop.set()
        orders.stop()
        payments.stop()
    assert errors == []  # no request hung or was dropped
    assert set(statuses) <= {200, 503}, statuses  # never a 500
    assert by_phase["away"][503] >= 50
    assert by_phase["back"][200] >= 50
    assert orders.starts == 1  # recovered without a restart
