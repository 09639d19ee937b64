"""The drill against the reference service: examples/orders under `opsplane serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsplane.testing.drill import DrillReport, ServedApp, run_drill

ORDERS = Path(__file__).resolve().parent.parent / "examples" / "orders"


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DrillReport]:
    db = tmp_path_factory.mktemp("orders") / "orders.db"
    payments = ServedApp("payments_stub:app", ORDERS, drain_delay=0, grace=2)
    orders = None
    try:
        payments.wait_ready()
        orders = ServedApp(None, ORDERS, drain_delay=1.0, grace=5.0, env={
            "PAYMENTS_URL": f"http://127.0.0.1:{payments.port}",
            "DATABASE_URL": f"sqlite:///{db}"})
        orders.wait_ready()
        yield run_drill(orders, rate=60, before=1.5, after=2.5, slow_every=5, slow_ms=2000,
                        slow_path="/orders/slow?ms={ms}",
                        fast_path="/orders?customerId=C-1001")
    finally:
        if orders is not None:
            orders.stop()
        payments.stop()


def test_orders_drains_without_dropping(drill: DrillReport) -> None:
    counts = drill.counts()
    assert [o.detail for o in drill.outcomes if o.result == "dropped"] == []
    assert counts["completed"] == counts["accepted"] > 0
    assert counts["refused"] > 0  # the load went on past the drain delay
    assert (drill.exit_code, drill.killed) == (0, False)


def test_orders_readiness_and_events(drill: DrillReport) -> None:
    after = [p.status for p in drill.probes if p.sent > 0]
    assert after[0] == 503
    assert set(after) <= {503, None}
    started = drill.events("shutdown.started")
    assert len(started) == 1
    assert started[0]["inFlight"] >= 0  # kept by the kit; serve does not count twice
    assert drill.events("shutdown.completed")[0]["outcome"] == "success"
    assert any(o.sent > 0 and "slow" in o.path and o.result == "completed"
               for o in drill.outcomes)
