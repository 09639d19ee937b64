"""One order, one trace: orders -> payments across two real processes over real OTLP."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from tests._service_procs import ORDERS, Service
from tracing.testing import OtlpReceiver


def test_create_order_is_one_trace_across_orders_and_payments(tmp_path: Path) -> None:
    with OtlpReceiver() as rx:
        tracing_env = {"OPSPLANE_TRACING": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint,
                       "OTEL_TRACES_SAMPLER_ARG": "1"}
        payments = Service("payments_stub:app", ORDERS, tmp_path, env=tracing_env)
        orders = Service("orders.app:app", ORDERS, tmp_path, env={
            **tracing_env, "DATABASE_URL": f"sqlite:///{tmp_path / 'orders.db'}"})
        orders.env["PAYMENTS_URL"] = payments.url
        try:
            payments.start()
            orders.start()
            r = httpx.post(f"{orders.url}/orders", timeout=10, json={
                "customerId": "C-1001", "items": [{"sku": "SKU-1", "quantity": 2, "price": 9.5}]})
            assert r.status_code == 201
            assert r.json()["status"] == "paid"
        finally:
            orders.stop()  # stopping flushes both exporters
            payments.stop()
        spans = rx.wait_for(lambda s: any(x["name"] == "POST /charges" for x in s))
        o_records = orders.records()
        p_records = payments.records()
    server = next(s for s in spans if s["name"] == "POST /orders")
    trace = [s for s in spans if s["traceId"] == server["traceId"]]
    by_name = {s["name"]: s for s in trace}
    client = by_name["POST"]
    remote = by_name["POST /charges"]
    assert server["service"] == "orders"
    assert remote["service"] == "payments-stub"
    assert server["parentSpanId"] is None
    assert client["parentSpanId"] == server["spanId"]
    assert remote["parentSpanId"] == client["spanId"]
    assert server["attributes"]["http.response.status_code"] == 201
    assert remote["attributes"]["http.response.status_code"] == 201
    assert server["attributes"]["http.route"] == "/orders"
    dbs = [s for s in trace if s["name"].startswith("db ")]
    assert dbs
    assert all(s["parentSpanId"] == server["spanId"] for s in dbs)
    # the request summary records of both services carry the trace and their own span
    o_summary = next(x for x in o_records if x.get("httpRoute") == "/orders"
                     and x.get("httpMethod") == "POST")
    p_summary = next(x for x in p_records if x.get("httpRoute") == "/charges")
    assert o_summary["traceId"] == p_summary["traceId"] == server["traceId"]
    assert o_summary["spanId"] == server["spanId"]
    assert p_summary["spanId"] == remote["spanId"]


def test_otel_variables_alone_turn_tracing_on_under_opsplane_serve(tmp_path: Path) -> None:
    """Only OTEL_* set (no OPSPLANE_TRACING, no ``tracing:`` in either spec): both services
    under ``opsplane serve`` export to a real OTLP receiver on loopback, as a deployment
    that sets the standard variables gets; the sampler comes from OTEL_TRACES_SAMPLER."""
    import signal

    from opsplane.testing.drill import ServedApp

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "OPSPLANE_TRACING"))}
    with OtlpReceiver() as rx:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": rx.endpoint,
                "OTEL_TRACES_SAMPLER": "parentbased_always_on"}
        payments = ServedApp("payments_stub:app", ORDERS, drain_delay=0, grace=2,
                             env={**env, **otel})
        orders = None
        try:
            payments.wait_ready()
            orders = ServedApp(None, ORDERS, drain_delay=0, grace=2, env={
                **env, **otel, "PAYMENTS_URL": f"http://127.0.0.1:{payments.port}",
                "DATABASE_URL": f"sqlite:///{tmp_path / 'orders.db'}"})
            orders.wait_ready()
            r = httpx.post(f"http://127.0.0.1:{orders.port}/orders", timeout=10, json={
                "customerId": "C-1001", "items": [{"sku": "SKU-1", "quantity": 1, "price": 5}]})
            assert r.status_code == 201, r.text
            for app in (orders, payments):  # SIGTERM: the drain flushes the span queue
                app.signal(signal.SIGTERM)
                assert app.wait_exit() == (0, False), app.log_text()
            spans = rx.wait_for(lambda s: {"POST /orders", "POST /charges"} <=
                                {x["name"] for x in s})
            o_records, p_records = orders.records(), payments.records()
        finally:
            if orders is not None:
                orders.stop()
            payments.stop()
    server = next(s for s in spans if s["name"] == "POST /orders")
    remote = next(s for s in spans if s["name"] == "POST /charges")
    trace = [s for s in spans if s["traceId"] == server["traceId"]]
    assert {s["service"] for s in trace} == {"orders", "payments-stub"}
    assert remote["traceId"] == server["traceId"]
    client = next(s for s in trace if s["spanId"] == remote["parentSpanId"])
    assert client["parentSpanId"] == server["spanId"]
    o_ids = {x["traceId"] for x in o_records if "traceId" in x}
    p_ids = {x["traceId"] for x in p_records if "traceId" in x}
    assert server["traceId"] in o_ids
    assert server["traceId"] in p_ids
