"""The orders reference service under uvicorn on 127.0.0.1, with the payments stub."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._service_procs import Service, orders_and_payments, wait_for

SECRET = "pk_live_Zq81-never-in-output-7f3a"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Service]]:
    with orders_and_payments(tmp_path_factory.mktemp("orders"),
                             env={"PAYMENTS_API_KEY": SECRET}) as services:
        yield services


@pytest.fixture(scope="module")
def client(services: tuple[Service, Service]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=services[0].url, timeout=10) as c:
        yield c


NEW = {"customerId": "C-1001", "items": [{"sku": "SKU-1", "quantity": 2, "price": 9.5}]}


def test_create_get_list_cancel(client: httpx.Client) -> None:
    r = client.post("/orders", json=NEW)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["id"].startswith("O-")
    assert order["customerId"] == "C-1001"
    assert order["status"] == "paid"  # the payments stub accepted the key
    assert order["total"] == 19.0
    assert order["items"] == NEW["items"]
    assert order["createdAt"].endswith("Z")

    got = client.get(f"/orders/{order['id']}")
    assert got.status_code == 200
    assert got.json()["id"] == order["id"]

    listed = client.get("/orders", params={"customerId": "C-1001"}).json()["orders"]
    assert order["id"] in [o["id"] for o in listed]
    assert all(o["customerId"] == "C-1001" for o in listed)

    cancelled = client.post(f"/orders/{order['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = client.post(f"/orders/{order['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "ORDER_NOT_CANCELLABLE"


def test_seed_customers_and_orders(client: httpx.Client) -> None:
    for n in range(1001, 1011):
        r = client.get("/orders", params={"customerId": f"C-{n}"})
        assert r.status_code == 200
    seeded = client.get("/orders", params={"customerId": "C-1002"}).json()["orders"]
    assert [o["status"] for o in seeded] == ["cancelled"]
    shipped = client.post("/orders/O-000000000002/cancel")
    assert shipped.status_code == 409


def test_declined_payment_still_creates_the_order(client: httpx.Client) -> None:
    big = {"customerId": "C-1003", "items": [{"sku": "SKU-9", "quantity": 2, "price": 60000.0}]}
    r = client.post("/orders", json=big)
    assert r.status_code == 201
    assert r.json()["status"] == "payment_failed"


def test_slow_endpoint(client: httpx.Client) -> None:
    r = client.get("/orders/slow", params={"ms": 20})
    assert r.status_code == 200
    assert r.json() == {"sleptMs": 20}


@pytest.mark.parametrize(("method", "path", "body", "expected"), [
    ("POST", "/orders", b'{"customerId": "C-1001", "items": [', (400, "MALFORMED_JSON")),
    ("POST", "/orders", b"", (400, "MALFORMED_JSON")),
    ("POST", "/orders", b"[1, 2]", (422, "INVALID_BODY")),
    ("POST", "/orders", b'{"customerId": 1001, "items": []}', (422, "INVALID_BODY")),
    ("POST", "/orders", json.dumps({"customerId": "C-1001", "items": [
        {"sku": "SKU-1", "quantity": "2", "price": 9.5}]}).encode(), (422, "INVALID_BODY")),
    ("POST", "/orders", json.dumps({**NEW, "discount": 5}).encode(), (422, "INVALID_BODY")),
    ("POST", "/orders", json.dumps({**NEW, "customerId": "C-9999"}).encode(),
     (422, "UNKNOWN_CUSTOMER")),
    ("POST", "/orders", b"\xff\xfe\x00garbage", (400, "MALFORMED_JSON")),
    ("GET", "/orders", None, (400, "MISSING_PARAMETER")),
    ("GET", "/orders?customerId=%27%3B--", None, (400, "INVALID_PARAMETER")),
    ("GET", "/orders/O-doesnotexist", None, (404, "ORDER_NOT_FOUND")),
    ("POST", "/orders/O-doesnotexist/cancel", None, (404, "ORDER_NOT_FOUND")),
    ("GET", "/orders/slow?ms=abc", None, (400, "INVALID_PARAMETER")),
    ("GET", "/orders/slow?ms=-5", None, (400, "INVALID_PARAMETER")),
    ("GET", "/no/such/route", None, (404, "NOT_FOUND")),
    ("DELETE", "/orders", None, (405, "METHOD_NOT_ALLOWED")),
    ("POST", "/healthz/readiness", None, (405, "METHOD_NOT_ALLOWED")),
])
def test_bad_input_is_a_4xx_json_error(client: httpx.Client, method: str, path: str,
                                       body: bytes | None, expected: tuple[int, str]) -> None:
    status, code = expected
    r = client.request(method, path, content=body,
                       headers={"content-type": "application/json"} if body is not None else {})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert "Traceback" not in r.text


def test_validation_message_names_the_field(client: httpx.Client) -> None:
    bad = {"customerId": "C-1001", "items": [{"sku": "SKU-1", "quantity": "2", "price": 9.5}]}
    r = client.post("/orders", json=bad)
    assert r.json()["error"]["message"] == "items[0].quantity: Input should be a valid integer"


def test_request_id_is_taken_or_generated_and_logged(
        services: tuple[Service, Service], client: httpx.Client) -> None:
    orders = services[0]
    given = client.get("/orders", params={"customerId": "C-1005"},
                       headers={"X-Request-ID": "req-abc.123"})
    assert given.headers["x-request-id"] == "req-abc.123"
    made = client.get("/orders/O-000000000005")
    generated = made.headers["x-request-id"]
    assert len(generated) >= 16
    hostile = client.get("/orders/O-000000000005", headers={"X-Request-ID": "a b\tc" * 100})
    assert hostile.headers["x-request-id"] != "a b\tc" * 100

    def summaries() -> list[dict[str, object]]:
        return [r for r in orders.records() if r.get("logger") == "opsplane.access"]

    wait_for(lambda: any(r.get("requestId") == generated for r in summaries()))
    by_id = {r["requestId"]: r for r in summaries()}
    rec = by_id["req-abc.123"]
    assert rec["httpMethod"] == "GET"
    assert rec["httpRoute"] == "/orders"
    assert rec["httpStatus"] == 200
    assert rec["customerId"] == "C-1005"  # bound by the handler
    assert isinstance(rec["durationMs"], float)
    assert rec["clientIp"] == "127.0.0.1"
    assert rec["userAgent"].startswith("python-httpx")
    assert by_id[generated]["httpRoute"] == "/orders/{id}"
    assert by_id[generated]["httpPath"] == "/orders/O-000000000005"


def test_one_summary_per_request_and_probes_not_logged(
        services: tuple[Service, Service], client: httpx.Client) -> None:
    orders = services[0]
    ids = [f"count-{i}" for i in range(5)]
    for rid in ids:
        client.get("/orders/O-000000000001", headers={"X-Request-ID": rid})
        client.get("/healthz/readiness", headers={"X-Request-ID": rid + "-probe"})
        client.get("/metrics", headers={"X-Request-ID": rid + "-metrics"})
    client.get("/no/such/route", headers={"X-Request-ID": "unknown-route"})

    def access() -> list[dict[str, object]]:
        return [r for r in orders.records() if r.get("logger") == "opsplane.access"]

    wait_for(lambda: any(r.get("requestId") == "unknown-route" for r in access()))
    recs = access()
    for rid in ids:
        assert sum(1 for r in recs if r.get("requestId") == rid) == 1
    assert not [r for r in recs if str(r.get("httpPath", "")).startswith(("/healthz", "/metrics"))]
    unknown = next(r for r in recs if r.get("requestId") == "unknown-route")
    assert unknown["httpStatus"] == 404
    assert unknown["level"] == "warning"
    # uvicorn's own access line is not repeated next to the summary
    assert not [r for r in orders.records() if r.get("logger") == "uvicorn.access"]


def test_secret_never_in_output(services: tuple[Service, Service], client: httpx.Client,
                                tmp_path: Path) -> None:
    client.post("/orders", json=NEW)
    client.post("/orders", content=b"{oops")
    bodies = [client.get(p).text for p in
              ("/healthz/readiness", "/healthz/liveness", "/healthz/ping", "/metrics")]
    bodies.append(client.post("/orders", json={**NEW, "customerId": "C-0"}).text)
    orders, payments = services
    for text in [*bodies, orders.all_output(), payments.all_output()]:
        assert SECRET not in text
    assert "pk_live" not in orders.all_output()


def test_request_id_travels_to_the_payments_call(services: tuple[Service, Service],
                                                 client: httpx.Client) -> None:
    payments = services[1]
    r = client.post("/orders", json=NEW, headers={"X-Request-ID": "follow-me-42"})
    assert r.status_code == 201

    def charge_records() -> list[dict[str, object]]:
        return [rec for rec in payments.records() if rec.get("logger") == "opsplane.access"
                and rec.get("requestId") == "follow-me-42"]

    recs = wait_for(charge_records)
    assert [(rec["httpMethod"], rec["httpRoute"], rec["httpStatus"]) for rec in recs] == [
        ("POST", "/charges", 201)]
