"""Bounded concurrency: at most max_in_flight requests; the rest 503 + Retry-After, counted."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from opsplane.runtime._limiter import ConcurrencyLimit, rejected_counter
from opsplane.runtime.lifecycle import State
from opsplane.testing.drill import Outcome, ServedApp, request

APPS = Path(__file__).parent / "apps"


class Gate:
    """An ASGI app whose responses wait until the test opens the gate."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.entered = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.entered += 1
        if scope["path"] != "/healthz/ping":
            await self.open.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(app: Any, path: str) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "path": path, "headers": []}, receive, send)
    return sent


def test_excess_is_503_with_retry_after_and_counted() -> None:
    async def scenario() -> None:
        registry, state, gate = CollectorRegistry(), State(), Gate()
        limited = ConcurrencyLimit(gate, 2, state=state, registry=registry, retry_after=3)
        held = [asyncio.create_task(call(limited, "/work")) for _ in range(2)]
        while gate.entered < 2:
            await asyncio.sleep(0)
        assert state.in_flight == 2
        rejected = await call(limited, "/work")
        assert rejected[0]["status"] == 503
        headers = dict(rejected[0]["headers"])
        assert headers[b"retry-after"] == b"3"
        assert json.loads(rejected[1]["body"])["error"]["code"] == "OVERLOADED"
        probe = await call(limited, "/healthz/ping")  # probes are never limited
        assert probe[0]["status"] == 200
        value = registry.get_sample_value("http_server_rejected_requests_total",
                                          {"reason": "overload"})
        assert value == 1.0
        gate.open.set()
        done = await asyncio.gather(*held)
        assert [m[0]["status"] for m in done] == [200, 200]
        assert state.in_flight == 0
        assert limited.active == 0

    asyncio.run(scenario())


def test_connection_close_only_while_draining() -> None:
    async def scenario() -> None:
        state, gate = State(), Gate()
        gate.open.set()
        limited = ConcurrencyLimit(gate, 5, state=state, registry=CollectorRegistry())
        normal = await call(limited, "/work")
        assert (b"connection", b"close") not in normal[0]["headers"]
        state.start_draining()
        for path in ("/work", "/healthz/ping"):
            draining = await call(limited, path)
            assert (b"connection", b"close") in draining[0]["headers"]

    asyncio.run(scenario())


def test_counter_is_shared_when_already_registered() -> None:
    registry = CollectorRegistry()
    assert rejected_counter(registry) is rejected_counter(registry)


def test_max_in_flight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_in_flight must be at least 1"):
        ConcurrencyLimit(Gate(), 0)


def test_served_app_rejects_beyond_max_in_flight() -> None:
    served = ServedApp("slowapp:app", APPS, drain_delay=0, grace=5, max_in_flight=2)

    async def burst() -> list[Outcome]:
        outs = [Outcome(rid=f"r{i}", path="/slow?ms=3000", sent=0) for i in range(6)]
        await asyncio.gather(*(request("127.0.0.1", served.port, o.path, o, 10) for o in outs))
        return outs

    try:
        served.wait_ready()
        outs = asyncio.run(burst())
        assert sorted(o.result for o in outs) == ["completed"] * 2 + ["rejected"] * 4
        assert all(o.status == 503 for o in outs if o.result == "rejected")
        served.signal()
        code, killed = served.wait_exit()
        assert (code, killed) == (0, False)
        accepted = [r for r in served.records() if r.get("event") == "slowapp.accepted"]
        assert len(accepted) == 2  # the rejected ones never reached the app
    finally:
        served.stop()


def test_instrumented_app_counts_rejections_in_its_own_registry() -> None:
    from opsplane import instrument
    from opsplane.runtime.serve import _kit_hooks
    from opsplane.spec.service import parse_spec

    state = State()
    gate = Gate()
    spec = parse_spec({"name": "gate", "team": "t", "app": "gate:app"})
    app = instrument(gate, spec, state=state, configure_logging=False)
    hooks = _kit_hooks(app, state)
    assert hooks["count_in_flight"] is False  # the kit keeps state.in_flight itself
    hooks["on_reject"]()
    value = app.metrics.registry.get_sample_value("http_server_rejected_requests_total",
                                                  {"reason": "overload"})
    assert value == 1.0
    assert _kit_hooks(gate, state) == {}  # a bare app: the limiter counts on its own
